/* jsonout.c — matches as JSON lines, the output end of `cepheus run` and of
 * the conformance runner. Uses only the public API, and libc for memory:
 * it lives in the programs, not in the library. */
#include "jsonout.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void jbuf_reset(jbuf *b) {
    b->len = 0;
    b->oom = 0;
}

void jbuf_free(jbuf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

/* Room for n more bytes plus a NUL; 0 on success. */
static int reserve(jbuf *b, size_t n) {
    if (b->oom) return -1;
    if (n < b->cap - b->len) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n) {
        if (cap > (size_t)-1 / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void jbuf_put_grow(jbuf *b, const char *s, size_t n) {
    if (reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void jbuf_puts(jbuf *b, const char *s) { jbuf_put(b, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t k;
    unsigned cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) k = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) k = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) k = 4, cp = c & 0x07;
    else return 0;
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return k;
}

void jbuf_string(jbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    JBUF_LIT(b, "\"");
    size_t run = 0; /* start of the bytes that need no escaping */
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        size_t k = c < 0x80 ? 1 : utf8_len(u + i, n - i);
        if (k > 1) {
            i += k;
            continue;
        }
        jbuf_put(b, s + run, i - run);
        if (c == '"') {
            JBUF_LIT(b, "\\\"");
        } else if (c == '\\') {
            JBUF_LIT(b, "\\\\");
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            jbuf_put(b, esc, 6);
        } else {
            JBUF_LIT(b, "\xEF\xBF\xBD"); /* U+FFFD for a bad byte */
        }
        run = ++i;
    }
    jbuf_put(b, s + run, n - run);
    JBUF_LIT(b, "\"");
}

static void put_double(jbuf *b, double d) {
    char tmp[40];
    if (!isfinite(d)) {
        JBUF_LIT(b, "null");
        return;
    }
    /* Shortest of the two forms that reads back as the same double. */
    snprintf(tmp, sizeof tmp, "%.15g", d);
    if (strtod(tmp, NULL) != d) snprintf(tmp, sizeof tmp, "%.17g", d);
    jbuf_puts(b, tmp);
}

void jbuf_value(jbuf *b, cep_value v) {
    char tmp[32];
    switch (v.type) {
    case CEP_NULL:
        JBUF_LIT(b, "null");
        break;
    case CEP_BOOL:
        jbuf_puts(b, v.u.b ? "true" : "false");
        break;
    case CEP_INT: {
        /* By hand: snprintf was a tenth of the CLI's output cost. */
        uint64_t u = v.u.i < 0 ? 0 - (uint64_t)v.u.i : (uint64_t)v.u.i;
        char *e = tmp + sizeof tmp, *p = e;
        do *--p = (char)('0' + u % 10);
        while (u /= 10);
        if (v.u.i < 0) *--p = '-';
        jbuf_put(b, p, (size_t)(e - p));
        break;
    }
    case CEP_DOUBLE:
        put_double(b, v.u.d);
        break;
    case CEP_STRING:
        jbuf_string(b, v.u.s.ptr, v.u.s.len);
        break;
    default:
        JBUF_LIT(b, "null");
        break;
    }
}

static void put_int(jbuf *b, int64_t i) {
    cep_value v = {.type = CEP_INT, .u.i = i};
    jbuf_value(b, v);
}

static void put_event(jbuf *b, const cep_program *p, const cep_event *ev, int form) {
    if (form == JOUT_POSITIONS) {
        /* The tag the reader set: the event's line number in the input. */
        put_int(b, (int64_t)cep_event_tag(ev));
        return;
    }
    size_t rl;
    const char *raw = cep_event_raw(ev, &rl);
    if (raw) {
        jbuf_put(b, raw, rl);
        return;
    }
    /* No original text (events pushed through the C API): rebuild an
     * object from the slots the program read. */
    JBUF_LIT(b, "{");
    int first = 1;
    size_t nf = cep_program_field_count(p);
    for (size_t s = 0; s < nf; s++) {
        cep_value v = cep_event_value(ev, (int)s);
        if (v.type == CEP_NULL) continue;
        if (!first) JBUF_LIT(b, ",");
        first = 0;
        const char *name = cep_program_field_name(p, s);
        jbuf_string(b, name ? name : "", name ? strlen(name) : 0);
        JBUF_LIT(b, ":");
        jbuf_value(b, v);
    }
    JBUF_LIT(b, "}");
}

void jbuf_match(jbuf *b, const cep_program *p, const cep_match *m) { jbuf_match_as(b, p, m, JOUT_EVENTS); }

void jbuf_match_as(jbuf *b, const cep_program *p, const cep_match *m, int form) {
    const char *name = cep_match_pattern(m);
    JBUF_LIT(b, "{\"pattern\":");
    jbuf_string(b, name ? name : "", name ? strlen(name) : 0);

    JBUF_LIT(b, ",\"key\":");
    size_t nk = cep_match_key_count(m);
    if (nk == 0) {
        JBUF_LIT(b, "null");
    } else if (nk == 1) {
        jbuf_value(b, cep_match_key(m, 0));
    } else {
        JBUF_LIT(b, "[");
        for (size_t i = 0; i < nk; i++) {
            if (i) JBUF_LIT(b, ",");
            jbuf_value(b, cep_match_key(m, i));
        }
        JBUF_LIT(b, "]");
    }

    JBUF_LIT(b, ",\"start\":");
    put_int(b, cep_match_start(m));
    if (cep_match_is_timeout(m)) {
        /* A timed-out partial match has no end: it lists what it had. */
        JBUF_LIT(b, ",\"timeout\":true");
    } else {
        JBUF_LIT(b, ",\"end\":");
        put_int(b, cep_match_end(m));
    }

    size_t nf = cep_match_field_count(m);
    if (nf > 0) {
        /* An emit clause always has at least one field. */
        JBUF_LIT(b, ",\"fields\":{");
        for (size_t i = 0; i < nf; i++) {
            const char *fn = cep_match_field_name(m, i);
            if (i) JBUF_LIT(b, ",");
            jbuf_string(b, fn ? fn : "", fn ? strlen(fn) : 0);
            JBUF_LIT(b, ":");
            jbuf_value(b, cep_match_field(m, i));
        }
        JBUF_LIT(b, "}");
    } else {
        JBUF_LIT(b, ",\"events\":{");
        size_t ns = cep_match_step_count(m);
        for (size_t s = 0; s < ns; s++) {
            const char *sn = cep_match_step_name(m, s);
            if (s) JBUF_LIT(b, ",");
            jbuf_string(b, sn ? sn : "", sn ? strlen(sn) : 0);
            JBUF_LIT(b, ":[");
            size_t ne = cep_match_event_count(m, s);
            for (size_t i = 0; i < ne; i++) {
                if (i) JBUF_LIT(b, ",");
                put_event(b, p, cep_match_event(m, s, i), form);
            }
            JBUF_LIT(b, "]");
        }
        JBUF_LIT(b, "}");
    }
    JBUF_LIT(b, "}\n");
}
