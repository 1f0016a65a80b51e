/* lint.c — warnings on a checked syntax tree: patterns that compile but
 * whose state can grow without bound, conditions that can never hold,
 * steps that duplicate each other, regexes that backtrack or that are
 * plain comparisons, patterns without a key, skip targets that never take
 * an event. Reads the tree only; the list is CEP_DIAG_WARNINGS. */
#include "config.h"
#include "lint.h"
#include "mem.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct lctx {
    const char *text;
    size_t len;
    cep_diag *w;
    lint_regex_fn rx;
    int rx_budget; /* subjects PCRE2 may still be run on */
    int oom;
} lctx;

#define WARN(c, code, off, ...)                                \
    do {                                                       \
        if (diag_warn((c)->w, (code), (off), __VA_ARGS__) < 0) \
            (c)->oom = 1;                                      \
    } while (0)

/* The source text of a span, for messages (at most 60 bytes shown). */
static int span_len(const lctx *c, span sp) {
    if (sp.end > c->len || sp.start > sp.end) return 0;
    size_t n = sp.end - sp.start;
    return n > 60 ? 60 : (int)n;
}
#define SRC(c, sp) span_len((c), (sp)), (c)->text + (sp).start

/* ---- conditions that can never hold -------------------------------------- */

/* One conjunct of the form OPERAND op LITERAL (either way round). */
typedef struct cmp {
    const ast_expr *e;   /* the comparison */
    const ast_expr *lhs; /* the field side */
    const ast_expr *lit; /* the literal side */
    expr_op op;          /* as if written lhs op lit */
} cmp;

static int is_literal(const ast_expr *e) {
    return e && (e->kind == EX_INT || e->kind == EX_DOUBLE || e->kind == EX_STRING ||
                 e->kind == EX_BOOL || e->kind == EX_NULL);
}

static int is_operand(const ast_expr *e) {
    return e && (e->kind == EX_FIELD || e->kind == EX_STEPREF);
}

static expr_op flip(expr_op op) {
    switch (op) {
    case OP_LT: return OP_GT;
    case OP_LE: return OP_GE;
    case OP_GT: return OP_LT;
    case OP_GE: return OP_LE;
    default: return op;
    }
}

static int as_cmp(const ast_expr *e, cmp *out) {
    if (e->kind != EX_BINARY || e->op < OP_EQ || e->op > OP_GE) return 0;
    if (is_operand(e->a) && is_literal(e->b)) *out = (cmp){e, e->a, e->b, e->op};
    else if (is_operand(e->b) && is_literal(e->a)) *out = (cmp){e, e->b, e->a, flip(e->op)};
    else return 0;
    return 1;
}

static int same_operand(const ast_expr *a, const ast_expr *b) {
    if (a->kind != b->kind || strcmp(a->name, b->name) != 0) return 0;
    if (a->kind == EX_FIELD) return 1;
    return strcmp(a->step, b->step) == 0 && a->has_index == b->has_index &&
           (!a->has_index || a->index == b->index);
}

static int is_num(const ast_expr *e) { return e->kind == EX_INT || e->kind == EX_DOUBLE; }
static double num(const ast_expr *e) { return e->kind == EX_INT ? (double)e->ival : e->dval; }

/* Literal equality as the engine compares (int and double by value). */
static int lit_eq(const ast_expr *a, const ast_expr *b) {
    if (is_num(a) && is_num(b)) return num(a) == num(b);
    if (a->kind != b->kind) return 0;
    if (a->kind == EX_STRING) return a->slen == b->slen && memcmp(a->str, b->str, a->slen) == 0;
    if (a->kind == EX_BOOL) return a->ival == b->ival;
    return 1; /* null */
}

/* Does value v satisfy `v op lit`? Only called with two numbers. */
static int holds(double v, expr_op op, double lit) {
    switch (op) {
    case OP_LT: return v < lit;
    case OP_LE: return v <= lit;
    case OP_GT: return v > lit;
    case OP_GE: return v >= lit;
    case OP_EQ: return v == lit;
    default: return v != lit;
    }
}

/* Can x satisfy both comparisons? A comparison of a number with a
 * non-number is false (null only equals null), so an order comparison
 * needs x to be a number. */
static int both_possible(const cmp *a, const cmp *b) {
    if (a->op == OP_EQ && b->op == OP_EQ) return lit_eq(a->lit, b->lit);
    if (a->op == OP_EQ && b->op == OP_NE) return !lit_eq(a->lit, b->lit);
    if (a->op == OP_NE && b->op == OP_EQ) return !lit_eq(a->lit, b->lit);
    if (a->op == OP_NE || b->op == OP_NE) return 1;
    /* At least one order comparison; with a number: */
    if (!is_num(a->lit) || !is_num(b->lit)) {
        /* Strings order too: leave those alone unless the types differ. */
        if (a->lit->kind == EX_STRING && b->lit->kind == EX_STRING) return 1;
        return 0; /* a number and something else, or null, ordered */
    }
    if (a->op == OP_EQ) return holds(num(a->lit), b->op, num(b->lit));
    if (b->op == OP_EQ) return holds(num(b->lit), a->op, num(a->lit));
    /* Two bounds: empty when the lower one is at or above the upper one. */
    const cmp *lo = (a->op == OP_GT || a->op == OP_GE) ? a : b;
    const cmp *hi = lo == a ? b : a;
    if ((hi->op != OP_LT && hi->op != OP_LE) || (lo->op != OP_GT && lo->op != OP_GE)) return 1;
    double l = num(lo->lit), h = num(hi->lit);
    if (lo->op == OP_GE && hi->op == OP_LE) return l <= h;
    return l < h;
}

typedef struct conj {
    const ast_expr *v[64];
    int n;
} conj;

static void flatten_and(const ast_expr *e, conj *out) {
    if (e->kind == EX_BINARY && e->op == OP_AND) {
        flatten_and(e->a, out);
        flatten_and(e->b, out);
    } else if (out->n < 64) {
        out->v[out->n++] = e;
    }
}

/* ---- one operand's constraints over a whole `and` chain ------------------ */

/* A conjunct that constrains one operand: OPERAND op LITERAL, or OPERAND
 * in (LITERAL, ...). op is OP_NONE for `in`; lit is then the list. */
typedef struct cons {
    const ast_expr *e, *lhs, *lit;
    expr_op op;
} cons;

static int as_cons(const ast_expr *e, cons *out) {
    cmp c;
    if (as_cmp(e, &c)) {
        *out = (cons){e, c.lhs, c.lit, c.op};
        return 1;
    }
    if (e->kind != EX_IN || !is_operand(e->a) || !e->args) return 0;
    for (const ast_expr *x = e->args; x; x = x->next)
        if (!is_literal(x)) return 0;
    *out = (cons){e, e->a, e->args, OP_NONE};
    return 1;
}

/* Order two literals as the engine does: numbers by value, strings by
 * bytes; 0 when they do not order (null, bools, mixed types). */
static int lit_order(const ast_expr *a, const ast_expr *b, int *r) {
    if (is_num(a) && is_num(b)) {
        double x = num(a), y = num(b);
        *r = (x > y) - (x < y);
        return 1;
    }
    if (a->kind != EX_STRING || b->kind != EX_STRING) return 0;
    size_t n = a->slen < b->slen ? a->slen : b->slen;
    int c = n ? memcmp(a->str, b->str, n) : 0;
    *r = c ? (c > 0) - (c < 0) : (a->slen > b->slen) - (a->slen < b->slen);
    return 1;
}

/* Does an operand whose value is the literal v satisfy k? As the engine
 * evaluates: `== null` and `!= null` (and a null in an `in` list) test for
 * null; any other comparison involving null is false; a string compared
 * with a number is false, except that they are unequal. */
static int satisfies(const ast_expr *v, const cons *k) {
    if (k->op == OP_NONE) {
        for (const ast_expr *x = k->lit; x; x = x->next)
            if (x->kind == EX_NULL ? v->kind == EX_NULL : v->kind != EX_NULL && lit_eq(v, x)) return 1;
        return 0;
    }
    if (k->lit->kind == EX_NULL)
        return k->op == OP_EQ ? v->kind == EX_NULL : k->op == OP_NE ? v->kind != EX_NULL : 0;
    if (v->kind == EX_NULL) return 0;
    if (k->op == OP_EQ) return lit_eq(v, k->lit);
    if (k->op == OP_NE) return !lit_eq(v, k->lit);
    int r;
    if (!lit_order(v, k->lit, &r)) return 0;
    switch (k->op) {
    case OP_LT: return r < 0;
    case OP_LE: return r <= 0;
    case OP_GT: return r > 0;
    default: return r >= 0;
    }
}

#define WHY_MAX 4
/* Why a condition can never hold: the conjuncts that together rule out
 * every value (n of them; operand set when they are about one operand and
 * more than a pair, for the message), or `false` alone (n = 1). */
typedef struct why {
    const ast_expr *v[WHY_MAX];
    int n;
    const ast_expr *operand;
    const char *mixed; /* one comparison of two kinds that never compare */
} why;

static void why_add(why *w, const ast_expr *e) {
    for (int i = 0; i < w->n; i++)
        if (w->v[i] == e) return;
    if (w->n < WHY_MAX) w->v[w->n++] = e;
}

/* An operand that must equal one of finitely many literals (== or in):
 * can any of them satisfy every other constraint? k[0..n) are the operand's
 * constraints, k[f] the first finite one. */
static int finite_never(const cons *k, int n, int f, why *w) {
    const ast_expr *one = k[f].op == OP_NONE ? k[f].lit : k[f].lit;
    int list = k[f].op == OP_NONE;
    why t = {.n = 0};
    why_add(&t, k[f].e);
    for (const ast_expr *v = one; v; v = list ? v->next : NULL) {
        int i = 0;
        while (i < n && satisfies(v, &k[i])) i++;
        if (i == n) return 0; /* v satisfies them all */
        why_add(&t, k[i].e);
        if (t.n == WHY_MAX) break; /* ruled out: too many reasons to list */
    }
    if (t.n == WHY_MAX) {
        /* Check the remaining candidates without listing why. */
        for (const ast_expr *v = one; v; v = list ? v->next : NULL) {
            int i = 0;
            while (i < n && satisfies(v, &k[i])) i++;
            if (i == n) return 0;
        }
    }
    *w = t;
    return 1;
}

/* No finite constraint: the order comparisons bound an interval (of
 * numbers, or of strings); empty, or one point that a != rules out? */
static int interval_never(const cons *k, int n, why *w) {
    const cons *lo = NULL, *hi = NULL;
    for (int i = 0; i < n; i++) {
        if (k[i].op < OP_LT || k[i].lit->kind == EX_NULL) continue;
        int r, lower = k[i].op == OP_GT || k[i].op == OP_GE;
        const cons **b = lower ? &lo : &hi;
        if (!*b) {
            *b = &k[i];
            continue;
        }
        if (!lit_order(k[i].lit, (*b)->lit, &r)) return 0; /* mixed: the pairwise check's */
        /* The tighter bound: the greater lower one, the smaller upper one;
         * at the same value the strict one. */
        if ((lower ? r > 0 : r < 0) || (r == 0 && (k[i].op == OP_GT || k[i].op == OP_LT))) *b = &k[i];
    }
    int r;
    if (!lo || !hi || !lit_order(lo->lit, hi->lit, &r)) return 0;
    why t = {.n = 0};
    why_add(&t, lo->e);
    why_add(&t, hi->e);
    if (r > 0 || (r == 0 && (lo->op == OP_GT || hi->op == OP_LT))) {
        *w = t;
        return 1;
    }
    if (r < 0) return 0;
    /* One value, lo's literal: does a != rule it out? */
    for (int i = 0; i < n; i++)
        if (!satisfies(lo->lit, &k[i])) {
            why_add(&t, k[i].e);
            *w = t;
            return 1;
        }
    return 0;
}

/* Every operand of the chain c: its constraints together (not only by
 * pairs) leave no value? */
static int operands_never(const conj *c, why *w) {
    cons k[64];
    int done[64] = {0};
    for (int i = 0; i < c->n; i++) {
        cons first;
        if (done[i] || !as_cons(c->v[i], &first)) continue;
        int n = 0, f = -1;
        for (int j = i; j < c->n; j++) {
            cons x;
            if (done[j] || !as_cons(c->v[j], &x) || !same_operand(first.lhs, x.lhs)) continue;
            done[j] = 1;
            if (f < 0 && (x.op == OP_NONE || x.op == OP_EQ)) f = n;
            k[n++] = x;
        }
        /* Booleans do not order: `x > true` holds for no value. */
        for (int m = 0; m < n; m++)
            if (k[m].op >= OP_LT && k[m].lit->kind == EX_BOOL) {
                *w = (why){{k[m].e}, 1, first.lhs, NULL};
                return 1;
            }
        if (n < 2) continue;
        if (f >= 0 ? finite_never(k, n, f, w) : interval_never(k, n, w)) {
            w->operand = first.lhs;
            return 1;
        }
    }
    return 0;
}

/* ---- one comparison of two kinds that never compare --------------------- */

enum { K_NUM = 1, K_STR = 2, K_BOOL = 4 };

/* The kind e's value has whenever it is not null, when the syntax alone
 * tells (literals, operators, aggregates, built-ins: a registered
 * function cannot take a built-in's name); 0 when it may be any. */
static int known_kind(const ast_expr *e) {
    static const struct { const char *name; int kind; } calls[] = {
        {"len", K_NUM}, {"abs", K_NUM}, {"lower", K_STR}, {"upper", K_STR},
        {"exists", K_BOOL}, {"contains", K_BOOL}, {"startsWith", K_BOOL}};
    switch (e->kind) {
    case EX_INT: case EX_DOUBLE: return K_NUM;
    case EX_STRING: return K_STR;
    case EX_BOOL: case EX_MATCH: case EX_IN: return K_BOOL;
    case EX_UNARY: return e->op == OP_NEG ? K_NUM : K_BOOL;
    case EX_BINARY:
        /* `event-type`: the hyphen warning says what is meant. */
        if (e->op == OP_SUB && (e->a->kind == EX_FIELD || e->a->kind == EX_STEPREF) && e->b->kind == EX_FIELD &&
            e->a->sp.end + 1 == e->b->sp.start)
            return 0;
        return e->op >= OP_ADD && e->op <= OP_MOD ? K_NUM : K_BOOL;
    case EX_AGG: return e->op == AGG_MIN || e->op == AGG_MAX ? 0 : K_NUM;
    case EX_CALL:
        for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
            if (strcmp(e->name, calls[i].name) == 0) return calls[i].kind;
        return 0;
    default: return 0;
    }
}

/* `len(s) == "3"`, `count(b) > "2"`, `exists(x) == 1`: a number, a string
 * and a boolean are never equal, booleans do not order, and null (what
 * these give otherwise) compares false. `!=` holds, so is left out. */
static const char *mixed_never(const ast_expr *e) {
    if (e->kind != EX_BINARY || e->op < OP_EQ || e->op > OP_GE || e->op == OP_NE) return NULL;
    int a = known_kind(e->a), b = known_kind(e->b);
    if (!a || !b) return NULL;
    if (a == K_BOOL && b == K_BOOL) return e->op == OP_EQ ? NULL : "orders booleans";
    if (a == b) return NULL;
    int k = a | b;
    return k == (K_NUM | K_STR) ? "compares a number with a string"
         : k == (K_NUM | K_BOOL) ? "compares a boolean with a number"
                                 : "compares a boolean with a string";
}

/* Can e never hold? Why in *w. 0 when it may hold. */
static int never_holds(const ast_expr *e, why *w) {
    w->n = 0;
    w->operand = NULL;
    w->mixed = NULL;
    if (e->kind == EX_BOOL && !e->ival) {
        w->v[w->n++] = e;
        return 1;
    }
    if (e->kind == EX_BINARY && e->op == OP_OR) {
        why x;
        return never_holds(e->a, &x) && never_holds(e->b, w);
    }
    conj c = {.n = 0};
    flatten_and(e, &c);
    for (int i = 0; i < c.n; i++) {
        if (c.v[i]->kind == EX_BINARY && c.v[i]->op == OP_OR && never_holds(c.v[i], w)) return 1;
        if ((w->mixed = mixed_never(c.v[i]))) {
            w->v[0] = c.v[i];
            w->n = 1;
            return 1;
        }
        cmp x, y;
        if (!as_cmp(c.v[i], &x)) continue;
        for (int j = 0; j < i; j++) {
            if (!as_cmp(c.v[j], &y) || !same_operand(x.lhs, y.lhs)) continue;
            if (!both_possible(&y, &x)) {
                w->v[0] = c.v[j];
                w->v[1] = c.v[i];
                w->n = 2;
                return 1;
            }
        }
    }
    return operands_never(&c, w);
}

static int lint_never(lctx *c, const ast_step *s) {
    why w;
    if (!s->where || !never_holds(s->where, &w)) return 0;
    if (w.mixed) {
        WARN(c, CEP_DIAG_W_NEVER_TRUE, w.v[0]->sp.start, "the condition of step '%s' can never hold: '%.*s' %s",
             s->name, SRC(c, w.v[0]->sp), w.mixed);
    } else if (w.n == 2 && !w.operand) {
        WARN(c, CEP_DIAG_W_NEVER_TRUE, w.v[1]->sp.start,
             "the condition of step '%s' can never hold: '%.*s' contradicts '%.*s'", s->name,
             SRC(c, w.v[1]->sp), SRC(c, w.v[0]->sp));
    } else if (w.operand) {
        /* The conjuncts in source order, the caret under the last. */
        for (int i = 1; i < w.n; i++)
            for (int j = i; j > 0 && w.v[j]->sp.start < w.v[j - 1]->sp.start; j--) {
                const ast_expr *t = w.v[j];
                w.v[j] = w.v[j - 1];
                w.v[j - 1] = t;
            }
        char list[4 * 72];
        size_t o = 0;
        for (int i = 0; i < w.n && o < sizeof list; i++) {
            int n = snprintf(list + o, sizeof list - o, "%s'%.*s'",
                             i == 0 ? "" : i == w.n - 1 ? " and " : ", ", SRC(c, w.v[i]->sp));
            if (n < 0) break;
            o += (size_t)n;
        }
        WARN(c, CEP_DIAG_W_NEVER_TRUE, w.v[w.n - 1]->sp.start,
             "the condition of step '%s' can never hold: no value of '%.*s' satisfies %s", s->name,
             SRC(c, w.operand->sp), list);
    } else {
        WARN(c, CEP_DIAG_W_NEVER_TRUE, w.v[0]->sp.start, "the condition of step '%s' can never hold",
             s->name);
    }
    return 1;
}

/* ---- identical conditions --------------------------------------------------- */

static int str_eq(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int expr_eq(const ast_expr *a, const ast_expr *b) {
    if (!a || !b) return a == b;
    if (a->kind != b->kind || a->op != b->op || a->nargs != b->nargs) return 0;
    switch (a->kind) {
    case EX_INT: case EX_BOOL: if (a->ival != b->ival) return 0; break;
    case EX_DOUBLE: if (a->dval != b->dval && !(isnan(a->dval) && isnan(b->dval))) return 0; break;
    case EX_STRING:
        if (a->slen != b->slen || memcmp(a->str, b->str, a->slen) != 0) return 0;
        break;
    default: break;
    }
    if (!str_eq(a->name, b->name) || !str_eq(a->step, b->step) || a->has_index != b->has_index ||
        (a->has_index && a->index != b->index) || !str_eq(a->regex, b->regex) ||
        !str_eq(a->flags, b->flags) || !expr_eq(a->a, b->a) || !expr_eq(a->b, b->b))
        return 0;
    const ast_expr *x = a->args, *y = b->args;
    for (; x && y; x = x->next, y = y->next)
        if (!expr_eq(x, y)) return 0;
    return !x && !y;
}

/* ---- regexes ---------------------------------------------------------------- */

/* A subject's piece for a message: as is (UTF-8 included), with quotes,
 * backslashes and control characters escaped as in a string literal. */
static void show(char *dst, size_t cap, const char *s, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') o += (size_t)snprintf(dst + o, cap - o, "\\%c", ch);
        else if (ch == '\n') o += (size_t)snprintf(dst + o, cap - o, "\\n");
        else if (ch == '\t') o += (size_t)snprintf(dst + o, cap - o, "\\t");
        else if (ch < 0x20 || ch == 0x7f) o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", ch);
        else dst[o++] = (char)ch;
    }
    dst[o] = 0;
}

/* Catastrophic backtracking, found by running PCRE2 (dsl/relint.c). */
static int lint_backtracking(lctx *c, const ast_expr *e) {
    relint_found f;
    /* At most 24 subjects a regex and 512 a file: one stops at PCRE2's
     * match limit at worst (3.5 ms measured), so a hostile file costs about
     * 2 s at worst. */
    int budget = c->rx_budget < 24 ? c->rx_budget : 24, before = budget;
    int r = c->rx ? c->rx(e->regex, e->flags, &budget, &f) : 0;
    c->rx_budget -= before - budget;
    if (r < 0) c->oom = 1;
    if (r <= 0) return 0;
    char pre[6 * 64 + 8], pump[6 * 64 + 8], tail[6 * 65 + 8];
    char end[65];
    end[0] = f.tail;
    memcpy(end + 1, f.post, f.post_len);
    show(pre, sizeof pre, f.prefix, f.prefix_len);
    show(pump, sizeof pump, f.pump, f.pump_len);
    show(tail, sizeof tail, end, 1 + f.post_len);
    WARN(c, CEP_DIAG_W_REGEX, e->regex_sp.start + (uint32_t)f.offset,
         "this repeat backtracks exponentially: on the %zu-byte subject %s%s%s\"%s\" x %d + \"%s\" "
         "PCRE2 gives up at its match limit, and such an event counts as no match "
         "(regex_errors in --stats)",
         f.prefix_len + f.pump_len * (size_t)f.pumps + 1 + f.post_len, f.prefix_len ? "\"" : "", pre,
         f.prefix_len ? "\" + " : "", pump, f.pumps, tail);
    return 1;
}

/* A regex without metacharacters, maybe anchored: bit 1 for ^, bit 2 for
 * an end anchor, bit 4 when that anchor is $ (or \Z), which also matches
 * before a final newline; -1 when it needs a regex. The literal goes to
 * buf. With flags (i, m, s, x, u) it is left alone. */
static int plain_regex(const char *re, const char *flags, char *buf, size_t cap) {
    if (flags && *flags) return -1;
    size_t n = strlen(re), o = 0;
    int start = n && re[0] == '^', end = 0;
    size_t i = (size_t)start;
    /* The end anchor, unless its backslash is itself escaped. */
    size_t bs = 0;
    if (n > i && re[n - 1] == '$') {
        while (bs < n - 1 && re[n - 2 - bs] == '\\') bs++;
        if (bs % 2 == 0) end = 2 | 4, n--;
    } else if (n >= i + 2 && re[n - 2] == '\\' && (re[n - 1] == 'z' || re[n - 1] == 'Z')) {
        while (bs < n - 2 && re[n - 3 - bs] == '\\') bs++;
        if (bs % 2 == 0) end = re[n - 1] == 'z' ? 2 : 2 | 4, n -= 2;
    }
    if (i >= n) return -1;
    for (; i < n; i++) {
        char ch = re[i];
        if (ch == '\\') {
            /* An escaped punctuation character is itself; \d, \w... are not. */
            if (i + 1 >= n || (re[i + 1] >= 'A' && re[i + 1] <= 'Z') ||
                (re[i + 1] >= 'a' && re[i + 1] <= 'z') || (re[i + 1] >= '0' && re[i + 1] <= '9'))
                return -1;
            ch = re[++i];
        } else if (strchr(".^$|?*+()[]{}", ch)) {
            return -1;
        }
        /* Shown inside a string literal: keep those that need no escape. */
        if (ch == '"' || ch == '\\' || (unsigned char)ch < 0x20 || o + 1 >= cap) return -1;
        buf[o++] = ch;
    }
    buf[o] = 0;
    if (end && !start) return -1; /* no endsWith() to offer */
    return start | end;
}

/* The suggestions mean what the regex means on every value
 * (tests/lint_regex.py runs both): a non-string makes =~ and !~ false, ==
 * with a string false, and startsWith/contains null; so `x !~ /^a/` is
 * `startsWith(x, "a") == false`, not `not startsWith(...)`, which holds for
 * a missing field. `x != "a"` holds for a number: `!~ /^a$/` gets none. */
static void lint_regex(lctx *c, const ast_expr *e) {
    if (lint_backtracking(c, e)) return;
    char lit[128];
    int k = plain_regex(e->regex, e->flags, lit, sizeof lit);
    if (k < 0) return;
    int neg = e->op == OP_NOMATCH;
    /* x != "lit" holds for a number; x !~ /^lit$/ does not: no rewrite. */
    if ((k & 3) == 3 && neg) return;
    if ((k & 3) == 3 && (k & 4))
        WARN(c, CEP_DIAG_W_REGEX, e->sp.start,
             "this regex is a plain comparison: write %.*s %s \"%s\" ($ also matches before a final "
             "newline: only the regex %s \"%s\\n\")",
             SRC(c, e->a->sp), neg ? "!=" : "==", lit, neg ? "refuses" : "takes", lit);
    else if ((k & 3) == 3)
        WARN(c, CEP_DIAG_W_REGEX, e->sp.start, "this regex is a plain comparison: write %.*s %s \"%s\"",
             SRC(c, e->a->sp), neg ? "!=" : "==", lit);
    else
        WARN(c, CEP_DIAG_W_REGEX, e->sp.start, "this regex is a plain comparison: write %s(%.*s, \"%s\")%s",
             k ? "startsWith" : "contains", SRC(c, e->a->sp), lit, neg ? " == false" : "");
}

/* ---- field names with a hyphen --------------------------------------------- */

/* `user-id` is user minus id, null when neither field exists: a condition
 * on it never holds and nothing says why. A subtraction of two names
 * written without spaces is taken for a field name meant, and the
 * backquoted spelling is offered. */
static void lint_hyphen(lctx *c, const ast_expr *e) {
    const ast_expr *l = e->a, *r = e->b;
    /* `x > 1 -- note`: SQL's comment is a minus and a negation here. */
    if (r->sp.start > 0 && r->sp.start < c->len && c->text[r->sp.start] == '-' && c->text[r->sp.start - 1] == '-') {
        WARN(c, CEP_DIAG_W_HYPHEN, r->sp.start - 1,
             "'--' is a minus and a negation (%.*s), not a comment: a comment starts with '#'", SRC(c, e->sp));
        return;
    }
    if (l->kind != EX_FIELD && l->kind != EX_STEPREF) return;
    if (r->kind != EX_FIELD || r->npath > 1 || l->sp.end + 1 != r->sp.start || r->sp.end > c->len) return;
    const char *t = c->text;
    if (t[l->sp.end] != '-' || t[l->sp.end - 1] == '`' || t[r->sp.start] == '`') return;
    /* The last part of the left side gets the right name: a.user-id is
     * a.`user-id`, meta.user-id meta.`user-id`. */
    uint32_t last = l->sp.end;
    while (last > l->sp.start && t[last - 1] != '.') last--;
    if (l->kind == EX_STEPREF && l->has_index && last == l->sp.start) return;
    WARN(c, CEP_DIAG_W_HYPHEN, l->sp.start,
         "%.*s is %.*s minus %.*s; a field named %.*s-%.*s is written %.*s`%.*s-%.*s` (or write spaces "
         "around '-' for a subtraction)",
         (int)(r->sp.end - l->sp.start), t + l->sp.start, SRC(c, l->sp), SRC(c, r->sp),
         (int)(l->sp.end - last), t + last, SRC(c, r->sp), (int)(last - l->sp.start), t + l->sp.start,
         (int)(l->sp.end - last), t + last, SRC(c, r->sp));
}

static void walk_exprs(lctx *c, const ast_expr *e) {
    for (; e; e = e->next) {
        if (e->kind == EX_MATCH && e->regex) lint_regex(c, e);
        if (e->kind == EX_BINARY && e->op == OP_SUB) lint_hyphen(c, e);
        walk_exprs(c, e->a);
        walk_exprs(c, e->b);
        walk_exprs(c, e->args); /* e->next: the next argument of a list */
    }
}

/* ---- structure ---------------------------------------------------------------- */

static int loops(const ast_step *s) {
    return s->quant.max == -1 || s->quant.max > 1;
}

static int has_mod(const ast_step *s, mod_kind k) {
    for (const ast_mod *m = s->mods; m; m = m->next)
        if (m->kind == k) return 1;
    return 0;
}

static const ast_mod *find_mod(const ast_step *s, mod_kind k) {
    for (const ast_mod *m = s->mods; m; m = m->next)
        if (m->kind == k) return m;
    return NULL;
}

typedef struct pstate {
    const ast_pattern *p;
    int unbounded_done, comb_done;
    int in_group;
} pstate;

/* `followedBy b where b.amount > 5`: in its own condition a step's
 * reference reads the events it took before the one under test; a step
 * that takes one event has none, so the reference is null and a
 * comparison with it never holds. (Not in a group: a repeated group's
 * step has the events of its earlier rounds.) */
/* The reference to step `name` that makes e null: e itself, or one in
 * the arithmetic e is made of (null goes through + - * / %). */
static const ast_expr *self_null(const ast_expr *e, const char *name) {
    if (e->kind == EX_STEPREF) return strcmp(e->step, name) == 0 ? e : NULL;
    if (e->kind == EX_UNARY && e->op == OP_NEG) return self_null(e->a, name);
    if (e->kind != EX_BINARY || e->op < OP_ADD || e->op > OP_MOD) return NULL;
    const ast_expr *r = self_null(e->a, name);
    return r ? r : self_null(e->b, name);
}

static void lint_self_ref(lctx *c, const ast_step *s) {
    conj k = {.n = 0};
    if (!s->where || loops(s)) return;
    flatten_and(s->where, &k);
    for (int i = 0; i < k.n; i++) {
        const ast_expr *e = k.v[i], *r = NULL;
        if (e->kind == EX_CALL && strcmp(e->name, "exists") == 0 && e->nargs == 1 && e->args->kind == EX_STEPREF &&
            strcmp(e->args->step, s->name) == 0)
            r = e->args; /* exists(b.x): false */
        else if (e->kind == EX_BINARY && e->op >= OP_EQ && e->op <= OP_GE && e->a->kind != EX_NULL &&
                 e->b->kind != EX_NULL && !(r = self_null(e->a, s->name)))
            r = self_null(e->b, s->name);
        if (!r) continue;
        WARN(c, CEP_DIAG_W_NEVER_TRUE, r->sp.start,
             "the condition of step '%s' can never hold: '%.*s' reads the events step %s took before this "
             "one, and it takes one event; this event's field is '%s'",
             s->name, SRC(c, r->sp), s->name, r->name);
        return;
    }
}

static const char *conn_word(conn_kind k) {
    return k == CONN_FOLLOWED_BY_ANY ? "followedByAny" : "followedBy";
}

static void lint_seq(lctx *c, pstate *ps, const ast_step *first) {
    const ast_pattern *p = ps->p;
    const ast_step *prev = NULL;
    for (const ast_step *s = first; s; prev = s, s = s->next) {
        int relaxed_conn = (s->conn == CONN_FOLLOWED_BY || s->conn == CONN_FOLLOWED_BY_ANY) && !s->has_gap;
        if (!p->has_within && !ps->unbounded_done) {
            if (relaxed_conn) {
                ps->unbounded_done = 1;
                WARN(c, CEP_DIAG_W_UNBOUNDED, s->conn_sp.start,
                     "%s without within: a partial match of pattern '%s' waits for its next event "
                     "forever; add `within` (or run with --state-ttl)",
                     conn_word(s->conn), p->name);
            } else if (loops(s) && !has_mod(s, MOD_CONSECUTIVE) && !s->is_group) {
                ps->unbounded_done = 1;
                WARN(c, CEP_DIAG_W_UNBOUNDED, s->quant.sp.start,
                     "step '%s' repeats with relaxed contiguity and pattern '%s' has no within: its "
                     "partial matches wait forever; add `within`, `consecutive` (or run with --state-ttl)",
                     s->name, p->name);
            }
        }
        if (!p->has_within && !ps->comb_done) {
            const ast_mod *m = s->is_group || s->conn == CONN_FOLLOWED_BY_ANY
                                   ? NULL
                                   : find_mod(s, MOD_ALLOW_COMBINATIONS);
            if (s->conn == CONN_FOLLOWED_BY_ANY || m) {
                ps->comb_done = 1;
                WARN(c, CEP_DIAG_W_COMBINATIONS, m ? m->sp.start : s->conn_sp.start,
                     "%s without within: partial matches multiply with every event that matches, "
                     "without end; add `within` (or run with --max-partial-matches)",
                     m ? "allowCombinations" : "followedByAny");
            }
        }
        if (s->is_group) {
            ps->in_group++;
            lint_seq(c, ps, s->body);
            ps->in_group--;
            continue;
        }
        if (!lint_never(c, s) && !ps->in_group) lint_self_ref(c, s);
        walk_exprs(c, s->where);
        for (const ast_mod *m = s->mods; m; m = m->next) walk_exprs(c, m->cond);
        if (s->conn == CONN_FOLLOWED_BY_ANY && prev && !prev->is_group &&
            prev->conn != CONN_NOT_NEXT && prev->conn != CONN_NOT_FOLLOWED_BY &&
            expr_eq(s->where, prev->where))
            WARN(c, CEP_DIAG_W_SAME_CONDITION, s->name_sp.start,
                 "step '%s' has the same condition as step '%s' before it: under followedByAny "
                 "every pair of such events is a match (n events, n(n-1)/2 matches); "
                 "did you mean '%s{2}'?",
                 s->name, prev->name, prev->name);
    }
}

static const ast_step *find_step(const ast_step *s, const char *name) {
    for (; s; s = s->next) {
        if (s->is_group) {
            const ast_step *t = find_step(s->body, name);
            if (t) return t;
        } else if (strcmp(s->name, name) == 0) {
            return s;
        }
    }
    return NULL;
}

int lint_patterns(const ast_pattern *pats, const char *text, size_t len, cep_diag *w,
                  lint_regex_fn rx) {
    lctx c = {text, len, w, rx, 512, 0};
    for (const ast_pattern *p = pats; p; p = p->next) {
        pstate ps = {p, 0, 0, 0};
        if (!p->keys)
            WARN(&c, CEP_DIAG_W_KEYLESS, p->name_sp.start,
                 "pattern '%s' has no key: all events are one stream and are matched with each "
                 "other; add `key FIELD` to match per user, account, device...",
                 p->name);
        lint_seq(&c, &ps, p->steps);
        for (const ast_emit *e = p->emits; e; e = e->next) walk_exprs(&c, e->value);
        if (p->has_skip && p->skip_step && (p->skip == SKIP_TO_FIRST || p->skip == SKIP_TO_LAST)) {
            const ast_step *t = find_step(p->steps, p->skip_step);
            why wy;
            if (t && t->where && never_holds(t->where, &wy))
                WARN(&c, CEP_DIAG_W_SKIP_TARGET, p->skip_step_sp.start,
                     "skip target '%s' can never take an event (its condition can never hold): the "
                     "strategy never applies",
                     p->skip_step);
        }
    }
    return c.oom ? -1 : 0;
}
