/* oom_test.c — allocation-failure loop: for N = 1, 2, ... every allocation
 * of a compile, of a run (every engine path), of an explain and of a
 * snapshot (into a buffer) restored into a new engine that then runs on, the Nth
 * allocation fails (once, then again with every later one failing too);
 * each call must return CEP_OK or CEP_ENOMEM, nothing may leak (LeakSanitizer
 * is asked after every N) and the engine must stay usable or free cleanly.
 * Built only with --enable-fault-injection; `make check-oom` builds that
 * configuration (with ASan) in oom-build/ and runs it.
 * Regressions it caught: a failed allocation inside pcre2_compile read as
 * "invalid regex: failed to allocate heap memory" (a pattern error) instead
 * of CEP_ENOMEM (nfa/regex.c: PCRE2_ERROR_HEAP_FAILED); a failed scratch
 * allocation in lower()/upper() made the condition null, losing a match
 * with CEP_OK returned (runtime/eval.c, runtime/engine.c: eval_ctx.oom).
 * Failures absorbed by design (counted, not errors): PCRE2's optional JIT
 * compile, and rendering the empty diagnostics of a clean compile. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cepheus.h"
#include "mem.h"
#include "pool.h"

#ifndef CEP_FAULT_INJECTION
int main(void) {
    puts("oom: skipped (configure --enable-fault-injection)");
    return 77;
}
#else

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

static int failures;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            printf("oom: FAIL %s:%d: ", __FILE__, __LINE__);                 \
            printf(__VA_ARGS__);                                             \
            putchar('\n');                                                   \
            failures++;                                                      \
        }                                                                    \
    } while (0)

/* Every construct of the language, across several patterns of one file. */
static const char PATTERNS[] =
    "# comment\n"
    "pattern click key user, region\n"
    "  begin click where type == \"click\" and item =~ /^i[0-9]+$/i and lower(user) != \"x\"\n"
    "  followedBy buy where type == \"buy\" and item == click.item and contains(item, \"i\")\n"
    "  within 10s\n"
    "  skip pastLastEvent\n"
    "  emit user = click.user, item = upper(click.item), waited = buy.ts - click.ts,\n"
    "       n = len(buy.item), a = abs(-3), s = startsWith(buy.item, \"i\"), e = exists(buy.price)\n"
    "pattern fan key user\n"
    "  begin a where type == \"click\"\n"
    "  followedByAny b+ where price > 0 and sum(b.price) < 1000 allowCombinations\n"
    "  followedBy c where type == \"buy\"\n"
    "  within 1m\n"
    "  skip noSkip\n"
    "pattern loops key user\n"
    "  begin a{2,3} where type in (\"view\", \"click\") consecutive greedy\n"
    "  next b+ where price >= avg(a.price) or price == null until type == \"stop\"\n"
    "  followedBy (c where type == \"buy\" next d? where type == \"view\"){1,2}\n"
    "  notFollowedBy x where type == \"cancel\"\n"
    "  followedBy e where type == \"done\" and count(a) > 0 and min(a.ts) <= max(a.ts)\n"
    "  within 30s\n"
    "  skip toFirst a\n"
    "pattern neg key user\n"
    "  begin a where type == \"view\"\n"
    "  notNext b where type == \"view\"\n"
    "  followedBy within 5s c where type == \"click\" and a[0].price * 2 / 1 % 7 >= 0\n"
    "  notFollowedBy z where type == \"cancel\"\n"
    "  within 20s\n"
    "  skip toLast c\n"
    "pattern nested key ctx.`user-id`\n"
    "  begin a where ctx.geo.lat > 0 and `risk-score` != null\n"
    "  followedBy b where ctx.geo.lat > a.ctx.geo.lat and sum(a.ctx.geo.lat) > 0\n"
    "  within 5s\n"
    "  emit u = a.ctx.`user-id`, t = b.ts - a.ts\n"
    "pattern comb key user\n" /* kept compactly (runtime/tecs.c) when no limit is set */
    "  begin a where type == \"view\"\n"
    "  followedByAny b where type == \"view\"\n"
    "  followedByAny c where type == \"buy\" or type == \"done\"\n"
    "  within 5s\n"
    "pattern tail\n"
    "  begin a where type == \"buy\" and not (price < 0)\n"
    "  notFollowedBy r where type == \"refund\"\n"
    "  within 2s\n"
    "  skip toNext\n"
    "pattern thresholds key user\n" /* routed, its gates decided by sorted thresholds */
    "  begin a where type == \"click\" and price >= 1 and item == \"i1\"\n"
    "  followedBy b where type == \"buy\" and price < 10.5\n"
    "  within 5s\n";

/* Events through every path: in order and out of order (buffered under
 * max-delay), late, matches, timeouts, the partial-match limit, malformed
 * lines of each kind, RFC 3339 times, and a watermark moved by hand. */
static const char *const EVENTS[] = {
    "{\"ts\":1000,\"user\":\"u1\",\"region\":\"eu\",\"type\":\"click\",\"item\":\"i1\",\"price\":5}",
    "{\"ts\":1001,\"user\":\"u1\",\"region\":\"eu\",\"type\":\"view\",\"item\":\"i1\",\"price\":7}",
    "{\"ts\":1003,\"user\":\"u2\",\"region\":\"us\",\"type\":\"view\",\"price\":1.5}",
    "{\"ts\":1002,\"user\":\"u1\",\"region\":\"eu\",\"type\":\"view\",\"item\":\"i2\",\"price\":9}",
    "{\"ts\":\"1970-01-01T00:00:01.004Z\",\"user\":\"u2\",\"type\":\"click\",\"item\":\"i9\",\"price\":2}",
    "{\"ts\":1005,\"user\":\"u1\",\"region\":\"eu\",\"type\":\"view\",\"item\":\"i3\",\"price\":1}",
    "{\"ts\":1006,\"user\":\"u1\",\"region\":\"eu\",\"type\":\"view\",\"item\":\"i3\",\"price\":2}",
    "{\"ts\":1007,\"user\":\"u1\",\"region\":\"eu\",\"type\":\"view\",\"item\":\"i3\",\"price\":3}",
    "not json",
    "[1,2,3]",
    "{\"user\":\"u1\"}",
    "{\"ts\":1.5e400,\"user\":\"u1\"}",
    "{\"ts\":1008,\"deep\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    "{\"ts\":1009,\"user\":\"u1\",\"region\":\"eu\",\"type\":\"buy\",\"item\":\"i1\",\"price\":4}",
    "{\"ts\":1009,\"ctx\":{\"user-id\":\"n1\",\"geo\":{\"lat\":1.5}},\"risk-score\":1}",
    "{\"ts\":1010,\"ctx\":{\"user-id\":\"n1\",\"geo\":{\"lat\":2.5,\"lon\":[1]}}}",
    "{\"ts\":1010,\"user\":\"u2\",\"region\":\"us\",\"type\":\"buy\",\"item\":\"i9\",\"price\":3}",
    "{\"ts\":1011,\"user\":\"u1\",\"region\":\"eu\",\"type\":\"view\",\"item\":\"i4\"}",
    "{\"ts\":1012,\"user\":\"u1\",\"region\":\"eu\",\"type\":\"done\"}",
    "{\"ts\":5,\"user\":\"u3\",\"type\":\"click\",\"item\":\"i1\"}", /* late */
    "{\"ts\":2000,\"user\":\"u3\",\"type\":\"click\",\"item\":\"i5\",\"price\":1}",
    "{\"ts\":2001,\"user\":\"u3\",\"type\":\"view\",\"price\":1}",
    "{\"ts\":2002,\"user\":\"u3\",\"type\":\"view\",\"price\":1}",
    "{\"ts\":2003,\"user\":\"u3\",\"type\":\"view\",\"price\":1}",
    "{\"ts\":2004,\"user\":\"u3\",\"type\":\"view\",\"price\":1}",
    "{\"ts\":2005,\"user\":\"u3\",\"type\":\"buy\",\"item\":\"i5\",\"price\":1}",
    "!watermark 2100",
    "{\"ts\":2200,\"user\":\"u4\",\"type\":\"buy\",\"price\":3}",
    "{\"ts\":2300,\"user\":\"u4\",\"type\":\"refund\"}",
    "{\"ts\":3000,\"user\":\"u5\",\"type\":\"buy\",\"price\":3}",
    "{\"ts\":40000,\"user\":\"u6\",\"type\":\"view\",\"price\":3}",
    "{\"ts\":40001,\"user\":\"u6\",\"type\":\"stop\"}",
};
#define NEVENTS (sizeof EVENTS / sizeof EVENTS[0])

typedef struct sink {
    unsigned long matches, late, timeouts, ttl_dropped;
    cep_engine *fwd; /* a match's events are pushed on into it (stored events, lent as views) */
    int fwd_oom;
    unsigned long fwd_matches;
} sink;

/* Read everything a match offers, as a client would. */
static void touch_match(const cep_match *m) {
    (void)cep_match_pattern(m);
    for (size_t i = 0; i < cep_match_key_count(m); i++) (void)cep_match_key(m, i);
    for (size_t s = 0; s < cep_match_step_count(m); s++) {
        (void)cep_match_step_name(m, s);
        for (size_t i = 0; i < cep_match_event_count(m, s); i++) {
            size_t n;
            (void)cep_event_raw(cep_match_event(m, s, i), &n);
        }
    }
    for (size_t f = 0; f < cep_match_field_count(m); f++) (void)cep_match_field(m, f);
}

static int on_match(void *ud, const cep_match *m) {
    sink *s = ud;
    s->matches++;
    touch_match(m);
    for (size_t st = 0; s->fwd && st < cep_match_step_count(m); st++)
        for (size_t i = 0; i < cep_match_event_count(m, st); i++) {
            int rc = cep_engine_push(s->fwd, cep_match_event(m, st, i));
            if (rc == CEP_ENOMEM) s->fwd_oom = 1;
            else CHECK(rc == CEP_OK || rc == CEP_ELIMIT, "forwarded push returned %s", cep_strerror(rc));
        }
    return 0;
}
static int on_fwd_match(void *ud, const cep_match *m) {
    ((sink *)ud)->fwd_matches++;
    touch_match(m);
    return 0;
}
static int on_timeout(void *ud, const cep_match *m) {
    ((sink *)ud)->timeouts++;
    touch_match(m);
    return 0;
}
static int on_late(void *ud, const cep_event *ev) {
    ((sink *)ud)->late++;
    (void)cep_event_time(ev);
    return 0;
}

static int is_event_error(int rc) {
    return rc == CEP_EJSON || rc == CEP_ENOTOBJECT || rc == CEP_ETIME ||
           rc == CEP_ERANGE || rc == CEP_ETOODEEP;
}

/* Counts of what the failing calls returned, for the report. */
typedef struct tally {
    unsigned long points;     /* values of N tried */
    unsigned long enomem;     /* a call returned CEP_ENOMEM */
    unsigned long absorbed;   /* the failure left no trace in return codes */
} tally;

/* One compile (plus explain). Returns 1 if some call reported ENOMEM. */
static int scenario_compile(int *bad) {
    cep_program *p = NULL;
    cep_diag *d = NULL;
    int seen = 0;
    int rc = cep_compile(NULL, PATTERNS, sizeof PATTERNS - 1, "oom", &p, &d);
    if (rc == CEP_ENOMEM) {
        seen = 1;
        CHECK(p == NULL, "compile: ENOMEM with a program");
    } else if (rc != CEP_OK) {
        /* A failed allocation must never look like a pattern error. */
        CHECK(0, "compile returned %s: %s", cep_strerror(rc), d ? cep_diag_render(d) : "");
        *bad = 1;
    }
    if (p) {
        for (int dot = 0; dot <= 1; dot++) {
            char *text = NULL;
            rc = cep_program_explain(p, dot, &text);
            if (rc == CEP_ENOMEM) seen = 1;
            else CHECK(rc == CEP_OK, "explain returned %s", cep_strerror(rc));
            cep_free(text);
        }
    }
    cep_program_free(p);
    cep_diag_free(d);
    /* Warnings (cep_lint) and the layout (cep_format): OK or ENOMEM, and
     * the same text as without failures. */
    static const char LINT[] = "pattern w begin a where x > 2 and x < 1\n"
                               "  followedByAny b where s =~ /^(a+)+$/ followedByAny c where s =~ /^(a+)+$/\n";
    static const char *const LAYOUT[] = {PATTERNS, LINT};
    static char *layout_ref[2];
    rc = cep_lint(NULL, LINT, sizeof LINT - 1, "oom", &d);
    if (rc == CEP_ENOMEM) seen = 1;
    else {
        CHECK(rc == CEP_OK && cep_diag_count(d) == 7, "lint returned %s, %zu warnings", cep_strerror(rc),
              cep_diag_count(d));
        char *one = cep_diag_render_one(d, 0, 1);
        if (!one) seen = 1;
        cep_free(one);
    }
    cep_diag_free(d);
    d = NULL;
    /* The same with the program kept (cep_compile_lint). */
    p = NULL;
    rc = cep_compile_lint(NULL, LINT, sizeof LINT - 1, "oom", &p, &d);
    if (rc == CEP_ENOMEM) seen = 1;
    else
        CHECK(rc == CEP_OK && p && cep_diag_count(d) == 7, "compile_lint returned %s, %zu warnings",
              cep_strerror(rc), cep_diag_count(d));
    cep_program_free(p);
    cep_diag_free(d);
    d = NULL;
    for (int i = 0; i < 2; i++) {
        char *out = NULL;
        rc = cep_format(LAYOUT[i], strlen(LAYOUT[i]), "oom", &out, &d);
        if (rc == CEP_ENOMEM) seen = 1;
        else if (rc != CEP_OK) CHECK(0, "format returned %s: %s", cep_strerror(rc), d ? cep_diag_render(d) : "");
        else if (!layout_ref[i]) layout_ref[i] = strdup(out); /* the first run has no failures */
        else CHECK(strcmp(out, layout_ref[i]) == 0, "format gave another text under failures");
        cep_free(out);
        cep_diag_free(d);
        d = NULL;
    }
    /* A broken pattern must fail as cleanly: diagnostics allocate too. */
    static const char BROKEN[] = "pattern p begin a where x == b.x next b\npattern p begin\n"
                                 "pattern q begin click followedby b\npattern r begin click next b where clik.x == 1\n"
                                 /* the hints that read the text: a second key, a duration, an open '(' */
                                 "pattern s key u key v begin a\npattern t begin a within 1h30m\n"
                                 "pattern u begin a where count(a.x) > 1 and sum(y) > (2";
    rc = cep_compile(NULL, BROKEN, sizeof BROKEN - 1, "oom", &p, &d);
    if (rc == CEP_ENOMEM) seen = 1;
    else CHECK(rc == CEP_EPATTERN, "broken compile returned %s", cep_strerror(rc));
    if (d) (void)cep_diag_render(d);
    cep_program_free(p);
    cep_diag_free(d);
    return seen;
}

/* One run over EVENTS on prog (compiled outside the failing window).
 * limit_fail picks the partial-match policy. After an ENOMEM the run goes
 * on with the remaining events: the engine must stay usable. */
static const cep_program *prog2; /* the replacement program of S_RUN_OPTS */

/* Processing time's clock: moved by hand, 300 ms an event. */
static int64_t fake_now;
static int64_t fake_clock(void *ud) {
    (void)ud;
    return fake_now;
}

enum { RUN_PLAIN, RUN_OPTS, RUN_PROC };

static int scenario_run(const cep_program *prog, int limit_fail, int mode, sink *s, int *bad) {
    int seen = 0;
    cep_engine *e = NULL;
    cep_event *ev = NULL;
    int rc = cep_engine_new(prog, &e);
    if (rc == CEP_ENOMEM) {
        CHECK(e == NULL, "engine_new: ENOMEM with an engine");
        return 1;
    }
    CHECK(rc == CEP_OK, "engine_new returned %s", cep_strerror(rc));
    if (rc != CEP_OK) return 0;
    if ((rc = cep_engine_set_max_delay(e, 3)) == CEP_ENOMEM) seen = 1;
    /* (Processing time runs without the limit, so that "comb" is compact.) */
    if (mode != RUN_PROC && (rc = cep_engine_set_max_partial_matches(e, 3, limit_fail)) == CEP_ENOMEM) seen = 1;
    if ((rc = cep_engine_set_time_field(e, "ts")) == CEP_ENOMEM) seen = 1;
    if (mode == RUN_PROC) {
        fake_now = 1000;
        if (cep_engine_set_time_mode(e, CEP_TIME_PROCESSING) == CEP_ENOMEM) seen = 1;
        if (cep_engine_set_clock(e, fake_clock, NULL) == CEP_ENOMEM) seen = 1;
    }
    if (mode == RUN_OPTS) {
        /* The optional bookkeeping: a memory budget, lateness, state TTL. */
        if (cep_engine_set_memory_limit(e, 1 << 20, CEP_LIMIT_DROP_OLDEST) == CEP_ENOMEM) seen = 1;
        if (cep_engine_set_allowed_lateness(e, 500) == CEP_ENOMEM) seen = 1;
        if (cep_engine_set_state_ttl(e, 20000) == CEP_ENOMEM) seen = 1;
    }
    cep_engine_on_match(e, on_match, s);
    cep_engine_on_late(e, on_late, s);
    cep_engine_on_timeout(e, on_timeout, s);
    if (mode == RUN_PLAIN) {
        rc = cep_engine_new(prog, &s->fwd);
        if (rc == CEP_ENOMEM) seen = 1;
        else if (cep_engine_set_max_delay(s->fwd, 100000) == CEP_ENOMEM) seen = 1;
        /* Bounded like the first engine: unbounded, "fan" and "loops" over
         * every match's events make thirty times its allocations, each
         * one more point of the loop. */
        if (s->fwd && cep_engine_set_max_partial_matches(s->fwd, 3, limit_fail) == CEP_ENOMEM) seen = 1;
        if (s->fwd) cep_engine_on_match(s->fwd, on_fwd_match, s);
    }

    for (size_t i = 0; i < NEVENTS; i++) {
        const char *line = EVENTS[i];
        fake_now += 300;
        if (mode == RUN_OPTS && i == NEVENTS / 2) {
            /* Mid-stream program swap: kept, changed and new patterns. */
            rc = cep_engine_replace_program(e, prog2);
            if (rc == CEP_ENOMEM) {
                /* Before the switch: the old program and state; half-way:
                 * the new program, every partial match lost. */
                seen = 1;
                const cep_program *now = cep_engine_program(e);
                cep_stats st;
                cep_engine_stats(e, &st);
                CHECK(now == prog || (now == prog2 && st.partial_matches == 0),
                      "failed replace_program: runs %s with %llu partial matches",
                      now == prog ? "the old program" : now == prog2 ? "the new program" : "another program",
                      (unsigned long long)st.partial_matches);
            } else {
                CHECK(rc == CEP_OK && cep_engine_program(e) == prog2, "replace_program returned %s",
                      cep_strerror(rc));
            }
        }
        if (!strncmp(line, "!watermark ", 11))
            rc = mode == RUN_PROC ? cep_engine_tick(e)
                                  : cep_engine_advance_watermark(e, strtoll(line + 11, NULL, 10));
        else
            rc = cep_engine_push_json(e, line, strlen(line));
        if (rc == CEP_ENOMEM) seen = 1;
        else if (rc != CEP_OK && !is_event_error(rc) && rc != CEP_ELIMIT) {
            CHECK(0, "event %zu returned %s", i, cep_strerror(rc));
            *bad = 1;
        }
    }
    /* A row built in C, pushed directly. */
    rc = cep_event_new(prog, &ev);
    if (rc == CEP_ENOMEM) seen = 1;
    if (ev) {
        int slot = cep_program_field_slot(prog, "type");
        int uslot = cep_program_field_slot(prog, "user");
        cep_event_set_time(ev, 50000);
        if (cep_event_set_string(ev, slot, "buy", 3) == CEP_ENOMEM) seen = 1;
        if (cep_event_set_string(ev, uslot, "u9", 2) == CEP_ENOMEM) seen = 1;
        rc = cep_engine_push(e, ev);
        if (rc == CEP_ENOMEM) seen = 1;
        else CHECK(rc == CEP_OK || rc == CEP_ELIMIT, "push returned %s", cep_strerror(rc));
        cep_event_free(ev);
    }
    rc = cep_engine_finish(e);
    if (rc == CEP_ENOMEM) seen = 1;
    else CHECK(rc == CEP_OK || rc == CEP_ELIMIT, "finish returned %s", cep_strerror(rc));
    /* Finished: further pushes are refused, not crashes. */
    rc = cep_engine_push_json(e, EVENTS[0], strlen(EVENTS[0]));
    CHECK(rc == CEP_EFINISHED || rc == CEP_ENOMEM, "push after finish returned %s", cep_strerror(rc));
    cep_stats st;
    cep_engine_stats(e, &st);
    s->ttl_dropped = (unsigned long)st.ttl_dropped;
    cep_engine_free(e);
    if (s->fwd) { /* what it buffered, matched now: decoded from its stored copies */
        rc = cep_engine_finish(s->fwd);
        if (rc == CEP_ENOMEM) seen = 1;
        else CHECK(rc == CEP_OK || rc == CEP_ELIMIT, "forward finish returned %s", cep_strerror(rc));
        cep_engine_free(s->fwd);
        s->fwd = NULL;
    }
    return seen || s->fwd_oom;
}

/* The snapshot's destination: grown through the counted allocator, so that
 * its own failures are injected too; the snapshot then says CEP_ECALLBACK. */
typedef struct obuf {
    unsigned char *p;
    size_t len, cap;
    int failed;
} obuf;

static int obuf_write(void *ud, const void *src, size_t n) {
    obuf *b = ud;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        unsigned char *p = mem_realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return 1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

/* The engine snapshotted: built outside the failing window, fed the first
 * SNAP_CUT events under max-delay, so it holds buffered events, partial
 * matches of every pattern and held-back matches. */
#define SNAP_CUT 24
static cep_engine *snap_src;
static sink snap_src_sink;
static sink snap_ref; /* what the restored engine reports without failures */
static int snap_ref_set;
static unsigned long snap_allocs, restore_allocs; /* allocations of each call */

static int make_snap_src(const cep_program *prog) {
    if (cep_engine_new(prog, &snap_src) != CEP_OK) return -1;
    cep_engine_set_max_delay(snap_src, 3);
    cep_engine_set_time_field(snap_src, "ts");
    cep_engine_on_match(snap_src, on_match, &snap_src_sink);
    cep_engine_on_late(snap_src, on_late, &snap_src_sink);
    cep_engine_on_timeout(snap_src, on_timeout, &snap_src_sink);
    for (size_t i = 0; i < SNAP_CUT; i++) {
        int rc = cep_engine_push_json(snap_src, EVENTS[i], strlen(EVENTS[i]));
        if (rc != CEP_OK && !is_event_error(rc)) return -1;
    }
    /* A first snapshot turns "comb"'s compact keys flat (runtime/tecs.c),
     * once: every snapshot in the loop then makes the same allocations. */
    obuf b = {0};
    int rc = cep_engine_snapshot(snap_src, obuf_write, &b);
    mem_free(b.p);
    return rc == CEP_OK ? 0 : -1;
}

/* Snapshot snap_src into a buffer, restore it into a new engine, and run
 * that engine on over the remaining events. A restore that failed must
 * leave the engine empty and usable: it is restored again (which succeeds
 * when only one allocation fails), then run on. */
static int scenario_snapshot(const cep_program *prog, sink *s, int *bad) {
    int seen = 0;
    obuf b = {0};
    unsigned long a0 = mem_alloc_count();
    int rc = cep_engine_snapshot(snap_src, obuf_write, &b);
    snap_allocs = mem_alloc_count() - a0;
    if (rc == CEP_ENOMEM || (rc == CEP_ECALLBACK && b.failed)) {
        mem_free(b.p);
        return 1;
    }
    CHECK(rc == CEP_OK, "snapshot returned %s", cep_strerror(rc));
    if (rc != CEP_OK) {
        *bad = 1;
        mem_free(b.p);
        return 0;
    }
    cep_engine *e = NULL;
    rc = cep_engine_new(prog, &e);
    if (rc != CEP_OK) {
        CHECK(rc == CEP_ENOMEM && e == NULL, "engine_new returned %s", cep_strerror(rc));
        mem_free(b.p);
        return 1;
    }
    if (cep_engine_set_time_field(e, "ts") == CEP_ENOMEM) seen = 1;
    cep_engine_on_match(e, on_match, s);
    cep_engine_on_late(e, on_late, s);
    cep_engine_on_timeout(e, on_timeout, s);
    int restored = 0, retried = 0;
    for (int attempt = 0; attempt < 2 && !restored; attempt++) {
        a0 = mem_alloc_count();
        rc = cep_engine_restore(e, b.p, b.len);
        if (attempt == 0) restore_allocs = mem_alloc_count() - a0;
        if (rc == CEP_OK) {
            restored = 1;
        } else if (rc == CEP_ENOMEM) {
            seen = 1;
            retried = 1;
            cep_stats st;
            cep_engine_stats(e, &st);
            CHECK(st.events == 0 && st.partial_matches == 0 && st.buffered == 0,
                  "failed restore left state behind (events %llu, partial matches %llu, buffered %llu)",
                  (unsigned long long)st.events, (unsigned long long)st.partial_matches,
                  (unsigned long long)st.buffered);
        } else {
            CHECK(0, "restore returned %s", cep_strerror(rc));
            *bad = 1;
            break;
        }
    }
    mem_free(b.p);
    int seen_before_run = seen;
    seen = 0;
    for (size_t i = SNAP_CUT; i < NEVENTS; i++) {
        const char *line = EVENTS[i];
        if (!strncmp(line, "!watermark ", 11))
            rc = cep_engine_advance_watermark(e, strtoll(line + 11, NULL, 10));
        else
            rc = cep_engine_push_json(e, line, strlen(line));
        if (rc == CEP_ENOMEM) seen = 1;
        else if (rc != CEP_OK && !is_event_error(rc) && rc != CEP_ELIMIT) {
            CHECK(0, "event %zu after restore returned %s", i, cep_strerror(rc));
            *bad = 1;
        }
    }
    rc = cep_engine_finish(e);
    if (rc == CEP_ENOMEM) seen = 1;
    else CHECK(rc == CEP_OK || rc == CEP_ELIMIT, "finish after restore returned %s", cep_strerror(rc));
    cep_engine_free(e);
    /* Restored at the second attempt and no failure since: the engine the
     * failed restore left behind must give the complete output. */
    if (retried && restored && !seen && !*bad && snap_ref_set)
        CHECK(s->matches == snap_ref.matches && s->late == snap_ref.late && s->timeouts == snap_ref.timeouts,
              "run after a failed then repeated restore: matches %lu/%lu, late %lu/%lu, timeouts %lu/%lu",
              s->matches, snap_ref.matches, s->late, snap_ref.late, s->timeouts, snap_ref.timeouts);
    return seen || seen_before_run;
}

/* ---- pools: cep_pool_snapshot, cep_pool_restore, cep_pool_replace_program ---- */

/* A pool of 2 threads (4 engines), every engine pinned to the caller's
 * thread so that each allocation happens on it, in a fixed order (the
 * failure counter is not thread-safe). */
static int pool_configure(void *ud, cep_engine *e, unsigned index) {
    (void)index;
    int rc = cep_engine_set_max_delay(e, 3);
    if (rc == CEP_OK) rc = cep_engine_set_time_field(e, "ts");
    cep_engine_on_match(e, on_match, ud);
    cep_engine_on_late(e, on_late, ud);
    cep_engine_on_timeout(e, on_timeout, ud);
    return rc;
}

static int pool_make(const cep_program *prog, sink *s, cep_pool **out) {
    int rc = cep_pool_new(prog, 2, pool_configure, s, out);
    if (rc == CEP_ENOMEM) {
        CHECK(*out == NULL, "pool_new: ENOMEM with a pool");
        return 1;
    }
    CHECK(rc == CEP_OK, "pool_new returned %s", cep_strerror(rc));
    if (rc == CEP_OK) pool_pin(*out, cep_pool_engine_count(2));
    return 0;
}

/* Push EVENTS[from..to) into p: 1 if some push reported ENOMEM. */
static int pool_feed(cep_pool *p, size_t from, size_t to, int *bad) {
    int seen = 0;
    for (size_t i = from; i < to; i++) {
        const char *line = EVENTS[i];
        int rc = !strncmp(line, "!watermark ", 11) ? cep_pool_advance_watermark(p, strtoll(line + 11, NULL, 10))
                                                   : cep_pool_push_json(p, line, strlen(line));
        if (rc == CEP_ENOMEM) seen = 1;
        else if (rc != CEP_OK && !is_event_error(rc) && rc != CEP_ELIMIT) {
            CHECK(0, "pool: event %zu returned %s", i, cep_strerror(rc));
            *bad = 1;
        }
        if (rc == CEP_ENOMEM) break; /* a failed engine fails the pool: nothing more to learn */
    }
    return seen;
}

/* The pool's program after the switch: prog2 and a pattern that matches
 * after SNAP_CUT, so that a switch that did not happen shows. */
static const cep_program *pool_prog2;

/* What the pool gives without failures: [0] the old program kept, [1]
 * switched to prog2 after SNAP_CUT events, [2] restored from the snapshot
 * after SNAP_CUT events (old program). */
static sink pool_ref[3];
static int pool_ref_set;

static int same_sink(const sink *a, const sink *b) {
    return a->matches == b->matches && a->late == b->late && a->timeouts == b->timeouts;
}

/* The second half: a pool restored from snap (restored again after a
 * failed restore, which must leave it new and usable), then run on. */
static int pool_restored_run(const cep_program *prog, const obuf *snap, int *bad) {
    sink s = {0};
    cep_pool *q = NULL;
    if (pool_make(prog, &s, &q)) return 1;
    if (!q) return 0;
    int seen = 0, restored = 0;
    for (int attempt = 0; attempt < 2 && !restored; attempt++) {
        int rc = cep_pool_restore(q, snap->p, snap->len);
        if (rc == CEP_OK) restored = 1;
        else if (rc == CEP_ENOMEM) seen = 1;
        else {
            CHECK(0, "pool_restore returned %s", cep_strerror(rc));
            *bad = 1;
            break;
        }
    }
    int later = restored ? pool_feed(q, SNAP_CUT, NEVENTS, bad) : 0;
    if (restored && !later) {
        int rc = cep_pool_finish(q);
        if (rc == CEP_ENOMEM) later = 1;
        else CHECK(rc == CEP_OK || rc == CEP_ELIMIT, "pool finish after restore returned %s", cep_strerror(rc));
    }
    if (restored && !later && !*bad && pool_ref_set)
        CHECK(same_sink(&s, &pool_ref[2]),
              "pool restored%s: matches %lu/%lu, late %lu/%lu, timeouts %lu/%lu", seen ? " at the second try" : "",
              s.matches, pool_ref[2].matches, s.late, pool_ref[2].late, s.timeouts, pool_ref[2].timeouts);
    if (!pool_ref_set) pool_ref[2] = s;
    cep_pool_free(q);
    return seen || later;
}

/* A pool fed SNAP_CUT events, snapshotted into a buffer, switched to
 * prog2 (skip_replace: not), run to the end; then a new pool restored
 * from the snapshot runs the rest. A switch that fails leaves the old
 * program with its state: the run then gives what a run without the
 * switch gives. */
static int scenario_pool(const cep_program *prog, int skip_replace, sink *s, int *bad) {
    cep_pool *p = NULL;
    obuf b = {0};
    if (pool_make(prog, s, &p)) return 1;
    if (!p) return 0;
    int first = pool_feed(p, 0, SNAP_CUT, bad), seen = 0, later = 0, replaced = 0;
    if (!first) {
        int rc = cep_pool_snapshot(p, obuf_write, &b);
        if (rc == CEP_ENOMEM || (rc == CEP_ECALLBACK && b.failed)) {
            seen = 1;
            mem_free(b.p);
            b = (obuf){0};
        } else {
            CHECK(rc == CEP_OK, "pool_snapshot returned %s", cep_strerror(rc));
        }
    }
    if (!first && !skip_replace) {
        int rc = cep_pool_replace_program(p, pool_prog2);
        replaced = rc == CEP_OK;
        if (rc == CEP_ENOMEM) {
            /* The switch failed, or an engine already had, while the
             * pool was synced first ("shard N: ..."; the pool is failed). */
            seen = 1;
            const char *err = cep_pool_error(p);
            CHECK(!strcmp(err, "out of memory while changing the program; the old one goes on") ||
                      !strncmp(err, "shard ", 6),
                  "pool_replace_program: error '%s'", err);
        } else {
            CHECK(rc == CEP_OK, "pool_replace_program returned %s", cep_strerror(rc));
        }
    }
    if (!first && !*bad) {
        /* A failed snapshot or switch changes nothing: the pool runs on,
         * with the old program when the switch failed. */
        later = pool_feed(p, SNAP_CUT, NEVENTS, bad);
        if (!later) {
            int rc = cep_pool_finish(p);
            if (rc == CEP_ENOMEM) later = 1;
            else CHECK(rc == CEP_OK || rc == CEP_ELIMIT, "pool finish returned %s", cep_strerror(rc));
        }
        const sink *want = &pool_ref[replaced];
        if (!later && !*bad && pool_ref_set)
            CHECK(same_sink(s, want),
                  "pool%s: matches %lu/%lu, late %lu/%lu, timeouts %lu/%lu",
                  replaced ? "" : skip_replace ? " (no switch)" : " after a failed program switch", s->matches,
                  want->matches, s->late, want->late, s->timeouts, want->timeouts);
    }
    cep_pool_free(p);
    int rest = b.p ? pool_restored_run(prog, &b, bad) : 0;
    mem_free(b.p);
    return first || seen || later || rest;
}

static int leak_check(void) {
#ifdef HAVE_LSAN
    return __lsan_do_recoverable_leak_check();
#else
    return 0;
#endif
}

enum { S_COMPILE, S_RUN_DROP, S_RUN_FAIL, S_SNAPSHOT, S_RUN_OPTS, S_RUN_PROC, S_POOL, S_COUNT };
static const char *const NAMES[] = {"compile+explain", "run (drop-oldest)", "run (fail)",
                                    "snapshot+restore", "run (budget, lateness, TTL, replace)",
                                    "run (processing time, no limit: compact form)",
                                    "pool snapshot+replace+restore"};

static int run_scenario(int which, const cep_program *prog, sink *s, int *bad) {
    if (which == S_SNAPSHOT) return scenario_snapshot(prog, s, bad);
    if (which == S_POOL) return scenario_pool(prog, 0, s, bad);
    return which == S_COMPILE ? scenario_compile(bad)
                              : scenario_run(prog, which == S_RUN_FAIL,
                                             which == S_RUN_OPTS   ? RUN_OPTS
                                             : which == S_RUN_PROC ? RUN_PROC
                                                                   : RUN_PLAIN,
                                             s, bad);
}

/* A restore that returns CEP_OK has every window's timer: many keys in one
 * timer lane, each allocation of the restore failing in turn. Each of the
 * KEYS partial matches must then time out (a restore once reserved room
 * for the largest bucket only and ignored entries it then failed to add). */
static int timeout_count;
static int count_timeout(void *ud, const cep_match *m) {
    (void)ud;
    (void)m;
    timeout_count++;
    return 0;
}

static void restore_keeps_timers(void) {
    enum { KEYS = 40 };
    static const char src[] = "pattern p key id begin a where t == \"a\" followedBy b where t == \"b\" within 10ms\n";
    cep_program *p = NULL;
    cep_engine *e = NULL;
    cep_event *ev = NULL;
    obuf b = {0};
    mem_fail_at(0, 0);
    if (cep_compile(NULL, src, sizeof src - 1, "timers", &p, NULL) != CEP_OK || cep_engine_new(p, &e) != CEP_OK ||
        cep_event_new(p, &ev) != CEP_OK) {
        CHECK(0, "restore_keeps_timers: setup failed");
        goto out;
    }
    int s_t = cep_program_field_slot(p, "t"), s_id = cep_program_field_slot(p, "id");
    for (int i = 0; i < KEYS; i++) {
        cep_event_clear(ev);
        cep_event_set_time(ev, 100);
        cep_event_set_string(ev, s_t, "a", 1);
        cep_event_set_int(ev, s_id, i);
        cep_engine_push(e, ev);
    }
    if (cep_engine_snapshot(e, obuf_write, &b) != CEP_OK) {
        CHECK(0, "restore_keeps_timers: snapshot failed");
        goto out;
    }
    cep_engine_free(e);
    e = NULL;
    unsigned long points = 0;
    for (unsigned long n = 1;; n++) {
        if (cep_engine_new(p, &e) != CEP_OK) break;
        cep_engine_on_timeout(e, count_timeout, NULL);
        mem_fail_at(n, 0); /* counted from here */
        int rc = cep_engine_restore(e, b.p, b.len);
        int reached = mem_alloc_count() >= n;
        mem_fail_at(0, 0);
        if (!reached) break; /* the restore made fewer allocations: all tried */
        points++;
        if (rc == CEP_OK) {
            timeout_count = 0;
            rc = cep_engine_advance_watermark(e, 1000);
            CHECK(rc == CEP_OK && timeout_count == KEYS,
                  "restore with allocation %lu failing returned OK, then %d of %d windows closed", n,
                  timeout_count, (int)KEYS);
        } else {
            CHECK(rc == CEP_ENOMEM, "restore with allocation %lu failing returned %s", n, cep_strerror(rc));
        }
        cep_engine_free(e);
        e = NULL;
    }
    printf("oom: restore of %d windows in one lane: %lu allocation points\n", (int)KEYS, points);
out:
    mem_free(b.p);
    cep_engine_free(e);
    cep_event_free(ev);
    cep_program_free(p);
}

/* PATTERNS with `extra` appended and, if change_tail, its "within 2s" made
 * 3s; compiled, or NULL after saying why (what: its role). */
static cep_program *compile_variant(const char *extra, int change_tail, const char *what) {
    size_t n = sizeof PATTERNS - 1 + strlen(extra);
    char *src = malloc(n + 1);
    cep_program *p = NULL;
    cep_diag *d = NULL;
    if (!src) return NULL;
    memcpy(src, PATTERNS, sizeof PATTERNS - 1);
    memcpy(src + sizeof PATTERNS - 1, extra, strlen(extra) + 1);
    char *w = change_tail ? strstr(src, "within 2s") : NULL;
    if (w) w[7] = '3';
    if (cep_compile(NULL, src, n, what, &p, &d) != CEP_OK) {
        printf("oom: the %s patterns do not compile:\n%s", what, cep_diag_render(d));
        p = NULL;
    }
    cep_diag_free(d);
    free(src);
    return p;
}

int main(void) {
    /* Line by line: a sanitizer's report ends the process without flushing. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    mem_fail_at(0, 0);
    /* The test patterns; the replacement ("tail" changed, "extra" added, the
     * rest kept); the pool's replacement ("stops" added). */
    cep_program *prog = compile_variant("", 0, "test");
    cep_program *p2 = compile_variant("pattern extra key user begin a where type == \"done\"\n", 1, "replacement");
    cep_program *p3 = compile_variant("pattern stops key user begin a where type == \"stop\"\n", 0, "pool's replacement");
    if (!prog || !p2 || !p3) return 1;
    prog2 = p2;
    pool_prog2 = p3;
    if (make_snap_src(prog) < 0) {
        printf("oom: the engine to snapshot cannot be built\n");
        return 1;
    }

    /* OOM_ONLY=S:N:STICKY runs scenario S (0 compile, 1 run, 2 run with
     * the fail policy, 3 snapshot and restore, 4 run with the options and
     * a program swap, 5 run in processing time, 6 a pool: snapshot, program
     * switch, restore) once with allocation N failing: for a debugger,
     * e.g. break in util/mem.c's should_fail when counted == fail_at. */
    const char *only = getenv("OOM_ONLY");
    if (only) {
        int w = 0, st = 0, bad = 0;
        unsigned long n = 0;
        sink s = {0};
        if (sscanf(only, "%d:%lu:%d", &w, &n, &st) != 3 || w < 0 || w >= S_COUNT) return 2;
        mem_fail_at(n, st);
        int seen = run_scenario(w, prog, &s, &bad);
        mem_fail_at(0, 0);
        printf("oom: %s, allocation %lu%s: %s; matches %lu, late %lu, timeouts %lu\n", NAMES[w], n,
               st ? "+" : "", seen ? "ENOMEM" : "no error", s.matches, s.late, s.timeouts);
        cep_engine_free(snap_src);
        cep_program_free(prog);
        cep_program_free(p2);
        cep_program_free(p3);
        return failures ? 1 : 0;
    }

    /* The pool's references: without and with the program switch. */
    for (int i = 0; i < 2; i++) {
        int bad = 0;
        scenario_pool(prog, !i, &pool_ref[i], &bad);
        CHECK(!bad && pool_ref[i].matches > 0 && pool_ref[i].timeouts > 0 && pool_ref[2].matches > 0,
              "pool reference run %d reaches too little (matches %lu, timeouts %lu; restored: matches %lu)", i,
              pool_ref[i].matches, pool_ref[i].timeouts, pool_ref[2].matches);
    }
    CHECK(!same_sink(&pool_ref[0], &pool_ref[1]), "the program switch changes nothing the pool test sees");
    pool_ref_set = 1;

    /* OOM_SCENARIO=S runs the loop of scenario S alone. */
    const char *one = getenv("OOM_SCENARIO");
    int only_s = one ? atoi(one) : -1;
    unsigned long total_points = 0;
    for (int which = 0; which < S_COUNT; which++) {
        if (only_s >= 0 && which != only_s) continue;
        /* Reference run: how many allocations, and what comes out. */
        sink ref = {0};
        int bad = 0;
        mem_fail_at(0, 0);
        run_scenario(which, prog, &ref, &bad);
        unsigned long allocs = mem_alloc_count();
        CHECK(!bad, "%s fails without any injected failure", NAMES[which]);
        if (which == S_SNAPSHOT) {
            cep_stats st;
            cep_engine_stats(snap_src, &st);
            snap_ref = ref;
            snap_ref_set = 1;
            printf("oom: snapshot of %llu partial matches, %llu buffered events: %lu allocations "
                   "(buffer included), restore: %lu, of %lu in all\n",
                   (unsigned long long)st.partial_matches, (unsigned long long)st.buffered, snap_allocs,
                   restore_allocs, allocs);
        }
        if (which == S_SNAPSHOT)
            CHECK(ref.matches > 0 && ref.timeouts > 0,
                  "%s: reference run reaches too little (matches %lu, timeouts %lu)", NAMES[which],
                  ref.matches, ref.timeouts);
        if (which == S_RUN_OPTS)
            CHECK(ref.ttl_dropped > 0, "%s: the state TTL drops nothing", NAMES[which]);
        if (which == S_RUN_DROP || which == S_RUN_FAIL)
            CHECK(ref.fwd_matches > 0, "%s: the match events pushed on match nothing", NAMES[which]);
        if (which == S_RUN_PROC) /* nothing is late in processing time */
            CHECK(ref.matches > 0 && ref.late == 0 && ref.timeouts > 0,
                  "%s: reference run: matches %lu, late %lu, timeouts %lu", NAMES[which],
                  ref.matches, ref.late, ref.timeouts);
        else if (which != S_COMPILE && which != S_SNAPSHOT)
            CHECK(ref.matches > 0 && ref.late > 0 && ref.timeouts > 0,
                  "%s: reference run reaches too little (matches %lu, late %lu, timeouts %lu)",
                  NAMES[which], ref.matches, ref.late, ref.timeouts);

        for (int sticky = 0; sticky <= 1; sticky++) {
            tally t = {0};
            for (unsigned long n = 1; n <= allocs; n++) {
                sink s = {0};
                bad = 0;
                long live = mem_live_blocks();
                mem_fail_at(n, sticky);
                int seen = run_scenario(which, prog, &s, &bad);
                unsigned long got = mem_alloc_count();
                mem_fail_at(0, 0);
                t.points++;
                if (seen) t.enomem++;
                else t.absorbed++;
                CHECK(got >= n, "%s: N=%lu not reached (%lu allocations)", NAMES[which], n, got);
                /* The library's own count of its blocks finds a leak at
                 * once; LSan, a heap scan, runs once a loop (below). */
                CHECK(mem_live_blocks() == live, "%s: %ld blocks leaked with allocation %lu failing%s",
                      NAMES[which], mem_live_blocks() - live, n, sticky ? " (and every later one)" : "");
                /* Without a reported failure the output must be complete. */
                if (!seen && !bad && which != S_COMPILE)
                    CHECK(s.matches == ref.matches && s.late == ref.late && s.timeouts == ref.timeouts &&
                              s.fwd_matches == ref.fwd_matches,
                          "%s: allocation %lu%s failed silently: matches %lu/%lu, late %lu/%lu, "
                          "timeouts %lu/%lu", NAMES[which], n, sticky ? "+" : "",
                          s.matches, ref.matches, s.late, ref.late, s.timeouts, ref.timeouts);
            }
            CHECK(!leak_check(), "%s: LSan finds a leak (%s loop)", NAMES[which], sticky ? "sticky" : "single");
            total_points += t.points;
            printf("oom: %s, %s: %lu allocation points, %lu reported ENOMEM, %lu absorbed\n",
                   NAMES[which], sticky ? "sticky" : "single", t.points, t.enomem, t.absorbed);
        }
    }
    cep_engine_free(snap_src);
    cep_program_free(prog);
    cep_program_free(p2);
    cep_program_free(p3);
    mem_fail_at(0, 0);
    restore_keeps_timers();
    printf("oom: %lu points, %d failures\n", total_points, failures);
    printf("oom: %d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
    return failures ? 1 : 0;
}
#endif
