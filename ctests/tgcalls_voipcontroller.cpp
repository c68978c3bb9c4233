// int_tgcalls_pair_cpp: two tgvoip::VoIPController objects run a tgcalls 9.0.0 call in one
// process, their signaling wired to each other (run by in_netns.sh with a dummy interface).
#include <tgvoip/VoIPController.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

static int failures = 0;
#define EXPECT(c)                                                                   \
    do {                                                                            \
        if (!(c)) {                                                                 \
            std::fprintf(stderr, "%s:%d: EXPECT failed: %s\n", __FILE__, __LINE__, #c); \
            failures++;                                                             \
        }                                                                           \
    } while (0)

int main() {
    using tgvoip::VoIPController;
    std::vector<std::string> versions = VoIPController::GetSupportedVersions();
    EXPECT(versions.size() == 3 && versions[0] == "9.0.0" && versions[1] == "8.0.0" && versions[2] == "2.4.4");

    char key[256];
    for (int i = 0; i < 256; i++) key[i] = (char)((i * 37 + 11) % 256);
    VoIPController a, b;
    EXPECT(a.GetProtocolVersion() == "2.4.4");
    EXPECT(!a.SetProtocolVersion("10.0.0"));
    EXPECT(a.SetProtocolVersion(versions[0]) && b.SetProtocolVersion(versions[0]));
    EXPECT(a.GetProtocolVersion() == "9.0.0");
    VoIPController::WebrtcEndpoint bad = {1, "", "", 3478, true, false, "u", "p"};
    EXPECT(!a.SetWebrtcEndpoints(std::vector<VoIPController::WebrtcEndpoint>(1, bad)));
    EXPECT(a.SetWebrtcEndpoints(std::vector<VoIPController::WebrtcEndpoint>()));
    a.SetEncryptionKey(key, true);
    b.SetEncryptionKey(key, false);
    std::atomic<int> fromA(0), fromB(0), emptyBlobs(0), forwardFailures(0);
    a.SetSignalingDataEmitted([&](const std::vector<uint8_t>& d) {
        fromA++;
        if (d.empty()) emptyBlobs++;
        if (!b.ReceiveSignalingData(d)) forwardFailures++;
    });
    b.SetSignalingDataEmitted([&](const std::vector<uint8_t>& d) {
        fromB++;
        if (d.empty()) emptyBlobs++;
        if (!a.ReceiveSignalingData(d)) forwardFailures++;
    });
    b.SetMicMute(true);
    a.Start();
    b.Start();
    a.Connect();
    b.Connect();
    uint64_t sentA = 0, recvdA = 0, sentB = 0, recvdB = 0;
    // Wait on both counters: a's count of sent packets can lag b's count of received ones
    // (seen under AddressSanitizer), as in ctests/tgcalls_test.c.
    for (int i = 0; i < 1000; i++) {
        a.GetRtpPacketCounts(&sentA, &recvdA);
        b.GetRtpPacketCounts(&sentB, &recvdB);
        if (a.GetConnectionState() == tgvoip::STATE_ESTABLISHED && b.GetConnectionState() == tgvoip::STATE_ESTABLISHED &&
            sentA > 10 && recvdB > 10 && a.GetRemoteMicMuted() == 1)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT(a.GetConnectionState() == tgvoip::STATE_ESTABLISHED);
    EXPECT(b.GetConnectionState() == tgvoip::STATE_ESTABLISHED);
    EXPECT(a.GetMediaConnectTimeMs() >= 0 && b.GetMediaConnectTimeMs() >= 0);
    EXPECT(recvdB > 10 && sentA > 10);
    EXPECT(a.GetRemoteMicMuted() == 1);
    EXPECT(b.GetRemoteMicMuted() == 0);
    a.Stop();
    b.Stop();
    EXPECT(fromA > 0 && fromB > 0);
    EXPECT(emptyBlobs == 0 && forwardFailures == 0);
    std::fprintf(stderr, "signaling %d/%d blobs, connect %lld/%lld ms\n", fromA.load(), fromB.load(),
                 (long long)a.GetMediaConnectTimeMs(), (long long)b.GetMediaConnectTimeMs());
    if (failures) std::fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
