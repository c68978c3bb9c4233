// build_cpp_headers: every C++ header compiles together (C++11 needs TGVOIP_DEFINE_STATICS once).
#define TGVOIP_DEFINE_STATICS
#include "TgVoip.h"
#include "VoIPController.h"
#include "VoIPServerConfig.h"

int main() {
    tgvoip::ServerConfig::GetSharedInstance()->Update("{\"k\": 3}");
    int ok = tgvoip::ServerConfig::GetSharedInstance()->GetInt("k", 0) == 3;
    ok &= TgVoip::getVersion() == "2.4.4" && TgVoip::getConnectionMaxLayer() == 92;
    ok &= static_cast<int>(TgVoipNetworkType::OtherMobile) == 10 && TgVoipState::Established == TgVoipState::Estabilished;
    tgvoip::VoIPController c;
    ok &= c.GetConnectionState() == tgvoip::STATE_WAIT_INIT && c.GetCurrentAudioInputID() == "default";
    ok &= c.GetPersistentState().size() == 10;
    try {
        c.GetRemoteEndpoint();
        ok = 0;
    } catch (const std::out_of_range&) {
    }
    tgvoip::IPv4Address a("1.2.3.4"), bad("x");
    ok &= a.ToString() == "1.2.3.4" && bad.IsEmpty() && !tgvoip::IPv6Address("::1").IsEmpty();
    return ok ? 0 : 1;
}
