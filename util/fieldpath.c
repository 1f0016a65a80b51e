/* fieldpath.c — the text form of field paths (see fieldpath.h): parsed by
 * the checker, the JSON readers (for --time-field) and cep_program_field_slot,
 * written in one canonical form so that a path has one name. */
#include "config.h"
#include "fieldpath.h"
#include "mem.h"

#include <string.h>

int fpath_parse(const char *s, size_t n, fpath *out) {
    out->n = 0;
    size_t i = 0;
    if (n == 0) return 0;
    for (;;) {
        if (out->n == FPATH_MAX) return -1;
        const char *part;
        size_t len;
        if (s[i] == '`') {
            const char *close = memchr(s + i + 1, '`', n - i - 1);
            if (!close) return -1;
            part = s + i + 1;
            len = (size_t)(close - part);
            i = (size_t)(close - s) + 1;
            if (i < n && s[i] != '.') return -1; /* `a`b */
        } else {
            size_t j = i;
            while (j < n && s[j] != '.') {
                if (s[j] == '`') return -1;
                j++;
            }
            if (j == i) return -1; /* empty bare part */
            part = s + i;
            len = j - i;
            i = j;
        }
        out->part[out->n] = part;
        out->len[out->n] = len;
        out->n++;
        if (i == n) return 0;
        i++; /* the '.' */
        if (i == n) return -1; /* a trailing '.' */
    }
}

int fpath_part_needs_quotes(const char *s, size_t n) {
    if (n == 0) return 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.' || s[i] == '[' || s[i] == ']') return 1;
    return 0;
}

char *fpath_text(const fpath *p, uint32_t from) {
    size_t total = 1;
    for (uint32_t i = from; i < p->n; i++) total += p->len[i] + 3;
    char *t = mem_alloc(total), *o = t;
    if (!t) return NULL;
    for (uint32_t i = from; i < p->n; i++) {
        if (i > from) *o++ = '.';
        int q = fpath_part_needs_quotes(p->part[i], p->len[i]);
        if (q) *o++ = '`';
        memcpy(o, p->part[i], p->len[i]);
        o += p->len[i];
        if (q) *o++ = '`';
    }
    *o = '\0';
    return t;
}
