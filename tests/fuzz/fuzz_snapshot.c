/* fuzz_snapshot.c — libFuzzer target for snapshot restore. A snapshot is
 * checksummed, so mutated bytes would stop at the CRC: the input is taken as
 * the snapshot *payload* (everything between header and trailer,
 * docs/snapshot.md), wrapped in a valid header and trailer for a fixed
 * program and restored into a new engine; a restored engine is pushed a few
 * events, finished, snapshotted and restored again. The raw input is also
 * restored as is (the envelope checks). Built and run by `make fuzz`.
 * Built with -DSNAPSHOT_SEEDS it is instead a program writing seed payloads
 * (real snapshots of random streams, header and trailer stripped) into the
 * directory given: tests/fuzz/mkcorpus.sh runs it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cepheus.h"
#include "crc32c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The engine keeps state for each of these: loops, a kleene+ with until,
 * negation at the end (pending completion) and in the middle, windows on a
 * step and on the pattern, skip strategies that hold matches back, a keyless
 * pattern, followedByAny fan-out, every field type. */
static const char PATTERN[] =
    "pattern seq key k\n"
    "  begin a where t == \"a\"\n"
    "  followedBy b+ where t == \"b\" and v >= a.v until t == \"z\"\n"
    "  followedBy c where t == \"c\" and s =~ /x/\n"
    "  within 40ms\n"
    "  skip pastLastEvent\n"
    "pattern neg key k\n"
    "  begin a where t == \"a\"\n"
    "  notFollowedBy n where t == \"c\"\n"
    "  within 15ms\n"
    "pattern any\n"
    "  begin x where t == \"b\" and flag == true\n"
    "  followedByAny y where t == \"c\" and v > x.v\n"
    "  within 30ms\n"
    "  skip toFirst x\n"
    "pattern loops key k, s\n"
    "  begin a{2,3} where t in (\"a\", \"b\") consecutive\n"
    "  followedBy (c where t == \"c\" next d? where t == \"b\"){1,2}\n"
    "  notNext n where t == \"a\"\n"
    "  followedBy within 5ms e where t == \"z\" and f < 2.5 and count(a) > 0\n"
    "  within 60ms\n"
    "  skip toLast c\n";

static cep_program *prog;

static void setup(void) {
    if (prog) return;
    if (cep_compile(NULL, PATTERN, sizeof PATTERN - 1, "fuzz", &prog, NULL) != CEP_OK)
        __builtin_trap(); /* the fixed pattern must compile */
}

static int touch_match(void *ud, const cep_match *m) {
    (void)ud;
    (void)cep_match_pattern(m);
    (void)cep_match_start(m);
    for (size_t i = 0; i < cep_match_key_count(m); i++) (void)cep_match_key(m, i);
    for (size_t s = 0; s < cep_match_step_count(m); s++)
        for (size_t i = 0; i < cep_match_event_count(m, s); i++) {
            const cep_event *ev = cep_match_event(m, s, i);
            size_t n;
            const char *raw = cep_event_raw(ev, &n);
            /* Touch every byte so ASan checks the restored event's bounds. */
            volatile char sink = 0;
            for (size_t k = 0; raw && k < n; k++) sink ^= raw[k];
            (void)sink;
            for (size_t f = 0; f < cep_program_field_count(prog); f++) {
                cep_value v = cep_event_value(ev, (int)f);
                for (size_t k = 0; v.type == CEP_STRING && k < v.u.s.len; k++) sink ^= v.u.s.ptr[k];
            }
        }
    for (size_t f = 0; f < cep_match_field_count(m); f++) (void)cep_match_field(m, f);
    return 0;
}

static int on_late(void *ud, const cep_event *ev) {
    (void)ud;
    (void)cep_event_time(ev);
    return 0;
}

static cep_engine *new_engine(void) {
    cep_engine *e = NULL;
    if (cep_engine_new(prog, &e) != CEP_OK) __builtin_trap();
    cep_engine_on_match(e, touch_match, NULL);
    cep_engine_on_timeout(e, touch_match, NULL);
    cep_engine_on_late(e, on_late, NULL);
    cep_engine_set_time_field(e, "ts");
    return e;
}

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
} buf;

static int buf_add(void *ud, const void *src, size_t n) {
    buf *b = ud;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) return 1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

static void put_le(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Header, payload, trailer: a snapshot of the given format version whose
 * envelope is valid. */
static unsigned char *wrap(const uint8_t *payload, size_t size, unsigned version, size_t *len) {
    *len = 24 + size + 16;
    unsigned char *s = malloc(*len);
    if (!s) __builtin_trap();
    memcpy(s, "CEPSNAP\0", 8);
    put_le(s + 8, version, 4);
    put_le(s + 12, version == 1 ? 0 : 128, 4); /* reserved; key groups */
    put_le(s + 16, cep_program_fingerprint(prog), 8);
    if (size) memcpy(s + 24, payload, size);
    put_le(s + 24 + size, 24 + size, 8);
    put_le(s + 32 + size, util_crc32c(0, s, 32 + size), 4);
    memcpy(s + 36 + size, "CEP.", 4);
    return s;
}

static const char *const EVENTS[] = {
    "{\"ts\":1,\"k\":1,\"t\":\"a\",\"v\":1,\"s\":\"x\",\"flag\":true,\"f\":1.5}",
    "{\"ts\":9000000000000,\"k\":1,\"t\":\"b\",\"v\":2,\"s\":\"x\",\"flag\":true}",
    "{\"ts\":9000000000003,\"k\":2,\"t\":\"c\",\"v\":3,\"s\":\"xx\"}",
    "{\"ts\":9000000000001,\"k\":1,\"t\":\"c\",\"v\":3,\"s\":\"x\",\"f\":0.5}",
    "{\"ts\":9000000000100,\"k\":1,\"t\":\"z\",\"f\":0.5}",
};

static void try_payload(const uint8_t *data, size_t size, unsigned version);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    /* The envelope checks, on the bytes as given. */
    cep_engine *e = new_engine();
    (void)cep_engine_restore(e, data, size);
    (void)cep_engine_error(e);
    cep_engine_free(e);
    /* The payload as format 1 (one section) and as format 2 (key groups):
     * the seeds are payloads of both. */
    try_payload(data, size, 1);
    try_payload(data, size, 2);
    return 0;
}

static void try_payload(const uint8_t *data, size_t size, unsigned version) {
    size_t len;
    unsigned char *snap = wrap(data, size, version, &len);
    cep_engine *e = new_engine();
    int rc = cep_engine_restore(e, snap, len);
    free(snap);
    if (rc != CEP_OK) {
        /* A payload in a valid envelope can only be inconsistent. */
        if (rc != CEP_ECORRUPT && rc != CEP_ENOMEM) __builtin_trap();
        /* A failed restore leaves the engine empty and usable. */
        rc = cep_engine_push_json(e, EVENTS[0], strlen(EVENTS[0]));
        if (rc != CEP_OK) __builtin_trap();
        cep_engine_finish(e);
        cep_engine_free(e);
        return;
    }
    cep_stats st;
    cep_engine_stats(e, &st);
    /* What was restored must snapshot and restore again. */
    buf b = {0};
    if (cep_engine_snapshot(e, buf_add, &b) != CEP_OK) __builtin_trap();
    cep_engine *e2 = new_engine();
    if (cep_engine_restore(e2, b.p, b.len) != CEP_OK) __builtin_trap();
    free(b.p);
    for (size_t i = 0; i < sizeof EVENTS / sizeof *EVENTS; i++) {
        (void)cep_engine_push_json(e, EVENTS[i], strlen(EVENTS[i]));
        (void)cep_engine_push_json(e2, EVENTS[i], strlen(EVENTS[i]));
    }
    (void)cep_engine_advance_watermark(e, INT64_MAX / 2);
    cep_engine_finish(e);
    cep_engine_stats(e, &st);
    cep_engine_free(e);
    cep_engine_free(e2); /* freed unfinished: holds partial matches */
}

#ifdef SNAPSHOT_SEEDS
/* Seed payloads: snapshots of random streams taken at random points. */
static uint64_t rng = 88172645463325252ull;
static unsigned next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    setup();
    const char *types = "abcz";
    int written = 0;
    for (int stream = 0; stream < 12; stream++) {
        cep_engine *e = new_engine();
        cep_engine_set_max_delay(e, stream % 3 ? 4 : 0);
        int n = 5 + (int)(next_rand() % 40), cut = (int)(next_rand() % (unsigned)n);
        for (int i = 0; i < n; i++) {
            char line[160];
            int ts = i * 3 + (int)(next_rand() % 7);
            snprintf(line, sizeof line,
                     "{\"ts\":%d,\"k\":%u,\"t\":\"%c\",\"v\":%u,\"s\":\"%s\",\"flag\":%s,\"f\":%u.5}",
                     ts, next_rand() % 3, types[next_rand() % 4], next_rand() % 5,
                     next_rand() % 2 ? "x" : "y", next_rand() % 2 ? "true" : "false", next_rand() % 3);
            cep_engine_push_json(e, line, strlen(line));
            if (i != cut && i != n - 1) continue;
            buf b = {0};
            if (cep_engine_snapshot(e, buf_add, &b) != CEP_OK || b.len < 40) return 1;
            char path[4096];
            snprintf(path, sizeof path, "%s/snap_%d_%d", argv[1], stream, i);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(b.p + 24, 1, b.len - 40, f) != b.len - 40 || fclose(f)) return 1;
            free(b.p);
            written++;
        }
        if (stream % 4 == 3) {
            /* And once finished. */
            cep_engine_finish(e);
            buf b = {0};
            if (cep_engine_snapshot(e, buf_add, &b) != CEP_OK) return 1;
            char path[4096];
            snprintf(path, sizeof path, "%s/snap_%d_end", argv[1], stream);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(b.p + 24, 1, b.len - 40, f) != b.len - 40 || fclose(f)) return 1;
            free(b.p);
            written++;
        }
        cep_engine_free(e);
    }
    cep_program_free(prog);
    fprintf(stderr, "snapshot seeds: %d\n", written);
    return 0;
}
#endif
