/* test.c — `cepheus test RULES.cep TESTS...`: runs the cases of test files
 * (events in, expected matches, timeouts and late events out; the format is
 * in docs/testing.md) against a pattern file and reports each failing case
 * as FILE:LINE with expected against got. Uses the public header only. */
#include "config.h"
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cepheus.h"
#include "cli.h"
#include "jsonout.h"
#include "suggest.h"
#include "testjson.h"

/* The three things a case can expect. */
enum { X_MATCHES, X_TIMEOUTS, X_LATE, X_KINDS };
static const char *const x_names[X_KINDS] = {"matches", "timeouts", "late events"};

typedef struct item {
    char *text;  /* as written (expected) or rendered (got) */
    char *canon; /* compact form, normalised; NULL for JSON */
    tj *json;    /* expected JSON, or got parsed for comparison */
    char *full;  /* got: the JSON form */
    int line;
} item;

typedef struct list {
    item *v;
    size_t n, cap;
} list;

typedef struct ev_line {
    char *text;
    size_t len;
    const char *file; /* where it was read (borrowed) */
    int line;
} ev_line;

typedef struct topts {
    int64_t max_delay, lateness, ttl;
    uint64_t max_partial;
    char *time_field, *id_field; /* owned */
} topts;

typedef struct tcase {
    char *name;
    int line;
    topts o;
    ev_line *ev;
    size_t nev, evcap;
    char **files; /* event files read, kept for messages */
    size_t nfiles;
    int has[X_KINDS];
    list want[X_KINDS];
} tcase;

/* What one case's run produced. */
typedef struct run_ctx {
    const cep_program *prog;
    char **ids;   /* id of event i (tag i + 1) */
    list got[X_KINDS];
    int oom;
} run_ctx;

static void *grow(void *p, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return p;
    size_t nc = *cap ? *cap * 2 : 8;
    void *q = realloc(p, nc * size);
    if (q) *cap = nc;
    return q;
}

static int list_add(list *l, item it) {
    item *v = grow(l->v, &l->cap, l->n, sizeof *v);
    if (!v) return -1;
    l->v = v;
    l->v[l->n++] = it;
    return 0;
}

static void list_free(list *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].text);
        free(l->v[i].canon);
        free(l->v[i].full);
        tj_free(l->v[i].json);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void case_free(tcase *c) {
    free(c->name);
    free(c->o.time_field);
    free(c->o.id_field);
    for (size_t i = 0; i < c->nev; i++) free(c->ev[i].text);
    free(c->ev);
    for (size_t i = 0; i < c->nfiles; i++) free(c->files[i]);
    free(c->files);
    for (int k = 0; k < X_KINDS; k++) list_free(&c->want[k]);
}

/* ---- the compact form -------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "PATTERN step=1,2 other=3" with the step terms sorted, single spaces: the
 * order steps are written in does not matter. NULL on out of memory. */
static char *canon_compact(const char *s) {
    char *copy = strdup(s), *words[256], *save = NULL;
    if (!copy) return NULL;
    size_t n = 0;
    for (char *w = strtok_r(copy, " \t", &save); w && n < 256; w = strtok_r(NULL, " \t", &save))
        words[n++] = w;
    if (n > 2) qsort(words + 1, n - 1, sizeof *words, cmp_str);
    size_t len = 1;
    for (size_t i = 0; i < n; i++) len += strlen(words[i]) + 1;
    char *out = malloc(len), *o = out;
    if (out) {
        *o = 0;
        for (size_t i = 0; i < n; i++) o += sprintf(o, "%s%s", i ? " " : "", words[i]);
    }
    free(copy);
    return out;
}

/* ---- reading a test file ----------------------------------------------- */

typedef struct reader {
    const char *path;
    char *dir; /* the test file's directory, with a trailing '/' or "" */
    int bad;   /* syntax errors reported */
} reader;

static int syntax(reader *r, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int syntax(reader *r, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: error: ", r->path, line);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    r->bad++;
    return -1;
}

static int set_str(char **dst, const char *v) {
    char *s = strdup(v);
    if (!s) return -1;
    free(*dst);
    *dst = s;
    return 0;
}

static int copy_opts(topts *dst, const topts *src) {
    *dst = *src;
    dst->time_field = dst->id_field = NULL;
    return set_str(&dst->time_field, src->time_field) || set_str(&dst->id_field, src->id_field) ? -1 : 0;
}

/* One `options` line: the run options a test can set, as `cepheus run`
 * spells them, plus --id-field. */
static int parse_options(reader *r, int line, char *args, topts *o) {
    char *save = NULL;
    for (char *w = strtok_r(args, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        char *val = strchr(w, '=');
        if (val && w[0] == '-' && w[1] == '-') *val++ = 0;
        else val = NULL;
        static const char *const names[] = {"--max-delay", "-d", "--allowed-lateness", "--state-ttl",
                                            "--max-partial-matches", "--time-field", "-t", "--id-field"};
        size_t k = 0;
        while (k < sizeof names / sizeof *names && strcmp(w, names[k]) != 0) k++;
        if (k == sizeof names / sizeof *names) return syntax(r, line, "unknown test option '%s'", w);
        if (!val && !(val = strtok_r(NULL, " \t", &save)))
            return syntax(r, line, "option '%s' needs a value", w);
        int64_t ms = 0;
        if (k <= 4 && parse_ms(val, &ms) < 0) return syntax(r, line, "bad number '%s'", val);
        switch (k) {
        case 0: case 1: o->max_delay = ms; break;
        case 2: o->lateness = ms; break;
        case 3: o->ttl = ms; break;
        case 4: o->max_partial = (uint64_t)ms; break;
        case 5: case 6: if (set_str(&o->time_field, val)) return -1; break;
        default: if (set_str(&o->id_field, val)) return -1; break;
        }
    }
    return 0;
}

static int add_event(tcase *c, const char *s, size_t n, const char *file, int line) {
    ev_line *v = grow(c->ev, &c->evcap, c->nev, sizeof *v);
    if (!v) return -1;
    c->ev = v;
    char *t = malloc(n + 1);
    if (!t) return -1;
    memcpy(t, s, n);
    t[n] = 0;
    c->ev[c->nev++] = (ev_line){t, n, file, line};
    return 0;
}

/* `events FILE`: every non-blank line of FILE (relative to the test file). */
static int read_events_file(reader *r, tcase *c, int line, const char *name) {
    size_t nd = name[0] == '/' ? 0 : strlen(r->dir);
    char *path = malloc(nd + strlen(name) + 1);
    char **files = realloc(c->files, (c->nfiles + 1) * sizeof *files);
    if (files) c->files = files;
    if (!path || !files) {
        free(path);
        return -1;
    }
    memcpy(path, r->dir, nd);
    strcpy(path + nd, name);
    c->files[c->nfiles++] = path;
    FILE *f = fopen(path, "r");
    if (!f) {
        syntax(r, line, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    int ln = 0, rc = 0;
    while (rc == 0 && (got = getline(&buf, &cap, f)) >= 0) {
        ln++;
        size_t n = (size_t)got;
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
        size_t s = strspn(buf, " \t");
        if (s < n) rc = add_event(c, buf + s, n - s, path, ln);
    }
    free(buf);
    fclose(f);
    return rc;
}

static int expect_item(reader *r, tcase *c, int kind, char *s, int line) {
    item it = {0};
    it.line = line;
    if (!(it.text = strdup(s))) return -1;
    if (s[0] == '{') {
        const char *err;
        if (!(it.json = tj_parse(s, strlen(s), &err))) {
            free(it.text);
            return syntax(r, line, "expected value is not JSON: %s", err);
        }
    } else if (!(it.canon = canon_compact(s))) {
        free(it.text);
        return -1;
    }
    if (kind != X_LATE && it.canon && !strchr(it.canon, '=')) {
        free(it.text);
        free(it.canon);
        return syntax(r, line, "a match is written PATTERN STEP=ID,... or as JSON: '%s'", s);
    }
    if (list_add(&c->want[kind], it) < 0) {
        free(it.text);
        free(it.canon);
        tj_free(it.json);
        return -1;
    }
    return 0;
}

/* " (did you mean 'events'?)" when the first word of s is a keyword of
 * the format misspelt, else "". */
static const char *keyword_hint(const char *s, char *buf, size_t cap) {
    static const char *const kw[] = {"case", "options", "events", "expect"};
    char word[32];
    size_t n = strcspn(s, " \t");
    buf[0] = 0;
    if (n == 0 || n >= sizeof word) return buf;
    memcpy(word, s, n);
    word[n] = 0;
    const char *near = suggest_nearest(word, kw, sizeof kw / sizeof *kw);
    if (near && strcmp(near, word) != 0) snprintf(buf, cap, " (did you mean '%s'?)", near);
    return buf;
}

static int word_is(const char *s, const char *w, char **rest) {
    size_t n = strlen(w);
    if (strncmp(s, w, n) != 0 || (s[n] && s[n] != ' ' && s[n] != '\t')) return 0;
    *rest = (char *)s + n + strspn(s + n, " \t");
    return 1;
}

/* Parse a test file into cases. Returns 0, or -1 (messages printed, or out
 * of memory with *oom set). */
static int read_test_file(reader *r, const char *text, tcase **out, size_t *nout, int *oom) {
    topts defaults = {0};
    tcase *cases = NULL, *c = NULL;
    size_t n = 0, cap = 0;
    enum { S_NONE, S_EVENTS, S_EXPECT } sect = S_NONE;
    int kind = X_MATCHES, ln = 0, rc = 0;
    if (set_str(&defaults.time_field, "ts") || set_str(&defaults.id_field, "id")) rc = -1;
    for (const char *p = text; rc == 0 && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        ln++;
        char *line = strndup(p, len), *rest;
        p += len + (eol != NULL);
        if (!line) {
            rc = -1;
            break;
        }
        size_t e = strlen(line);
        while (e && (line[e - 1] == '\r' || line[e - 1] == ' ' || line[e - 1] == '\t')) line[--e] = 0;
        char *s = line + strspn(line, " \t");
        if (!*s || *s == '#') {
            free(line);
            continue;
        }
        if (word_is(s, "case", &rest)) {
            tcase *v = grow(cases, &cap, n, sizeof *v);
            if (!v) rc = -1;
            else {
                cases = v;
                c = &cases[n++];
                memset(c, 0, sizeof *c);
                c->line = ln;
                if (!(c->name = strdup(*rest ? rest : "(unnamed)")) || copy_opts(&c->o, &defaults)) rc = -1;
                sect = S_NONE;
                if (!*rest) syntax(r, ln, "%s", "a case needs a name");
            }
        } else if (word_is(s, "options", &rest)) {
            if (parse_options(r, ln, rest, c ? &c->o : &defaults) < 0 && !r->bad) rc = -1;
            sect = S_NONE;
        } else if (!c) {
            char hint[64];
            syntax(r, ln, "expected 'case NAME' or 'options'%s, not '%s'%s",
                   word_is(s, "events", &rest) || word_is(s, "expect", &rest) ? " first" : "", s,
                   keyword_hint(s, hint, sizeof hint));
        } else if (word_is(s, "events", &rest)) {
            sect = S_EVENTS;
            if (*rest) {
                if (read_events_file(r, c, ln, rest) < 0 && !r->bad) rc = -1;
                sect = S_NONE;
            }
        } else if (word_is(s, "expect", &rest)) {
            sect = S_EXPECT;
            if (!*rest || !strcmp(rest, "matches")) kind = X_MATCHES;
            else if (!strcmp(rest, "timeouts")) kind = X_TIMEOUTS;
            else if (!strcmp(rest, "late")) kind = X_LATE;
            else syntax(r, ln, "expect what? 'expect', 'expect timeouts' or 'expect late', not '%s'", rest);
            c->has[kind] = 1;
        } else if (sect == S_EVENTS && ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) &&
                   !word_is(s, "true", &rest) && !word_is(s, "false", &rest) && !word_is(s, "null", &rest)) {
            /* A word where an event (JSON) goes: more likely a misspelt
             * section than an event, and saying so beats "bad event". */
            char hint[64];
            syntax(r, ln, "'%s' is neither an event (a JSON object) nor a section%s", s,
                   keyword_hint(s, hint, sizeof hint));
        } else if (sect == S_EVENTS) {
            if (add_event(c, s, strlen(s), r->path, ln) < 0) rc = -1;
        } else if (sect == S_EXPECT) {
            if (expect_item(r, c, kind, s, ln) < 0 && !r->bad) rc = -1;
        } else {
            char hint[64];
            syntax(r, ln, "a line outside 'events' or 'expect': '%s'%s", s, keyword_hint(s, hint, sizeof hint));
        }
        free(line);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!cases[i].has[X_MATCHES])
            syntax(r, cases[i].line, "case '%s' has no 'expect' section (an empty one expects no match)",
                   cases[i].name);
        /* --only and the reports name cases: two of one name are a slip. */
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cases[i].name, cases[j].name)) {
                syntax(r, cases[i].line, "a second case named '%s' (the first is at line %d)", cases[i].name,
                       cases[j].line);
                break;
            }
    }
    /* A file without a case would pass: more likely the wrong file. */
    if (rc == 0 && n == 0 && !r->bad) syntax(r, ln ? ln : 1, "%s", "no case in the file ('case NAME' starts one)");
    free(defaults.time_field);
    free(defaults.id_field);
    if (rc < 0) *oom = 1;
    *out = cases;
    *nout = n;
    return rc < 0 || r->bad ? -1 : 0;
}

/* ---- running a case ---------------------------------------------------- */

/* The id of an event line: its id field (a string without quotes, anything
 * else as written), else its 1-based position among the case's events. */
static char *event_id(const char *text, size_t len, const char *field, size_t pos) {
    char buf[32];
    tj *v = tj_parse(text, len, NULL);
    const tj *f = tj_get(v, field);
    char *id;
    if (f && (f->kind == TJ_STR || f->kind == TJ_NUM)) {
        id = strndup(f->s, f->slen);
    } else if (f && (f->kind == TJ_BOOL || f->kind == TJ_NULL)) {
        id = strdup(f->kind == TJ_NULL ? "null" : f->b ? "true" : "false");
    } else {
        snprintf(buf, sizeof buf, "%zu", pos);
        id = strdup(buf);
    }
    tj_free(v);
    return id;
}

static const char *id_of(const run_ctx *x, const cep_event *ev) {
    uint64_t tag = cep_event_tag(ev);
    return tag ? x->ids[tag - 1] : "?";
}

static int got_match(run_ctx *x, const cep_match *m, int kind) {
    jbuf b = {0}, j = {0};
    jbuf_puts(&b, cep_match_pattern(m));
    for (size_t s = 0; s < cep_match_step_count(m); s++) {
        size_t ne = cep_match_event_count(m, s);
        if (!ne) continue;
        jbuf_puts(&b, " ");
        jbuf_puts(&b, cep_match_step_name(m, s));
        for (size_t i = 0; i < ne; i++) {
            jbuf_puts(&b, i ? "," : "=");
            jbuf_puts(&b, id_of(x, cep_match_event(m, s, i)));
        }
    }
    jbuf_put(&b, "", 1);
    jbuf_match(&j, x->prog, m);
    if (j.len) j.p[--j.len] = 0; /* the newline */
    jbuf_put(&j, "", 1);
    item it = {0};
    it.text = b.p;
    it.full = j.p;
    if (b.oom || j.oom || !(it.canon = canon_compact(b.p)) || list_add(&x->got[kind], it) < 0) {
        free(b.p);
        free(j.p);
        free(it.canon);
        x->oom = 1;
        return 1;
    }
    return 0;
}

static int on_match(void *ud, const cep_match *m) { return got_match(ud, m, X_MATCHES); }
static int on_timeout(void *ud, const cep_match *m) { return got_match(ud, m, X_TIMEOUTS); }

static int on_late(void *ud, const cep_event *ev) {
    run_ctx *x = ud;
    size_t len;
    const char *raw = cep_event_raw(ev, &len);
    item it = {0};
    it.text = strdup(id_of(x, ev));
    it.canon = strdup(it.text ? it.text : "");
    it.full = raw ? strndup(raw, len) : strdup("{}");
    if (!it.text || !it.canon || !it.full || list_add(&x->got[X_LATE], it) < 0) {
        free(it.text);
        free(it.canon);
        free(it.full);
        x->oom = 1;
        return 1;
    }
    return 0;
}

/* Does expected item w describe got item g? */
static int item_eq(const item *w, item *g) {
    if (w->canon) return strcmp(w->canon, g->canon) == 0;
    if (!g->json) g->json = tj_parse(g->full, strlen(g->full), NULL);
    return g->json && tj_subset(w->json, g->json);
}

/* Print expected against got as a diff: ' ' both, '-' expected only, '+'
 * got only, aligned by a longest common subsequence (lists are short). */
static void print_diff(int kind, const list *want, list *got) {
    size_t a = want->n, b = got->n;
    unsigned *t = calloc((a + 1) * (b + 1), sizeof *t);
    int json = 0;
    for (size_t i = 0; i < a; i++) json |= want->v[i].json != NULL;
    printf("  %s (- expected, + got):\n", x_names[kind]);
    if (!t) {
        puts("    (out of memory)");
        return;
    }
#define T(i, j) t[(i) * (b + 1) + (j)]
    for (size_t i = a; i-- > 0;)
        for (size_t j = b; j-- > 0;)
            T(i, j) = item_eq(&want->v[i], &got->v[j]) ? T(i + 1, j + 1) + 1
                      : T(i + 1, j) > T(i, j + 1)     ? T(i + 1, j)
                                                      : T(i, j + 1);
    size_t i = 0, j = 0;
    while (i < a || j < b) {
        if (i < a && j < b && item_eq(&want->v[i], &got->v[j])) {
            printf("    %s\n", want->v[i].text);
            i++, j++;
        } else if (i < a && (j == b || T(i + 1, j) >= T(i, j + 1))) {
            printf("  - %s\n", want->v[i++].text);
        } else {
            printf("  + %s\n", json ? got->v[j].full : got->v[j].text);
            j++;
        }
    }
    if (!a && !b) puts("    (none)");
#undef T
    free(t);
}

static int same(const list *want, list *got) {
    if (want->n != got->n) return 0;
    for (size_t i = 0; i < want->n; i++)
        if (!item_eq(&want->v[i], &got->v[i])) return 0;
    return 1;
}

/* Run one case; print its failure. 1 passed, 0 failed, -1 out of memory. */
static int has_id(const run_ctx *x, size_t nev, const char *id) {
    for (size_t i = 0; i < nev && x->ids[i]; i++)
        if (!strcmp(x->ids[i], id)) return 1;
    return 0;
}

/* Under a failing case: the compact expectations that could never match,
 * naming a pattern the file does not have or an id no event has. */
static void print_notes(const char *path, const cep_program *prog, const tcase *c, const run_ctx *x) {
    size_t np = cep_program_pattern_count(prog);
    const char *names[64];
    for (size_t i = 0; i < np && i < 64; i++) names[i] = cep_program_pattern_name(prog, i);
    for (int k = 0; k < X_KINDS; k++) {
        if (!c->has[k]) continue;
        for (size_t i = 0; i < c->want[k].n; i++) {
            const item *it = &c->want[k].v[i];
            char *copy = it->canon ? strdup(it->canon) : NULL, *save = NULL;
            if (!copy) continue;
            char *w = strtok_r(copy, " ", &save);
            if (k != X_LATE && w) {
                size_t p = 0;
                while (p < np && strcmp(cep_program_pattern_name(prog, p), w) != 0) p++;
                if (p == np) {
                    const char *near = suggest_nearest(w, names, np < 64 ? np : 64);
                    printf("  note: %s:%d: the pattern file has no pattern '%s'", path, it->line, w);
                    if (near) printf(" (did you mean '%s'?)", near);
                    printf("\n");
                }
                w = strtok_r(NULL, " ", &save);
            }
            for (; w; w = strtok_r(NULL, " ", &save)) {
                char *ids = k == X_LATE ? w : strchr(w, '='), *s2 = NULL;
                if (!ids) continue;
                if (k != X_LATE) ids++;
                for (char *id = strtok_r(ids, ",", &s2); id; id = strtok_r(NULL, ",", &s2))
                    if (!has_id(x, c->nev, id))
                        printf("  note: %s:%d: no event of the case has id '%s'\n", path, it->line, id);
            }
            free(copy);
        }
    }
}

static int run_case(const char *path, const cep_program *prog, tcase *c) {
    run_ctx x = {0};
    x.prog = prog;
    cep_engine *e = NULL;
    cep_event *ev = NULL;
    char msg[512] = "";
    int rc = 0;
    x.ids = calloc(c->nev + 1, sizeof *x.ids);
    if (!x.ids || cep_engine_new(prog, &e) != CEP_OK || cep_event_new(prog, &ev) != CEP_OK) {
        x.oom = 1;
        goto out;
    }
    if (cep_engine_set_max_delay(e, c->o.max_delay) || cep_engine_set_allowed_lateness(e, c->o.lateness) ||
        cep_engine_set_state_ttl(e, c->o.ttl) ||
        cep_engine_set_max_partial_matches(e, c->o.max_partial, CEP_LIMIT_DROP_OLDEST) ||
        cep_engine_set_time_field(e, c->o.time_field)) {
        snprintf(msg, sizeof msg, "bad options");
        goto out;
    }
    cep_engine_on_match(e, on_match, &x);
    cep_engine_on_timeout(e, on_timeout, &x);
    cep_engine_on_late(e, on_late, &x);
    size_t pos = 0;
    for (size_t i = 0; i < c->nev && !msg[0]; i++) {
        ev_line *l = &c->ev[i];
        int64_t wm;
        int w = cli_watermark_line(l->text, l->len, &wm);
        if (w < 0) {
            snprintf(msg, sizeof msg, "%s:%d: bad $watermark line", l->file, l->line);
        } else if (w > 0) {
            rc = cep_engine_advance_watermark(e, wm);
        } else {
            if (!(x.ids[pos] = event_id(l->text, l->len, c->o.id_field, pos + 1))) {
                x.oom = 1;
                break;
            }
            pos++;
            rc = cep_event_parse_json(ev, l->text, l->len, c->o.time_field);
            if (rc != CEP_OK) {
                snprintf(msg, sizeof msg, "%s:%d: bad event: %s", l->file, l->line, cep_event_error(ev));
                break;
            }
            cep_event_set_tag(ev, pos);
            rc = cep_engine_push(e, ev);
        }
        if (rc != CEP_OK && !msg[0])
            snprintf(msg, sizeof msg, "%s:%d: %s", l->file, l->line, cep_engine_error(e));
    }
    if (!msg[0] && !x.oom && cep_engine_finish(e) != CEP_OK)
        snprintf(msg, sizeof msg, "at the end: %s", cep_engine_error(e));
out:
    if (x.oom) rc = -1;
    else {
        int ok = !msg[0];
        for (int k = 0; k < X_KINDS; k++)
            if (c->has[k] && !same(&c->want[k], &x.got[k])) ok = 0;
        if (!ok) {
            printf("%s:%d: case %s\n", path, c->line, c->name);
            if (msg[0]) printf("  error: %s\n", msg);
            for (int k = 0; k < X_KINDS && !msg[0]; k++)
                if (c->has[k] && !same(&c->want[k], &x.got[k])) print_diff(k, &c->want[k], &x.got[k]);
            if (!msg[0]) print_notes(path, prog, c, &x);
        }
        rc = ok;
    }
    cep_event_free(ev);
    cep_engine_free(e);
    for (size_t i = 0; x.ids && i < c->nev; i++) free(x.ids[i]);
    free(x.ids);
    for (int k = 0; k < X_KINDS; k++) list_free(&x.got[k]);
    return rc;
}

static const char test_usage[] =
    "Usage: cepheus test [--only NAME]... [--load MODULE]... PATTERNS.cep TESTS...\n"
    "Run the cases of each test file (docs/testing.md) against the patterns;\n"
    "print FILE:LINE: case NAME with expected against got for each failure,\n"
    "then 'N passed, N failed'. Exit 0 when every case passed, 1 otherwise.\n"
    "  --only NAME   run only the cases named NAME (may be repeated)\n"
    "  --load MODULE load a shared object whose cep_plugin_register adds\n"
    "                functions the patterns call (may be repeated)\n";

int cmd_test(int argc, char **argv) {
    const struct option opts[] = {{"only", required_argument, NULL, 'n'},
                                  {"load", required_argument, NULL, 'L'},
                                  {"help", no_argument, NULL, 'h'},
                                  {NULL, 0, NULL, 0}};
    const char **only = calloc((size_t)argc, sizeof *only);
    size_t nonly = 0;
    int c;
    if (!only) return fail(EXIT_INTERNAL, "out of memory");
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'n') only[nonly++] = optarg;
        else if (c == 'L') {
            if (cli_load_plugin(optarg) != EXIT_OK) {
                free(only);
                return EXIT_USAGE;
            }
        } else if (c == 'h') {
            free(only);
            fputs(test_usage, stdout);
            return EXIT_OK;
        } else {
            free(only);
            return option_error(c, argv);
        }
    }
    if (argc - optind < 2) {
        free(only);
        return usage_error("test needs a pattern file and at least one test file");
    }
    /* The order of the arguments is the likely slip: a test file where the
     * pattern file goes would otherwise show a page of syntax errors. */
    size_t l0 = strlen(argv[optind]);
    if (l0 > 5 && !strcmp(argv[optind] + l0 - 5, ".test")) {
        free(only);
        return usage_error("test: '%s' is a test file; the pattern file comes first: "
                           "cepheus test PATTERNS.cep TESTS...", argv[optind]);
    }
    cep_program *prog;
    int status = compile_file(argv[optind], &prog);
    if (status != EXIT_OK) {
        free(only);
        return status;
    }
    unsigned passed = 0, failed = 0;
    char **seen = NULL; /* every case's name, when --only is given */
    size_t nseen = 0;
    int *used = calloc(nonly + 1, sizeof *used);
    for (int a = optind + 1; a < argc && status == EXIT_OK && used; a++) {
        const char *path = argv[a];
        char *text = read_file(path, NULL);
        if (!text) {
            status = errno == ENOMEM ? fail(EXIT_INTERNAL, "out of memory")
                                     : fail(EXIT_USAGE, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        const char *slash = strrchr(path, '/');
        reader r = {path, strndup(path, slash ? (size_t)(slash - path) + 1 : 0), 0};
        tcase *cases = NULL;
        size_t n = 0;
        int oom = !r.dir;
        if (!oom && read_test_file(&r, text, &cases, &n, &oom) < 0)
            status = oom ? fail(EXIT_INTERNAL, "out of memory") : EXIT_USAGE;
        for (size_t i = 0; i < n && status == EXIT_OK; i++) {
            int want = !nonly;
            for (size_t k = 0; k < nonly; k++)
                if (!strcmp(only[k], cases[i].name)) want = used[k] = 1;
            if (!want) continue;
            int rc = run_case(path, prog, &cases[i]);
            if (rc < 0) status = fail(EXIT_INTERNAL, "out of memory");
            else if (rc) passed++;
            else failed++;
        }
        /* The names, for "did you mean" when --only names no case. */
        int keep = nonly && n;
        char **more = keep ? realloc(seen, (nseen + n) * sizeof *seen) : seen;
        if (keep && !more) status = fail(EXIT_INTERNAL, "out of memory");
        else seen = more;
        for (size_t i = 0; i < n; i++) {
            if (keep && more) seen[nseen++] = cases[i].name;
            else free(cases[i].name);
            cases[i].name = NULL;
            case_free(&cases[i]);
        }
        free(cases);
        free(r.dir);
        free(text);
    }
    if (!used) status = fail(EXIT_INTERNAL, "out of memory");
    for (size_t k = 0; k < nonly && status == EXIT_OK; k++)
        if (!used[k]) {
            const char *near = suggest_nearest(only[k], (const char *const *)seen, nseen);
            fprintf(stderr, "cepheus: no case named '%s'%s%s%s\n", only[k], near ? " (did you mean '" : "",
                    near ? near : "", near ? "'?)" : "");
            failed++;
        }
    if (status == EXIT_OK) {
        printf("%u passed, %u failed\n", passed, failed);
        if (failed) status = EXIT_PATTERN;
    }
    if (fflush(stdout) != 0 && status == EXIT_OK) status = EXIT_OUTPUT;
    for (size_t i = 0; i < nseen; i++) free(seen[i]);
    free(seen);
    free(used);
    free(only);
    cep_program_free(prog);
    return status;
}
