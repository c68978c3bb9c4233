// A call program written against TgVoip.h like the VoIP contest's tgvoipcall (same arguments).
#define TGVOIP_USE_CALLBACK_AUDIO_IO
#include "TgVoip.h"
#include "cli_common.h"

static std::atomic<bool> gEstablished{false}, gFailed{false};

int main(int argc, char** argv) {
    CallArgs args;
    if (!parseArgs(argc, argv, args)) {
        fprintf(stderr, "usage: tgvoipcall HOST:PORT TAGHEX -k KEYHEX -i IN -o OUT [-r caller|callee] [-c CONFIG]\n");
        return 2;
    }
    if (!args.config.empty()) TgVoip::setGlobalServerConfig(readText(args.config));
    static FileAudio audio;
    audio.in = readPcm(args.in);
    audio.heard.resize(48000 * 60);

    TgVoipEndpoint ep;
    ep.endpointId = 1;
    ep.host = TgVoipEdpointHost{args.host, ""};
    ep.port = args.port;
    ep.type = TgVoipEndpointType::UdpRelay;
    memcpy(ep.peerTag, args.tag, 16);
    std::vector<TgVoipEndpoint> endpoints = {ep};

    TgVoipConfig config{};
    config.initializationTimeout = 10;
    config.receiveTimeout = 10;
    config.dataSaving = TgVoipDataSaving::Never;
    config.enableP2P = false;
    config.enableAEC = false;
    config.enableNS = true;
    config.enableAGC = true;
    config.enableCallUpgrade = false;
    config.maxApiLayer = TgVoip::getConnectionMaxLayer();

    TgVoipEncryptionKey key;
    key.value = args.key;
    key.isOutgoing = args.caller;

    TgVoipAudioDataCallbacks callbacks;
    callbacks.input = [](int16_t* b, size_t n) { audio.input(b, n); };
    callbacks.output = [](int16_t* b, size_t n) { audio.output(b, n); };
    callbacks.preprocessed = [](int16_t*, size_t) {};

    TgVoip* tgvoip = TgVoip::makeInstance(config, {}, endpoints, nullptr, TgVoipNetworkType::Ethernet, key, callbacks);
    tgvoip->setOnStateUpdated([](TgVoipState state) {
        if (state == TgVoipState::Estabilished) gEstablished = true;
        if (state == TgVoipState::Failed) gFailed = true;
    });

    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(40) && !gFailed) {
        if (gEstablished) audio.started = true;
        if (audio.started && audio.inputDone()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
    TgVoipFinalState final = tgvoip->stop();
    printf("%s\n", final.debugLog.c_str());
    printf("version %s, last error %s, sent %llu\n", TgVoip::getVersion().c_str(), tgvoip->getLastError().c_str(),
           (unsigned long long)final.trafficStats.bytesSentWifi);
    delete tgvoip;
    bool ok = audio.save(args.out);
    printf("%s\n", ok ? "received audio" : "no audio received");
    return ok ? 0 : 1;
}
