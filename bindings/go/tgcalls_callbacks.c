// C trampoline of the signaling callback (see callbacks.c): user_data is the cgo.Handle.
#include "_cgo_export.h"

void tgvoip_go_signaling_cb(void *user_data, const uint8_t *data, size_t len) {
    goTgvoipSignaling((uintptr_t)user_data, (uint8_t *)data, len);
}
