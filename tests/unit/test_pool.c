/* test_pool.c — cep_pool against one engine: the same generated stream
 * (several patterns with different keys and one without, out-of-order
 * events, late events, watermark advances, timeouts) through one engine and
 * through pools of 1 to 4 threads, balanced as usual and with engines moved
 * between threads every 64 events (pool_set_churn); for every key the
 * matches and timeouts must be the same lines in the same order, the late
 * events the same list, and the counters the same after finish. Programs
 * whose patterns share one key (an integer: the router's shortcut; a
 * string) as well. Also processing time (on a clock the test sets), the
 * JSON path, partition options, errors. Snapshots: a stream cut into
 * stages, each run by an engine or a pool of another size restored from
 * the previous stage's snapshot (N threads to M and back, engine to pool
 * to engine), against the uninterrupted engine; a program change under a
 * pool. */
#include "config.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cepheus.h"
#include "partition.h"
#include "pool.h"
#include "suites.h"

static const char patterns[] =
    "pattern by_user\n"
    "  key user\n"
    "  begin a where type == \"a\" and id >= 0\n"
    "  followedBy b where type == \"b\" and amount > a.amount\n"
    "  within 400ms\n"
    "pattern by_item\n"
    "  key item\n"
    "  begin x where type == \"b\"\n"
    "  followedBy y+ where type == \"c\"\n"
    "  followedBy z where type == \"a\"\n"
    "  within 300ms\n"
    "  skip pastLastEvent\n"
    "pattern pair\n"
    "  key user, item\n"
    "  begin p where type == \"a\"\n"
    "  notFollowedBy q where type == \"c\"\n"
    "  within 250ms\n"
    "pattern global\n"
    "  begin g where amount > 97\n"
    "  followedBy h where amount < 2\n"
    "  within 200ms\n";

/* All patterns keyed by one integer: one engine per event, the router's
 * shortcut (cep_pool_push). */
static const char patterns_int_key[] =
    "pattern p1\n"
    "  key user\n"
    "  begin a where type == \"a\" and id >= 0\n"
    "  followedBy b where type == \"b\" and amount > a.amount\n"
    "  within 400ms\n"
    "pattern p2\n"
    "  key user\n"
    "  begin x where type == \"b\"\n"
    "  followedBy y+ where type == \"c\"\n"
    "  followedBy z where type == \"a\"\n"
    "  within 300ms\n"
    "  skip pastLastEvent\n"
    "pattern p3\n"
    "  key user\n"
    "  begin p where type == \"a\"\n"
    "  notFollowedBy q where type == \"c\"\n"
    "  within 250ms\n";

/* All patterns keyed by one string. */
static const char patterns_string_key[] =
    "pattern s1\n"
    "  key name\n"
    "  begin a where type == \"a\" and id >= 0\n"
    "  followedBy b where type == \"b\"\n"
    "  within 300ms\n"
    "pattern s2\n"
    "  key name\n"
    "  begin p where type == \"b\"\n"
    "  notFollowedBy q where type == \"a\"\n"
    "  within 200ms\n";

/* ---- collected output: one line per callback, with its key ----------------- */

typedef struct line {
    char *key, *text;
    size_t seq; /* order of arrival, for a stable sort */
} line;

typedef struct lines {
    line *v;
    size_t n, cap;
} lines;

static void add(lines *l, const char *key, const char *text) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        ck_assert_ptr_nonnull(l->v);
    }
    l->v[l->n] = (line){strdup(key), strdup(text), l->n};
    l->n++;
}

static void lines_free(lines *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i].key), free(l->v[i].text);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void value_text(char *b, size_t cap, cep_value v) {
    switch (v.type) {
    case CEP_INT: snprintf(b, cap, "%" PRId64, v.u.i); break;
    case CEP_DOUBLE: snprintf(b, cap, "%.17g", v.u.d); break;
    case CEP_STRING: snprintf(b, cap, "\"%.*s\"", (int)v.u.s.len, v.u.s.ptr); break;
    case CEP_BOOL: snprintf(b, cap, "%s", v.u.b ? "true" : "false"); break;
    default: snprintf(b, cap, "null"); break;
    }
}

static int id_slot;
static int line_by_time; /* name events by their time: after a program change the slots differ */

static void match_line(const cep_match *m, char *key, size_t kcap, char *text, size_t tcap) {
    size_t k = (size_t)snprintf(key, kcap, "%s", cep_match_pattern(m));
    for (size_t i = 0; i < cep_match_key_count(m) && k < kcap; i++) {
        char v[64];
        value_text(v, sizeof v, cep_match_key(m, i));
        k += (size_t)snprintf(key + k, kcap - k, "|%s", v);
    }
    size_t t = (size_t)snprintf(text, tcap, "%s %" PRId64 " %" PRId64 " :", cep_match_is_timeout(m) ? "T" : "M",
                                cep_match_start(m), cep_match_end(m));
    for (size_t s = 0; s < cep_match_step_count(m) && t < tcap; s++)
        for (size_t i = 0; i < cep_match_event_count(m, s) && t < tcap; i++) {
            const cep_event *ev = cep_match_event(m, s, i);
            int64_t id = line_by_time ? cep_event_time(ev) : cep_event_value(ev, id_slot).u.i;
            t += (size_t)snprintf(text + t, tcap - t, " %s#%" PRId64, cep_match_step_name(m, s), id);
        }
}

typedef struct collector {
    lines out;  /* matches and timeouts */
    lines late;
} collector;

static int on_match(void *ud, const cep_match *m) {
    char key[256], text[2048];
    match_line(m, key, sizeof key, text, sizeof text);
    add(&((collector *)ud)->out, key, text);
    return 0;
}

static int on_late(void *ud, const cep_event *ev) {
    char text[64];
    snprintf(text, sizeof text, "L %" PRId64 " #%" PRId64, cep_event_time(ev), cep_event_value(ev, id_slot).u.i);
    add(&((collector *)ud)->late, "", text);
    return 0;
}

static int by_key(const void *a, const void *b) {
    const line *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c) return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Per key, the same lines in the same order (a stable sort by key). */
static void assert_same_per_key(lines *a, lines *b, const char *what) {
    ck_assert_msg(a->n == b->n, "%s: %zu lines against %zu", what, a->n, b->n);
    qsort(a->v, a->n, sizeof *a->v, by_key);
    qsort(b->v, b->n, sizeof *b->v, by_key);
    for (size_t i = 0; i < a->n; i++) {
        ck_assert_msg(strcmp(a->v[i].key, b->v[i].key) == 0 && strcmp(a->v[i].text, b->v[i].text) == 0,
                      "%s: line %zu differs: %s %s / %s %s", what, i, a->v[i].key, a->v[i].text, b->v[i].key,
                      b->v[i].text);
    }
}

/* ---- the stream --------------------------------------------------------------- */

typedef struct options {
    int64_t max_delay, lateness, ttl;
    int processing;
    int json;        /* push JSON text instead of rows */
    int watermarks;  /* advance the watermark now and then */
    unsigned churn;  /* pools: move an engine every this many events */
} options;

static uint64_t rs;
static uint64_t rnd(void) {
    uint64_t z = (rs += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct gen_event {
    int64_t t, id, user, item, amount;
    const char *type;
    char name[16];   /* a string key: about 60 of them */
    int64_t watermark; /* > 0: advance to it before this event */
} gen_event;

static gen_event *make_stream(size_t n) {
    static const char *types[] = {"a", "b", "c"};
    gen_event *v = calloc(n, sizeof *v);
    ck_assert_ptr_nonnull(v);
    rs = 77;
    int64_t base = 1000000;
    for (size_t i = 0; i < n; i++) {
        base += (int64_t)(rnd() % 12);
        uint64_t r = rnd();
        v[i].id = (int64_t)i;
        /* Mostly a little out of order; now and then far behind. */
        v[i].t = base - (int64_t)(r % 60) - ((r >> 8) % 40 == 0 ? (int64_t)((r >> 16) % 900) : 0);
        v[i].user = 1 + (int64_t)((r >> 24) % 23);
        v[i].item = 1 + (int64_t)((r >> 32) % 11);
        v[i].amount = (int64_t)((r >> 40) % 100);
        v[i].type = types[(r >> 48) % 3];
        snprintf(v[i].name, sizeof v[i].name, "n%d", (int)((v[i].user * 7 + v[i].item) % 61));
        if ((r >> 56) % 97 == 0) v[i].watermark = base - 30;
    }
    return v;
}

static cep_program *prog;
static int s_t, s_user, s_item, s_amount, s_type, s_name;
static _Atomic int64_t clock_now;

static int64_t test_clock(void *ud) { return atomic_load(&clock_now); }

typedef struct config {
    const options *o;
    collector *c; /* one per engine */
} config;

static int configure(void *ud, cep_engine *e, unsigned index) {
    config *cf = ud;
    const options *o = cf->o;
    int rc = cep_engine_set_max_delay(e, o->max_delay);
    if (rc == CEP_OK) rc = cep_engine_set_allowed_lateness(e, o->lateness);
    if (rc == CEP_OK) rc = cep_engine_set_state_ttl(e, o->ttl);
    if (rc == CEP_OK && o->processing) rc = cep_engine_set_time_mode(e, CEP_TIME_PROCESSING);
    if (rc == CEP_OK && o->processing) rc = cep_engine_set_clock(e, test_clock, NULL);
    if (rc == CEP_OK) rc = cep_engine_set_time_field(e, "t");
    cep_engine_on_match(e, on_match, &cf->c[index]);
    cep_engine_on_timeout(e, on_match, &cf->c[index]);
    cep_engine_on_late(e, on_late, &cf->c[index]);
    return rc;
}

static void fill(cep_event *ev, const gen_event *g) {
    cep_event_clear(ev);
    cep_event_set_time(ev, g->t);
    cep_event_set_int(ev, s_t, g->t);
    cep_event_set_int(ev, id_slot, g->id);
    cep_event_set_int(ev, s_user, g->user);
    cep_event_set_int(ev, s_item, g->item);
    cep_event_set_int(ev, s_amount, g->amount);
    cep_event_set_string(ev, s_type, g->type, strlen(g->type));
    if (s_name >= 0) cep_event_set_string(ev, s_name, g->name, strlen(g->name));
}

static size_t json_of(char *b, size_t cap, const gen_event *g) {
    return (size_t)snprintf(b, cap, "{\"t\":%" PRId64 ",\"id\":%" PRId64 ",\"user\":%" PRId64 ",\"item\":%" PRId64
                            ",\"amount\":%" PRId64 ",\"type\":\"%s\",\"name\":\"%s\"}",
                            g->t, g->id, g->user, g->item, g->amount, g->type, g->name);
}

/* The stream through one engine (pool NULL) or a pool of n shards. */
static void run(const options *o, const gen_event *gv, size_t n, unsigned shards, collector *merged,
                cep_stats *st) {
    unsigned ne = shards ? cep_pool_engine_count(shards) : 1;
    collector *c = calloc(ne, sizeof *c);
    ck_assert_ptr_nonnull(c);
    config cf = {o, c};
    cep_engine *e = NULL;
    cep_pool *p = NULL;
    if (shards) {
        ck_assert_int_eq(cep_pool_new(prog, shards, configure, &cf, &p), CEP_OK);
        if (o->churn) pool_set_churn(p, o->churn);
    } else {
        ck_assert_int_eq(cep_engine_new(prog, &e), CEP_OK);
        ck_assert_int_eq(configure(&cf, e, 0), CEP_OK);
    }
    cep_event *ev;
    ck_assert_int_eq(cep_event_new(prog, &ev), CEP_OK);
    char text[256];
    atomic_store(&clock_now, 5000);
    for (size_t i = 0; i < n; i++) {
        const gen_event *g = &gv[i];
        if (o->watermarks && g->watermark) {
            ck_assert_int_eq(p ? cep_pool_advance_watermark(p, g->watermark) : cep_engine_advance_watermark(e, g->watermark),
                             CEP_OK);
        }
        if (o->processing) {
            /* The clock moves on only once every shard has seen all. */
            if (p) ck_assert_int_eq(cep_pool_sync(p), CEP_OK);
            atomic_store(&clock_now, 5000 + (int64_t)i * 3);
            if (i % 50 == 0) ck_assert_int_eq(p ? cep_pool_tick(p) : cep_engine_tick(e), CEP_OK);
        }
        int rc;
        if (o->json) {
            size_t len = json_of(text, sizeof text, g);
            rc = p ? cep_pool_push_json(p, text, len) : cep_engine_push_json(e, text, len);
        } else {
            fill(ev, g);
            rc = p ? cep_pool_push(p, ev) : cep_engine_push(e, ev);
        }
        ck_assert_msg(rc == CEP_OK, "push %zu: %s", i, p ? cep_pool_error(p) : cep_engine_error(e));
    }
    if (o->processing && p) ck_assert_int_eq(cep_pool_sync(p), CEP_OK);
    ck_assert_int_eq(p ? cep_pool_finish(p) : cep_engine_finish(e), CEP_OK);
    if (p) ck_assert_int_eq(cep_pool_stats(p, st), CEP_OK);
    else cep_engine_stats(e, st);
    if (p && shards > 1) {
        /* Every event reached an engine; with churn, engines moved both
         * ways and some events waited in the hold buffer (processing time
         * syncs before each event: nothing is held there). */
        pool_info in;
        pool_get_info(p, &in);
        ck_assert_uint_eq(in.engines, cep_pool_engine_count(shards));
        ck_assert_uint_ge(in.inline_events + in.ring_events, n);
        if (o->churn) ck_assert_msg(in.moves_out >= 2 && in.moves_back >= 2 && (in.held > 0 || o->processing),
                                    "%u threads: %llu moves out, %llu back, %llu held", shards,
                                    (unsigned long long)in.moves_out, (unsigned long long)in.moves_back,
                                    (unsigned long long)in.held);
    }
    /* Late events come from shard 0 alone, so their order is kept whole. */
    for (unsigned s = 0; s < ne; s++) {
        if (s > 0) ck_assert_int_eq(c[s].late.n, 0);
        for (size_t i = 0; i < c[s].out.n; i++) add(&merged->out, c[s].out.v[i].key, c[s].out.v[i].text);
        for (size_t i = 0; i < c[s].late.n; i++) add(&merged->late, "", c[s].late.v[i].text);
        lines_free(&c[s].out);
        lines_free(&c[s].late);
    }
    free(c);
    cep_event_free(ev);
    cep_pool_free(p);
    cep_engine_free(e);
}

/* Make text the program the tests run. */
static void use_program(const char *text) {
    cep_program_free(prog);
    cep_diag *d = NULL;
    int rc = cep_compile(NULL, text, strlen(text), "pool.cep", &prog, &d);
    ck_assert_msg(rc == CEP_OK, "%s", cep_diag_render(d));
    cep_diag_free(d);
    /* Fields the patterns do not read still travel: id names the events. */
    s_t = cep_program_field_slot(prog, "t");
    s_user = cep_program_field_slot(prog, "user");
    s_item = cep_program_field_slot(prog, "item");
    s_amount = cep_program_field_slot(prog, "amount");
    s_type = cep_program_field_slot(prog, "type");
    id_slot = cep_program_field_slot(prog, "id");
    s_name = cep_program_field_slot(prog, "name");
}

static void setup(void) { use_program(patterns); }

static void teardown(void) {
    cep_program_free(prog);
    prog = NULL;
}

static void compare(const options *o, size_t n) {
    gen_event *gv = make_stream(n);
    collector one = {0};
    cep_stats s1;
    run(o, gv, n, 0, &one, &s1);
    ck_assert_msg(one.out.n > 100, "too few matches to compare (%zu)", one.out.n);
    for (unsigned run_no = 0; run_no < 7; run_no++) {
        /* 1 to 4 threads balanced, then 2 to 4 with engines moving. */
        unsigned shards = run_no < 4 ? run_no + 1 : run_no - 2;
        options oc = *o;
        oc.churn = run_no < 4 ? 0 : 64;
        collector many = {0};
        cep_stats sp;
        run(&oc, gv, n, shards, &many, &sp);
        char what[64];
        snprintf(what, sizeof what, "%u threads%s", shards, oc.churn ? ", churn" : "");
        assert_same_per_key(&one.out, &many.out, what);
        ck_assert_int_eq(one.late.n, many.late.n);
        for (size_t i = 0; i < one.late.n; i++) ck_assert_str_eq(one.late.v[i].text, many.late.v[i].text);
        ck_assert_int_eq(sp.events, s1.events);
        ck_assert_int_eq(sp.matches, s1.matches);
        ck_assert_int_eq(sp.timeouts, s1.timeouts);
        ck_assert_int_eq(sp.late, s1.late);
        ck_assert_int_eq(sp.stragglers, s1.stragglers);
        ck_assert_int_eq(sp.ttl_dropped, s1.ttl_dropped);
        ck_assert_int_eq(sp.partial_matches, 0);
        lines_free(&many.out);
        lines_free(&many.late);
    }
    lines_free(&one.out);
    lines_free(&one.late);
    free(gv);
}

START_TEST(pool_in_order) {
    options o = {.max_delay = 0};
    compare(&o, 20000);
}
END_TEST

START_TEST(pool_out_of_order) {
    options o = {.max_delay = 60, .watermarks = 1};
    compare(&o, 20000);
}
END_TEST

START_TEST(pool_lateness_ttl) {
    /* Stragglers within the allowed lateness, state TTL, watermarks. */
    options o = {.max_delay = 40, .lateness = 300, .ttl = 150, .watermarks = 1};
    compare(&o, 20000);
}
END_TEST

START_TEST(pool_json) {
    options o = {.max_delay = 60, .lateness = 100, .json = 1, .watermarks = 1};
    compare(&o, 10000);
}
END_TEST

START_TEST(pool_processing_time) {
    options o = {.processing = 1};
    compare(&o, 3000);
}
END_TEST

START_TEST(pool_int_key_in_order) {
    use_program(patterns_int_key);
    options o = {.max_delay = 0};
    compare(&o, 20000);
}
END_TEST

START_TEST(pool_int_key_out_of_order) {
    use_program(patterns_int_key);
    options o = {.max_delay = 60, .lateness = 100, .ttl = 150, .watermarks = 1};
    compare(&o, 20000);
}
END_TEST

START_TEST(pool_int_key_json) {
    use_program(patterns_int_key);
    options o = {.max_delay = 30, .json = 1, .watermarks = 1};
    compare(&o, 10000);
}
END_TEST

START_TEST(pool_string_key) {
    use_program(patterns_string_key);
    options o = {.max_delay = 60, .lateness = 100, .watermarks = 1};
    compare(&o, 20000);
}
END_TEST

START_TEST(pool_engine_count) {
    ck_assert_uint_eq(cep_pool_engine_count(0), 0);
    ck_assert_uint_eq(cep_pool_engine_count(1), 1);
    ck_assert_uint_eq(cep_pool_engine_count(2), 4);
    ck_assert_uint_eq(cep_pool_engine_count(64), 128);
    ck_assert_uint_eq(cep_pool_engine_count(65), 128); /* no more than the key groups */
    ck_assert_uint_eq(cep_pool_engine_count(256), 128);
    ck_assert_uint_eq(cep_pool_engine_count(257), 0);
}
END_TEST

static int count_cb(void *ud, const cep_match *m) {
    (*(int *)ud)++;
    return 0;
}

static int stop_cb(void *ud, const cep_match *m) { return 1; }

static int bad_configure(void *ud, cep_engine *e, unsigned index) {
    /* Shard 1 gets another max delay: the router could not keep time. */
    return cep_engine_set_max_delay(e, index == 1 ? 10 : 0);
}

static int stop_configure(void *ud, cep_engine *e, unsigned index) {
    cep_engine_on_match(e, stop_cb, NULL);
    cep_engine_set_time_field(e, "t");
    return CEP_OK;
}

START_TEST(pool_errors) {
    cep_pool *p = NULL;
    ck_assert_int_eq(cep_pool_new(prog, 0, NULL, NULL, &p), CEP_EINVAL);
    ck_assert_int_eq(cep_pool_new(NULL, 2, NULL, NULL, &p), CEP_EINVAL);
    ck_assert_int_eq(cep_pool_new(prog, 2, bad_configure, NULL, &p), CEP_EINVAL);
    ck_assert_ptr_null(p);
    cep_pool_free(NULL);

    /* Parse errors at once, with the reader's message. */
    ck_assert_int_eq(cep_pool_new(prog, 2, stop_configure, NULL, &p), CEP_OK);
    ck_assert_int_eq(cep_pool_push_json(p, "{\"t\":1,", 7), CEP_EJSON);
    ck_assert_str_eq(cep_pool_error(p), "invalid JSON: parse error: premature EOF");
    ck_assert_int_eq(cep_pool_push_json(p, "{\"x\":1}", 7), CEP_ETIME);
    ck_assert_str_eq(cep_pool_error(p), "missing time field 't'");
    /* A callback that stops: the shard's error on a later call, sticky. */
    static const char *ev[] = {"{\"t\":1,\"type\":\"a\",\"user\":1,\"amount\":1,\"id\":1}",
                               "{\"t\":2,\"type\":\"b\",\"user\":1,\"amount\":5,\"id\":2}"};
    ck_assert_int_eq(cep_pool_push_json(p, ev[0], strlen(ev[0])), CEP_OK);
    ck_assert_int_eq(cep_pool_push_json(p, ev[1], strlen(ev[1])), CEP_OK);
    ck_assert_int_eq(cep_pool_sync(p), CEP_ECALLBACK);
    ck_assert(strncmp(cep_pool_error(p), "shard ", 6) == 0);
    ck_assert_int_eq(cep_pool_push_json(p, ev[0], strlen(ev[0])), CEP_ECALLBACK);
    ck_assert_int_eq(cep_pool_finish(p), CEP_ECALLBACK);
    cep_pool_free(p);

    /* Finished: pushes are refused; stats still read. */
    int count = 0;
    ck_assert_int_eq(cep_pool_new(prog, 3, NULL, NULL, &p), CEP_OK);
    ck_assert_int_eq(cep_pool_finish(p), CEP_OK);
    ck_assert_int_eq(cep_pool_push_json(p, ev[0], strlen(ev[0])), CEP_EFINISHED);
    cep_stats st;
    ck_assert_int_eq(cep_pool_stats(p, &st), CEP_OK);
    ck_assert_int_eq(st.events, 0);
    cep_pool_free(p);
    (void)count;
    (void)count_cb;
}
END_TEST

START_TEST(pool_big_events) {
    /* Events larger than a quarter of a ring go out of line, one at a time. */
    cep_pool *p = NULL;
    ck_assert_int_eq(cep_pool_new(prog, 2, stop_configure, NULL, &p), CEP_OK);
    size_t n = 600000;
    char *t = malloc(n + 64);
    ck_assert_ptr_nonnull(t);
    for (int k = 0; k < 5; k++) {
        size_t len = (size_t)sprintf(t, "{\"t\":%d,\"type\":\"c\",\"user\":%d,\"pad\":\"", k, k);
        memset(t + len, 'x', n);
        len += n;
        len += (size_t)sprintf(t + len, "\"}");
        ck_assert_int_eq(cep_pool_push_json(p, t, len), CEP_OK);
    }
    cep_stats st;
    ck_assert_int_eq(cep_pool_finish(p), CEP_OK);
    ck_assert_int_eq(cep_pool_stats(p, &st), CEP_OK);
    ck_assert_int_eq(st.events, 5);
    free(t);
    cep_pool_free(p);
}
END_TEST

/* The pool's counters are the sums of its engines', the byte counts too:
 * a pool of one thread is one engine, and reads as the same engine fed
 * alone. */
START_TEST(pool_stats_sums) {
    static const char *ev[] = {"{\"t\":1,\"type\":\"a\",\"user\":1,\"amount\":1,\"id\":1,\"item\":\"x\"}",
                               "{\"t\":2,\"type\":\"a\",\"user\":2,\"amount\":2,\"id\":2,\"item\":\"y\"}",
                               "{\"t\":3,\"type\":\"a\",\"user\":3,\"amount\":3,\"id\":3,\"item\":\"z\"}"};
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(prog, &e), CEP_OK);
    ck_assert_int_eq(cep_engine_set_time_field(e, "t"), CEP_OK);
    for (unsigned threads = 1; threads <= 2; threads++) {
        cep_pool *p = NULL;
        ck_assert_int_eq(cep_pool_new(prog, threads, stop_configure, NULL, &p), CEP_OK); /* time field t; no match here */
        for (int i = 0; i < 3; i++) {
            ck_assert_int_eq(cep_pool_push_json(p, ev[i], strlen(ev[i])), CEP_OK);
            if (threads == 1) ck_assert_int_eq(cep_engine_push_json(e, ev[i], strlen(ev[i])), CEP_OK);
        }
        cep_stats ps, es;
        ck_assert_int_eq(cep_pool_stats(p, &ps), CEP_OK);
        cep_engine_stats(e, &es);
        ck_assert_uint_gt(ps.stored_events, 0);
        ck_assert_uint_gt(ps.stored_bytes, 0);
        ck_assert_uint_gt(ps.pool_idle + ps.stored_bytes, 0);
        if (threads == 1) {
            ck_assert_uint_eq(ps.stored_events, es.stored_events);
            ck_assert_uint_eq(ps.stored_bytes, es.stored_bytes);
        }
        cep_pool_free(p);
    }
    cep_engine_free(e);
}
END_TEST

/* An event at exactly the stream's watermark runs at once in a pool as in
 * one engine: the router moves its engine to the watermark, and an engine
 * that has seen only its own keys' events must not hold it back (it did,
 * and a straggler then overtook it: a match became a timeout). */
typedef struct wm_out {
    char text[4][256];
} wm_out;

static int wm_on(void *ud, const cep_match *m) {
    char *t = ud;
    size_t n = strlen(t);
    snprintf(t + n, 256 - n, "%s %" PRId64 "-%" PRId64 ";", cep_match_is_timeout(m) ? "T" : "M", cep_match_start(m),
             cep_match_end(m));
    return 0;
}

static int wm_configure(void *ud, cep_engine *e, unsigned index) {
    wm_out *o = ud;
    cep_engine_set_max_delay(e, 100);
    cep_engine_set_allowed_lateness(e, 100);
    cep_engine_on_match(e, wm_on, o->text[index % 4]);
    cep_engine_on_timeout(e, wm_on, o->text[index % 4]);
    return CEP_OK;
}

START_TEST(pool_event_at_watermark) {
    use_program("pattern p key user begin a where type == \"a\" followedBy b where type == \"b\" within 1000ms\n");
    unsigned ne = cep_pool_engine_count(2);
    ck_assert_uint_le(ne, 4);
    int64_t x = 1, y = 2;
    while (partition_int(y, ne) == partition_int(x, ne)) y++;
    struct {
        int64_t t, user;
        const char *type;
    } evs[] = {{1000, x, "c"}, {900, y, "b"}, {850, y, "a"}};
    cep_event *ev = NULL;
    ck_assert_int_eq(cep_event_new(prog, &ev), CEP_OK);
    wm_out one = {0}, pooled = {0};
    cep_engine *e = NULL;
    cep_pool *p = NULL;
    ck_assert_int_eq(cep_engine_new(prog, &e), CEP_OK);
    wm_configure(&one, e, 0);
    ck_assert_int_eq(cep_pool_new(prog, 2, wm_configure, &pooled, &p), CEP_OK);
    for (int i = 0; i < 3; i++) {
        cep_event_clear(ev);
        cep_event_set_time(ev, evs[i].t);
        cep_event_set_int(ev, s_user, evs[i].user);
        cep_event_set_string(ev, s_type, evs[i].type, strlen(evs[i].type));
        ck_assert_int_eq(cep_engine_push(e, ev), CEP_OK);
        ck_assert_int_eq(cep_pool_push(p, ev), CEP_OK);
    }
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    ck_assert_int_eq(cep_pool_finish(p), CEP_OK);
    ck_assert_str_eq(one.text[0], "T 850-850;");
    char merged[1024] = "";
    for (int i = 0; i < 4; i++) strcat(merged, pooled.text[i]);
    ck_assert_str_eq(merged, one.text[0]);
    cep_pool_free(p);
    cep_engine_free(e);
    cep_event_free(ev);
}
END_TEST

/* After a shard's error, cep_pool_sync still waits for the other engines'
 * queued work: no callback runs after it returns. */
static atomic_int err_calls;
static int err_on(void *ud, const cep_match *m) {
    (void)ud;
    (void)m;
    return atomic_fetch_add(&err_calls, 1) + 1 == 10; /* the tenth stops its engine */
}

static int err_configure(void *ud, cep_engine *e, unsigned index) {
    (void)ud;
    (void)index;
    cep_engine_on_match(e, err_on, NULL);
    return cep_engine_set_time_field(e, "t");
}

START_TEST(pool_sync_after_error) {
    use_program("pattern p key user begin a where type == \"a\"\n");
    cep_pool *p = NULL;
    atomic_store(&err_calls, 0);
    ck_assert_int_eq(cep_pool_new(prog, 3, err_configure, NULL, &p), CEP_OK);
    cep_event *ev = NULL;
    ck_assert_int_eq(cep_event_new(prog, &ev), CEP_OK);
    int rc = CEP_OK;
    for (int i = 0; i < 5000 && rc == CEP_OK; i++) {
        cep_event_clear(ev);
        cep_event_set_time(ev, i);
        cep_event_set_int(ev, s_user, i % 97);
        cep_event_set_string(ev, s_type, "a", 1);
        rc = cep_pool_push(p, ev);
    }
    ck_assert_int_eq(cep_pool_sync(p), CEP_ECALLBACK);
    int seen = atomic_load(&err_calls);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    ck_assert_int_eq(atomic_load(&err_calls), seen);
    ck_assert_int_eq(cep_pool_finish(p), CEP_ECALLBACK);
    ck_assert_int_eq(atomic_load(&err_calls), seen);
    cep_event_free(ev);
    cep_pool_free(p);
}
END_TEST

START_TEST(partition_option) {
    cep_engine *e;
    ck_assert_int_eq(cep_engine_new(prog, &e), CEP_OK);
    ck_assert_int_eq(cep_engine_set_partition(e, 2, 2), CEP_EINVAL);
    ck_assert_int_eq(cep_engine_set_partition(e, 0, 0), CEP_EINVAL);
    ck_assert_int_eq(cep_engine_set_partition(e, 1, 2), CEP_OK);
    ck_assert_int_eq(cep_engine_push_json(e, "{\"ts\":1}", 8), CEP_OK);
    ck_assert_int_eq(cep_engine_set_partition(e, 0, 2), CEP_EINVAL); /* started */
    cep_engine_free(e);

    /* Separate engines over the whole stream, each with its partition: the
     * matches add up to one engine's. */
    gen_event *gv = make_stream(5000);
    int total = 0, one = 0;
    for (unsigned k = 0; k <= 3; k++) {
        ck_assert_int_eq(cep_engine_new(prog, &e), CEP_OK);
        if (k) ck_assert_int_eq(cep_engine_set_partition(e, k - 1, 3), CEP_OK);
        cep_engine_set_time_field(e, "t");
        cep_engine_set_max_delay(e, 60);
        int n = 0;
        cep_engine_on_match(e, count_cb, &n);
        cep_event *ev;
        ck_assert_int_eq(cep_event_new(prog, &ev), CEP_OK);
        for (size_t i = 0; i < 5000; i++) {
            fill(ev, &gv[i]);
            ck_assert_int_eq(cep_engine_push(e, ev), CEP_OK);
        }
        ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
        if (k) total += n;
        else one = n;
        cep_event_free(ev);
        cep_engine_free(e);
    }
    ck_assert_int_gt(one, 0);
    ck_assert_int_eq(total, one);
    free(gv);
}
END_TEST


/* ---- snapshots across engines and pools -------------------------------------- */

int to_buf(void *ud, const void *data, size_t len) {
    snap_buf *b = ud;
    if (b->n + len > b->cap) {
        b->cap = (b->n + len) * 2;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    return 0;
}

/* The stream in stages: stage i (of nst) is run by an engine (threads[i]
 * 0) or a pool of threads[i] threads, restored from the snapshot the
 * previous stage ended with. */
static void run_staged(const options *o, const gen_event *gv, size_t n, const unsigned *threads, size_t nst,
                       collector *merged, cep_stats *st) {
    collector *c = calloc(KEY_GROUPS, sizeof *c);
    ck_assert_ptr_nonnull(c);
    config cf = {o, c};
    cep_event *ev;
    ck_assert_int_eq(cep_event_new(prog, &ev), CEP_OK);
    snap_buf snap = {0};
    for (size_t stage = 0; stage < nst; stage++) {
        cep_engine *e = NULL;
        cep_pool *p = NULL;
        unsigned nt = threads[stage];
        if (nt) {
            ck_assert_int_eq(cep_pool_new(prog, nt, configure, &cf, &p), CEP_OK);
            if (o->churn) pool_set_churn(p, o->churn);
            if (stage) ck_assert_msg(cep_pool_restore(p, snap.p, snap.n) == CEP_OK, "%s", cep_pool_error(p));
        } else {
            ck_assert_int_eq(cep_engine_new(prog, &e), CEP_OK);
            ck_assert_int_eq(configure(&cf, e, 0), CEP_OK);
            if (stage) ck_assert_msg(cep_engine_restore(e, snap.p, snap.n) == CEP_OK, "%s", cep_engine_error(e));
        }
        for (size_t i = stage * n / nst; i < (stage + 1) * n / nst; i++) {
            const gen_event *g = &gv[i];
            if (o->watermarks && g->watermark)
                ck_assert_int_eq(p ? cep_pool_advance_watermark(p, g->watermark)
                                   : cep_engine_advance_watermark(e, g->watermark),
                                 CEP_OK);
            fill(ev, g);
            ck_assert_int_eq(p ? cep_pool_push(p, ev) : cep_engine_push(e, ev), CEP_OK);
        }
        if (stage + 1 < nst) {
            snap.n = 0;
            ck_assert_int_eq(p ? cep_pool_snapshot(p, to_buf, &snap) : cep_engine_snapshot(e, to_buf, &snap), CEP_OK);
        } else {
            ck_assert_int_eq(p ? cep_pool_finish(p) : cep_engine_finish(e), CEP_OK);
            if (p) ck_assert_int_eq(cep_pool_stats(p, st), CEP_OK);
            else cep_engine_stats(e, st);
        }
        cep_pool_free(p);
        cep_engine_free(e);
        /* Late events come from engine 0 alone, in order, in every stage. */
        for (unsigned s = 0; s < KEY_GROUPS; s++) {
            for (size_t i = 0; i < c[s].out.n; i++) add(&merged->out, c[s].out.v[i].key, c[s].out.v[i].text);
            for (size_t i = 0; i < c[s].late.n; i++) add(&merged->late, "", c[s].late.v[i].text);
            lines_free(&c[s].out);
            lines_free(&c[s].late);
        }
    }
    free(snap.p);
    free(c);
    cep_event_free(ev);
}

/* Each staging against the uninterrupted engine: per key the same lines,
 * the same late events, the same counters. */
static void compare_staged(const options *o, size_t n) {
    static const unsigned stagings[][4] = {
        {3, 1},       /* N -> M, fewer */
        {1, 4},       /* M -> N, more */
        {2, 3, 2},    /* and back */
        {0, 3, 0},    /* engine -> pool -> engine */
        {4, 0, 2, 0}, /* pool -> engine -> pool -> engine */
    };
    static const size_t nstages[] = {2, 2, 3, 3, 4};
    gen_event *gv = make_stream(n);
    collector one = {0};
    cep_stats s1;
    run(o, gv, n, 0, &one, &s1);
    ck_assert_msg(one.out.n > 100, "too few matches to compare (%zu)", one.out.n);
    for (size_t k = 0; k < sizeof nstages / sizeof *nstages; k++) {
        collector many = {0};
        cep_stats sp;
        run_staged(o, gv, n, stagings[k], nstages[k], &many, &sp);
        char what[64];
        snprintf(what, sizeof what, "staging %zu (%u, %u, ...)", k, stagings[k][0], stagings[k][1]);
        assert_same_per_key(&one.out, &many.out, what);
        ck_assert_int_eq(one.late.n, many.late.n);
        for (size_t i = 0; i < one.late.n; i++) ck_assert_str_eq(one.late.v[i].text, many.late.v[i].text);
        ck_assert_int_eq(sp.events, s1.events);
        ck_assert_int_eq(sp.matches, s1.matches);
        ck_assert_int_eq(sp.timeouts, s1.timeouts);
        ck_assert_int_eq(sp.late, s1.late);
        ck_assert_int_eq(sp.stragglers, s1.stragglers);
        ck_assert_int_eq(sp.partial_matches, 0);
        lines_free(&many.out);
        lines_free(&many.late);
    }
    lines_free(&one.out);
    lines_free(&one.late);
    free(gv);
}

START_TEST(rescale_out_of_order) {
    /* Several key layouts (an event goes to several engines), events held
     * back at every cut, late events, watermark lines. */
    options o = {.max_delay = 60, .watermarks = 1};
    compare_staged(&o, 12000);
}
END_TEST

START_TEST(rescale_lateness_ttl) {
    options o = {.max_delay = 40, .lateness = 300, .ttl = 150, .watermarks = 1};
    compare_staged(&o, 12000);
}
END_TEST

START_TEST(rescale_int_key) {
    /* One integer key: the router's shortcut, one engine per event. */
    use_program(patterns_int_key);
    options o = {.max_delay = 60, .lateness = 100, .watermarks = 1};
    compare_staged(&o, 12000);
}
END_TEST

START_TEST(rescale_churn) {
    /* Engines moving between threads when the snapshots are taken. */
    options o = {.max_delay = 60, .watermarks = 1, .churn = 64};
    compare_staged(&o, 8000);
}
END_TEST

START_TEST(pool_restore_refuses) {
    options o = {.max_delay = 10};
    collector c[8];
    memset(c, 0, sizeof c);
    config cf = {&o, c};
    cep_pool *p = NULL;
    ck_assert_int_eq(cep_pool_new(prog, 2, configure, &cf, &p), CEP_OK);
    cep_event *ev;
    ck_assert_int_eq(cep_event_new(prog, &ev), CEP_OK);
    gen_event *gv = make_stream(500);
    for (size_t i = 0; i < 500; i++) {
        fill(ev, &gv[i]);
        ck_assert_int_eq(cep_pool_push(p, ev), CEP_OK);
    }
    snap_buf snap = {0};
    ck_assert_int_eq(cep_pool_snapshot(p, to_buf, &snap), CEP_OK);
    /* A used pool takes no snapshot. */
    ck_assert_int_eq(cep_pool_restore(p, snap.p, snap.n), CEP_EINVAL);
    cep_pool_free(p);
    /* Damaged, truncated, foreign: refused, and the pool is still new. */
    ck_assert_int_eq(cep_pool_new(prog, 3, configure, &cf, &p), CEP_OK);
    snap.p[snap.n / 2] ^= 1;
    ck_assert_int_eq(cep_pool_restore(p, snap.p, snap.n), CEP_ECORRUPT);
    ck_assert_str_eq(cep_pool_error(p), "snapshot is corrupted");
    snap.p[snap.n / 2] ^= 1;
    ck_assert_int_eq(cep_pool_restore(p, snap.p, snap.n - 9), CEP_ETRUNCATED);
    ck_assert_str_eq(cep_pool_error(p), "snapshot is truncated");
    ck_assert_int_eq(cep_pool_restore(p, "not a snapshot", 14), CEP_EFORMAT);
    ck_assert_str_eq(cep_pool_error(p), "not a Cepheus snapshot, or an unsupported version");
    /* A newer snapshot version (after the 8-byte magic), and a byte after
     * the end. */
    snap.p[8] = 3;
    ck_assert_int_eq(cep_pool_restore(p, snap.p, snap.n), CEP_EFORMAT);
    snap.p[8] = 2;
    unsigned char *longer = malloc(snap.n + 1);
    memcpy(longer, snap.p, snap.n);
    longer[snap.n] = 'x';
    ck_assert_int_eq(cep_pool_restore(p, longer, snap.n + 1), CEP_ETRUNCATED);
    free(longer);
    cep_program *other = NULL;
    ck_assert_int_eq(cep_compile(NULL, patterns_int_key, strlen(patterns_int_key), NULL, &other, NULL), CEP_OK);
    cep_pool *q = NULL;
    ck_assert_int_eq(cep_pool_new(other, 2, NULL, NULL, &q), CEP_OK);
    ck_assert_int_eq(cep_pool_restore(q, snap.p, snap.n), CEP_EPROGRAM);
    ck_assert_str_eq(cep_pool_error(q), "snapshot was made by a different program");
    cep_pool_free(q);
    cep_program_free(other);
    ck_assert_int_eq(cep_pool_restore(p, snap.p, snap.n), CEP_OK);
    ck_assert_int_eq(cep_pool_finish(p), CEP_OK);
    cep_pool_free(p);
    for (int i = 0; i < 8; i++) lines_free(&c[i].out), lines_free(&c[i].late);
    free(snap.p);
    free(gv);
    cep_event_free(ev);
}
END_TEST

/* A program change under a pool (SIGHUP under --threads) against the same
 * change under one engine: patterns kept keep their state, a new pattern
 * with another key sees the events buffered before the change. */
static const char patterns_changed[] =
    "pattern by_user\n"
    "  key user\n"
    "  begin a where type == \"a\" and id >= 0\n"
    "  followedBy b where type == \"b\" and amount > a.amount\n"
    "  within 400ms\n"
    "pattern by_name\n"
    "  key name\n"
    "  begin a where type == \"c\"\n"
    "  followedBy b where type == \"a\"\n"
    "  within 100ms\n";

static void run_reload(const options *o, const gen_event *gv, size_t n, unsigned nt, cep_program *np,
                       collector *merged) {
    collector *c = calloc(KEY_GROUPS, sizeof *c);
    config cf = {o, c};
    cep_engine *e = NULL;
    cep_pool *p = NULL;
    if (nt) {
        ck_assert_int_eq(cep_pool_new(prog, nt, configure, &cf, &p), CEP_OK);
    } else {
        ck_assert_int_eq(cep_engine_new(prog, &e), CEP_OK);
        ck_assert_int_eq(configure(&cf, e, 0), CEP_OK);
    }
    cep_event *ev, *ev2;
    ck_assert_int_eq(cep_event_new(prog, &ev), CEP_OK);
    ck_assert_int_eq(cep_event_new(np, &ev2), CEP_OK);
    for (size_t i = 0; i < n; i++) {
        if (i == n / 2) {
            int rc = p ? cep_pool_replace_program(p, np) : cep_engine_replace_program(e, np);
            ck_assert_msg(rc == CEP_OK, "%s", p ? cep_pool_error(p) : cep_engine_error(e));
        }
        char text[256];
        size_t len = json_of(text, sizeof text, &gv[i]);
        int rc = p ? cep_pool_push_json(p, text, len) : cep_engine_push_json(e, text, len);
        ck_assert_int_eq(rc, CEP_OK);
    }
    ck_assert_int_eq(p ? cep_pool_finish(p) : cep_engine_finish(e), CEP_OK);
    cep_pool_free(p);
    cep_engine_free(e);
    for (unsigned s = 0; s < KEY_GROUPS; s++) {
        for (size_t i = 0; i < c[s].out.n; i++) add(&merged->out, c[s].out.v[i].key, c[s].out.v[i].text);
        for (size_t i = 0; i < c[s].late.n; i++) add(&merged->late, "", c[s].late.v[i].text);
        lines_free(&c[s].out);
        lines_free(&c[s].late);
    }
    free(c);
    cep_event_free(ev);
    cep_event_free(ev2);
}

START_TEST(pool_replace_program) {
    cep_program *np = NULL;
    ck_assert_int_eq(cep_compile(NULL, patterns_changed, strlen(patterns_changed), NULL, &np, NULL), CEP_OK);
    options o = {.max_delay = 200};
    gen_event *gv = make_stream(8000);
    collector one = {0};
    line_by_time = 1;
    run_reload(&o, gv, 8000, 0, np, &one);
    ck_assert_msg(one.out.n > 100, "too few matches (%zu)", one.out.n);
    for (unsigned nt = 1; nt <= 3; nt++) {
        collector many = {0};
        run_reload(&o, gv, 8000, nt, np, &many);
        char what[32];
        snprintf(what, sizeof what, "reload, %u threads", nt);
        assert_same_per_key(&one.out, &many.out, what);
        lines_free(&many.out);
        lines_free(&many.late);
    }
    line_by_time = 0;
    lines_free(&one.out);
    lines_free(&one.late);
    free(gv);
    cep_program_free(np);
}
END_TEST

/* The same under a state TTL, one thread: the pool's one engine is made
 * anew for the new program (engine_like) and must keep one `within` entry
 * per window, as an engine with a TTL does (timers_per_key): else a
 * window closed late, when the key's TTL entry or next event came, and
 * its timeout moved among the other keys' outputs. */
START_TEST(pool_replace_program_ttl) {
    cep_program *np = NULL;
    ck_assert_int_eq(cep_compile(NULL, patterns_changed, strlen(patterns_changed), NULL, &np, NULL), CEP_OK);
    options o = {.max_delay = 200, .ttl = 5000};
    gen_event *gv = make_stream(8000);
    collector one = {0}, many = {0};
    line_by_time = 1;
    run_reload(&o, gv, 8000, 0, np, &one);
    run_reload(&o, gv, 8000, 1, np, &many);
    ck_assert_uint_eq(one.out.n, many.out.n);
    for (size_t i = 0; i < one.out.n; i++)
        ck_assert_msg(!strcmp(one.out.v[i].text, many.out.v[i].text), "output %zu: %s, not %s", i, many.out.v[i].text,
                      one.out.v[i].text);
    line_by_time = 0;
    lines_free(&one.out);
    lines_free(&one.late);
    lines_free(&many.out);
    lines_free(&many.late);
    free(gv);
    cep_program_free(np);
}
END_TEST

Suite *pool_suite(void) {
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pool_in_order);
    tcase_add_test(tc, pool_out_of_order);
    tcase_add_test(tc, pool_lateness_ttl);
    tcase_add_test(tc, pool_json);
    tcase_add_test(tc, pool_processing_time);
    tcase_add_test(tc, pool_int_key_in_order);
    tcase_add_test(tc, pool_int_key_out_of_order);
    tcase_add_test(tc, pool_int_key_json);
    tcase_add_test(tc, pool_string_key);
    tcase_add_test(tc, pool_engine_count);
    tcase_add_test(tc, pool_errors);
    tcase_add_test(tc, pool_big_events);
    tcase_add_test(tc, pool_stats_sums);
    tcase_add_test(tc, pool_event_at_watermark);
    tcase_add_test(tc, pool_sync_after_error);
    tcase_add_test(tc, partition_option);
    tcase_add_test(tc, rescale_out_of_order);
    tcase_add_test(tc, rescale_lateness_ttl);
    tcase_add_test(tc, rescale_int_key);
    tcase_add_test(tc, rescale_churn);
    tcase_add_test(tc, pool_restore_refuses);
    tcase_add_test(tc, pool_replace_program);
    tcase_add_test(tc, pool_replace_program_ttl);
    suite_add_tcase(s, tc);
    return s;
}
