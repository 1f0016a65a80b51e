/* gen.h — shared by the example generators (gen_*.c in each example): a seeded
 * PRNG, an event list that is written out in *arrival* order (some events
 * out of order within a bound, some late beyond it) and a few malformed
 * lines, so every example sees the noise a real feed has. Header-only and
 * libc-only: an example stays one C file plus this header. */
#ifndef EXAMPLES_GEN_H
#define EXAMPLES_GEN_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: small, fast, and the same on every platform (rand() is not). */
static uint64_t gen_rng_state;

static inline uint64_t gen_next(void)
{
    uint64_t z = (gen_rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); the modulo bias is irrelevant for n this small. */
static inline unsigned gen_below(unsigned n)
{
    return n ? (unsigned)(gen_next() % n) : 0;
}

/* Uniform in [lo, hi]. */
static inline int64_t gen_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(gen_next() % (uint64_t)(hi - lo + 1));
}

/* True with probability pct / 100. */
static inline int gen_chance(unsigned pct)
{
    return gen_below(100) < pct;
}

typedef struct gen_event {
    int64_t arrive; /* when the line is written, relative to the others */
    uint64_t seq;   /* creation order: breaks ties, keeps output stable */
    char *line;
} gen_event;

#if defined(__GNUC__)
#define GEN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define GEN_PRINTF(f, a)
#endif

static gen_event *gen_events;
static size_t gen_count, gen_cap;

/* Add one event line that happened at ts and arrives `delay` ms later.
 * The caller formats the whole JSON object (ts included). */
static inline void gen_emit(int64_t ts, int64_t delay, const char *fmt, ...) GEN_PRINTF(3, 4);
static inline void gen_emit(int64_t ts, int64_t delay, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) {
        fprintf(stderr, "gen: line too long\n");
        exit(1);
    }
    if (gen_count == gen_cap) {
        gen_cap = gen_cap ? 2 * gen_cap : 1024;
        gen_events = realloc(gen_events, gen_cap * sizeof *gen_events);
        if (!gen_events) {
            fprintf(stderr, "gen: out of memory\n");
            exit(1);
        }
    }
    gen_event *e = &gen_events[gen_count];
    e->arrive = ts + delay;
    e->seq = gen_count++;
    e->line = malloc((size_t)n + 1);
    if (!e->line) {
        fprintf(stderr, "gen: out of memory\n");
        exit(1);
    }
    memcpy(e->line, buf, (size_t)n + 1);
}

/* A delivery delay: 0 for most events, else up to max_ms (the bound the
 * example runs with as --max-delay, so these are reordered, not late). */
static inline int64_t gen_skew(unsigned pct, int64_t max_ms)
{
    return gen_chance(pct) ? gen_range(1, max_ms) : 0;
}

static inline int gen_cmp(const void *a, const void *b)
{
    const gen_event *x = a, *y = b;
    if (x->arrive != y->arrive)
        return x->arrive < y->arrive ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Lines a broken producer writes now and then; cepheus reports each on
 * stderr as FILE:LINE: error: REASON and skips it. */
static const char *const gen_malformed_lines[] = {
    "{\"ts\":", /* cut off mid-write */
    "not json at all",
    "{\"type\":\"heartbeat\"}", /* no time field */
    "{\"ts\":\"yesterday\",\"type\":\"heartbeat\"}",
    "[1,2,3]",
};

/* Write every event in arrival order, with `malformed` bad lines spread
 * over the output; frees everything. Returns the exit status. */
static inline int gen_write(unsigned malformed)
{
    qsort(gen_events, gen_count, sizeof *gen_events, gen_cmp);
    size_t nbad = sizeof gen_malformed_lines / sizeof gen_malformed_lines[0];
    for (size_t i = 0; i < gen_count; i++) {
        /* Bad lines at evenly spread, seed-independent positions. */
        if (malformed && gen_count > malformed &&
            i % (gen_count / malformed) == gen_count / malformed / 2 &&
            i / (gen_count / malformed) < malformed)
            puts(gen_malformed_lines[(i / (gen_count / malformed)) % nbad]);
        puts(gen_events[i].line);
        free(gen_events[i].line);
    }
    free(gen_events);
    gen_events = NULL;
    gen_count = gen_cap = 0;
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

/* Parse "N [SEED]" style arguments: a non-negative decimal. */
static inline int gen_parse_count(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

/* Common main() prologue: `PROG [N [SEED]]` with defaults. */
static inline int gen_args(int argc, char **argv, unsigned long long *n,
                           unsigned long long def_n, unsigned long long def_seed)
{
    unsigned long long seed = def_seed;
    *n = def_n;
    if (argc > 3 || (argc >= 2 && gen_parse_count(argv[1], n) < 0) ||
        (argc == 3 && gen_parse_count(argv[2], &seed) < 0)) {
        fprintf(stderr, "usage: %s [N [SEED]]\n", argv[0]);
        return -1;
    }
    gen_rng_state = seed;
    return 0;
}

#endif
