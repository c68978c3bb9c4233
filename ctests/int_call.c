/* int_call: a full call between two controllers in one process through tgvoip-reflector.
 * The caller uses audio callbacks, the callee native file I/O (play queue + output file).
 * Usage: int_call RELAY_HOST:PORT SAMPLE.pcm WORKDIR */
#include "test_util.h"

#ifdef _WIN32
#include <windows.h>
static void sleep_ms(int ms) { Sleep(ms); }
#else
#include <time.h>
static void sleep_ms(int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}
#endif

typedef struct {
    const int16_t* pcm;
    size_t samples, pos;
    double heard_energy;
    size_t heard_samples, preprocessed_calls, preprocessed_samples;
    int established;
    tgvoip_status_t stop_in_cb, free_in_cb, getter_in_cb;
} caller_audio;

static void cb_input(void* ud, int16_t* buf, size_t n) {
    caller_audio* a = (caller_audio*)ud;
    size_t i;
    for (i = 0; i < n && a->pos < a->samples; i++) buf[i] = a->pcm[a->pos++];
}
static void cb_output(void* ud, int16_t* buf, size_t n) {
    caller_audio* a = (caller_audio*)ud;
    size_t i;
    for (i = 0; i < n; i++) a->heard_energy += (double)buf[i] * buf[i];
    a->heard_samples += n;
}
static void cb_pre(void* ud, int16_t* buf, size_t n) {
    caller_audio* a = (caller_audio*)ud;
    (void)buf;
    a->preprocessed_calls++;
    a->preprocessed_samples = n;
}
static void cb_state(void* ud, tgvoip_controller_t* c, int32_t state) {
    caller_audio* a = (caller_audio*)ud;
    int32_t bars = 0;
    if (state == TGVOIP_STATE_ESTABLISHED && !a->established) {
        a->established = 1;
        /* on the callback thread: getters work, stop/free are refused instead of deadlocking */
        a->getter_in_cb = tgvoip_controller_get_signal_bars_count(c, &bars);
        a->stop_in_cb = tgvoip_controller_stop(c);
        a->free_in_cb = tgvoip_controller_free(c);
    }
}

static tgvoip_controller_t* make(const char* host, uint16_t port, const char* tag_hex, bool caller) {
    tgvoip_controller_t* c = NULL;
    tgvoip_endpoint_t ep;
    tgvoip_config_t cfg;
    unsigned char key[256];
    test_key(key);
    CHECK_ST(tgvoip_controller_new(&c), TGVOIP_OK);
    tgvoip_config_init_default(&cfg);
    cfg.init_timeout = 10;
    CHECK_ST(tgvoip_controller_set_config(c, &cfg), TGVOIP_OK);
    memset(&ep, 0, sizeof ep);
    ep.id = 42;
    ep.ipv4 = host;
    ep.port = port;
    ep.type = TGVOIP_ENDPOINT_UDP_RELAY;
    hex_to_bytes(tag_hex, ep.peer_tag, 16);
    CHECK_ST(tgvoip_controller_set_encryption_key(c, key, 256, caller), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_remote_endpoints(c, &ep, 1, false, false, tgvoip_get_connection_max_layer()), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_network_type(c, TGVOIP_NET_TYPE_WIFI), TGVOIP_OK);
    return c;
}

int main(int argc, char** argv) {
    char host[64], out_path[1024];
    unsigned port = 0;
    size_t len = 0, out_len = 0;
    unsigned char* pcm;
    unsigned char* heard;
    caller_audio a;
    tgvoip_controller_t *caller, *callee;
    tgvoip_callbacks_t cbs;
    int32_t st1 = 0, st2 = 0;
    int i;
    double dur = 0;
    tgvoip_traffic_stats_t stats;
    if (argc < 4 || sscanf(argv[1], "%63[^:]:%u", host, &port) != 2) {
        fprintf(stderr, "usage: int_call HOST:PORT SAMPLE.pcm WORKDIR\n");
        return 2;
    }
    pcm = read_file(argv[2], &len);
    if (!pcm) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 2;
    }
    snprintf(out_path, sizeof out_path, "%s/int_call_callee_heard.pcm", argv[3]);
    memset(&a, 0, sizeof a);
    a.pcm = (const int16_t*)pcm;
    a.samples = len / 2;

    caller = make(host, (uint16_t)port, "0123456789abcdef0123456789abcd00", true);
    callee = make(host, (uint16_t)port, "0123456789abcdef0123456789abcd01", false);
    CHECK_ST(tgvoip_controller_set_audio_data_callbacks(caller, cb_input, cb_output, cb_pre, &a), TGVOIP_OK);
    tgvoip_callbacks_init_default(&cbs);
    cbs.user_data = &a;
    cbs.state_changed = cb_state;
    CHECK_ST(tgvoip_controller_set_callbacks(caller, &cbs), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_native_io(callee, true), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_play(callee, argv[2]), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_output_file(callee, out_path), TGVOIP_OK);

    CHECK_ST(tgvoip_controller_start(caller), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_start(callee), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_connect(caller), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_connect(callee), TGVOIP_OK);
    for (i = 0; i < 100; i++) {
        tgvoip_controller_get_connection_state(caller, &st1);
        tgvoip_controller_get_connection_state(callee, &st2);
        if (st1 == TGVOIP_STATE_ESTABLISHED && st2 == TGVOIP_STATE_ESTABLISHED) break;
        sleep_ms(100);
    }
    CHECK(st1 == TGVOIP_STATE_ESTABLISHED && st2 == TGVOIP_STATE_ESTABLISHED);
    sleep_ms(5000);
    CHECK_ST(tgvoip_controller_get_call_duration(caller, &dur), TGVOIP_OK);
    CHECK(dur > 3.0);
    CHECK_ST(tgvoip_controller_stop(caller), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_stop(callee), TGVOIP_OK);

    CHECK(a.established);
    CHECK(a.getter_in_cb == TGVOIP_OK);
    CHECK(a.stop_in_cb == TGVOIP_E_WOULD_DEADLOCK && a.free_in_cb == TGVOIP_E_WOULD_DEADLOCK);
    CHECK_ST(tgvoip_controller_get_stats(caller, &stats), TGVOIP_OK);
    CHECK(stats.bytes_sent_wifi > 10000 && stats.bytes_recvd_wifi > 10000);
    /* one call per outgoing frame: 60 ms (2880 samples), or 20 ms (960) between two
       tgvoip-rs peers on a clean link, as here */
    CHECK(a.preprocessed_calls > 10 &&
          (a.preprocessed_samples == 960 || a.preprocessed_samples == 2880));
    /* caller heard the callee (native I/O play queue) */
    {
        double rms = a.heard_samples ? sqrt(a.heard_energy / a.heard_samples) : 0;
        printf("caller heard %zu samples, rms %.1f\n", a.heard_samples, rms);
        CHECK(a.heard_samples > 48000 * 3 && rms > 100);
    }
    /* callee's output file holds the caller's speech */
    heard = read_file(out_path, &out_len);
    CHECK(heard != NULL);
    if (heard) {
        double rms = pcm_rms(heard, out_len);
        printf("callee wrote %zu bytes, rms %.1f\n", out_len, rms);
        CHECK(out_len > 48000 * 2 * 3 && rms > 100);
        free(heard);
    }
    CHECK_ST(tgvoip_controller_free(caller), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_free(callee), TGVOIP_OK);
    free(pcm);
    if (g_failures) {
        fprintf(stderr, "%d check(s) failed\n", g_failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
