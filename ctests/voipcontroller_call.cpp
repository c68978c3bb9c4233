// A call program written in libtgvoip 2.4.4 style against VoIPController.h (tgvoip-call's arguments).
#include "VoIPController.h"
#include "cli_common.h"

using namespace tgvoip;

static std::atomic<int> gState{0};

static void onStateChanged(VoIPController* ctl, int state) {
    (void)ctl->implData;
    gState = state;
    fprintf(stderr, "state %d\n", state);
}

int main(int argc, char** argv) {
    CallArgs args;
    if (!parseArgs(argc, argv, args)) {
        fprintf(stderr, "usage: voipcontroller_call HOST:PORT TAGHEX -k KEYHEX -i IN -o OUT [-r caller|callee] [-c CONFIG]\n");
        return 2;
    }
    if (!args.config.empty()) ServerConfig::GetSharedInstance()->Update(readText(args.config));
    FileAudio audio;
    audio.in = readPcm(args.in);
    audio.heard.resize(48000 * 60);

    VoIPController* ctl = new VoIPController();
    ctl->implData = &audio;
    VoIPController::Config cfg(10.0, 10.0, DATA_SAVING_NEVER, false, false, false);
    ctl->SetConfig(cfg);
    VoIPController::Callbacks cbs;
    memset(&cbs, 0, sizeof cbs);
    cbs.connectionStateChanged = onStateChanged;
    ctl->SetCallbacks(cbs);
    ctl->SetAudioDataCallbacks([&audio](int16_t* b, size_t n) { audio.input(b, n); },
                               [&audio](int16_t* b, size_t n) { audio.output(b, n); });
    std::vector<Endpoint> eps;
    eps.push_back(Endpoint(1, args.port, IPv4Address(args.host), IPv6Address(), Endpoint::Type::UDP_RELAY, args.tag));
    ctl->SetEncryptionKey((char*)args.key.data(), args.caller);
    ctl->SetRemoteEndpoints(eps, false, VoIPController::GetConnectionMaxLayer());
    ctl->SetNetworkType(NET_TYPE_ETHERNET);
    ctl->Start();
    ctl->Connect();

    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(40)) {
        if (gState == STATE_FAILED) break;
        if (gState == STATE_ESTABLISHED) audio.started = true;
        if (audio.started && audio.inputDone()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
    ctl->Stop();
    VoIPController::TrafficStats stats;
    ctl->GetStats(&stats);
    printf("%s\n", ctl->GetDebugLog().c_str());
    printf("version %s, last error %d, relay %lld, sent %llu, recvd %llu\n", VoIPController::GetVersion(), ctl->GetLastError(),
           (long long)ctl->GetPreferredRelayID(), (unsigned long long)stats.bytesSentWifi, (unsigned long long)stats.bytesRecvdWifi);
    delete ctl;
    bool ok = audio.save(args.out);
    printf("%s\n", ok ? "received audio" : "no audio received");
    return ok ? 0 : 1;
}
