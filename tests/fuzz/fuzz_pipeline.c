/* fuzz_pipeline.c — libFuzzer target for the whole pipeline: the input is a
 * conformance-style case (optional `% max-delay N`, `% max-partial-matches N`,
 * `% time-field NAME`, `% timeouts` lines; pattern text; a `---` line; event
 * lines or `!watermark N`; anything after a second `---` is ignored). It is
 * compiled, every event is pushed, the engine is finished, and each match is
 * rendered as `cepheus run` would. Built and run by `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cepheus.h"
#include "jsonout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fctx {
    const cep_program *prog;
    jbuf jb;
} fctx;

static int on_match(void *ud, const cep_match *m) {
    fctx *c = ud;
    jbuf_reset(&c->jb);
    jbuf_match(&c->jb, c->prog, m);
    return 0;
}

static int on_late(void *ud, const cep_event *ev) {
    (void)ud;
    size_t n;
    (void)cep_event_raw(ev, &n);
    return 0;
}

/* Next line of [p, end): returns its end, *next the start of the next. */
static const char *line_end(const char *p, const char *end, const char **next) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) {
        *next = end;
        return end;
    }
    *next = nl + 1;
    return nl;
}

static int is_sep(const char *p, const char *e) {
    return e - p >= 3 && memcmp(p, "---", 3) == 0;
}

/* A number after a `%` option, clamped to [0, max]. */
static int64_t opt_num(const char *p, const char *e, int64_t max) {
    int64_t v = 0;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    while (p < e && *p >= '0' && *p <= '9') {
        if (v > (max - (*p - '0')) / 10) return max;
        v = v * 10 + (*p - '0');
        p++;
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data, *end = p + size, *next;
    int64_t max_delay = 0, max_pms = 1000;
    int timeouts = 0;
    char time_field[64] = "ts";

    /* Options. */
    while (p < end && *p == '%') {
        const char *e = line_end(p, end, &next);
        const char *o = p + 1;
        while (o < e && *o == ' ') o++;
        size_t n = (size_t)(e - o);
        if (n >= 9 && !memcmp(o, "max-delay", 9))
            max_delay = opt_num(o + 9, e, INT64_MAX / 4);
        else if (n >= 19 && !memcmp(o, "max-partial-matches", 19))
            /* Bounded so that a fan-out pattern cannot make one input
             * run for minutes: that blow-up is inherent, not a bug. */
            max_pms = opt_num(o + 19, e, 1000);
        else if (n >= 8 && !memcmp(o, "timeouts", 8))
            timeouts = 1;
        else if (n > 11 && n - 11 < sizeof time_field && !memcmp(o, "time-field ", 11)) {
            memcpy(time_field, o + 11, n - 11);
            time_field[n - 11] = '\0';
        }
        p = next;
    }
    if (max_pms == 0) max_pms = 1000;

    /* Pattern text up to the first `---` line. */
    const char *pat = p, *pat_end = end;
    while (p < end) {
        const char *e = line_end(p, end, &next);
        if (is_sep(p, e)) {
            pat_end = p;
            p = next;
            break;
        }
        p = next;
    }
    if (pat_end == end) p = end;

    cep_program *prog = NULL;
    if (cep_compile(NULL, pat, (size_t)(pat_end - pat), "fuzz", &prog, NULL) != CEP_OK)
        return 0;
    fctx c = {.prog = prog};
    cep_engine *eng = NULL;
    if (cep_engine_new(prog, &eng) != CEP_OK) goto out;
    cep_engine_set_max_delay(eng, max_delay);
    cep_engine_set_max_partial_matches(eng, (uint64_t)max_pms, CEP_LIMIT_DROP_OLDEST);
    cep_engine_set_time_field(eng, time_field);
    cep_engine_on_match(eng, on_match, &c);
    cep_engine_on_late(eng, on_late, &c);
    if (timeouts) cep_engine_on_timeout(eng, on_match, &c);

    while (p < end) {
        const char *e = line_end(p, end, &next);
        if (is_sep(p, e)) break;
        if (e - p > 10 && !memcmp(p, "!watermark", 10)) {
            char buf[32];
            size_t n = (size_t)(e - p - 10) < sizeof buf - 1 ? (size_t)(e - p - 10) : sizeof buf - 1;
            memcpy(buf, p + 10, n);
            buf[n] = '\0';
            cep_engine_advance_watermark(eng, strtoll(buf, NULL, 10));
        } else {
            int rc = cep_engine_push_json(eng, p, (size_t)(e - p));
            if (rc != CEP_OK) (void)cep_engine_error(eng);
        }
        p = next;
    }
    cep_engine_finish(eng);
    cep_stats st;
    cep_engine_stats(eng, &st);
out:
    cep_engine_free(eng);
    cep_program_free(prog);
    jbuf_free(&c.jb);
    return 0;
}
