/* json_fast.c — the fast path of cep_event_parse_json: one pass over a JSON
 * object text that fills the event row directly, skipping (but validating)
 * the values the program does not read. It accepts only text that yajl
 * accepts and reads it the same way; anything else — every error, and rare
 * valid forms it leaves out (\v or \f as white space,
 * integers beyond int64, doubles strtod says overflow, nesting past the
 * limit, a missing or bad time) — returns JSON_DEFER, and json.c parses the
 * text again with yajl, which gives the result and the error message. So
 * the reader's behaviour stays yajl's; this file only makes it faster
 * (docs/design.md, "JSON reader", has the measurements). */
#include "config.h"
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "fieldpath.h"
#include "mem.h"
#include "nfa.h"
#include "timefmt.h"

enum { TIME_MISSING, TIME_SET, TIME_BAD };

typedef struct scan {
    const unsigned char *p, *end;
    json_scratch *sc;
    cep_event *ev;
    int depth;
    const fpath *tp;      /* the time field's path (tp->n 0: none) */
    int time_state;
    int64_t time;
} scan;

void json_scratch_free(json_scratch *s) {
    mem_free(s->buf);
    memset(s, 0, sizeof *s);
}

/* Keys are short: a loop beats a call to memcmp. */
static inline int same_bytes(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static inline void skip_ws(scan *s) {
    while (s->p < s->end && is_ws(*s->p)) s->p++;
}

/* Eight bytes at once (read little-endian): the bytes that need a closer
 * look (a quote, a backslash, a control character or a non-ASCII byte),
 * as their high bits. A borrow can mark a byte above a marked one, never
 * one below, so the lowest mark is exact: the first such byte. */
static uint64_t word_special(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | (w - ones * 0x20) | w) & high;
}

static uint64_t load_le64(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Room for n bytes in the scratch buffer. */
static int scratch_reserve(json_scratch *s, size_t n) {
    if (n <= s->cap) return 0;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < n) {
        if (cap > (size_t)-1 / 2) return -1;
        cap *= 2;
    }
    char *b = mem_realloc(s->buf, cap);
    if (!b) return -1;
    s->buf = b;
    s->cap = cap;
    return 0;
}

/* Past plain bytes: the first quote, backslash, control or non-ASCII
 * byte at or after p (or end). */
static inline const unsigned char *plain_run(const unsigned char *p, const unsigned char *end) {
    for (;;) {
        if (end - p < 8) {
            while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
            return p;
        }
        uint64_t m = word_special(load_le64(p));
        if (m) return p + ((unsigned)__builtin_ctzll(m) >> 3);
        p += 8;
    }
}

static int string_rest(scan *s, int decode, const char **out, size_t *n, const unsigned char *p);

/* Past ASCII digits: the first byte at or after p that is not one (or
 * end). Eight at a time: a byte is a digit when its high nibble is 3 and
 * it stays so with 6 added; a carry can only mark a byte above a marked
 * one, so the lowest mark is exact. */
static inline const unsigned char *digit_run(const unsigned char *p, const unsigned char *end) {
    const uint64_t ones = 0x0101010101010101ull, hi = 0xF0F0F0F0F0F0F0F0ull;
    while (end - p >= 8) {
        uint64_t w = load_le64(p);
        uint64_t m = ((w & hi) ^ (ones * 0x30)) | (((w + ones * 6) & hi) ^ (ones * 0x30));
        if (m) return p + ((unsigned)__builtin_ctzll(m) >> 3);
        p += 8;
    }
    while (p < end && (unsigned)(*p - '0') <= 9) p++;
    return p;
}

/* A string, after its opening quote. Its bytes are *out / *n: a pointer into
 * the text when it has no escape, else decoded into the scratch buffer
 * (when decode is set; a skipped string is only checked). -1: defer. */
static inline int read_string(scan *s, int decode, const char **out, size_t *n) {
    const unsigned char *p = plain_run(s->p, s->end);
    if (p < s->end && *p == '"') {
        *out = (const char *)s->p;
        *n = (size_t)(p - s->p);
        s->p = p + 1;
        return 0;
    }
    return string_rest(s, decode, out, n, p);
}

/* The rest of a string that is not all plain bytes: p is its first byte
 * that is not. Kept out of line so the plain case stays small. */
static int string_rest(scan *s, int decode, const char **out, size_t *n, const unsigned char *p) {
    const unsigned char *end = s->end, *start = s->p;
    for (;;) {
        p = plain_run(p, end);
        if (p == end) return -1;
        if (*p == '"') {
            *out = (const char *)start;
            *n = (size_t)(p - start);
            s->p = p + 1;
            return 0;
        }
        if (*p == '\\') break;
        if (*p < 0x20) return -1;
        size_t k = json_utf8_len(p, end);
        if (!k) return -1;
        p += k;
    }
    /* An escape: from here on, decode (or only check) byte by byte. Each
     * escape decodes to at most as many bytes as it takes in the text. */
    size_t o = 0;
    char *d = NULL;
    if (decode) {
        if (scratch_reserve(s->sc, (size_t)(end - start)) < 0) return -1;
        d = s->sc->buf;
        memcpy(d, start, (size_t)(p - start));
        o = (size_t)(p - start);
    }
    while (p < end) {
        unsigned c = *p;
        if (c == '"') {
            *out = d;
            *n = o;
            s->p = p + 1;
            return 0;
        }
        if (c == '\\') {
            if (end - p < 2) return -1;
            unsigned e = p[1];
            char ch;
            switch (e) {
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case '/': ch = '/'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'u': {
                if (end - p < 6) return -1;
                unsigned cp = 0;
                for (int i = 2; i < 6; i++) {
                    int h = hexval(p[i]);
                    if (h < 0) return -1;
                    cp = cp << 4 | (unsigned)h;
                }
                size_t took = 6;
                if (cp >= 0xD800 && cp <= 0xDFFF) {
                    /* Only a high surrogate escape then a low one is a
                     * character (4 bytes from 12); anything else is an
                     * error, which json.c reports. */
                    unsigned lo = 0;
                    if (cp > 0xDBFF || end - p < 12 || p[6] != '\\' || p[7] != 'u') return -1;
                    for (int i = 8; i < 12; i++) {
                        int h = hexval(p[i]);
                        if (h < 0) return -1;
                        lo = lo << 4 | (unsigned)h;
                    }
                    if (lo < 0xDC00 || lo > 0xDFFF) return -1;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    took = 12;
                }
                if (d) {
                    if (cp >= 0x10000) {
                        d[o++] = (char)(0xF0 | cp >> 18);
                        d[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                        d[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                        d[o++] = (char)(0x80 | (cp & 0x3F));
                    } else if (cp < 0x80) {
                        d[o++] = (char)cp;
                    } else if (cp < 0x800) {
                        d[o++] = (char)(0xC0 | cp >> 6);
                        d[o++] = (char)(0x80 | (cp & 0x3F));
                    } else {
                        d[o++] = (char)(0xE0 | cp >> 12);
                        d[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                        d[o++] = (char)(0x80 | (cp & 0x3F));
                    }
                }
                p += took;
                continue;
            }
            default: return -1;
            }
            if (d) d[o++] = ch;
            p += 2;
            continue;
        }
        if (c < 0x20) return -1;
        size_t k = c < 0x80 ? 1 : json_utf8_len(p, end);
        if (!k) return -1;
        if (d) memcpy(d + o, p, k);
        o += k;
        p += k;
    }
    return -1;
}

/* Can this byte follow a number or a literal? (Else yajl sees another
 * token there, and it is an error or something to leave to yajl.) */
static int ends_token(const scan *s) {
    if (s->p == s->end) return 1;
    unsigned c = *s->p;
    return is_ws((unsigned char)c) || c == ',' || c == '}' || c == ']';
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

typedef struct number {
    int is_int;
    int64_t i;
    double d;
} number;

/* A number, JSON's grammar exactly; converted as json.c does (integer
 * syntax that fits int64 is an int, anything else strtod's double) when
 * convert is set. -1: defer. */
static int read_number(scan *s, int convert, number *num) {
    const unsigned char *p = s->p, *end = s->end, *start = p;
    int neg = 0;
    if (p < end && *p == '-') neg = 1, p++;
    if (p == end || *p < '0' || *p > '9') return -1;
    uint64_t m = 0;
    int digits = 0;   /* significant digits gathered in m */
    int dropped = 0;  /* significant digits beyond m's 19 */
    int frac = 0;     /* digits of m after the point */
    if (*p == '0') {
        p++;
    } else {
        /* Every digit here is significant (no leading zero). */
        const unsigned char *q = p;
        p = digit_run(p, end);
        size_t nd = (size_t)(p - q), take = nd < 19 ? nd : 19;
        if (convert)
            for (size_t i = 0; i < take; i++) m = m * 10 + (uint64_t)(q[i] - '0');
        digits = (int)take;
        dropped = nd > take;
    }
    int is_int = 1;
    if (p < end && *p == '.') {
        is_int = 0;
        p++;
        if (p == end || *p < '0' || *p > '9') return -1;
        while (p < end && *p >= '0' && *p <= '9') {
            if (digits < 19) {
                if (m || *p != '0') m = m * 10 + (uint64_t)(*p - '0'), digits += m != 0;
                frac++;
            } else {
                dropped++; /* (digits after the point: only precision is lost) */
            }
            p++;
        }
    }
    int64_t ex = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_int = 0;
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p == '-', p++;
        if (p == end || *p < '0' || *p > '9') return -1;
        while (p < end && *p >= '0' && *p <= '9') {
            if (ex < 100000) ex = ex * 10 + (*p - '0');
            p++;
        }
        if (eneg) ex = -ex;
    }
    s->p = p;
    if (!ends_token(s)) return -1;
    if (!convert) return 0;
    if (is_int && !dropped) {
        /* Up to 19 digits: int64 unless it is past INT64_MAX (or MIN). */
        if (m <= (uint64_t)INT64_MAX) {
            num->is_int = 1;
            num->i = neg ? -(int64_t)m : (int64_t)m;
            return 0;
        }
        if (neg && m == (uint64_t)INT64_MAX + 1) {
            num->is_int = 1;
            num->i = INT64_MIN;
            return 0;
        }
        return -1; /* beyond int64: a double, yajl's way */
    }
    if (is_int) return -1;
    num->is_int = 0;
    /* Clinger's fast path: with at most 15 significant digits and a power
     * of ten up to 22, one IEEE operation on exact operands is correctly
     * rounded, so the result is strtod's. */
    int64_t e10 = ex - frac;
    if (!dropped && digits <= 15 && e10 >= -22 && e10 <= 22) {
        double d = (double)m;
        d = e10 < 0 ? d / pow10_exact[-e10] : d * pow10_exact[e10];
        num->d = neg ? -d : d;
        return 0;
    }
    char tmp[64];
    size_t n = (size_t)(p - start);
    if (n >= sizeof tmp) return -1;
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    num->d = strtod(tmp, NULL);
    if (isinf(num->d)) return -1; /* ERANGE or a bad time: yajl's path says which */
    return 0;
}

static int literal(scan *s, const char *word, size_t n) {
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return -1;
    s->p += n;
    return ends_token(s) ? 0 : -1;
}

/* Check a nested object or array (after its opening byte) and step past
 * it, at most JSON_MAX_DEPTH levels deep counting the event's object. */
static int skip_nested(scan *s, unsigned char open);

static int skip_value(scan *s) {
    if (s->p == s->end) return -1;
    const char *str;
    size_t n;
    number num;
    switch (*s->p) {
    case '"': s->p++; return read_string(s, 0, &str, &n);
    case '{':
    case '[': {
        unsigned char open = *s->p++;
        return skip_nested(s, open);
    }
    case 't': return literal(s, "true", 4);
    case 'f': return literal(s, "false", 5);
    case 'n': return literal(s, "null", 4);
    default: return read_number(s, 0, &num);
    }
}

static int skip_nested(scan *s, unsigned char open) {
    if (++s->depth > JSON_MAX_DEPTH) return -1;
    unsigned char close = open == '{' ? '}' : ']';
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }
    for (;;) {
        if (open == '{') {
            const char *k;
            size_t kn;
            if (s->p == s->end || *s->p != '"') return -1;
            s->p++;
            if (read_string(s, 0, &k, &kn) < 0) return -1;
            skip_ws(s);
            if (s->p == s->end || *s->p != ':') return -1;
            s->p++;
            skip_ws(s);
        }
        if (skip_value(s) < 0) return -1;
        skip_ws(s);
        if (s->p == s->end) return -1;
        if (*s->p == ',') {
            s->p++;
            skip_ws(s);
            continue;
        }
        if (*s->p != close) return -1;
        s->p++;
        s->depth--;
        return 0;
    }
}

/* The members of an object, after its '{': lvl is the program's level
 * for it (-1: none read here), td the part of the time path its keys are
 * compared with (-1: not on that path). Nested objects the program reads
 * into, or the time path leads into, are read the same way. -1: defer. */
static int read_object(scan *s, int lvl, int td) {
    cep_event *ev = s->ev;
    const cep_program *prog = ev->prog;
    /* The level's members, looked up once per object, not per key. */
    uint32_t nmem = lvl >= 0 ? prog->levels[lvl].n : 0;
    /* (A program that reads no field has no members: no NULL + 0.) */
    const field_member *mem = nmem ? prog->members + prog->levels[lvl].first : NULL;
    const char *tpart = td >= 0 ? s->tp->part[td] : NULL;
    size_t tlen = td >= 0 ? s->tp->len[td] : (size_t)-1;
    int tlast = td >= 0 && (uint32_t)td + 1 == s->tp->n;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        const char *key;
        size_t kn;
        if (s->p == s->end || *s->p != '"') return -1;
        s->p++;
        if (read_string(s, 1, &key, &kn) < 0) return -1;
        /* Compared as the decoded bytes, so "a\u0062" names field "ab". */
        const field_member *m = NULL;
        for (uint32_t i = 0; i < nmem; i++)
            if (mem[i].len == kn && same_bytes(mem[i].name, key, kn)) {
                m = &mem[i];
                break;
            }
        int slot = m ? m->slot : -1;
        int child = m ? m->child : -1;
        /* An empty time path ("": no time field) matches no key. */
        int on_time = tlen && kn == tlen && same_bytes(key, tpart, kn);
        int is_time = on_time && tlast;
        int tnext = on_time && !tlast ? td + 1 : -1;
        skip_ws(s);
        if (s->p == s->end || *s->p != ':') return -1;
        s->p++;
        skip_ws(s);
        if (s->p == s->end) return -1;
        int rc = CEP_OK;
        unsigned char c = *s->p;
        if (c == '{' && (child >= 0 || tnext >= 0)) {
            /* An object read whole is null, and is no time. */
            if (is_time) s->time_state = TIME_BAD;
            if (slot >= 0 && cep_event_set_null(ev, slot) != CEP_OK) return -1;
            if (++s->depth > JSON_MAX_DEPTH) return -1;
            s->p++;
            if (read_object(s, child, tnext) < 0) return -1;
            s->depth--;
        } else if (slot < 0 && !is_time) {
            if (skip_value(s) < 0) return -1;
        } else if (c == '"') {
            const char *str;
            size_t n;
            s->p++;
            if (read_string(s, 1, &str, &n) < 0) return -1;
            if (is_time) {
                int64_t ms;
                if (timefmt_parse(str, n, &ms) == 0) s->time = ms, s->time_state = TIME_SET;
                else s->time_state = TIME_BAD;
            }
            if (slot >= 0) rc = cep_event_set_string(ev, slot, str, n);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            number num;
            if (read_number(s, 1, &num) < 0) return -1;
            if (is_time) {
                if (num.is_int) {
                    s->time = num.i, s->time_state = TIME_SET;
                } else if (num.d == trunc(num.d) && num.d >= -9223372036854775808.0 &&
                           num.d < 9223372036854775808.0) {
                    s->time = (int64_t)num.d, s->time_state = TIME_SET;
                } else {
                    s->time_state = TIME_BAD;
                }
            }
            if (slot >= 0)
                rc = num.is_int ? cep_event_set_int(ev, slot, num.i) : cep_event_set_double(ev, slot, num.d);
        } else if (c == 't' || c == 'f') {
            int b = c == 't';
            if (literal(s, b ? "true" : "false", b ? 4 : 5) < 0) return -1;
            if (is_time) s->time_state = TIME_BAD;
            if (slot >= 0) rc = cep_event_set_bool(ev, slot, b);
        } else {
            /* null, or a nested value not looked into: both read as null. */
            if (skip_value(s) < 0) return -1;
            if (is_time) s->time_state = TIME_BAD;
            if (slot >= 0) rc = cep_event_set_null(ev, slot);
        }
        if (rc != CEP_OK) return -1;
        skip_ws(s);
        if (s->p == s->end) return -1;
        if (*s->p == ',') {
            s->p++;
            skip_ws(s);
            continue;
        }
        if (*s->p != '}') return -1;
        s->p++;
        return 0;
    }
}

int json_fast_parse(cep_event *ev, const char *text, size_t len, const char *tf, json_scratch *sc) {
    fpath tp;
    /* A plain name (the usual "ts") is one part: no need to parse it. */
    size_t tflen = 0;
    int plain = 1;
    for (; tf[tflen]; tflen++)
        if (tf[tflen] == '.' || tf[tflen] == '`') plain = 0;
    if (plain) {
        tp.n = tflen ? 1 : 0;
        tp.part[0] = tf;
        tp.len[0] = tflen;
    } else if (fpath_parse(tf, tflen, &tp) < 0) {
        return JSON_DEFER;
    }
    scan s = {(const unsigned char *)text, (const unsigned char *)text + len, sc, ev, 1, &tp, TIME_MISSING, 0};
    skip_ws(&s);
    const unsigned char *obj = s.p;
    if (s.p == s.end || *s.p != '{') return JSON_DEFER;
    s.p++;
    if (read_object(&s, ev->prog->nlevels ? 0 : -1, tp.n ? 0 : -1) < 0) return JSON_DEFER;
    const unsigned char *obj_end = s.p;
    skip_ws(&s);
    if (s.p != s.end) return JSON_DEFER; /* trailing garbage */
    if (tp.n) {
        if (s.time_state != TIME_SET) return JSON_DEFER;
        if (cep_event_set_time(ev, s.time) != CEP_OK) return JSON_DEFER;
    }
    if (cep_event_set_raw(ev, (const char *)obj, (size_t)(obj_end - obj)) != CEP_OK) return JSON_DEFER;
    return CEP_OK;
}
