/* strbuf.c — appending to a growable text buffer (see strbuf.h). */
#include "config.h"
#include "strbuf.h"
#include "mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (mem_grow((void **)&b->p, &b->cap, b->len + n + 1, 1) != 0) {
        b->oom = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_puts(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

void sb_printf(strbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        sb_put(b, tmp, (size_t)n);
        return;
    }
    /* Longer than the stack buffer: format straight into the buffer. */
    if (mem_grow((void **)&b->p, &b->cap, b->len + (size_t)n + 1, 1) != 0) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
