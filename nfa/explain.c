/* explain.c — a compiled program made readable: each pattern's NFA states
 * and edges with their conditions as text, or as Graphviz DOT. Behind
 * `cepheus explain` and cep_program_explain. */
#include "config.h"
#include "expr.h"
#include "mem.h"
#include "nfa.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (mem_grow((void **)&b->p, &b->cap, b->len + n + 1, 1) < 0) {
        b->oom = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void putf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static const char *op_str(int op) {
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
    default: return "max";
    }
}

/* Strings are written with JSON-style escapes; `dot` doubles them again
 * for a DOT label. */
static void put_string(sbuf *b, const char *s, size_t n, int dot) {
    put(b, dot ? "\\\"" : "\"", dot ? 2 : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            put(b, dot ? "\\\\\\" : "\\", dot ? 3 : 1);
            put(b, (char *)&c, 1);
        } else if (c < 0x20) putf(b, dot ? "\\\\u%04x" : "\\u%04x", c);
        else put(b, (char *)&c, 1);
    }
    put(b, dot ? "\\\"" : "\"", dot ? 2 : 1);
}

static void put_expr(sbuf *b, const cep_program *p, const nfa_pattern *pat, const expr *e, int dot) {
    switch ((xkind)e->kind) {
    case XK_CONST:
        switch (e->k.type) {
        case CEP_NULL: put(b, "null", 4); break;
        case CEP_BOOL: putf(b, "%s", e->k.u.b ? "true" : "false"); break;
        case CEP_INT: putf(b, "%" PRId64, e->k.u.i); break;
        case CEP_DOUBLE: putf(b, "%.17g", e->k.u.d); break;
        case CEP_STRING: put_string(b, e->k.u.s.ptr, e->k.u.s.len, dot); break;
        }
        return;
    case XK_SLOT: putf(b, "%s", p->fields[e->slot]); return;
    case XK_REF:
        putf(b, "%s", pat->steps[e->step].name);
        if (e->has_index) putf(b, "[%" PRId64 "]", e->index);
        putf(b, ".%s", p->fields[e->slot]);
        return;
    case XK_AGG:
        if (e->op == AGG_COUNT) putf(b, "count(%s)", pat->steps[e->step].name);
        else putf(b, "%s(%s.%s)", op_str(e->op), pat->steps[e->step].name, p->fields[e->slot]);
        return;
    case XK_CALL:
    case XK_UCALL:
        putf(b, "%s(", e->kind == XK_CALL ? builtin_name(e->fn) : p->fns[e->fn].name);
        for (uint32_t i = 0; i < e->nargs; i++) {
            if (i) put(b, ", ", 2);
            put_expr(b, p, pat, e->args[i], dot);
        }
        put(b, ")", 1);
        return;
    case XK_UNARY:
        putf(b, e->op == OP_NOT ? "not (" : "-(");
        put_expr(b, p, pat, e->a, dot);
        put(b, ")", 1);
        return;
    case XK_BINARY:
        put(b, "(", 1);
        put_expr(b, p, pat, e->a, dot);
        putf(b, " %s ", op_str(e->op));
        put_expr(b, p, pat, e->b, dot);
        put(b, ")", 1);
        return;
    case XK_MATCH:
        put_expr(b, p, pat, e->a, dot);
        putf(b, " %s /regex/", op_str(e->op));
        return;
    case XK_IN:
        put_expr(b, p, pat, e->a, dot);
        put(b, " in (", 5);
        for (uint32_t i = 0; i < e->nargs; i++) {
            if (i) put(b, ", ", 2);
            put_expr(b, p, pat, e->args[i], dot);
        }
        put(b, ")", 1);
        return;
    case XK_ISNULL:
        put_expr(b, p, pat, e->a, dot);
        putf(b, " %s null", e->op == OP_EQ ? "==" : "!=");
        return;
    }
}

static const char *kind_name(state_kind k) {
    switch (k) {
    case ST_FINAL: return "final";
    case ST_STOP: return "stop";
    case ST_PENDING: return "pending";
    default: return "state";
    }
}

static const char *edge_name(edge_kind k) {
    return k == EDGE_TAKE ? "take" : k == EDGE_IGNORE ? "ignore" : "proceed";
}

static void put_cond(sbuf *b, const cep_program *p, const nfa_pattern *pat, const nfa_edge *e, int dot) {
    if (!e->cond) return;
    put(b, " if ", 4);
    if (e->negate) put(b, "not ", 4);
    put_expr(b, p, pat, e->cond, dot);
}

static void explain_text(sbuf *b, const cep_program *p, const nfa_pattern *pat) {
    putf(b, "pattern %s: %u states, start %u", pat->name, pat->nstates, pat->start);
    if (pat->has_within) putf(b, ", within %" PRId64 "ms", pat->within_ms);
    put(b, "\n", 1);
    for (uint32_t s = 0; s < pat->nstates; s++) {
        const nfa_state *st = &pat->states[s];
        putf(b, "  %u %s", s, kind_name(st->kind));
        if (st->kind != ST_FINAL) putf(b, " '%s'", pat->steps[st->step].name);
        if (st->gap_ms > 0) putf(b, " gap %" PRId64 "ms", st->gap_ms);
        if (s == pat->start) put(b, " (start)", 8);
        put(b, "\n", 1);
        for (uint32_t i = 0; i < st->nedges; i++) {
            const nfa_edge *e = &pat->edges[st->first_edge + i];
            putf(b, "    %s -> %u", edge_name(e->kind), e->target);
            put_cond(b, p, pat, e, 0);
            put(b, "\n", 1);
        }
    }
}

static void explain_dot(sbuf *b, const cep_program *p, const nfa_pattern *pat, uint32_t pi) {
    putf(b, "  subgraph cluster_%u {\n    label=\"%s\";\n", pi, pat->name);
    for (uint32_t s = 0; s < pat->nstates; s++) {
        const nfa_state *st = &pat->states[s];
        const char *shape = st->kind == ST_FINAL ? "doublecircle" : st->kind == ST_STOP ? "octagon"
                                                                  : "circle";
        putf(b, "    p%u_%u [shape=%s,label=\"%s%s\"%s];\n", pi, s, shape,
             st->kind == ST_FINAL ? "final" : pat->steps[st->step].name,
             st->kind == ST_STOP ? " (stop)" : st->kind == ST_PENDING ? " (pending)" : "",
             s == pat->start ? ",style=bold" : "");
        for (uint32_t i = 0; i < st->nedges; i++) {
            const nfa_edge *e = &pat->edges[st->first_edge + i];
            putf(b, "    p%u_%u -> p%u_%u [label=\"%s", pi, s, pi, e->target, edge_name(e->kind));
            put_cond(b, p, pat, e, 1);
            putf(b, "\"%s];\n", e->kind == EDGE_PROCEED ? ",style=dashed" : "");
        }
    }
    putf(b, "  }\n");
}

CEP_API int cep_program_explain(const cep_program *p, int dot, char **out) {
    if (!p || !out) return CEP_EINVAL;
    *out = NULL;
    sbuf b = {0};
    if (dot) putf(&b, "digraph cepheus {\n  rankdir=TB;\n  nodesep=1.0;\n");
    for (uint32_t i = 0; i < p->npatterns; i++) {
        if (dot) explain_dot(&b, p, &p->patterns[i], i);
        else explain_text(&b, p, &p->patterns[i]);
    }
    if (dot) putf(&b, "}\n");
    if (b.oom || !b.p) {
        mem_free(b.p);
        return CEP_ENOMEM;
    }
    *out = b.p;
    return CEP_OK;
}

CEP_API void cep_free(void *ptr) { mem_free(ptr); }
