// libtgvoip 2.4.4's TgVoip.h wrapper API as a header-only shim over the tgvoip C API (tgvoip-rs).
#ifndef __TGVOIP_H
#define __TGVOIP_H

#include <stdint.h>
#include <string.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tgvoip.h"

struct TgVoipProxy {
    std::string host;
    uint16_t port;
    std::string login;
    std::string password;
};

enum class TgVoipEndpointType { Inet, Lan, UdpRelay, TcpRelay };

struct TgVoipEdpointHost {
    std::string ipv4;
    std::string ipv6;
    // Older TgVoip.h revisions had `std::string host`: `ep.host = "1.2.3.4"` still compiles.
    TgVoipEdpointHost& operator=(const char* v4) {
        ipv4 = v4 ? v4 : "";
        ipv6.clear();
        return *this;
    }
    TgVoipEdpointHost& operator=(const std::string& v4) {
        ipv4 = v4;
        ipv6.clear();
        return *this;
    }
};

struct TgVoipEndpoint {
    int64_t endpointId;
    TgVoipEdpointHost host;
    uint16_t port;
    TgVoipEndpointType type;
    unsigned char peerTag[16];
};

enum class TgVoipNetworkType {
    Unknown, Gprs, Edge, ThirdGeneration, Hspa, Lte, WiFi, Ethernet, OtherHighSpeed, OtherLowSpeed, OtherMobile, Dialup
};

enum class TgVoipDataSaving { Never, Mobile, Always };

struct TgVoipPersistentState {
    std::vector<uint8_t> value;
};

struct TgVoipCrypto {
    void (*rand_bytes)(uint8_t* buffer, size_t length);
    void (*sha1)(uint8_t* msg, size_t length, uint8_t* output);
    void (*sha256)(uint8_t* msg, size_t length, uint8_t* output);
    void (*aes_ige_encrypt)(uint8_t* in, uint8_t* out, size_t length, uint8_t* key, uint8_t* iv);
    void (*aes_ige_decrypt)(uint8_t* in, uint8_t* out, size_t length, uint8_t* key, uint8_t* iv);
    void (*aes_ctr_encrypt)(uint8_t* inout, size_t length, uint8_t* key, uint8_t* iv, uint8_t* ecount, uint32_t* num);
    void (*aes_cbc_encrypt)(uint8_t* in, uint8_t* out, size_t length, uint8_t* key, uint8_t* iv);
    void (*aes_cbc_decrypt)(uint8_t* in, uint8_t* out, size_t length, uint8_t* key, uint8_t* iv);
};

struct TgVoipConfig {
    double initializationTimeout;
    double receiveTimeout;
    TgVoipDataSaving dataSaving;
    bool enableP2P;
    bool enableAEC;
    bool enableNS;
    bool enableAGC;
    bool enableCallUpgrade;
#ifdef _WIN32
    std::wstring logPath;
#else
    std::string logPath;
#endif
    int maxApiLayer;
};

struct TgVoipEncryptionKey {
    std::vector<uint8_t> value;
    bool isOutgoing;
};

enum class TgVoipState {
    WaitInit,
    WaitInitAck,
    Estabilished,
    Failed,
    Reconnecting,
    Established = Estabilished
};

struct TgVoipTrafficStats {
    uint64_t bytesSentWifi;
    uint64_t bytesReceivedWifi;
    uint64_t bytesSentMobile;
    uint64_t bytesReceivedMobile;
};

struct TgVoipFinalState {
    TgVoipPersistentState persistentState;
    std::string debugLog;
    TgVoipTrafficStats trafficStats;
    bool isRatingSuggested;
};

struct TgVoipAudioDataCallbacks {
    std::function<void(int16_t*, size_t)> input;
    std::function<void(int16_t*, size_t)> output;
    std::function<void(int16_t*, size_t)> preprocessed;
};

class TgVoip {
protected:
    TgVoip() = default;

public:
    static void setLoggingFunction(std::function<void(std::string const&)> loggingFunction);
    static void setGlobalServerConfig(std::string const& serverConfig);
    static int getConnectionMaxLayer();
    static std::string getVersion();
    static TgVoip* makeInstance(TgVoipConfig const& config, TgVoipPersistentState const& persistentState,
                                std::vector<TgVoipEndpoint> const& endpoints, std::unique_ptr<TgVoipProxy> const& proxy,
                                TgVoipNetworkType initialNetworkType, TgVoipEncryptionKey const& encryptionKey);
    static TgVoip* makeInstance(TgVoipConfig const& config, TgVoipPersistentState const& persistentState,
                                std::vector<TgVoipEndpoint> const& endpoints, std::unique_ptr<TgVoipProxy> const& proxy,
                                TgVoipNetworkType initialNetworkType, TgVoipEncryptionKey const& encryptionKey,
                                TgVoipCrypto const& crypto);
    static TgVoip* makeInstance(TgVoipConfig const& config, TgVoipPersistentState const& persistentState,
                                std::vector<TgVoipEndpoint> const& endpoints, std::unique_ptr<TgVoipProxy> const& proxy,
                                TgVoipNetworkType initialNetworkType, TgVoipEncryptionKey const& encryptionKey,
                                TgVoipAudioDataCallbacks const& audioDataCallbacks);
    static TgVoip* makeInstance(TgVoipConfig const& config, TgVoipPersistentState const& persistentState,
                                std::vector<TgVoipEndpoint> const& endpoints, std::unique_ptr<TgVoipProxy> const& proxy,
                                TgVoipNetworkType initialNetworkType, TgVoipEncryptionKey const& encryptionKey,
                                TgVoipCrypto const& crypto, TgVoipAudioDataCallbacks const& audioDataCallbacks);

    virtual ~TgVoip();

    virtual void setNetworkType(TgVoipNetworkType networkType) = 0;
    virtual void setMuteMicrophone(bool muteMicrophone) = 0;
    virtual void setAudioOutputGainControlEnabled(bool enabled) = 0;
    virtual void setEchoCancellationStrength(int strength) = 0;

    virtual std::string getLastError() = 0;
    virtual std::string getDebugInfo() = 0;
    virtual int64_t getPreferredRelayId() = 0;
    virtual TgVoipTrafficStats getTrafficStats() = 0;
    virtual TgVoipPersistentState getPersistentState() = 0;

    virtual void setOnStateUpdated(std::function<void(TgVoipState)> onStateUpdated) = 0;
    virtual void setOnSignalBarsUpdated(std::function<void(int)> onSignalBarsUpdated) = 0;

    virtual TgVoipFinalState stop() = 0;
};

namespace tgvoip_shim {

inline std::function<void(std::string const&)>& loggingFunction() {
    static std::function<void(std::string const&)> f;
    return f;
}

inline void logTrampoline(void*, char, const char* line) {
    if (loggingFunction()) loggingFunction()(std::string(line));
}

inline int32_t netType(TgVoipNetworkType t) {
    switch (t) {
        case TgVoipNetworkType::Gprs: return TGVOIP_NET_TYPE_GPRS;
        case TgVoipNetworkType::Edge: return TGVOIP_NET_TYPE_EDGE;
        case TgVoipNetworkType::ThirdGeneration: return TGVOIP_NET_TYPE_3G;
        case TgVoipNetworkType::Hspa: return TGVOIP_NET_TYPE_HSPA;
        case TgVoipNetworkType::Lte: return TGVOIP_NET_TYPE_LTE;
        case TgVoipNetworkType::WiFi: return TGVOIP_NET_TYPE_WIFI;
        case TgVoipNetworkType::Ethernet: return TGVOIP_NET_TYPE_ETHERNET;
        case TgVoipNetworkType::OtherHighSpeed: return TGVOIP_NET_TYPE_OTHER_HIGH_SPEED;
        case TgVoipNetworkType::OtherLowSpeed: return TGVOIP_NET_TYPE_OTHER_LOW_SPEED;
        case TgVoipNetworkType::OtherMobile: return TGVOIP_NET_TYPE_OTHER_MOBILE;
        case TgVoipNetworkType::Dialup: return TGVOIP_NET_TYPE_DIALUP;
        default: return TGVOIP_NET_TYPE_UNKNOWN;
    }
}

class Impl final : public TgVoip {
public:
    Impl(TgVoipConfig const& config, TgVoipPersistentState const& persistentState, std::vector<TgVoipEndpoint> const& endpoints,
         std::unique_ptr<TgVoipProxy> const& proxy, TgVoipNetworkType initialNetworkType, TgVoipEncryptionKey const& key,
         TgVoipAudioDataCallbacks const* audio)
        : ctl_(nullptr) {
        if (tgvoip_controller_new(&ctl_) != TGVOIP_OK) return;
        if (audio) audio_ = *audio;
        tgvoip_controller_set_audio_data_callbacks(ctl_, &Impl::onInput, &Impl::onOutput, &Impl::onPreprocessed, this);
        if (!persistentState.value.empty())
            tgvoip_controller_set_persistent_state(ctl_, persistentState.value.data(), persistentState.value.size());
        if (proxy)
            tgvoip_controller_set_proxy(ctl_, TGVOIP_PROXY_SOCKS5, proxy->host.c_str(), proxy->port, proxy->login.c_str(),
                                        proxy->password.c_str());
        tgvoip_callbacks_t cbs;
        tgvoip_callbacks_init_default(&cbs);
        cbs.user_data = this;
        cbs.state_changed = &Impl::onState;
        cbs.signal_bars_changed = &Impl::onBars;
        tgvoip_controller_set_callbacks(ctl_, &cbs);
        std::vector<tgvoip_endpoint_t> eps(endpoints.size());
        for (size_t i = 0; i < endpoints.size(); i++) {
            const TgVoipEndpoint& e = endpoints[i];
            eps[i].id = e.endpointId;
            eps[i].ipv4 = e.host.ipv4.c_str();
            eps[i].ipv6 = e.host.ipv6.c_str();
            eps[i].port = e.port;
            switch (e.type) {
                case TgVoipEndpointType::Inet: eps[i].type = TGVOIP_ENDPOINT_UDP_P2P_INET; break;
                case TgVoipEndpointType::Lan: eps[i].type = TGVOIP_ENDPOINT_UDP_P2P_LAN; break;
                case TgVoipEndpointType::TcpRelay: eps[i].type = TGVOIP_ENDPOINT_TCP_RELAY; break;
                default: eps[i].type = TGVOIP_ENDPOINT_UDP_RELAY; break;
            }
            memcpy(eps[i].peer_tag, e.peerTag, 16);
        }
        tgvoip_config_t c;
        tgvoip_config_init_default(&c);
        c.init_timeout = config.initializationTimeout;
        c.recv_timeout = config.receiveTimeout;
        c.data_saving = (int32_t)config.dataSaving;
        c.enable_aec = config.enableAEC;
        c.enable_ns = config.enableNS;
        c.enable_agc = config.enableAGC;
        c.enable_call_upgrade = config.enableCallUpgrade;
#ifndef _WIN32
        c.log_file_path = config.logPath.c_str();
#endif
        tgvoip_controller_set_config(ctl_, &c);
        tgvoip_controller_set_network_type(ctl_, netType(initialNetworkType));
        if (key.value.size() >= 256) tgvoip_controller_set_encryption_key(ctl_, key.value.data(), 256, key.isOutgoing);
        tgvoip_controller_set_remote_endpoints(ctl_, eps.empty() ? nullptr : eps.data(), eps.size(), config.enableP2P, false,
                                               config.maxApiLayer);
        tgvoip_controller_start(ctl_);
        tgvoip_controller_connect(ctl_);
    }
    ~Impl() override { tgvoip_controller_free(ctl_); }

    void setNetworkType(TgVoipNetworkType t) override { tgvoip_controller_set_network_type(ctl_, netType(t)); }
    void setMuteMicrophone(bool m) override { tgvoip_controller_set_mic_mute(ctl_, m); }
    void setAudioOutputGainControlEnabled(bool e) override { tgvoip_controller_set_audio_output_gain_control_enabled(ctl_, e); }
    void setEchoCancellationStrength(int s) override { tgvoip_controller_set_echo_cancellation_strength(ctl_, s); }
    std::string getLastError() override {
        int32_t e = TGVOIP_ERROR_UNKNOWN;
        tgvoip_controller_get_last_error(ctl_, &e);
        switch (e) {
            case TGVOIP_ERROR_INCOMPATIBLE: return "ERROR_INCOMPATIBLE";
            case TGVOIP_ERROR_TIMEOUT: return "ERROR_TIMEOUT";
            case TGVOIP_ERROR_AUDIO_IO: return "ERROR_AUDIO_IO";
            case TGVOIP_ERROR_PROXY: return "ERROR_PROXY";
            default: return "ERROR_UNKNOWN";
        }
    }
    std::string getDebugInfo() override {
        char* s = nullptr;
        if (tgvoip_controller_get_debug_string(ctl_, &s) != TGVOIP_OK) return std::string();
        std::string r(s);
        tgvoip_string_free(s);
        return r;
    }
    int64_t getPreferredRelayId() override {
        int64_t id = 0;
        tgvoip_controller_get_preferred_relay_id(ctl_, &id);
        return id;
    }
    TgVoipTrafficStats getTrafficStats() override {
        tgvoip_traffic_stats_t s = {0, 0, 0, 0};
        tgvoip_controller_get_stats(ctl_, &s);
        return TgVoipTrafficStats{s.bytes_sent_wifi, s.bytes_recvd_wifi, s.bytes_sent_mobile, s.bytes_recvd_mobile};
    }
    TgVoipPersistentState getPersistentState() override {
        TgVoipPersistentState st;
        tgvoip_bytes_t b = {nullptr, 0};
        if (tgvoip_controller_get_persistent_state(ctl_, &b) == TGVOIP_OK) {
            st.value.assign(b.data, b.data + b.len);
            tgvoip_bytes_free(&b);
        }
        return st;
    }
    void setOnStateUpdated(std::function<void(TgVoipState)> f) override {
        std::lock_guard<std::mutex> l(mu_);
        onState_ = f;
    }
    void setOnSignalBarsUpdated(std::function<void(int)> f) override {
        std::lock_guard<std::mutex> l(mu_);
        onBars_ = f;
    }
    TgVoipFinalState stop() override {
        TgVoipFinalState fs;
        tgvoip_controller_stop(ctl_);
        fs.persistentState = getPersistentState();
        char* log = nullptr;
        if (tgvoip_controller_get_debug_log(ctl_, &log) == TGVOIP_OK) {
            fs.debugLog = log;
            tgvoip_string_free(log);
        }
        fs.trafficStats = getTrafficStats();
        bool rate = false;
        tgvoip_controller_need_rate(ctl_, &rate);
        fs.isRatingSuggested = rate;
        return fs;
    }

private:
    static void onState(void* ud, tgvoip_controller_t*, int32_t state) {
        Impl* self = static_cast<Impl*>(ud);
        std::function<void(TgVoipState)> f;
        {
            std::lock_guard<std::mutex> l(self->mu_);
            f = self->onState_;
        }
        if (!f) return;
        TgVoipState s = TgVoipState::Estabilished;
        switch (state) {
            case TGVOIP_STATE_WAIT_INIT: s = TgVoipState::WaitInit; break;
            case TGVOIP_STATE_WAIT_INIT_ACK: s = TgVoipState::WaitInitAck; break;
            case TGVOIP_STATE_FAILED: s = TgVoipState::Failed; break;
            case TGVOIP_STATE_RECONNECTING: s = TgVoipState::Reconnecting; break;
            default: break;
        }
        f(s);
    }
    static void onBars(void* ud, tgvoip_controller_t*, int32_t bars) {
        Impl* self = static_cast<Impl*>(ud);
        std::function<void(int)> f;
        {
            std::lock_guard<std::mutex> l(self->mu_);
            f = self->onBars_;
        }
        if (f) f(bars);
    }
    static void onInput(void* ud, int16_t* buf, size_t n) {
        Impl* self = static_cast<Impl*>(ud);
        if (self->audio_.input) self->audio_.input(buf, n);
    }
    static void onOutput(void* ud, int16_t* buf, size_t n) {
        Impl* self = static_cast<Impl*>(ud);
        if (self->audio_.output) self->audio_.output(buf, n);
    }
    static void onPreprocessed(void* ud, int16_t* buf, size_t n) {
        Impl* self = static_cast<Impl*>(ud);
        if (self->audio_.preprocessed) self->audio_.preprocessed(buf, n);
    }

    tgvoip_controller_t* ctl_;
    TgVoipAudioDataCallbacks audio_;
    std::mutex mu_;
    std::function<void(TgVoipState)> onState_;
    std::function<void(int)> onBars_;
};

}  // namespace tgvoip_shim

inline TgVoip::~TgVoip() {}

inline void TgVoip::setLoggingFunction(std::function<void(std::string const&)> f) {
    tgvoip_shim::loggingFunction() = f;
    tgvoip_set_log_callback(f ? &tgvoip_shim::logTrampoline : nullptr, nullptr);
}
inline void TgVoip::setGlobalServerConfig(std::string const& serverConfig) { tgvoip_server_config_update(serverConfig.c_str()); }
inline int TgVoip::getConnectionMaxLayer() { return tgvoip_get_connection_max_layer(); }
inline std::string TgVoip::getVersion() { return tgvoip_get_version(); }

inline TgVoip* TgVoip::makeInstance(TgVoipConfig const& config, TgVoipPersistentState const& persistentState,
                                    std::vector<TgVoipEndpoint> const& endpoints, std::unique_ptr<TgVoipProxy> const& proxy,
                                    TgVoipNetworkType initialNetworkType, TgVoipEncryptionKey const& encryptionKey) {
    return new tgvoip_shim::Impl(config, persistentState, endpoints, proxy, initialNetworkType, encryptionKey, nullptr);
}
inline TgVoip* TgVoip::makeInstance(TgVoipConfig const& config, TgVoipPersistentState const& persistentState,
                                    std::vector<TgVoipEndpoint> const& endpoints, std::unique_ptr<TgVoipProxy> const& proxy,
                                    TgVoipNetworkType initialNetworkType, TgVoipEncryptionKey const& encryptionKey,
                                    TgVoipCrypto const& crypto) {
    (void)crypto;  // the library's own crypto is always used
    return new tgvoip_shim::Impl(config, persistentState, endpoints, proxy, initialNetworkType, encryptionKey, nullptr);
}
inline TgVoip* TgVoip::makeInstance(TgVoipConfig const& config, TgVoipPersistentState const& persistentState,
                                    std::vector<TgVoipEndpoint> const& endpoints, std::unique_ptr<TgVoipProxy> const& proxy,
                                    TgVoipNetworkType initialNetworkType, TgVoipEncryptionKey const& encryptionKey,
                                    TgVoipAudioDataCallbacks const& audioDataCallbacks) {
    return new tgvoip_shim::Impl(config, persistentState, endpoints, proxy, initialNetworkType, encryptionKey, &audioDataCallbacks);
}
inline TgVoip* TgVoip::makeInstance(TgVoipConfig const& config, TgVoipPersistentState const& persistentState,
                                    std::vector<TgVoipEndpoint> const& endpoints, std::unique_ptr<TgVoipProxy> const& proxy,
                                    TgVoipNetworkType initialNetworkType, TgVoipEncryptionKey const& encryptionKey,
                                    TgVoipCrypto const& crypto, TgVoipAudioDataCallbacks const& audioDataCallbacks) {
    (void)crypto;
    return new tgvoip_shim::Impl(config, persistentState, endpoints, proxy, initialNetworkType, encryptionKey, &audioDataCallbacks);
}

#endif
