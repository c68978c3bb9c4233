/* api_tgcalls_*: protocol choice and tgcalls signaling through the C API.
 * Usage: tgcalls_test GROUP, GROUP one of versions, protocol, webrtc, signaling (any machine),
 * noiface (run by in_netns.sh in an empty namespace: start of a 9.0.0 call fails with
 * TGVOIP_E_IO), pair (run by in_netns.sh with a dummy interface: two 9.0.0 controllers wired
 * through their signaling callbacks connect media). */
#include "test_util.h"

#include <pthread.h>
#include <time.h>

static void sleep_ms(int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static int msg_contains(const char* needle) {
    const char* m = tgvoip_last_error_message();
    return m != NULL && strstr(m, needle) != NULL;
}

static void test_versions(void) {
    CHECK(tgvoip_get_supported_version_count() == 3);
    CHECK(tgvoip_get_supported_version(0) && strcmp(tgvoip_get_supported_version(0), "9.0.0") == 0);
    CHECK(tgvoip_get_supported_version(1) && strcmp(tgvoip_get_supported_version(1), "8.0.0") == 0);
    CHECK(tgvoip_get_supported_version(2) && strcmp(tgvoip_get_supported_version(2), "2.4.4") == 0);
    CHECK(tgvoip_get_supported_version(3) == NULL);
    CHECK(tgvoip_get_supported_version((size_t)-1) == NULL);
    CHECK(tgvoip_abi_version() >= ((3u << 16) | 1u));
}

static void expect_protocol(tgvoip_controller_t* c, const char* want) {
    char* v = NULL;
    CHECK_ST(tgvoip_controller_get_protocol_version(c, &v), TGVOIP_OK);
    CHECK(v != NULL && strcmp(v, want) == 0);
    tgvoip_string_free(v);
}

static void test_protocol(void) {
    tgvoip_controller_t* c = NULL;
    const char* good[] = {"9.0.0", "8.0.0", "2.4.4"};
    size_t i;
    CHECK_ST(tgvoip_controller_new(&c), TGVOIP_OK);
    expect_protocol(c, "2.4.4");
    for (i = 0; i < 3; i++) {
        CHECK_ST(tgvoip_controller_set_protocol_version(c, good[i]), TGVOIP_OK);
        CHECK(tgvoip_last_error_message() == NULL);
        expect_protocol(c, good[i]);
    }
    CHECK_ST(tgvoip_controller_set_protocol_version(c, "7.0.0"), TGVOIP_E_INVALID_ARGUMENT);
    CHECK(msg_contains("unsupported protocol version"));
    CHECK(msg_contains("7.0.0"));
    CHECK_ST(tgvoip_controller_set_protocol_version(c, ""), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_protocol_version(c, "9.0.0junk"), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_protocol_version(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK(msg_contains("NULL"));
    CHECK_ST(tgvoip_controller_set_protocol_version(NULL, "9.0.0"), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_get_protocol_version(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
    /* a rejected version leaves the last good one */
    expect_protocol(c, "2.4.4");
    /* after start (2.4.4 binds on any machine) the protocol is fixed */
    CHECK_ST(tgvoip_controller_start(c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_protocol_version(c, "9.0.0"), TGVOIP_E_INVALID_STATE);
    CHECK(msg_contains("before start"));
    expect_protocol(c, "2.4.4");
    CHECK_ST(tgvoip_controller_free(c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_get_protocol_version(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
}

static tgvoip_webrtc_endpoint_t webrtc_ep(int64_t id, const char* v4, const char* v6, uint16_t port) {
    tgvoip_webrtc_endpoint_t e;
    memset(&e, 0, sizeof e);
    e.id = id;
    e.ipv4 = v4;
    e.ipv6 = v6;
    e.port = port;
    e.turn = true;
    e.stun = true;
    e.username = "user";
    e.password = "pass";
    return e;
}

static void test_webrtc(void) {
    tgvoip_controller_t* c = NULL;
    tgvoip_webrtc_endpoint_t eps[3];
    CHECK_ST(tgvoip_controller_new(&c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_protocol_version(c, "9.0.0"), TGVOIP_OK);
    eps[0] = webrtc_ep(1, "192.0.2.10", NULL, 3478);
    eps[1] = webrtc_ep(2, "", "2001:db8::1", 443);
    eps[2] = webrtc_ep(3, "192.0.2.11", "2001:db8::2", 3478);
    eps[2].turn = false;
    eps[2].username = NULL;
    eps[2].password = NULL;
    CHECK_ST(tgvoip_controller_set_webrtc_endpoints(c, eps, 3), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_webrtc_endpoints(c, NULL, 0), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_webrtc_endpoints(c, eps, 0), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_webrtc_endpoints(c, NULL, 1), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_webrtc_endpoints(NULL, eps, 1), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_webrtc_endpoints(c, eps, 100000), TGVOIP_E_INVALID_ARGUMENT);
    eps[1] = webrtc_ep(2, NULL, "::", 443);
    CHECK_ST(tgvoip_controller_set_webrtc_endpoints(c, eps, 2), TGVOIP_E_INVALID_ARGUMENT);
    CHECK(msg_contains("no address"));
    eps[1] = webrtc_ep(2, "300.1.1.1", NULL, 443);
    CHECK_ST(tgvoip_controller_set_webrtc_endpoints(c, eps, 2), TGVOIP_E_INVALID_ARGUMENT);
    CHECK(msg_contains("bad IPv4"));
    eps[1] = webrtc_ep(2, NULL, "not-an-ip", 443);
    CHECK_ST(tgvoip_controller_set_webrtc_endpoints(c, eps, 2), TGVOIP_E_INVALID_ARGUMENT);
    CHECK(msg_contains("bad IPv6"));
    eps[1] = webrtc_ep(2, "192.0.2.12", NULL, 0);
    CHECK_ST(tgvoip_controller_set_webrtc_endpoints(c, eps, 2), TGVOIP_E_INVALID_ARGUMENT);
    CHECK(msg_contains("port 0"));
    CHECK_ST(tgvoip_controller_stop(c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_webrtc_endpoints(c, eps, 1), TGVOIP_E_INVALID_STATE);
    CHECK_ST(tgvoip_controller_free(c), TGVOIP_OK);
}

/* Collected signaling of one side; the callback forwards to `peer` when set. */
typedef struct {
    pthread_mutex_t mu;
    int blobs;
    size_t bytes;
    int empty;
    int forward_errors;
    tgvoip_controller_t* peer;
} sig_sink_t;

static void sink_init(sig_sink_t* s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
}

static void on_signaling(void* ud, const uint8_t* data, size_t len) {
    sig_sink_t* s = (sig_sink_t*)ud;
    tgvoip_status_t st = TGVOIP_OK;
    tgvoip_controller_t* peer;
    pthread_mutex_lock(&s->mu);
    s->blobs++;
    s->bytes += len;
    if (len == 0 || data == NULL) s->empty++;
    peer = s->peer;
    pthread_mutex_unlock(&s->mu);
    if (peer) st = tgvoip_controller_receive_signaling_data(peer, data, len);
    if (st != TGVOIP_OK) {
        pthread_mutex_lock(&s->mu);
        s->forward_errors++;
        pthread_mutex_unlock(&s->mu);
    }
}

static void test_signaling(void) {
    tgvoip_controller_t* c = NULL;
    sig_sink_t sink;
    const uint8_t blob[3] = {1, 2, 3};
    int32_t muted = 7;
    int64_t ms = 7;
    uint64_t sent = 7, recvd = 7;
    sink_init(&sink);
    CHECK_ST(tgvoip_controller_new(&c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_protocol_version(c, "9.0.0"), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_signaling_callback(c, on_signaling, &sink), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_signaling_callback(c, NULL, NULL), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_signaling_callback(NULL, on_signaling, &sink), TGVOIP_E_INVALID_ARGUMENT);
    /* kept before start, even if it is not valid signaling (parsed when the call runs) */
    CHECK_ST(tgvoip_controller_receive_signaling_data(c, blob, sizeof blob), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_receive_signaling_data(c, blob, 0), TGVOIP_E_INVALID_ARGUMENT);
    CHECK(msg_contains("empty"));
    CHECK_ST(tgvoip_controller_receive_signaling_data(c, NULL, 0), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_receive_signaling_data(c, NULL, 5), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_receive_signaling_data(NULL, blob, 3), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_get_remote_mic_muted(c, &muted), TGVOIP_OK);
    CHECK(muted == -1);
    CHECK_ST(tgvoip_controller_get_remote_mic_muted(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_get_media_connect_time_ms(c, &ms), TGVOIP_OK);
    CHECK(ms == -1);
    CHECK_ST(tgvoip_controller_get_media_connect_time_ms(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_get_rtp_packet_counts(c, &sent, &recvd), TGVOIP_OK);
    CHECK(sent == 0 && recvd == 0);
    CHECK_ST(tgvoip_controller_get_rtp_packet_counts(c, NULL, &recvd), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_get_rtp_packet_counts(c, NULL, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_stop(c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_receive_signaling_data(c, blob, sizeof blob), TGVOIP_E_INVALID_STATE);
    CHECK_ST(tgvoip_controller_set_signaling_callback(c, on_signaling, &sink), TGVOIP_E_INVALID_STATE);
    CHECK_ST(tgvoip_controller_free(c), TGVOIP_OK);
    CHECK(sink.blobs == 0);
    pthread_mutex_destroy(&sink.mu);
}

/* No usable interface (empty network namespace): a 9.0.0 call cannot open its sockets. */
static void test_noiface(void) {
    tgvoip_controller_t* c = NULL;
    int32_t state = 0;
    CHECK_ST(tgvoip_controller_new(&c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_protocol_version(c, "9.0.0"), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_start(c), TGVOIP_E_IO);
    CHECK(msg_contains("interface"));
    CHECK_ST(tgvoip_controller_get_connection_state(c, &state), TGVOIP_OK);
    CHECK(state == TGVOIP_STATE_FAILED);
    CHECK_ST(tgvoip_controller_connect(c), TGVOIP_E_INVALID_STATE);
    CHECK_ST(tgvoip_controller_free(c), TGVOIP_OK);
}

static int32_t state_of(tgvoip_controller_t* c) {
    int32_t s = 0;
    tgvoip_controller_get_connection_state(c, &s);
    return s;
}

/* Caller and callee in one process; the callee learns the caller's first signaling before
 * its own start (kept and processed at connect). */
static void test_pair(void) {
    tgvoip_controller_t *a = NULL, *b = NULL;
    sig_sink_t sa, sb;
    unsigned char key[256];
    int i, a_blobs_before_b;
    int64_t ms_a = -1, ms_b = -1;
    uint64_t sent_a = 0, recvd_a = 0, sent_b = 0, recvd_b = 0;
    int32_t muted = -1;
    test_key(key);
    sink_init(&sa);
    sink_init(&sb);
    CHECK_ST(tgvoip_controller_new(&a), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_new(&b), TGVOIP_OK);
    sa.peer = b;
    sb.peer = a;
    CHECK_ST(tgvoip_controller_set_protocol_version(a, tgvoip_get_supported_version(0)), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_protocol_version(b, tgvoip_get_supported_version(0)), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_encryption_key(a, key, 256, true), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_encryption_key(b, key, 256, false), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_webrtc_endpoints(a, NULL, 0), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_signaling_callback(a, on_signaling, &sa), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_signaling_callback(b, on_signaling, &sb), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_mic_mute(a, true), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_start(a), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_connect(a), TGVOIP_OK);
    for (i = 0; i < 100; i++) {
        pthread_mutex_lock(&sa.mu);
        a_blobs_before_b = sa.blobs;
        pthread_mutex_unlock(&sa.mu);
        if (a_blobs_before_b > 0) break;
        sleep_ms(20);
    }
    CHECK(a_blobs_before_b > 0);
    CHECK_ST(tgvoip_controller_start(b), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_connect(b), TGVOIP_OK);
    for (i = 0; i < 1000; i++) {
        tgvoip_controller_get_rtp_packet_counts(a, &sent_a, &recvd_a);
        tgvoip_controller_get_rtp_packet_counts(b, &sent_b, &recvd_b);
        tgvoip_controller_get_remote_mic_muted(b, &muted);
        if (state_of(a) == TGVOIP_STATE_ESTABLISHED && state_of(b) == TGVOIP_STATE_ESTABLISHED &&
            recvd_a > 10 && muted == 1)
            break;
        sleep_ms(20);
    }
    CHECK(state_of(a) == TGVOIP_STATE_ESTABLISHED);
    CHECK(state_of(b) == TGVOIP_STATE_ESTABLISHED);
    sleep_ms(200); /* b's counter of sent packets may lag a's received one when read above */
    CHECK_ST(tgvoip_controller_get_rtp_packet_counts(a, &sent_a, &recvd_a), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_get_rtp_packet_counts(b, &sent_b, &recvd_b), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_get_media_connect_time_ms(a, &ms_a), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_get_media_connect_time_ms(b, &ms_b), TGVOIP_OK);
    CHECK(ms_a >= 0 && ms_b >= 0);
    CHECK(recvd_a > 10 && sent_b > 10);
    /* a is muted: b is told through the data channel */
    CHECK(muted == 1);
    CHECK_ST(tgvoip_controller_get_remote_mic_muted(a, &muted), TGVOIP_OK);
    CHECK(muted == 0);
    /* stop both before the sinks go away (no callback runs after stop returns) */
    CHECK_ST(tgvoip_controller_stop(a), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_stop(b), TGVOIP_OK);
    CHECK(sa.blobs > 0 && sb.blobs > 0);
    CHECK(sa.bytes > 0 && sb.bytes > 0);
    CHECK(sa.empty == 0 && sb.empty == 0);
    CHECK(sa.forward_errors == 0 && sb.forward_errors == 0);
    fprintf(stderr, "pair: signaling %d/%d blobs, media connect %lld/%lld ms, rtp a %llu/%llu b %llu/%llu\n",
            sa.blobs, sb.blobs, (long long)ms_a, (long long)ms_b, (unsigned long long)sent_a,
            (unsigned long long)recvd_a, (unsigned long long)sent_b, (unsigned long long)recvd_b);
    CHECK_ST(tgvoip_controller_free(a), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_free(b), TGVOIP_OK);
    pthread_mutex_destroy(&sa.mu);
    pthread_mutex_destroy(&sb.mu);
}

int main(int argc, char** argv) {
    const char* g = argc > 1 ? argv[1] : "all";
    int all = strcmp(g, "all") == 0;
    if (all || strcmp(g, "versions") == 0) test_versions();
    if (all || strcmp(g, "protocol") == 0) test_protocol();
    if (all || strcmp(g, "webrtc") == 0) test_webrtc();
    if (all || strcmp(g, "signaling") == 0) test_signaling();
    if (strcmp(g, "noiface") == 0) test_noiface();
    if (strcmp(g, "pair") == 0) test_pair();
    if (g_failures) fprintf(stderr, "%d check(s) failed\n", g_failures);
    return g_failures ? 1 : 0;
}
