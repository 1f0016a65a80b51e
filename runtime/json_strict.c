/* json_strict.c — strings as RFC 8259 and Unicode define them, for the
 * yajl reader (json.c): yajl accepts UTF-8 that is not (overlong forms,
 * encoded surrogates, code points past U+10FFFF) and decodes surrogate
 * escapes its own way ("\ud800\u0041" as U+10041, a lone "\udc00" as the
 * three bytes of an encoded surrogate). json.c runs this over the raw text
 * of each string yajl hands it, before using the string, so the yajl path
 * accepts exactly what the fast path (json_fast.c) does: strict UTF-8, and
 * a \u escape of a surrogate only as a high one followed by a low one. */
#include "config.h"
#include "json.h"

/* The code unit of the \uXXXX escape at p (4 hex digits after "\u"), or
 * -1 when p does not start one. */
static long escape_unit(const unsigned char *p, const unsigned char *end) {
    if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return -1;
    long v = 0;
    for (int i = 2; i < 6; i++) {
        unsigned c = p[i];
        int h = c >= '0' && c <= '9' ? (int)(c - '0') : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (int)((c | 0x20) - 'a' + 10) : -1;
        if (h < 0) return -1;
        v = v << 4 | h;
    }
    return v;
}

int json_strict_strings(const char *text, size_t from, size_t to) {
    const unsigned char *p = (const unsigned char *)text + from, *end = (const unsigned char *)text + to;
    int in_string = 0;
    while (p < end) {
        unsigned c = *p;
        if (!in_string) {
            /* Between strings: structure, numbers and literals, all ASCII
             * (yajl has lexed them); only a quote matters. */
            in_string = c == '"';
            p++;
            continue;
        }
        if (c == '"') {
            in_string = 0;
            p++;
        } else if (c == '\\') {
            long u = escape_unit(p, end);
            if (u < 0xD800 || u > 0xDFFF) { /* not a surrogate (or not \u) */
                p += u < 0 ? 2 : 6;
                continue;
            }
            long lo = u <= 0xDBFF ? escape_unit(p + 6, end) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) return JSON_STRICT_SURROGATE;
            p += 12;
        } else if (c < 0x80) {
            p++;
        } else {
            size_t k = json_utf8_len(p, end);
            if (!k) return JSON_STRICT_UTF8;
            p += k;
        }
    }
    return 0;
}
