/* pack.c — the compiled nodes a program keeps, in one block: the compiler
 * builds its trees in scratch memory (compile.c), much of it scaffolding;
 * this copies what the patterns reach, children before parents, merging
 * equal subtrees (rule sets repeat `type == "t5"` and `amount > a.amount`
 * across hundreds of rules), so that a rule costs a few dozen bytes of
 * nodes and no allocation of its own (issue 17: an idle rule ≤ 2 KB). */
#include "config.h"
#include "compile.h"
#include "expr.h"
#include "hash.h"
#include "mem.h"
#include "nfa.h"
#include "ptrmap.h"

#include <string.h>

typedef struct packer {
    ptrmap seen;         /* scratch node -> index in uniq of its equal */
    const expr **uniq;   /* the nodes kept, children before parents */
    uint32_t nuniq;
    uint32_t *table;     /* content hash -> uniq index + 1 (0: empty) */
    size_t mask;
    size_t nargs, nbytes; /* argument slots and string bytes to copy */
} packer;

static int has_a(int kind) {
    return kind == XK_UNARY || kind == XK_BINARY || kind == XK_MATCH || kind == XK_IN || kind == XK_ISNULL;
}

static int has_args(int kind) { return kind == XK_IN || kind == XK_CALL || kind == XK_UCALL; }

static int has_value(int kind) { return kind == XK_CONST || kind == XK_SLOT_CMP; }

/* Index of x's kept equal (x already visited). */
static uint32_t id_of(const packer *p, const expr *x) { return ptr_get(&p->seen, x); }

/* The same constant: type and bits (not value_equal: 1 and 1.0, 0.0 and
 * -0.0 stay apart, as the compiler wrote them). */
static int same_value(const cep_value *x, const cep_value *y) {
    if (x->type != y->type) return 0;
    switch (x->type) {
    case CEP_STRING: return x->u.s.len == y->u.s.len && !memcmp(x->u.s.ptr, y->u.s.ptr, x->u.s.len);
    case CEP_DOUBLE: return !memcmp(&x->u.d, &y->u.d, sizeof x->u.d);
    case CEP_INT: return x->u.i == y->u.i;
    case CEP_BOOL: return x->u.b == y->u.b;
    default: return 1;
    }
}

static uint64_t node_hash(const packer *p, const expr *e) {
    struct {
        uint8_t kind, op, swapped, has_index;
        int32_t slot, step, fn, slot2;
        uint32_t nargs, a, b;
        int64_t index;
        uint64_t bits;
    } h;
    memset(&h, 0, sizeof h);
    h.kind = e->kind, h.op = e->op, h.swapped = e->swapped, h.has_index = e->has_index;
    h.slot = e->slot, h.step = e->step, h.fn = e->fn, h.slot2 = e->slot2, h.nargs = e->nargs;
    if (has_a(e->kind)) h.a = id_of(p, e->a);
    if (e->kind == XK_BINARY) h.b = id_of(p, e->b);
    if (e->kind == XK_REF || e->kind == XK_AGG) h.index = e->index;
    if (has_value(e->kind)) {
        h.index = e->k.type;
        if (e->k.type == CEP_INT) h.bits = (uint64_t)e->k.u.i;
        if (e->k.type == CEP_BOOL) h.bits = e->k.u.b != 0;
        if (e->k.type == CEP_DOUBLE) memcpy(&h.bits, &e->k.u.d, sizeof h.bits);
    }
    uint64_t v = hash_bytes(&h, sizeof h, 0);
    if (has_value(e->kind) && e->k.type == CEP_STRING) v = hash_bytes(e->k.u.s.ptr, e->k.u.s.len, v);
    for (uint32_t i = 0; has_args(e->kind) && i < e->nargs; i++) {
        uint32_t id = id_of(p, e->args[i]);
        v = hash_bytes(&id, sizeof id, v);
    }
    if (e->kind == XK_MATCH) v = hash_bytes(&e->re, sizeof e->re, v);
    return v;
}

static int same_node(const packer *p, const expr *x, const expr *y) {
    if (x->kind != y->kind || x->op != y->op || x->swapped != y->swapped || x->has_index != y->has_index ||
        x->slot != y->slot || x->step != y->step || x->fn != y->fn || x->slot2 != y->slot2 || x->nargs != y->nargs)
        return 0;
    if (has_value(x->kind) && !same_value(&x->k, &y->k)) return 0;
    if ((x->kind == XK_REF || x->kind == XK_AGG) && x->index != y->index) return 0;
    if (has_a(x->kind) && id_of(p, x->a) != id_of(p, y->a)) return 0;
    if (x->kind == XK_BINARY && id_of(p, x->b) != id_of(p, y->b)) return 0;
    if (x->kind == XK_MATCH && x->re != y->re) return 0;
    for (uint32_t i = 0; has_args(x->kind) && i < x->nargs; i++)
        if (id_of(p, x->args[i]) != id_of(p, y->args[i])) return 0;
    return 1;
}

/* Visit e and what it reaches: each gets the index of its kept equal.
 * 0, or -1 when out of memory. Recursion is bounded as the evaluator's
 * is (ast.h's AST_MAX_EXPR_HEIGHT, plus the compiler's few wrappers). */
static int visit(packer *p, const expr *e) {
    if (!e || ptr_get(&p->seen, e) != PTRMAP_NONE) return 0;
    if (has_a(e->kind) && visit(p, e->a) < 0) return -1;
    if (e->kind == XK_BINARY && visit(p, e->b) < 0) return -1;
    for (uint32_t i = 0; has_args(e->kind) && i < e->nargs; i++)
        if (visit(p, e->args[i]) < 0) return -1;
    /* A user function may count its calls: its nodes are never merged,
     * so no condition is evaluated fewer times than it was written. */
    int merge = e->kind != XK_UCALL;
    size_t at = (size_t)node_hash(p, e) & p->mask;
    while (merge && p->table[at]) {
        uint32_t u = p->table[at] - 1;
        if (same_node(p, e, p->uniq[u])) return ptr_put(&p->seen, e, u);
        at = (at + 1) & p->mask;
    }
    uint32_t u = p->nuniq++;
    p->uniq[u] = e;
    if (merge) p->table[at] = u + 1;
    if (has_args(e->kind)) p->nargs += e->nargs;
    if (has_value(e->kind) && e->k.type == CEP_STRING) p->nbytes += e->k.u.s.len + 1;
    return ptr_put(&p->seen, e, u);
}

static int visit_pattern(packer *p, const nfa_pattern *np) {
    for (uint32_t i = 0; i < np->nedges; i++)
        if (visit(p, np->edges[i].cond) < 0) return -1;
    for (uint32_t i = 0; i < np->nstates; i++)
        if (visit(p, np->states[i].gate) < 0 || visit(p, np->states[i].rest) < 0) return -1;
    for (uint32_t i = 0; i < np->nemit; i++)
        if (visit(p, np->emit_exprs[i]) < 0) return -1;
    return 0;
}

/* The copies, children first, so every child's copy is in place. */
static void copy_nodes(const packer *p, expr *out) {
    expr **args = (expr **)(out + p->nuniq);
    char *bytes = (char *)(args + p->nargs);
    for (uint32_t u = 0; u < p->nuniq; u++) {
        const expr *e = p->uniq[u];
        expr *n = &out[u];
        *n = *e;
        if (has_a(e->kind)) n->a = &out[id_of(p, e->a)];
        if (e->kind == XK_BINARY) n->b = &out[id_of(p, e->b)];
        if (has_args(e->kind)) {
            n->args = e->nargs ? args : NULL;
            for (uint32_t i = 0; i < e->nargs; i++) *args++ = &out[id_of(p, e->args[i])];
        }
        if (has_value(e->kind) && e->k.type == CEP_STRING) {
            if (e->k.u.s.len) memcpy(bytes, e->k.u.s.ptr, e->k.u.s.len);
            bytes[e->k.u.s.len] = '\0';
            n->k.u.s.ptr = bytes;
            bytes += e->k.u.s.len + 1;
        }
    }
}

static const expr *moved(const packer *p, const expr *out, const expr *e) {
    return e ? &out[id_of(p, e)] : NULL;
}

static void repoint(const packer *p, expr *out, nfa_pattern *np) {
    for (uint32_t i = 0; i < np->nedges; i++) np->edges[i].cond = moved(p, out, np->edges[i].cond);
    for (uint32_t i = 0; i < np->nstates; i++) {
        np->states[i].gate = moved(p, out, np->states[i].gate);
        np->states[i].rest = moved(p, out, np->states[i].rest);
    }
    for (uint32_t i = 0; i < np->nemit; i++) np->emit_exprs[i] = (expr *)moved(p, out, np->emit_exprs[i]);
}

int nfa_pack_exprs(cep_program *prog, size_t nnodes) {
    packer p = {0};
    int rc = CEP_ENOMEM;
    size_t cap = 16;
    while (cap < 2 * nnodes) cap *= 2;
    p.mask = cap - 1;
    p.table = mem_calloc(cap, sizeof *p.table);
    p.uniq = mem_alloc((nnodes ? nnodes : 1) * sizeof *p.uniq);
    if (!p.table || !p.uniq) goto out;
    for (uint32_t i = 0; i < prog->npatterns; i++)
        if (visit_pattern(&p, &prog->patterns[i]) < 0) goto out;
    rc = CEP_OK;
    if (!p.nuniq) goto out;
    expr *block = mem_alloc(p.nuniq * sizeof(expr) + p.nargs * sizeof(expr *) + p.nbytes);
    if (!block) {
        rc = CEP_ENOMEM;
        goto out;
    }
    copy_nodes(&p, block);
    for (uint32_t i = 0; i < prog->npatterns; i++) repoint(&p, block, &prog->patterns[i]);
    prog->exprs = block;
out:
    ptr_free(&p.seen);
    mem_free(p.table);
    mem_free(p.uniq);
    return rc;
}
