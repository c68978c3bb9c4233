/* api_*: every C API function, including misuse. Usage: api_test GROUP (or "all"). */
#include "test_util.h"

#ifdef __cplusplus
#define TMP(name) "api_cpp_" name
#else
#define TMP(name) "api_c_" name
#endif

static int g_state_calls = 0;
static int g_last_state = 0;
static tgvoip_status_t g_stop_in_cb = TGVOIP_OK, g_free_in_cb = TGVOIP_OK;

static void on_state(void* ud, tgvoip_controller_t* c, int32_t state) {
    (void)ud;
    g_state_calls++;
    g_last_state = state;
    g_stop_in_cb = tgvoip_controller_stop(c);
    g_free_in_cb = tgvoip_controller_free(c);
}

static void test_versions(void) {
    CHECK(strcmp(tgvoip_get_version(), "2.4.4") == 0);
    CHECK(strcmp(LIBTGVOIP_VERSION, "2.4.4") == 0);
    CHECK(tgvoip_abi_version() == ((TGVOIP_ABI_VERSION_MAJOR << 16) | TGVOIP_ABI_VERSION_MINOR));
    CHECK(tgvoip_impl_version() != NULL && strlen(tgvoip_impl_version()) > 0);
    CHECK(tgvoip_get_connection_max_layer() == 92);
    {
        double a = tgvoip_get_current_time(), b = tgvoip_get_current_time();
        CHECK(b >= a && a >= 0);
    }
    CHECK(strcmp(tgvoip_status_name(TGVOIP_E_PANIC), "TGVOIP_E_PANIC") == 0);
    tgvoip_string_free(NULL);
    tgvoip_bytes_free(NULL);
    tgvoip_audio_device_list_free(NULL);
}

static void test_errors(void) {
    tgvoip_controller_t* c = NULL;
    CHECK_ST(tgvoip_controller_new(NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK(tgvoip_last_error_code() == TGVOIP_E_INVALID_ARGUMENT);
    CHECK(tgvoip_last_error_message() != NULL);
    CHECK_ST(tgvoip_controller_new(&c), TGVOIP_OK);
    CHECK(tgvoip_last_error_message() == NULL);
    CHECK(tgvoip_last_error_code() == TGVOIP_OK);
    CHECK_ST(tgvoip_controller_free(c), TGVOIP_OK);
    /* double free and use after free are detected */
    CHECK_ST(tgvoip_controller_free(c), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_start(c), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_free(NULL), TGVOIP_OK);
}

static void test_controller_setters(void) {
    tgvoip_controller_t* c = NULL;
    tgvoip_config_t cfg;
    unsigned char key[256];
    tgvoip_endpoint_t ep;
    int x = 5;
    test_key(key);
    CHECK_ST(tgvoip_controller_new(&c), TGVOIP_OK);

    CHECK_ST(tgvoip_controller_set_user_data(NULL, &x), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_user_data(c, &x), TGVOIP_OK);
    CHECK(tgvoip_controller_get_user_data(c) == &x);
    CHECK(tgvoip_controller_get_user_data(NULL) == NULL);

    tgvoip_config_init_default(NULL);
    tgvoip_config_init_default(&cfg);
    CHECK(cfg.struct_size == sizeof cfg && cfg.init_timeout == 30.0 && cfg.recv_timeout == 20.0);
    CHECK_ST(tgvoip_controller_set_config(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_config(NULL, &cfg), TGVOIP_E_INVALID_ARGUMENT);
    cfg.data_saving = 7;
    CHECK_ST(tgvoip_controller_set_config(c, &cfg), TGVOIP_E_INVALID_ARGUMENT);
    cfg.data_saving = TGVOIP_DATA_SAVING_MOBILE;
    cfg.enable_video_send = true;
    CHECK_ST(tgvoip_controller_set_config(c, &cfg), TGVOIP_E_NOT_SUPPORTED);
    cfg.enable_video_send = false;
    cfg.enable_aec = cfg.enable_ns = cfg.enable_agc = true;
    cfg.call_id = "42";
    cfg.log_file_path = "";
    CHECK_ST(tgvoip_controller_set_config(c, &cfg), TGVOIP_OK);
    cfg.struct_size = 0;
    CHECK_ST(tgvoip_controller_set_config(c, &cfg), TGVOIP_E_INVALID_ARGUMENT);
    /* an older, shorter struct: only the prefix is read */
    cfg.struct_size = (uint32_t)offsetof(tgvoip_config_t, data_saving);
    CHECK_ST(tgvoip_controller_set_config(c, &cfg), TGVOIP_OK);

    CHECK_ST(tgvoip_controller_set_encryption_key(c, key, 255, true), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_encryption_key(c, NULL, 256, true), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_encryption_key(c, key, 257, true), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_encryption_key(c, key, 256, true), TGVOIP_OK);

    memset(&ep, 0, sizeof ep);
    ep.id = 1;
    ep.ipv4 = "127.0.0.1";
    ep.port = 1;
    ep.type = TGVOIP_ENDPOINT_UDP_RELAY;
    CHECK_ST(tgvoip_controller_set_remote_endpoints(c, NULL, 1, false, false, 92), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_remote_endpoints(c, &ep, 0, false, false, 92), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_remote_endpoints(c, &ep, 1, false, true, 92), TGVOIP_OK);
    ep.ipv4 = "not an ip";
    CHECK_ST(tgvoip_controller_set_remote_endpoints(c, &ep, 1, false, false, 92), TGVOIP_E_INVALID_ARGUMENT);
    ep.ipv4 = "127.0.0.1";
    ep.type = 9;
    CHECK_ST(tgvoip_controller_set_remote_endpoints(c, &ep, 1, false, false, 92), TGVOIP_E_INVALID_ARGUMENT);
    ep.type = TGVOIP_ENDPOINT_UDP_RELAY;
    ep.ipv6 = "::1";
    CHECK_ST(tgvoip_controller_set_remote_endpoints(c, &ep, 1, true, false, 92), TGVOIP_OK);
    {
        tgvoip_endpoint_info_t info;
        CHECK_ST(tgvoip_controller_get_remote_endpoint(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
        CHECK_ST(tgvoip_controller_get_remote_endpoint(c, &info), TGVOIP_OK);
        CHECK(info.id == 1 && strcmp(info.ipv4, "127.0.0.1") == 0 && strcmp(info.ipv6, "::1") == 0);
    }

    CHECK_ST(tgvoip_controller_set_network_type(c, 12), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_network_type(c, TGVOIP_NET_TYPE_LTE), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_mic_mute(c, true), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_mic_mute(c, false), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_mic_mute(NULL, false), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_audio_output_gain_control_enabled(c, false), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_echo_cancellation_strength(c, 3), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_input_volume(c, 0.5f), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_output_volume(c, -1.0f), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_audio_output_ducking_enabled(c, true), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_current_audio_input(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_current_audio_input(c, "mic2"), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_current_audio_output(c, "spk"), TGVOIP_OK);
    {
        char* s = NULL;
        CHECK_ST(tgvoip_controller_get_current_audio_input_id(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
        CHECK_ST(tgvoip_controller_get_current_audio_input_id(c, &s), TGVOIP_OK);
        CHECK(s && strcmp(s, "mic2") == 0);
        tgvoip_string_free(s);
        s = NULL;
        CHECK_ST(tgvoip_controller_get_current_audio_output_id(c, &s), TGVOIP_OK);
        CHECK(s && strcmp(s, "spk") == 0);
        tgvoip_string_free(s);
    }
    CHECK_ST(tgvoip_controller_debug_ctl(c, 1, 16000), TGVOIP_E_NOT_SUPPORTED);
    CHECK_ST(tgvoip_controller_debug_ctl(c, 77, 0), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_send_group_call_key(c, key, 255), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_send_group_call_key(c, key, 256), TGVOIP_E_NOT_SUPPORTED);
    CHECK_ST(tgvoip_controller_request_call_upgrade(c), TGVOIP_E_NOT_SUPPORTED);
    CHECK_ST(tgvoip_controller_set_proxy(c, TGVOIP_PROXY_SOCKS5, "127.0.0.1", 1080, "", ""), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_proxy(c, TGVOIP_PROXY_SOCKS5, "127.0.0.1", 1080, "user", "pass"), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_proxy(c, TGVOIP_PROXY_SOCKS5, "", 1080, NULL, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_proxy(c, TGVOIP_PROXY_SOCKS5, "127.0.0.1", 0, NULL, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_proxy(c, 5, "127.0.0.1", 1080, NULL, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_proxy(c, TGVOIP_PROXY_NONE, NULL, 0, NULL, NULL), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_free(c), TGVOIP_OK);
}

static void test_getters(void) {
    tgvoip_controller_t* c = NULL;
    int32_t i32 = -1;
    int64_t i64 = -1;
    uint32_t u32 = 7;
    double d = -1;
    bool b = true;
    char* s = NULL;
    tgvoip_traffic_stats_t stats;
    tgvoip_bytes_t blob = {NULL, 0};
    CHECK_ST(tgvoip_controller_new(&c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_get_connection_state(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_get_connection_state(c, &i32), TGVOIP_OK);
    CHECK(i32 == TGVOIP_STATE_WAIT_INIT);
    CHECK_ST(tgvoip_controller_get_last_error(c, &i32), TGVOIP_OK);
    CHECK(i32 == TGVOIP_ERROR_UNKNOWN);
    CHECK_ST(tgvoip_controller_get_signal_bars_count(c, &i32), TGVOIP_OK);
    CHECK(i32 == 0);
    CHECK_ST(tgvoip_controller_get_preferred_relay_id(c, &i64), TGVOIP_OK);
    CHECK(i64 == 0);
    CHECK_ST(tgvoip_controller_get_peer_capabilities(c, &u32), TGVOIP_OK);
    CHECK(u32 == 0);
    CHECK_ST(tgvoip_controller_get_average_rtt(c, &d), TGVOIP_OK);
    CHECK(d == 999.0);
    CHECK_ST(tgvoip_controller_need_rate(c, &b), TGVOIP_OK);
    CHECK(!b);
    CHECK_ST(tgvoip_controller_get_call_duration(c, &d), TGVOIP_OK);
    CHECK(d == 0.0);
    CHECK_ST(tgvoip_controller_get_stats(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_get_stats(c, &stats), TGVOIP_OK);
    CHECK(stats.bytes_sent_wifi == 0 && stats.bytes_recvd_mobile == 0);
    CHECK_ST(tgvoip_controller_get_debug_string(c, &s), TGVOIP_OK);
    CHECK(s != NULL);
    tgvoip_string_free(s);
    s = NULL;
    CHECK_ST(tgvoip_controller_get_debug_log(c, &s), TGVOIP_OK);
    CHECK(s && strstr(s, "\"libtgvoip_version\"") != NULL);
    tgvoip_string_free(s);
    CHECK_ST(tgvoip_controller_get_debug_log(NULL, &s), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_get_persistent_state(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_get_persistent_state(c, &blob), TGVOIP_OK);
    CHECK(blob.len == 10 && memcmp(blob.data, "{\"ver\": 1}", 10) == 0);
    tgvoip_bytes_free(&blob);
    CHECK(blob.data == NULL && blob.len == 0);
    tgvoip_bytes_free(&blob); /* twice: harmless */
    {
        const char* ps = "{\"proxy\": {\"server\": \"1.2.3.4:1080\", \"tcp\": true}, \"ver\": 1}";
        CHECK_ST(tgvoip_controller_set_persistent_state(c, (const uint8_t*)ps, strlen(ps)), TGVOIP_OK);
        CHECK_ST(tgvoip_controller_set_persistent_state(c, (const uint8_t*)"garbage", 7), TGVOIP_OK);
        CHECK_ST(tgvoip_controller_set_persistent_state(c, NULL, 3), TGVOIP_E_INVALID_ARGUMENT);
        CHECK_ST(tgvoip_controller_get_persistent_state(c, &blob), TGVOIP_OK);
        CHECK(blob.len > 10 && memmem_like(blob.data, blob.len, "1.2.3.4:1080"));
        tgvoip_bytes_free(&blob);
    }
    {
        tgvoip_audio_device_list_t list;
        CHECK_ST(tgvoip_enumerate_audio_inputs(&list), TGVOIP_E_NOT_SUPPORTED);
        CHECK_ST(tgvoip_enumerate_audio_outputs(NULL), TGVOIP_E_INVALID_ARGUMENT);
        tgvoip_audio_input_tester_t* t = NULL;
        CHECK_ST(tgvoip_audio_input_tester_new("default", &t), TGVOIP_E_NOT_SUPPORTED);
        CHECK(t == NULL && tgvoip_audio_input_tester_failed(t) && tgvoip_audio_input_tester_get_and_reset_level(t) == 0.0f);
        tgvoip_audio_input_tester_free(NULL);
    }
    CHECK_ST(tgvoip_controller_free(c), TGVOIP_OK);
}

static void test_order(void) {
    tgvoip_controller_t* c = NULL;
    unsigned char key[256];
    tgvoip_endpoint_t ep;
    test_key(key);
    CHECK_ST(tgvoip_controller_new(&c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_connect(c), TGVOIP_E_INVALID_STATE); /* before start */
    CHECK_ST(tgvoip_controller_start(c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_start(c), TGVOIP_E_INVALID_STATE); /* twice */
    CHECK_ST(tgvoip_controller_set_proxy(c, TGVOIP_PROXY_NONE, NULL, 0, NULL, NULL), TGVOIP_E_INVALID_STATE);
    CHECK_ST(tgvoip_controller_connect(c), TGVOIP_E_INVALID_STATE); /* no key, no endpoints */
    CHECK_ST(tgvoip_controller_set_encryption_key(c, key, 256, false), TGVOIP_OK);
    memset(&ep, 0, sizeof ep);
    ep.id = 5;
    ep.ipv4 = "127.0.0.1";
    ep.port = 9; /* discard: nobody answers */
    ep.type = TGVOIP_ENDPOINT_UDP_RELAY;
    CHECK_ST(tgvoip_controller_set_remote_endpoints(c, &ep, 1, false, false, 92), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_connect(c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_connect(c), TGVOIP_E_INVALID_STATE);
    CHECK_ST(tgvoip_controller_set_encryption_key(c, key, 256, false), TGVOIP_E_INVALID_STATE);
    CHECK_ST(tgvoip_controller_set_audio_data_callbacks(c, NULL, NULL, NULL, NULL), TGVOIP_E_INVALID_STATE);
    CHECK_ST(tgvoip_controller_stop(c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_stop(c), TGVOIP_OK); /* idempotent */
    CHECK_ST(tgvoip_controller_start(c), TGVOIP_E_INVALID_STATE);
    CHECK_ST(tgvoip_controller_connect(c), TGVOIP_E_INVALID_STATE);
    {
        int64_t id = 0;
        CHECK_ST(tgvoip_controller_get_preferred_relay_id(c, &id), TGVOIP_OK); /* getters after stop */
        CHECK(id == 5);
    }
    CHECK_ST(tgvoip_controller_free(c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_free(c), TGVOIP_E_INVALID_ARGUMENT);
}

static void test_callbacks(void) {
    tgvoip_controller_t* c = NULL;
    tgvoip_callbacks_t cbs;
    CHECK_ST(tgvoip_controller_new(&c), TGVOIP_OK);
    tgvoip_callbacks_init_default(NULL);
    tgvoip_callbacks_init_default(&cbs);
    CHECK(cbs.struct_size == sizeof cbs && cbs.state_changed == NULL);
    cbs.state_changed = on_state;
    CHECK_ST(tgvoip_controller_set_callbacks(NULL, &cbs), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_callbacks(c, &cbs), TGVOIP_OK);
    /* fired synchronously; stop/free from inside the callback are refused */
    CHECK(g_state_calls == 1 && g_last_state == TGVOIP_STATE_WAIT_INIT);
    CHECK(g_stop_in_cb == TGVOIP_E_WOULD_DEADLOCK);
    CHECK(g_free_in_cb == TGVOIP_E_WOULD_DEADLOCK);
    CHECK_ST(tgvoip_controller_set_callbacks(c, NULL), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_set_audio_data_callbacks(NULL, NULL, NULL, NULL, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_audio_data_callbacks(c, NULL, NULL, NULL, NULL), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_free(c), TGVOIP_OK); /* free without start/stop */
}

static void test_native_io(void) {
    tgvoip_controller_t* c = NULL;
    bool on = true;
    size_t queued = 99;
    const char* paths[2];
    FILE* f = fopen(TMP("hold.pcm"), "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("0123", f);
        fclose(f);
    }
    paths[0] = TMP("hold.pcm");
    paths[1] = "/nonexistent/x.pcm";
    CHECK_ST(tgvoip_controller_new(&c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_get_native_io(c, &on), TGVOIP_OK);
    CHECK(!on);
    CHECK_ST(tgvoip_controller_set_native_io(c, true), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_get_native_io(c, &on), TGVOIP_OK);
    CHECK(on);
    CHECK_ST(tgvoip_controller_play(c, "/nonexistent/x.pcm"), TGVOIP_E_IO);
    CHECK_ST(tgvoip_controller_play(c, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_play(c, TMP("hold.pcm")), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_play_on_hold(c, paths, 2, &queued), TGVOIP_OK);
    CHECK(queued == 1);
    CHECK_ST(tgvoip_controller_play_on_hold(c, NULL, 2, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_set_output_file(c, "/nonexistent/dir/out.pcm"), TGVOIP_E_IO);
    CHECK_ST(tgvoip_controller_set_output_file(c, TMP("out.pcm")), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_clear_play_queue(c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_clear_hold_queue(c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_unset_output_file(c), TGVOIP_OK);
    CHECK_ST(tgvoip_controller_clear_play_queue(NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_controller_free(c), TGVOIP_OK);
    remove(TMP("hold.pcm"));
    remove(TMP("out.pcm"));
}

static void test_server_config(void) {
    char* s = NULL;
    CHECK_ST(tgvoip_server_config_update(NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_server_config_update("{"), TGVOIP_E_PARSE);
    CHECK_ST(tgvoip_server_config_update("{\"a_int\": 5, \"a_str\": \"x\"}"), TGVOIP_OK);
    CHECK_ST(tgvoip_server_config_update("{\"a_bool\": true, \"a_dbl\": 2.5}"), TGVOIP_OK); /* merged */
    CHECK(tgvoip_server_config_get_int("a_int", 0) == 5);
    CHECK(tgvoip_server_config_get_int("missing", -3) == -3);
    CHECK(tgvoip_server_config_get_int(NULL, 4) == 4);
    CHECK(tgvoip_server_config_get_double("a_dbl", 0) == 2.5);
    CHECK(tgvoip_server_config_get_bool("a_bool", false));
    CHECK_ST(tgvoip_server_config_get_string("a_str", "d", &s), TGVOIP_OK);
    CHECK(s && strcmp(s, "x") == 0);
    tgvoip_string_free(s);
    s = NULL;
    CHECK_ST(tgvoip_server_config_get_string("missing", "d", &s), TGVOIP_OK);
    CHECK(s && strcmp(s, "d") == 0);
    tgvoip_string_free(s);
    CHECK_ST(tgvoip_server_config_get_string("a_str", "d", NULL), TGVOIP_E_INVALID_ARGUMENT);
    tgvoip_set_log_level(5);
    tgvoip_set_log_callback(NULL, NULL);
    {
        tgvoip_crypto_functions_t fns;
        memset(&fns, 0, sizeof fns);
        CHECK_ST(tgvoip_set_crypto_functions(&fns), TGVOIP_E_NOT_SUPPORTED);
        CHECK_ST(tgvoip_set_crypto_functions(NULL), TGVOIP_E_INVALID_ARGUMENT);
    }
}

static const char* TG_PRIME =
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37"
    "20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F642477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4"
    "A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
    "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B";

static void test_util(void) {
    unsigned char key[256], g_a[256], p[256], q[256], hash[32];
    int64_t fp = 0;
    uint16_t idx[4] = {0, 0, 0, 0};
    char* s = NULL;
    int i;
    for (i = 0; i < 256; i++) {
        key[i] = (unsigned char)i;
        g_a[i] = (unsigned char)(255 - i);
    }
    CHECK_ST(tgvoip_util_key_fingerprint(key, 256, &fp), TGVOIP_OK);
    CHECK(fp == -3972359982579920590LL);
    CHECK_ST(tgvoip_util_key_fingerprint(key, 255, &fp), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_util_key_fingerprint(key, 256, NULL), TGVOIP_E_INVALID_ARGUMENT);
    CHECK_ST(tgvoip_util_emoji_indices(key, 256, g_a, 256, idx), TGVOIP_OK);
    CHECK(idx[0] == 122 && idx[1] == 225 && idx[2] == 65 && idx[3] == 23);
    CHECK_ST(tgvoip_util_emoji_indices(key, 256, g_a, 255, idx), TGVOIP_E_INVALID_ARGUMENT);
    CHECK(strcmp(tgvoip_util_emoji_name(122), "CACTUS") == 0);
    CHECK(strcmp(tgvoip_util_emoji(122, TGVOIP_EMOJI_TABLE_OFFICIAL), "\xF0\x9F\x8C\xB5") == 0);
    CHECK(strcmp(tgvoip_util_emoji(57, TGVOIP_EMOJI_TABLE_OFFICIAL), tgvoip_util_emoji(57, TGVOIP_EMOJI_TABLE_PYTGVOIP)) != 0);
    CHECK(tgvoip_util_emoji(333, 0) == NULL && tgvoip_util_emoji(0, 2) == NULL && tgvoip_util_emoji_name(333) == NULL);
    CHECK_ST(tgvoip_util_emoji_string(key, 256, g_a, 256, &s), TGVOIP_OK);
    CHECK(s && strncmp(s, "\xF0\x9F\x8C\xB5 ", 5) == 0);
    tgvoip_string_free(s);
    CHECK_ST(tgvoip_util_g_a_hash(g_a, 256, hash), TGVOIP_OK);
    CHECK_ST(tgvoip_util_g_a_hash(g_a, 256, NULL), TGVOIP_E_INVALID_ARGUMENT);

    hex_to_bytes(TG_PRIME, p, 256);
    CHECK_ST(tgvoip_util_check_dh_config(3, p, 256, true), TGVOIP_OK);
    CHECK_ST(tgvoip_util_check_dh_config(2, p, 256, true), TGVOIP_E_CHECK_FAILED); /* residue rule */
    CHECK_ST(tgvoip_util_check_dh_config(8, p, 256, true), TGVOIP_E_CHECK_FAILED);
    CHECK_ST(tgvoip_util_check_dh_config(3, p, 255, true), TGVOIP_E_CHECK_FAILED);
    CHECK_ST(tgvoip_util_check_dh_config(3, NULL, 256, true), TGVOIP_E_INVALID_ARGUMENT);
    memcpy(q, p, 256);
    q[255] ^= 0x10; /* same residues mod 3, no longer prime */
    CHECK_ST(tgvoip_util_check_dh_config(4, q, 256, false), TGVOIP_OK);
    CHECK_ST(tgvoip_util_check_dh_config(4, q, 256, true), TGVOIP_E_CHECK_FAILED);
    memcpy(q, g_a, 256);
    q[0] = 0x40;
    CHECK_ST(tgvoip_util_check_g_x(q, 256, p, 256), TGVOIP_OK);
    CHECK_ST(tgvoip_util_check_g_x(g_a, 256, p, 256), TGVOIP_E_CHECK_FAILED); /* > p */
    CHECK_ST(tgvoip_util_check_g_x(key, 1, p, 256), TGVOIP_E_CHECK_FAILED);
    CHECK_ST(tgvoip_util_check_g_x(p, 256, p, 256), TGVOIP_E_CHECK_FAILED);
    CHECK_ST(tgvoip_util_check_g_x(NULL, 256, p, 256), TGVOIP_E_INVALID_ARGUMENT);
}

int main(int argc, char** argv) {
    const char* group = argc > 1 ? argv[1] : "all";
    int all = strcmp(group, "all") == 0;
    if (all || !strcmp(group, "versions")) test_versions();
    if (all || !strcmp(group, "errors")) test_errors();
    if (all || !strcmp(group, "setters")) test_controller_setters();
    if (all || !strcmp(group, "getters")) test_getters();
    if (all || !strcmp(group, "order")) test_order();
    if (all || !strcmp(group, "callbacks")) test_callbacks();
    if (all || !strcmp(group, "native_io")) test_native_io();
    if (all || !strcmp(group, "server_config")) test_server_config();
    if (all || !strcmp(group, "util")) test_util();
    if (g_failures) {
        fprintf(stderr, "%d check(s) failed\n", g_failures);
        return 1;
    }
    printf("ok (%s)\n", group);
    return 0;
}
