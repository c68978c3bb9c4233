// C trampolines: the library calls these with the cgo.Handle (as void*) in user_data; they hand
// it to the exported Go functions as an integer, so no Go pointer is ever stored in C.
#include "_cgo_export.h"

void tgvoip_go_state_cb(void *user_data, tgvoip_controller_t *c, int32_t state) {
    (void)c;
    goTgvoipState((uintptr_t)user_data, state);
}

void tgvoip_go_bars_cb(void *user_data, tgvoip_controller_t *c, int32_t bars) {
    (void)c;
    goTgvoipSignalBars((uintptr_t)user_data, bars);
}

void tgvoip_go_input_cb(void *user_data, int16_t *samples, size_t n) {
    goTgvoipAudio((uintptr_t)user_data, 0, samples, n);
}

void tgvoip_go_output_cb(void *user_data, int16_t *samples, size_t n) {
    goTgvoipAudio((uintptr_t)user_data, 1, samples, n);
}

void tgvoip_go_preprocessed_cb(void *user_data, int16_t *samples, size_t n) {
    goTgvoipAudio((uintptr_t)user_data, 2, samples, n);
}
