/* runner.c — the conformance driver: reads .test files of cases (pattern,
 * events, expected output or expected diagnostics) and runs each one through
 * the public API (cepheus.h) plus jsonout's match writer, as `cepheus run`.
 *
 * File format (also in tests/conformance/README.md):
 *
 *   Cases are separated by one or more blank lines; a case is a block of
 *   non-blank lines.
 *
 *     # comment lines (only at the top of a case): what it tests, and where
 *     # the expectation comes from ("Flink docs: contiguity table")
 *     % max-delay 1000        option lines: `% max-delay N`,
 *     % time-field t          `% time-field NAME`, `% late` (print late
 *     % late                  events as `late: RAW`), `% timeouts` (print
 *     % timeouts              timed-out partial matches as `timeout: JSON`),
 *     % unordered             `% unordered` (compare the output as a sorted
 *                             set of lines, for same-start ties)
 *     pattern p               the pattern text, one or more lines
 *       begin a where x == 1
 *     ---
 *     {"ts":1,"x":1}          events, JSON Lines pushed one by one;
 *     !watermark 10           `!watermark N` advances the watermark instead
 *     ---
 *     {"pattern":"p",...}     expected output lines, in order, exactly
 *
 *   After the last event the runner calls cep_engine_finish. Output lines are
 *   matches as jbuf_match writes them (without the newline), `late: RAW` for
 *   late events (with `% late`), `timeout: JSON` for timed-out partial
 *   matches (with `% timeouts`), and `malformed: N: REASON` for an event
 *   line the engine rejects (N counts the lines of the events section from 1,
 *   REASON is cep_engine_error).
 *
 *   An error case is the pattern, then `--- error`, then the exact text of
 *   cep_diag_render (the pattern compiled with the name `<test>`).
 *
 * Usage: runner FILE.test...   Prints `FILE:LINE: FAIL` with expected and
 * actual output for each failing case, then `conformance: N passed, M
 * failed`; exits 1 when a case failed. CEP_CONFORMANCE_ONLY=LINE runs only
 * the case(s) whose first line is LINE.
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cepheus.h"
#include "jsonout.h"

/* ---- small string lists ---------------------------------------------- */

typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

static void die_oom(void)
{
    fputs("conformance: out of memory\n", stderr);
    exit(2);
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        die_oom();
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Takes s. */
static void sl_push(strlist *l, char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            die_oom();
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
}

static void sl_pushn(strlist *l, const char *s, size_t n)
{
    sl_push(l, xstrndup(s, n));
}

static void sl_clear(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

static void sl_free(strlist *l)
{
    sl_clear(l);
    free(l->v);
    l->v = NULL;
    l->cap = 0;
}

/* Split text at '\n' into l; a final newline does not add an empty line. */
static void sl_split(strlist *l, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        sl_pushn(l, p, n);
        p += n;
        if (*p == '\n')
            p++;
    }
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r')
            return 0;
    return 1;
}

/* Bounds of s without leading and trailing white space. */
static void trim(const char *s, const char **b, size_t *n)
{
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
                   s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    *b = s;
    *n = len;
}

/* ---- reading a file into lines ----------------------------------------- */

static int read_lines(const char *path, strlist *lines)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&buf, &cap, f)) >= 0) {
        size_t n = (size_t)got;
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        sl_pushn(lines, buf, n);
    }
    free(buf);
    int err = ferror(f);
    fclose(f);
    return err ? -1 : 0;
}

/* ---- running one case ---------------------------------------------------- */

typedef struct run_ctx {
    const cep_program *prog;
    strlist *out;
    jbuf jb;
} run_ctx;

static int on_match(void *ud, const cep_match *m)
{
    run_ctx *c = ud;
    jbuf_reset(&c->jb);
    jbuf_match(&c->jb, c->prog, m);
    size_t n = c->jb.len;
    if (n && c->jb.p[n - 1] == '\n')
        n--;
    sl_pushn(c->out, c->jb.oom ? "(jbuf out of memory)" : c->jb.p,
             c->jb.oom ? strlen("(jbuf out of memory)") : n);
    return 0;
}

/* A timed-out partial match, as `timeout: JSON` (jbuf_match writes the
 * timeout form for it). */
static int on_timeout(void *ud, const cep_match *m)
{
    run_ctx *c = ud;
    jbuf_reset(&c->jb);
    jbuf_puts(&c->jb, "timeout: ");
    jbuf_match(&c->jb, c->prog, m);
    size_t n = c->jb.len;
    if (n && c->jb.p[n - 1] == '\n')
        n--;
    sl_pushn(c->out, c->jb.oom ? "(jbuf out of memory)" : c->jb.p,
             c->jb.oom ? strlen("(jbuf out of memory)") : n);
    return 0;
}

static int on_late(void *ud, const cep_event *ev)
{
    run_ctx *c = ud;
    size_t n = 0;
    const char *raw = cep_event_raw(ev, &n);
    size_t len = strlen("late: ") + n;
    char *s = malloc(len + 1);
    if (!s)
        die_oom();
    memcpy(s, "late: ", 6);
    if (n)
        memcpy(s + 6, raw, n);
    s[len] = '\0';
    sl_push(c->out, s);
    return 0;
}

static void push_fmt(strlist *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void push_fmt(strlist *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    if (!s)
        die_oom();
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sl_push(out, s);
}

/* Join lines [from, to) with '\n' after each. Returns owned text. */
static char *join(const strlist *lines, size_t from, size_t to, size_t *len)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        n += strlen(lines->v[i]) + 1;
    char *t = malloc(n + 1);
    if (!t)
        die_oom();
    size_t k = 0;
    for (size_t i = from; i < to; i++) {
        size_t m = strlen(lines->v[i]);
        memcpy(t + k, lines->v[i], m);
        k += m;
        t[k++] = '\n';
    }
    t[k] = '\0';
    *len = k;
    return t;
}

typedef struct case_opts {
    int64_t max_delay;
    int has_max_delay;
    char *time_field;
    int late;
    int timeouts;   /* print timed-out partial matches */
    int unordered;  /* compare sorted output with sorted expectations */
} case_opts;

/* Parse a `%` option line into o; on error writes a message to out. */
static int parse_option(const char *line, case_opts *o, strlist *out)
{
    const char *p = line + 1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "max-delay", 9) == 0 && (p[9] == ' ' || p[9] == '\t')) {
        char *end;
        errno = 0;
        long long v = strtoll(p + 10, &end, 10);
        if (errno || end == p + 10 || !is_blank(end))
            goto bad;
        o->max_delay = v;
        o->has_max_delay = 1;
        return 0;
    }
    if (strncmp(p, "time-field", 10) == 0 && (p[10] == ' ' || p[10] == '\t')) {
        const char *b;
        size_t n;
        trim(p + 11, &b, &n);
        if (!n)
            goto bad;
        free(o->time_field);
        o->time_field = xstrndup(b, n);
        return 0;
    }
    if (strncmp(p, "late", 4) == 0 && is_blank(p + 4)) {
        o->late = 1;
        return 0;
    }
    if (strncmp(p, "timeouts", 8) == 0 && is_blank(p + 8)) {
        o->timeouts = 1;
        return 0;
    }
    if (strncmp(p, "unordered", 9) == 0 && is_blank(p + 9)) {
        o->unordered = 1;
        return 0;
    }
bad:
    push_fmt(out, "(runner: bad option line: %s)", line);
    return -1;
}

/* The pushing call's code names a bad event (reported as malformed). */
static int is_event_error(int rc)
{
    return rc == CEP_EJSON || rc == CEP_ENOTOBJECT || rc == CEP_ETIME ||
           rc == CEP_ETOODEEP || rc == CEP_ERANGE;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run the case in lines [first, end) (no blank lines). Fills expected and
 * actual; returns 1 when they agree. */
static int run_case(const strlist *lines, size_t first, size_t end,
                    strlist *expected, strlist *actual)
{
    case_opts o = {0};
    size_t i = first;
    int ok = 1;

    while (i < end && lines->v[i][0] == '#')
        i++;
    while (i < end && lines->v[i][0] == '%') {
        if (parse_option(lines->v[i], &o, actual) < 0)
            ok = 0;
        i++;
    }
    size_t pat_from = i;
    while (i < end && strcmp(lines->v[i], "---") != 0 &&
           strcmp(lines->v[i], "--- error") != 0)
        i++;
    if (i == end) {
        sl_pushn(actual, "(runner: case has no --- line)", 30);
        free(o.time_field);
        return 0;
    }
    int error_case = strcmp(lines->v[i], "--- error") == 0;
    size_t len;
    char *text = join(lines, pat_from, i, &len);
    i++;

    cep_program *prog = NULL;
    cep_diag *diag = NULL;
    int rc = cep_compile(NULL, text, len, "<test>", &prog, &diag);

    if (error_case) {
        for (; i < end; i++)
            sl_pushn(expected, lines->v[i], strlen(lines->v[i]));
        if (rc == CEP_OK)
            sl_pushn(actual, "(compiled without errors)", 25);
        else
            sl_split(actual, diag ? cep_diag_render(diag) : "(no diag)");
        goto done;
    }

    /* Events, then the second --- and the expected output. */
    size_t ev_from = i;
    while (i < end && strcmp(lines->v[i], "---") != 0)
        i++;
    size_t ev_to = i;
    if (i < end)
        i++;
    else
        sl_pushn(actual, "(runner: case has no second --- line)", 37);
    for (; i < end; i++)
        sl_pushn(expected, lines->v[i], strlen(lines->v[i]));

    if (rc != CEP_OK) {
        push_fmt(actual, "(compile failed: %s)", cep_strerror(rc));
        if (diag)
            sl_split(actual, cep_diag_render(diag));
        goto done;
    }

    cep_engine *e = NULL;
    if (cep_engine_new(prog, &e) != CEP_OK)
        die_oom();
    run_ctx ctx = {prog, actual, {0}};
    cep_engine_on_match(e, on_match, &ctx);
    if (o.late)
        cep_engine_on_late(e, on_late, &ctx);
    if (o.timeouts)
        cep_engine_on_timeout(e, on_timeout, &ctx);
    if (o.has_max_delay && (rc = cep_engine_set_max_delay(e, o.max_delay)) != CEP_OK)
        push_fmt(actual, "(set_max_delay: %s)", cep_strerror(rc));
    if (o.time_field && (rc = cep_engine_set_time_field(e, o.time_field)) != CEP_OK)
        push_fmt(actual, "(set_time_field: %s)", cep_strerror(rc));

    for (size_t k = ev_from; k < ev_to; k++) {
        long no = (long)(k - ev_from + 1);
        const char *b;
        size_t n;
        trim(lines->v[k], &b, &n);
        if (strncmp(b, "!watermark", 10) == 0) {
            char *endp;
            long long wm = strtoll(b + 10, &endp, 10);
            rc = cep_engine_advance_watermark(e, wm);
            if (rc != CEP_OK)
                push_fmt(actual, "error: %ld: advance_watermark: %s", no,
                         cep_strerror(rc));
            continue;
        }
        rc = cep_engine_push_json(e, b, n);
        if (rc == CEP_OK)
            continue;
        if (is_event_error(rc))
            push_fmt(actual, "malformed: %ld: %s", no, cep_engine_error(e));
        else
            push_fmt(actual, "error: %ld: %s", no, cep_strerror(rc));
    }
    rc = cep_engine_finish(e);
    if (rc != CEP_OK)
        push_fmt(actual, "error: finish: %s", cep_strerror(rc));
    jbuf_free(&ctx.jb);
    cep_engine_free(e);

done:
    if (ok && o.unordered) {
        /* Ties whose order is engine-defined: compare as sets of lines. */
        qsort(expected->v, expected->n, sizeof *expected->v, cmp_str);
        qsort(actual->v, actual->n, sizeof *actual->v, cmp_str);
    }
    if (ok) {
        ok = expected->n == actual->n;
        for (size_t k = 0; ok && k < expected->n; k++)
            ok = strcmp(expected->v[k], actual->v[k]) == 0;
    }
    cep_program_free(prog);
    cep_diag_free(diag);
    free(text);
    free(o.time_field);
    return ok;
}

static void print_lines(const char *title, const strlist *l)
{
    printf("  %s (%zu line%s):\n", title, l->n, l->n == 1 ? "" : "s");
    for (size_t i = 0; i < l->n; i++)
        printf("    |%s\n", l->v[i]);
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    long only = 0;
    const char *env = getenv("CEP_CONFORMANCE_ONLY");
    if (env && *env)
        only = strtol(env, NULL, 10);
    if (argc < 2) {
        fputs("usage: runner FILE.test...\n", stderr);
        return 2;
    }

    unsigned long passed = 0, failed = 0;
    strlist lines = {0}, expected = {0}, actual = {0};
    for (int a = 1; a < argc; a++) {
        sl_clear(&lines);
        if (read_lines(argv[a], &lines) < 0) {
            printf("%s: cannot read: %s\n", argv[a], strerror(errno));
            failed++;
            continue;
        }
        size_t i = 0;
        while (i < lines.n) {
            if (is_blank(lines.v[i])) {
                i++;
                continue;
            }
            size_t first = i;
            while (i < lines.n && !is_blank(lines.v[i]))
                i++;
            /* A block of only comments is not a case (file header). */
            size_t k = first;
            while (k < i && lines.v[k][0] == '#')
                k++;
            if (k == i)
                continue;
            if (only && (long)(first + 1) != only)
                continue;
            sl_clear(&expected);
            sl_clear(&actual);
            if (run_case(&lines, first, i, &expected, &actual)) {
                passed++;
            } else {
                failed++;
                printf("%s:%zu: FAIL\n", argv[a], first + 1);
                print_lines("expected", &expected);
                print_lines("actual", &actual);
            }
        }
    }
    sl_free(&lines);
    sl_free(&expected);
    sl_free(&actual);
    printf("conformance: %lu passed, %lu failed\n", passed, failed);
    return failed ? 1 : 0;
}
