/* diag.c — the list of compile errors every stage (lexer, parser, checker,
 * regex compiler) adds to, and its rendering as "name:line:col: error: msg"
 * followed by the source line and a caret. Behind the cep_diag_* API.
 * Bounded for hostile text (docs/errors.md): at most DIAG_KEEP errors kept,
 * DIAG_SHOW rendered, and a long line shown as a window around the caret
 * (as clang and rustc do), so the rendering is O(DIAG_SHOW * DIAG_WINDOW)
 * however long the line and however many the errors. */
#include "config.h"
#include "diag.h"
#include "mem.h"
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIAG_KEEP CEP_DIAG_KEEP /* errors kept; more are only counted */
#define DIAG_SHOW 50     /* items cep_diag_render shows */
#define DIAG_WINDOW 120  /* bytes of a source line shown around the caret */

typedef struct diag_item {
    int code;
    int severity; /* CEP_SEVERITY_* */
    size_t off;  /* byte offset as reported */
    size_t seq;  /* insertion order, keeps the sort stable */
    int line, col;
    char *msg;
} diag_item;

struct cep_diag {
    char *name;
    char *src;
    size_t len;
    diag_item *items;
    size_t n, cap;
    size_t errors;  /* errors kept */
    size_t dropped; /* errors added past DIAG_KEEP: counted, not kept */
    int oom;
    int finished;
    char *rendered;
    /* Line cursor: errors mostly arrive in source order, so line/column
     * are found by scanning on from the previous error. */
    size_t cur_off, cur_line_start;
    int cur_line;
};

cep_diag *diag_new(const char *name, const char *src, size_t len) {
    cep_diag *d = mem_calloc(1, sizeof *d);
    if (!d) return NULL;
    d->name = mem_strdup(name ? name : "<string>");
    d->src = mem_strndup(src ? src : "", src ? len : 0);
    if (!d->name || !d->src) {
        mem_free(d->name);
        mem_free(d->src);
        mem_free(d);
        return NULL;
    }
    d->len = src ? len : 0;
    d->cur_line = 1;
    return d;
}

void diag_set_oom(cep_diag *d) {
    if (d) d->oom = 1;
}

int diag_oom(const cep_diag *d) { return d ? d->oom : 0; }

/* The offset where the caret goes: an error at the very end of a text that
 * ends with a newline points at the end of the line that newline ended. */
static size_t caret_offset(const cep_diag *d, size_t off) {
    if (off > d->len) off = d->len;
    if (off == d->len && off > 0 && d->src[off - 1] == '\n') {
        off--;
        if (off > 0 && d->src[off - 1] == '\r') off--;
    }
    return off;
}

/* Characters (UTF-8 code points) in src[from, to): count every byte that
 * is not a continuation byte. */
static int count_chars(const char *s, size_t from, size_t to) {
    int n = 0;
    for (size_t i = from; i < to; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
    return n;
}

/* A UTF-8 byte order mark opening the text: skipped by the scanner, not
 * shown, not a column. */
static size_t bom_len(const cep_diag *d) {
    return d->len >= 3 && memcmp(d->src, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

static void locate(cep_diag *d, size_t off, int *line, int *col) {
    off = caret_offset(d, off);
    if (off < d->cur_off) {
        d->cur_off = 0;
        d->cur_line_start = 0;
        d->cur_line = 1;
    }
    for (size_t i = d->cur_off; i < off; i++) {
        if (d->src[i] == '\n') {
            d->cur_line++;
            d->cur_line_start = i + 1;
        }
    }
    d->cur_off = off;
    *line = d->cur_line;
    size_t from = d->cur_line_start;
    if (from == 0 && off >= bom_len(d)) from = bom_len(d);
    *col = count_chars(d->src, from, off) + 1;
}

int diag_line_at(cep_diag *d, size_t off) {
    if (!d) return 0;
    int line, col;
    locate(d, off, &line, &col);
    return line;
}

int diag_col_at(cep_diag *d, size_t off) {
    if (!d) return 0;
    int line, col;
    locate(d, off, &line, &col);
    return col;
}

static int diag_vadd(cep_diag *d, int severity, int code, size_t off, const char *fmt, va_list ap0)
    __attribute__((format(printf, 5, 0)));

int diag_add(cep_diag *d, int code, size_t off, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = diag_vadd(d, CEP_SEVERITY_ERROR, code, off, fmt, ap);
    va_end(ap);
    return rc;
}

int diag_warn(cep_diag *d, int code, size_t off, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = diag_vadd(d, CEP_SEVERITY_WARNING, code, off, fmt, ap);
    va_end(ap);
    return rc;
}

static int diag_vadd(cep_diag *d, int severity, int code, size_t off, const char *fmt, va_list ap0) {
    if (!d) return -1;
    /* Warnings are all kept: a caller picks them by kind (-Werror=NAME
     * must see every one), and a pattern gives only a few. */
    if (severity == CEP_SEVERITY_ERROR && d->errors >= DIAG_KEEP) {
        d->dropped++;
        return 0;
    }
    if (mem_grow((void **)&d->items, &d->cap, d->n + 1, sizeof *d->items) != 0) {
        d->oom = 1;
        return -1;
    }
    /* Messages are short: format on the stack, allocate when longer. */
    char tmp[256];
    va_list ap;
    va_copy(ap, ap0);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *msg = mem_alloc((size_t)n + 1);
    if (!msg) {
        d->oom = 1;
        return -1;
    }
    if ((size_t)n < sizeof tmp) {
        memcpy(msg, tmp, (size_t)n + 1);
    } else {
        va_copy(ap, ap0);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }

    diag_item *it = &d->items[d->n];
    it->code = code;
    it->severity = severity;
    it->off = off > d->len ? d->len : off;
    it->seq = d->n;
    it->msg = msg;
    locate(d, it->off, &it->line, &it->col);
    d->n++;
    if (severity == CEP_SEVERITY_ERROR) d->errors++;
    /* A later add invalidates a rendering done before. */
    d->finished = 0;
    mem_free(d->rendered);
    d->rendered = NULL;
    return 0;
}

static int item_cmp(const void *pa, const void *pb) {
    const diag_item *a = pa, *b = pb;
    if (a->off != b->off) return a->off < b->off ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void render_item(strbuf *b, const cep_diag *d, const diag_item *it, int as_error) {
    char num[64];
    int warn = it->severity == CEP_SEVERITY_WARNING;
    sb_puts(b, d->name);
    snprintf(num, sizeof num, ":%d:%d: %s: ", it->line, it->col, warn && !as_error ? "warning" : "error");
    sb_puts(b, num);
    sb_puts(b, it->msg);
    /* The option that turns it off or into an error, as compilers do. */
    if (warn) sb_printf(b, " [-W%s]", cep_diag_code_name(it->code));
    sb_puts(b, "\n");

    size_t off = caret_offset(d, it->off);
    size_t start = off, end = off;
    while (start > 0 && d->src[start - 1] != '\n') start--;
    if (start == 0 && off >= bom_len(d)) start = bom_len(d);
    while (end < d->len && d->src[end] != '\n') end++;
    size_t shown = end;
    if (shown > start && d->src[shown - 1] == '\r') shown--; /* CRLF files */
    /* A long line: DIAG_WINDOW bytes around the caret, cut at character
     * boundaries, "..." where the line goes on. */
    size_t from = start, to = shown;
    if (shown - start > DIAG_WINDOW) {
        from = off - start > DIAG_WINDOW / 2 ? off - DIAG_WINDOW / 2 : start;
        to = shown - from > DIAG_WINDOW ? from + DIAG_WINDOW : shown;
        if (to == shown) from = shown - DIAG_WINDOW;
        /* At most 3 steps: a character has at most 3 continuation bytes
         * (invalid text may have a run of them: the window stays small). */
        for (int k = 0; k < 3 && from > start && ((unsigned char)d->src[from] & 0xC0) == 0x80; k++) from--;
        for (int k = 0; k < 3 && to < shown && ((unsigned char)d->src[to] & 0xC0) == 0x80; k++) to--;
    }
    if (from > start) sb_puts(b, "...");
    /* A NUL would cut the rendered C string short: show it as a space. */
    for (size_t i = from; i < to;) {
        size_t run = i;
        while (run < to && d->src[run] != '\0') run++;
        sb_put(b, d->src + i, run - i);
        if (run < to) sb_puts(b, " ");
        i = run + 1;
    }
    if (to < shown) sb_puts(b, "...");
    sb_puts(b, "\n");
    /* One space per character before the caret, tabs kept so it lines up. */
    if (from > start) sb_puts(b, "   ");
    for (size_t i = from; i < off; i++) {
        unsigned char c = (unsigned char)d->src[i];
        if (c == '\t')
            sb_puts(b, "\t");
        else if ((c & 0xC0) != 0x80)
            sb_puts(b, " ");
    }
    sb_puts(b, "^\n");
}

int diag_finish(cep_diag *d) {
    if (!d) return -1;
    if (d->n > 1) qsort(d->items, d->n, sizeof *d->items, item_cmp);
    for (size_t i = 0; i < d->n; i++) d->items[i].seq = i;
    strbuf b = {0};
    sb_puts(&b, "");
    size_t show = d->n < DIAG_SHOW ? d->n : DIAG_SHOW;
    for (size_t i = 0; i < show; i++) render_item(&b, d, &d->items[i], 0);
    if (d->n + d->dropped > show)
        sb_printf(&b, "%s: error: too many errors: %zu more not shown (%zu in all)\n", d->name,
                  d->n + d->dropped - show, d->n + d->dropped);
    mem_free(d->rendered);
    d->rendered = NULL;
    if (b.oom) {
        mem_free(b.p);
        d->oom = 1;
        return -1;
    }
    d->rendered = b.p;
    d->finished = 1;
    return d->oom ? -1 : 0;
}

/* ---- public accessors -------------------------------------------------- */

size_t cep_diag_count(const cep_diag *d) { return d ? d->n : 0; }

size_t cep_diag_total(const cep_diag *d) { return d ? d->n + d->dropped : 0; }

static const diag_item *item_at(const cep_diag *d, size_t i) {
    return d && i < d->n ? &d->items[i] : NULL;
}

int cep_diag_code(const cep_diag *d, size_t i) {
    const diag_item *it = item_at(d, i);
    return it ? it->code : 0;
}

size_t cep_diag_offset(const cep_diag *d, size_t i) {
    const diag_item *it = item_at(d, i);
    return it ? it->off : 0;
}

int cep_diag_line(const cep_diag *d, size_t i) {
    const diag_item *it = item_at(d, i);
    return it ? it->line : 0;
}

int cep_diag_column(const cep_diag *d, size_t i) {
    const diag_item *it = item_at(d, i);
    return it ? it->col : 0;
}

const char *cep_diag_message(const cep_diag *d, size_t i) {
    const diag_item *it = item_at(d, i);
    return it ? it->msg : "";
}

const char *cep_diag_render(const cep_diag *d) {
    return d && d->rendered ? d->rendered : "";
}

int cep_diag_severity(const cep_diag *d, size_t i) {
    const diag_item *it = item_at(d, i);
    return it ? it->severity : CEP_SEVERITY_ERROR;
}

const char *cep_diag_code_name(int code) {
    switch (code) {
#define CEP_DIAG_WNAME_(c, value, name, what) \
    case c: return name;
        CEP_DIAG_WARNINGS(CEP_DIAG_WNAME_)
#undef CEP_DIAG_WNAME_
    default: return "";
    }
}

char *cep_diag_render_one(const cep_diag *d, size_t i, int as_error) {
    const diag_item *it = item_at(d, i);
    if (!it) return NULL;
    strbuf b = {0};
    render_item(&b, d, it, as_error);
    if (b.oom) {
        mem_free(b.p);
        return NULL;
    }
    return b.p;
}

void cep_diag_free(cep_diag *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) mem_free(d->items[i].msg);
    mem_free(d->items);
    mem_free(d->name);
    mem_free(d->src);
    mem_free(d->rendered);
    mem_free(d);
}
