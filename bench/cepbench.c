/* cepbench.c — the benchmark behind `make bench`: generates each workload's
 * events with a fixed-seed PRNG, pushes them through the C API as pre-built
 * rows, and prints one line per (workload, configuration); W1 and W3 also run
 * the hand-written baseline (baseline.c) and must find the same matches.
 * Every configuration runs in its own child process so peak RSS is its own. */
#define _GNU_SOURCE
#include "cepheus.h"
#include "baseline.h"
#include "stocks.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jemalloc/jemalloc.h>
/* Weak, as in util/mem.c: without jemalloc linked (sanitizer builds) the
 * library allocates with malloc and the statistics are simply not shown. */
#pragma weak mallctl
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T0 1700000000000LL /* first event time, ms */
#define SAMPLE_EVERY 65536u
#define CHUNK 1024u        /* rows built (untimed) then pushed (timed) at a time */

/* ---- options --------------------------------------------------------------- */

static uint64_t opt_keys[8] = {1000, 100000, 1000000};
static int opt_nkeys = 3;
static uint64_t opt_events = 2000000;
static int opt_events_set;            /* --events given: W9 takes at most that many */
static const char *opt_only = NULL;   /* comma-separated workload names */
static const char *opt_tsv = NULL;    /* machine-readable results for plots */
static const char *opt_cepheus = NULL; /* path of the cepheus tool (CLI run) */
/* --metrics-reps N: the CLI line N times alternately without and with
 * `--metrics 127.0.0.1:0` (docs/operations.md: what the server costs). */
static int opt_metrics_reps = 0;
static int cli_metrics = 0;
static const char *opt_tmpdir = "/tmp";
static uint64_t opt_w6_limit = 64;
static uint64_t opt_per_key = 4; /* at least this many events per key */
static uint64_t opt_w9_events = 1000000; /* W9: events per STEP (issue 23's size) */
/* W9's STEPs; "n": the same stream with no AMAT qualifying (no match) */
static const char *opt_w9_steps = "200,100,50,25,200n,100n,50n,25n,12n,6n";
static unsigned opt_threads[8];  /* --threads: pool sizes to time (wall clock) */
static int opt_no_latency;      /* --no-latency: no latency lines */
static int opt_w8_stream = -1;  /* --w8 dense|sparse: that stream only (-1: both) */
static int opt_rules[8];         /* --rules: W8's rule counts (default 1,10,100,1000,10000) */
static int opt_nrules;
static int opt_nthreads;
static unsigned run_threads;     /* the child's: 0 one engine, else a pool */
static int wall_mode;            /* the child's: time by the wall clock */
static int failures;

/* ---- PRNG (splitmix64: fixed seeds, same stream everywhere) ----------------- */

static inline uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rng_below(uint64_t *s, uint64_t n) {
    return (uint64_t)(((unsigned __int128)rng_next(s) * n) >> 64);
}

/* ---- workloads ------------------------------------------------------------------ */

enum wl_kind { W1, W2, W3, W4, W5, W6, W7, W8, W9 };

typedef struct wl {
    enum wl_kind kind;
    const char *name;   /* W1 .. W7, CLI */
    char config[64];    /* e.g. "L=6 never" */
    int L;              /* W3/W4: pattern length */
    int never;          /* W3/W4: the last step's event never occurs */
    int64_t within_ms;  /* the pattern's window (W7: its typical one) */
    int64_t gap_ms;     /* mean time between two events of one key */
    uint64_t max_pms;   /* partial-match limit per key (0: none) */
    int has_baseline;
    int rules;          /* W8: how many rules */
    int sparse;         /* W8: 99% of events of types no rule names */
    int step;           /* W9: stock_time between two events */
} wl;

/* The event generator: time advances evenly so that each key sees one
 * event per gap_ms on average; keys are drawn uniformly. */
typedef struct gen {
    uint64_t rng;
    uint64_t i, keys;
    const wl *w;
    uint8_t *last; /* W3/W4: last type per key (Markov chain) */
} gen;

static void gen_init(gen *g, const wl *w, uint64_t keys) {
    g->rng = 0xC0FFEE ^ ((uint64_t)w->kind << 32) ^ (uint64_t)w->L;
    g->i = 0;
    g->keys = keys;
    g->w = w;
    g->last = NULL;
    if (w->kind == W3 || w->kind == W4) {
        g->last = calloc(keys + 1, 1);
        if (!g->last) abort();
    }
}

static void gen_free(gen *g) { free(g->last); }

static inline void gen_next(gen *g, bev *e) {
    const wl *w = g->w;
    uint64_t r;
    e->t = T0 + (int64_t)((g->i++ * (uint64_t)w->gap_ms) / g->keys);
    e->key = (int64_t)rng_below(&g->rng, g->keys) + 1;
    e->item = 0;
    e->amount = 0;
    switch (w->kind) {
    case W1: /* 70% clicks, 30% purchases, 8 items */
        r = rng_next(&g->rng);
        e->type = (r % 100) < 70 ? 1 : 2;
        e->item = (int32_t)((r >> 32) % 8);
        break;
    case W2: /* 60% small (< 5), 35% ordinary, 5% large (>= 500) */
        r = rng_next(&g->rng);
        e->type = 0;
        if (r % 100 < 60) e->amount = 1 + (int64_t)((r >> 32) % 4);
        else if (r % 100 < 95) e->amount = 5 + (int64_t)((r >> 32) % 495);
        else e->amount = 500 + (int64_t)((r >> 32) % 1500);
        break;
    case W3:
    case W4: { /* a process walks its steps in order half of the time */
        uint8_t *last = &g->last[e->key];
        r = rng_next(&g->rng);
        int t = (r & 1) ? (*last % w->L) + 1 : 1 + (int)((r >> 32) % (uint64_t)w->L);
        *last = (uint8_t)t;
        if (w->never && t == w->L) t = 0; /* the last step never comes */
        e->type = t;
        break;
    }
    case W5: /* 40% add to cart, 40% view, 20% purchase */
        r = rng_below(&g->rng, 100);
        e->type = r < 40 ? 1 : r < 80 ? 2 : 3;
        break;
    case W6: /* 10% a, 70% b, 20% c */
        r = rng_below(&g->rng, 100);
        e->type = r < 10 ? 1 : r < 80 ? 2 : 3;
        break;
    case W7:
        r = rng_next(&g->rng);
        e->type = (int32_t)(r % 50);
        e->amount = (int64_t)((r >> 32) % 1000);
        break;
    case W8: /* type t0..t99 (0..99), or for 99% of sparse events u0..u99 (100..199) */
        r = rng_next(&g->rng);
        e->type = (int32_t)(r % 100) + (w->sparse && (r >> 8) % 100 != 0 ? 100 : 0);
        e->amount = (int64_t)((r >> 32) % 1000);
        break;
    case W9: /* its own stream: stocks.c */
        break;
    }
}

/* W8's type names: "t0".."t99", then "u0".."u99". */
static const char *w8_type(int32_t t) {
    static char names[200][8];
    if (!names[0][0])
        for (int i = 0; i < 200; i++) snprintf(names[i], sizeof names[i], "%c%d", i < 100 ? 't' : 'u', i % 100);
    return names[t];
}

/* Pattern text of a workload, into buf. */
static void pattern_text(const wl *w, char *buf, size_t cap) {
    size_t n = 0;
#define ADD(...) (n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__))
    switch (w->kind) {
    case W1:
        ADD("pattern click_to_purchase\n"
            "  key user_id\n"
            "  begin click where type == \"click\"\n"
            "  followedBy purchase where type == \"purchase\" and item == click.item\n"
            "  within 10m\n"
            "  skip pastLastEvent\n"
            "  emit user = click.user_id, item = click.item,\n"
            "       waited_ms = purchase.ts - click.ts\n");
        break;
    case W2:
        ADD("pattern card_testing\n"
            "  key card\n"
            "  begin small{3,} where amount < 5\n"
            "  followedBy large where amount >= 500\n"
            "  within 1m\n"
            "  skip pastLastEvent\n");
        break;
    case W3:
    case W4:
        ADD("pattern seq\n  key k\n  begin a1 where type == 1\n");
        for (int j = 2; j <= w->L; j++) ADD("  followedBy a%d where type == %d\n", j, j);
        ADD("  within %" PRId64 "ms\n", w->within_ms);
        break;
    case W5:
        ADD("pattern abandoned_cart\n"
            "  key user\n"
            "  begin add where type == \"add\"\n"
            "  notFollowedBy buy where type == \"purchase\"\n"
            "  within 30m\n");
        break;
    case W6:
        ADD("pattern fanout\n"
            "  key k\n"
            "  begin a where type == 1\n"
            "  followedByAny b+ where type == 2\n"
            "  followedBy c where type == 3\n"
            "  within 5m\n");
        break;
    case W8: { /* the rule set: X_I uniform in 0..999, fixed seed */
        uint64_t rng = 0x5EED08;
        for (int i = 0; i < w->rules; i++)
            ADD("pattern r%d\n  key card\n  begin a where type == \"t%d\" and amount >= %" PRIu64 "\n"
                "  followedBy b where type == \"t%d\" and amount > a.amount\n  within 1m\n",
                i, i % 100, rng_below(&rng, 1000), (7 * i + 3) % 100);
        break;
    }
    case W9: /* ../shared/peers/core/stocks_q2.cep; never: no AMAT qualifies */
        ADD("pattern q2\n"
            "  begin msft where type == \"SELL\" and name == \"MSFT\" and price > 26.0\n"
            "  followedByAny oracle where type == \"BUY\" and name == \"ORCL\" and price > 11.14\n"
            "  followedByAny csco where type == \"BUY\" and name == \"CSCO\"\n"
            "  followedByAny amat where type == \"SELL\" and name == \"AMAT\" and price >= %s\n"
            "  within 10000ms\n",
            w->never ? "1000.0" : "18.92");
        break;
    case W7:
        for (int i = 0; i < 100; i++) {
            int x = i % 50, y = (i * 7 + 3) % 50, z = (i * 13 + 5) % 50;
            ADD("pattern p%03d\n  key user\n", i);
            switch (i % 5) {
            case 0:
                ADD("  begin a where type == %d\n  followedBy b where type == %d\n"
                    "  within 5m\n", x, y);
                break;
            case 1:
                ADD("  begin a where type == %d and amount > 500\n"
                    "  next b where type == %d\n", x, y);
                break;
            case 2:
                ADD("  begin a where type == %d\n  followedBy b+ where type == %d\n"
                    "  followedBy c where type == %d\n  within 2m\n  skip pastLastEvent\n",
                    x, y, z);
                break;
            case 3:
                ADD("  begin a where type == %d\n  notFollowedBy b where type == %d\n"
                    "  within 10m\n", x, y);
                break;
            default:
                ADD("  begin a where type == %d\n"
                    "  followedBy b where type == %d and amount > a.amount\n"
                    "  within 5m\n  skip toNext\n", x, y);
                break;
            }
        }
        break;
    }
#undef ADD
}

/* ---- measurement helpers --------------------------------------------------------- */

/* CPU time of this process: the figures are per core, and other work on
 * the machine then disturbs them much less than it would wall-clock time. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time since t0, less what reading the clock costs: a chunk of 1,024
 * events is timed by two reads of the process's CPU clock, a system call
 * (~0.8 us of CPU on this machine: 0.8 ns an event, 3% of a sparse W8
 * event at one rule, which flattened the 1,000-to-1 ratio). The cost is
 * the least of 64 back-to-back readings, so nothing real is taken off. */
static double chunk_s(double t0) {
    static double cost = -1;
    double now = cpu_s();
    if (cost < 0) {
        cost = 1;
        for (int i = 0; i < 64; i++) {
            double a = cpu_s(), d = cpu_s() - a;
            if (d < cost) cost = d;
        }
    }
    double d = now - t0 - cost;
    return d > 0 ? d : 0;
}

static int je_present(void) { return mallctl != NULL; }

static void je_epoch(void) {
    if (!je_present()) return;
    uint64_t e = 1;
    size_t sz = sizeof e;
    mallctl("epoch", &e, &sz, &e, sz);
}

static uint64_t je_u64(const char *name) {
    uint64_t v = 0;
    size_t sz = sizeof v;
    if (!je_present() || mallctl(name, &v, &sz, NULL, 0) != 0) return 0;
    return v;
}

static size_t je_size(const char *name) {
    size_t v = 0, sz = sizeof v;
    if (!je_present() || mallctl(name, &v, &sz, NULL, 0) != 0) return 0;
    return v;
}

/* Heap allocation requests so far, all arenas (tcache hits included). */
static uint64_t je_requests(void) {
    je_epoch();
    return je_u64("stats.arenas.4096.small.nrequests") + je_u64("stats.arenas.4096.large.nrequests");
}

static size_t je_allocated(void) {
    je_epoch();
    return je_size("stats.allocated");
}

static long maxrss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* What a child sends back to the parent. */
typedef struct result {
    int ok;
    char msg[600];
    uint64_t events, matches, checksum, peak_pms, timeouts, dropped;
    double secs;
    long rss_kb;
    double bytes_per_pm;  /* engine heap / live partial matches, at the peak */
    double pm_bytes;      /* the same without the stored events' bytes */
    double events_per_pm; /* stored event copies per live partial match */
    double allocs_per_ev; /* second half of the run; < 0: not measurable */
    double windows;       /* event-time span of the run / the window */
    double cpu;           /* --threads lines: CPU seconds of all threads */
    double lat[2][3];     /* latency lines: push and push-to-callback, p50 p99 p99.9, ns */
    uint64_t nlat[2];     /* ... how many of each were timed */
    double idle_bytes;    /* idle lines: heap of the program and an engine without state */
    double prog_bytes;    /* ... of the program alone */
    double live_pms;      /* W9: live partial matches, mean over the run */
} result;

/* ---- Cepheus through the C API ------------------------------------------------------ */

typedef struct slots {
    int ts, key, type, item, amount;
} slots;

typedef struct mctx {
    uint64_t count, sum;
} mctx;

/* Latency mode (the child's): every push timed on its own by the
 * monotonic clock, and every match callback against the start of the
 * push that made it. */
static int lat_mode;
static double lat_t0;          /* start of the push under way; 0: none */
static double *lat_cb;         /* callback delays, ns */
static size_t lat_ncb, lat_cbcap;

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int on_match(void *ud, const cep_match *m) {
    mctx *c = ud;
    cep_value k = cep_match_key(m, 0);
    if (lat_mode && lat_t0 > 0) { /* (matches that finishing releases have no push) */
        if (lat_ncb == lat_cbcap) {
            lat_cbcap = lat_cbcap ? 2 * lat_cbcap : 4096;
            if (!(lat_cb = realloc(lat_cb, lat_cbcap * sizeof *lat_cb))) abort();
        }
        lat_cb[lat_ncb++] = (mono_s() - lat_t0) * 1e9;
    }
    c->count++;
    c->sum += bench_match_hash(k.u.i, cep_match_start(m), cep_match_end(m));
    return 0;
}

static const char *const w1_types[] = {"", "click", "purchase"};
static const char *const w5_types[] = {"", "add", "view", "purchase"};

static inline int fill(cep_event *ev, const slots *s, const wl *w, const bev *e) {
    int rc = cep_event_set_time(ev, e->t);
    if (s->ts >= 0) rc |= cep_event_set_int(ev, s->ts, e->t);
    rc |= cep_event_set_int(ev, s->key, e->key);
    if (w->kind == W1 || w->kind == W5 || w->kind == W8) {
        const char *t = w->kind == W8 ? w8_type(e->type) : (w->kind == W1 ? w1_types : w5_types)[e->type];
        rc |= cep_event_set_string(ev, s->type, t, strlen(t));
    } else if (s->type >= 0) {
        rc |= cep_event_set_int(ev, s->type, e->type);
    }
    if (s->item >= 0) rc |= cep_event_set_int(ev, s->item, e->item);
    if (s->amount >= 0) rc |= cep_event_set_int(ev, s->amount, e->amount);
    return rc;
}

static int slot_of(const cep_program *p, const char *a, const char *b) {
    int s = cep_program_field_slot(p, a);
    if (s < 0 && b) s = cep_program_field_slot(p, b);
    return s < 0 ? -1 : s;
}

static int cmp_double(const void *a, const void *b);

/* p50, p99 and p99.9 of v[0..n) (sorted here) into out; 0 when empty. */
static void percentiles(double *v, size_t n, double out[3]) {
    static const double q[3] = {0.50, 0.99, 0.999};
    qsort(v, n, sizeof *v, cmp_double);
    for (int i = 0; i < 3; i++) out[i] = n ? v[(size_t)(q[i] * (double)(n - 1))] : 0;
}

/* The end of input, timed with the rest, and what every engine run
 * reports from it; count and sum are read after finishing, which emits
 * the matches held to the end. -1 with res->msg set when it failed. */
static int finish_engine(cep_engine *eng, result *res, double secs, uint64_t n, const uint64_t *count,
                         const uint64_t *sum, cep_stats *st) {
    double t0 = cpu_s();
    if (cep_engine_finish(eng) != CEP_OK) {
        snprintf(res->msg, sizeof res->msg, "finish: %s", cep_engine_error(eng));
        return -1;
    }
    res->secs = secs + cpu_s() - t0;
    cep_engine_stats(eng, st);
    res->events = n;
    res->matches = *count;
    res->checksum = *sum;
    res->peak_pms = st->peak_partial_matches;
    return 0;
}

static void run_cepheus(const wl *w, uint64_t keys, uint64_t n, result *res) {
    static char text[2 << 20]; /* W8: 10,000 rules */
    pattern_text(w, text, sizeof text);
    cep_program *prog = NULL;
    cep_diag *diag = NULL;
    if (cep_compile(NULL, text, strlen(text), w->name, &prog, &diag) != CEP_OK) {
        snprintf(res->msg, sizeof res->msg, "compile: %.120s", cep_diag_render(diag));
        cep_diag_free(diag);
        return;
    }
    cep_diag_free(diag);
    slots s = {
        .ts = slot_of(prog, "ts", NULL),
        .key = slot_of(prog, "user_id", (w->kind == W2 || w->kind == W8) ? "card" : (w->kind == W5 || w->kind == W7) ? "user" : "k"),
        .type = slot_of(prog, "type", NULL),
        .item = slot_of(prog, "item", NULL),
        .amount = slot_of(prog, "amount", NULL),
    };
    cep_engine *eng = NULL;
    if (cep_engine_new(prog, &eng) != CEP_OK) {
        snprintf(res->msg, sizeof res->msg, "engine_new failed");
        return;
    }
    if (w->max_pms) cep_engine_set_max_partial_matches(eng, w->max_pms, CEP_LIMIT_DROP_OLDEST);
    mctx mc = {0, 0};
    cep_engine_on_match(eng, on_match, &mc);
    gen g;
    gen_init(&g, w, keys);
    /* Rows are built a chunk at a time, untimed; only pushing them is
     * timed (the "pre-built event rows"; the gen line shows what
     * building them costs). */
    static cep_event *rows[CHUNK];
    for (size_t j = 0; j < CHUNK; j++)
        if (cep_event_new(prog, &rows[j]) != CEP_OK) {
            snprintf(res->msg, sizeof res->msg, "event_new failed");
            return;
        }
    size_t base_alloc = je_allocated();
    uint64_t half = n / 2, req_half = 0, req_end;
    double *lat_push = NULL;
    size_t lat_npush = 0;
    if (lat_mode && !(lat_push = malloc((n ? n : 1) * sizeof *lat_push))) abort();
    double best_b = 0, best_e = 0, best_pb = 0, secs = 0;
    uint64_t best_pms = 0;
    bev e;
    for (uint64_t i = 0; i < n;) {
        uint64_t m = n - i < CHUNK ? n - i : CHUNK;
        for (uint64_t j = 0; j < m; j++) {
            gen_next(&g, &e);
            if (fill(rows[j], &s, w, &e) != CEP_OK) {
                snprintf(res->msg, sizeof res->msg, "fill failed");
                return;
            }
        }
        double t0 = cpu_s();
        int rc = CEP_OK;
        if (lat_mode) {
            /* One push at a time, each timed: the cost of a push (not
             * the batch's), and when its matches reach the callback. */
            for (uint64_t j = 0; j < m && rc == CEP_OK; j++) {
                lat_t0 = mono_s();
                rc = cep_engine_push(eng, rows[j]);
                lat_push[lat_npush++] = (mono_s() - lat_t0) * 1e9;
            }
            lat_t0 = 0;
        } else {
            rc = cep_engine_push_many(eng, (const cep_event *const *)rows, m, NULL);
        }
        if (rc != CEP_OK) {
            snprintf(res->msg, sizeof res->msg, "push: %s: %s", cep_strerror(rc), cep_engine_error(eng));
            return;
        }
        secs += chunk_s(t0);
        uint64_t before = i;
        i += m;
        if (before <= half && half < i) req_half = je_requests();
        if (i / SAMPLE_EVERY != before / SAMPLE_EVERY || i == n) {
            cep_stats st;
            cep_engine_stats(eng, &st);
            if (st.partial_matches > best_pms) {
                best_pms = st.partial_matches;
                size_t a = je_allocated();
                double heap = (double)(a > base_alloc ? a - base_alloc : 0);
                best_b = heap / (double)st.partial_matches;
                best_e = (double)st.stored_events / (double)st.partial_matches;
                /* In use, as jemalloc counts: not the engine pools' idle bytes. */
                best_pb = (heap - (double)st.pool_idle - (double)st.stored_bytes) / (double)st.partial_matches;
            }
        }
    }
    req_end = je_requests();
    cep_stats st;
    if (finish_engine(eng, res, secs, n, &mc.count, &mc.sum, &st) < 0) return;
    res->timeouts = st.timeouts;
    res->dropped = st.dropped;
    res->events_per_pm = best_e;
    res->allocs_per_ev = n - half > 0 ? (double)(req_end - req_half) / (double)(n - half) : 0;
    if (!je_present()) { /* the library allocates with malloc: not measurable */
        res->allocs_per_ev = -1;
        best_b = -1;
    }
    res->bytes_per_pm = best_b;
    res->pm_bytes = je_present() ? best_pb : -1;
    res->rss_kb = maxrss_kb();
    res->ok = 1;
    if (lat_mode) {
        percentiles(lat_push, lat_npush, res->lat[0]);
        percentiles(lat_cb, lat_ncb, res->lat[1]);
        res->nlat[0] = lat_npush;
        res->nlat[1] = lat_ncb;
        free(lat_push);
        free(lat_cb);
        lat_cb = NULL;
        lat_ncb = lat_cbcap = 0;
    }
    gen_free(&g);
    for (size_t j = 0; j < CHUNK; j++) cep_event_free(rows[j]);
    cep_engine_free(eng);
    cep_program_free(prog);
}

/* What w's rules cost with no state: the heap (jemalloc's count) that
 * compiling them and making an engine take, the text freed. */
static void run_idle(const wl *w, uint64_t keys, uint64_t n, result *res) {
    (void)keys, (void)n;
    static char text[2 << 20];
    pattern_text(w, text, sizeof text);
    size_t before = je_allocated();
    cep_program *prog = NULL;
    cep_engine *eng = NULL;
    double t0 = cpu_s();
    size_t mid = 0;
    if (cep_compile(NULL, text, strlen(text), w->name, &prog, NULL) != CEP_OK || !(mid = je_allocated()) ||
        cep_engine_new(prog, &eng) != CEP_OK) {
        snprintf(res->msg, sizeof res->msg, "compile or engine_new failed");
        return;
    }
    res->secs = cpu_s() - t0;
    size_t after = je_allocated();
    res->idle_bytes = je_present() ? (double)(after - before) : -1;
    res->prog_bytes = je_present() ? (double)(mid - before) : -1;
    res->rss_kb = maxrss_kb();
    res->ok = 1;
    cep_engine_free(eng);
    cep_program_free(prog);
}

/* ---- W9: CORE's stocks query, every combination (issue 23) ----------------------------- */

typedef struct w9ctx {
    uint64_t count, sum;
    int price;
} w9ctx;

/* Reads every match as a consumer would: each step's event, its time and
 * price. */
static int w9_on_match(void *ud, const cep_match *m) {
    w9ctx *c = ud;
    c->count++;
    size_t n = cep_match_step_count(m);
    for (size_t s = 0; s < n; s++) {
        const cep_event *ev = cep_match_event(m, s, 0);
        cep_value p = cep_event_value(ev, c->price);
        c->sum = c->sum * 31 + (uint64_t)cep_event_time(ev) + (uint64_t)(p.u.d * 100.0 + 0.5);
    }
    return 0;
}

/* gen_stocks.py's stream with STEP w->step, seed 7, through the C API. */
static void run_w9(const wl *w, uint64_t n, result *res) {
    static char text[4096];
    pattern_text(w, text, sizeof text);
    cep_program *prog = NULL;
    cep_engine *eng = NULL;
    if (cep_compile(NULL, text, strlen(text), w->name, &prog, NULL) != CEP_OK || cep_engine_new(prog, &eng) != CEP_OK) {
        snprintf(res->msg, sizeof res->msg, "compile or engine_new failed");
        return;
    }
    int st_type = slot_of(prog, "type", NULL), st_name = slot_of(prog, "name", NULL);
    w9ctx mc = {0, 0, slot_of(prog, "price", NULL)};
    cep_engine_on_match(eng, w9_on_match, &mc);
    static cep_event *rows[CHUNK];
    for (size_t j = 0; j < CHUNK; j++)
        if (cep_event_new(prog, &rows[j]) != CEP_OK) {
            snprintf(res->msg, sizeof res->msg, "event_new failed");
            return;
        }
    stocks_gen g;
    stocks_init(&g, 7, w->step);
    stock_ev e;
    double secs = 0, live = 0;
    uint64_t samples = 0;
    for (uint64_t i = 0; i < n;) {
        uint64_t m = n - i < CHUNK ? n - i : CHUNK;
        for (uint64_t j = 0; j < m; j++) {
            stocks_next(&g, &e);
            int rc = cep_event_set_time(rows[j], e.stock_time);
            rc |= cep_event_set_string(rows[j], st_type, e.type, strlen(e.type));
            rc |= cep_event_set_string(rows[j], st_name, e.name, strlen(e.name));
            rc |= cep_event_set_double(rows[j], mc.price, e.price);
            if (rc != CEP_OK) {
                snprintf(res->msg, sizeof res->msg, "fill failed");
                return;
            }
        }
        double t0 = cpu_s();
        int rc = cep_engine_push_many(eng, (const cep_event *const *)rows, m, NULL);
        secs += chunk_s(t0);
        if (rc != CEP_OK) {
            snprintf(res->msg, sizeof res->msg, "push: %s: %s", cep_strerror(rc), cep_engine_error(eng));
            return;
        }
        cep_stats st;
        cep_engine_stats(eng, &st);
        live += (double)st.partial_matches;
        samples++;
        i += m;
    }
    cep_stats st;
    if (finish_engine(eng, res, secs, n, &mc.count, &mc.sum, &st) < 0) return;
    res->live_pms = samples ? live / (double)samples : 0;
    res->allocs_per_ev = -1;
    res->bytes_per_pm = -1;
    res->pm_bytes = -1;
    res->windows = (double)n * (double)w->step / 10000.0;
    res->rss_kb = maxrss_kb();
    res->ok = 1;
    for (size_t j = 0; j < CHUNK; j++) cep_event_free(rows[j]);
    cep_engine_free(eng);
    cep_program_free(prog);
}

/* ---- threads: a pool through the C API, timed by the wall clock ---------------------- */

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct pool_ctx {
    mctx *mc; /* one per engine: engines run on several threads */
} pool_ctx;

static int pool_configure(void *ud, cep_engine *e, unsigned index) {
    pool_ctx *pc = ud;
    cep_engine_on_match(e, on_match, &pc->mc[index]);
    return CEP_OK;
}

/* W1 through cep_pool_push with run_threads shards, or through one engine
 * when run_threads is 0; wall-clock seconds, since a pool's point is to
 * use more than one core. */
static void run_pool(const wl *w, uint64_t keys, uint64_t n, result *res) {
    static char text[64 * 1024];
    pattern_text(w, text, sizeof text);
    cep_program *prog = NULL;
    if (cep_compile(NULL, text, strlen(text), w->name, &prog, NULL) != CEP_OK) {
        snprintf(res->msg, sizeof res->msg, "compile failed");
        return;
    }
    slots s = {slot_of(prog, "ts", NULL), slot_of(prog, "user_id", NULL), slot_of(prog, "type", NULL),
               slot_of(prog, "item", NULL), slot_of(prog, "amount", NULL)};
    unsigned nt = run_threads ? cep_pool_engine_count(run_threads) : 1;
    mctx *mc = calloc(nt, sizeof *mc);
    pool_ctx pc = {mc};
    cep_engine *eng = NULL;
    cep_pool *pool = NULL;
    cep_event *ev = NULL;
    int rc = run_threads ? cep_pool_new(prog, run_threads, pool_configure, &pc, &pool) : cep_engine_new(prog, &eng);
    if (rc == CEP_OK) rc = cep_event_new(prog, &ev);
    if (rc != CEP_OK || !mc) {
        snprintf(res->msg, sizeof res->msg, "pool_new: %s", cep_strerror(rc));
        return;
    }
    if (eng) pool_configure(&pc, eng, 0);
    gen g;
    gen_init(&g, w, keys);
    bev e;
    double t0 = wall_s(), c0 = cpu_s();
    for (uint64_t i = 0; i < n && rc == CEP_OK; i++) {
        gen_next(&g, &e);
        rc = fill(ev, &s, w, &e);
        if (rc == CEP_OK) rc = pool ? cep_pool_push(pool, ev) : cep_engine_push(eng, ev);
    }
    if (rc == CEP_OK) rc = pool ? cep_pool_finish(pool) : cep_engine_finish(eng);
    res->secs = wall_s() - t0;
    res->cpu = cpu_s() - c0;
    if (rc != CEP_OK) {
        snprintf(res->msg, sizeof res->msg, "push: %s", cep_strerror(rc));
        return;
    }
    cep_stats st;
    if (pool) cep_pool_stats(pool, &st);
    else cep_engine_stats(eng, &st);
    res->events = n;
    for (unsigned i = 0; i < nt; i++) res->matches += mc[i].count, res->checksum += mc[i].sum;
    res->peak_pms = st.peak_partial_matches;
    res->allocs_per_ev = -1;
    res->bytes_per_pm = -1;
    res->rss_kb = maxrss_kb();
    res->ok = 1;
    gen_free(&g);
    cep_event_free(ev);
    cep_pool_free(pool);
    cep_engine_free(eng);
    cep_program_free(prog);
    free(mc);
}

/* ---- the baselines ------------------------------------------------------------------- */

static void run_baseline(const wl *w, uint64_t keys, uint64_t n, result *res) {
    gen g;
    gen_init(&g, w, keys);
    match_sum ms = {0, 0};
    base_w1 *b1 = NULL;
    base_w3 *b3 = NULL;
    if (w->kind == W1) b1 = base_w1_new(keys, 10 * 60 * 1000);
    else b3 = base_w3_new(keys, w->L, w->within_ms);
    uint64_t half = n / 2, req_half = 0, req_end;
    static bev evs[CHUNK];
    double secs = 0;
    for (uint64_t i = 0; i < n;) {
        uint64_t m = n - i < CHUNK ? n - i : CHUNK;
        for (uint64_t j = 0; j < m; j++) gen_next(&g, &evs[j]); /* untimed, as Cepheus's rows */
        double t0 = cpu_s();
        for (uint64_t j = 0; j < m; j++) {
            if (b1) base_w1_push(b1, &evs[j], i + j, &ms);
            else base_w3_push(b3, &evs[j], &ms);
        }
        secs += chunk_s(t0);
        if (i <= half && half < i + m) req_half = je_requests();
        i += m;
    }
    req_end = je_requests();
    double t0 = cpu_s();
    if (b1) base_w1_finish(b1, &ms);
    res->secs = secs + cpu_s() - t0;
    res->events = n;
    res->matches = ms.count;
    res->checksum = ms.sum;
    res->allocs_per_ev = n - half > 0 ? (double)(req_end - req_half) / (double)(n - half) : 0;
    res->rss_kb = maxrss_kb();
    res->ok = 1;
    base_w1_free(b1);
    base_w3_free(b3);
    gen_free(&g);
}

/* Building W1's rows alone (generate, fill, push nothing): what the timed
 * figures leave out, printed once for reference. */
static void run_genonly(const wl *w, uint64_t keys, uint64_t n, result *res) {
    static char text[4096];
    pattern_text(w, text, sizeof text);
    cep_program *prog = NULL;
    cep_event *ev = NULL;
    if (cep_compile(NULL, text, strlen(text), w->name, &prog, NULL) != CEP_OK ||
        cep_event_new(prog, &ev) != CEP_OK) {
        snprintf(res->msg, sizeof res->msg, "compile failed");
        return;
    }
    slots s = {slot_of(prog, "ts", NULL), slot_of(prog, "user_id", NULL), slot_of(prog, "type", NULL),
               slot_of(prog, "item", NULL), slot_of(prog, "amount", NULL)};
    gen g;
    gen_init(&g, w, keys);
    bev e;
    uint64_t sink = 0;
    double t0 = cpu_s();
    for (uint64_t i = 0; i < n; i++) {
        gen_next(&g, &e);
        sink += (uint64_t)fill(ev, &s, w, &e);
    }
    res->secs = cpu_s() - t0;
    res->events = n;
    res->checksum = sink;
    res->rss_kb = maxrss_kb();
    res->ok = 1;
    gen_free(&g);
    cep_event_free(ev);
    cep_program_free(prog);
}

/* ---- CLI end to end -------------------------------------------------------------------- */

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

/* W1 as JSON Lines through `cepheus run`, file to file; events/s counts the
 * whole process (start-up, JSON parsing, matching, JSON output). */
static void run_cli(const wl *w, uint64_t keys, uint64_t n, result *res) {
    char pat[512], in[512], out[512];
    snprintf(pat, sizeof pat, "%s/cepbench-%d.cep", opt_tmpdir, (int)getpid());
    snprintf(in, sizeof in, "%s/cepbench-%d.jsonl", opt_tmpdir, (int)getpid());
    snprintf(out, sizeof out, "%s/cepbench-%d.out", opt_tmpdir, (int)getpid());
    static char text[2 << 20];
    pattern_text(w, text, sizeof text);
    FILE *f = NULL;
    if (write_file(pat, text) != 0 || !(f = fopen(in, "w"))) {
        snprintf(res->msg, sizeof res->msg, "cannot write in %s: %s", opt_tmpdir, strerror(errno));
        return;
    }
    static char fbuf[1 << 16];
    setvbuf(f, fbuf, _IOFBF, sizeof fbuf);
    gen g;
    gen_init(&g, w, keys);
    bev e;
    for (uint64_t i = 0; i < n; i++) {
        gen_next(&g, &e);
        if (w->kind == W8)
            fprintf(f, "{\"ts\":%" PRId64 ",\"card\":%" PRId64 ",\"type\":\"%s\",\"amount\":%" PRId64 "}\n",
                    e.t, e.key, w8_type(e.type), e.amount);
        else
            fprintf(f, "{\"ts\":%" PRId64 ",\"user_id\":%" PRId64 ",\"type\":\"%s\",\"item\":%d}\n", e.t,
                    e.key, w1_types[e.type], (int)e.item);
    }
    gen_free(&g);
    if (fclose(f) != 0) {
        snprintf(res->msg, sizeof res->msg, "write %.400s: %s", in, strerror(errno));
        return;
    }
    char threads[16];
    snprintf(threads, sizeof threads, "%u", run_threads);
    double w0 = wall_s();
    pid_t pid = fork();
    if (pid == 0) {
        char *args[12];
        int na = 0;
        args[na++] = (char *)opt_cepheus;
        args[na++] = "run";
        if (run_threads) args[na++] = "--threads", args[na++] = threads;
        if (cli_metrics) {
            args[na++] = "--metrics", args[na++] = "127.0.0.1:0";
            if (!freopen("/dev/null", "w", stderr)) _exit(127); /* its address line */
        }
        args[na++] = "--output", args[na++] = out, args[na++] = pat, args[na++] = in;
        args[na] = NULL;
        execv(opt_cepheus, args);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) {
        snprintf(res->msg, sizeof res->msg, "cannot run %s", opt_cepheus);
        return;
    }
    /* The tool's own CPU time, user + system: reading and writing count.
     * With threads, the wall clock: the CPU time of the threads adds up. */
    res->secs = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    if (wall_mode) res->cpu = res->secs, res->secs = wall_s() - w0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(res->msg, sizeof res->msg, "%s run exited with status %d", opt_cepheus,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    } else {
        FILE *o = fopen(out, "r");
        int c;
        uint64_t lines = 0;
        while (o && (c = getc_unlocked(o)) != EOF) lines += c == '\n';
        if (o) fclose(o);
        res->matches = lines;
        res->events = n;
        res->rss_kb = ru.ru_maxrss;
        res->ok = 1;
    }
    unlink(pat);
    unlink(in);
    unlink(out);
}

/* ---- driver ------------------------------------------------------------------------------ */

enum mode { M_CEPHEUS, M_BASELINE, M_GENONLY, M_CLI, M_POOL, M_IDLE, M_W9 };

static result run_child(enum mode m, const wl *w, uint64_t keys, uint64_t n) {
    result r;
    memset(&r, 0, sizeof r);
    r.windows = (double)n * (double)w->gap_ms / (double)keys / (double)w->within_ms;
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(r.msg, sizeof r.msg, "pipe: %s", strerror(errno));
        return r;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        switch (m) {
        case M_CEPHEUS: run_cepheus(w, keys, n, &r); break;
        case M_BASELINE: run_baseline(w, keys, n, &r); break;
        case M_GENONLY: run_genonly(w, keys, n, &r); break;
        case M_CLI: run_cli(w, keys, n, &r); break;
        case M_POOL: run_pool(w, keys, n, &r); break;
        case M_IDLE: run_idle(w, keys, n, &r); break;
        case M_W9: run_w9(w, n, &r); break;
        }
        ssize_t wr = write(fd[1], &r, sizeof r);
        _exit(wr == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fd[1]);
    ssize_t got = pid > 0 ? read(fd[0], &r, sizeof r) : -1;
    close(fd[0]);
    int status = 0;
    if (pid > 0) waitpid(pid, &status, 0);
    if (got != (ssize_t)sizeof r) {
        memset(&r, 0, sizeof r);
        /* (windows is lost with the rest: the line only says FAILED) */
        snprintf(r.msg, sizeof r.msg, "child died (status %d)", status);
    }
    return r;
}

static FILE *tsv;

static void print_header(void) {
    printf("%-4s %-16s %8s %9s %6s %11s %8s %8s %7s %6s %6s %8s %9s %10s  %s\n", "work", "config", "keys",
           "events", "wins", "events/s", "ns/event", "RSS_MB", "B/pm", "pmB", "ev/pm", "alloc/ev", "peak_pm",
           "matches", "note");
}

static void print_line(const char *work, const char *config, uint64_t keys, const result *r,
                       const char *note) {
    if (!r->ok) {
        printf("%-4s %-16s %8" PRIu64 "  FAILED: %s\n", work, config, keys, r->msg);
        failures++;
        return;
    }
    double eps = r->secs > 0 ? (double)r->events / r->secs : 0;
    double ns = r->events ? r->secs * 1e9 / (double)r->events : 0;
    printf("%-4s %-16s %8" PRIu64 " %9" PRIu64 " %6.1f %11.0f %8.1f %8.1f %7.1f %6.1f %6.2f %8.3f %9" PRIu64
           " %10" PRIu64 "  %s\n",
           work, config, keys, r->events, r->windows, eps, ns, (double)r->rss_kb / 1024.0, r->bytes_per_pm,
           r->pm_bytes, r->events_per_pm, r->allocs_per_ev, r->peak_pms, r->matches, note ? note : "");
    fflush(stdout);
    if (tsv) {
        fprintf(tsv, "%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%.2f\t%.0f\t%.1f\t%.1f\t%.1f\t%.2f\t%.3f\t%" PRIu64
                     "\t%" PRIu64 "\t%.1f\n",
                work, config, keys, r->events, r->windows, eps, ns, (double)r->rss_kb / 1024.0, r->bytes_per_pm,
                r->events_per_pm, r->allocs_per_ev, r->peak_pms, r->matches, r->pm_bytes);
        fflush(tsv);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int wanted(const char *name) {
    /* (latency lines come with their workload, unless --no-latency) */
    if (!strcmp(name, "latency")) return !opt_no_latency;
    if (!strcmp(name, "idle")) return 1;
    if (!opt_only) return 1;
    size_t n = strlen(name);
    for (const char *p = opt_only; *p;) {
        const char *q = strchr(p, ',');
        size_t l = q ? (size_t)(q - p) : strlen(p);
        if (l == n && strncasecmp(p, name, n) == 0) return 1;
        if (!q) break;
        p = q + 1;
    }
    return 0;
}

/* Events of one configuration: --events, at least --per-key per key;
 * W7 pushes each event through 100 patterns, so it gets a tenth. */
static uint64_t events_for(const wl *w, uint64_t keys) {
    uint64_t n = opt_events;
    if (n < opt_per_key * keys) n = opt_per_key * keys;
    if (w->kind == W7) n /= 10;
    return n ? n : 1;
}

/* The latency line of a workload: pushed one event at a time, each push
 * and each match's push-to-callback delay timed by the monotonic clock
 * (wall time: on a shared machine, preemption shows in the tail). */
static void bench_latency(const wl *w, uint64_t keys, uint64_t n) {
    char cfg[80], note[200];
    snprintf(cfg, sizeof cfg, "%s latency", w->config);
    lat_mode = 1;
    result r = run_child(M_CEPHEUS, w, keys, n);
    lat_mode = 0;
    snprintf(note, sizeof note,
             "push p50/p99/p99.9 %.0f/%.0f/%.0f ns; push-to-callback %.0f/%.0f/%.0f ns (%" PRIu64 " matches)",
             r.lat[0][0], r.lat[0][1], r.lat[0][2], r.lat[1][0], r.lat[1][1], r.lat[1][2], r.nlat[1]);
    print_line(w->name, cfg, keys, &r, note);
}

/* One Cepheus run, plus the baseline run and the check when there is one. */
static void bench_one(const wl *w, uint64_t keys) {
    uint64_t n = events_for(w, keys);
    result r = run_child(M_CEPHEUS, w, keys, n);
    if (!w->has_baseline || !r.ok) {
        char note[64] = "";
        if (r.ok && r.dropped) snprintf(note, sizeof note, "dropped=%" PRIu64, r.dropped);
        print_line(w->name, w->config, keys, &r, note);
        return;
    }
    result b = run_child(M_BASELINE, w, keys, n);
    char note[128];
    int same = b.ok && b.matches == r.matches && b.checksum == r.checksum;
    double ratio = b.ok && r.secs > 0 ? b.secs / r.secs : 0;
    snprintf(note, sizeof note, "%.3fx baseline, matches %s", ratio, same ? "identical" : "DIFFER");
    print_line(w->name, w->config, keys, &r, note);
    char cfg[80];
    snprintf(cfg, sizeof cfg, "%s base", w->config);
    print_line(w->name, cfg, keys, &b, same ? "" : "MISMATCH");
    if (!same) failures++;
}

static void parse_keys(const char *s) {
    opt_nkeys = 0;
    while (*s && opt_nkeys < 8) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s) break;
        if (*end == 'k' || *end == 'K') v *= 1000, end++;
        else if (*end == 'm' || *end == 'M') v *= 1000000, end++;
        if (v) opt_keys[opt_nkeys++] = v;
        s = *end == ',' ? end + 1 : end;
        if (*end != ',') break;
    }
}

static uint64_t parse_count(const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (*end == 'k' || *end == 'K') v *= 1e3;
    else if (*end == 'm' || *end == 'M') v *= 1e6;
    return v < 1 ? 1 : (uint64_t)v;
}

static void usage(void) {
    fputs("usage: cepbench [--keys 1k,100k,1m] [--events N] [--only W1,W3,...,W9,CLI]\n"
          "                [--per-key N] [--cepheus PATH] [--tsv FILE] [--tmpdir DIR] [--w6-limit N]\n"
          "                [--rules 1,10,100,1000,10000]  (W8: the rule counts)\n"
          "                [--no-latency]  (W1 and W8 also run one push at a time, timed: p50/p99/p99.9)\n"
          "                [--w8 dense|sparse]  (W8: that stream only)\n"
          "                [--threads 1,2]  (W1 and CLI: one engine and pools, by the wall clock)\n"
          "                [--metrics-reps N]  (CLI: N times without and with --metrics, alternately)\n"
          "                [--w9-events N]  (W9, per STEP: default 1m, at most --events if given)\n"
          "                [--w9-steps 200,25,6n]  (W9's STEPs; n: no AMAT qualifies, no match)\n"
          "environment: CEPBENCH_KEYS, CEPBENCH_EVENTS, CEPBENCH_PER_KEY, CEPBENCH_ONLY,\n"
          "             CEPBENCH_W9_EVENTS\n"
          "             (options win)\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv) {
    const char *env;
    if ((env = getenv("CEPBENCH_KEYS")) && *env) parse_keys(env);
    if ((env = getenv("CEPBENCH_EVENTS")) && *env) opt_events = parse_count(env), opt_events_set = 1;
    if ((env = getenv("CEPBENCH_W9_EVENTS")) && *env) opt_w9_events = parse_count(env);
    if ((env = getenv("CEPBENCH_ONLY")) && *env) opt_only = env;
    if ((env = getenv("CEPBENCH_PER_KEY")) && *env) opt_per_key = parse_count(env);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--keys") && v) parse_keys(v), i++;
        else if (!strcmp(a, "--events") && v) opt_events = parse_count(v), opt_events_set = 1, i++;
        else if (!strcmp(a, "--w9-events") && v) opt_w9_events = parse_count(v), i++;
        else if (!strcmp(a, "--w9-steps") && v) opt_w9_steps = v, i++;
        else if (!strcmp(a, "--only") && v) opt_only = v, i++;
        else if (!strcmp(a, "--cepheus") && v) opt_cepheus = v, i++;
        else if (!strcmp(a, "--metrics-reps") && v) opt_metrics_reps = atoi(v), i++;
        else if (!strcmp(a, "--tsv") && v) opt_tsv = v, i++;
        else if (!strcmp(a, "--tmpdir") && v) opt_tmpdir = v, i++;
        else if (!strcmp(a, "--w6-limit") && v) opt_w6_limit = parse_count(v), i++;
        else if (!strcmp(a, "--per-key") && v) opt_per_key = parse_count(v), i++;
        else if (!strcmp(a, "--no-latency")) opt_no_latency = 1;
        else if (!strcmp(a, "--w8") && v && (!strcmp(v, "dense") || !strcmp(v, "sparse")))
            opt_w8_stream = !strcmp(v, "sparse"), i++;
        else if (!strcmp(a, "--rules") && v) {
            for (const char *p = v; *p && opt_nrules < 8;) {
                char *end;
                long r = strtol(p, &end, 10);
                if (end == p || r < 1 || r > 100000) usage();
                opt_rules[opt_nrules++] = (int)r;
                p = *end == ',' ? end + 1 : end;
                if (*end != ',') break;
            }
            i++;
        }
        else if (!strcmp(a, "--threads") && v) {
            for (const char *p = v; *p && opt_nthreads < 8;) {
                char *end;
                unsigned long t = strtoul(p, &end, 10);
                if (end == p || t == 0 || t > 256) usage();
                opt_threads[opt_nthreads++] = (unsigned)t;
                p = *end == ',' ? end + 1 : end;
                if (*end != ',') break;
            }
            i++;
        }
        else usage();
    }
    if (opt_tsv && !(tsv = fopen(opt_tsv, "w"))) {
        fprintf(stderr, "cepbench: %s: %s\n", opt_tsv, strerror(errno));
        return 2;
    }
#ifndef CEPBENCH_CFLAGS
#define CEPBENCH_CFLAGS "?"
#endif
    printf("cepbench: Cepheus %s, CFLAGS %s, %" PRIu64 " events per configuration (>= %" PRIu64
           " per key; W7 a tenth)\n",
           CEP_VERSION, CEPBENCH_CFLAGS, opt_events, opt_per_key);
    if (!je_present())
        printf("cepbench: jemalloc is not linked (sanitizer or --disable-jemalloc build): B/pm and "
               "alloc/ev are not measured (-1)\n");
    print_header();

    wl w;
    for (int ki = 0; ki < opt_nkeys; ki++) {
        uint64_t keys = opt_keys[ki];
        if (wanted("gen")) {
            memset(&w, 0, sizeof w);
            w.kind = W1, w.name = "gen", w.gap_ms = 60000, w.within_ms = 600000;
            snprintf(w.config, sizeof w.config, "W1 rows");
            result r = run_child(M_GENONLY, &w, keys, events_for(&w, keys));
            print_line("gen", w.config, keys, &r, "making W1 rows (untimed in W1)");
        }
        if (wanted("W1")) {
            memset(&w, 0, sizeof w);
            w.kind = W1, w.name = "W1", w.gap_ms = 60000, w.within_ms = 600000, w.has_baseline = 1;
            snprintf(w.config, sizeof w.config, "click->purchase");
            bench_one(&w, keys);
            if (wanted("latency")) bench_latency(&w, keys, events_for(&w, keys));
        }
        if (wanted("W2")) {
            memset(&w, 0, sizeof w);
            w.kind = W2, w.name = "W2", w.gap_ms = 10000, w.within_ms = 60000;
            snprintf(w.config, sizeof w.config, "b{3,} then large");
            bench_one(&w, keys);
        }
        if (wanted("W3")) {
            static const int Ls[] = {3, 6, 12, 24};
            for (int never = 0; never <= 1; never++)
                for (int li = 0; li < 4; li++) {
                    memset(&w, 0, sizeof w);
                    w.kind = W3, w.name = "W3", w.L = Ls[li], w.never = never;
                    w.within_ms = 60000, w.gap_ms = 1200, w.has_baseline = 1;
                    snprintf(w.config, sizeof w.config, "L=%d%s", w.L, never ? " never" : "");
                    bench_one(&w, keys);
                }
        }
        if (wanted("W4")) {
            for (int never = 0; never <= 1; never++)
                for (int f = 1; f <= 8; f *= 2) {
                    memset(&w, 0, sizeof w);
                    w.kind = W4, w.name = "W4", w.L = 3, w.never = never;
                    w.within_ms = 60000 * f, w.gap_ms = 1200;
                    snprintf(w.config, sizeof w.config, "%dT%s", f, never ? " never" : "");
                    bench_one(&w, keys);
                }
        }
        if (wanted("W5")) {
            memset(&w, 0, sizeof w);
            w.kind = W5, w.name = "W5", w.gap_ms = 300000, w.within_ms = 1800000;
            snprintf(w.config, sizeof w.config, "abandoned cart");
            bench_one(&w, keys);
        }
        if (wanted("W6")) {
            memset(&w, 0, sizeof w);
            w.kind = W6, w.name = "W6", w.gap_ms = 10000, w.within_ms = 300000;
            w.max_pms = opt_w6_limit;
            snprintf(w.config, sizeof w.config, "anyb+ limit=%" PRIu64, opt_w6_limit);
            bench_one(&w, keys);
        }
        if (wanted("W7")) {
            memset(&w, 0, sizeof w);
            w.kind = W7, w.name = "W7", w.gap_ms = 20000, w.within_ms = 300000;
            snprintf(w.config, sizeof w.config, "100 patterns");
            bench_one(&w, keys);
        }
        /* W8 once, over its own 10,000 cards, one event a millisecond:
         * the cost of an event against the number of rules, dense and
         * sparse, through the C API and `cepheus run`. */
        if (wanted("W8") && ki == 0) {
            /* (10,000 rules are 1.4 MB of text, within the 2 MiB limit of
             * one program.) */
            static const int def_rules[] = {1, 10, 100, 1000, 10000};
            const int *nrules = opt_nrules ? opt_rules : def_rules;
            int nr = opt_nrules ? opt_nrules : 5;
            for (int sp = 0; sp <= 1; sp++)
                for (int ri = 0; ri < nr && (opt_w8_stream < 0 || opt_w8_stream == sp); ri++)
                    for (int cli = 0; cli <= (opt_cepheus ? 1 : 0); cli++) {
                        memset(&w, 0, sizeof w);
                        w.kind = W8, w.name = "W8", w.gap_ms = 10000, w.within_ms = 60000;
                        w.rules = nrules[ri], w.sparse = sp;
                        snprintf(w.config, sizeof w.config, "%s %d rules%s", sp ? "sparse" : "dense", w.rules,
                                 cli ? " CLI" : "");
                        /* Dense at 1,000 rules is the slow one: fewer events. */
                        uint64_t n = opt_events;
                        if (w.rules >= 100 && !sp) n /= w.rules >= 10000 ? 40 : w.rules >= 5000 ? 20 : w.rules >= 1000 ? 10 : 2;
                        if (!n) n = 1;
                        result r = run_child(cli ? M_CLI : M_CEPHEUS, &w, 10000, n);
                        print_line("W8", w.config, 10000, &r, cli ? "cepheus run, whole process" : "");
                        /* Latency at one rule and at the 1,000. */
                        if (!cli && wanted("latency") && (w.rules == 1 || w.rules == 1000)) bench_latency(&w, 10000, n);
                    }
        }
        /* What a rule costs with no state, and compiling them: the heap
         * of 1 rule and of 1,000 and 10,000 (or of the first --rules
         * count and each from 1,000 up, else the last), by difference. */
        if (wanted("W8") && wanted("idle") && ki == 0) {
            static const int def_rules[] = {1, 1000, 10000};
            const int *rules = opt_nrules ? opt_rules : def_rules;
            int nr = opt_nrules ? opt_nrules : 3, lo = rules[0];
            result r1;
            memset(&w, 0, sizeof w);
            w.kind = W8, w.name = "W8", w.gap_ms = 10000, w.within_ms = 60000, w.rules = lo;
            r1 = run_child(M_IDLE, &w, 1, 1);
            for (int ri = 1; ri < nr; ri++) {
                int hi = rules[ri];
                if (hi < 1000 && ri < nr - 1) continue;
                w.rules = hi;
                result r2 = run_child(M_IDLE, &w, 1, 1);
                char note[160];
                double per = hi > lo && r1.ok && r2.ok ? (r2.idle_bytes - r1.idle_bytes) / (hi - lo) : 0;
                double pper = hi > lo && r1.ok && r2.ok ? (r2.prog_bytes - r1.prog_bytes) / (hi - lo) : 0;
                snprintf(note, sizeof note,
                         "no state: %.0f B for %d rule(s), %.0f B for %d: %.0f B a rule (program %.0f); compiled in %.1f ms",
                         r1.idle_bytes, lo, r2.idle_bytes, hi, per, pper, r2.secs * 1e3);
                snprintf(w.config, sizeof w.config, "idle %d rules", hi);
                r2.events = 0;
                print_line("W8", w.config, 0, &r2, note);
            }
        }
        /* W9 once: CORE's stock query at the four densities, then
         * with no AMAT qualifying (no match: the cost of an event against
         * the live partial matches, which grow as STEP shrinks). */
        if (wanted("W9") && ki == 0) {
            uint64_t n = opt_w9_events;
            if (opt_events_set && opt_events < n) n = opt_events;
            for (const char *p = opt_w9_steps; *p;) {
                char *end;
                long step = strtol(p, &end, 10);
                int never = *end == 'n';
                end += never;
                p = *end == ',' ? end + 1 : end;
                if (step <= 0 || (*end && *end != ',')) {
                    fprintf(stderr, "cepbench: --w9-steps: bad list %s\n", opt_w9_steps);
                    return 2;
                }
                memset(&w, 0, sizeof w);
                w.kind = W9, w.name = "W9", w.step = (int)step, w.never = never;
                w.gap_ms = step, w.within_ms = 10000;
                snprintf(w.config, sizeof w.config, "STEP=%d%s", w.step, w.never ? " nomatch" : "");
                result r = run_child(M_W9, &w, 1, n);
                char note[160];
                snprintf(note, sizeof note, "live pm mean %.0f; %.0f ns/match", r.live_pms,
                         r.matches ? r.secs * 1e9 / (double)r.matches : 0.0);
                print_line("W9", w.config, 1, &r, note);
            }
        }
        if (wanted("CLI") && opt_cepheus) {
            memset(&w, 0, sizeof w);
            w.kind = W1, w.name = "CLI", w.gap_ms = 60000, w.within_ms = 600000;
            snprintf(w.config, sizeof w.config, "W1 jsonl->jsonl");
            if (opt_metrics_reps > 0) {
                /* Alternately without and with --metrics, the median of
                 * each: the two compare within one run. */
                double eps[2][64];
                result last[2];
                int reps = opt_metrics_reps > 64 ? 64 : opt_metrics_reps;
                for (int i = 0; i < reps; i++)
                    for (int v = 0; v < 2; v++) {
                        cli_metrics = v;
                        last[v] = run_child(M_CLI, &w, keys, events_for(&w, keys));
                        eps[v][i] = last[v].ok && last[v].secs > 0 ? (double)last[v].events / last[v].secs : 0;
                    }
                cli_metrics = 0;
                for (int v = 0; v < 2; v++) {
                    qsort(eps[v], (size_t)reps, sizeof eps[v][0], cmp_double);
                    double med = eps[v][reps / 2];
                    if (last[v].ok && med > 0) last[v].secs = (double)last[v].events / med;
                    char note[128];
                    snprintf(note, sizeof note, "cepheus run%s, median of %d (%.0f..%.0f ev/s)",
                             v ? " --metrics" : "", reps, eps[v][0], eps[v][reps - 1]);
                    print_line(v ? "CLIm" : "CLI", w.config, keys, &last[v], note);
                }
            } else {
                result r = run_child(M_CLI, &w, keys, events_for(&w, keys));
                print_line("CLI", w.config, keys, &r, "cepheus run, whole process");
            }
        }
        /* --threads: one engine and each pool size, by the wall clock in
         * one run, so the ratios compare. */
        for (int pass = 0; pass < 2 && opt_nthreads; pass++) {
            int cli = pass == 1;
            if (!wanted(cli ? "CLI" : "W1") || (cli && !opt_cepheus)) continue;
            memset(&w, 0, sizeof w);
            w.kind = W1, w.name = cli ? "CLI" : "W1", w.gap_ms = 60000, w.within_ms = 600000;
            double one = 0;
            for (int k = -1; k < opt_nthreads; k++) {
                run_threads = k < 0 ? 0 : opt_threads[k];
                wall_mode = 1;
                if (run_threads) snprintf(w.config, sizeof w.config, "%s threads=%u", cli ? "run" : "pool", run_threads);
                else snprintf(w.config, sizeof w.config, "%s one engine", cli ? "run" : "C API");
                result r = run_child(cli ? M_CLI : M_POOL, &w, keys, events_for(&w, keys));
                run_threads = 0;
                wall_mode = 0;
                char note[128];
                double eps = r.ok && r.secs > 0 ? (double)r.events / r.secs : 0;
                if (k < 0) one = eps;
                snprintf(note, sizeof note, "wall clock, %.2fx one engine; CPU %.0f ns/event", one > 0 ? eps / one : 0,
                         r.events ? r.cpu * 1e9 / (double)r.events : 0);
                print_line(w.name, w.config, keys, &r, note);
            }
        }
    }
    if (tsv) fclose(tsv);
    if (failures) {
        printf("cepbench: %d failure(s)\n", failures);
        return 1;
    }
    return 0;
}
