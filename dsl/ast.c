/* ast.c — constructors, destructors and a test dump of the syntax tree.
 * The parser (parser.y) builds these nodes, the checker (nfa/check.c)
 * annotates them, and the compiler (nfa/compile.c) reads them; nothing here fails
 * except on out-of-memory. */
#include "config.h"
#include "ast.h"
#include "mem.h"
#include "strbuf.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- constructors ------------------------------------------------------ */

ast_expr *ast_expr_new(expr_kind kind, span sp) {
    ast_expr *e = mem_calloc(1, sizeof *e);
    if (!e) return NULL;
    e->kind = kind;
    e->sp = sp;
    e->height = 1;
    /* -1: "not resolved yet"; the checker fills these in. */
    e->slot = -1;
    e->step_index = -1;
    e->fn_index = -1;
    return e;
}

ast_step *ast_step_new(span sp) {
    ast_step *s = mem_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->sp = sp;
    s->conn = CONN_BEGIN;
    s->quant.kind = Q_ONE;
    s->quant.min = 1;
    s->quant.max = 1;
    s->index = -1;
    return s;
}

ast_mod *ast_mod_new(mod_kind kind, span sp) {
    ast_mod *m = mem_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->kind = kind;
    m->sp = sp;
    return m;
}

ast_name *ast_name_new(char *name, span sp) {
    ast_name *n = mem_calloc(1, sizeof *n);
    if (!n) {
        mem_free(name);
        return NULL;
    }
    n->name = name;
    n->sp = sp;
    return n;
}

ast_emit *ast_emit_new(char *name, span name_sp, ast_expr *value) {
    ast_emit *e = mem_calloc(1, sizeof *e);
    if (!e) {
        /* The node takes its arguments, so it frees them when it cannot. */
        mem_free(name);
        ast_expr_free(value);
        return NULL;
    }
    e->name = name;
    e->name_sp = name_sp;
    e->value = value;
    return e;
}

ast_pattern *ast_pattern_new(void) {
    ast_pattern *p = mem_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->skip = SKIP_NO_SKIP;
    return p;
}

/* ---- destructors --------------------------------------------------------
 * Siblings are walked in a loop, children recursively: argument and step
 * lists can be long, nesting depth is bounded by the parser. */

void ast_expr_free(ast_expr *e) {
    while (e) {
        ast_expr *next = e->next;
        mem_free(e->str);
        mem_free(e->name);
        mem_free(e->step);
        mem_free(e->head);
        mem_free(e->regex);
        mem_free(e->flags);
        ast_expr_free(e->a);
        ast_expr_free(e->b);
        ast_expr_free(e->args);
        mem_free(e);
        e = next;
    }
}

void ast_mod_free(ast_mod *m) {
    while (m) {
        ast_mod *next = m->next;
        ast_expr_free(m->cond);
        mem_free(m);
        m = next;
    }
}

void ast_step_free(ast_step *s) {
    while (s) {
        ast_step *next = s->next;
        mem_free(s->name);
        ast_expr_free(s->where);
        ast_mod_free(s->mods);
        ast_step_free(s->body);
        mem_free(s);
        s = next;
    }
}

void ast_name_free(ast_name *n) {
    while (n) {
        ast_name *next = n->next;
        mem_free(n->name);
        mem_free(n);
        n = next;
    }
}

void ast_emit_free(ast_emit *e) {
    while (e) {
        ast_emit *next = e->next;
        mem_free(e->name);
        ast_expr_free(e->value);
        mem_free(e);
        e = next;
    }
}

void ast_pattern_free(ast_pattern *p) {
    while (p) {
        ast_pattern *next = p->next;
        mem_free(p->name);
        ast_name_free(p->keys);
        ast_step_free(p->steps);
        mem_free(p->skip_step);
        ast_emit_free(p->emits);
        mem_free(p);
        p = next;
    }
}

/* ---- dump ---------------------------------------------------------------
 * A compact S-expression, e.g.
 *   (pattern p (key user) (begin a (where (> x 1))) (followedBy b + greedy)
 *    (within 600000) (skip pastLastEvent) (emit (n (count b))))
 * on one line per pattern. */

static void dump_string(strbuf *b, const char *s, size_t n) {
    sb_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': sb_puts(b, "\\\""); break;
        case '\\': sb_puts(b, "\\\\"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\t': sb_puts(b, "\\t"); break;
        case '\r': sb_puts(b, "\\r"); break;
        default:
            if (c < 0x20 || c == 0x7f)
                sb_printf(b, "\\x%02x", c);
            else
                sb_put(b, (const char *)&s[i], 1);
        }
    }
    sb_puts(b, "\"");
}

/* Shortest text that reads back as the same double, always with a '.' or
 * an exponent so it cannot be mistaken for an integer. */
static void dump_double(strbuf *b, double d) {
    char tmp[48];
    if (isnan(d)) {
        sb_puts(b, "nan");
        return;
    }
    if (isinf(d)) {
        sb_puts(b, d < 0 ? "-inf" : "inf");
        return;
    }
    if (d == floor(d) && fabs(d) < 1e15) {
        snprintf(tmp, sizeof tmp, "%.1f", d); /* 1500.0 rather than 1.5e+03 */
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, d);
            if (strtod(tmp, NULL) == d) break;
        }
    }
    for (char *c = tmp; *c; c++)
        if (*c == ',') *c = '.'; /* a host locale with a decimal comma */
    sb_puts(b, tmp);
    if (!strpbrk(tmp, ".e")) sb_puts(b, ".0");
}

/* An operator as the pattern language spells it. */
const char *expr_op_text(expr_op op) {
    switch (op) {
    case OP_OR: return "or";
    case OP_AND: return "and";
    case OP_NOT: return "not";
    case OP_EQ: return "==";
    case OP_NE: return "!=";
    case OP_LT: return "<";
    case OP_LE: return "<=";
    case OP_GT: return ">";
    case OP_GE: return ">=";
    case OP_ADD: return "+";
    case OP_SUB: return "-";
    case OP_MUL: return "*";
    case OP_DIV: return "/";
    case OP_MOD: return "%";
    case OP_NEG: return "-";
    case OP_MATCH: return "=~";
    case OP_NOMATCH: return "!~";
    case AGG_COUNT: return "count";
    case AGG_SUM: return "sum";
    case AGG_AVG: return "avg";
    case AGG_MIN: return "min";
    case AGG_MAX: return "max";
    case OP_NONE: break;
    }
    return "?";
}

expr_op ast_aggregate(const char *name) {
    static const expr_op aggs[] = {AGG_COUNT, AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX};
    for (size_t i = 0; i < sizeof aggs / sizeof *aggs; i++)
        if (strcmp(name, expr_op_text(aggs[i])) == 0) return aggs[i];
    return OP_NONE;
}

static void dump_expr(strbuf *b, const ast_expr *e);

static void dump_args(strbuf *b, const ast_expr *a) {
    for (; a; a = a->next) {
        sb_puts(b, " ");
        dump_expr(b, a);
    }
}

static void dump_stepref(strbuf *b, const ast_expr *e) {
    sb_puts(b, e->step ? e->step : "?");
    if (e->has_index) sb_printf(b, "[%" PRId64 "]", e->index);
    if (e->name) {
        sb_puts(b, ".");
        sb_puts(b, e->name);
    }
}

static void dump_expr(strbuf *b, const ast_expr *e) {
    if (!e) {
        sb_puts(b, "<null>");
        return;
    }
    switch (e->kind) {
    case EX_NULL: sb_puts(b, "null"); break;
    case EX_BOOL: sb_puts(b, e->ival ? "true" : "false"); break;
    case EX_INT: sb_printf(b, "%" PRId64, e->ival); break;
    case EX_DOUBLE: dump_double(b, e->dval); break;
    case EX_STRING: dump_string(b, e->str, e->slen); break;
    case EX_FIELD: sb_puts(b, e->name ? e->name : "?"); break;
    case EX_STEPREF: dump_stepref(b, e); break;
    case EX_AGG:
        sb_printf(b, "(%s ", expr_op_text(e->op));
        dump_stepref(b, e);
        sb_puts(b, ")");
        break;
    case EX_CALL:
        sb_puts(b, "(call ");
        sb_puts(b, e->name ? e->name : "?");
        dump_args(b, e->args);
        sb_puts(b, ")");
        break;
    case EX_UNARY:
        /* "neg", so that a dump tells negation from subtraction */
        sb_printf(b, "(%s ", e->op == OP_NEG ? "neg" : expr_op_text(e->op));
        dump_expr(b, e->a);
        sb_puts(b, ")");
        break;
    case EX_BINARY:
        sb_printf(b, "(%s ", expr_op_text(e->op));
        dump_expr(b, e->a);
        sb_puts(b, " ");
        dump_expr(b, e->b);
        sb_puts(b, ")");
        break;
    case EX_MATCH:
        sb_printf(b, "(%s ", expr_op_text(e->op));
        dump_expr(b, e->a);
        sb_puts(b, " /");
        sb_puts(b, e->regex ? e->regex : "");
        sb_puts(b, "/");
        sb_puts(b, e->flags ? e->flags : "");
        sb_puts(b, ")");
        break;
    case EX_IN:
        sb_puts(b, "(in ");
        dump_expr(b, e->a);
        dump_args(b, e->args);
        sb_puts(b, ")");
        break;
    }
}

static const char *conn_text(conn_kind c) {
    switch (c) {
    case CONN_BEGIN: return "begin";
    case CONN_NEXT: return "next";
    case CONN_FOLLOWED_BY: return "followedBy";
    case CONN_FOLLOWED_BY_ANY: return "followedByAny";
    case CONN_NOT_NEXT: return "notNext";
    case CONN_NOT_FOLLOWED_BY: return "notFollowedBy";
    }
    return "?";
}

static void dump_quant(strbuf *b, const ast_quant *q) {
    if (q->optional) sb_puts(b, " optional"); /* {n}?: a different NFA */
    switch (q->kind) {
    case Q_ONE: return;
    case Q_OPTIONAL: sb_puts(b, " ?"); return;
    case Q_PLUS: sb_puts(b, " +"); return;
    case Q_STAR: sb_puts(b, " *"); return;
    case Q_TIMES: sb_printf(b, " {%" PRId64 "}", q->min); return;
    case Q_AT_LEAST: sb_printf(b, " {%" PRId64 ",}", q->min); return;
    case Q_RANGE:
        sb_printf(b, " {%" PRId64 ",%" PRId64 "}", q->min, q->max);
        return;
    }
}

static void dump_steps(strbuf *b, const ast_step *s) {
    for (; s; s = s->next) {
        sb_printf(b, " (%s ", conn_text(s->conn));
        if (s->is_group) {
            sb_puts(b, "(group");
            dump_steps(b, s->body);
            sb_puts(b, ")");
        } else {
            sb_puts(b, s->name ? s->name : "?");
        }
        dump_quant(b, &s->quant);
        if (s->where) {
            sb_puts(b, " (where ");
            dump_expr(b, s->where);
            sb_puts(b, ")");
        }
        for (const ast_mod *m = s->mods; m; m = m->next) {
            switch (m->kind) {
            case MOD_GREEDY: sb_puts(b, " greedy"); break;
            case MOD_CONSECUTIVE: sb_puts(b, " consecutive"); break;
            case MOD_ALLOW_COMBINATIONS: sb_puts(b, " allowCombinations"); break;
            case MOD_UNTIL:
                sb_puts(b, " (until ");
                dump_expr(b, m->cond);
                sb_puts(b, ")");
                break;
            }
        }
        sb_puts(b, ")");
    }
}

static const char *skip_text(skip_kind k) {
    switch (k) {
    case SKIP_NO_SKIP: return "noSkip";
    case SKIP_TO_NEXT: return "toNext";
    case SKIP_PAST_LAST_EVENT: return "pastLastEvent";
    case SKIP_TO_FIRST: return "toFirst";
    case SKIP_TO_LAST: return "toLast";
    }
    return "?";
}

char *ast_dump(const ast_pattern *p) {
    strbuf b = {0};
    sb_puts(&b, ""); /* an empty list dumps as "" rather than NULL */
    for (; p; p = p->next) {
        sb_puts(&b, "(pattern ");
        sb_puts(&b, p->name ? p->name : "?");
        if (p->keys) {
            sb_puts(&b, " (key");
            for (const ast_name *n = p->keys; n; n = n->next) {
                sb_puts(&b, " ");
                sb_puts(&b, n->name);
            }
            sb_puts(&b, ")");
        }
        dump_steps(&b, p->steps);
        if (p->has_within) sb_printf(&b, " (within %" PRId64 ")", p->within_ms);
        if (p->has_skip) {
            sb_printf(&b, " (skip %s", skip_text(p->skip));
            if (p->skip_step) {
                sb_puts(&b, " ");
                sb_puts(&b, p->skip_step);
            }
            sb_puts(&b, ")");
        }
        if (p->emits) {
            sb_puts(&b, " (emit");
            for (const ast_emit *e = p->emits; e; e = e->next) {
                sb_puts(&b, " (");
                sb_puts(&b, e->name);
                sb_puts(&b, " ");
                dump_expr(&b, e->value);
                sb_puts(&b, ")");
            }
            sb_puts(&b, ")");
        }
        sb_puts(&b, ")");
        if (p->next) sb_puts(&b, "\n");
    }
    if (b.oom) {
        mem_free(b.p);
        return NULL;
    }
    return b.p;
}
