/* compile.c — checked syntax tree to NFA: one state per step waiting for its
 * event, TAKE/IGNORE edges carrying the step's compiled condition, a final
 * state; conditions and emit expressions become slot-resolved trees. */
#include "config.h"
#include "checker.h"
#include "compile.h"
#include "diag.h"
#include "expr.h"
#include "mem.h"
#include "nfa.h"
#include "regex.h"
#include "route.h"
#include "hash.h"

#include <string.h>

/* Scratch memory of one compile: the nodes the compiler builds (and the
 * strings and argument arrays beside them) are cut from chunks that die
 * with the compile; pack.c copies the nodes the program keeps into one
 * block. Many nodes are scaffolding (the `not c` of an IGNORE edge becomes
 * a negate flag, a constant folds into its comparison), and a node each
 * from the general allocator would cost its size class and bookkeeping. */
typedef struct xchunk {
    struct xchunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} xchunk;

#define XCHUNK_BYTES 16384

static void *scratch_alloc(cctx *c, size_t n) {
    n = (n + 15) & ~(size_t)15;
    xchunk *k = c->chunks;
    if (!k || k->cap - k->used < n) {
        size_t cap = n > XCHUNK_BYTES ? n : XCHUNK_BYTES;
        if (!(k = mem_alloc(sizeof *k + cap))) {
            c->oom = 1;
            return NULL;
        }
        k->next = c->chunks;
        k->used = 0;
        k->cap = cap;
        c->chunks = k;
    }
    void *p = k->data + k->used;
    k->used += n;
    memset(p, 0, n);
    return p;
}

static void scratch_free(cctx *c) {
    for (xchunk *k = c->chunks, *next; k; k = next) {
        next = k->next;
        mem_free(k);
    }
    c->chunks = NULL;
}

static expr *new_expr(cctx *c, xkind kind, size_t extra) {
    expr *e = scratch_alloc(c, sizeof *e + extra);
    if (!e) return NULL;
    e->kind = (uint8_t)kind;
    c->nnodes++;
    return e;
}

/* Remember aggregate e; assign_accs gives it its accumulator once the
 * whole pattern is compiled. */
static int agg_slot(cctx *c, expr *e) {
    if (mem_grow((void **)&c->aggs, &c->capaggs, c->naggs + 1, sizeof *c->aggs) < 0) {
        c->oom = 1;
        return -1;
    }
    c->aggs[c->naggs++] = e;
    return 0;
}

/* The parser's operator as the compiled node's (expr.h's nfa_op). */
static uint8_t op_of(expr_op op) {
    switch (op) {
    case OP_OR: return NFA_OP_OR;
    case OP_AND: return NFA_OP_AND;
    case OP_NOT: return NFA_OP_NOT;
    case OP_EQ: return NFA_OP_EQ;
    case OP_NE: return NFA_OP_NE;
    case OP_LT: return NFA_OP_LT;
    case OP_LE: return NFA_OP_LE;
    case OP_GT: return NFA_OP_GT;
    case OP_GE: return NFA_OP_GE;
    case OP_ADD: return NFA_OP_ADD;
    case OP_SUB: return NFA_OP_SUB;
    case OP_MUL: return NFA_OP_MUL;
    case OP_DIV: return NFA_OP_DIV;
    case OP_MOD: return NFA_OP_MOD;
    case OP_NEG: return NFA_OP_NEG;
    case OP_MATCH: return NFA_OP_MATCH;
    case OP_NOMATCH: return NFA_OP_NOMATCH;
    case AGG_COUNT: return NFA_AGG_COUNT;
    case AGG_SUM: return NFA_AGG_SUM;
    case AGG_AVG: return NFA_AGG_AVG;
    case AGG_MIN: return NFA_AGG_MIN;
    case AGG_MAX: return NFA_AGG_MAX;
    case OP_NONE: break;
    }
    return NFA_OP_NONE;
}

/* The parser's skip strategy as the program's (nfa.h's nfa_skip). */
static nfa_skip skip_of(skip_kind k) {
    switch (k) {
    case SKIP_TO_NEXT: return NFA_SKIP_TO_NEXT;
    case SKIP_PAST_LAST_EVENT: return NFA_SKIP_PAST_LAST_EVENT;
    case SKIP_TO_FIRST: return NFA_SKIP_TO_FIRST;
    case SKIP_TO_LAST: return NFA_SKIP_TO_LAST;
    case SKIP_NO_SKIP: break;
    }
    return NFA_SKIP_NO_SKIP;
}

/* The accumulators of the pattern's nodes (runtime/eval.c's agg_block):
 * one per (step, field) aggregated, shared by sum/avg/min/max of it;
 * count(step) shares one of its step's too, else has one of its own (index
 * -1: no values). Every aggregate gets its accumulator (slot2), the values
 * that accumulator adds up (index) and the block's size (fn). */
static void assign_accs(cctx *c) {
    uint32_t nacc = 0;
    for (int counts = 0; counts < 2; counts++) {
        for (size_t i = 0; i < c->naggs; i++) {
            expr *e = c->aggs[i];
            if ((e->op == NFA_AGG_COUNT) != counts) continue;
            e->slot2 = -1;
            for (size_t j = 0; j < c->naggs && e->slot2 < 0; j++) {
                const expr *o = c->aggs[j];
                if (o == e || o->slot2 < 0 || o->step != e->step) continue;
                if (counts || (o->index >= 0 && o->index == e->slot)) {
                    e->slot2 = o->slot2;
                    e->index = o->index;
                }
            }
            if (e->slot2 < 0) {
                e->slot2 = (int32_t)nacc++;
                e->index = counts ? -1 : e->slot;
            }
        }
    }
    for (size_t i = 0; i < c->naggs; i++) c->aggs[i]->fn = (int32_t)nacc;
}

static int compile_args(cctx *c, expr *e, const ast_expr *first, int n) {
    e->nargs = (uint32_t)n;
    if (n == 0) return 0;
    if (!(e->args = scratch_alloc(c, (size_t)n * sizeof(expr *)))) return -1;
    int i = 0;
    for (const ast_expr *x = first; x; x = x->next) {
        if (!(e->args[i++] = compile_expr(c, x))) return -1;
    }
    return 0;
}

expr *compile_expr(cctx *c, const ast_expr *a) {
    expr *e;
    switch (a->kind) {
    case EX_NULL:
        return new_expr(c, XK_CONST, 0);
    case EX_BOOL:
        if ((e = new_expr(c, XK_CONST, 0))) {
            e->k.type = CEP_BOOL;
            e->k.u.b = a->ival != 0;
        }
        return e;
    case EX_INT:
        if ((e = new_expr(c, XK_CONST, 0))) {
            e->k.type = CEP_INT;
            e->k.u.i = a->ival;
        }
        return e;
    case EX_DOUBLE:
        if ((e = new_expr(c, XK_CONST, 0))) {
            e->k.type = CEP_DOUBLE;
            e->k.u.d = a->dval;
        }
        return e;
    case EX_STRING:
        if ((e = new_expr(c, XK_CONST, a->slen + 1))) {
            char *bytes = (char *)(e + 1);
            if (a->slen) memcpy(bytes, a->str, a->slen);
            bytes[a->slen] = '\0';
            e->k.type = CEP_STRING;
            e->k.u.s.ptr = bytes;
            e->k.u.s.len = a->slen;
        }
        return e;
    case EX_FIELD:
        if ((e = new_expr(c, XK_SLOT, 0))) e->slot = a->slot;
        return e;
    case EX_STEPREF:
        if ((e = new_expr(c, XK_REF, 0))) {
            e->step = a->step_index;
            e->slot = a->slot;
            e->has_index = a->has_index != 0;
            e->index = a->index;
        }
        return e;
    case EX_AGG:
        if ((e = new_expr(c, XK_AGG, 0))) {
            e->op = op_of(a->op);
            e->step = a->step_index;
            e->slot = a->op == AGG_COUNT ? 0 : a->slot;
            e->slot2 = -1; /* assign_accs */
            if (agg_slot(c, e) < 0) return NULL;
        }
        return e;
    case EX_CALL:
        if (!(e = new_expr(c, a->fn_index >= 0 ? XK_CALL : XK_UCALL, 0))) return NULL;
        e->fn = a->fn_index >= 0 ? a->fn_index : -1 - a->fn_index;
        return compile_args(c, e, a->args, a->nargs) < 0 ? NULL : e;
    case EX_UNARY:
        if (!(e = new_expr(c, XK_UNARY, 0))) return NULL;
        e->op = op_of(a->op);
        return (e->a = compile_expr(c, a->a)) ? e : NULL;
    case EX_BINARY:
        if ((a->op == OP_EQ || a->op == OP_NE) && (a->a->kind == EX_NULL || a->b->kind == EX_NULL)) {
            /* `x == null` / `x != null` are null tests: the one place where
             * a comparison with null is not simply false. */
            if (!(e = new_expr(c, XK_ISNULL, 0))) return NULL;
            e->op = op_of(a->op);
            return (e->a = compile_expr(c, a->a->kind == EX_NULL ? a->b : a->a)) ? e : NULL;
        }
        if (a->op >= OP_EQ && a->op <= OP_GE && a->a->kind == EX_FIELD &&
            (a->b->kind == EX_STRING || a->b->kind == EX_INT || a->b->kind == EX_DOUBLE ||
             a->b->kind == EX_BOOL)) {
            /* field op constant: one node, no recursion at match time */
            expr *k = compile_expr(c, a->b);
            if (!k || !(e = new_expr(c, XK_SLOT_CMP, 0))) return NULL;
            e->op = op_of(a->op);
            e->slot = a->a->slot;
            e->k = k->k;
            return e;
        }
        if (a->op >= OP_EQ && a->op <= OP_GE &&
            ((a->a->kind == EX_FIELD && a->b->kind == EX_STEPREF && !a->b->has_index) ||
             (a->b->kind == EX_FIELD && a->a->kind == EX_STEPREF && !a->a->has_index))) {
            /* field op step.field (either way round): one node, the
             * condition that joins an event to an earlier step */
            int swapped = a->a->kind == EX_STEPREF;
            const ast_expr *f = swapped ? a->b : a->a, *r = swapped ? a->a : a->b;
            if (!(e = new_expr(c, XK_REF_CMP, 0))) return NULL;
            e->op = op_of(a->op);
            e->swapped = (uint8_t)swapped;
            e->slot = f->slot;
            e->step = r->step_index;
            e->slot2 = r->slot;
            return e;
        }
        if (!(e = new_expr(c, XK_BINARY, 0))) return NULL;
        e->op = op_of(a->op);
        if (!(e->a = compile_expr(c, a->a)) || !(e->b = compile_expr(c, a->b))) return NULL;
        return e;
    case EX_MATCH: {
        if (!(e = new_expr(c, XK_MATCH, 0))) return NULL;
        e->op = op_of(a->op);
        char msg[8];
        size_t off;
        regex *re = regex_compile(a->regex, strlen(a->regex), a->flags, msg, sizeof msg, &off);
        if (!re) { /* the checker compiled it already, so only memory can fail */
            c->oom = 1;
            return NULL;
        }
        regex_link(re, &c->prog->regexes);
        e->re = re;
        return (e->a = compile_expr(c, a->a)) ? e : NULL;
    }
    case EX_IN:
        if (!(e = new_expr(c, XK_IN, 0))) return NULL;
        if (!(e->a = compile_expr(c, a->a))) return NULL;
        return compile_args(c, e, a->args, a->nargs) < 0 ? NULL : e;
    }
    return NULL;
}

expr *cond_true(cctx *c) {
    expr *e = new_expr(c, XK_CONST, 0);
    if (e) {
        e->k.type = CEP_BOOL;
        e->k.u.b = 1;
    }
    return e;
}

expr *cond_not(cctx *c, expr *a) {
    if (!a) return NULL;
    expr *e = new_expr(c, XK_UNARY, 0);
    if (e) {
        e->op = NFA_OP_NOT;
        e->a = a;
    }
    return e;
}

static expr *cond_bin(cctx *c, int op, expr *a, expr *b) {
    if (!a || !b) return NULL;
    expr *e = new_expr(c, XK_BINARY, 0);
    if (e) {
        e->op = (uint8_t)op;
        e->a = a;
        e->b = b;
    }
    return e;
}

expr *cond_and(cctx *c, expr *a, expr *b) { return cond_bin(c, NFA_OP_AND, a, b); }

/* Names, keys, window, skip strategy and emit of one pattern; its states
 * come from automaton.c. */
static int compile_pattern(cctx *c, nfa_pattern *np, const ast_pattern *ap) {
    step_list steps = {0};
    if (check_collect_steps(ap->steps, &steps) < 0) return -1;
    int rc = -1;
    uint32_t n = (uint32_t)steps.n;
    if (!(np->name = mem_strdup(ap->name))) goto out;
    np->has_within = ap->has_within != 0;
    np->within_ms = ap->within_ms;
    np->skip = ap->has_skip ? skip_of(ap->skip) : NFA_SKIP_NO_SKIP;
    for (ast_name *k = ap->keys; k; k = k->next) np->nkeys++;
    if (np->nkeys) {
        np->key_slots = mem_calloc(np->nkeys, sizeof *np->key_slots);
        np->key_names = mem_calloc(np->nkeys, sizeof *np->key_names);
        if (!np->key_slots || !np->key_names) goto out;
        uint32_t i = 0;
        for (ast_name *k = ap->keys; k; k = k->next, i++) {
            np->key_slots[i] = program_slot(c->prog, k->name, strlen(k->name));
            if (!(np->key_names[i] = mem_strdup(k->name))) goto out;
        }
    }
    np->nsteps = n;
    np->steps = mem_calloc(n, sizeof *np->steps);
    if (!np->steps) goto out;
    for (uint32_t i = 0; i < n; i++)
        if (!(np->steps[i].name = mem_strdup(steps.v[i]->name))) goto out;
    np->skip_step = -1;
    for (uint32_t i = 0; ap->skip_step && i < n; i++)
        if (strcmp(steps.v[i]->name, ap->skip_step) == 0) np->skip_step = (int)i;
    if (automaton_build(c, np, ap) < 0) goto out;
    for (ast_emit *em = ap->emits; em; em = em->next) np->nemit++;
    if (np->nemit) {
        np->emit_names = mem_calloc(np->nemit, sizeof *np->emit_names);
        np->emit_exprs = mem_calloc(np->nemit, sizeof *np->emit_exprs);
        if (!np->emit_names || !np->emit_exprs) goto out;
        uint32_t i = 0;
        for (ast_emit *em = ap->emits; em; em = em->next, i++) {
            if (!(np->emit_names[i] = mem_strdup(em->name))) goto out;
            if (!(np->emit_exprs[i] = compile_expr(c, em->value))) goto out;
        }
    }
    assign_accs(c);
    np->compact = automaton_compact(np);
    rc = 0;
out:
    c->naggs = 0;
    mem_free(steps.v);
    return rc;
}

/* Fingerprints: a pattern's is the hash of its syntax tree's canonical dump
 * (comments and layout do not count); the program's adds the field slots and
 * user functions, which decide how events and snapshots are laid out. */
static int fingerprint(cep_program *prog, const ast_pattern *pats) {
    uint64_t h = hash_bytes("cepheus-program-1", 17, 0);
    uint32_t i = 0;
    for (const ast_pattern *p = pats; p; p = p->next, i++) {
        ast_pattern one = *p;
        one.next = NULL;
        char *dump = ast_dump(&one);
        if (!dump) return CEP_ENOMEM;
        prog->patterns[i].fingerprint = hash_bytes(dump, strlen(dump), 0);
        mem_free(dump);
        h = hash_bytes(&prog->patterns[i].fingerprint, 8, h);
    }
    for (uint32_t f = 0; f < prog->nfields; f++) h = hash_bytes(prog->fields[f], strlen(prog->fields[f]) + 1, h);
    for (uint32_t f = 0; f < prog->nfns; f++) h = hash_bytes(prog->fns[f].name, strlen(prog->fns[f].name) + 1, h);
    prog->fingerprint = h;
    return CEP_OK;
}

int nfa_compile(cep_program *prog, const ast_pattern *pats, cep_diag *d) {
    cctx c = {.prog = prog, .d = d};
    for (const ast_pattern *p = pats; p; p = p->next) prog->npatterns++;
    prog->patterns = mem_calloc(prog->npatterns ? prog->npatterns : 1, sizeof *prog->patterns);
    if (!prog->patterns) return CEP_ENOMEM;
    uint32_t i = 0;
    int rc = CEP_OK;
    for (const ast_pattern *p = pats; p && rc == CEP_OK; p = p->next, i++)
        if (compile_pattern(&c, &prog->patterns[i], p) < 0 || c.oom || c.failed)
            rc = c.failed && !c.oom ? CEP_EPATTERN : CEP_ENOMEM;
    mem_free(c.aggs);
    if (rc == CEP_OK) rc = nfa_pack_exprs(prog, c.nnodes);
    /* (on failure the patterns may point into the scratch: the caller
     * frees the program without reading them) */
    scratch_free(&c);
    for (i = 0; rc == CEP_OK && i < prog->npatterns; i++)
        if (automaton_dispatch(&prog->patterns[i]) < 0) rc = CEP_ENOMEM;
    if (rc != CEP_OK) return rc;
    if (nfa_route_build(prog) != CEP_OK) return CEP_ENOMEM;
    return fingerprint(prog, pats);
}
