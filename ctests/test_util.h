/* Small helpers shared by the C tests (compile as C99 and as C++). */
#ifndef TGVOIP_CTEST_UTIL_H
#define TGVOIP_CTEST_UTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <stddef.h>

#include "tgvoip.h"

static int g_failures = 0;
#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            g_failures++;                                                             \
        }                                                                             \
    } while (0)
#define CHECK_ST(expr, want)                                                                          \
    do {                                                                                              \
        tgvoip_status_t st_ = (expr);                                                                 \
        if (st_ != (want)) {                                                                          \
            const char* m_ = tgvoip_last_error_message();                                             \
            fprintf(stderr, "%s:%d: %s = %s, want %s (%s)\n", __FILE__, __LINE__, #expr,              \
                    tgvoip_status_name(st_), tgvoip_status_name(want), m_ ? m_ : "no message");       \
            g_failures++;                                                                             \
        }                                                                                             \
    } while (0)

static inline void hex_to_bytes(const char* hex, unsigned char* out, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

/* The fixed key of the Rust tests: (i * 37 + 11) % 256. */
static inline void test_key(unsigned char key[256]) {
    int i;
    for (i = 0; i < 256; i++) key[i] = (unsigned char)((i * 37 + 11) % 256);
}

/* Reads a whole file; returns NULL on failure. */
static inline unsigned char* read_file(const char* path, size_t* len) {
    FILE* f = fopen(path, "rb");
    unsigned char* buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (unsigned char*)malloc(n > 0 ? (size_t)n : 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)(n > 0 ? n : 0);
    return buf;
}

/* Whether `needle` occurs in the first `len` bytes of `hay`. */
static inline int memmem_like(const unsigned char* hay, size_t len, const char* needle) {
    size_t n = strlen(needle), i;
    for (i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0) return 1;
    return 0;
}

/* Root-mean-square level of s16le PCM bytes. */
static inline double pcm_rms(const unsigned char* b, size_t len) {
    double acc = 0;
    size_t i, n = len / 2;
    for (i = 0; i < n; i++) {
        short s = (short)(b[2 * i] | (b[2 * i + 1] << 8));
        acc += (double)s * s;
    }
    return n ? sqrt(acc / n) : 0;
}
#endif
