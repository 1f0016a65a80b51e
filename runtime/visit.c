/* visit.c — the patterns an event visits, from the program's route
 * (nfa/route.c): those that see every event, and those filed under the
 * event's value of each routed field, in pattern order, each with what the
 * index says of its gates. A gate `type == "t3" and amount >= 412` filed
 * under "t3" is decided here from the event's amount by binary search
 * among the sorted thresholds of "t3"'s patterns: closed unread when the
 * amount fails, open unread when the two conjuncts are the whole gate.
 * The comparisons are value_compare's (runtime/eval.c): ints exactly,
 * ints and doubles as doubles, NaN, null and other types never pass. */
#include "config.h"
#include "bytes.h"
#include "engine.h"
#include "mem.h"
#include "route.h"

#include <math.h>
#include <string.h>

/* How a group's constants compare with the event's value. */
enum { TC_NONE, TC_INT, TC_DBL, TC_STR };

static inline int thr_cmp(int kind, const cep_value *c, const cep_value *v, double vd) {
    if (kind == TC_INT) return (c->u.i > v->u.i) - (c->u.i < v->u.i);
    if (kind == TC_DBL) {
        double x = c->type == CEP_INT ? (double)c->u.i : c->u.d;
        return (x > vd) - (x < vd);
    }
    size_t n = c->u.s.len < v->u.s.len ? c->u.s.len : v->u.s.len;
    int r = n ? memcmp(c->u.s.ptr, v->u.s.ptr, n) : 0;
    if (r) return r < 0 ? -1 : 1;
    return (c->u.s.len > v->u.s.len) - (c->u.s.len < v->u.s.len);
}

/* The first of t[0..n) whose constant is >= v (strict 0) or > v (1). */
static uint32_t thr_bound(const route_thr *t, uint32_t n, int kind, const cep_value *v, double vd, int strict) {
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (thr_cmp(kind, &t[mid].c, v, vd) < strict) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static inline void thr_close(uint64_t *closed, const route_thr *t, uint32_t from, uint32_t to) {
    for (uint32_t i = from; i < to; i++) closed[t[i].pos] |= (uint64_t)1 << t[i].state;
}

/* Close the gates of group g's thresholds that value v fails. */
static void thr_apply(uint64_t *out, const route_tgroup *g, const route_thr *t, const cep_value *v) {
    int kind = TC_NONE;
    double vd = 0;
    if (g->type == CEP_STRING) {
        if (v->type == CEP_STRING) kind = TC_STR;
    } else if (g->type == CEP_INT && v->type == CEP_INT) {
        kind = TC_INT;
    } else if (v->type == CEP_INT || v->type == CEP_DOUBLE) {
        vd = v->type == CEP_INT ? (double)v->u.i : v->u.d;
        if (!isnan(vd)) kind = TC_DBL;
    }
    if (kind == TC_NONE) { /* null, a bool, another type or NaN: every one fails */
        thr_close(out, t, 0, g->n);
        return;
    }
    if (g->n <= 4) { /* a few: each compared, cheaper than searching */
        for (uint32_t i = 0; i < g->n; i++) {
            int pass;
            if (kind == TC_STR && g->op == NFA_OP_EQ) {
                pass = t[i].c.u.s.len == v->u.s.len && same_bytes(t[i].c.u.s.ptr, v->u.s.ptr, v->u.s.len);
            } else {
                int c = thr_cmp(kind, &t[i].c, v, vd); /* the constant against the value */
                pass = g->op == NFA_OP_GE ? c <= 0 : g->op == NFA_OP_GT ? c < 0 : g->op == NFA_OP_LE ? c >= 0
                     : g->op == NFA_OP_LT ? c > 0 : c == 0;
            }
            if (!pass) thr_close(out, t, i, i + 1);
        }
        return;
    }
    uint32_t pass_lo = 0, pass_hi = g->n;
    switch (g->op) {
    case NFA_OP_GE: pass_hi = thr_bound(t, g->n, kind, v, vd, 1); break;     /* c <= v */
    case NFA_OP_GT: pass_hi = thr_bound(t, g->n, kind, v, vd, 0); break;     /* c < v */
    case NFA_OP_LE: pass_lo = thr_bound(t, g->n, kind, v, vd, 0); break;     /* c >= v */
    case NFA_OP_LT: pass_lo = thr_bound(t, g->n, kind, v, vd, 1); break;     /* c > v */
    default:                                                                  /* c == v */
        pass_lo = thr_bound(t, g->n, kind, v, vd, 0);
        pass_hi = pass_lo + thr_bound(t + pass_lo, g->n - pass_lo, kind, v, vd, 1);
        break;
    }
    thr_close(out, t, 0, pass_lo);
    thr_close(out, t, pass_hi, g->n);
}

/* One routed field's patterns for the event's value (nfa_route_lookup). */
typedef struct field_list {
    const uint32_t *pi;
    uint32_t n;
    const route_ent *ent;
} field_list;

/* The gates that the thresholds of ent's value close, per pattern of its
 * list, into closed[0 .. ent->n), which is all zeros before (whoever
 * reads an entry sets it back to 0: no clearing pass per event). */
static void ent_closed(const nfa_route *r, const route_ent *ent, const cep_value *vals, uint64_t *closed) {
    for (uint32_t i = 0; i < ent->tg_n; i++) {
        const route_tgroup *g = &r->tg[ent->tg_first + i];
        thr_apply(closed, g, r->thr + g->first, &vals[g->slot]);
    }
}

/* The visits of a field's list, at out. */
static void field_visits(const nfa_route *r, const field_list *l, const cep_value *vals, uint64_t *closed,
                         route_visit *out) {
    const route_ent *ent = l->ent;
    if (!ent) {
        for (uint32_t i = 0; i < l->n; i++) out[i] = (route_visit){~(uint64_t)0, 0, l->pi[i], 0};
        return;
    }
    ent_closed(r, ent, vals, closed);
    const uint64_t *maybe = r->maybe + ent->first, *sure = r->sure + ent->first;
    for (uint32_t i = 0; i < l->n; i++) {
        uint64_t c = ~closed[i];
        closed[i] = 0;
        out[i] = (route_visit){maybe[i] & c, sure[i] & c, l->pi[i], 1};
    }
}

/* Merge a[0..na) and b[0..nb), ascending and each without repeats, into
 * o; a pattern in both once (a's). Returns how many. */
static uint32_t visit_merge(const route_visit *a, uint32_t na, const route_visit *b, uint32_t nb, route_visit *o) {
    uint32_t i = 0, j = 0, n = 0;
    while (i < na && j < nb) {
        if (a[i].pi == b[j].pi) j++;
        else o[n++] = a[i].pi < b[j].pi ? a[i++] : b[j++];
    }
    while (i < na) o[n++] = a[i++];
    while (j < nb) o[n++] = b[j++];
    return n;
}

/* The route's keyed patterns (route.keyed) that the event reaches whatever
 * its value: those whose key has a partial match in one of their
 * keyed_every states, where every event counts. In one key group, the
 * key's entry marks those (kref.due, set when such a bucket is made,
 * cleared here once it is gone). Alone in its key group, or under a
 * memory budget (which makes room before any step), every one. Into out,
 * ascending; their count. */
static uint32_t keyed_visits(cep_engine *e, const nfa_route *r, const cep_value *vals, route_visit *out) {
    uint32_t n = 0;
    int one = e->keyset.keyed_group != NO_GROUP && !e->cfg.max_bytes;
    key_entry *ent = NULL;
    if (one && pattern_group_entry(e, r->keyed[0], vals, &ent) == CEP_OK) {
        if (!ent || !ent->ndue) return 0;
        /* (The scan ends at the last due kref: W7's card holds a few among
         * 64 or 128 slots.) */
        uint32_t left = ent->ndue;
        for (kref *k = ent->tab, *end = ent->tab + ent->mask + 1; k < end && left; k++) {
            if (!k->due) continue;
            left--;
            if (!key_waits_in(k->ks, e->rt[k->pattern].keyed_every)) {
                k->due = 0;
                ent->ndue--;
                continue;
            }
            uint32_t j = n++;
            for (; j > 0 && out[j - 1].pi > k->pattern; j--) out[j] = out[j - 1];
            out[j] = (route_visit){~(uint64_t)0, 0, k->pattern, 0};
        }
        return n;
    }
    for (uint32_t i = 0; i < r->nkeyed; i++) {
        uint32_t pi = r->keyed[i];
        if (e->rt[pi].kgroup != NO_GROUP && !e->cfg.max_bytes && pattern_group_entry(e, pi, vals, &ent) == CEP_OK) {
            const key_state *ks = ent ? entry_get(ent, pi) : NULL;
            if (!ks || !key_waits_in(ks, r->keyed_every[i])) continue;
        } /* (else: step_pattern reports the error) */
        out[n++] = (route_visit){~(uint64_t)0, 0, pi, 0};
    }
    return n;
}

/* The general case: every list merged into one, in the scratch (f0, the
 * first field's lookup, already made; tmp's first m hold the keyed list). */
static uint32_t visit_merged(cep_engine *e, const nfa_route *r, const cep_value *vals, const field_list *f0,
                             uint32_t m, const route_visit **v) {
    engine_scratch *sc = &e->scratch;
    route_visit *out = sc->visit, *tmp = sc->visit_tmp;
    /* The lists are disjoint (a pattern is routed by one field, or sees
     * every event) and each ascending: merged, at most one of each. The
     * keyed list (tmp's first m) may repeat some: merged last, once; the
     * others are merged in out and above it in tmp. */
    route_visit *base = tmp + m, *cur = out;
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->nalways; i++) cur[n++] = (route_visit){~(uint64_t)0, 0, r->always[i], 0};
    for (uint32_t f = 0; f < r->nfields; f++) {
        field_list l = *f0;
        if (f) l.pi = nfa_route_lookup(r, &r->fields[f], &vals[r->fields[f].slot], &l.n, &l.ent);
        if (!l.n) continue;
        field_visits(r, &l, vals, sc->closed, cur + n);
        if (n == 0) {
            n = l.n;
            continue;
        }
        route_visit *o = cur == out ? base : out;
        n = visit_merge(cur, n, cur + n, l.n, o);
        cur = o;
    }
    if (m) {
        route_visit *o = cur == out ? base : out;
        n = visit_merge(cur, n, tmp, m, o);
        cur = o;
    }
    *v = cur;
    return n;
}

int visit_build(cep_engine *e, const nfa_route *r, const cep_value *vals, visit_set *vs) {
    engine_scratch *sc = &e->scratch;
    uint32_t need = 2 * e->prog->npatterns + 1; /* (keyed_visits: room for the list beside its copy) */
    if (sc->visit_cap < need) {
        size_t cap = sc->visit_cap, tcap = sc->visit_cap, ccap = sc->visit_cap;
        if (mem_grow((void **)&sc->visit, &cap, need, sizeof *sc->visit) < 0 ||
            mem_grow((void **)&sc->visit_tmp, &tcap, cap, sizeof *sc->visit_tmp) < 0 ||
            mem_grow((void **)&sc->closed, &ccap, cap, sizeof *sc->closed) < 0)
            return -1;
        memset(sc->closed, 0, ccap * sizeof *sc->closed); /* (ent_closed: zeros at rest) */
        sc->visit_cap = (uint32_t)(cap < tcap ? (cap < ccap ? cap : ccap) : (tcap < ccap ? tcap : ccap));
    }
    field_list l = {NULL, 0, NULL};
    if (r->nfields) l.pi = nfa_route_lookup(r, &r->fields[0], &vals[r->fields[0].slot], &l.n, &l.ent);
    uint32_t m = r->nkeyed ? keyed_visits(e, r, vals, sc->visit_tmp) : 0;
    if (r->nfields == 1 && !r->nalways && !m) {
        if (!l.n) return 0; /* (most events of a stream that no rule names) */
        if (l.ent) {
            /* One routed value's patterns and nothing else: read in place
             * (the visit loop sets closed back to zeros as it reads it). */
            ent_closed(r, l.ent, vals, sc->closed);
            vs->pi = l.pi;
            vs->maybe = r->maybe + l.ent->first;
            vs->sure = r->sure + l.ent->first;
            return (int)l.n;
        }
    }
    vs->pi = NULL;
    return (int)visit_merged(e, r, vals, &l, m, &vs->v);
}
