// Header-only libtgvoip 2.4.4-compatible C++ API (tgvoip::VoIPController) over the tgvoip C API
// of tgvoip-rs. Source compatible with 2.4.4 apps; not binary (C++ ABI) compatible.
#ifndef __VOIPCONTROLLER_H
#define __VOIPCONTROLLER_H

#ifdef _WIN32
#undef GetCurrentTime
#undef ERROR_TIMEOUT
#endif

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tgvoip.h"
#include "VoIPServerConfig.h"

#ifndef LIBTGVOIP_VERSION
#define LIBTGVOIP_VERSION "2.4.4"
#endif
#define TGVOIP_PEER_CAP_GROUP_CALLS 1
#define TGVOIP_PEER_CAP_VIDEO_CAPTURE 2
#define TGVOIP_PEER_CAP_VIDEO_DISPLAY 4

namespace tgvoip {

enum { PROXY_NONE = 0, PROXY_SOCKS5 };
enum { STATE_WAIT_INIT = 1, STATE_WAIT_INIT_ACK, STATE_ESTABLISHED, STATE_FAILED, STATE_RECONNECTING };
enum { ERROR_UNKNOWN = 0, ERROR_INCOMPATIBLE, ERROR_TIMEOUT, ERROR_AUDIO_IO, ERROR_PROXY };
enum {
    NET_TYPE_UNKNOWN = 0, NET_TYPE_GPRS, NET_TYPE_EDGE, NET_TYPE_3G, NET_TYPE_HSPA, NET_TYPE_LTE,
    NET_TYPE_WIFI, NET_TYPE_ETHERNET, NET_TYPE_OTHER_HIGH_SPEED, NET_TYPE_OTHER_LOW_SPEED,
    NET_TYPE_DIALUP, NET_TYPE_OTHER_MOBILE
};
enum { DATA_SAVING_NEVER = 0, DATA_SAVING_MOBILE, DATA_SAVING_ALWAYS };

namespace detail {
inline void logFailure(const char* what, tgvoip_status_t st) {
    if (st != TGVOIP_OK) {
        const char* msg = tgvoip_last_error_message();
        fprintf(stderr, "tgvoip: %s: %s (%s)\n", what, tgvoip_status_name(st), msg ? msg : "");
    }
}
inline std::string takeString(char* s) {
    std::string r(s ? s : "");
    tgvoip_string_free(s);
    return r;
}
}  // namespace detail

struct CryptoFunctions {
    void (*rand_bytes)(uint8_t* buffer, size_t length);
    void (*sha1)(uint8_t* msg, size_t length, uint8_t* output);
    void (*sha256)(uint8_t* msg, size_t length, uint8_t* output);
    void (*aes_ige_encrypt)(uint8_t* in, uint8_t* out, size_t length, uint8_t* key, uint8_t* iv);
    void (*aes_ige_decrypt)(uint8_t* in, uint8_t* out, size_t length, uint8_t* key, uint8_t* iv);
    void (*aes_ctr_encrypt)(uint8_t* inout, size_t length, uint8_t* key, uint8_t* iv, uint8_t* ecount, uint32_t* num);
    void (*aes_cbc_encrypt)(uint8_t* in, uint8_t* out, size_t length, uint8_t* key, uint8_t* iv);
    void (*aes_cbc_decrypt)(uint8_t* in, uint8_t* out, size_t length, uint8_t* key, uint8_t* iv);
};

struct CellularCarrierInfo {
    std::string name, mcc, mnc, countryCode;
};

class IPv4Address {
public:
    IPv4Address() : addr(0) {}
    explicit IPv4Address(std::string s) : addr(0), text(s) {
        unsigned a, b, c, d;
        char tail;
        if (sscanf(s.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a < 256 && b < 256 && c < 256 && d < 256) {
            unsigned char bytes[4] = {(unsigned char)a, (unsigned char)b, (unsigned char)c, (unsigned char)d};
            memcpy(&addr, bytes, 4);
        } else {
            text.clear();
        }
    }
    explicit IPv4Address(uint32_t networkOrder) : addr(networkOrder) {
        const unsigned char* b = (const unsigned char*)&addr;
        char buf[16];
        snprintf(buf, sizeof buf, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        text = buf;
    }
    std::string ToString() const { return IsEmpty() ? std::string("0.0.0.0") : text; }
    bool IsEmpty() const { return addr == 0; }
    uint32_t GetAddress() const { return addr; }
    bool operator==(const IPv4Address& o) const { return addr == o.addr; }
    bool operator!=(const IPv4Address& o) const { return addr != o.addr; }

private:
    uint32_t addr;
    std::string text;
};

class IPv6Address {
public:
    IPv6Address() { memset(addr, 0, 16); }
    explicit IPv6Address(std::string s) : text(s) {
        memset(addr, 0, 16);
        if (s.empty() || inet_pton(AF_INET6, s.c_str(), addr) != 1) {
            memset(addr, 0, 16);  // unparsable = empty (the original left it uninitialized)
            text.clear();
        }
    }
    explicit IPv6Address(const uint8_t* a) { memcpy(addr, a, 16); }
    std::string ToString() const { return text.empty() ? std::string("::") : text; }
    bool IsEmpty() const {
        for (int i = 0; i < 16; i++)
            if (addr[i]) return false;
        return true;
    }
    const uint8_t* GetAddress() const { return addr; }
    bool operator==(const IPv6Address& o) const { return memcmp(addr, o.addr, 16) == 0; }
    bool operator!=(const IPv6Address& o) const { return !(*this == o); }

private:
    uint8_t addr[16];
    std::string text;
};

class Endpoint {
public:
    enum Type { UDP_P2P_INET = 1, UDP_P2P_LAN, UDP_RELAY, TCP_RELAY };
    Endpoint(int64_t id, uint16_t port, const IPv4Address& address, const IPv6Address& v6address, Type type, unsigned char* peerTag)
        : id(id), port(port), address(address), v6address(v6address), type(type) {
        if (peerTag) memcpy(this->peerTag, peerTag, 16);
        else memset(this->peerTag, 0, 16);
    }
    Endpoint() : id(0), port(0), type(UDP_RELAY) { memset(peerTag, 0, 16); }
    IPv4Address GetAddress() const { return address; }
    bool IsIPv6Only() const { return address.IsEmpty() && !v6address.IsEmpty(); }
    int64_t id;
    uint16_t port;
    IPv4Address address;
    IPv6Address v6address;
    Type type;
    unsigned char peerTag[16];
};

class AudioDevice {
public:
    std::string id;
    std::string displayName;
};
class AudioOutputDevice : public AudioDevice {};
class AudioInputDevice : public AudioDevice {};

class AudioInputTester {
public:
    AudioInputTester(const std::string deviceID) { (void)deviceID; }
    float GetAndResetLevel() { return 0.0f; }
    bool Failed() { return true; }  // no platform audio backend in this build

private:
    AudioInputTester(const AudioInputTester&);
    AudioInputTester& operator=(const AudioInputTester&);
};

class VoIPController {
public:
    struct Config {
        Config(double initTimeout = 30.0, double recvTimeout = 20.0, int dataSaving = DATA_SAVING_NEVER, bool enableAEC = false,
               bool enableNS = false, bool enableAGC = false, bool enableCallUpgrade = false)
            : initTimeout(initTimeout), recvTimeout(recvTimeout), dataSaving(dataSaving), enableAEC(enableAEC), enableNS(enableNS),
              enableAGC(enableAGC), enableCallUpgrade(enableCallUpgrade), logPacketStats(false), enableVolumeControl(false),
              enableVideoSend(false), enableVideoReceive(false) {}
        double initTimeout;
        double recvTimeout;
        int dataSaving;
        std::string logFilePath;
        std::string statsDumpFilePath;
        bool enableAEC;
        bool enableNS;
        bool enableAGC;
        bool enableCallUpgrade;
        bool logPacketStats;
        bool enableVolumeControl;
        bool enableVideoSend;
        bool enableVideoReceive;
    };
    struct TrafficStats {
        uint64_t bytesSentWifi;
        uint64_t bytesRecvdWifi;
        uint64_t bytesSentMobile;
        uint64_t bytesRecvdMobile;
    };
    struct Callbacks {
        void (*connectionStateChanged)(VoIPController*, int);
        void (*signalBarCountChanged)(VoIPController*, int);
        void (*groupCallKeySent)(VoIPController*);
        void (*groupCallKeyReceived)(VoIPController*, const unsigned char*);
        void (*upgradeToGroupCallRequested)(VoIPController*);
    };

    VoIPController() : implData(NULL), ctl(NULL) {
        memset(&callbacks, 0, sizeof callbacks);
        detail::logFailure("tgvoip_controller_new", tgvoip_controller_new(&ctl));
    }
    virtual ~VoIPController() { tgvoip_controller_free(ctl); }

    void SetRemoteEndpoints(std::vector<Endpoint> endpoints, bool allowP2p, int32_t connectionMaxLayer) {
        std::vector<tgvoip_endpoint_t> eps(endpoints.size());
        std::vector<std::string> v4(endpoints.size()), v6(endpoints.size());
        for (size_t i = 0; i < endpoints.size(); i++) {
            const Endpoint& e = endpoints[i];
            v4[i] = e.address.IsEmpty() ? std::string() : e.address.ToString();
            v6[i] = e.v6address.IsEmpty() ? std::string() : e.v6address.ToString();
            eps[i].id = e.id;
            eps[i].ipv4 = v4[i].c_str();
            eps[i].ipv6 = v6[i].c_str();
            eps[i].port = e.port;
            eps[i].type = (int32_t)e.type;
            memcpy(eps[i].peer_tag, e.peerTag, 16);
        }
        remoteEndpoints = endpoints;
        detail::logFailure("SetRemoteEndpoints", tgvoip_controller_set_remote_endpoints(ctl, eps.empty() ? NULL : &eps[0], eps.size(), allowP2p, false, connectionMaxLayer));
    }
    void Start() { detail::logFailure("Start", tgvoip_controller_start(ctl)); }
    void Stop() { detail::logFailure("Stop", tgvoip_controller_stop(ctl)); }
    void Connect() { detail::logFailure("Connect", tgvoip_controller_connect(ctl)); }
    Endpoint& GetRemoteEndpoint() {
        tgvoip_endpoint_info_t info;
        if (tgvoip_controller_get_remote_endpoint(ctl, &info) != TGVOIP_OK) throw std::out_of_range("no remote endpoint");
        for (size_t i = 0; i < remoteEndpoints.size(); i++)
            if (remoteEndpoints[i].id == info.id) return remoteEndpoints[i];
        throw std::out_of_range("no remote endpoint");
    }
    virtual std::string GetDebugString() {
        char* s = NULL;
        tgvoip_controller_get_debug_string(ctl, &s);
        return detail::takeString(s);
    }
    virtual void SetNetworkType(int type) { detail::logFailure("SetNetworkType", tgvoip_controller_set_network_type(ctl, type)); }
    double GetAverageRTT() {
        double v = 999.0;
        tgvoip_controller_get_average_rtt(ctl, &v);
        return v;
    }
    static double GetCurrentTime() { return tgvoip_get_current_time(); }
    void* implData;
    virtual void SetMicMute(bool mute) { tgvoip_controller_set_mic_mute(ctl, mute); }
    void SetEncryptionKey(char* key, bool isOutgoing) {
        detail::logFailure("SetEncryptionKey", tgvoip_controller_set_encryption_key(ctl, (const uint8_t*)key, 256, isOutgoing));
    }
    void SetConfig(const Config& cfg) {
        tgvoip_config_t c;
        tgvoip_config_init_default(&c);
        c.init_timeout = cfg.initTimeout;
        c.recv_timeout = cfg.recvTimeout;
        c.data_saving = cfg.dataSaving;
        c.enable_aec = cfg.enableAEC;
        c.enable_ns = cfg.enableNS;
        c.enable_agc = cfg.enableAGC;
        c.enable_call_upgrade = cfg.enableCallUpgrade;
        c.log_packet_stats = cfg.logPacketStats;
        c.enable_volume_control = cfg.enableVolumeControl;
        c.enable_video_send = cfg.enableVideoSend;
        c.enable_video_receive = cfg.enableVideoReceive;
        c.log_file_path = cfg.logFilePath.c_str();
        c.stats_dump_file_path = cfg.statsDumpFilePath.c_str();
        detail::logFailure("SetConfig", tgvoip_controller_set_config(ctl, &c));
    }
    void DebugCtl(int request, int param) { tgvoip_controller_debug_ctl(ctl, request, param); }
    void GetStats(TrafficStats* stats) {
        tgvoip_traffic_stats_t s;
        if (stats && tgvoip_controller_get_stats(ctl, &s) == TGVOIP_OK) {
            stats->bytesSentWifi = s.bytes_sent_wifi;
            stats->bytesRecvdWifi = s.bytes_recvd_wifi;
            stats->bytesSentMobile = s.bytes_sent_mobile;
            stats->bytesRecvdMobile = s.bytes_recvd_mobile;
        }
    }
    int64_t GetPreferredRelayID() {
        int64_t v = 0;
        tgvoip_controller_get_preferred_relay_id(ctl, &v);
        return v;
    }
    int GetLastError() {
        int32_t v = ERROR_UNKNOWN;
        tgvoip_controller_get_last_error(ctl, &v);
        return v;
    }
    static CryptoFunctions crypto;
    static const char* GetVersion() { return tgvoip_get_version(); }
    std::string GetDebugLog() {
        char* s = NULL;
        tgvoip_controller_get_debug_log(ctl, &s);
        return detail::takeString(s);
    }
    static std::vector<AudioInputDevice> EnumerateAudioInputs() { return std::vector<AudioInputDevice>(); }
    static std::vector<AudioOutputDevice> EnumerateAudioOutputs() { return std::vector<AudioOutputDevice>(); }
    void SetCurrentAudioInput(std::string id) { tgvoip_controller_set_current_audio_input(ctl, id.c_str()); }
    void SetCurrentAudioOutput(std::string id) { tgvoip_controller_set_current_audio_output(ctl, id.c_str()); }
    std::string GetCurrentAudioInputID() {
        char* s = NULL;
        tgvoip_controller_get_current_audio_input_id(ctl, &s);
        return detail::takeString(s);
    }
    std::string GetCurrentAudioOutputID() {
        char* s = NULL;
        tgvoip_controller_get_current_audio_output_id(ctl, &s);
        return detail::takeString(s);
    }
    void SetProxy(int protocol, std::string address, uint16_t port, std::string username, std::string password) {
        detail::logFailure("SetProxy", tgvoip_controller_set_proxy(ctl, protocol, address.c_str(), port, username.c_str(), password.c_str()));
    }
    int GetSignalBarsCount() {
        int32_t v = 0;
        tgvoip_controller_get_signal_bars_count(ctl, &v);
        return v;
    }
    void SetCallbacks(Callbacks cb) {
        callbacks = cb;
        tgvoip_callbacks_t c;
        tgvoip_callbacks_init_default(&c);
        c.user_data = this;
        c.state_changed = &VoIPController::onState;
        c.signal_bars_changed = &VoIPController::onBars;
        tgvoip_controller_set_callbacks(ctl, &c);
    }
    float GetOutputLevel() { return 0.0f; }
    void SetAudioOutputGainControlEnabled(bool enabled) { tgvoip_controller_set_audio_output_gain_control_enabled(ctl, enabled); }
    uint32_t GetPeerCapabilities() {
        uint32_t v = 0;
        tgvoip_controller_get_peer_capabilities(ctl, &v);
        return v;
    }
    void SendGroupCallKey(unsigned char* key) { detail::logFailure("SendGroupCallKey", tgvoip_controller_send_group_call_key(ctl, key, 256)); }
    void RequestCallUpgrade() { detail::logFailure("RequestCallUpgrade", tgvoip_controller_request_call_upgrade(ctl)); }
    void SetEchoCancellationStrength(int strength) { tgvoip_controller_set_echo_cancellation_strength(ctl, strength); }
    int GetConnectionState() {
        int32_t v = STATE_WAIT_INIT;
        tgvoip_controller_get_connection_state(ctl, &v);
        return v;
    }
    bool NeedRate() {
        bool v = false;
        tgvoip_controller_need_rate(ctl, &v);
        return v;
    }
    static int32_t GetConnectionMaxLayer() { return 92; }
    std::vector<uint8_t> GetPersistentState() {
        tgvoip_bytes_t b = {NULL, 0};
        std::vector<uint8_t> out;
        if (tgvoip_controller_get_persistent_state(ctl, &b) == TGVOIP_OK) {
            out.assign(b.data, b.data + b.len);
            tgvoip_bytes_free(&b);
        }
        return out;
    }
    void SetPersistentState(std::vector<uint8_t> state) {
        tgvoip_controller_set_persistent_state(ctl, state.empty() ? NULL : &state[0], state.size());
    }
    void SetAudioDataCallbacks(std::function<void(int16_t*, size_t)> input, std::function<void(int16_t*, size_t)> output,
                               std::function<void(int16_t*, size_t)> preprocessed = nullptr) {
        audioInput = input;
        audioOutput = output;
        audioPreprocessed = preprocessed;
        detail::logFailure("SetAudioDataCallbacks",
                           tgvoip_controller_set_audio_data_callbacks(ctl, &VoIPController::onInput, &VoIPController::onOutput,
                                                                      &VoIPController::onPreprocessed, this));
    }
    void SetInputVolume(float level) { tgvoip_controller_set_input_volume(ctl, level); }
    void SetOutputVolume(float level) { tgvoip_controller_set_output_volume(ctl, level); }
    void SetAudioOutputDuckingEnabled(bool enabled) { tgvoip_controller_set_audio_output_ducking_enabled(ctl, enabled); }
    int GetVideoResolutionForCurrentBitrate() { return 0; }

    // --- Protocol choice and tgcalls 8.0.0 / 9.0.0 calls (extension; libtgvoip has none). ---

    // Versions this library speaks, best first ("9.0.0", "8.0.0", "2.4.4"): put them all into
    // phoneCallProtocol.library_versions (tgcalls: Meta::Versions()).
    static std::vector<std::string> GetSupportedVersions() {
        std::vector<std::string> v;
        for (size_t i = 0; i < tgvoip_get_supported_version_count(); i++) v.push_back(tgvoip_get_supported_version(i));
        return v;
    }
    // Sets the version the server chose (phoneCall.protocol.library_versions[0]); before Start().
    // False (and a logged error) for an unsupported version or after Start().
    bool SetProtocolVersion(const std::string& version) {
        tgvoip_status_t st = tgvoip_controller_set_protocol_version(ctl, version.c_str());
        detail::logFailure("SetProtocolVersion", st);
        return st == TGVOIP_OK;
    }
    // The protocol version in use ("2.4.4" unless set).
    std::string GetProtocolVersion() {
        char* s = NULL;
        tgvoip_controller_get_protocol_version(ctl, &s);
        return detail::takeString(s);
    }
    // A phoneConnectionWebrtc STUN/TURN server.
    struct WebrtcEndpoint {
        int64_t id;
        std::string ipv4, ipv6;  // "" = none
        uint16_t port;
        bool turn, stun;
        std::string username, password;
    };
    // The phoneConnectionWebrtc servers of a tgcalls call (empty = direct paths only); before Connect().
    bool SetWebrtcEndpoints(const std::vector<WebrtcEndpoint>& endpoints) {
        std::vector<tgvoip_webrtc_endpoint_t> eps(endpoints.size());
        for (size_t i = 0; i < endpoints.size(); i++) {
            const WebrtcEndpoint& e = endpoints[i];
            eps[i].id = e.id;
            eps[i].ipv4 = e.ipv4.c_str();
            eps[i].ipv6 = e.ipv6.c_str();
            eps[i].port = e.port;
            eps[i].turn = e.turn;
            eps[i].stun = e.stun;
            eps[i].username = e.username.c_str();
            eps[i].password = e.password.c_str();
        }
        tgvoip_status_t st = tgvoip_controller_set_webrtc_endpoints(ctl, eps.empty() ? NULL : &eps[0], eps.size());
        detail::logFailure("SetWebrtcEndpoints", st);
        return st == TGVOIP_OK;
    }
    // Outgoing signaling to send with phone.sendSignalingData (tgcalls: signalingDataEmitted);
    // runs on the callback thread. Set before Connect().
    void SetSignalingDataEmitted(std::function<void(const std::vector<uint8_t>&)> f) {
        signalingDataEmitted = f;
        detail::logFailure("SetSignalingDataEmitted",
                           tgvoip_controller_set_signaling_callback(ctl, &VoIPController::onSignaling, this));
    }
    // Signaling from updatePhoneCallSignalingData (tgcalls: receiveSignalingData); any time before Stop().
    bool ReceiveSignalingData(const std::vector<uint8_t>& data) {
        tgvoip_status_t st = tgvoip_controller_receive_signaling_data(ctl, data.empty() ? NULL : &data[0], data.size());
        detail::logFailure("ReceiveSignalingData", st);
        return st == TGVOIP_OK;
    }
    // The peer's mute flag: 1 muted, 0 not muted, -1 not known yet (tgcalls calls).
    int GetRemoteMicMuted() {
        int32_t v = -1;
        tgvoip_controller_get_remote_mic_muted(ctl, &v);
        return v;
    }
    // Milliseconds from Connect() to media connected (tgcalls calls), -1 before.
    int64_t GetMediaConnectTimeMs() {
        int64_t v = -1;
        tgvoip_controller_get_media_connect_time_ms(ctl, &v);
        return v;
    }
    // RTP audio packets sent and received (tgcalls calls).
    void GetRtpPacketCounts(uint64_t* sent, uint64_t* received) {
        tgvoip_controller_get_rtp_packet_counts(ctl, sent, received);
    }

    // The underlying C handle (extension).
    tgvoip_controller_t* GetNativeHandle() { return ctl; }

private:
    VoIPController(const VoIPController&);
    VoIPController& operator=(const VoIPController&);
    static void onState(void* ud, tgvoip_controller_t*, int32_t state) {
        VoIPController* self = static_cast<VoIPController*>(ud);
        if (self->callbacks.connectionStateChanged) self->callbacks.connectionStateChanged(self, state);
    }
    static void onBars(void* ud, tgvoip_controller_t*, int32_t bars) {
        VoIPController* self = static_cast<VoIPController*>(ud);
        if (self->callbacks.signalBarCountChanged) self->callbacks.signalBarCountChanged(self, bars);
    }
    static void onInput(void* ud, int16_t* buf, size_t n) {
        VoIPController* self = static_cast<VoIPController*>(ud);
        if (self->audioInput) self->audioInput(buf, n);
    }
    static void onOutput(void* ud, int16_t* buf, size_t n) {
        VoIPController* self = static_cast<VoIPController*>(ud);
        if (self->audioOutput) self->audioOutput(buf, n);
    }
    static void onPreprocessed(void* ud, int16_t* buf, size_t n) {
        VoIPController* self = static_cast<VoIPController*>(ud);
        if (self->audioPreprocessed) self->audioPreprocessed(buf, n);
    }
    static void onSignaling(void* ud, const uint8_t* data, size_t len) {
        VoIPController* self = static_cast<VoIPController*>(ud);
        if (self->signalingDataEmitted) self->signalingDataEmitted(std::vector<uint8_t>(data, data + len));
    }
    tgvoip_controller_t* ctl;
    Callbacks callbacks;
    std::vector<Endpoint> remoteEndpoints;
    std::function<void(int16_t*, size_t)> audioInput, audioOutput, audioPreprocessed;
    std::function<void(const std::vector<uint8_t>&)> signalingDataEmitted;
};

#if __cplusplus >= 201703L
inline CryptoFunctions VoIPController::crypto = {};
#elif defined(TGVOIP_DEFINE_STATICS)
CryptoFunctions VoIPController::crypto = {};
#endif

// Group calls are not supported by this library; the class exists so that code compiles.
class VoIPGroupController : public VoIPController {
public:
    explicit VoIPGroupController(int32_t timeDifference) { (void)timeDifference; }
    static size_t GetInitialStreams(unsigned char* buf, size_t size) { (void)buf; (void)size; return 0; }
    float GetParticipantAudioLevel(int32_t userID) { (void)userID; return 0.0f; }
    void RemoveGroupCallParticipant(int32_t userID) { (void)userID; }
    void SetParticipantVolume(int32_t userID, float volume) { (void)userID; (void)volume; }
};

}  // namespace tgvoip

#endif
