/* test_snapshot.c — snapshots: a run cut anywhere, snapshotted and restored
 * into a new engine, gives exactly the output of the uninterrupted run;
 * corrupted, truncated and foreign snapshots each give their own error. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cepheus.h"
#include "crc32c.h"
#include "suites.h"

/* Every construct the engine keeps state for: windows, held matches,
 * loops, negation, pending completion, buffered events. */
static const char *PROGRAM =
    "pattern seq key k begin a where t == \"a\" followedBy b+ where t == \"b\" and v >= b.v "
    "followedBy c where t == \"c\" within 40ms skip pastLastEvent\n"
    "pattern neg key k begin a where t == \"a\" notFollowedBy n where t == \"c\" within 15ms\n"
    "pattern any begin x where t == \"b\" followedByAny y where t == \"c\" and v > x.v within 30ms\n"
    "pattern gap key k begin a where t == \"a\" next within 5ms b? where t == \"b\" followedBy c where t == \"c\"\n";

typedef struct out {
    char *text;
    size_t len, cap;
} out;

static void out_add(out *o, const char *s) {
    size_t n = strlen(s);
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->text = realloc(o->text, o->cap);
    }
    memcpy(o->text + o->len, s, n + 1);
    o->len += n;
}

static int record(void *ud, const cep_match *m) {
    char line[256];
    int n = snprintf(line, sizeof line, "%s%s k=%lld [%lld..%lld]", cep_match_is_timeout(m) ? "T " : "",
                     cep_match_pattern(m), cep_match_key_count(m) ? (long long)cep_match_key(m, 0).u.i : -1LL,
                     (long long)cep_match_start(m), (long long)cep_match_end(m));
    for (size_t s = 0; s < cep_match_step_count(m); s++)
        for (size_t i = 0; i < cep_match_event_count(m, s); i++)
            n += snprintf(line + n, sizeof line - (size_t)n, " %s@%lld", cep_match_step_name(m, s),
                          (long long)cep_event_time(cep_match_event(m, s, i)));
    out_add(ud, line);
    out_add(ud, "\n");
    return 0;
}

static int late(void *ud, const cep_event *ev) {
    char line[64];
    snprintf(line, sizeof line, "late %lld\n", (long long)cep_event_time(ev));
    out_add(ud, line);
    return 0;
}

static cep_engine *engine(const cep_program *p, out *o) {
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    cep_engine_on_match(e, record, o);
    cep_engine_on_timeout(e, record, o);
    cep_engine_on_late(e, late, o);
    return e;
}

static int collect(void *ud, const void *buf, size_t len) {
    out *o = ud;
    if (o->len + len + 1 > o->cap) {
        o->cap = (o->len + len + 1) * 2;
        o->text = realloc(o->text, o->cap);
    }
    memcpy(o->text + o->len, buf, len);
    o->len += len;
    return 0;
}

static uint64_t rng;
static unsigned next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

/* Random stream: three keys, four types, times jittered by up to 6 ms. */
static char **make_stream(int n) {
    char **lines = calloc((size_t)n, sizeof *lines);
    const char *types = "abcz";
    for (int i = 0; i < n; i++) {
        char buf[128];
        int ts = i * 3 + (int)(next_rand() % 7);
        snprintf(buf, sizeof buf, "{\"ts\":%d,\"k\":%u,\"t\":\"%c\",\"v\":%u}", ts, next_rand() % 3,
                 types[next_rand() % 4], next_rand() % 5);
        lines[i] = strdup(buf);
    }
    return lines;
}

START_TEST(round_trip_at_random_points) {
    cep_program *p = NULL;
    cep_diag *d = NULL;
    ck_assert_msg(cep_compile(NULL, PROGRAM, strlen(PROGRAM), NULL, &p, &d) == CEP_OK, "%s", cep_diag_render(d));
    cep_diag_free(d);
    uint64_t total = 0, timeouts = 0, held = 0;
    for (int trial = 0; trial < 60; trial++) {
        rng = 0x9E3779B97F4A7C15ull * (uint64_t)(trial + 1);
        int n = 40 + (int)(next_rand() % 80);
        char **lines = make_stream(n);
        int cut = (int)(next_rand() % (unsigned)(n + 1));
        int64_t delay = next_rand() % 2 ? 4 : 0;
        out full = {0}, first = {0}, snapbytes = {0};
        cep_engine *a = engine(p, &full);
        ck_assert_int_eq(cep_engine_set_max_delay(a, delay), CEP_OK);
        for (int i = 0; i < n; i++) cep_engine_push_json(a, lines[i], strlen(lines[i]));
        ck_assert_int_eq(cep_engine_finish(a), CEP_OK);
        cep_engine *b = engine(p, &first);
        ck_assert_int_eq(cep_engine_set_max_delay(b, delay), CEP_OK);
        for (int i = 0; i < cut; i++) cep_engine_push_json(b, lines[i], strlen(lines[i]));
        ck_assert_int_eq(cep_engine_snapshot(b, collect, &snapbytes), CEP_OK);
        cep_engine_free(b);
        cep_engine *c = engine(p, &first); /* C continues B's output */
        ck_assert_int_eq(cep_engine_restore(c, snapbytes.text, snapbytes.len), CEP_OK);
        for (int i = cut; i < n; i++) cep_engine_push_json(c, lines[i], strlen(lines[i]));
        ck_assert_int_eq(cep_engine_finish(c), CEP_OK);
        ck_assert_msg(full.len == first.len && memcmp(full.text, first.text, full.len) == 0,
                      "trial %d cut %d/%d:\n--- uninterrupted\n%s--- restored\n%s", trial, cut, n,
                      full.text ? full.text : "", first.text ? first.text : "");
        cep_stats sa, sc;
        cep_engine_stats(a, &sa);
        cep_engine_stats(c, &sc);
        total += sa.matches;
        timeouts += sa.timeouts;
        held += strstr(full.text ? full.text : "", "seq k=") != NULL;
        ck_assert_uint_eq(sa.events, sc.events);
        ck_assert_uint_eq(sa.matches, sc.matches);
        ck_assert_uint_eq(sc.nodes, 0);
        ck_assert_uint_eq(sc.stored_events, 0);
        cep_engine_free(a);
        cep_engine_free(c);
        for (int i = 0; i < n; i++) free(lines[i]);
        free(lines);
        free(full.text);
        free(first.text);
        free(snapbytes.text);
    }
    /* The streams exercise what a snapshot must carry. */
    ck_assert_uint_gt(total, 300);
    ck_assert_uint_gt(timeouts, 50);
    ck_assert_uint_gt(held, 10);
    cep_program_free(p);
}
END_TEST

/* Patterns the engine keeps compactly (runtime/tecs.c): a snapshot turns
 * their keys flat; the engine snapshotted and the one restored must both
 * go on exactly as the uninterrupted run (timeouts included), and the
 * counts too. */
static const char *COMPACT =
    "pattern comb key k begin a where t == \"a\" followedByAny b where t == \"b\" "
    "followedByAny c where t == \"c\" followedByAny d where v > 2 within 25ms\n"
    "pattern pair begin a where t == \"a\" followedByAny b where t != \"a\" within 12ms\n";

START_TEST(compact_round_trip) {
    cep_program *p = NULL;
    cep_diag *d = NULL;
    ck_assert_msg(cep_compile(NULL, COMPACT, strlen(COMPACT), NULL, &p, &d) == CEP_OK, "%s", cep_diag_render(d));
    cep_diag_free(d);
    char *text = NULL;
    ck_assert_int_eq(cep_program_explain(p, 0, &text), CEP_OK);
    ck_assert_ptr_nonnull(strstr(text, "partial matches: compact"));
    cep_free(text);
    uint64_t total = 0, timeouts = 0;
    for (int trial = 0; trial < 40; trial++) {
        rng = 0x2545F4914F6CDD1Dull * (uint64_t)(trial + 1);
        int n = 40 + (int)(next_rand() % 80);
        char **lines = make_stream(n);
        int cut = (int)(next_rand() % (unsigned)(n + 1));
        int64_t delay = next_rand() % 2 ? 4 : 0;
        out full = {0}, first = {0}, cont = {0}, snapbytes = {0};
        cep_engine *a = engine(p, &full), *b = engine(p, &first);
        ck_assert_int_eq(cep_engine_set_max_delay(a, delay), CEP_OK);
        ck_assert_int_eq(cep_engine_set_max_delay(b, delay), CEP_OK);
        for (int i = 0; i < n; i++) cep_engine_push_json(a, lines[i], strlen(lines[i]));
        ck_assert_int_eq(cep_engine_finish(a), CEP_OK);
        for (int i = 0; i < cut; i++) cep_engine_push_json(b, lines[i], strlen(lines[i]));
        ck_assert_int_eq(cep_engine_snapshot(b, collect, &snapbytes), CEP_OK);
        out_add(&cont, first.text ? first.text : "");
        cep_engine *c = engine(p, &cont); /* C continues B's output before the cut */
        ck_assert_int_eq(cep_engine_restore(c, snapbytes.text, snapbytes.len), CEP_OK);
        for (int i = cut; i < n; i++) {
            cep_engine_push_json(b, lines[i], strlen(lines[i]));
            cep_engine_push_json(c, lines[i], strlen(lines[i]));
        }
        ck_assert_int_eq(cep_engine_finish(b), CEP_OK);
        ck_assert_int_eq(cep_engine_finish(c), CEP_OK);
        ck_assert_msg(full.len == first.len && memcmp(full.text, first.text, full.len) == 0,
                      "trial %d cut %d/%d, snapshotted engine:\n--- uninterrupted\n%s--- after\n%s", trial, cut, n,
                      full.text ? full.text : "", first.text ? first.text : "");
        ck_assert_msg(full.len == cont.len && memcmp(full.text, cont.text, full.len) == 0,
                      "trial %d cut %d/%d, restored:\n--- uninterrupted\n%s--- restored\n%s", trial, cut, n,
                      full.text ? full.text : "", cont.text ? cont.text : "");
        cep_stats sa, sb, sc;
        cep_engine_stats(a, &sa);
        cep_engine_stats(b, &sb);
        cep_engine_stats(c, &sc);
        ck_assert_uint_eq(sa.matches, sb.matches);
        ck_assert_uint_eq(sa.timeouts, sb.timeouts);
        ck_assert_uint_eq(sa.peak_partial_matches, sb.peak_partial_matches);
        ck_assert_uint_eq(sa.partial_matches, 0);
        ck_assert_uint_eq(sb.partial_matches, 0);
        ck_assert_uint_eq(sc.partial_matches, 0);
        ck_assert_uint_eq(sa.stored_events, 0);
        ck_assert_uint_eq(sb.stored_events, 0);
        ck_assert_uint_eq(sb.nodes, 0);
        total += sa.matches;
        timeouts += sa.timeouts;
        cep_engine_free(a);
        cep_engine_free(b);
        cep_engine_free(c);
        for (int i = 0; i < n; i++) free(lines[i]);
        free(lines);
        free(full.text);
        free(first.text);
        free(cont.text);
        free(snapbytes.text);
    }
    ck_assert_uint_gt(total, 300);
    ck_assert_uint_gt(timeouts, 300);
    cep_program_free(p);
}
END_TEST

START_TEST(bad_snapshots) {
    cep_program *p = NULL, *q = NULL;
    ck_assert_int_eq(cep_compile(NULL, PROGRAM, strlen(PROGRAM), NULL, &p, NULL), CEP_OK);
    const char *other = "pattern x begin a where t == \"a\"\n";
    ck_assert_int_eq(cep_compile(NULL, other, strlen(other), NULL, &q, NULL), CEP_OK);
    ck_assert(cep_program_fingerprint(p) != cep_program_fingerprint(q));
    out o = {0}, bytes = {0};
    cep_engine *e = engine(p, &o);
    rng = 42;
    char **lines = make_stream(50);
    for (int i = 0; i < 50; i++) cep_engine_push_json(e, lines[i], strlen(lines[i]));
    ck_assert_int_eq(cep_engine_snapshot(e, collect, &bytes), CEP_OK);
    cep_engine_free(e);

    cep_engine *f = engine(p, &o);
    ck_assert_int_eq(cep_engine_restore(f, "not a snapshot at all, clearly", 30), CEP_EFORMAT);
    ck_assert_int_eq(cep_engine_restore(f, bytes.text, bytes.len / 2), CEP_ETRUNCATED);
    ck_assert_int_eq(cep_engine_restore(f, bytes.text, 20), CEP_ETRUNCATED);
    bytes.text[bytes.len / 2] ^= 0x40;
    ck_assert_int_eq(cep_engine_restore(f, bytes.text, bytes.len), CEP_ECORRUPT);
    bytes.text[bytes.len / 2] ^= 0x40;
    cep_engine *g = engine(q, &o);
    ck_assert_int_eq(cep_engine_restore(g, bytes.text, bytes.len), CEP_EPROGRAM);
    cep_engine_free(g);
    /* After the failures f is still empty and takes the good snapshot. */
    ck_assert_int_eq(cep_engine_restore(f, bytes.text, bytes.len), CEP_OK);
    ck_assert_int_eq(cep_engine_restore(f, bytes.text, bytes.len), CEP_EINVAL); /* not new */
    ck_assert_int_eq(cep_engine_finish(f), CEP_OK);
    cep_engine_free(f);
    for (int i = 0; i < 50; i++) free(lines[i]);
    free(lines);
    free(o.text);
    free(bytes.text);
    cep_program_free(p);
    cep_program_free(q);
}
END_TEST

/* Every counter of what happened to the stream survives a snapshot:
 * mem_released and regex_errors were not kept (a restored run's --stats
 * and --metrics said 0), now they are (format 2). A format-1 snapshot
 * (without them) still restores, with those two at 0. */
START_TEST(counters_kept) {
    const char *src = "pattern p key k begin a where t == \"a\" next b where t == \"b\"\n"
                      "pattern r begin a where s =~ /^(a+)+$/\n";
    cep_program *p = NULL;
    ck_assert_int_eq(cep_compile(NULL, src, strlen(src), NULL, &p, NULL), CEP_OK);
    out o = {0}, bytes = {0};
    cep_engine *e = engine(p, &o);
    ck_assert_int_eq(cep_engine_set_max_delay(e, 1000000000), CEP_OK);
    ck_assert_int_eq(cep_engine_set_memory_limit(e, 16384, CEP_LIMIT_DROP_OLDEST), CEP_OK);
    char line[160];
    for (int i = 0; i < 2000; i++) {
        snprintf(line, sizeof line, "{\"ts\":%d,\"k\":%d,\"t\":\"%s\",\"s\":\"%s\"}", i, i % 7, i % 2 ? "b" : "a",
                 i == 5 ? "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab" : "x");
        ck_assert_int_eq(cep_engine_push_json(e, line, strlen(line)), CEP_OK);
    }
    cep_stats a, b;
    cep_engine_stats(e, &a);
    ck_assert_uint_gt(a.mem_released, 1000);
    ck_assert_uint_gt(a.regex_errors, 0);
    ck_assert_int_eq(cep_engine_snapshot(e, collect, &bytes), CEP_OK);
    cep_engine_free(e);

    cep_engine *f = engine(p, &o);
    ck_assert_int_eq(cep_engine_restore(f, bytes.text, bytes.len), CEP_OK);
    cep_engine_stats(f, &b);
    ck_assert_uint_eq(b.mem_released, a.mem_released);
    ck_assert_uint_eq(b.regex_errors, a.regex_errors);
    ck_assert_uint_eq(b.events, a.events);
    cep_engine_free(f);

    /* Format 1 (one engine, no key groups, 9 counters): the header with
     * version 1, the 42 bytes of engine fields, the first 9 counters (after
     * the engine count, in format 2), then empty events, buffer, nodes and
     * keys. The counters restore, the two that format 1 lacks start at 0. */
    size_t body = 24 + 42 + 9 * 8 + 4 * 4;
    unsigned char *v1 = calloc(1, body + 16);
    memcpy(v1, bytes.text, 24 + 42);
    v1[8] = 1;
    memset(v1 + 12, 0, 4); /* format 2's key-group count: reserved in 1 */
    memcpy(v1 + 24 + 42, bytes.text + 24 + 42 + 4, 9 * 8);
    for (int i = 0; i < 8; i++) v1[body + i] = (unsigned char)((uint64_t)body >> (8 * i));
    uint32_t crc = util_crc32c(0, v1, body + 8);
    for (int i = 0; i < 4; i++) v1[body + 8 + i] = (unsigned char)(crc >> (8 * i));
    memcpy(v1 + body + 12, "CEP.", 4);
    cep_engine *g = engine(p, &o);
    ck_assert_int_eq(cep_engine_restore(g, v1, body + 16), CEP_OK);
    cep_engine_stats(g, &b);
    ck_assert_uint_eq(b.mem_released, 0);
    ck_assert_uint_eq(b.regex_errors, 0);
    ck_assert_uint_eq(b.events, a.events);
    ck_assert_uint_eq(b.matches, a.matches);
    ck_assert_uint_eq(b.buffered, 0);
    cep_engine_free(g);
    v1[8] = 3; /* no such version */
    cep_engine *h = engine(p, &o);
    ck_assert_int_eq(cep_engine_restore(h, v1, body + 16), CEP_EFORMAT);
    cep_engine_free(h);
    free(v1);
    free(o.text);
    free(bytes.text);
    cep_program_free(p);
}
END_TEST

/* Regression (found by tests/fuzz/fuzz_snapshot.c): a snapshot with a
 * valid checksum but a negative max_delay (cep_engine_set_max_delay refuses
 * one) was accepted, and the next push overflowed a signed int64 computing
 * the watermark; the failed restore also left the snapshot's delay in place
 * of the caller's. Now it is CEP_ECORRUPT and the engine keeps its delay. */
START_TEST(negative_max_delay) {
    cep_program *p = NULL;
    ck_assert_int_eq(cep_compile(NULL, PROGRAM, strlen(PROGRAM), NULL, &p, NULL), CEP_OK);
    out o = {0}, bytes = {0};
    cep_engine *e = engine(p, &o);
    ck_assert_int_eq(cep_engine_snapshot(e, collect, &bytes), CEP_OK);
    cep_engine_free(e);
    /* max_delay is the first field after the 24-byte header; reseal the CRC
     * (over everything but the last 8 bytes). */
    ck_assert_uint_ge(bytes.len, 40);
    unsigned char *b = (unsigned char *)bytes.text;
    for (int i = 0; i < 8; i++) b[24 + i] = 0xff; /* -1 */
    uint32_t crc = util_crc32c(0, b, bytes.len - 8);
    for (int i = 0; i < 4; i++) b[bytes.len - 8 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    cep_engine *f = engine(p, &o);
    ck_assert_int_eq(cep_engine_set_max_delay(f, 10), CEP_OK);
    ck_assert_int_eq(cep_engine_restore(f, bytes.text, bytes.len), CEP_ECORRUPT);
    /* Still the caller's delay of 10: an event 5 ms back is not late. */
    const char *ev1 = "{\"ts\":100,\"k\":1,\"t\":\"a\",\"v\":1}";
    const char *ev2 = "{\"ts\":95,\"k\":1,\"t\":\"b\",\"v\":1}";
    ck_assert_int_eq(cep_engine_push_json(f, ev1, strlen(ev1)), CEP_OK);
    ck_assert_int_eq(cep_engine_push_json(f, ev2, strlen(ev2)), CEP_OK);
    cep_stats st;
    cep_engine_stats(f, &st);
    ck_assert_uint_eq(st.late, 0);
    ck_assert_int_eq(cep_engine_finish(f), CEP_OK);
    cep_engine_free(f);
    free(o.text);
    free(bytes.text);
    cep_program_free(p);
}
END_TEST

/* Regression (found by tests/fuzz/fuzz_snapshot.c): a key whose encoded
 * bytes name another pattern than the one it is stored under was accepted;
 * events of that other pattern then found the key and ran its states over
 * this pattern's partial matches (a heap read out of bounds in
 * pm_deadline). Now it is CEP_ECORRUPT. */
START_TEST(key_of_another_pattern) {
    const char *text = "pattern a begin x where t == \"a\" followedBy y where t == \"b\" within 1h\n"
                       "pattern b begin x where t == \"z\"\n";
    cep_program *p = NULL;
    ck_assert_int_eq(cep_compile(NULL, text, strlen(text), NULL, &p, NULL), CEP_OK);
    out o = {0}, bytes = {0};
    cep_engine *e = engine(p, &o);
    const char *ev = "{\"ts\":1,\"t\":\"a\"}";
    ck_assert_int_eq(cep_engine_push_json(e, ev, strlen(ev)), CEP_OK);
    ck_assert_int_eq(cep_engine_snapshot(e, collect, &bytes), CEP_OK);
    cep_engine_free(e);
    /* The one key (of pattern a, keyless: its encoding is the pattern
     * number alone) ends the payload: key bytes (4), one partial match
     * (count 4 + 32), no held match (count 4), then the 16-byte trailer. */
    unsigned char *b = (unsigned char *)bytes.text;
    size_t at = bytes.len - 16 - 4 - 36 - 4;
    uint32_t pi = 0;
    ck_assert(memcmp(b + at, &pi, 4) == 0);
    pi = 1;
    memcpy(b + at, &pi, 4);
    uint32_t crc = util_crc32c(0, b, bytes.len - 8);
    for (int i = 0; i < 4; i++) b[bytes.len - 8 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    cep_engine *f = engine(p, &o);
    ck_assert_int_eq(cep_engine_restore(f, bytes.text, bytes.len), CEP_ECORRUPT);
    const char *ev2 = "{\"ts\":2,\"t\":\"z\"}";
    ck_assert_int_eq(cep_engine_push_json(f, ev2, strlen(ev2)), CEP_OK);
    ck_assert_int_eq(cep_engine_finish(f), CEP_OK);
    cep_engine_free(f);
    free(o.text);
    free(bytes.text);
    cep_program_free(p);
}
END_TEST

/* Regression (found by tests/fuzz/fuzz_snapshot.c): the buffered-event list
 * naming one event twice was accepted, a state no engine reaches; the
 * engine's own next snapshot then stored the event once but listed it
 * twice, and that snapshot did not restore. Now it is CEP_ECORRUPT. */
START_TEST(event_buffered_twice) {
    cep_program *p = NULL;
    ck_assert_int_eq(cep_compile(NULL, PROGRAM, strlen(PROGRAM), NULL, &p, NULL), CEP_OK);
    out o = {0}, bytes = {0};
    cep_engine *e = engine(p, &o);
    ck_assert_int_eq(cep_engine_set_max_delay(e, 1000), CEP_OK);
    const char *ev = "{\"ts\":1,\"k\":1,\"t\":\"a\",\"v\":1}";
    ck_assert_int_eq(cep_engine_push_json(e, ev, strlen(ev)), CEP_OK);
    ck_assert_int_eq(cep_engine_snapshot(e, collect, &bytes), CEP_OK);
    cep_engine_free(e);
    /* One buffered event and nothing else: after the header (24 bytes)
     * and the stream figures (134), buffered count 1 and the event, then
     * group count 0. Write the event twice and rewrite the trailer. */
    size_t body = bytes.len - 16, at = 24 + 134, evlen = body - 4 - (at + 4);
    size_t n = bytes.len + evlen;
    unsigned char *b = malloc(n);
    memcpy(b, bytes.text, body);
    ck_assert(memcmp(b + at, (const unsigned char[4]){1, 0, 0, 0}, 4) == 0);
    b[at] = 2;
    memcpy(b + at + 4 + evlen, bytes.text + at + 4, evlen);
    memset(b + at + 4 + 2 * evlen, 0, 4);
    body += evlen;
    for (int i = 0; i < 8; i++) b[body + (size_t)i] = (unsigned char)((uint64_t)body >> (8 * i));
    uint32_t crc = util_crc32c(0, b, body + 8);
    for (int i = 0; i < 4; i++) b[body + 8 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    memcpy(b + body + 12, "CEP.", 4);
    cep_engine *f = engine(p, &o);
    ck_assert_int_eq(cep_engine_restore(f, b, n), CEP_ECORRUPT);
    /* The unmodified snapshot still restores into the emptied engine. */
    ck_assert_int_eq(cep_engine_restore(f, bytes.text, bytes.len), CEP_OK);
    cep_stats st;
    cep_engine_stats(f, &st);
    ck_assert_uint_eq(st.buffered, 1);
    cep_engine_free(f);
    free(b);
    free(o.text);
    free(bytes.text);
    cep_program_free(p);
}
END_TEST

/* Changing the program mid-stream: a pattern kept unchanged (here written
 * differently and with other slots) gives exactly the output of a run that
 * never changed; a removed one stops; a new one starts empty. */
static int record_x(void *ud, const cep_match *m) {
    if (strcmp(cep_match_pattern(m), "x") == 0) return record(ud, m);
    return 0;
}

START_TEST(replace_program_mid_stream) {
    const char *p1 = "pattern x key k begin a where t == \"a\" followedBy b+ where t == \"b\" "
                     "followedBy c where t == \"c\" within 30ms skip pastLastEvent\n"
                     "pattern y key k begin a where t == \"c\" next b where t == \"a\"\n";
    const char *p2 = "pattern z key k begin q where v > 3 followedBy r where v < 1\n"
                     "pattern x\n  key k\n  begin a where t == \"a\"\n  followedBy b+ where t == \"b\"\n"
                     "  followedBy c where t == \"c\"   # the same x, laid out differently\n"
                     "  within 30ms\n  skip pastLastEvent\n";
    cep_program *a = NULL, *b = NULL;
    ck_assert_int_eq(cep_compile(NULL, p1, strlen(p1), NULL, &a, NULL), CEP_OK);
    ck_assert_int_eq(cep_compile(NULL, p2, strlen(p2), NULL, &b, NULL), CEP_OK);
    ck_assert_int_ne(cep_program_field_slot(a, "t"), cep_program_field_slot(b, "t"));
    int zs = 0;
    for (int trial = 0; trial < 30; trial++) {
        rng = 0xC0FFEEull * (uint64_t)(trial + 3);
        int n = 60 + (int)(next_rand() % 60);
        char **lines = make_stream(n);
        int cut = (int)(next_rand() % (unsigned)n);
        out whole = {0}, changed = {0};
        cep_engine *e1 = NULL, *e2 = NULL;
        ck_assert_int_eq(cep_engine_new(a, &e1), CEP_OK);
        ck_assert_int_eq(cep_engine_new(a, &e2), CEP_OK);
        cep_engine_set_max_delay(e1, 4);
        cep_engine_set_max_delay(e2, 4);
        cep_engine_on_match(e1, record_x, &whole);
        cep_engine_on_match(e2, record_x, &changed);
        for (int i = 0; i < n; i++) cep_engine_push_json(e1, lines[i], strlen(lines[i]));
        cep_engine_finish(e1);
        for (int i = 0; i < cut; i++) cep_engine_push_json(e2, lines[i], strlen(lines[i]));
        ck_assert_int_eq(cep_engine_replace_program(e2, b), CEP_OK);
        for (int i = cut; i < n; i++) cep_engine_push_json(e2, lines[i], strlen(lines[i]));
        cep_engine_finish(e2);
        ck_assert_msg(whole.len == changed.len && (!whole.len || !memcmp(whole.text, changed.text, whole.len)),
                      "trial %d cut %d:\n--- unchanged\n%s--- changed\n%s", trial, cut,
                      whole.text ? whole.text : "", changed.text ? changed.text : "");
        cep_stats st;
        cep_engine_stats(e2, &st);
        ck_assert_uint_eq(st.nodes, 0);
        ck_assert_uint_eq(st.stored_events, 0);
        zs += st.matches > 0;
        cep_engine_free(e1);
        cep_engine_free(e2);
        for (int i = 0; i < n; i++) free(lines[i]);
        free(lines);
        free(whole.text);
        free(changed.text);
    }
    ck_assert_int_gt(zs, 0);
    cep_program_free(a);
    cep_program_free(b);
}
END_TEST

/* Key groups across a program change (runtime/keys.c): x alone in its
 * key group, then keyed like two other patterns, then alone again; its
 * partial matches move from the direct key map into a group's key entries
 * and back, and its matches stay those of a run that never changed. */
START_TEST(replace_program_key_groups) {
    const char *xs = "pattern x key k begin a where t == \"a\" followedBy b+ where t == \"b\" "
                     "followedBy c where t == \"c\" within 30ms\n";
    char p2[1024];
    snprintf(p2, sizeof p2, "pattern w key k begin a where t == \"b\" followedBy b where t == \"c\"\n%s"
             "pattern y key k begin a where t == \"c\" followedBy b where t == \"a\"\n", xs);
    cep_program *a = NULL, *b = NULL;
    ck_assert_int_eq(cep_compile(NULL, xs, strlen(xs), NULL, &a, NULL), CEP_OK);
    ck_assert_int_eq(cep_compile(NULL, p2, strlen(p2), NULL, &b, NULL), CEP_OK);
    int compared = 0;
    for (int trial = 0; trial < 20; trial++) {
        rng = 0xBEEFull * (uint64_t)(trial + 5);
        int n = 60 + (int)(next_rand() % 60);
        char **lines = make_stream(n);
        int cut1 = (int)(next_rand() % (unsigned)n), cut2 = cut1 + (int)(next_rand() % (unsigned)(n - cut1));
        out whole = {0}, changed = {0};
        cep_engine *e1 = NULL, *e2 = NULL;
        ck_assert_int_eq(cep_engine_new(a, &e1), CEP_OK);
        ck_assert_int_eq(cep_engine_new(a, &e2), CEP_OK);
        cep_engine_on_match(e1, record_x, &whole);
        cep_engine_on_match(e2, record_x, &changed);
        for (int i = 0; i < n; i++) cep_engine_push_json(e1, lines[i], strlen(lines[i]));
        cep_engine_finish(e1);
        for (int i = 0; i < n; i++) {
            if (i == cut1) ck_assert_int_eq(cep_engine_replace_program(e2, b), CEP_OK);
            if (i == cut2) ck_assert_int_eq(cep_engine_replace_program(e2, a), CEP_OK);
            cep_engine_push_json(e2, lines[i], strlen(lines[i]));
        }
        cep_engine_finish(e2);
        ck_assert_msg(whole.len == changed.len && (!whole.len || !memcmp(whole.text, changed.text, whole.len)),
                      "trial %d cuts %d %d:\n--- unchanged\n%s--- changed\n%s", trial, cut1, cut2,
                      whole.text ? whole.text : "", changed.text ? changed.text : "");
        compared += whole.len > 0;
        cep_stats st;
        cep_engine_stats(e2, &st);
        ck_assert_uint_eq(st.nodes, 0);
        cep_engine_free(e1);
        cep_engine_free(e2);
        for (int i = 0; i < n; i++) free(lines[i]);
        free(lines);
        free(whole.text);
        free(changed.text);
    }
    ck_assert_int_gt(compared, 0);
    cep_program_free(a);
    cep_program_free(b);
}
END_TEST

Suite *snapshot_suite(void) {
    Suite *s = suite_create("snapshot");
    TCase *tc = tcase_create("snapshot");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip_at_random_points);
    tcase_add_test(tc, bad_snapshots);
    tcase_add_test(tc, compact_round_trip);
    tcase_add_test(tc, counters_kept);
    tcase_add_test(tc, negative_max_delay);
    tcase_add_test(tc, key_of_another_pattern);
    tcase_add_test(tc, event_buffered_twice);
    tcase_add_test(tc, replace_program_mid_stream);
    tcase_add_test(tc, replace_program_key_groups);
    suite_add_tcase(s, tc);
    return s;
}
