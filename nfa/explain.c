/* explain.c — a compiled program made readable: each pattern's NFA states
 * and edges with their conditions as text, or as Graphviz DOT. Behind
 * `cepheus explain` and cep_program_explain. */
#include "config.h"
#include "expr.h"
#include "mem.h"
#include "nfa.h"
#include "route.h"
#include "strbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Strings are written with JSON-style escapes; `dot` doubles them again
 * for a DOT label. */
static void put_string(strbuf *b, const char *s, size_t n, int dot) {
    sb_put(b, dot ? "\\\"" : "\"", dot ? 2 : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            sb_put(b, dot ? "\\\\\\" : "\\", dot ? 3 : 1);
            sb_put(b, (char *)&c, 1);
        } else if (c < 0x20) sb_printf(b, dot ? "\\\\u%04x" : "\\u%04x", c);
        else sb_put(b, (char *)&c, 1);
    }
    sb_put(b, dot ? "\\\"" : "\"", dot ? 2 : 1);
}

/* A field as the language writes it: a part that is not a plain name in
 * backquotes (`risk-score`, meta.`event-type`), so the output reads back. */
static const char *fname(const cep_program *p, int slot, char *buf, size_t cap) {
    if (!p->field_parts) return p->fields[slot];
    size_t o = 0;
    const char *part = p->field_parts[slot];
    for (uint32_t i = 0; i < p->field_nparts[slot]; i++) {
        size_t n = strlen(part);
        int plain = n > 0 && !(part[0] >= '0' && part[0] <= '9');
        for (size_t k = 0; k < n && plain; k++) {
            char c = part[k];
            plain = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        }
        int w = snprintf(buf + o, cap - o, plain ? "%s%s" : "%s`%s`", i ? "." : "", part);
        if (w < 0 || (size_t)w >= cap - o) return p->fields[slot]; /* too long: the plain text */
        o += (size_t)w;
        part += n + 1;
    }
    return buf;
}

/* An operator (or aggregate) as the pattern language spells it. */
static const char *op_text(int op) {
    static const char *const text[] = {
        [NFA_OP_OR] = "or", [NFA_OP_AND] = "and", [NFA_OP_NOT] = "not",
        [NFA_OP_EQ] = "==", [NFA_OP_NE] = "!=", [NFA_OP_LT] = "<", [NFA_OP_LE] = "<=",
        [NFA_OP_GT] = ">", [NFA_OP_GE] = ">=", [NFA_OP_ADD] = "+", [NFA_OP_SUB] = "-",
        [NFA_OP_MUL] = "*", [NFA_OP_DIV] = "/", [NFA_OP_MOD] = "%", [NFA_OP_NEG] = "-",
        [NFA_OP_MATCH] = "=~", [NFA_OP_NOMATCH] = "!~", [NFA_AGG_COUNT] = "count",
        [NFA_AGG_SUM] = "sum", [NFA_AGG_AVG] = "avg", [NFA_AGG_MIN] = "min", [NFA_AGG_MAX] = "max",
    };
    return op > NFA_OP_NONE && op <= NFA_AGG_MAX ? text[op] : "?";
}

static void put_expr(strbuf *b, const cep_program *p, const nfa_pattern *pat, const expr *e, int dot) {
    char fb[256], fb2[256];
    switch ((xkind)e->kind) {
    case XK_CONST:
        switch (e->k.type) {
        case CEP_NULL: sb_put(b, "null", 4); break;
        case CEP_BOOL: sb_printf(b, "%s", e->k.u.b ? "true" : "false"); break;
        case CEP_INT: sb_printf(b, "%" PRId64, e->k.u.i); break;
        case CEP_DOUBLE: sb_printf(b, "%.17g", e->k.u.d); break;
        case CEP_STRING: put_string(b, e->k.u.s.ptr, e->k.u.s.len, dot); break;
        }
        return;
    case XK_SLOT: sb_printf(b, "%s", fname(p, e->slot, fb, sizeof fb)); return;
    case XK_REF:
        sb_printf(b, "%s", pat->steps[e->step].name);
        if (e->has_index) sb_printf(b, "[%" PRId64 "]", e->index);
        sb_printf(b, ".%s", fname(p, e->slot, fb, sizeof fb));
        return;
    case XK_AGG:
        if (e->op == NFA_AGG_COUNT) sb_printf(b, "count(%s)", pat->steps[e->step].name);
        else sb_printf(b, "%s(%s.%s)", op_text(e->op), pat->steps[e->step].name, fname(p, e->slot, fb, sizeof fb));
        return;
    case XK_CALL:
    case XK_UCALL:
        sb_printf(b, "%s(", e->kind == XK_CALL ? builtin_name(e->fn) : p->fns[e->fn].name);
        for (uint32_t i = 0; i < e->nargs; i++) {
            if (i) sb_put(b, ", ", 2);
            put_expr(b, p, pat, e->args[i], dot);
        }
        sb_put(b, ")", 1);
        return;
    case XK_UNARY:
        sb_printf(b, e->op == NFA_OP_NOT ? "not (" : "-(");
        put_expr(b, p, pat, e->a, dot);
        sb_put(b, ")", 1);
        return;
    case XK_BINARY:
        sb_put(b, "(", 1);
        put_expr(b, p, pat, e->a, dot);
        sb_printf(b, " %s ", op_text(e->op));
        put_expr(b, p, pat, e->b, dot);
        sb_put(b, ")", 1);
        return;
    case XK_MATCH:
        put_expr(b, p, pat, e->a, dot);
        sb_printf(b, " %s /regex/", op_text(e->op));
        return;
    case XK_IN:
        put_expr(b, p, pat, e->a, dot);
        sb_put(b, " in (", 5);
        for (uint32_t i = 0; i < e->nargs; i++) {
            if (i) sb_put(b, ", ", 2);
            put_expr(b, p, pat, e->args[i], dot);
        }
        sb_put(b, ")", 1);
        return;
    case XK_SLOT_CMP:
        sb_printf(b, "(%s %s ", fname(p, e->slot, fb, sizeof fb), op_text(e->op));
        {
            expr k = {.kind = XK_CONST, .k = e->k};
            put_expr(b, p, pat, &k, dot);
        }
        sb_puts(b, ")");
        return;
    case XK_REF_CMP: {
        const char *f = fname(p, e->slot, fb, sizeof fb), *step = pat->steps[e->step].name,
                   *rf = fname(p, e->slot2, fb2, sizeof fb2);
        if (e->swapped) sb_printf(b, "(%s.%s %s %s)", step, rf, op_text(e->op), f);
        else sb_printf(b, "(%s %s %s.%s)", f, op_text(e->op), step, rf);
        return;
    }
    case XK_ISNULL:
        put_expr(b, p, pat, e->a, dot);
        sb_printf(b, " %s null", e->op == NFA_OP_EQ ? "==" : "!=");
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

static void put_cond(strbuf *b, const cep_program *p, const nfa_pattern *pat, const nfa_edge *e, int dot) {
    if (!e->cond) return;
    sb_put(b, " if ", 4);
    if (e->negate) sb_put(b, "not ", 4);
    put_expr(b, p, pat, e->cond, dot);
}

/* A window or gap: its milliseconds, and the language's form in the
 * largest whole unit when that reads better (`5400000ms (90m)`). */
static void put_ms(strbuf *b, int64_t ms) {
    static const struct { int64_t ms; const char *u; } units[] = {
        {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    sb_printf(b, "%" PRId64 "ms", ms);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms >= units[i].ms && ms % units[i].ms == 0) {
            sb_printf(b, " (%" PRId64 "%s)", ms / units[i].ms, units[i].u);
            return;
        }
}

static void explain_text(strbuf *b, const cep_program *p, const nfa_pattern *pat) {
    sb_printf(b, "pattern %s: %u states, start %u", pat->name, pat->nstates, pat->start);
    if (pat->has_within) {
        sb_puts(b, ", within ");
        put_ms(b, pat->within_ms);
    }
    sb_put(b, "\n", 1);
    if (pat->compact)
        sb_printf(b, "  partial matches: compact (a list of events per step, combinations made on output)\n");
    for (uint32_t s = 0; s < pat->nstates; s++) {
        const nfa_state *st = &pat->states[s];
        sb_printf(b, "  %u %s", s, kind_name(st->kind));
        if (st->kind != ST_FINAL) sb_printf(b, " '%s'", pat->steps[st->step].name);
        if (st->gap_ms > 0) {
            sb_puts(b, " gap ");
            put_ms(b, st->gap_ms);
        }
        if (s == pat->start) sb_put(b, " (start)", 8);
        sb_put(b, "\n", 1);
        for (uint32_t i = 0; i < st->nedges; i++) {
            const nfa_edge *e = &pat->edges[st->first_edge + i];
            sb_printf(b, "    %s -> %u", edge_name(e->kind), e->target);
            put_cond(b, p, pat, e, 0);
            sb_put(b, "\n", 1);
        }
    }
}

static void explain_dot(strbuf *b, const cep_program *p, const nfa_pattern *pat, uint32_t pi) {
    sb_printf(b, "  subgraph cluster_%u {\n    label=\"%s\";\n", pi, pat->name);
    for (uint32_t s = 0; s < pat->nstates; s++) {
        const nfa_state *st = &pat->states[s];
        const char *shape = st->kind == ST_FINAL ? "doublecircle" : st->kind == ST_STOP ? "octagon"
                                                                  : "circle";
        sb_printf(b, "    p%u_%u [shape=%s,label=\"%s%s\"%s];\n", pi, s, shape,
             st->kind == ST_FINAL ? "final" : pat->steps[st->step].name,
             st->kind == ST_STOP ? " (stop)" : st->kind == ST_PENDING ? " (pending)" : "",
             s == pat->start ? ",style=bold" : "");
        for (uint32_t i = 0; i < st->nedges; i++) {
            const nfa_edge *e = &pat->edges[st->first_edge + i];
            sb_printf(b, "    p%u_%u -> p%u_%u [label=\"%s", pi, s, pi, e->target, edge_name(e->kind));
            put_cond(b, p, pat, e, 1);
            sb_printf(b, "\"%s];\n", e->kind == EDGE_PROCEED ? ",style=dashed" : "");
        }
    }
    sb_printf(b, "  }\n");
}

/* What a field's values decide of their patterns' gates beyond letting
 * the event in: how many conjuncts are sorted thresholds, and how many
 * gates the index opens or closes unread. */
static void explain_thresholds(strbuf *b, const nfa_route *r, const route_field *f) {
    uint64_t nthr = 0, nsure = 0;
    for (uint32_t s = 0; s <= f->mask; s++) {
        const route_ent *e = &f->ents[s];
        if (e->k.type == CEP_NULL) continue;
        for (uint32_t g = 0; g < e->tg_n; g++) nthr += r->tg[e->tg_first + g].n;
        for (uint32_t i = 0; i < e->n; i++) nsure += (uint64_t)__builtin_popcountll(r->sure[e->first + i]);
    }
    if (!nthr && !nsure) return;
    sb_printf(b, "    %" PRIu64 " threshold%s sorted under the values; %" PRIu64 " gate%s decided by the index alone\n",
              nthr, nthr == 1 ? "" : "s", nsure, nsure == 1 ? "" : "s");
}

/* Names or values listed before "and N more": readable at 1,000 rules. */
#define EXPLAIN_SHOWN 8

/* Whether a value's entry is listed before b's: more patterns first (the
 * values an event costs most at), then by value (ints before strings),
 * not in the hash table's order. */
static int ent_before(const route_ent *a, const route_ent *b) {
    if (a->n != b->n) return a->n > b->n;
    if (a->k.type != b->k.type) return a->k.type == CEP_INT;
    if (a->k.type == CEP_INT) return a->k.u.i < b->k.u.i;
    size_t la = a->k.u.s.len, lb = b->k.u.s.len;
    int c = memcmp(a->k.u.s.ptr, b->k.u.s.ptr, la < lb ? la : lb);
    return c ? c < 0 : la < lb;
}

/* The first values of a field in ent_before's order (each found by a
 * scan of the table: a few scans, no allocation), with their pattern
 * counts and sorted thresholds. */
static void explain_values(strbuf *b, const cep_program *p, const nfa_route *r, const route_field *f) {
    const route_ent *prev = NULL;
    uint32_t shown = 0;
    for (; shown < EXPLAIN_SHOWN && shown < f->nkeys; shown++) {
        const route_ent *e = NULL;
        for (uint32_t s = 0; s <= f->mask; s++) {
            const route_ent *c = &f->ents[s];
            if (c->k.type == CEP_NULL || (prev && !ent_before(prev, c))) continue;
            if (!e || ent_before(c, e)) e = c;
        }
        sb_put(b, "    ", 4);
        if (e->k.type == CEP_INT) sb_printf(b, "%" PRId64, e->k.u.i);
        else put_string(b, e->k.u.s.ptr, e->k.u.s.len, 0);
        sb_printf(b, ": %" PRIu32 " pattern%s", e->n, e->n == 1 ? "" : "s");
        for (uint32_t g = 0; g < e->tg_n;) { /* its sorted thresholds, per (field, op) */
            const route_tgroup *t = &r->tg[e->tg_first + g];
            uint32_t n = 0, g0 = g;
            for (; g < e->tg_n && t[g - g0].slot == t->slot && t[g - g0].op == t->op; g++) n += t[g - g0].n;
            sb_printf(b, "%s%s %s (%" PRIu32 ")", g0 ? ", " : "; thresholds: ", p->fields[t->slot],
                      op_text(t->op), n);
        }
        sb_put(b, "\n", 1);
        prev = e;
    }
    if (f->nkeys > shown) sb_printf(b, "    ... and %" PRIu32 " more values\n", f->nkeys - shown);
}

/* The routing index (route.c): which field lets an event into which
 * patterns, and how many patterns stand behind a value. */
static void explain_route(strbuf *b, const cep_program *p) {
    const nfa_route *r = p->route;
    if (!r) {
        sb_printf(b, "routing: none (every event goes through every pattern)\n");
        return;
    }
    sb_printf(b, "routing: %" PRIu32 " of %" PRIu32 " patterns by a field's value; %" PRIu32 " see every event",
              p->npatterns - r->nalways, p->npatterns, r->nalways);
    /* Which: in a rule set of thousands, the few that cost every event. */
    for (uint32_t i = 0; i < r->nalways && i < EXPLAIN_SHOWN; i++)
        sb_printf(b, "%s%s", i ? ", " : ": ", p->patterns[r->always[i]].name);
    if (r->nalways > EXPLAIN_SHOWN) sb_printf(b, " and %" PRIu32 " more", r->nalways - EXPLAIN_SHOWN);
    sb_put(b, "\n", 1);
    if (r->nkeyed_start)
        sb_printf(b, "  %" PRIu32 " of them by their start's gate alone (also reached when the event's key has state there)\n",
                  r->nkeyed_start);
    if (r->nkeyed > r->nkeyed_start)
        sb_printf(b, "  %" PRIu32 " of them also reached when the event's key has a partial match that must see every event"
                     " (`next`, a loop)\n",
                  r->nkeyed - r->nkeyed_start);
    for (uint32_t i = 0; i < r->nfields; i++) {
        const route_field *f = &r->fields[i];
        uint32_t most = 0, least = UINT32_MAX;
        uint64_t sum = 0;
        for (uint32_t s = 0; s <= f->mask; s++) {
            const route_ent *e = &f->ents[s];
            if (e->k.type == CEP_NULL) continue;
            sum += e->n;
            if (e->n > most) most = e->n;
            if (e->n < least) least = e->n;
        }
        if (!f->nkeys) { /* gates naming only non-integral numbers (route.c) */
            sb_printf(b, "  %s: %" PRIu32 " patterns, no value indexed (reached only when the field is a "
                         "non-integral number)\n",
                      p->fields[f->slot], f->all_n);
            explain_thresholds(b, r, f);
            continue;
        }
        sb_printf(b, "  %s: %" PRIu32 " patterns, %" PRIu32 " values, %" PRIu32 " to %" PRIu32
                     " patterns behind a value (%.1f on average)\n",
                  p->fields[f->slot], f->all_n, f->nkeys, least, most, (double)sum / f->nkeys);
        explain_thresholds(b, r, f);
        explain_values(b, p, r, f);
    }
}

CEP_API int cep_program_explain(const cep_program *p, int dot, char **out) {
    if (!p || !out) return CEP_EINVAL;
    *out = NULL;
    strbuf b = {0};
    if (dot) sb_printf(&b, "digraph cepheus {\n  rankdir=TB;\n  nodesep=1.0;\n");
    for (uint32_t i = 0; i < p->npatterns; i++) {
        if (dot) explain_dot(&b, p, &p->patterns[i], i);
        else explain_text(&b, p, &p->patterns[i]);
    }
    if (dot) sb_printf(&b, "}\n");
    else explain_route(&b, p);
    if (b.oom || !b.p) {
        mem_free(b.p);
        return CEP_ENOMEM;
    }
    *out = b.p;
    return CEP_OK;
}

CEP_API void cep_free(void *ptr) { mem_free(ptr); }
