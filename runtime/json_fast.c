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

#include "bytes.h"
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

/* What a member's key means where it is read. */
typedef struct member_use {
    int slot;    /* the slot its value goes to, -1: none */
    int child;   /* the program's level under it, -1: none */
    int is_time; /* it is the time field */
    int tnext;   /* the time path goes on into it: its next part, -1: no */
} member_use;

/* An object's level in the program and on the time path, looked up once
 * per object, not per key. */
typedef struct level_view {
    const field_member *mem;
    uint32_t nmem;
    const char *tpart;
    size_t tlen;
    int tlast, td;
} level_view;

static void level_init(const scan *s, int lvl, int td, level_view *L) {
    const cep_program *prog = s->ev->prog;
    L->nmem = lvl >= 0 ? prog->levels[lvl].n : 0;
    /* (A program that reads no field has no members: no NULL + 0.) */
    L->mem = L->nmem ? prog->members + prog->levels[lvl].first : NULL;
    L->tpart = td >= 0 ? s->tp->part[td] : NULL;
    L->tlen = td >= 0 ? s->tp->len[td] : (size_t)-1;
    L->tlast = td >= 0 && (uint32_t)td + 1 == s->tp->n;
    L->td = td;
}

static member_use key_use(const level_view *L, const char *key, size_t kn) {
    /* Compared as the decoded bytes, so "a\u0062" names field "ab". */
    const field_member *m = NULL;
    for (uint32_t i = 0; i < L->nmem; i++)
        if (L->mem[i].len == kn && same_bytes(L->mem[i].name, key, kn)) {
            m = &L->mem[i];
            break;
        }
    /* An empty time path ("": no time field) matches no key. */
    int on_time = L->tlen && kn == L->tlen && same_bytes(key, L->tpart, kn);
    member_use u = {m ? m->slot : -1, m ? m->child : -1, on_time && L->tlast, on_time && !L->tlast ? L->td + 1 : -1};
    return u;
}

/* The value of 8 digits (bytes 0..9) loaded little-endian, the first the
 * most significant: pairs, then fours, then the eight, by multiplying. */
static inline uint64_t eight_digits(uint64_t v) {
    v = v * 10 + (v >> 8);
    return (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
            (((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >> 32;
}

/* How many of the 8 bytes of w (little-endian) are digits before the first
 * that is not (as digit_run). */
static inline unsigned digits_in(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, hi = 0xF0F0F0F0F0F0F0F0ull;
    uint64_t m = ((w & hi) ^ (ones * 0x30)) | (((w + ones * 6) & hi) ^ (ones * 0x30));
    return m ? (unsigned)__builtin_ctzll(m) >> 3 : 8;
}

/* The first n (1..8) digits of w as a number. */
static inline uint64_t digits_value(uint64_t w, unsigned n) {
    /* The digits to the top bytes: zeros come in as leading digits, the
     * bytes after them (and their borrows, which go up) leave. */
    return eight_digits((w - 0x3030303030303030ull) << (8 * (8 - n)));
}

static const uint64_t pow10_int[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/* An integer of at most 15 digits ending where a number can end, the
 * common number of events: 1 with it in *v, else 0 and nothing read
 * (read_number then reads it, as the grammar says). */
static inline int read_small_int(scan *s, int64_t *v) {
    const unsigned char *p = s->p, *end = s->end;
    int neg = *p == '-';
    p += neg;
    if (p == end || (unsigned)(*p - '0') > 9) return 0;
    const unsigned char *q = p + 1;
    uint64_t m = 0;
    if (*p == '0') { /* (no digit may follow a leading 0) */
    } else if (end - p >= 16) {
        uint64_t w = load_le64(p);
        unsigned n = digits_in(w);
        if (n < 8) {
            m = digits_value(w, n);
        } else {
            uint64_t w2 = load_le64(p + 8);
            unsigned n2 = digits_in(w2);
            if (n2 == 8) return 0; /* 16 digits or more */
            m = eight_digits(w - 0x3030303030303030ull);
            if (n2) m = m * pow10_int[n2] + digits_value(w2, n2);
            n += n2;
        }
        q = p + n;
    } else {
        m = (uint64_t)(*p - '0');
        for (unsigned d; q < end && (d = (unsigned)(*q - '0')) <= 9; q++) m = m * 10 + d;
        if (q - p > 15) return 0;
    }
    if (q == end || !(*q == ',' || *q == '}' || is_ws(*q) || *q == ']')) return 0;
    s->p = q;
    *v = neg ? -(int64_t)m : (int64_t)m;
    return 1;
}

/* cep_event_set_string into a slot of the program (in range), its
 * buffer large enough: without the checks and the call. */
static inline int put_string(cep_event *ev, int slot, const char *str, size_t n) {
    slot_buf *b = &ev->sbufs[slot];
    if (n + 1 > b->cap) return cep_event_set_string(ev, slot, str, n);
    copy_bytes(b->p, str, n);
    b->p[n] = '\0';
    cep_value *v = &ev->vals[slot];
    v->type = CEP_STRING;
    v->u.s.ptr = b->p;
    v->u.s.len = n;
    return CEP_OK;
}

static int read_object(scan *s, int lvl, int td, json_shape_key *shape);

/* A number's value as the time field. */
static void number_time(scan *s, const number *num) {
    if (num->is_int) {
        s->time = num->i, s->time_state = TIME_SET;
    } else if (num->d == trunc(num->d) && num->d >= -9223372036854775808.0 && num->d < 9223372036854775808.0) {
        s->time = (int64_t)num->d, s->time_state = TIME_SET;
    } else {
        s->time_state = TIME_BAD;
    }
}

/* The value of a member (s->p at its first byte, not the end), read as u
 * says. -1: defer. */
static int read_value(scan *s, const member_use *u) {
    cep_event *ev = s->ev;
    int rc = CEP_OK;
    unsigned char c = *s->p;
    if (c == '{' && (u->child >= 0 || u->tnext >= 0)) {
        /* An object read whole is null, and is no time. */
        if (u->is_time) s->time_state = TIME_BAD;
        if (u->slot >= 0 && cep_event_set_null(ev, u->slot) != CEP_OK) return -1;
        if (++s->depth > JSON_MAX_DEPTH) return -1;
        s->p++;
        if (read_object(s, u->child, u->tnext, NULL) < 0) return -1;
        s->depth--;
    } else if (u->slot < 0 && !u->is_time) {
        return skip_value(s);
    } else if (c == '"') {
        const char *str;
        size_t n;
        s->p++;
        if (read_string(s, 1, &str, &n) < 0) return -1;
        if (u->is_time) {
            int64_t ms;
            if (timefmt_parse(str, n, &ms) == 0) s->time = ms, s->time_state = TIME_SET;
            else s->time_state = TIME_BAD;
        }
        if (u->slot >= 0) rc = put_string(ev, u->slot, str, n);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        number num = {1, 0, 0};
        if (!read_small_int(s, &num.i) && read_number(s, 1, &num) < 0) return -1;
        if (u->is_time) number_time(s, &num);
        if (u->slot >= 0) {
            cep_value *v = &ev->vals[u->slot];
            if (num.is_int) v->type = CEP_INT, v->u.i = num.i;
            else v->type = CEP_DOUBLE, v->u.d = num.d;
        }
    } else if (c == 't' || c == 'f') {
        int b = c == 't';
        if (literal(s, b ? "true" : "false", b ? 4 : 5) < 0) return -1;
        if (u->is_time) s->time_state = TIME_BAD;
        if (u->slot >= 0) rc = cep_event_set_bool(ev, u->slot, b);
    } else {
        /* null, or a nested value not looked into: both read as null. */
        if (skip_value(s) < 0) return -1;
        if (u->is_time) s->time_state = TIME_BAD;
        if (u->slot >= 0) rc = cep_event_set_null(ev, u->slot);
    }
    return rc == CEP_OK ? 0 : -1;
}

/* From the end of member i's value before it (or the '{'): white space,
 * the ',' (i > 0), the key and ':', up to the next value, its meaning in
 * *u. 1: the object ended instead; -1: defer. When k is not NULL, the
 * bytes read are kept there as the prediction for the next line. */
static int member_head(scan *s, uint32_t i, const level_view *L, member_use *u, json_shape_key *k) {
    const unsigned char *seg = s->p;
    skip_ws(s);
    if (s->p == s->end) return -1;
    if (*s->p == '}') {
        s->p++;
        return 1;
    }
    if (i) {
        if (*s->p != ',') return -1;
        s->p++;
        skip_ws(s);
    }
    const char *key;
    size_t kn;
    if (s->p == s->end || *s->p != '"') return -1;
    s->p++;
    if (read_string(s, 1, &key, &kn) < 0) return -1;
    *u = key_use(L, key, kn);
    skip_ws(s);
    if (s->p == s->end || *s->p != ':') return -1;
    s->p++;
    skip_ws(s);
    if (s->p == s->end) return -1;
    if (k) {
        /* Equal bytes read alike: the same key, escapes and all. */
        size_t n = (size_t)(s->p - seg);
        k->len = 0;
        if (n <= JSON_SHAPE_BYTES) {
            memcpy(k->lit, seg, n);
            k->len = (uint8_t)n;
            k->slot = u->slot, k->child = u->child;
            k->is_time = (int8_t)u->is_time, k->tnext = (int8_t)u->tnext;
        }
    }
    return 0;
}

/* Do the bytes at p begin with k's, followed by a value's first byte?
 * Then they read as they did where k was kept. */
static inline int shape_hit(const json_shape_key *k, const unsigned char *p, const unsigned char *end) {
    size_t n = k->len;
    if ((size_t)(end - p) <= n || (p[n] <= ' ' && is_ws(p[n]))) return 0;
    uint64_t a, b;
    if (n < 8) {
        if (end - p < 8) return same_bytes((const char *)p, (const char *)k->lit, n);
        a = load_le64(p), b = load_le64(k->lit);
        return ((a ^ b) & ((1ull << (8 * n)) - 1)) == 0;
    }
    for (size_t o = 0; o + 8 < n; o += 8) {
        memcpy(&a, p + o, 8);
        memcpy(&b, k->lit + o, 8);
        if (a != b) return 0;
    }
    memcpy(&a, p + n - 8, 8);
    memcpy(&b, k->lit + n - 8, 8);
    return a == b;
}

/* The members of an object, after its '{': lvl is the program's level
 * for it (-1: none read here), td the part of the time path its keys are
 * compared with (-1: not on that path). Nested objects the program reads
 * into, or the time path leads into, are read the same way. shape (the
 * top level's, else NULL): the members predicted from the lines before,
 * a member whose bytes up to its value equal the kept ones is read
 * without its key being looked at again. -1: defer. */
static int read_object(scan *s, int lvl, int td, json_shape_key *shape) {
    level_view L = {NULL, 0, NULL, 0, 0, -2}; /* (td -2: looked up at the first key not predicted) */
    json_shape_key *k = shape, *kend = shape ? shape + JSON_SHAPE_KEYS : NULL;
    for (uint32_t i = 0;; i++) {
        member_use u;
        if (k && k->len && shape_hit(k, s->p, s->end)) {
            s->p += k->len;
            u.slot = k->slot, u.child = k->child, u.is_time = k->is_time, u.tnext = k->tnext;
        } else {
            /* (A kept run never starts with '}': the end comes here, the
             * level unread when every key was predicted.) */
            if (i && s->p < s->end && *s->p == '}') {
                s->p++;
                return 0;
            }
            if (L.td == -2) level_init(s, lvl, td, &L);
            int h = member_head(s, i, &L, &u, k);
            if (h) return h > 0 ? 0 : -1;
        }
        if (k && ++k == kend) k = NULL;
        if (read_value(s, &u) < 0) return -1;
    }
}

/* The kept members are for time field tf (tflen bytes): else forgotten. */
static json_shape_key *shape_for(json_scratch *sc, const char *tf, size_t tflen) {
    if (sc->tflen == tflen && same_bytes(sc->tf, tf, tflen)) return sc->keys;
    for (size_t i = 0; i < JSON_SHAPE_KEYS; i++) sc->keys[i].len = 0;
    if (tflen > sizeof sc->tf) {
        sc->tflen = (size_t)-1;
        return NULL;
    }
    memcpy(sc->tf, tf, tflen);
    sc->tflen = tflen;
    return sc->keys;
}

int json_fast_parse(cep_event *ev, const char *text, size_t len, const char *tf, json_scratch *sc) {
    return json_fast_read(ev, text, len, tf, sc, 0);
}

int json_fast_read(cep_event *ev, const char *text, size_t len, const char *tf, json_scratch *sc, int lend) {
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
    json_shape_key *shape = shape_for(sc, tf, tflen);
    scan s = {(const unsigned char *)text, (const unsigned char *)text + len, sc, ev, 1, &tp, TIME_MISSING, 0};
    skip_ws(&s);
    const unsigned char *obj = s.p;
    if (s.p == s.end || *s.p != '{') return JSON_DEFER;
    s.p++;
    if (read_object(&s, ev->prog->nlevels ? 0 : -1, tp.n ? 0 : -1, shape) < 0) return JSON_DEFER;
    const unsigned char *obj_end = s.p;
    skip_ws(&s);
    if (s.p != s.end) return JSON_DEFER; /* trailing garbage */
    if (tp.n) {
        if (s.time_state != TIME_SET) return JSON_DEFER;
        ev->time = s.time; /* (cep_event_set_time on a builder) */
        ev->has_time = 1;
    }
    if (lend) {
        ev->raw = (char *)obj;
        ev->raw_len = (size_t)(obj_end - obj);
    } else if (cep_event_set_raw(ev, (const char *)obj, (size_t)(obj_end - obj)) != CEP_OK) {
        return JSON_DEFER;
    }
    return CEP_OK;
}
