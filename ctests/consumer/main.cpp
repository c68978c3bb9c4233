// Minimal C++ user of an installed tgvoip (libtgvoip-style API).
#include <VoIPController.h>
#include <stdio.h>

int main() {
    tgvoip::VoIPController ctl;
    printf("libtgvoip %s, max layer %d\n", tgvoip::VoIPController::GetVersion(), tgvoip::VoIPController::GetConnectionMaxLayer());
    return ctl.GetConnectionState() == tgvoip::STATE_WAIT_INIT ? 0 : 1;
}
