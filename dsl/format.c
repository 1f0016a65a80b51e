/* format.c — cep_format: a pattern file in one canonical layout (`cepheus
 * fmt`). Works on tokens, not on the tree: every token is copied as written
 * (a duration stays `10m`, a number `1.50`), only the space between tokens
 * changes, and comments — which the lexer drops — are found again in those
 * spaces. The text must parse; the result is parsed again and must give the
 * same tree, so a layout bug can refuse a file but never change one. */
#include "config.h"
#include "ast.h"
#include "diag.h"
#include "mem.h"
#include "strbuf.h"

#include <string.h>

typedef enum tkind { K_NAME, K_KW, K_NUM, K_STR, K_REGEX, K_OP } tkind;

typedef struct tok {
    tkind kind;
    uint32_t start, end;
} tok;

typedef struct toks {
    tok *v;
    size_t n, cap;
} toks;

static const char *const keywords[] = {
    "pattern", "key", "begin", "next", "followedBy", "followedByAny", "notNext", "notFollowedBy",
    "where", "within", "skip", "noSkip", "toNext", "pastLastEvent", "toFirst", "toLast", "emit",
    "greedy", "consecutive", "allowCombinations", "until", "and", "or", "not", "in", "true",
    "false", "null"};

static int is_ident(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || (c >= '0' && c <= '9');
}

/* Split text into tokens. Whatever lies between two tokens is whitespace
 * and comments (the text parsed, so nothing else can be there). */
static int tokenize(const char *s, uint32_t len, toks *out) {
    /* A byte order mark opening the text is not kept (the scanner skips it). */
    uint32_t i = len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    int after_match = 0;
    while (i < len) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
            i++;
            continue;
        }
        if (c == '#') {
            while (i < len && s[i] != '\n') i++;
            continue;
        }
        tok t = {K_OP, i, i + 1};
        if (after_match && c == '/') {
            uint32_t j = i + 1;
            while (j < len && s[j] != '/' && s[j] != '\n') j += s[j] == '\\' ? 2 : 1;
            j++;
            while (j < len && is_ident(s[j])) j++;
            t = (tok){K_REGEX, i, j > len ? len : j};
        } else if (is_ident(c) && !(c >= '0' && c <= '9')) {
            uint32_t j = i;
            while (j < len && is_ident(s[j])) j++;
            t = (tok){K_NAME, i, j};
            for (size_t k = 0; k < sizeof keywords / sizeof *keywords; k++)
                if (strlen(keywords[k]) == j - i && memcmp(keywords[k], s + i, j - i) == 0) t.kind = K_KW;
        } else if (c >= '0' && c <= '9') {
            uint32_t j = i;
            while (j < len && s[j] >= '0' && s[j] <= '9') j++;
            if (j + 1 < len && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9')
                for (j++; j < len && s[j] >= '0' && s[j] <= '9'; j++) {}
            if (j < len && (s[j] == 'e' || s[j] == 'E')) {
                uint32_t k = j + 1;
                if (k < len && (s[k] == '+' || s[k] == '-')) k++;
                if (k < len && s[k] >= '0' && s[k] <= '9') {
                    j = k;
                    while (j < len && s[j] >= '0' && s[j] <= '9') j++;
                }
            }
            while (j < len && is_ident(s[j])) j++; /* a duration's unit */
            t = (tok){K_NUM, i, j};
        } else if (c == '"' || c == '`') {
            uint32_t j = i + 1;
            while (j < len && s[j] != c && s[j] != '\n') j += s[j] == '\\' && c == '"' ? 2 : 1;
            t = (tok){c == '"' ? K_STR : K_NAME, i, j + 1 > len ? len : j + 1};
        } else if (i + 1 < len && strchr("=!<>", c) && strchr("=~", s[i + 1])) {
            t.end = i + 2;
        } else if ((unsigned char)c >= 0x80) {
            uint32_t j = i + 1;
            while (j < len && ((unsigned char)s[j] & 0xC0) == 0x80) j++;
            t.end = j;
        }
        after_match = t.kind == K_OP && t.end == i + 2 && s[i + 1] == '~';
        if (mem_grow((void **)&out->v, &out->cap, out->n + 1, sizeof *out->v) < 0) return -1;
        out->v[out->n++] = t;
        i = t.end;
    }
    return 0;
}

/* ---- layout -------------------------------------------------------------- */

enum { M_NONE, M_STEP, M_EXPR, M_KEY, M_EMIT };
#define MAX_DEPTH 256

typedef struct fmt {
    const char *s;
    const toks *t;
    strbuf b;
    int col0;          /* nothing written on the current line yet */
    int line_indent;   /* indentation of the current line */
    int base;          /* indentation of the clause the line belongs to */
    int mode;
    int groups;        /* open group parentheses */
    int depth;         /* open parentheses and brackets of all kinds */
    char stack[MAX_DEPTH]; /* 'g' group, 'e' expression, '[' index */
    int braces;        /* inside a quantifier's braces */
    int emit_base;     /* indentation of the emit clause's fields */
    int must_break;    /* a comment ended the line */
    int fresh;         /* the next token starts a line at base (after a
                        * group's parenthesis, an emit field's comma) */
} fmt;

static int is(const fmt *f, const tok *t, const char *w) {
    size_t n = strlen(w);
    return t && t->end - t->start == n && memcmp(f->s + t->start, w, n) == 0;
}

static int is_connector(const fmt *f, const tok *t) {
    return t && t->kind == K_KW &&
           (is(f, t, "next") || is(f, t, "followedBy") || is(f, t, "followedByAny") ||
            is(f, t, "notNext") || is(f, t, "notFollowedBy"));
}

static int ends_value(const fmt *f, const tok *t) {
    return t && (t->kind == K_NAME || t->kind == K_NUM || t->kind == K_STR || t->kind == K_REGEX ||
                 is(f, t, ")") || is(f, t, "]") || is(f, t, "true") || is(f, t, "false") ||
                 is(f, t, "null"));
}

static void newline(fmt *f, int indent) {
    if (!f->col0) sb_puts(&f->b, "\n");
    f->col0 = 1;
    f->line_indent = indent;
    f->must_break = 0;
}

static void put_indent(fmt *f) {
    if (!f->col0) return;
    for (int i = 0; i < f->line_indent; i++) sb_puts(&f->b, " ");
    f->col0 = 0;
}

static void blank_line(fmt *f) {
    newline(f, f->line_indent);
    /* At most one blank line, and none at the top of the file. */
    if (f->b.len >= 2 && !(f->b.p[f->b.len - 1] == '\n' && f->b.p[f->b.len - 2] == '\n'))
        sb_puts(&f->b, "\n");
}

/* Newlines in s[from, to) before offset `at`. */
static int newlines(const char *s, uint32_t from, uint32_t to) {
    int n = 0;
    for (uint32_t i = from; i < to; i++) n += s[i] == '\n';
    return n;
}

/* Where the next token goes when it starts a line of its own: the
 * indentation of a clause keyword, or -1 when it continues the clause. */
static int starter_indent(fmt *f, size_t i) {
    const tok *t = &f->t->v[i], *p = i ? &f->t->v[i - 1] : NULL;
    if (t->kind == K_KW) {
        if (is(f, t, "pattern")) return 0;
        if (is_connector(f, t)) return 2 + 2 * f->groups;
        if (is(f, t, "key") || is(f, t, "begin") || is(f, t, "skip") || is(f, t, "emit")) return 2;
        /* `within` after a connector is a gap; otherwise the pattern's window. */
        if (is(f, t, "within") && !is_connector(f, p) && f->depth == 0) return 2;
    }
    if (is(f, t, ")") && f->depth > 0 && f->stack[f->depth - 1] == 'g') return 2 + 2 * (f->groups - 1);
    return -1;
}

/* Is there no space between p and t on a line? */
static int glued(fmt *f, const tok *p, const tok *t, int unary_before) {
    if (!p) return 1;
    if (f->braces || is(f, t, "}")) return 1;
    if (is(f, p, "(") || is(f, p, "[") || is(f, p, ".")) return 1;
    if (is(f, t, ")") || is(f, t, "]") || is(f, t, ",") || is(f, t, ".") || is(f, t, "[")) return 1;
    if (is(f, t, "(") && p->kind == K_NAME) return 1; /* a call */
    if (unary_before) return 1;
    /* A quantifier sticks to its step or group. */
    if (f->mode == M_STEP && (is(f, t, "?") || is(f, t, "+") || is(f, t, "*") || is(f, t, "{"))) return 1;
    return 0;
}

/* Comments and line breaks in the source between token i-1 and token i
 * (i == n: the end of the file). */
static int gap(fmt *f, size_t i, uint32_t from, uint32_t to, int starter, int *src_break) {
    const char *s = f->s;
    const tok *t = i < f->t->n ? &f->t->v[i] : NULL;
    int first_comment = 1;
    uint32_t last = from;
    *src_break = newlines(s, from, to) > 0;
    for (uint32_t j = from; j < to; j++) {
        if (s[j] != '#') continue;
        uint32_t e = j;
        while (e < to && s[e] != '\n') e++;
        size_t n = e - j;
        while (n && (s[j + n - 1] == ' ' || s[j + n - 1] == '\t' || s[j + n - 1] == '\r')) n--;
        int nl = newlines(s, last, j);
        if (i > 0 && nl == 0 && last == from) {
            /* Trailing: stays on the line of the token before it. */
            sb_puts(&f->b, "  ");
            sb_put(&f->b, s + j, n);
            f->must_break = 1;
        } else {
            int ind = starter >= 0 ? starter : !t ? 0 : f->base + 4 + 2 * (f->depth - f->groups);
            if (!t && f->groups == 0 && nl < 2 && f->base > 0) ind = 2; /* the pattern's last lines */
            if (t && is(f, t, "pattern") && first_comment && f->t->v[0].start < j) blank_line(f);
            else if (nl > 1 && !first_comment) blank_line(f);
            else if (nl > 1 && first_comment && (i > 0 || f->b.len)) blank_line(f);
            newline(f, ind);
            put_indent(f);
            sb_put(&f->b, s + j, n);
            f->col0 = 0;
            f->must_break = 1;
            first_comment = 0;
        }
        last = e;
        j = e;
    }
    /* A blank line kept between the last comment and what follows it. */
    if (!first_comment && t && newlines(s, last, to) > 1 && starter >= 0) blank_line(f);
    return !first_comment;
}

static int layout(fmt *f) {
    const toks *T = f->t;
    const char *s = f->s;
    uint32_t prev_end = 0;
    int unary_pending = 0;
    f->col0 = 1;
    for (size_t i = 0; i <= T->n; i++) {
        const tok *t = i < T->n ? &T->v[i] : NULL, *p = i ? &T->v[i - 1] : NULL;
        int starter = t ? starter_indent(f, i) : -1;
        int at = starter >= 0 ? starter : f->fresh ? f->base : -1;
        int src_break;
        int comments = gap(f, i, prev_end, t ? t->start : (uint32_t)strlen(s), at, &src_break);
        if (!t) break;
        /* A group opens where a step could start: after begin, a
         * connector (and its gap), or another group's parenthesis. */
        const tok *pp = i >= 2 ? &T->v[i - 2] : NULL;
        int is_group_open = is(f, t, "(") && p && f->mode == M_STEP && !f->braces &&
                            (!ends_value(f, p) || (p->kind == K_NUM && is(f, pp, "within")));
        if (at >= 0) {
            if (is(f, t, "pattern") && f->b.len && !comments) blank_line(f);
            newline(f, at);
            if (starter >= 0) f->base = starter;
        } else if (f->must_break || (src_break && !f->col0 && !glued(f, p, t, unary_pending))) {
            newline(f, f->base + 4 + 2 * (f->depth - f->groups));
        } else if (!f->col0 && !glued(f, p, t, unary_pending)) {
            sb_puts(&f->b, " ");
        }
        f->fresh = 0;
        put_indent(f);
        sb_put(&f->b, s + t->start, t->end - t->start);

        /* What this token changes for the next ones. */
        unary_pending = is(f, t, "-") && !ends_value(f, p);
        if (t->kind == K_KW) {
            if (is(f, t, "pattern")) f->mode = M_NONE, f->groups = f->depth = f->braces = 0;
            else if (is(f, t, "begin") || is_connector(f, t)) f->mode = M_STEP;
            else if (is(f, t, "where") || is(f, t, "until")) f->mode = M_EXPR;
            else if (is(f, t, "key")) f->mode = M_KEY;
            else if (is(f, t, "emit")) {
                f->mode = M_EMIT;
                f->emit_base = f->base + 5;
            } else if (is(f, t, "within") || is(f, t, "skip")) {
                if (starter >= 0) f->mode = M_NONE;
            } else if (is(f, t, "greedy") || is(f, t, "consecutive") || is(f, t, "allowCombinations")) {
                f->mode = M_STEP;
            }
        } else if (is(f, t, "(") || is(f, t, "[")) {
            if (f->depth < MAX_DEPTH) f->stack[f->depth] = is_group_open ? 'g' : is(f, t, "[") ? '[' : 'e';
            f->depth++;
            if (is_group_open) {
                f->groups++;
                f->base = 2 + 2 * f->groups;
                f->fresh = 1;
            }
        } else if (is(f, t, ")") || is(f, t, "]")) {
            if (f->depth > 0) {
                f->depth--;
                if (f->depth < MAX_DEPTH && f->stack[f->depth] == 'g') {
                    f->groups--;
                    f->mode = M_STEP;
                }
            }
        } else if (is(f, t, "{") && f->mode == M_STEP) {
            f->braces = 1;
        } else if (is(f, t, "}")) {
            f->braces = 0;
        } else if (is(f, t, ",") && f->mode == M_EMIT && f->depth == 0) {
            /* One emit field per line, under the first. */
            f->base = f->emit_base;
            f->fresh = 1;
        }
        prev_end = t->end;
    }
    if (!f->col0) sb_puts(&f->b, "\n");
    return f->b.oom ? -1 : 0;
}

/* The tree of text as ast_dump prints it (spans left out), or NULL. */
static char *dump_of(const char *text, size_t len, cep_diag *d, int *bad) {
    ast_pattern *pats = NULL;
    *bad = ast_parse(text, len, d, &pats) != 0;
    char *dump = *bad ? NULL : ast_dump(pats);
    ast_pattern_free(pats);
    return dump;
}

CEP_API int cep_format(const char *text, size_t len, const char *name, char **out, cep_diag **diag) {
    if (out) *out = NULL;
    if (diag) *diag = NULL;
    if (!out || (!text && len)) return CEP_EINVAL;
    if (len > UINT32_MAX / 2) return CEP_ERANGE;
    if (!text) text = "";
    cep_diag *d = diag_new(name, text, len), *d2 = NULL;
    if (!d) return CEP_ENOMEM;
    int bad, rc = CEP_OK;
    char *before = dump_of(text, len, d, &bad), *after = NULL;
    toks t = {0};
    fmt f = {0};
    sb_puts(&f.b, ""); /* an empty result is "", not NULL */
    if (diag_oom(d)) rc = CEP_ENOMEM;
    else if (bad) rc = CEP_EPATTERN;
    else if (!before) rc = CEP_ENOMEM;
    /* The tokenizer stops at a NUL byte: the lexer refuses those anyway. */
    if (rc == CEP_OK && memchr(text, 0, len)) rc = CEP_EPATTERN;
    if (rc == CEP_OK) {
        /* A NUL-terminated copy: the layout reads up to the end. */
        char *copy = mem_strndup(text, len);
        if (!copy || tokenize(copy, (uint32_t)len, &t) < 0) rc = CEP_ENOMEM;
        f.s = copy;
        f.t = &t;
        if (rc == CEP_OK && layout(&f) < 0) rc = CEP_ENOMEM;
        mem_free(copy);
    }
    if (rc == CEP_OK) {
        /* The safety net: the same tree, or no output. */
        if (!(d2 = diag_new(name, f.b.p, f.b.len))) rc = CEP_ENOMEM;
        else after = dump_of(f.b.p, f.b.len, d2, &bad);
        if (rc == CEP_OK && (diag_oom(d2) || (!bad && !after))) rc = CEP_ENOMEM;
        if (rc == CEP_OK && (bad || strcmp(before, after) != 0)) {
            rc = CEP_EPATTERN;
            if (rc == CEP_EPATTERN && diag_add(d, CEP_DIAG_UNSUPPORTED, 0,
                                               "cannot lay this file out without changing what it "
                                               "means (a bug in the formatter: please report it)") < 0)
                rc = CEP_ENOMEM;
        }
    }
    if (rc == CEP_EPATTERN && memchr(text, 0, len) && cep_diag_count(d) == 0 &&
        diag_add(d, CEP_DIAG_LEX, (size_t)((const char *)memchr(text, 0, len) - text), "NUL byte") < 0)
        rc = CEP_ENOMEM;
    if (diag_finish(d) < 0 && rc == CEP_OK) rc = CEP_ENOMEM;
    cep_diag_free(d2);
    mem_free(before);
    mem_free(after);
    mem_free(t.v);
    if (rc == CEP_OK) *out = f.b.p;
    else mem_free(f.b.p);
    if (diag) *diag = d;
    else cep_diag_free(d);
    return rc;
}
