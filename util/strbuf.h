/* strbuf.h — the growable text buffer the library builds strings in
 * (diagnostics, AST dumps, NFA explanations). An allocation failure sets
 * oom and makes every later append a no-op, so callers check once. */
#ifndef CEP_STRBUF_H
#define CEP_STRBUF_H

#include <stddef.h>

typedef struct strbuf {
    char *p;      /* NUL-terminated once anything was appended */
    size_t len, cap;
    int oom;
} strbuf;

void sb_put(strbuf *b, const char *s, size_t n);
void sb_puts(strbuf *b, const char *s);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
