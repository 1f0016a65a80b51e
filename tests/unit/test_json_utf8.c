/* test_json_utf8.c — strings in event JSON are strict UTF-8 and surrogate
 * escapes pair correctly, in both readers (issue 22, finding 9): the fast
 * path (json_fast.c), the yajl path alone (json_parse_yajl, which yajl
 * would let loose) and cep_event_parse_json, which combines them. Each
 * repro has a case, and random strings (raw bytes near every edge of
 * UTF-8, and \u escapes around the surrogates) are checked against a
 * reference decoder written here from RFC 8259 and Unicode's table 3-7,
 * as a value, as a key and inside a nested array. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cepheus.h"
#include "json.h"
#include "suites.h"

/* ---- the reference: a JSON string's content to UTF-8, or -1 ---------------- */

static void put_cp(unsigned char *o, size_t *n, uint32_t cp) {
    if (cp < 0x80) {
        o[(*n)++] = (unsigned char)cp;
    } else if (cp < 0x800) {
        o[(*n)++] = (unsigned char)(0xC0 | cp >> 6);
        o[(*n)++] = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        o[(*n)++] = (unsigned char)(0xE0 | cp >> 12);
        o[(*n)++] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[(*n)++] = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        o[(*n)++] = (unsigned char)(0xF0 | cp >> 18);
        o[(*n)++] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        o[(*n)++] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[(*n)++] = (unsigned char)(0x80 | (cp & 0x3F));
    }
}

static int hex4(const unsigned char *s, size_t n, size_t i, uint32_t *v) {
    if (i + 4 > n) return -1;
    *v = 0;
    for (size_t k = i; k < i + 4; k++) {
        unsigned c = s[k];
        unsigned h;
        if (c >= '0' && c <= '9') h = c - '0';
        else if (c >= 'a' && c <= 'f') h = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') h = c - 'A' + 10;
        else return -1;
        *v = *v << 4 | h;
    }
    return 0;
}

/* Well-formed byte sequences, Unicode 15 table 3-7: the first byte's
 * range, then the allowed range of each following byte. */
static const struct {
    unsigned char lo, hi, n, b2lo, b2hi;
} table37[] = {
    {0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF}, {0xE1, 0xEC, 3, 0x80, 0xBF},
    {0xED, 0xED, 3, 0x80, 0x9F}, {0xEE, 0xEF, 3, 0x80, 0xBF}, {0xF0, 0xF0, 4, 0x90, 0xBF},
    {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F},
};

static int ref_decode(const unsigned char *s, size_t n, unsigned char *o, size_t *on) {
    *on = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c < 0x20 || c == '"') return -1;
        if (c == '\\') {
            if (i + 1 >= n) return -1;
            const char *simple = strchr("\"\\/bfnrt", s[i + 1]);
            if (s[i + 1] && simple) {
                static const char to[] = "\"\\/\b\f\n\r\t";
                o[(*on)++] = (unsigned char)to[simple - "\"\\/bfnrt"];
                i += 2;
                continue;
            }
            uint32_t u, u2;
            if (s[i + 1] != 'u' || hex4(s, n, i + 2, &u) < 0) return -1;
            i += 6;
            if (u >= 0xDC00 && u <= 0xDFFF) return -1; /* a low one first */
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' || hex4(s, n, i + 2, &u2) < 0) return -1;
                if (u2 < 0xDC00 || u2 > 0xDFFF) return -1;
                u = 0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00);
                i += 6;
            }
            put_cp(o, on, u);
            continue;
        }
        if (c < 0x80) {
            o[(*on)++] = (unsigned char)c;
            i++;
            continue;
        }
        size_t t = 0;
        while (t < sizeof table37 / sizeof *table37 && !(c >= table37[t].lo && c <= table37[t].hi)) t++;
        if (t == sizeof table37 / sizeof *table37 || i + table37[t].n > n) return -1;
        if (s[i + 1] < table37[t].b2lo || s[i + 1] > table37[t].b2hi) return -1;
        for (size_t k = 2; k < table37[t].n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return -1;
        memcpy(o + *on, s + i, table37[t].n);
        *on += table37[t].n;
        i += table37[t].n;
    }
    return 0;
}

/* ---- the readers ---------------------------------------------------------- */

static const char pattern_text[] = "pattern p begin a where s != null\n";

typedef struct readers {
    cep_program *prog;
    cep_event *both, *yajl, *fast;
    json_scratch sc;
    int slot;
} readers;

static void readers_new(readers *r) {
    memset(r, 0, sizeof *r);
    ck_assert_int_eq(cep_compile(NULL, pattern_text, strlen(pattern_text), "t.cep", &r->prog, NULL), CEP_OK);
    ck_assert_int_eq(cep_event_new(r->prog, &r->both), CEP_OK);
    ck_assert_int_eq(cep_event_new(r->prog, &r->yajl), CEP_OK);
    ck_assert_int_eq(cep_event_new(r->prog, &r->fast), CEP_OK);
    r->slot = cep_program_field_slot(r->prog, "s");
}

static void readers_free(readers *r) {
    json_scratch_free(&r->sc);
    cep_event_free(r->both);
    cep_event_free(r->yajl);
    cep_event_free(r->fast);
    cep_program_free(r->prog);
}

static int same_string(const cep_event *ev, int slot, const unsigned char *b, size_t n) {
    cep_value v = cep_event_value(ev, slot);
    return v.type == CEP_STRING && v.u.s.len == n && memcmp(v.u.s.ptr, b, n) == 0;
}

/* Parse line with each reader; all must agree with want_ok, and where the
 * line is valid and want (not NULL) is given, field s must hold it. The
 * combined reader's error, when there is one, is returned. */
static const char *check_line(readers *r, const char *line, size_t len, int want_ok, const unsigned char *want,
                              size_t want_n) {
    char *copy = malloc(len ? len : 1); /* exact size: a sanitizer sees a read past it */
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, line, len);
    int rb = cep_event_parse_json(r->both, copy, len, "ts");
    int ry = json_parse_yajl(r->yajl, copy, len, "ts");
    cep_event_clear(r->fast);
    int rf = json_fast_parse(r->fast, copy, len, "ts", &r->sc);
    free(copy);
    ck_assert_msg((rb == CEP_OK) == want_ok, "combined reader %s: %.*s", rb == CEP_OK ? "accepted" : "rejected",
                  (int)len, line);
    ck_assert_msg((ry == CEP_OK) == want_ok, "yajl path %s: %.*s", ry == CEP_OK ? "accepted" : "rejected", (int)len,
                  line);
    ck_assert_msg(rf == JSON_DEFER || (rf == CEP_OK && want_ok), "fast path accepted: %.*s", (int)len, line);
    if (!want_ok) {
        ck_assert_int_eq(rb, CEP_EJSON);
        ck_assert_int_eq(ry, CEP_EJSON);
        ck_assert_str_eq(cep_event_error(r->both), cep_event_error(r->yajl));
        return cep_event_error(r->both);
    }
    if (want) {
        ck_assert_msg(same_string(r->both, r->slot, want, want_n), "combined reader's value: %.*s", (int)len, line);
        ck_assert_msg(same_string(r->yajl, r->slot, want, want_n), "yajl path's value: %.*s", (int)len, line);
        if (rf == CEP_OK)
            ck_assert_msg(same_string(r->fast, r->slot, want, want_n), "fast path's value: %.*s", (int)len, line);
    }
    return "";
}

/* The string content s (JSON text between the quotes) as a value, a key
 * and inside a nested array; the reference says what each must give. */
static void check_string(readers *r, const unsigned char *s, size_t n) {
    unsigned char want[4096];
    size_t wn;
    int ok = ref_decode(s, n, want, &wn) == 0;
    char line[4200];
    size_t len;
    len = (size_t)snprintf(line, sizeof line, "{\"ts\":1,\"s\":\"");
    memcpy(line + len, s, n);
    len += n;
    len += (size_t)snprintf(line + len, sizeof line - len, "\"}");
    check_line(r, line, len, ok, want, wn);
    len = (size_t)snprintf(line, sizeof line, "{\"ts\":1,\"");
    memcpy(line + len, s, n);
    len += n;
    len += (size_t)snprintf(line + len, sizeof line - len, "\":2,\"s\":\"x\"}");
    check_line(r, line, len, ok, NULL, 0);
    len = (size_t)snprintf(line, sizeof line, "{\"ts\":1,\"s\":\"x\",\"o\":[1,{\"k\":\"");
    memcpy(line + len, s, n);
    len += n;
    len += (size_t)snprintf(line + len, sizeof line - len, "\"}]}");
    check_line(r, line, len, ok, (const unsigned char *)"x", 1);
}

/* ---- the repros ---------------------------------------------------------- */

static const char UTF8_ERR[] = "invalid JSON: lexical error: invalid bytes in UTF8 string.";
static const char SURR_ERR[] = "invalid JSON: lexical error: unpaired surrogate in a \\u escape.";

START_TEST(utf8_repros) {
    readers r;
    readers_new(&r);
    static const struct {
        const char *s, *err; /* err NULL: valid, and decodes to want */
        const char *want;
    } cases[] = {
        {"\xC0\x80", UTF8_ERR, NULL},             /* overlong NUL */
        {"\xC1\xBF", UTF8_ERR, NULL},             /* overlong */
        {"\xE0\x80\x80", UTF8_ERR, NULL},         /* overlong, 3 bytes */
        {"\xF0\x80\x80\x80", UTF8_ERR, NULL},     /* overlong, 4 bytes */
        {"\xED\xA0\x80", UTF8_ERR, NULL},         /* CESU: an encoded high surrogate */
        {"\xED\xBF\xBF", UTF8_ERR, NULL},         /* an encoded low surrogate */
        {"\xED\xA0\xBD\xED\xB8\x80", UTF8_ERR, NULL}, /* CESU pair for U+1F600 */
        {"\xF4\x90\x80\x80", UTF8_ERR, NULL},     /* U+110000 */
        {"\xF7\xBF\xBF\xBF", UTF8_ERR, NULL},     /* U+1FFFFF */
        {"\xF8\x88\x80\x80\x80", UTF8_ERR, NULL}, /* 5 bytes */
        {"\xFF", UTF8_ERR, NULL},
        {"\x80", UTF8_ERR, NULL},                 /* a lone continuation byte */
        {"\xE2\x82", UTF8_ERR, NULL},             /* cut short */
        {"\\ud800\\u0041", SURR_ERR, NULL},       /* not U+10041 */
        {"\\ud800\\ud800", SURR_ERR, NULL},       /* not U+10000 */
        {"\\udc00", SURR_ERR, NULL},              /* not the bytes ED B0 80 */
        {"\\udc00\\ud800", SURR_ERR, NULL},       /* a pair the wrong way round */
        {"\\ud800", SURR_ERR, NULL},
        {"\\ud800x", SURR_ERR, NULL},
        {"\\ud800\\n", SURR_ERR, NULL},
        {"\\uDBFF\\uE000", SURR_ERR, NULL},
        {"\\ud83d\\ude00", NULL, "\xF0\x9F\x98\x80"}, /* U+1F600 */
        {"\\uD83D\\uDE00", NULL, "\xF0\x9F\x98\x80"},
        {"\\ud800\\udc00", NULL, "\xF0\x90\x80\x80"}, /* U+10000 */
        {"\\udbff\\udfff", NULL, "\xF4\x8F\xBF\xBF"}, /* U+10FFFF */
        {"\xF0\x9F\x98\x80", NULL, "\xF0\x9F\x98\x80"},
        {"\xF4\x8F\xBF\xBF", NULL, "\xF4\x8F\xBF\xBF"},
        {"\xEF\xBF\xBF\\ud7ff\\ue000", NULL, "\xEF\xBF\xBF\xED\x9F\xBF\xEE\x80\x80"},
        {"caf\\u00e9 \\ud83d\\ude00!", NULL, "caf\xC3\xA9 \xF0\x9F\x98\x80!"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *s = cases[i].s;
        unsigned char want[64];
        size_t wn;
        int ok = ref_decode((const unsigned char *)s, strlen(s), want, &wn) == 0;
        ck_assert_msg(ok == !cases[i].err, "reference decoder disagrees on case %zu", i);
        if (ok) ck_assert(wn == strlen(cases[i].want) && memcmp(want, cases[i].want, wn) == 0);
        check_string(&r, (const unsigned char *)s, strlen(s));
        /* The message, in each place the string can be. */
        char line[128];
        int len = snprintf(line, sizeof line, "{\"ts\":1,\"s\":\"%s\"}", s);
        const char *err = check_line(&r, line, (size_t)len, ok, NULL, 0);
        if (!ok) ck_assert_str_eq(err, cases[i].err);
        len = snprintf(line, sizeof line, "{\"ts\":1,\"%s\":1}", s);
        err = check_line(&r, line, (size_t)len, ok, NULL, 0);
        if (!ok) ck_assert_str_eq(err, cases[i].err);
    }
    readers_free(&r);
}
END_TEST

/* ---- random strings --------------------------------------------------------- */

static uint64_t rs;
static uint64_t rnd(void) {
    uint64_t z = (rs += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static unsigned below(unsigned n) { return (unsigned)(rnd() % n); }

/* Code points and code units near the edges that matter. */
static uint32_t edge_cp(void) {
    static const uint32_t edges[] = {0x0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xD800, 0xDBFF,
                                     0xDC00, 0xDFFF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF, 0x110000,
                                     0x1FFFFF, 0x3FFFFFF};
    uint32_t c = edges[below(sizeof edges / sizeof *edges)];
    int d = (int)below(5) - 2;
    return d < 0 && c < (uint32_t)-d ? c : c + (uint32_t)d;
}

/* c written the way UTF-8 would (also where that is not allowed: a
 * surrogate, past U+10FFFF, or in more bytes than needed). */
static size_t encode_any(unsigned char *o, uint32_t c, int overlong) {
    size_t k = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : c < 0x200000 ? 4 : 5;
    if (overlong && k < 4) k++;
    if (k == 1) {
        o[0] = (unsigned char)c;
        return 1;
    }
    static const unsigned char lead[] = {0, 0, 0xC0, 0xE0, 0xF0, 0xF8};
    for (size_t i = k - 1; i > 0; i--) {
        o[i] = (unsigned char)(0x80 | (c & 0x3F));
        c >>= 6;
    }
    o[0] = (unsigned char)(lead[k] | c);
    return k;
}

static size_t random_string(unsigned char *s) {
    size_t n = 0;
    unsigned parts = below(6);
    for (unsigned i = 0; i < parts; i++) {
        switch (below(10)) {
        case 0: s[n++] = (unsigned char)(' ' + below(95)); if (s[n - 1] == '"' || s[n - 1] == '\\') s[n - 1] = 'q'; break;
        case 1: s[n++] = (unsigned char)(0x80 + below(128)); break; /* any high byte */
        case 2: { /* a code point near an edge, written as UTF-8 would */
            uint32_t c = edge_cp();
            if (c == '"' || c == '\\' || c < 0x20) c = 'x';
            n += encode_any(s + n, c, below(8) == 0);
            break;
        }
        case 3: n += encode_any(s + n, 0x80 + (uint32_t)(rnd() % 0x10FF80), 0); break;
        case 4: if (n) n--; break; /* cut a sequence short */
        case 5: { static const char *esc[] = {"\\n", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\t"};
            const char *e = esc[below(8)];
            memcpy(s + n, e, 2);
            n += 2;
            break; }
        default: { /* \u of a code unit, often a surrogate */
            uint32_t u = below(3) ? 0xD700 + below(0x1000) : edge_cp() & 0xFFFF;
            n += (size_t)sprintf((char *)s + n, below(2) ? "\\u%04x" : "\\u%04X", u);
            break; }
        }
    }
    return n;
}

START_TEST(utf8_random_vs_reference) {
    readers r;
    readers_new(&r);
    rs = 20261207;
    unsigned valid = 0, n = 30000;
    unsigned char s[256];
    for (unsigned i = 0; i < n; i++) {
        size_t len = random_string(s);
        unsigned char want[512];
        size_t wn;
        valid += ref_decode(s, len, want, &wn) == 0;
        check_string(&r, s, len);
    }
    /* Both sides are exercised. */
    ck_assert_uint_gt(valid, n / 5);
    ck_assert_uint_lt(valid, n - n / 5);
    readers_free(&r);
}
END_TEST

Suite *json_utf8_suite(void) {
    Suite *s = suite_create("json_utf8");
    TCase *tc = tcase_create("strict");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, utf8_repros);
    tcase_add_test(tc, utf8_random_vs_reference);
    suite_add_tcase(s, tc);
    return s;
}
