/* test_json_diff.c — the fast JSON reader (runtime/json_fast.c) against the
 * yajl reader (json_parse_yajl) on generated event lines and on mutations
 * of them: whenever the fast path accepts a text, yajl must accept it too
 * and fill the very same row; and cep_event_parse_json, which combines
 * them, must return what yajl returns, with the same message. */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cepheus.h"
#include "json.h"
#include "suites.h"

static const char pattern_text[] =
    "pattern p\n"
    "  begin a where i != null and d != null and s != null\n"
    "    and b != null and n != null and ab != null and ts != null\n"
    "  followedBy c where i == 0\n";

static uint64_t rs;
static uint64_t rnd(void) {
    uint64_t z = (rs += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static unsigned below(unsigned n) { return (unsigned)(rnd() % n); }

typedef struct text {
    char b[4096];
    size_t n;
} text;

static void put(text *t, const char *s, size_t n) {
    if (t->n + n >= sizeof t->b) return; /* long enough: stop growing */
    memcpy(t->b + t->n, s, n);
    t->n += n;
}
static void puts_(text *t, const char *s) { put(t, s, strlen(s)); }

static void ws(text *t) {
    /* \f and \v: yajl's white space, not JSON's; rare, so that most valid
     * lines stay on the fast path. */
    static const char *w[] = {"", "", "", " ", "  ", "\t", "\n", "\r\n"};
    if (below(400) == 0) puts_(t, below(2) ? " \f" : "\v");
    else puts_(t, w[below(8)]);
}

static void number(text *t) {
    static const char *fixed[] = {
        "0", "-0", "1", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
        "-9223372036854775809", "99999999999999999999", "1.5", "-0.0", "2.5E-3", "1e2", "1E+2", "1e400",
        "-1e400", "1e-400", "123456789012345678901234.5", "0.1", "0.30000000000000004", "4.9e-324",
        "1.7976931348623157e308", "1700000000000", "1.7e12", "5.0", "1.0000000000000001", "12345678901234567",
        "0.000000000000000000000000001", "3.14159265358979323846", "01", "1.", ".5", "-", "1e", "+1", "1e+",
        "0x10", "00", "-01", "1.5e3.2"};
    char tmp[64];
    switch (below(5)) {
    case 0: puts_(t, fixed[below(sizeof fixed / sizeof *fixed)]); return;
    case 4: snprintf(tmp, sizeof tmp, "%u", below(1000)); break;
    case 1: snprintf(tmp, sizeof tmp, "%" PRId64, (int64_t)rnd() >> below(64)); break;
    case 2: snprintf(tmp, sizeof tmp, "%.*g", 1 + (int)below(17), (double)(int64_t)rnd() / (double)(1ull << below(64))); break;
    default:
        snprintf(tmp, sizeof tmp, "%s%u.%ue%s%u", below(2) ? "-" : "", below(100000), below(1000),
                 below(2) ? "-" : "", below(30));
        break;
    }
    puts_(t, tmp);
}

static void string(text *t) {
    static const char *parts[] = {
        "a", "hello", "click", "x y z", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\b", "\\f", "\\r", "\\u0041",
        "\\u00e9", "\\u20AC", "\\u0000", "\\uD83D\\uDE00", "\\uDE00", "\\uD800x", "\\u12", "\\x", "\xc3\xa9",
        "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\xc3(",
        "\x01", "\x7f", "\t", "2023-11-14T22:13:20.250Z", "2023-11-14T22:13:20Z", "1970-01-01T00:00:00+01:00",
        "yesterday", "ab", "ts", "i"};
    put(t, "\"", 1);
    unsigned k = below(4);
    for (unsigned i = 0; i < k; i++) {
        /* Mostly plain text, at times an escape or a bad byte. */
        unsigned j = below(3) ? below(5) : below(sizeof parts / sizeof *parts);
        puts_(t, parts[j]);
    }
    put(t, "\"", 1);
}

static void value(text *t, int depth);

static void nested(text *t, int depth) {
    int obj = (int)below(2);
    put(t, obj ? "{" : "[", 1);
    unsigned k = below(4);
    for (unsigned i = 0; i < k; i++) {
        if (i) put(t, ",", 1);
        ws(t);
        if (obj) {
            string(t);
            ws(t);
            put(t, ":", 1);
            ws(t);
        }
        value(t, depth + 1);
        ws(t);
    }
    put(t, obj ? "}" : "]", 1);
}

static void value(text *t, int depth) {
    switch (below(depth > 3 ? 6 : 7)) {
    case 0: number(t); break;
    case 1: number(t); break;
    case 2: string(t); break;
    case 3: puts_(t, "true"); break;
    case 4: puts_(t, below(2) ? "false" : "null"); break;
    case 5: string(t); break;
    default: nested(t, depth); break;
    }
}

/* Text nested `levels` arrays deep, around the limit (64 with the object). */
static void deep(text *t) {
    unsigned levels = 60 + below(8);
    for (unsigned i = 1; i < levels; i++) put(t, "[", 1);
    for (unsigned i = 1; i < levels; i++) put(t, "]", 1);
}

static void event(text *t) {
    static const char *keys[] = {"ts", "i", "d", "s", "b", "n", "ab", "x", "zz", "a\\u0062", "t\\u0073", "", "i\\u0000"};
    t->n = 0;
    ws(t);
    put(t, "{", 1);
    unsigned k = below(8);
    int has_ts = 0;
    for (unsigned i = 0; i < k || !has_ts; i++) {
        if (i) put(t, ",", 1);
        ws(t);
        const char *key = i >= k ? "ts" : keys[below(sizeof keys / sizeof *keys)];
        has_ts |= !strcmp(key, "ts");
        put(t, "\"", 1);
        puts_(t, key);
        put(t, "\"", 1);
        ws(t);
        put(t, ":", 1);
        ws(t);
        if (!strcmp(key, "ts") && below(4)) {
            if (below(2)) puts_(t, "1700000000000");
            else puts_(t, "\"2023-11-14T22:13:20.250Z\"");
        } else if (below(40) == 0) {
            deep(t);
        } else {
            value(t, 1);
        }
        ws(t);
        if (i > 20) break;
    }
    put(t, "}", 1);
    ws(t);
}

static void mutate(text *t) {
    static const char bytes[] = "\"\\{}[],:0-e.+ utnfa\x00\x7f\x80\xff\xc3\x01\n";
    unsigned k = 1 + below(3);
    for (unsigned j = 0; j < k; j++) {
        size_t at = t->n ? below((unsigned)t->n) : 0;
        char c = bytes[below(sizeof bytes - 1)];
        switch (below(4)) {
        case 0: if (t->n) t->b[at] = c; break;
        case 1:
            if (t->n) {
                memmove(t->b + at, t->b + at + 1, t->n - at - 1);
                t->n--;
            }
            break;
        case 2:
            if (t->n + 1 < sizeof t->b) {
                memmove(t->b + at + 1, t->b + at, t->n - at);
                t->b[at] = c;
                t->n++;
            }
            break;
        default: t->n = at; break;
        }
    }
}

static void assert_same_row(const cep_event *a, const cep_event *b, size_t nf, const text *t) {
    ck_assert_msg(cep_event_time(a) == cep_event_time(b), "time differs: %.*s", (int)t->n, t->b);
    for (size_t i = 0; i < nf; i++) {
        cep_value x = cep_event_value(a, (int)i), y = cep_event_value(b, (int)i);
        ck_assert_msg(x.type == y.type, "slot %zu type %d vs %d: %.*s", i, x.type, y.type, (int)t->n, t->b);
        switch (x.type) {
        case CEP_BOOL: ck_assert(x.u.b == y.u.b); break;
        case CEP_INT: ck_assert_msg(x.u.i == y.u.i, "slot %zu int: %.*s", i, (int)t->n, t->b); break;
        case CEP_DOUBLE:
            ck_assert_msg(memcmp(&x.u.d, &y.u.d, sizeof x.u.d) == 0, "slot %zu double %.17g vs %.17g: %.*s", i,
                          x.u.d, y.u.d, (int)t->n, t->b);
            break;
        case CEP_STRING:
            ck_assert_msg(x.u.s.len == y.u.s.len && memcmp(x.u.s.ptr, y.u.s.ptr, x.u.s.len) == 0,
                          "slot %zu string: %.*s", i, (int)t->n, t->b);
            break;
        default: break;
        }
    }
    size_t la, lb;
    const char *ra = cep_event_raw(a, &la), *rb = cep_event_raw(b, &lb);
    ck_assert(la == lb && (la == 0 || memcmp(ra, rb, la) == 0));
}

/* Line t through the fast path, yajl and cep_event_parse_json, in a
 * buffer of room bytes (room >= t->n; past the text, more text: a
 * sanitizer build sees a read past an exact-size one), and compared: what
 * the fast path reads (when it does not defer) yajl reads alike, and the
 * public parse gives yajl's result or its error. *yajl_ok += yajl took it;
 * returns whether the fast path read it (fast then holds its row). */
static int diff_line(cep_event *fast, cep_event *ref, cep_event *both, size_t nf, json_scratch *sc, const text *t,
                     size_t room, const char *tf, unsigned *yajl_ok) {
    char *line = malloc(room ? room : 1);
    ck_assert_ptr_nonnull(line);
    memcpy(line, t->b, t->n);
    memset(line + t->n, '7', room - t->n);
    cep_event_clear(fast);
    int rf = json_fast_parse(fast, line, t->n, tf, sc);
    int ry = json_parse_yajl(ref, line, t->n, tf);
    ck_assert_msg(rf == CEP_OK || rf == JSON_DEFER, "fast path returned %d", rf);
    if (rf == CEP_OK) {
        ck_assert_msg(ry == CEP_OK, "fast path accepted what yajl rejects (%d, %s): %.*s", ry, cep_event_error(ref),
                      (int)t->n, t->b);
        assert_same_row(fast, ref, nf, t);
    }
    *yajl_ok += ry == CEP_OK;
    int rb = cep_event_parse_json(both, line, t->n, tf);
    free(line);
    ck_assert_int_eq(rb, ry);
    if (ry == CEP_OK) assert_same_row(both, ref, nf, t);
    else ck_assert_str_eq(cep_event_error(both), cep_event_error(ref));
    return rf == CEP_OK;
}

START_TEST(json_fast_matches_yajl) {
    cep_program *prog = NULL;
    ck_assert_int_eq(cep_compile(NULL, pattern_text, strlen(pattern_text), "t.cep", &prog, NULL), CEP_OK);
    cep_event *fast, *ref, *both;
    ck_assert_int_eq(cep_event_new(prog, &fast), CEP_OK);
    ck_assert_int_eq(cep_event_new(prog, &ref), CEP_OK);
    ck_assert_int_eq(cep_event_new(prog, &both), CEP_OK);
    size_t nf = cep_program_field_count(prog);
    json_scratch sc = {0};
    rs = 20240601;
    unsigned n = 60000, fast_ok = 0, yajl_ok = 0, mutated_ok = 0, mutated = 0;
    text t;
    for (unsigned i = 0; i < n; i++) {
        event(&t);
        int mut = below(2);
        if (mut) mutate(&t), mutated++;
        /* One line in four without a time field (processing time: ""),
         * where a key "" must not read as the time. Each reader gets an
         * exact-size copy, so that a sanitizer build sees a read past it. */
        const char *tf = i % 4 == 3 ? "" : "ts";
        if (diff_line(fast, ref, both, nf, &sc, &t, t.n, tf, &yajl_ok)) {
            fast_ok++;
            mutated_ok += mut;
        }
    }
    if (getenv("JSON_DIFF_STATS")) fprintf(stderr, "fast %u, yajl %u, mutated %u (still valid on the fast path %u), of %u\n", fast_ok, yajl_ok, mutated, mutated_ok, n);
    /* The generator must exercise both sides: most valid lines on the fast
     * path, and mutations that both readers reject. */
    ck_assert_msg(fast_ok * 2 >= yajl_ok, "fast path took %u of %u valid lines", fast_ok, yajl_ok);
    ck_assert_msg(yajl_ok < n - mutated / 4, "too few rejected lines (%u valid of %u)", yajl_ok, n);
    ck_assert_msg(mutated_ok > 0, "no mutated line stayed valid");
    json_scratch_free(&sc);
    cep_event_free(fast);
    cep_event_free(ref);
    cep_event_free(both);
    cep_program_free(prog);
}
END_TEST

/* Lines the fast path reads itself, with values checked (not only equal
 * to yajl's): W1's shape, escapes, doubles, a nested context. */
START_TEST(json_fast_values) {
    cep_program *prog = NULL;
    ck_assert_int_eq(cep_compile(NULL, pattern_text, strlen(pattern_text), "t.cep", &prog, NULL), CEP_OK);
    cep_event *ev;
    ck_assert_int_eq(cep_event_new(prog, &ev), CEP_OK);
    json_scratch sc = {0};
    static const char line[] =
        " {\"ts\":\"2023-11-14T22:13:20.250Z\",\"i\":-42,\"d\":0.001234,\"s\":\"caf\\u00e9 \\\"x\\\"\\n\","
        "\"b\":false,\"n\":null,\"ctx\":{\"a\":[1,2.5e-3,{\"z\":\"\xe2\x82\xac\"}]},\"a\\u0062\":1e2} \r\n";
    ck_assert_int_eq(json_fast_parse(ev, line, sizeof line - 1, "ts", &sc), CEP_OK);
    ck_assert_int_eq(cep_event_time(ev), INT64_C(1700000000250));
    int si = cep_program_field_slot(prog, "i"), sd = cep_program_field_slot(prog, "d"),
        ss = cep_program_field_slot(prog, "s"), sb = cep_program_field_slot(prog, "b"),
        sab = cep_program_field_slot(prog, "ab");
    ck_assert_int_eq(cep_event_value(ev, si).u.i, -42);
    ck_assert(cep_event_value(ev, sd).u.d == 0.001234);
    cep_value s = cep_event_value(ev, ss);
    ck_assert_int_eq(s.u.s.len, 10);
    ck_assert(memcmp(s.u.s.ptr, "caf\xc3\xa9 \"x\"\n", 10) == 0);
    ck_assert_int_eq(cep_event_value(ev, sb).type, CEP_BOOL);
    ck_assert_int_eq(cep_event_value(ev, sab).type, CEP_DOUBLE);
    size_t rl;
    const char *raw = cep_event_raw(ev, &rl);
    ck_assert_int_eq(rl, sizeof line - 1 - 4);
    ck_assert(memcmp(raw, line + 1, rl) == 0);
    /* What it leaves to yajl: errors, and the rare valid forms. */
    static const char *deferred[] = {"{\"ts\":1,}", "{\"ts\":1}x", "{\"ts\":1,\"s\":\"\\uD83D\"}",
                                     "{\"ts\":1,\"i\":9223372036854775808}", "{\"ts\":1,\"d\":1e400}",
                                     "{\"i\":1}", "{\"ts\":1.5}", "\f{\"ts\":1}", "[1]", "{\"ts\":01}"};
    for (size_t i = 0; i < sizeof deferred / sizeof *deferred; i++) {
        cep_event_clear(ev);
        ck_assert_msg(json_fast_parse(ev, deferred[i], strlen(deferred[i]), "ts", &sc) == JSON_DEFER,
                      "not deferred: %s", deferred[i]);
    }
    json_scratch_free(&sc);
    cep_event_free(ev);
    cep_program_free(prog);
}
END_TEST

/* ---- nested events ------------------------------------------------------- */

/* Fields at several depths, one read whole (x) and through (x.y), a key
 * holding a dot, and the time read at a path (m.t) in some runs. */
static const char nested_text[] =
    "pattern p\n"
    "  begin a where x.y != null and x.z.w != null and x != null and n.a.b != null\n"
    "    and `a.b` != null and i != null and m.t != null and x.z.t.y != null\n";

static void nested_obj(text *t, int depth) {
    /* The names on the program's paths come often. */
    static const char *keys[] = {"y", "z", "t", "w", "z", "t", "y", "a", "b", "q", "\\u0079"};
    put(t, "{", 1);
    unsigned k = below(5);
    for (unsigned i = 0; i < k; i++) {
        if (i) put(t, ",", 1);
        ws(t);
        put(t, "\"", 1);
        puts_(t, keys[below(sizeof keys / sizeof *keys)]);
        put(t, "\"", 1);
        ws(t);
        put(t, ":", 1);
        ws(t);
        if (depth < 6 && below(3)) nested_obj(t, depth + 1);
        else if (below(8) == 0) puts_(t, below(2) ? "1700000000001" : "\"2023-11-14T22:13:20Z\"");
        else value(t, depth);
        ws(t);
    }
    put(t, "}", 1);
}

static void nested_event(text *t) {
    static const char *keys[] = {"ts", "i", "x", "n", "m", "a.b", "a", "a\\u002eb", "zz"};
    t->n = 0;
    ws(t);
    put(t, "{", 1);
    unsigned k = 1 + below(8);
    for (unsigned i = 0; i < k; i++) {
        if (i) put(t, ",", 1);
        ws(t);
        const char *key = i == 0 ? "ts" : keys[below(sizeof keys / sizeof *keys)];
        put(t, "\"", 1);
        puts_(t, key);
        put(t, "\"", 1);
        ws(t);
        put(t, ":", 1);
        ws(t);
        if (!strcmp(key, "ts") && below(4)) puts_(t, "1700000000000");
        else if (!strcmp(key, "m") && below(2)) puts_(t, below(2) ? "{\"t\":5}" : "{\"q\":1,\"t\":\"2023-11-14T22:13:20.5Z\"}");
        else if (!strcmp(key, "x") && below(2)) {
            /* Straight down the program's deepest path, then anything. */
            puts_(t, "{\"z\":{\"t\":");
            nested_obj(t, 4);
            puts_(t, "}}");
        } else if (below(3)) {
            nested_obj(t, 2);
        } else {
            value(t, 2);
        }
        ws(t);
    }
    put(t, "}", 1);
    ws(t);
}

START_TEST(json_fast_matches_yajl_nested) {
    cep_program *prog = NULL;
    ck_assert_int_eq(cep_compile(NULL, nested_text, strlen(nested_text), "t.cep", &prog, NULL), CEP_OK);
    ck_assert_int_eq(cep_program_field_slot(prog, "x.z.w"), 1);
    ck_assert_int_eq(cep_program_field_slot(prog, "`a.b`"), 4);
    cep_event *fast, *ref, *both;
    ck_assert_int_eq(cep_event_new(prog, &fast), CEP_OK);
    ck_assert_int_eq(cep_event_new(prog, &ref), CEP_OK);
    ck_assert_int_eq(cep_event_new(prog, &both), CEP_OK);
    size_t nf = cep_program_field_count(prog);
    json_scratch sc = {0};
    rs = 20261207;
    unsigned n = 40000, fast_ok = 0, yajl_ok = 0, nested_set = 0;
    int sy = cep_program_field_slot(prog, "x.z.t.y");
    text t;
    for (unsigned i = 0; i < n; i++) {
        nested_event(&t);
        int mut = below(3) == 0;
        if (mut) mutate(&t);
        const char *tf = i % 3 == 0 ? "m.t" : i % 3 == 1 ? "ts" : "";
        if (diff_line(fast, ref, both, nf, &sc, &t, t.n, tf, &yajl_ok)) {
            fast_ok++;
            nested_set += cep_event_value(fast, sy).type != CEP_NULL; /* (the type only: the line is gone) */
        }
    }
    if (getenv("JSON_DIFF_STATS"))
        fprintf(stderr, "nested: fast %u, yajl %u, x.z.t.y set %u, of %u\n", fast_ok, yajl_ok, nested_set, n);
    ck_assert_msg(fast_ok * 2 >= yajl_ok, "fast path took %u of %u valid lines", fast_ok, yajl_ok);
    ck_assert_msg(nested_set > 20, "the generator rarely reaches depth 4 (%u)", nested_set);
    json_scratch_free(&sc);
    cep_event_free(fast);
    cep_event_free(ref);
    cep_event_free(both);
    cep_program_free(prog);
}
END_TEST

/* ---- lines of a few shapes (the fast path's predicted keys) -------------- */

/* An integer of d digits (1..20), at times signed or malformed. */
static void int_digits(text *t) {
    char tmp[32];
    unsigned d = 1 + below(20), o = 0;
    if (below(4) == 0) tmp[o++] = '-';
    for (unsigned i = 0; i < d; i++) tmp[o++] = (char)('0' + (i == 0 && below(8) ? 1 + below(9) : below(10)));
    if (below(16) == 0) tmp[o++] = below(2) ? '.' : 'e';
    if (below(16) == 0) tmp[o++] = (char)('0' + below(10));
    put(t, tmp, o);
}

/* The value of one member: mostly the kind its shape says. */
static void shape_value(text *t, unsigned kind) {
    if (below(20) == 0) kind = below(4);
    switch (kind) {
    case 0: int_digits(t); break;
    case 1: number(t); break;
    case 2: string(t); break;
    default: value(t, 2); break;
    }
}

/* A line of shape k (of 4): its keys, their order and white space fixed,
 * mostly; at times a key, a space or the order differs. Numbers come in
 * the middle and at the end of lines (the fast path reads numbers near
 * the end of its text another way). */
static void shaped_event(text *t, unsigned k) {
    static const char *shapes[4][6] = {
        {"\"ts\":", ",\"i\":", ",\"s\":", ",\"d\":", NULL},
        {"{ \"ts\" : ", " , \"i\":", ",\"x\":", ",\"s\" :", ",\"ab\":", ",\"i\":"},
        {"\"t\\u0073\":", ",\"i\":", ",\"a\\u0062\":", NULL},
        {"\"i\":", ",\"a_rather_long_key_name_of_thirty\":", ",\"ts\":", ",\"n\":", ",\"s\":", NULL},
    };
    static const unsigned kinds[4][6] = {{0, 0, 2, 1}, {0, 0, 3, 2, 2, 0}, {0, 0, 1}, {0, 3, 0, 3, 2}};
    static const char *odd[] = {",\"i\" :", ", \"i\":", ",\"ts\":", ",\"I\":", ",\"s\":", ",\"zz\":", ",\"\":"};
    t->n = 0;
    if (k != 1) put(t, "{", 1);
    for (unsigned i = 0; i < 6 && shapes[k][i]; i++) {
        const char *m = shapes[k][i];
        if (i && below(50) == 0) m = odd[below(sizeof odd / sizeof *odd)];
        puts_(t, m);
        if (below(100) == 0) ws(t);
        shape_value(t, kinds[k][i]);
    }
    if (below(100) == 0) ws(t);
    put(t, "}", 1);
}

START_TEST(json_fast_matches_yajl_shapes) {
    cep_program *prog = NULL;
    ck_assert_int_eq(cep_compile(NULL, pattern_text, strlen(pattern_text), "t.cep", &prog, NULL), CEP_OK);
    cep_event *fast, *ref, *both;
    ck_assert_int_eq(cep_event_new(prog, &fast), CEP_OK);
    ck_assert_int_eq(cep_event_new(prog, &ref), CEP_OK);
    ck_assert_int_eq(cep_event_new(prog, &both), CEP_OK);
    size_t nf = cep_program_field_count(prog);
    json_scratch sc = {0};
    rs = 20261208;
    unsigned n = 60000, fast_ok = 0, yajl_ok = 0, k = 0;
    text t;
    for (unsigned i = 0; i < n; i++) {
        /* Runs of one shape, as a stream of one kind of event. */
        if (below(30) == 0) k = below(4);
        shaped_event(&t, k);
        if (below(40) == 0) mutate(&t);
        const char *tf = i % 500 < 450 ? "ts" : i % 500 < 480 ? "i" : "";
        /* Exact size (a sanitizer build sees a read past the text), or
         * inside a larger buffer with more text after it. */
        fast_ok += diff_line(fast, ref, both, nf, &sc, &t, below(2) ? t.n : t.n + 32, tf, &yajl_ok);
    }
    if (getenv("JSON_DIFF_STATS")) fprintf(stderr, "shapes: fast %u, yajl %u, of %u\n", fast_ok, yajl_ok, n);
    ck_assert_msg(fast_ok * 10 >= yajl_ok * 9, "fast path took %u of %u valid lines", fast_ok, yajl_ok);
    json_scratch_free(&sc);
    cep_event_free(fast);
    cep_event_free(ref);
    cep_event_free(both);
    cep_program_free(prog);
}
END_TEST

/* Integers around the fast path's limits, each in the middle of a line
 * and at its end, read as yajl reads them. */
START_TEST(json_fast_integers) {
    cep_program *prog = NULL;
    ck_assert_int_eq(cep_compile(NULL, pattern_text, strlen(pattern_text), "t.cep", &prog, NULL), CEP_OK);
    cep_event *fast, *ref;
    ck_assert_int_eq(cep_event_new(prog, &fast), CEP_OK);
    ck_assert_int_eq(cep_event_new(prog, &ref), CEP_OK);
    size_t nf = cep_program_field_count(prog);
    json_scratch sc = {0};
    static const char *nums[] = {"0", "-0", "7", "-7", "10", "99999999", "100000000", "12345678", "123456789",
                                 "999999999999999", "1000000000000000", "9999999999999999", "-9999999999999999",
                                 "99999999999999999", "1700000000000", "9223372036854775807",
                                 "-9223372036854775808", "9223372036854775808", "00", "01", "-01", "0.5", "1e3",
                                 "12345678.5", "1234567812345678e1", "-", "--1", "1-", "0x1"};
    static const char *forms[][2] = {{"{\"ts\":1,\"i\":", ",\"s\":\"padding to be long enough\"}"},
                                     {"{\"ts\":1,\"i\":", "}"}, {"{\"i\":", " ,\"ts\":1}"},
                                     {"{\"ts\":", ",\"i\":1}"}, {"{\"ts\":1,\"i\":", "\t}"}};
    for (int rep = 0; rep < 2; rep++) /* the second time with the keys predicted */
        for (size_t f = 0; f < sizeof forms / sizeof *forms; f++)
            for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
                text t = {.n = 0};
                puts_(&t, forms[f][0]);
                puts_(&t, nums[i]);
                puts_(&t, forms[f][1]);
                char *line = malloc(t.n);
                ck_assert_ptr_nonnull(line);
                memcpy(line, t.b, t.n);
                cep_event_clear(fast);
                int rf = json_fast_parse(fast, line, t.n, "ts", &sc);
                int ry = json_parse_yajl(ref, line, t.n, "ts");
                free(line);
                if (rf == CEP_OK) {
                    ck_assert_msg(ry == CEP_OK, "accepted what yajl rejects: %s", t.b);
                    assert_same_row(fast, ref, nf, &t);
                } else {
                    ck_assert_int_eq(rf, JSON_DEFER);
                }
                /* What it keeps for the next line: the first key's bytes. */
                if (rf == CEP_OK) ck_assert_int_eq(sc.keys[0].len, f == 2 ? 4 : 5);
            }
    json_scratch_free(&sc);
    cep_event_free(fast);
    cep_event_free(ref);
    cep_program_free(prog);
}
END_TEST

/* Values read through nested objects, checked, on both readers. */
START_TEST(json_nested_values) {
    cep_program *prog = NULL;
    ck_assert_int_eq(cep_compile(NULL, nested_text, strlen(nested_text), "t.cep", &prog, NULL), CEP_OK);
    cep_event *ev;
    ck_assert_int_eq(cep_event_new(prog, &ev), CEP_OK);
    json_scratch sc = {0};
    static const char line[] = "{\"x\":{\"y\":\"Y\",\"z\":{\"w\":7,\"t\":{\"y\":true}}},\"a.b\":1.5,"
                               "\"a\":{\"b\":2},\"m\":{\"t\":\"2023-11-14T22:13:20.250Z\"},\"n\":{\"a\":[{\"b\":1}]}}";
    for (int reader = 0; reader < 2; reader++) {
        cep_event_clear(ev);
        int rc = reader ? json_parse_yajl(ev, line, sizeof line - 1, "m.t")
                        : json_fast_parse(ev, line, sizeof line - 1, "m.t", &sc);
        ck_assert_int_eq(rc, CEP_OK);
        ck_assert_int_eq(cep_event_time(ev), INT64_C(1700000000250));
        cep_value y = cep_event_value(ev, cep_program_field_slot(prog, "x.y"));
        ck_assert_int_eq(y.type, CEP_STRING);
        ck_assert_int_eq(cep_event_value(ev, cep_program_field_slot(prog, "x.z.w")).u.i, 7);
        ck_assert_int_eq(cep_event_value(ev, cep_program_field_slot(prog, "x")).type, CEP_NULL);
        ck_assert_int_eq(cep_event_value(ev, cep_program_field_slot(prog, "n.a.b")).type, CEP_NULL);
        ck_assert(cep_event_value(ev, cep_program_field_slot(prog, "`a.b`")).u.d == 1.5);
        ck_assert_int_eq(cep_event_value(ev, cep_program_field_slot(prog, "x.z.t.y")).type, CEP_BOOL);
        ck_assert_int_eq(cep_event_value(ev, cep_program_field_slot(prog, "m.t")).type, CEP_STRING);
    }
    /* The time path must lead to a scalar time. */
    static const char no_time[] = "{\"m\":{\"t\":{}}}", missing[] = "{\"m\":{\"q\":1}}", flat[] = "{\"m\":1}";
    ck_assert_int_eq(cep_event_parse_json(ev, no_time, strlen(no_time), "m.t"), CEP_ETIME);
    ck_assert_int_eq(cep_event_parse_json(ev, missing, strlen(missing), "m.t"), CEP_ETIME);
    ck_assert_str_eq(cep_event_error(ev), "missing time field 'm.t'");
    ck_assert_int_eq(cep_event_parse_json(ev, flat, strlen(flat), "m..t"), CEP_EINVAL);
    /* The path's parts, for bindings (cep_program_field_part). */
    int s = cep_program_field_slot(prog, "x.z.t.y");
    ck_assert_uint_eq(cep_program_field_depth(prog, (size_t)s), 4);
    ck_assert_str_eq(cep_program_field_part(prog, (size_t)s, 2), "t");
    ck_assert_ptr_null(cep_program_field_part(prog, (size_t)s, 4));
    s = cep_program_field_slot(prog, "a.b");
    ck_assert_int_eq(s, CEP_ENOTFOUND); /* a.b is a path; the key with a dot is `a.b` */
    s = cep_program_field_slot(prog, "`a.b`");
    ck_assert_uint_eq(cep_program_field_depth(prog, (size_t)s), 1);
    ck_assert_str_eq(cep_program_field_part(prog, (size_t)s, 0), "a.b");
    ck_assert_str_eq(cep_program_field_name(prog, (size_t)s), "`a.b`");
    ck_assert_int_eq(cep_program_field_slot(prog, "`x`.`y`"), cep_program_field_slot(prog, "x.y"));
    json_scratch_free(&sc);
    cep_event_free(ev);
    cep_program_free(prog);
}
END_TEST

Suite *json_diff_suite(void) {
    Suite *s = suite_create("json_diff");
    TCase *tc = tcase_create("fast_vs_yajl");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, json_fast_matches_yajl);
    tcase_add_test(tc, json_fast_values);
    tcase_add_test(tc, json_fast_matches_yajl_nested);
    tcase_add_test(tc, json_nested_values);
    tcase_add_test(tc, json_fast_matches_yajl_shapes);
    tcase_add_test(tc, json_fast_integers);
    suite_add_tcase(s, tc);
    return s;
}
