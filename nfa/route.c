/* route.c — the program's index from a dispatch field's value to the
 * patterns it can concern (route.h). A pattern is indexed when an event
 * that opens none of its gates changes nothing of it for any key
 * (nfa_pattern.skippable, or routable below) and every gate it has needs
 * one field to hold one of a few values: then an event with another value
 * need not reach it at all. The
 * engine still tests each reached pattern's gates, so a superset is
 * always correct; the index only leaves out patterns that would do
 * nothing. */
#include "config.h"
#include "route.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "expr.h"
#include "hash.h"
#include "mem.h"
#include "nfa.h"

/* Fixed: the keys are the patterns' constants, not the events' values, so
 * an event cannot lengthen a probe beyond what the constants made. */
#define ROUTE_SEED 0x726f757465ull

static uint64_t key_hash(const cep_value *k) {
    if (k->type == CEP_INT) {
        uint64_t x = (uint64_t)k->u.i * 0x9E3779B97F4A7C15ull;
        return x ^ (x >> 29);
    }
    return hash_bytes(k->u.s.ptr, k->u.s.len, ROUTE_SEED);
}

static int key_eq(const cep_value *a, const cep_value *b) {
    if (a->type != b->type) return 0;
    if (a->type == CEP_INT) return a->u.i == b->u.i;
    return a->u.s.len == b->u.s.len && same_bytes(a->u.s.ptr, b->u.s.ptr, a->u.s.len);
}

static route_ent *find(const route_field *f, const cep_value *k) {
    for (uint32_t i = (uint32_t)key_hash(k) & f->mask;; i = (i + 1) & f->mask) {
        route_ent *e = &f->ents[i];
        if (e->k.type == CEP_NULL || key_eq(&e->k, k)) return e;
    }
}

/* An entry's tag: 7 high bits of its hash, never 0 (empty). (The slot is
 * from the low bits: a value no pattern names meets an occupied slot about
 * an eighth of the time, and a tag equal to its own once in 128 of those.) */
static uint8_t key_tag(uint64_t h) { return (uint8_t)(h >> 56) | 1; }

/* The constants a pattern is routed by: its field's values that can open
 * one of its gates. */
typedef struct keyset {
    int32_t slot;         /* -1: the pattern is not routed (every event) */
    uint32_t n, cap;
    cep_value *v;
    uint64_t *m;          /* per key: the states (below 64) whose gate it can open */
    uint64_t cur;         /* while adding: the state whose gate is read */
    int start_only;       /* routed by its start's gate alone (route_keys) */
    uint64_t every;       /* keyed, routed by its gates: the states where a
                           * partial match must see every event (keyed_every) */
} keyset;

static int ks_add(keyset *ks, cep_value k) {
    if (k.type == CEP_DOUBLE) {
        /* 3.0 equals the int 3; any other double equals only doubles, and
         * a double value reaches every pattern of its field anyway. */
        if (!(k.u.d >= -9.2e18 && k.u.d <= 9.2e18) || k.u.d != (double)(int64_t)k.u.d) return 1;
        k.type = CEP_INT;
        k.u.i = (int64_t)k.u.d;
    }
    if (k.type != CEP_INT && k.type != CEP_STRING) return 0; /* true, null: not looked up */
    if (ks->n == ks->cap) {
        size_t cap = ks->cap, mcap = ks->cap;
        if (mem_grow((void **)&ks->v, &cap, ks->n + 1, sizeof *ks->v) < 0 ||
            mem_grow((void **)&ks->m, &mcap, cap, sizeof *ks->m) < 0)
            return -1;
        ks->cap = (uint32_t)cap;
    }
    ks->m[ks->n] = ks->cur;
    ks->v[ks->n++] = k;
    return 1;
}

/* Does g hold only when the event's field ks->slot has one of the values
 * it adds to ks? 1 yes, 0 no (ks as it was), -1 out of memory. */
static int implies(const expr *g, keyset *ks) {
    uint32_t mark = ks->n;
    int r = 0;
    switch (g->kind) {
    case XK_SLOT_CMP:
        if (g->slot == ks->slot && g->op == NFA_OP_EQ) r = ks_add(ks, g->k);
        break;
    case XK_IN:
        if (g->a->kind != XK_SLOT || g->a->slot != ks->slot) break;
        r = 1;
        for (uint32_t i = 0; i < g->nargs && r == 1; i++)
            r = g->args[i]->kind == XK_CONST ? ks_add(ks, g->args[i]->k) : 0;
        break;
    case XK_BINARY:
        if (g->op == NFA_OP_AND) { /* either side is enough: its values bound both */
            r = implies(g->a, ks);
            if (r == 0) r = implies(g->b, ks);
        } else if (g->op == NFA_OP_OR) { /* both sides: the union of their values */
            r = implies(g->a, ks);
            if (r == 1) r = implies(g->b, ks);
        }
        break;
    default:
        break;
    }
    if (r != 1) ks->n = mark;
    return r;
}

/* How many different values ks holds (a long list: its length, a bound
 * good enough to compare fields by). */
static uint32_t distinct(const keyset *ks) {
    if (ks->n > 64) return ks->n;
    uint32_t d = 0;
    for (uint32_t i = 0; i < ks->n; i++) {
        uint32_t j = 0;
        while (j < i && !key_eq(&ks->v[j], &ks->v[i])) j++;
        d += j == i;
    }
    return d;
}

/* Fields an equality of g's and-chain tests: the candidates for routing. */
static void candidates(const expr *g, int32_t *c, uint32_t *n, uint32_t max) {
    if (g->kind == XK_BINARY && g->op == NFA_OP_AND) {
        candidates(g->a, c, n, max);
        candidates(g->b, c, n, max);
        return;
    }
    int32_t slot = g->kind == XK_SLOT_CMP && g->op == NFA_OP_EQ ? g->slot
                   : g->kind == XK_IN && g->a->kind == XK_SLOT ? g->a->slot
                                                                 : -1;
    if (slot < 0 || *n == max) return;
    for (uint32_t i = 0; i < *n; i++)
        if (c[i] == slot) return;
    c[(*n)++] = slot;
}

/* A start state without a shape whose edges are `take c`, `ignore not c`
 * (its take goes to a state that proceeds: `begin a ... notFollowedBy b
 * within ...`): c, which must hold for it to take anything; else NULL. */
static const expr *start_cond(const nfa_pattern *pat) {
    const nfa_state *st = &pat->states[pat->start];
    if (st->shape != SHAPE_GENERAL || st->kind != ST_NORMAL || st->nedges != 2) return NULL;
    const nfa_edge *e = &pat->edges[st->first_edge];
    if (e[0].kind != EDGE_TAKE || !e[0].cond || e[0].negate || e[1].kind != EDGE_IGNORE || e[1].cond != e[0].cond ||
        !e[1].negate || e[1].target != pat->start)
        return NULL;
    return e[0].cond;
}

/* What an event must pass to change anything of pattern pat in state s:
 * its gate, or the start's condition (above); NULL: unknown. */
static const expr *state_test(const nfa_pattern *pat, uint32_t s) {
    return pat->states[s].gate ? pat->states[s].gate : s == pat->start ? start_cond(pat) : NULL;
}

/* Does an event that passes no state's test leave pat as it was, for
 * every key? Skippable patterns (nfa.h) do, and so do those whose start
 * takes nothing then (start_cond) and whose every other state keeps its
 * partial matches on a closed gate: those the engine steps in full when
 * they are reached (not skippable: their start has no gate to test). */
static int routable(const nfa_pattern *pat) {
    if (pat->skippable) return 1;
    if (pat->start >= pat->nstates || !start_cond(pat)) return 0;
    for (uint32_t s = 0; s < pat->nstates; s++) {
        const nfa_state *st = &pat->states[s];
        if (s == pat->start || (st->kind != ST_NORMAL && st->kind != ST_PENDING)) continue;
        if (!st->gate || !(st->shape == SHAPE_FOLLOW || st->shape == SHAPE_NEGATE || st->shape == SHAPE_ANY)) return 0;
    }
    return 1;
}

/* A keyed pattern whose start has a gate (`begin a where type == "x" ...
 * next b ...`, a loop after it): the values that gate needs, for the
 * field among its candidates with the most (route_keys). */
static int start_keys(const nfa_pattern *pat, keyset *ks) {
    const nfa_state *st = pat->start < pat->nstates ? &pat->states[pat->start] : NULL;
    if (!st || !pat->nkeys || pat->start >= 64 || !st->gate || (st->shape != SHAPE_FOLLOW && st->shape != SHAPE_NEXT))
        return 0;
    int32_t cand[8];
    uint32_t nc = 0, best_n = 0;
    int32_t best = -1;
    candidates(st->gate, cand, &nc, 8);
    ks->cur = (uint64_t)1 << pat->start;
    for (uint32_t c = 0; c <= nc; c++) { /* (the last round gathers the best's values) */
        if (c == nc && best < 0) break;
        ks->slot = c == nc ? best : cand[c];
        ks->n = 0;
        int ok = implies(st->gate, ks);
        if (ok < 0) return -1;
        if (c == nc) {
            ks->start_only = 1;
            return 0;
        }
        uint32_t n = ok == 1 ? distinct(ks) + 1 : 0; /* + 1: a field of doubles only (no keys) still qualifies */
        if (n > best_n) best = cand[c], best_n = n;
    }
    ks->slot = -1;
    return 0;
}

/* A keyed pattern (start gated, FOLLOW or NEXT; states below 64) that
 * is not routable only because some states act on an event whatever
 * their gate says: none (a loop's decision graph), or one whose closing
 * ends the partial match (`next`). Those states into *every; 1 when there
 * are some. The pattern can be routed by the gates of all its other
 * states, and reached besides by every event of a key that has a partial
 * match in one of those (runtime/visit.c). */
static int keyed_every(const nfa_pattern *pat, uint64_t *every) {
    *every = 0;
    if (!pat->nkeys || pat->nstates > 64 || pat->start >= pat->nstates) return 0;
    const nfa_state *st = &pat->states[pat->start];
    if (!st->gate || (st->shape != SHAPE_FOLLOW && st->shape != SHAPE_NEXT)) return 0;
    for (uint32_t s = 0; s < pat->nstates; s++) {
        st = &pat->states[s];
        if (s == pat->start || (st->kind != ST_NORMAL && st->kind != ST_PENDING)) continue;
        if (!st->gate || !(st->shape == SHAPE_FOLLOW || st->shape == SHAPE_NEGATE || st->shape == SHAPE_ANY))
            *every |= (uint64_t)1 << s;
    }
    return *every != 0;
}

/* The test of state s that routes pat: NULL when s has none, or when it
 * is one of ks->every's without a gate (the key's visits cover it). */
static const expr *routed_test(const nfa_pattern *pat, uint32_t s, const keyset *ks, int *skip) {
    const expr *g = state_test(pat, s);
    *skip = !g && s < 64 && (ks->every >> s & 1);
    return g;
}

/* The keys pattern pat is routed by (ks->slot -1: not routed): a field
 * whose value every state that can hold a partial match needs, in its
 * gate, to be one of few constants. Only patterns that an event passing
 * no state's test leaves alone (routable) qualify, and keyed ones whose
 * other states are visited for every event of a key with a partial match
 * there (ks->every); of the others, a keyed one whose start has a gate is
 * routed by that gate alone (ks->start_only: the engine also visits it
 * when the event's key has state there). 0 or -1 (out of memory). */
static int route_keys(const nfa_pattern *pat, keyset *ks) {
    ks->slot = -1;
    ks->start_only = 0;
    ks->every = 0;
    if (!routable(pat) && !keyed_every(pat, &ks->every)) return start_keys(pat, ks);
    const expr *first = NULL;
    int skip;
    for (uint32_t s = 0; s < pat->nstates && !first; s++)
        if (pat->states[s].kind == ST_NORMAL || pat->states[s].kind == ST_PENDING) first = routed_test(pat, s, ks, &skip);
    if (!first) return 0;
    int32_t cand[8];
    uint32_t nc = 0;
    candidates(first, cand, &nc, 8);
    /* Of the fields that qualify, the one with the most values: an event
     * whose value is none of them skips the pattern, so more values
     * usually means fewer events reach it (`type == "BUY" and name ==
     * "ORCL"`: name's 4 values over 10 names, not type's 2 of 2). */
    int32_t best = -1;
    uint32_t best_n = 0;
    for (uint32_t c = 0; c < nc; c++) {
        ks->slot = cand[c];
        ks->n = 0;
        int ok = 1;
        for (uint32_t s = 0; s < pat->nstates && ok == 1; s++) {
            const nfa_state *st = &pat->states[s];
            if (st->kind != ST_NORMAL && st->kind != ST_PENDING) continue;
            ks->cur = s < 64 ? (uint64_t)1 << s : 0;
            const expr *g = routed_test(pat, s, ks, &skip);
            ok = g ? implies(g, ks) : skip;
        }
        if (ok < 0) return -1;
        uint32_t n = ok == 1 ? distinct(ks) + 1 : 0; /* + 1: a field of doubles only (no keys) still qualifies */
        if (n > best_n) best = cand[c], best_n = n;
    }
    ks->slot = best;
    if (best < 0) {
        if (!ks->every) return 0;
        ks->every = 0;
        return start_keys(pat, ks);
    }
    /* Gather the chosen field's values again (the last pass may be another's). */
    ks->n = 0;
    for (uint32_t s = 0; s < pat->nstates; s++) {
        const nfa_state *st = &pat->states[s];
        if (st->kind != ST_NORMAL && st->kind != ST_PENDING) continue;
        ks->cur = s < 64 ? (uint64_t)1 << s : 0;
        const expr *g = routed_test(pat, s, ks, &skip);
        if (g && implies(g, ks) < 0) return -1;
    }
    return 0;
}

/* ---- thresholds: the rest of a gate filed under a key ---------------------- */

/* Do constants a and b compare equal (value_equal: ints and doubles as
 * numbers)? */
static int const_eq(const cep_value *a, const cep_value *b) {
    int an = a->type == CEP_INT || a->type == CEP_DOUBLE, bn = b->type == CEP_INT || b->type == CEP_DOUBLE;
    if (an && bn) {
        if (a->type == CEP_INT && b->type == CEP_INT) return a->u.i == b->u.i;
        return (a->type == CEP_INT ? (double)a->u.i : a->u.d) == (b->type == CEP_INT ? (double)b->u.i : b->u.d);
    }
    if (a->type != CEP_STRING || b->type != CEP_STRING) return 0;
    return a->u.s.len == b->u.s.len && same_bytes(a->u.s.ptr, b->u.s.ptr, a->u.s.len);
}

/* Does c hold whenever field slot equals k (c's own evaluation pure)? */
static int implied(const expr *c, int32_t slot, const cep_value *k) {
    switch (c->kind) {
    case XK_SLOT_CMP: return c->slot == slot && c->op == NFA_OP_EQ && const_eq(&c->k, k);
    case XK_IN: {
        if (c->a->kind != XK_SLOT || c->a->slot != slot) return 0;
        int hit = 0;
        for (uint32_t i = 0; i < c->nargs; i++) {
            if (c->args[i]->kind != XK_CONST) return 0;
            hit |= const_eq(&c->args[i]->k, k);
        }
        return hit;
    }
    case XK_BINARY:
        if (c->op == NFA_OP_AND) return implied(c->a, slot, k) && implied(c->b, slot, k);
        if (c->op == NFA_OP_OR) return implied(c->a, slot, k) || implied(c->b, slot, k);
        return 0;
    default: return 0;
    }
}

/* Can c be left unevaluated without anyone noticing (no regex, whose
 * errors are counted, no call)? */
static int pure(const expr *c) {
    switch (c->kind) {
    case XK_CONST:
    case XK_SLOT:
    case XK_SLOT_CMP: return 1;
    case XK_UNARY:
    case XK_ISNULL: return pure(c->a);
    case XK_BINARY: return pure(c->a) && pure(c->b);
    case XK_IN:
        for (uint32_t i = 0; i < c->nargs; i++)
            if (!pure(c->args[i])) return 0;
        return pure(c->a);
    default: return 0;
    }
}

/* A conjunct the index can decide by sorted thresholds. */
static int thresholdable(const expr *c) {
    if (c->kind != XK_SLOT_CMP || c->op == NFA_OP_NE || c->op < NFA_OP_EQ || c->op > NFA_OP_GE) return 0;
    return c->k.type == CEP_INT || c->k.type == CEP_STRING || (c->k.type == CEP_DOUBLE && isfinite(c->k.u.d));
}

/* A threshold while building: its key's entry and its group. */
typedef struct thr_build {
    const route_ent *e;
    int32_t slot;
    uint8_t op, type;
    route_thr t;
} thr_build;

typedef struct thr_list {
    thr_build *v;         /* NULL: only count them (n) */
    size_t n, cap;
} thr_list;

/* Walk the and-chain of gate g, filed under key k of field slot, state s,
 * at pos of entry e: its conjuncts the key implies, and those it can
 * decide by thresholds (added to l) while every conjunct before them is
 * pure (so that leaving them unevaluated changes nothing). *full: every
 * conjunct is one of the two. 0 or -1 (out of memory). */
static int chain_thresholds(const expr *g, int32_t slot, const cep_value *k, const route_ent *e, uint32_t pos,
                            uint32_t s, thr_list *l, int *full, int *impure) {
    if (g->kind == XK_BINARY && g->op == NFA_OP_AND) {
        if (chain_thresholds(g->a, slot, k, e, pos, s, l, full, impure) < 0) return -1;
        return chain_thresholds(g->b, slot, k, e, pos, s, l, full, impure);
    }
    if (implied(g, slot, k)) return 0;
    if (*impure || !thresholdable(g)) {
        *full = 0;
        if (!pure(g)) *impure = 1;
        return 0;
    }
    if (!l->v) {
        l->n++;
        return 0;
    }
    if (l->n == l->cap) return -1; /* (counted before: cannot happen) */
    l->v[l->n++] = (thr_build){e, g->slot, g->op, (uint8_t)g->k.type, {g->k, pos, s}};
    return 0;
}

/* The states of bits (pattern pi, at pos of entry e of field slot, whose
 * key is k) that the key decides with thresholds: sure gets those it
 * opens unless a threshold fails. e NULL: only count the thresholds. */
static int state_thresholds(const cep_program *p, nfa_route *r, uint32_t pi, int32_t slot, const cep_value *k,
                            const route_ent *e, uint32_t pos, uint64_t bits, thr_list *l) {
    for (; bits; bits &= bits - 1) {
        uint32_t s = (uint32_t)__builtin_ctzll(bits);
        const expr *g = p->patterns[pi].states[s].gate;
        int full = 1, impure = 0;
        if (!g) continue;
        if (chain_thresholds(g, slot, k, e, pos, s, l, &full, &impure) < 0) return -1;
        if (full && e) {
            r->sure[e->first + pos] |= (uint64_t)1 << s;
            r->nsure++;
        }
    }
    return 0;
}

static int cmp_const(const cep_value *a, const cep_value *b) {
    if (a->type == CEP_INT) return (a->u.i > b->u.i) - (a->u.i < b->u.i);
    if (a->type == CEP_DOUBLE) return (a->u.d > b->u.d) - (a->u.d < b->u.d);
    size_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
    int c = n ? memcmp(a->u.s.ptr, b->u.s.ptr, n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return (a->u.s.len > b->u.s.len) - (a->u.s.len < b->u.s.len);
}

/* By entry, group (field, op, type), constant. */
static int cmp_thr(const void *x, const void *y) {
    const thr_build *a = x, *b = y;
    if (a->e != b->e) return (uintptr_t)a->e < (uintptr_t)b->e ? -1 : 1;
    if (a->slot != b->slot) return a->slot < b->slot ? -1 : 1;
    if (a->op != b->op) return a->op < b->op ? -1 : 1;
    if (a->type != b->type) return a->type < b->type ? -1 : 1;
    int c = cmp_const(&a->t.c, &b->t.c);
    if (c) return c;
    return a->t.pos != b->t.pos ? (a->t.pos < b->t.pos ? -1 : 1) : (a->t.state > b->t.state) - (a->t.state < b->t.state);
}

/* Sort l into the route's groups, each entry's together. */
static int same_group(const thr_build *a, const thr_build *b) {
    return a->e == b->e && a->slot == b->slot && a->op == b->op && a->type == b->type;
}

static int thresholds_place(nfa_route *r, thr_list *l) {
    if (!l->n) return 0;
    qsort(l->v, l->n, sizeof *l->v, cmp_thr);
    size_t ngroups = 1;
    for (size_t i = 1; i < l->n; i++) ngroups += !same_group(&l->v[i - 1], &l->v[i]);
    r->thr = mem_alloc(l->n * sizeof *r->thr);
    r->tg = mem_alloc(ngroups * sizeof *r->tg);
    if (!r->thr || !r->tg) return -1;
    for (size_t i = 0; i < l->n; i++) {
        const thr_build *t = &l->v[i];
        r->thr[r->nthr++] = t->t;
        route_ent *e = (route_ent *)t->e; /* the route's own, being built */
        if (!i || l->v[i - 1].e != t->e) {
            e->tg_first = r->ntg;
            e->tg_n = 0;
        }
        if (!i || !same_group(&l->v[i - 1], t)) {
            r->tg[r->ntg++] = (route_tgroup){t->slot, t->op, t->type, r->nthr - 1, 0};
            e->tg_n++;
        }
        r->tg[r->ntg - 1].n++;
    }
    return 0;
}

void nfa_route_free(nfa_route *r) {
    if (!r) return;
    for (uint32_t i = 0; i < r->nfields; i++) {
        mem_free(r->fields[i].ents);
        mem_free(r->fields[i].tags);
    }
    mem_free(r->fields);
    mem_free(r->always);
    mem_free(r->pool);
    mem_free(r->maybe);
    mem_free(r->sure);
    mem_free(r->tg);
    mem_free(r->thr);
    mem_free(r->exact_dispatch);
    mem_free(r->keyed);
    mem_free(r->keyed_every);
    mem_free(r);
}

/* Per field slot while building: its route field's index + 1 (0: none
 * yet), so that finding a pattern's field is one load, not a scan of the
 * fields so far (50,000 patterns each routed by its own field took 6 s);
 * and how many keys its patterns name in all (with repeats). */
typedef struct slot_build {
    uint32_t fidx;
    uint32_t keys;
} slot_build;

/* A new field for slot, its table at 16 entries (add_keys grows it);
 * NULL on out-of-memory. */
static route_field *field_new(nfa_route *r, slot_build *sb, int32_t slot) {
    sb[slot].fidx = r->nfields + 1;
    route_field *f = &r->fields[r->nfields++];
    f->slot = slot;
    f->mask = 15;
    f->ents = mem_calloc(f->mask + 1, sizeof *f->ents);
    return f->ents ? f : NULL;
}

/* Double f's table (its keys rehashed). 0 or -1 (out of memory). */
static int field_grow(route_field *f) {
    route_field g = *f;
    g.mask = 2 * f->mask + 1;
    if (!(g.ents = mem_calloc(g.mask + 1, sizeof *g.ents))) return -1;
    for (uint32_t i = 0; i <= f->mask; i++)
        if (f->ents[i].k.type != CEP_NULL) *find(&g, &f->ents[i].k) = f->ents[i];
    mem_free(f->ents);
    *f = g;
    return 0;
}

/* Add pattern pi under each of its keys in f: p NULL counts (room not
 * yet made), else fills, with the thresholds of its gates (into l). A
 * pattern is added once per entry. 0 or -1 (out of memory). */
static int add_keys(const cep_program *p, nfa_route *r, route_field *f, const keyset *ks, uint32_t pi,
                    thr_list *l, uint32_t most) {
    for (uint32_t k = 0; k < ks->n; k++) {
        route_ent *e = find(f, &ks->v[k]);
        if (e->k.type == CEP_NULL) { /* (only while counting: p NULL) */
            /* Kept under an eighth full, so that a value no pattern
             * names (most events') meets an empty slot at once (at half
             * full the varying probe count costs more than the misses
             * it saves); but no larger than twice the keys named in all
             * (most), which sparse fields of many values reach first:
             * W8's 100 types take 1,024 entries at any rule count. */
            uint32_t cap = f->mask + 1, n = f->nkeys + 1;
            if (2 * n > cap || (8 * n > cap && cap < 2 * most)) {
                if (field_grow(f) < 0) return -1;
                e = find(f, &ks->v[k]);
            }
            e->k = ks->v[k]; /* borrows the program's constant */
            e->last = UINT32_MAX;
            f->nkeys++;
        }
        uint64_t bits = ks->m[k];
        if (e->last == pi) { /* a key two states share (or one state twice) */
            if (!p) continue;
            bits &= ~r->maybe[e->first + e->n - 1];
            r->maybe[e->first + e->n - 1] |= bits;
        } else {
            e->last = pi;
            if (!p) {
                e->n++;
                continue;
            }
            r->maybe[e->first + e->n] = bits;
            r->sure[e->first + e->n] = 0;
            r->pool[e->first + e->n++] = pi;
        }
        if (!ks->start_only && state_thresholds(p, r, pi, f->slot, &e->k, e, e->n - 1, bits, l) < 0) return -1;
    }
    return 0;
}

int nfa_route_build(cep_program *p) {
    int rc = CEP_ENOMEM;
    nfa_route *r = NULL;
    thr_list thr = {0};
    slot_build *sb = NULL;
    keyset *ks = mem_calloc(p->npatterns ? p->npatterns : 1, sizeof *ks);
    if (!ks) return CEP_ENOMEM;
    uint32_t nrouted = 0, nkeys = 0;
    uint32_t nstart = 0;
    for (uint32_t i = 0; i < p->npatterns; i++) {
        if (route_keys(&p->patterns[i], &ks[i]) < 0) goto out;
        if (ks[i].slot >= 0) nrouted++, nkeys += ks[i].n;
        if (ks[i].slot >= 0 && ks[i].every) nstart++;
        if (ks[i].slot >= 0 && ks[i].start_only) {
            nstart++;
            for (uint32_t k = 0; k < ks[i].n; k++) ks[i].m[k] = ~(uint64_t)0; /* its other states: not known */
        }
    }
    rc = CEP_OK;
    if (!nrouted) goto out;
    rc = CEP_ENOMEM;
    if (!(sb = mem_calloc(p->nfields ? p->nfields : 1, sizeof *sb))) goto out;
    for (uint32_t i = 0; i < p->npatterns; i++)
        if (ks[i].slot >= 0) sb[ks[i].slot].keys += ks[i].n;
    if (!(r = mem_calloc(1, sizeof *r))) goto out;
    r->nwords = (p->npatterns + 63) / 64;
    r->always = mem_alloc((p->npatterns - nrouted + 1) * sizeof *r->always);
    r->fields = mem_calloc(nrouted, sizeof *r->fields);
    /* Each pattern once per key, and once in its field's list of all. */
    r->pool = mem_alloc(((size_t)nkeys + nrouted) * sizeof *r->pool);
    r->maybe = mem_alloc(((size_t)nkeys + nrouted) * sizeof *r->maybe);
    r->sure = mem_alloc(((size_t)nkeys + nrouted) * sizeof *r->sure);
    r->exact_dispatch = mem_calloc(r->nwords, sizeof *r->exact_dispatch);
    r->keyed = mem_alloc((nstart + 1) * sizeof *r->keyed);
    r->keyed_every = mem_alloc((nstart + 1) * sizeof *r->keyed_every);
    if (!r->always || !r->fields || !r->pool || !r->maybe || !r->sure || !r->exact_dispatch || !r->keyed ||
        !r->keyed_every)
        goto out;

    /* Count the patterns behind each key, then make room, then fill in
     * pattern order, so that every list comes out ascending. */
    for (uint32_t i = 0; i < p->npatterns; i++) {
        if (ks[i].slot < 0) {
            r->always[r->nalways++] = i;
            continue;
        }
        const slot_build *b = &sb[ks[i].slot];
        route_field *f = b->fidx ? &r->fields[b->fidx - 1] : field_new(r, sb, ks[i].slot);
        if (!f) goto out;
        f->all_n++;
        if (add_keys(NULL, r, f, &ks[i], i, NULL, b->keys) < 0) goto out;
    }
    uint32_t at = 0;
    for (uint32_t i = 0; i < r->nfields; i++) {
        route_field *f = &r->fields[i];
        f->all_first = at;
        at += f->all_n;
        f->all_n = 0;
        if (!(f->tags = mem_calloc(f->mask + 1, sizeof *f->tags))) goto out;
        for (uint32_t s = 0; s <= f->mask; s++)
            if (f->ents[s].k.type != CEP_NULL) {
                f->tags[s] = key_tag(key_hash(&f->ents[s].k));
                f->ents[s].first = at;
                at += f->ents[s].n;
                f->ents[s].n = 0;
                f->ents[s].last = UINT32_MAX;
            }
    }
    /* The thresholds, counted (at most: a key two states share counts
     * twice), then made room for, so that the list is allocated once. */
    for (uint32_t i = 0; i < p->npatterns; i++)
        for (uint32_t k = 0; ks[i].slot >= 0 && !ks[i].start_only && k < ks[i].n; k++)
            state_thresholds(p, r, i, ks[i].slot, &ks[i].v[k], NULL, 0, ks[i].m[k], &thr);
    if (thr.n && !(thr.v = mem_alloc(thr.n * sizeof *thr.v))) goto out;
    thr.cap = thr.n;
    thr.n = 0;
    for (uint32_t i = 0; i < p->npatterns; i++) {
        if (ks[i].slot < 0) continue;
        route_field *f = &r->fields[sb[ks[i].slot].fidx - 1];
        r->maybe[f->all_first + f->all_n] = ~(uint64_t)0;
        r->sure[f->all_first + f->all_n] = 0;
        r->pool[f->all_first + f->all_n++] = i;
        if (add_keys(p, r, f, &ks[i], i, &thr, 0) < 0) goto out;
        if (ks[i].start_only || ks[i].every) {
            r->keyed_every[r->nkeyed] = ks[i].start_only ? ~(uint64_t)0 : ks[i].every;
            r->nkeyed_start += ks[i].start_only;
            r->keyed[r->nkeyed++] = i;
            if (ks[i].start_only) continue;
        }
        /* Dispatched on the field it is routed by: the route's state
         * mask decides its dispatch too (nfa_dispatch, not needed). */
        if (p->patterns[i].dispatch_slot == ks[i].slot) r->exact_dispatch[i / 64] |= (uint64_t)1 << (i % 64);
    }
    if (thresholds_place(r, &thr) < 0) goto out;
    p->route = r;
    r = NULL;
    rc = CEP_OK;
out:
    nfa_route_free(r);
    mem_free(thr.v);
    mem_free(sb);
    for (uint32_t i = 0; i < p->npatterns; i++) {
        mem_free(ks[i].v);
        mem_free(ks[i].m);
    }
    mem_free(ks);
    return rc;
}

const uint32_t *nfa_route_lookup(const nfa_route *r, const route_field *f, const cep_value *v, uint32_t *n,
                                 const route_ent **ent) {
    *n = 0;
    *ent = NULL;
    if (v->type == CEP_DOUBLE) {
        *n = f->all_n;
        return r->pool + f->all_first;
    }
    if (v->type != CEP_INT && v->type != CEP_STRING) return NULL;
    uint64_t h = key_hash(v);
    uint8_t tag = key_tag(h);
    for (uint32_t i = (uint32_t)h & f->mask;; i = (i + 1) & f->mask) {
        uint8_t t = f->tags[i];
        if (!t) return NULL;
        if (t != tag || !key_eq(&f->ents[i].k, v)) continue;
        *n = f->ents[i].n;
        *ent = &f->ents[i];
        return r->pool + f->ents[i].first;
    }
}
