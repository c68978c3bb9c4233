/* Minimal C user of an installed tgvoip. */
#include <stdio.h>
#include <tgvoip.h>

int main(void) {
    tgvoip_controller_t* c = NULL;
    int32_t state = 0;
    if (tgvoip_controller_new(&c) != TGVOIP_OK) return 1;
    tgvoip_controller_get_connection_state(c, &state);
    printf("tgvoip %s (abi %u), state %d\n", tgvoip_get_version(), tgvoip_abi_version(), state);
    tgvoip_controller_free(c);
    return state == TGVOIP_STATE_WAIT_INIT ? 0 : 1;
}
