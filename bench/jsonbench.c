/* jsonbench.c — `make bench-json`: the JSON event reader against the JSON
 * libraries Debian has, on the CLI benchmark's W1 lines and on a wider mix
 * (strings with escapes, nested values the program ignores, doubles,
 * RFC 3339 times). Every reader fills the same event row from each line —
 * the fields the program reads into their slots, the time from "ts" — and
 * the rows are checksummed, so a reader that reads differently fails the
 * run. Prints ns/line (CPU time, best of --reps). The libraries are optional
 * (configure looks for each); docs/design.md records what the numbers chose. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cepheus.h"
#include "json.h"
#include "jsonbench.h"
#include <yajl/yajl_parse.h>
#ifdef HAVE_JANSSON
#include <jansson.h>
#endif
#ifdef HAVE_CJSON
#include <cJSON.h>
#endif

/* ---- the lines ------------------------------------------------------------- */

static uint64_t rng(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct lines {
    char *buf;           /* all lines, each followed by '\n'; 64 bytes of padding after */
    size_t len, cap;
    size_t *off;         /* start of line i; off[n] = end */
    size_t n;
} lines;

static void add_line(lines *L, const char *s, size_t n) {
    if (L->len + n + 1 + 64 > L->cap) {
        L->cap = (L->cap + n + 65) * 2;
        L->buf = realloc(L->buf, L->cap);
        if (!L->buf) abort();
    }
    memcpy(L->buf + L->len, s, n);
    L->len += n;
    L->buf[L->len++] = '\n';
    memset(L->buf + L->len, ' ', 64);
}

static void index_lines(lines *L) {
    L->off = malloc((L->n + 1) * sizeof *L->off);
    if (!L->off) abort();
    size_t k = 0, i = 0;
    L->off[k++] = 0;
    for (; i < L->len; i++)
        if (L->buf[i] == '\n') L->off[k++] = i + 1;
}

/* W1 as bench/cepbench.c writes it for the CLI run. */
static void gen_w1(lines *L, size_t n) {
    static const char *types[] = {"click", "purchase"};
    uint64_t s = 0xC0FFEE;
    char tmp[256];
    for (size_t i = 0; i < n; i++) {
        int64_t t = 1700000000000LL + (int64_t)(i * 60000 / 1000);
        int64_t key = (int64_t)(((unsigned __int128)rng(&s) * 1000) >> 64) + 1;
        uint64_t r = rng(&s);
        int len = snprintf(tmp, sizeof tmp, "{\"ts\":%" PRId64 ",\"user_id\":%" PRId64 ",\"type\":\"%s\",\"item\":%d}",
                           t, key, types[(r % 100) < 70 ? 0 : 1], (int)((r >> 32) % 8));
        add_line(L, tmp, (size_t)len);
        L->n++;
    }
}

/* The wider mix: times as integers or RFC 3339 strings, strings with and
 * without escapes (\" \\ \n \t \u00e9 \u20ac) and raw UTF-8, doubles, a
 * bool, a null, and a nested context object the program never reads. */
static void gen_mix(lines *L, size_t n) {
    static const char *msgs[] = {
        "ok", "user logged in from the web client",
        "he said \\\"hi\\\"\\n\\tthen left", "caf\\u00e9 \\u20ac 3.50",
        "path C:\\\\temp\\\\x", "d\xc3\xa9j\xc3\xa0 vu \xe2\x82\xac",
    };
    uint64_t s = 0xBADC0DE;
    char tmp[1024], ts[64];
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng(&s);
        int64_t t = 1700000000000LL + (int64_t)i * 7;
        if (r & 1) {
            time_t sec = (time_t)(t / 1000);
            struct tm tm;
            gmtime_r(&sec, &tm);
            size_t k = strftime(ts, sizeof ts, "\"%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(ts + k, sizeof ts - k, ".%03dZ\"", (int)(t % 1000));
        } else {
            snprintf(ts, sizeof ts, "%" PRId64, t);
        }
        double amount = (double)(r >> 40) / 100.0;
        int len = snprintf(tmp, sizeof tmp,
                           "{\"ts\":%s,\"user\":\"u%05u\",\"msg\":\"%s\",\"amount\":%.2f,\"n\":%u,"
                           "\"ok\":%s,\"x\":null,\"ctx\":{\"ip\":\"10.0.%u.%u\",\"tags\":[\"a\",\"b\\\"c\"],"
                           "\"geo\":{\"lat\":48.8566,\"lon\":-2.3522e0},\"seq\":[1,2,3,4.5e-3]}}",
                           ts, (unsigned)(r % 50000), msgs[(r >> 8) % 6], amount, (unsigned)((r >> 16) % 1000),
                           (r >> 20) & 1 ? "true" : "false", (unsigned)((r >> 24) % 256),
                           (unsigned)((r >> 32) % 256));
        add_line(L, tmp, (size_t)len);
        L->n++;
    }
}

/* ---- filling the row from library members ------------------------------------ */

typedef struct fill {
    cep_event *ev;
    const cep_program *prog;
    const char *names[64];
    size_t lens[64];
    int nfields;
    int time_set;
    int64_t time;
    int bad;
} fill;

static int slot_of(const fill *f, const char *k, size_t n) {
    for (int i = 0; i < f->nfields; i++)
        if (f->lens[i] == n && memcmp(f->names[i], k, n) == 0) return i;
    return -1;
}

void jb_on_member(void *ud, const jb_member *m) {
    fill *f = ud;
    int slot = slot_of(f, m->key, m->klen);
    if (m->klen == 2 && memcmp(m->key, "ts", 2) == 0) {
        if (m->kind == M_INT) f->time = m->i, f->time_set = 1;
        else if (m->kind == M_STRING && cep_parse_time(m->s, m->slen, &f->time) == CEP_OK) f->time_set = 1;
        else f->time_set = 0;
    }
    if (slot < 0) return;
    switch (m->kind) {
    case M_BOOL: cep_event_set_bool(f->ev, slot, (int)m->i); break;
    case M_INT: cep_event_set_int(f->ev, slot, m->i); break;
    case M_DOUBLE: cep_event_set_double(f->ev, slot, m->d); break;
    case M_STRING: cep_event_set_string(f->ev, slot, m->s, m->slen); break;
    default: cep_event_set_null(f->ev, slot); break;
    }
}

static void fill_begin(fill *f) {
    cep_event_clear(f->ev);
    f->time_set = 0;
}

/* The row is complete: time and raw text, as cep_event_parse_json sets them. */
static int fill_end(fill *f, const char *text, size_t len) {
    if (!f->time_set) return -1;
    cep_event_set_time(f->ev, f->time);
    cep_event_set_raw(f->ev, text, len);
    return 0;
}

/* ---- the readers ------------------------------------------------------------------ */

typedef int (*reader_fn)(void *state, fill *f, const char *text, size_t len);

static int rd_cepheus(void *st, fill *f, const char *text, size_t len) {
    return cep_event_parse_json(f->ev, text, len, "ts") == CEP_OK ? 0 : -1;
}

static int rd_cepheus_yajl(void *st, fill *f, const char *text, size_t len) {
    return json_parse_yajl(f->ev, text, len, "ts") == CEP_OK ? 0 : -1;
}

/* The fast path alone: a deferred line counts as rejected, so the run
 * shows whether every line of a set stays on it. */
static json_scratch fast_scratch;
static int rd_fast(void *st, fill *f, const char *text, size_t len) {
    cep_event_clear(f->ev);
    return json_fast_parse(f->ev, text, len, "ts", &fast_scratch) == CEP_OK ? 0 : -1;
}

/* No parsing: clear the row, set a time and the raw text. The floor under
 * every reader here (the row checksum is in every figure too). */
static int rd_floor(void *st, fill *f, const char *text, size_t len) {
    fill_begin(f);
    f->time_set = 1;
    f->time = 0;
    return fill_end(f, text, len);
}

/* yajl itself, callbacks doing nothing: what any yajl-based reader pays. */
static int cb_nop(void *ctx) { return 1; }
static int cb_nop_b(void *ctx, int b) { return 1; }
static int cb_nop_s(void *ctx, const char *s, size_t n) { return 1; }
static int cb_nop_u(void *ctx, const unsigned char *s, size_t n) { return 1; }
static const yajl_callbacks nop_callbacks = {cb_nop, cb_nop_b, NULL, NULL, cb_nop_s, cb_nop_u,
                                             cb_nop, cb_nop_u, cb_nop, cb_nop, cb_nop};

static int rd_yajl_bare(void *st, fill *f, const char *text, size_t len) {
    yajl_handle h = yajl_alloc(&nop_callbacks, NULL, NULL);
    yajl_status s = yajl_parse(h, (const unsigned char *)text, len);
    if (s == yajl_status_ok) s = yajl_complete_parse(h);
    yajl_free(h);
    return s == yajl_status_ok ? 0 : -1;
}

#ifdef HAVE_JANSSON
static int rd_jansson(void *st, fill *f, const char *text, size_t len) {
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    fill_begin(f);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        jb_member m = {.key = key, .klen = strlen(key)};
        switch (json_typeof(v)) {
        case JSON_NULL: m.kind = M_NULL; break;
        case JSON_TRUE: m.kind = M_BOOL, m.i = 1; break;
        case JSON_FALSE: m.kind = M_BOOL, m.i = 0; break;
        case JSON_INTEGER: m.kind = M_INT, m.i = json_integer_value(v); break;
        case JSON_REAL: m.kind = M_DOUBLE, m.d = json_real_value(v); break;
        case JSON_STRING: m.kind = M_STRING, m.s = json_string_value(v), m.slen = json_string_length(v); break;
        default: m.kind = M_NESTED; break;
        }
        jb_on_member(f, &m);
    }
    int rc = fill_end(f, text, len);
    json_decref(root);
    return rc;
}
#endif

#ifdef HAVE_JSONC
static int rd_jsonc(void *st, fill *f, const char *text, size_t len) {
    fill_begin(f);
    if (jb_jsonc(st, text, len, f) != 0) return -1;
    return fill_end(f, text, len);
}
#endif

#ifdef HAVE_CJSON
static int rd_cjson(void *st, fill *f, const char *text, size_t len) {
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return -1;
    }
    fill_begin(f);
    for (cJSON *v = root->child; v; v = v->next) {
        jb_member m = {.key = v->string, .klen = strlen(v->string)};
        if (cJSON_IsNull(v)) m.kind = M_NULL;
        else if (cJSON_IsBool(v)) m.kind = M_BOOL, m.i = cJSON_IsTrue(v);
        else if (cJSON_IsNumber(v)) {
            /* cJSON keeps every number as a double: integers come back
             * from it (exact only up to 2^53). */
            double d = v->valuedouble;
            if (d == (double)(int64_t)d && d > -9.2e18 && d < 9.2e18) m.kind = M_INT, m.i = (int64_t)d;
            else m.kind = M_DOUBLE, m.d = d;
        } else if (cJSON_IsString(v)) m.kind = M_STRING, m.s = v->valuestring, m.slen = strlen(v->valuestring);
        else m.kind = M_NESTED;
        jb_on_member(f, &m);
    }
    int rc = fill_end(f, text, len);
    cJSON_Delete(root);
    return rc;
}
#endif

#ifdef HAVE_SIMDJSON
static int rd_simd_dom(void *st, fill *f, const char *text, size_t len) {
    fill_begin(f);
    if (jb_simdjson_dom(st, text, len, f) != 0) return -1;
    return fill_end(f, text, len);
}
static int rd_simd_od(void *st, fill *f, const char *text, size_t len) {
    fill_begin(f);
    if (jb_simdjson_ondemand(st, text, len, f) != 0) return -1;
    return fill_end(f, text, len);
}
#endif

/* ---- timing ------------------------------------------------------------------------ */

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A checksum of the row, so that every reader must read the same values. */
static uint64_t row_sum(const cep_event *ev, size_t nfields) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)cep_event_time(ev);
    for (size_t i = 0; i < nfields; i++) {
        cep_value v = cep_event_value(ev, (int)i);
        h = (h ^ (uint64_t)v.type) * 1099511628211ull;
        switch (v.type) {
        case CEP_BOOL: h = (h ^ (uint64_t)v.u.b) * 1099511628211ull; break;
        case CEP_INT: h = (h ^ (uint64_t)v.u.i) * 1099511628211ull; break;
        case CEP_DOUBLE: {
            uint64_t b;
            memcpy(&b, &v.u.d, 8);
            h = (h ^ b) * 1099511628211ull;
            break;
        }
        case CEP_STRING:
            for (size_t k = 0; k < v.u.s.len; k++) h = (h ^ (unsigned char)v.u.s.ptr[k]) * 1099511628211ull;
            break;
        default: break;
        }
    }
    return h;
}

static int reps = 3;
static int failures;
static const char *only; /* --only: readers whose name contains it */
static const char *only_set; /* --set: W1 or mix */

/* want: the checksum every reader must give (0: set it); lossy: a reader
 * known to read some values otherwise, whose difference is shown, not
 * counted as a failure. */
static void run_reader(const char *set, const char *name, reader_fn fn, void *st, fill *f, const lines *L,
                       uint64_t *want, const char *lossy) {
    if (only && !strstr(name, only)) return;
    double best = 1e30;
    uint64_t sum = 0;
    size_t bad = 0;
    for (int r = 0; r < reps; r++) {
        sum = 0;
        bad = 0;
        double t0 = cpu_s();
        for (size_t i = 0; i < L->n; i++) {
            const char *t = L->buf + L->off[i];
            size_t n = L->off[i + 1] - L->off[i] - 1;
            if (fn(st, f, t, n) != 0) {
                bad++;
                continue;
            }
            sum += row_sum(f->ev, (size_t)f->nfields);
        }
        double dt = cpu_s() - t0;
        if (dt < best) best = dt;
    }
    const char *note = "";
    if (bad) note = "REJECTED LINES", failures++;
    else if (*want == 0) *want = sum;
    else if (sum != *want && lossy) note = lossy;
    else if (sum != *want) note = "ROWS DIFFER", failures++;
    printf("%-5s %-34s %8.1f ns/line %8.1f MB/s  %s\n", set, name, best * 1e9 / (double)L->n,
           (double)L->len / best / 1e6, note);
    fflush(stdout);
}

static cep_program *compile(const char *text) {
    cep_program *p = NULL;
    if (cep_compile(NULL, text, strlen(text), "jsonbench", &p, NULL) != CEP_OK) {
        fprintf(stderr, "jsonbench: the pattern does not compile\n");
        exit(1);
    }
    return p;
}

#define run(set, name, fn, st, f, L, want) run_reader(set, name, fn, st, f, L, want, NULL)

static void bench_set(const char *set, const char *pattern, const lines *L) {
    if (only_set && strcmp(only_set, set) != 0) return;
    cep_program *prog = compile(pattern);
    fill f = {.prog = prog};
    if (cep_event_new(prog, &f.ev) != CEP_OK) exit(1);
    f.nfields = (int)cep_program_field_count(prog);
    for (int i = 0; i < f.nfields; i++) {
        f.names[i] = cep_program_field_name(prog, (size_t)i);
        f.lens[i] = strlen(f.names[i]);
    }
    uint64_t want = 0;
    printf("%-5s %zu lines, %.1f bytes/line, fields read: %d\n", set, L->n, (double)L->len / (double)L->n,
           f.nfields);
    run(set, "cepheus: yajl reader (before)", rd_cepheus_yajl, NULL, &f, L, &want);
    run(set, "cepheus: cep_event_parse_json", rd_cepheus, NULL, &f, L, &want);
    run(set, "cepheus: fast path alone", rd_fast, NULL, &f, L, &want);
    uint64_t none = 0;
    run(set, "floor: clear row, set time and raw", rd_floor, NULL, &f, L, &none);
    none = 0;
    run(set, "yajl alone, no-op callbacks", rd_yajl_bare, NULL, &f, L, &none);
#ifdef HAVE_JANSSON
    run(set, "jansson 2.14 (tree)", rd_jansson, NULL, &f, L, &want);
#endif
#ifdef HAVE_JSONC
    void *tok = jb_jsonc_new();
    run(set, "json-c 0.16 (tree)", rd_jsonc, tok, &f, L, &want);
    jb_jsonc_free(tok);
#endif
#ifdef HAVE_CJSON
    run_reader(set, "cJSON 1.7.15 (tree)", rd_cjson, NULL, &f, L, &want,
               "rows differ: cJSON has no integers (12.00 reads as 12)");
#endif
#ifdef HAVE_SIMDJSON
    void *sj = jb_simdjson_new();
    run(set, "simdjson 3.0.1 DOM (C++ shim)", rd_simd_dom, sj, &f, L, &want);
    run(set, "simdjson 3.0.1 On-Demand (shim)", rd_simd_od, sj, &f, L, &want);
    jb_simdjson_free(sj);
#endif
    cep_event_free(f.ev);
    cep_program_free(prog);
    json_scratch_free(&fast_scratch);
}

int main(int argc, char **argv) {
    size_t n = 1000000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--lines") && i + 1 < argc) n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) only_set = argv[++i];
        else {
            fprintf(stderr, "usage: jsonbench [--lines N] [--reps R] [--only READER] [--set W1|mix]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    lines w1 = {0}, mix = {0};
    gen_w1(&w1, n);
    index_lines(&w1);
    gen_mix(&mix, n / 2 ? n / 2 : 1);
    index_lines(&mix);
    bench_set("W1",
              "pattern click_to_purchase\n  key user_id\n  begin click where type == \"click\"\n"
              "  followedBy purchase where type == \"purchase\" and item == click.item\n  within 10m\n",
              &w1);
    bench_set("mix",
              "pattern m\n  key user\n  begin a where msg != null and amount > 0 and n > 1 and ok == true\n"
              "  followedBy b where amount > a.amount\n  within 1m\n",
              &mix);
    free(w1.buf);
    free(w1.off);
    free(mix.buf);
    free(mix.off);
    if (failures) fprintf(stderr, "jsonbench: %d readers read differently\n", failures);
    return failures ? 1 : 0;
}
