/* eval.c — evaluating compiled conditions: SQL-like null rules, numbers
 * that mix int and double, step references and aggregates read from the
 * partial match's chain of accepted events, built-in calls. The engine's
 * half of the compile/evaluate split (the trees come from nfa/compile.c). */
#include "config.h"
#include "eval.h"
#include "bytes.h"
#include "event.h"
#include "mem.h"
#include "regex.h"

#include <math.h>
#include <string.h>

#define NULLV ((cep_value){.type = CEP_NULL})

static cep_value boolv(int b) {
    cep_value v = {.type = CEP_BOOL};
    v.u.b = b != 0;
    return v;
}
static cep_value intv(int64_t i) {
    cep_value v = {.type = CEP_INT};
    v.u.i = i;
    return v;
}
static cep_value dblv(double d) {
    if (!isfinite(d)) return NULLV; /* NaN/Inf have no JSON form: null */
    cep_value v = {.type = CEP_DOUBLE};
    v.u.d = d;
    return v;
}
static int is_num(cep_value v) { return v.type == CEP_INT || v.type == CEP_DOUBLE; }
static double num(cep_value v) { return v.type == CEP_INT ? (double)v.u.i : v.u.d; }

/* ---- scratch memory ------------------------------------------------------ */

struct scratch_chunk {
    scratch_chunk *next;
    size_t used, cap;
    char data[];
};

char *expr_scratch(eval_ctx *c, size_t n) {
    scratch_chunk *ch = c->scratch;
    if (!ch || ch->cap - ch->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        scratch_chunk *nc = mem_alloc(sizeof *nc + cap);
        if (!nc) {
            c->oom = 1; /* the caller turns it into CEP_ENOMEM, not a silent null */
            return NULL;
        }
        nc->next = ch;
        nc->used = 0;
        nc->cap = cap;
        c->scratch = ch = nc;
    }
    char *p = ch->data + ch->used;
    ch->used += n;
    return p;
}

void expr_ctx_reset(eval_ctx *c) {
    /* Keep the newest chunk for reuse, so steady state allocates nothing. */
    scratch_chunk *ch = c->scratch;
    if (!ch) return;
    scratch_chunk *rest = ch->next;
    ch->next = NULL;
    ch->used = 0;
    while (rest) {
        scratch_chunk *n = rest->next;
        mem_free(rest);
        rest = n;
    }
}

int expr_ctx_init(eval_ctx *c, const cep_program *p) {
    memset(c, 0, sizeof *c);
    c->prog = p;
    c->match_data = regex_match_data_new();
    return c->match_data ? CEP_OK : CEP_ENOMEM;
}

void expr_ctx_free(eval_ctx *c) {
    /* (Every node's block went with its node: engine teardown frees the keys first.) */
    for (size_t i = 0; i < c->agg_cap; i++) mem_free(c->aggs[i].b);
    mem_free(c->aggs);
    c->aggs = NULL;
    c->agg_cap = c->agg_n = 0;
    mem_free(c->agg_stk);
    c->agg_stk = NULL;
    c->agg_nstk = c->agg_capstk = 0;
    expr_ctx_reset(c);
    mem_free(c->scratch);
    c->scratch = NULL;
    regex_match_data_free(c->match_data);
    c->match_data = NULL;
}

/* ---- value operations ------------------------------------------------------ */

static int str_cmp(cep_value a, cep_value b) {
    size_t n = a.u.s.len < b.u.s.len ? a.u.s.len : b.u.s.len;
    int r = n ? memcmp(a.u.s.ptr, b.u.s.ptr, n) : 0;
    if (r) return r;
    return a.u.s.len < b.u.s.len ? -1 : a.u.s.len > b.u.s.len;
}

int value_equal(cep_value a, cep_value b) {
    if (a.type == CEP_NULL || b.type == CEP_NULL) return 0; /* null equals nothing */
    if (is_num(a) && is_num(b)) {
        if (a.type == CEP_INT && b.type == CEP_INT) return a.u.i == b.u.i;
        return num(a) == num(b);
    }
    if (a.type != b.type) return 0;
    if (a.type == CEP_BOOL) return a.u.b == b.u.b;
    return str_cmp(a, b) == 0;
}

cep_value value_compare(int op, cep_value a, cep_value b) {
    if (a.type == CEP_NULL || b.type == CEP_NULL) return boolv(0);
    if (op == NFA_OP_EQ) return boolv(value_equal(a, b));
    if (op == NFA_OP_NE) return boolv(!value_equal(a, b));
    int r;
    if (is_num(a) && is_num(b)) {
        if (a.type == CEP_INT && b.type == CEP_INT) {
            r = (a.u.i > b.u.i) - (a.u.i < b.u.i);
        } else {
            double x = num(a), y = num(b);
            if (isnan(x) || isnan(y)) return boolv(0);
            r = (x > y) - (x < y);
        }
    } else if (a.type == CEP_STRING && b.type == CEP_STRING) {
        r = str_cmp(a, b);
    } else {
        return boolv(0); /* null, bools and mixed types do not order */
    }
    switch (op) {
    case NFA_OP_LT: return boolv(r < 0);
    case NFA_OP_LE: return boolv(r <= 0);
    case NFA_OP_GT: return boolv(r > 0);
    default: return boolv(r >= 0);
    }
}

cep_value value_arith(int op, cep_value a, cep_value b) {
    if (!is_num(a) || !is_num(b)) return NULLV;
    if (op == NFA_OP_DIV) {
        double y = num(b);
        if (y == 0) return NULLV;
        return dblv(num(a) / y);
    }
    if (a.type == CEP_INT && b.type == CEP_INT) {
        int64_t r;
        switch (op) {
        case NFA_OP_ADD:
            if (!__builtin_add_overflow(a.u.i, b.u.i, &r)) return intv(r);
            return dblv((double)a.u.i + (double)b.u.i);
        case NFA_OP_SUB:
            if (!__builtin_sub_overflow(a.u.i, b.u.i, &r)) return intv(r);
            return dblv((double)a.u.i - (double)b.u.i);
        case NFA_OP_MUL:
            if (!__builtin_mul_overflow(a.u.i, b.u.i, &r)) return intv(r);
            return dblv((double)a.u.i * (double)b.u.i);
        case NFA_OP_MOD:
            if (b.u.i == 0) return NULLV;
            if (b.u.i == -1) return intv(0); /* INT64_MIN % -1 traps in C */
            return intv(a.u.i % b.u.i);
        }
        return NULLV;
    }
    double x = num(a), y = num(b);
    switch (op) {
    case NFA_OP_ADD: return dblv(x + y);
    case NFA_OP_SUB: return dblv(x - y);
    case NFA_OP_MUL: return dblv(x * y);
    case NFA_OP_MOD: return y == 0 ? NULLV : dblv(fmod(x, y));
    }
    return NULLV;
}

/* ---- partial-match access ----------------------------------------------- */

/* The event of step s at index (0 first, -1 last), NULL if none. */
static const cep_event *step_event(const pm_node *chain, int32_t step,
                                   int has_index, int64_t index) {
    if (!has_index || index < 0) {
        int64_t want = has_index ? -index : 1; /* 1 = newest */
        for (const pm_node *n = chain; n; n = n->parent)
            if ((int32_t)n->step == step && --want == 0) return node_ev(n);
        return NULL;
    }
    int64_t count = 0;
    for (const pm_node *n = chain; n; n = n->parent)
        if ((int32_t)n->step == step) count++;
    if (index >= count) return NULL;
    int64_t skip = count - 1 - index; /* chain runs newest first */
    for (const pm_node *n = chain; n; n = n->parent)
        if ((int32_t)n->step == step && skip-- == 0) return node_ev(n);
    return NULL;
}

/* The aggregates of a node are kept incrementally: each node has, per
 * (step, field) that the pattern aggregates, the count, sums, min and max
 * over itself and its parents, made from its parent's by adding its own
 * event. Nodes are shared by the partial matches that branch from them, so
 * this is right under branching; restored and reloaded nodes start empty
 * and are filled when first read. A run of n events costs O(n), not
 * O(n^2) as walking the chain at every evaluation did. */
typedef struct agg_acc {
    int64_t count;        /* events of the step, nulls included */
    int64_t n;            /* numeric values */
    __int128 isum;        /* exact sum of the int values: no overflow to
                           * track, so the result does not depend on order */
    double dsum;          /* every numeric value as a double, oldest first */
    cep_value lo, hi;     /* min and max; null before the first number */
    uint8_t all_int;      /* no double among the numeric values */
    uint8_t valid;        /* filled */
} agg_acc;

struct agg_block {
    uint32_t n;           /* accumulators (the pattern's, expr fn) */
    agg_acc acc[];
};

/* The table of nodes' blocks: linear probing by node address, backward
 * shift on removal, load under 1/2. */
static size_t agg_home(const eval_ctx *c, const pm_node *n) {
    return (size_t)(((uint64_t)(uintptr_t)n >> 3) * 0x9E3779B97F4A7C15u >> 32) & (c->agg_cap - 1);
}

/* Node n's slot (n->has_agg: it has one). */
static struct agg_slot *agg_find(const eval_ctx *c, const pm_node *n) {
    size_t i = agg_home(c, n);
    while (c->aggs[i].node != n) i = (i + 1) & (c->agg_cap - 1);
    return &c->aggs[i];
}

static void agg_put(eval_ctx *c, const pm_node *n, agg_block *b) {
    size_t i = agg_home(c, n);
    while (c->aggs[i].node) i = (i + 1) & (c->agg_cap - 1);
    c->aggs[i] = (struct agg_slot){n, b};
}

/* Room in the table for one more; -1 when memory runs out. */
static int agg_reserve(eval_ctx *c) {
    if ((c->agg_n + 1) * 2 <= c->agg_cap) return 0;
    size_t ncap = c->agg_cap ? c->agg_cap * 2 : 64;
    struct agg_slot *nv = mem_calloc(ncap, sizeof *nv), *old = c->aggs;
    if (!nv) return -1;
    size_t ocap = c->agg_cap;
    c->aggs = nv;
    c->agg_cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].node) agg_put(c, old[i].node, old[i].b);
    mem_free(old);
    c->agg_bytes += (ncap - ocap) * sizeof *nv;
    return 0;
}

static agg_block *agg_of(const eval_ctx *c, const pm_node *n) { return agg_find(c, n)->b; }

void expr_agg_free(eval_ctx *c, pm_node *n) {
    if (!n->has_agg) return;
    struct agg_slot *s = agg_find(c, n);
    agg_block *b = s->b;
    size_t mask = c->agg_cap - 1, hole = (size_t)(s - c->aggs);
    for (size_t j = (hole + 1) & mask; c->aggs[j].node; j = (j + 1) & mask) {
        size_t h = agg_home(c, c->aggs[j].node);
        int stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
        if (!stays) {
            c->aggs[hole] = c->aggs[j];
            hole = j;
        }
    }
    c->aggs[hole] = (struct agg_slot){NULL, NULL};
    c->agg_n--;
    c->agg_bytes -= sizeof(agg_block) + b->n * sizeof(agg_acc);
    mem_free(b);
    n->has_agg = 0;
    if (!c->agg_n) { /* the last: no table kept for nothing (stats.memory 0 with no state) */
        c->agg_bytes -= c->agg_cap * sizeof *c->aggs;
        mem_free(c->aggs);
        c->aggs = NULL;
        c->agg_cap = 0;
    }
}

/* Node n's block (made empty on first use); NULL on out-of-memory. */
static agg_block *block_of(eval_ctx *c, pm_node *n, uint32_t size) {
    if (n->has_agg) return agg_of(c, n);
    size_t bytes = sizeof(agg_block) + size * sizeof(agg_acc);
    if (agg_reserve(c) < 0) return NULL;
    agg_block *b = mem_calloc(1, bytes);
    if (!b) return NULL;
    b->n = size;
    c->agg_bytes += bytes;
    agg_put(c, n, b);
    c->agg_n++;
    n->has_agg = 1;
    return b;
}

/* a's accumulator plus node x's event, into out. min and max keep the
 * newest of equal values, as a scan from the newest event did. */
static void acc_add(agg_acc *out, const agg_acc *a, const pm_node *x, const expr *e) {
    if (a) *out = *a;
    else {
        memset(out, 0, sizeof *out);
        out->all_int = 1;
    }
    out->valid = 1;
    if ((int32_t)x->step != e->step) return;
    out->count++;
    if (e->index < 0) return; /* only counts */
    cep_value v = event_stored_value(node_ev(x), (uint32_t)e->index);
    if (!is_num(v)) return; /* nulls and non-numbers are skipped, as in SQL */
    out->n++;
    out->dsum += num(v);
    if (v.type == CEP_INT) out->isum += v.u.i;
    else out->all_int = 0;
    if (out->lo.type == CEP_NULL || value_compare(NFA_OP_LE, v, out->lo).u.b) out->lo = v;
    if (out->hi.type == CEP_NULL || value_compare(NFA_OP_GE, v, out->hi).u.b) out->hi = v;
}

/* The accumulator of e at chain, filled from the nearest filled parent
 * (oldest first, so sums add up in the order the events came). */
static const agg_acc *acc_at(eval_ctx *c, const pm_node *chain, const expr *e) {
    uint32_t k = (uint32_t)e->slot2, size = (uint32_t)e->fn;
    c->agg_nstk = 0;
    const pm_node *x = chain;
    const agg_block *xb = NULL;
    for (; x && !(x->has_agg && (xb = agg_of(c, x))->acc[k].valid); x = x->parent) {
        if (c->agg_nstk == c->agg_capstk &&
            mem_grow((void **)&c->agg_stk, &c->agg_capstk, c->agg_nstk + 1, sizeof *c->agg_stk) < 0)
            return NULL;
        c->agg_stk[c->agg_nstk++] = x;
    }
    const agg_acc *prev = x ? &xb->acc[k] : NULL;
    while (c->agg_nstk) {
        /* The chain is const to conditions; its accumulators are a cache. */
        pm_node *y = (pm_node *)c->agg_stk[--c->agg_nstk];
        agg_block *b = block_of(c, y, size);
        if (!b) return NULL;
        acc_add(&b->acc[k], prev, y, e);
        prev = &b->acc[k];
    }
    return prev;
}

static __attribute__((noinline)) cep_value aggregate(const expr *e, eval_ctx *c) {
    if (!c->chain) return e->op == NFA_AGG_COUNT || e->op == NFA_AGG_SUM ? intv(0) : NULLV;
    const agg_acc *a = acc_at(c, c->chain, e);
    if (!a) {
        c->oom = 1; /* the caller turns it into CEP_ENOMEM */
        return NULLV;
    }
    switch (e->op) {
    case NFA_AGG_COUNT: return intv(a->count);
    case NFA_AGG_SUM:
        if (a->all_int && a->isum >= INT64_MIN && a->isum <= INT64_MAX) return intv((int64_t)a->isum);
        return dblv(a->dsum);
    case NFA_AGG_AVG: return a->n ? dblv(a->dsum / (double)a->n) : NULLV;
    case NFA_AGG_MIN: return a->lo;
    default: return a->hi;
    }
}

/* ---- evaluation ------------------------------------------------------------ */

#define MAX_ARGS 16

/* op applied to the int comparison of x and y. */
static int int_holds(int op, int64_t x, int64_t y) {
    switch (op) {
    case NFA_OP_EQ: return x == y;
    case NFA_OP_NE: return x != y;
    case NFA_OP_LT: return x < y;
    case NFA_OP_LE: return x <= y;
    case NFA_OP_GT: return x > y;
    default: return x >= y;
    }
}

/* a op b for the common cases (same-type ints, string equality), else
 * value_compare: exactly what XK_BINARY would give. */
static int cmp_holds(int op, const cep_value *a, const cep_value *b) {
    if (a->type == b->type) {
        if (a->type == CEP_INT) return int_holds(op, a->u.i, b->u.i);
        if (a->type == CEP_STRING && (op == NFA_OP_EQ || op == NFA_OP_NE)) {
            int eq = a->u.s.len == b->u.s.len && same_bytes(a->u.s.ptr, b->u.s.ptr, a->u.s.len);
            return op == NFA_OP_EQ ? eq : !eq;
        }
    }
    return value_compare(op, *a, *b).u.b;
}

static const cep_value null_value;

int expr_holds(const expr *e, eval_ctx *c) {
    switch ((xkind)e->kind) {
    case XK_SLOT_CMP:
        return cmp_holds(e->op, c->row ? &c->row[e->slot] : &null_value, &e->k);
    case XK_REF_CMP: {
        const cep_value *v = c->row ? &c->row[e->slot] : &null_value;
        const cep_event *ev = step_event(c->chain, e->step, 0, 0);
        cep_value rv = ev ? event_stored_value(ev, (uint32_t)e->slot2) : null_value;
        const cep_value *r = &rv;
        return e->swapped ? cmp_holds(e->op, r, v) : cmp_holds(e->op, v, r);
    }
    case XK_BINARY:
        if (e->op == NFA_OP_AND) return expr_holds(e->a, c) && expr_holds(e->b, c);
        if (e->op == NFA_OP_OR) return expr_holds(e->a, c) || expr_holds(e->b, c);
        break;
    case XK_UNARY:
        if (e->op == NFA_OP_NOT) return !expr_holds(e->a, c);
        break;
    default:
        break;
    }
    cep_value v = expr_eval(e, c);
    return v.type == CEP_BOOL && v.u.b;
}

/* A call, out of line: its argument array would otherwise sit in every
 * frame of expr_eval's recursion (700 bytes a level instead of about 100;
 * ast.h's AST_MAX_EXPR_HEIGHT counts on a small frame). */
static __attribute__((noinline)) cep_value eval_call(const expr *e, eval_ctx *c) {
    cep_value argv[MAX_ARGS];
    uint32_t n = e->nargs < MAX_ARGS ? e->nargs : MAX_ARGS;
    for (uint32_t i = 0; i < n; i++) argv[i] = expr_eval(e->args[i], c);
    if (e->kind == XK_CALL) return builtin_call(e->fn, argv, (int)n, c);
    const user_fn *f = &c->prog->fns[e->fn];
    cep_value out = NULLV;
    if (f->fn(f->userdata, (int)n, argv, &out) != CEP_OK) {
        c->fn_errors++;
        return NULLV;
    }
    if (out.type == CEP_DOUBLE && !isfinite(out.u.d)) return NULLV;
    return out;
}

cep_value expr_eval(const expr *e, eval_ctx *c) {
    switch ((xkind)e->kind) {
    case XK_CONST:
        return e->k;
    case XK_SLOT:
        return c->row ? c->row[e->slot] : NULLV;
    case XK_REF: {
        const cep_event *ev = step_event(c->chain, e->step, e->has_index, e->index);
        return ev ? event_stored_value(ev, (uint32_t)e->slot) : NULLV;
    }
    case XK_AGG:
        return aggregate(e, c);
    case XK_UNARY: {
        cep_value v = expr_eval(e->a, c);
        if (e->op == NFA_OP_NOT) return boolv(!(v.type == CEP_BOOL && v.u.b));
        if (v.type == CEP_INT) {
            if (v.u.i == INT64_MIN) return dblv(-(double)v.u.i);
            return intv(-v.u.i);
        }
        if (v.type == CEP_DOUBLE) return dblv(-v.u.d);
        return NULLV;
    }
    case XK_BINARY: {
        cep_value a = expr_eval(e->a, c);
        if (e->op == NFA_OP_AND || e->op == NFA_OP_OR) {
            /* Two-valued logic: anything but boolean true counts as false,
             * as comparisons with null already give false, not null. */
            int x = a.type == CEP_BOOL && a.u.b;
            if (x == (e->op == NFA_OP_OR)) return boolv(x);
            cep_value b = expr_eval(e->b, c);
            return boolv(b.type == CEP_BOOL && b.u.b);
        }
        cep_value b = expr_eval(e->b, c);
        if (e->op >= NFA_OP_EQ && e->op <= NFA_OP_GE) return value_compare(e->op, a, b);
        return value_arith(e->op, a, b);
    }
    case XK_MATCH: {
        cep_value s = expr_eval(e->a, c);
        if (s.type != CEP_STRING) return boolv(0);
        int r = regex_match(e->re, s.u.s.ptr, s.u.s.len, c->match_data);
        if (r < 0) {
            c->regex_errors++;
            return boolv(0);
        }
        return boolv(e->op == NFA_OP_MATCH ? r : !r);
    }
    case XK_IN: {
        cep_value v = expr_eval(e->a, c);
        for (uint32_t i = 0; i < e->nargs; i++) {
            const expr *x = e->args[i];
            /* A null literal in the list is a null test, as `== null` is. */
            int hit = x->kind == XK_CONST && x->k.type == CEP_NULL ? v.type == CEP_NULL
                                                                     : value_equal(v, expr_eval(x, c));
            if (hit) return boolv(1);
        }
        return boolv(0);
    }
    case XK_SLOT_CMP:
    case XK_REF_CMP:
        return boolv(expr_holds(e, c));
    case XK_ISNULL: {
        cep_value v = expr_eval(e->a, c);
        return boolv((v.type == CEP_NULL) == (e->op == NFA_OP_EQ));
    }
    case XK_CALL:
    case XK_UCALL:
        return eval_call(e, c);
    }
    return NULLV;
}

/* ---- gates decided by one lookup (automaton.c's set_dispatch) ---------- */

uint64_t eval_dispatch(const nfa_pattern *pat, const cep_value *v) {
    if (v->type == CEP_DOUBLE) {
        /* `field == 3` holds for 3.0 too: numbers compare as doubles, as
         * value_equal does (so several ints may equal one double). */
        uint64_t m = 0;
        for (uint32_t i = 0; i < pat->ndispatch; i++)
            if (pat->dispatch[i].k.type == CEP_INT && (double)pat->dispatch[i].k.u.i == v->u.d)
                m |= pat->dispatch[i].opens;
        return m;
    }
    if (v->type != CEP_INT && v->type != CEP_STRING) return 0;
    for (uint32_t i = 0; i < pat->ndispatch; i++)
        if (gate_key_same(&pat->dispatch[i].k, v)) return pat->dispatch[i].opens;
    return 0;
}

/* ---- built-in calls (nfa/builtins.c names them) ------------------------- */

static cep_value nullv(void) { return (cep_value){.type = CEP_NULL}; }

static cep_value case_map(cep_value s, int upper, eval_ctx *c) {
    char *p = expr_scratch(c, s.u.s.len + 1);
    if (!p) return nullv();
    for (size_t i = 0; i < s.u.s.len; i++) {
        unsigned char ch = (unsigned char)s.u.s.ptr[i];
        if (upper && ch >= 'a' && ch <= 'z') ch -= 32;
        if (!upper && ch >= 'A' && ch <= 'Z') ch += 32;
        p[i] = (char)ch;
    }
    p[s.u.s.len] = '\0';
    cep_value r = s;
    r.u.s.ptr = p;
    return r;
}

cep_value builtin_call(int fn, const cep_value *a, int argc, eval_ctx *c) {
    cep_value r = {.type = CEP_NULL};
    if (argc != builtin_arity(fn)) return r;
    int strs = a[0].type == CEP_STRING && (argc < 2 || a[1].type == CEP_STRING);
    switch (fn) {
    case BI_EXISTS:
        r.type = CEP_BOOL;
        r.u.b = a[0].type != CEP_NULL;
        return r;
    case BI_LEN: {
        if (a[0].type != CEP_STRING) return r;
        int64_t n = 0; /* code points: count bytes that do not continue one */
        for (size_t i = 0; i < a[0].u.s.len; i++)
            n += ((unsigned char)a[0].u.s.ptr[i] & 0xC0) != 0x80;
        r.type = CEP_INT;
        r.u.i = n;
        return r;
    }
    case BI_LOWER:
    case BI_UPPER:
        return a[0].type == CEP_STRING ? case_map(a[0], fn == BI_UPPER, c) : r;
    case BI_ABS:
        if (a[0].type == CEP_INT) {
            if (a[0].u.i == INT64_MIN) {
                r.type = CEP_DOUBLE;
                r.u.d = 9223372036854775808.0;
            } else {
                r = a[0];
                if (r.u.i < 0) r.u.i = -r.u.i;
            }
        } else if (a[0].type == CEP_DOUBLE) {
            r = a[0];
            if (r.u.d < 0) r.u.d = -r.u.d;
        }
        return r;
    case BI_CONTAINS:
        if (!strs) return r;
        r.type = CEP_BOOL;
        r.u.b = a[1].u.s.len == 0 ||
                memmem(a[0].u.s.ptr, a[0].u.s.len, a[1].u.s.ptr, a[1].u.s.len) != NULL;
        return r;
    case BI_STARTS_WITH:
        if (!strs) return r;
        r.type = CEP_BOOL;
        r.u.b = a[1].u.s.len <= a[0].u.s.len &&
                memcmp(a[0].u.s.ptr, a[1].u.s.ptr, a[1].u.s.len) == 0;
        return r;
    }
    return r;
}
