/* automaton.c — a checked step sequence to NFA states and edges, built the
 * way Apache Flink's NFACompiler builds them (backwards from the final
 * state), so that quantifiers, contiguity, negation, groups, greedy and
 * until behave exactly as in Flink CEP. The function names follow Flink's
 * so the two can be read side by side. */
#include "config.h"
#include "compile.h"
#include "diag.h"
#include "bytes.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

#define NONE ((uint32_t)-1)

typedef enum strategy { S_STRICT, S_NEXT, S_ANY, S_NOT_NEXT, S_NOT_FOLLOW } strategy;

typedef struct bedge {
    edge_kind kind;
    uint32_t target;
    expr *cond; /* never NULL while building: b->t stands for "true" */
} bedge;

typedef struct bstate {
    state_kind kind;
    uint32_t step;
    int64_t gap;
    bedge *e;
    size_t n, cap;
} bstate;

typedef struct loopflag {
    const ast_step *group;
    int first;
} loopflag;

typedef struct stopref {
    uint32_t step, state;
} stopref;

typedef struct elem {
    const ast_step *s, *prev; /* an element and the one before it (NULL: first) */
    uint32_t prev_i;          /* index of prev, NONE when NULL */
    uint32_t nnots;           /* index_elems */
} elem;

typedef struct elem_ref {
    const ast_step *s;
    uint32_t i;
} elem_ref;

typedef struct builder {
    cctx *c;
    const ast_pattern *ap;
    bstate *st;
    size_t nst, capst;
    const ast_step *current, *following, *group;
    uint32_t *original;   /* greedy with until: state -> its pre-greedy copy */
    loopflag *fl;
    size_t nfl, capfl;
    stopref *stops;
    size_t nstops, capstops;
    size_t caporig;
    expr *t;              /* the constant true */
    expr **where;         /* compiled `where` per step index */
    elem *elems;          /* in the order collect_elems found them */
    elem_ref *byaddr;     /* the same by address */
    size_t nelems, capelems;
    uint64_t work;        /* states, edges and element lookups so far */
    int err;
} builder;


/* Work one pattern may cost the builder (states, edges, element lookups):
 * far above what patterns within MAX_STATES need (5000 steps: 35000; 5000
 * optional steps: 60000; ten nested looping groups: 70000), small enough
 * that no pattern text keeps the builder busy for long (docs/errors.md);
 * past it, the pattern gets a limit error like MAX_STATES's. */
#define MAX_WORK 2000000u

/* Count n units of work; 0 once over budget (b->err set, reported once). */
static int spend(builder *b, uint64_t n) {
    if (b->err) return 0;
    b->work += n;
    if (b->work <= MAX_WORK) return 1;
    if (!b->c->failed)
        diag_add(b->c->d, CEP_DIAG_LIMIT, b->ap->name_sp.start,
                 "pattern '%s' is too complex to compile (more than %u steps of work); "
                 "lower its quantifier bounds or group nesting",
                 b->ap->name, MAX_WORK);
    b->c->failed = 1;
    b->err = 1;
    return 0;
}

/* ---- elements -------------------------------------------------------------------------- */

static strategy conn_strategy(const ast_step *s);
static int is_optional(const ast_step *s);

static void collect_elems(builder *b, const ast_step *s, const ast_step *prev, uint32_t prev_i) {
    for (; s && !b->err; prev = s, s = s->next) {
        if (mem_grow((void **)&b->elems, &b->capelems, b->nelems + 1, sizeof *b->elems) < 0) {
            b->err = 1;
            b->c->oom = 1;
            return;
        }
        b->elems[b->nelems] = (elem){s, prev, prev_i, 0};
        prev_i = (uint32_t)b->nelems++;
        if (s->is_group) collect_elems(b, s->body, NULL, NONE);
    }
}

static int elem_cmp(const void *x, const void *y) {
    uintptr_t a = (uintptr_t)((const elem_ref *)x)->s, b = (uintptr_t)((const elem_ref *)y)->s;
    return (a > b) - (a < b);
}

/* The elements by address, for a binary search; and per element how many
 * notFollowedBy steps are reached back through optional ones (0 for most,
 * so that current_not_conditions need not walk back for them). */
static int index_elems(builder *b) {
    b->byaddr = mem_alloc((b->nelems ? b->nelems : 1) * sizeof *b->byaddr);
    if (!b->byaddr) {
        b->c->oom = 1;
        b->err = 1;
        return -1;
    }
    for (size_t i = 0; i < b->nelems; i++) {
        elem *e = &b->elems[i];
        b->byaddr[i] = (elem_ref){e->s, (uint32_t)i};
        if (e->prev_i != NONE) { /* collected before e */
            const elem *q = &b->elems[e->prev_i];
            int nf = conn_strategy(q->s) == S_NOT_FOLLOW;
            if (is_optional(q->s) || nf) e->nnots = q->nnots + (uint32_t)nf;
        }
    }
    qsort(b->byaddr, b->nelems, sizeof *b->byaddr, elem_cmp);
    return 0;
}

/* Index of element s in b->elems, NONE if it is not one. */
static uint32_t elem_index(builder *b, const ast_step *s) {
    if (!spend(b, 1)) return NONE;
    size_t lo = 0, hi = b->nelems;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)b->byaddr[mid].s < (uintptr_t)s) lo = mid + 1;
        else hi = mid;
    }
    return lo < b->nelems && b->byaddr[lo].s == s ? b->byaddr[lo].i : NONE;
}

static const ast_step *prev(builder *b, const ast_step *s) {
    uint32_t i = elem_index(b, s);
    return i == NONE ? NULL : b->elems[i].prev;
}

static strategy conn_strategy(const ast_step *s) {
    switch (s->conn) {
    case CONN_NEXT: return S_STRICT;
    case CONN_FOLLOWED_BY_ANY: return S_ANY;
    case CONN_NOT_NEXT: return S_NOT_NEXT;
    case CONN_NOT_FOLLOWED_BY: return S_NOT_FOLLOW;
    default: return S_NEXT; /* begin and followedBy: skip till next */
    }
}

static const ast_mod *find_mod(const ast_step *s, mod_kind k) {
    for (const ast_mod *m = s->mods; m; m = m->next)
        if (m->kind == k) return m;
    return NULL;
}

static strategy inner_strategy(const ast_step *s) {
    if (find_mod(s, MOD_CONSECUTIVE)) return S_STRICT;
    if (find_mod(s, MOD_ALLOW_COMBINATIONS)) return S_ANY;
    return S_NEXT;
}

static int is_looping(const ast_step *s) {
    return s->quant.kind == Q_PLUS || s->quant.kind == Q_STAR || s->quant.kind == Q_AT_LEAST;
}

static int is_times(const ast_step *s) { return s->quant.kind == Q_TIMES || s->quant.kind == Q_RANGE; }

static int is_optional(const ast_step *s) {
    return s->quant.kind == Q_OPTIONAL || s->quant.kind == Q_STAR || s->quant.optional ||
           ((s->quant.kind == Q_RANGE || s->quant.kind == Q_AT_LEAST) && s->quant.min == 0);
}

static int is_greedy(const ast_step *s) { return find_mod(s, MOD_GREEDY) != NULL; }

/* Flink's Times(from, to): {0,m} is optional with from 1, as times(0, m). */
static void times_of(const ast_step *s, int64_t *from, int64_t *to) {
    int64_t lo = s->quant.min, hi = s->quant.max;
    switch (s->quant.kind) {
    case Q_TIMES: *from = *to = lo; return;
    case Q_RANGE: *from = lo ? lo : 1; *to = hi; return;
    case Q_AT_LEAST: *from = *to = lo ? lo : 1; return;
    default: *from = *to = 1; return;
    }
}

/* ---- states ------------------------------------------------------------------------------- */

static uint32_t new_state(builder *b, state_kind kind, const ast_step *s) {
    if (!spend(b, 1)) return NONE;
    if (b->nst >= MAX_STATES) {
        if (!b->c->failed)
            diag_add(b->c->d, CEP_DIAG_LIMIT, b->ap->name_sp.start,
                     "pattern '%s' needs more than %d NFA states; lower its quantifier bounds",
                     b->ap->name, MAX_STATES);
        b->c->failed = 1;
        b->err = 1;
        return NONE;
    }
    if (mem_grow((void **)&b->st, &b->capst, b->nst + 1, sizeof *b->st) < 0) {
        b->c->oom = 1;
        b->err = 1;
        return NONE;
    }
    bstate *st = &b->st[b->nst];
    memset(st, 0, sizeof *st);
    st->kind = kind;
    st->step = s && s->index >= 0 ? (uint32_t)s->index : 0;
    st->gap = s && s->has_gap ? s->gap_ms : 0;
    return (uint32_t)b->nst++;
}

static void add_edge(builder *b, uint32_t from, edge_kind kind, uint32_t to, expr *cond) {
    if (b->err || from == NONE || to == NONE || !spend(b, 1)) return;
    if (!cond) { /* a failed combinator */
        b->err = 1;
        return;
    }
    bstate *st = &b->st[from];
    if (mem_grow((void **)&st->e, &st->cap, st->n + 1, sizeof *st->e) < 0) {
        b->c->oom = 1;
        b->err = 1;
        return;
    }
    st->e[st->n++] = (bedge){kind, to, cond};
}

/* ---- conditions ------------------------------------------------------------------------- */

static expr *step_cond(builder *b, const ast_step *s) {
    return s->index >= 0 && b->where[s->index] ? b->where[s->index] : b->t;
}

static expr *until_of(builder *b, const ast_step *s) {
    const ast_mod *m = find_mod(s, MOD_UNTIL);
    if (!m) return NULL;
    expr *e = compile_expr(b->c, m->cond);
    if (!e) b->err = 1;
    return e;
}

static expr *extend_with_until(builder *b, expr *cond, expr *until, int is_take) {
    if (until && cond) return cond_and(b->c, cond_not(b->c, until), cond);
    if (until && is_take) return cond_not(b->c, until);
    return cond;
}

static int head_of_group(builder *b, const ast_step *s) { return b->group && !prev(b, s); }

static int first_of_loop(const builder *b) {
    for (size_t i = 0; i < b->nfl; i++)
        if (b->fl[i].group == b->group) return b->fl[i].first;
    return 1;
}

static void set_first_of_loop(builder *b, int first) {
    if (!b->current->is_group) return;
    for (size_t i = 0; i < b->nfl; i++)
        if (b->fl[i].group == b->current) {
            b->fl[i].first = first;
            return;
        }
    if (mem_grow((void **)&b->fl, &b->capfl, b->nfl + 1, sizeof *b->fl) < 0) {
        b->c->oom = 1;
        b->err = 1;
        return;
    }
    b->fl[b->nfl++] = (loopflag){b->current, first};
}

static expr *group_until(builder *b) { return b->group ? until_of(b, b->group) : NULL; }

static expr *ignore_for(builder *b, const ast_step *p, strategy st) {
    expr *ig = NULL;
    switch (st) {
    case S_NEXT: ig = cond_not(b->c, step_cond(b, p)); break;
    case S_ANY: ig = b->t; break;
    default: break;
    }
    expr *gu = group_until(b);
    if (gu) ig = extend_with_until(b, ig, gu, 0);
    return ig;
}

static expr *get_inner_ignore(builder *b, const ast_step *p) {
    strategy st = inner_strategy(p);
    if (head_of_group(b, p)) st = inner_strategy(b->group);
    return ignore_for(b, p, st);
}

static expr *get_ignore(builder *b, const ast_step *p) {
    strategy st = conn_strategy(p);
    if (head_of_group(b, p)) st = first_of_loop(b) ? conn_strategy(b->group) : inner_strategy(b->group);
    return ignore_for(b, p, st);
}

static expr *get_take(builder *b, const ast_step *p) {
    expr *gu = group_until(b);
    return gu ? extend_with_until(b, step_cond(b, p), gu, 1) : step_cond(b, p);
}

static expr *get_true(builder *b) {
    expr *gu = group_until(b);
    return gu ? extend_with_until(b, b->t, gu, 1) : b->t;
}

/* A copy of a state with its edges (self loops point at the copy). */
static uint32_t copy_state(builder *b, uint32_t src) {
    uint32_t c = new_state(b, b->st[src].kind, NULL);
    if (c == NONE) return NONE;
    b->st[c].step = b->st[src].step;
    b->st[c].gap = b->st[src].gap;
    for (size_t i = 0; i < b->st[src].n && !b->err; i++) {
        bedge e = b->st[src].e[i];
        add_edge(b, c, e.kind, e.target == src ? c : e.target, e.cond);
    }
    return c;
}

/* Greedy: what follows a greedy step may not take an event the step could
 * take (Flink's updateWithGreedyCondition). */
static void update_with_greedy(builder *b, uint32_t state, expr *take) {
    if (state == NONE || b->err) return;
    expr *not_take = cond_not(b->c, take);
    for (size_t i = 0; i < b->st[state].n; i++)
        b->st[state].e[i].cond = cond_and(b->c, b->st[state].e[i].cond, not_take);
}

/* Greedy with until: proceeding because until holds goes to the state as it
 * was before the greedy conditions were added (Flink's originalStateMap). */
static void set_original(builder *b, uint32_t state, uint32_t copy) {
    if (state == NONE || copy == NONE || b->err) return;
    size_t old = b->caporig;
    if (mem_grow((void **)&b->original, &b->caporig, b->nst, sizeof *b->original) < 0) {
        b->c->oom = 1;
        b->err = 1;
        return;
    }
    memset(b->original + old, 0, (b->caporig - old) * sizeof *b->original);
    b->original[state] = copy + 1; /* 0: none */
}

static void remember_original(builder *b, uint32_t state) { set_original(b, state, copy_state(b, state)); }

static uint32_t original_of(const builder *b, uint32_t state) {
    if (state != NONE && state < b->caporig && b->original[state]) return b->original[state] - 1;
    return state;
}

static int head_of_optional_group(builder *b, const ast_step *s) {
    return head_of_group(b, s) && first_of_loop(b) && is_optional(b->group);
}

/* ---- negation -------------------------------------------------------------------------- */

static uint32_t stop_state(builder *b, expr *cond, const ast_step *neg) {
    uint32_t step = (uint32_t)neg->index;
    for (size_t i = 0; i < b->nstops; i++)
        if (b->stops[i].step == step) return b->stops[i].state;
    uint32_t s = new_state(b, ST_STOP, neg);
    if (s == NONE) return NONE;
    b->st[s].gap = 0;
    add_edge(b, s, EDGE_TAKE, s, cond);
    if (mem_grow((void **)&b->stops, &b->capstops, b->nstops + 1, sizeof *b->stops) < 0) {
        b->c->oom = 1;
        b->err = 1;
        return NONE;
    }
    b->stops[b->nstops++] = (stopref){step, s};
    return s;
}

/* Not-conditions in force at the current element: notFollowedBy steps
 * before it, reached back through optional steps. */
typedef struct notcond {
    expr *cond;
    const ast_step *step;
} notcond;

static size_t current_not_conditions(builder *b, notcond *out, size_t max) {
    size_t n = 0;
    const ast_step *p = b->current;
    uint32_t i = elem_index(b, p);
    size_t want = i == NONE ? 0 : b->elems[i].nnots; /* found all: stop walking */
    if (want < max) max = want;
    for (const ast_step *q; n < max && (q = prev(b, p)) && (is_optional(q) || conn_strategy(q) == S_NOT_FOLLOW); p = q) {
        if (conn_strategy(q) == S_NOT_FOLLOW && n < max) out[n++] = (notcond){get_take(b, q), q};
    }
    return n;
}

static void add_stop_states(builder *b, uint32_t state) {
    if (b->err) return;
    notcond nc[64];
    size_t n = current_not_conditions(b, nc, 64);
    for (size_t i = 0; i < n; i++) add_edge(b, state, EDGE_PROCEED, stop_state(b, nc[i].cond, nc[i].step), nc[i].cond);
}

static void add_stop_state_to_looping(builder *b, uint32_t state) {
    if (b->following && conn_strategy(b->following) == S_NOT_FOLLOW) {
        expr *nc = get_take(b, b->following);
        add_edge(b, state, EDGE_PROCEED, stop_state(b, nc, b->following), nc);
    }
}

/* Taking an event in an optional state ends the notFollowedBy conditions
 * that were in force before it: copy the sink without their stop edges. */
/* The copy of sink and of the states it proceeds to, without the stop
 * edges of the n conditions nc. Recursive along PROCEED edges, so its frame
 * is kept small: nc is made once by the caller. */
static uint32_t copy_without_nots(builder *b, uint32_t sink, const notcond *nc, size_t n) {
    if (b->err || sink == NONE) return b->err ? NONE : sink;
    uint32_t copy = new_state(b, b->st[sink].kind, NULL);
    if (copy == NONE) return NONE;
    b->st[copy].step = b->st[sink].step;
    b->st[copy].gap = b->st[sink].gap;
    for (size_t i = 0; i < b->st[sink].n && !b->err; i++) {
        bedge e = b->st[sink].e[i]; /* by value: the array may move */
        if (e.kind == EDGE_PROCEED) {
            int remove = 0;
            uint32_t target = e.target;
            if (b->st[target].kind == ST_STOP) {
                for (size_t k = 0; k < n; k++)
                    if (b->st[target].step == (uint32_t)nc[k].step->index) remove = 1;
            } else {
                target = copy_without_nots(b, target, nc, n);
            }
            if (!remove) add_edge(b, copy, e.kind, target, e.cond);
        } else {
            add_edge(b, copy, e.kind, e.target == sink ? copy : e.target, e.cond);
        }
    }
    return copy;
}

static uint32_t copy_without_transitive_nots(builder *b, uint32_t sink) {
    if (b->err) return NONE;
    notcond nc[64];
    size_t n = current_not_conditions(b, nc, 64);
    if (!n || !is_optional(b->current) || sink == NONE) return sink;
    return copy_without_nots(b, sink, nc, n);
}

/* ---- states of one element ----------------------------------------------------------------- */

static uint32_t convert_pattern(builder *b, uint32_t sink);
static uint32_t create_middle_states(builder *b, uint32_t sink);

static uint32_t create_group_state(builder *b, const ast_step *g, uint32_t sink, uint32_t proceed_state,
                                   int optional) {
    if (b->err) return NONE; /* stop at the first failure: a group converts its body */
    expr *proceed_cond = get_true(b);
    const ast_step *old_current = b->current, *old_following = b->following, *old_group = b->group;
    b->group = g;
    b->current = g->body;
    while (b->current->next) b->current = b->current->next;
    uint32_t last = create_middle_states(b, sink);
    last = convert_pattern(b, last);
    if (optional) add_edge(b, last, EDGE_PROCEED, proceed_state, proceed_cond);
    b->current = old_current;
    b->following = old_following;
    b->group = old_group;
    return last;
}

static uint32_t create_looping_group_state(builder *b, const ast_step *g, uint32_t sink) {
    if (b->err) return NONE;
    expr *proceed_cond = get_true(b);
    const ast_step *old_current = b->current, *old_following = b->following, *old_group = b->group;
    uint32_t dummy = new_state(b, ST_NORMAL, NULL);
    b->group = g;
    b->current = g->body;
    while (b->current->next) b->current = b->current->next;
    uint32_t last = create_middle_states(b, dummy);
    last = convert_pattern(b, last);
    add_edge(b, last, EDGE_PROCEED, sink, proceed_cond);
    add_edge(b, dummy, EDGE_PROCEED, last, proceed_cond);
    b->current = old_current;
    b->following = old_following;
    b->group = old_group;
    return last;
}

static uint32_t create_singleton(builder *b, uint32_t sink, uint32_t proceed_state, expr *take, expr *ignore,
                                 int optional) {
    if (b->err) return NONE;
    const ast_step *cur = b->current;
    if (cur->is_group) return create_group_state(b, cur, sink, proceed_state, optional);
    uint32_t s = new_state(b, ST_NORMAL, cur);
    uint32_t sink2 = copy_without_transitive_nots(b, sink);
    add_edge(b, s, EDGE_TAKE, sink2, take);
    expr *proceed_cond = get_true(b);
    if (optional) {
        expr *until = is_greedy(cur) ? until_of(b, cur) : NULL;
        if (until) {
            add_edge(b, s, EDGE_PROCEED, original_of(b, proceed_state), cond_and(b->c, proceed_cond, until));
            proceed_cond = cond_and(b->c, proceed_cond, cond_not(b->c, until));
        }
        add_edge(b, s, EDGE_PROCEED, proceed_state, proceed_cond);
    }
    if (ignore) {
        uint32_t is = s;
        if (optional || head_of_optional_group(b, cur)) {
            is = new_state(b, ST_NORMAL, cur);
            add_edge(b, is, EDGE_TAKE, sink2, take);
            add_edge(b, is, EDGE_IGNORE, is, ignore);
            add_stop_states(b, is);
        }
        add_edge(b, s, EDGE_IGNORE, is, ignore);
    }
    return s;
}

static uint32_t create_singleton_default(builder *b, uint32_t sink) {
    const ast_step *cur = b->current;
    return create_singleton(b, sink, sink, cur->is_group ? b->t : get_take(b, cur),
                            cur->is_group ? NULL : get_ignore(b, cur), is_optional(cur));
}

static uint32_t create_times(builder *b, uint32_t sink, uint32_t proceed_state) {
    if (b->err) return NONE;
    const ast_step *cur = b->current;
    int64_t from, to;
    times_of(cur, &from, &to);
    set_first_of_loop(b, 0);
    expr *until = until_of(b, cur);
    expr *inner_ignore = extend_with_until(b, cur->is_group ? NULL : get_inner_ignore(b, cur), until, 0);
    expr *take = extend_with_until(b, cur->is_group ? b->t : get_take(b, cur), until, 1);
    if (is_greedy(cur) && from != to) {
        if (until) remember_original(b, sink);
        update_with_greedy(b, sink, take);
    }
    uint32_t last = sink;
    for (int64_t i = from; i < to && !b->err; i++) {
        last = create_singleton(b, last, proceed_state, take, inner_ignore, 1);
        add_stop_state_to_looping(b, last);
    }
    for (int64_t i = 0; i < from - 1 && !b->err; i++) {
        last = create_singleton(b, last, NONE, take, inner_ignore, 0);
        add_stop_state_to_looping(b, last);
    }
    set_first_of_loop(b, 1);
    return create_singleton(b, last, proceed_state, take, cur->is_group ? NULL : get_ignore(b, cur),
                            is_optional(cur));
}

static uint32_t create_looping(builder *b, uint32_t sink) {
    if (b->err) return NONE;
    const ast_step *cur = b->current;
    if (cur->is_group) return create_looping_group_state(b, cur, sink);
    expr *until = until_of(b, cur);
    expr *ignore = extend_with_until(b, get_inner_ignore(b, cur), until, 0);
    expr *take = extend_with_until(b, get_take(b, cur), until, 1);
    expr *proceed_cond = get_true(b);
    uint32_t loop = new_state(b, ST_NORMAL, cur);
    if (is_greedy(cur)) {
        if (until) {
            uint32_t copy = copy_state(b, sink);
            add_edge(b, loop, EDGE_PROCEED, copy, cond_and(b->c, proceed_cond, until));
            set_original(b, sink, copy);
            proceed_cond = cond_and(b->c, proceed_cond, cond_not(b->c, until));
        }
        add_edge(b, loop, EDGE_PROCEED, sink, proceed_cond);
        update_with_greedy(b, sink, get_take(b, cur));
    } else {
        add_edge(b, loop, EDGE_PROCEED, sink, proceed_cond);
    }
    add_edge(b, loop, EDGE_TAKE, loop, take);
    add_stop_state_to_looping(b, loop);
    if (ignore) {
        uint32_t is = new_state(b, ST_NORMAL, cur);
        add_edge(b, is, EDGE_TAKE, loop, take);
        add_edge(b, is, EDGE_IGNORE, is, ignore);
        add_edge(b, loop, EDGE_IGNORE, is, ignore);
        add_stop_state_to_looping(b, is);
    }
    return loop;
}

static uint32_t convert_pattern(builder *b, uint32_t sink) {
    /* A looping group converts its body twice (loop and times), so going
     * on after a failure would cost 2^depth. */
    if (b->err) return NONE;
    uint32_t last;
    if (is_looping(b->current)) {
        set_first_of_loop(b, 0);
        uint32_t sink2 = copy_without_transitive_nots(b, sink);
        uint32_t loop = create_looping(b, sink2);
        set_first_of_loop(b, 1);
        last = create_times(b, loop, sink);
    } else if (is_times(b->current)) {
        last = create_times(b, sink, sink);
    } else {
        last = create_singleton_default(b, sink);
    }
    add_stop_states(b, last);
    return last;
}

static uint32_t create_middle_states(builder *b, uint32_t sink) {
    uint32_t last = sink;
    while (prev(b, b->current) && !b->err) {
        const ast_step *cur = b->current;
        strategy st = conn_strategy(cur);
        if (st == S_NOT_FOLLOW) {
            /* Only a trailing notFollowedBy needs a state of its own: it
             * waits for its window to close (Flink's Pending state). */
            if ((cur->has_gap || b->ap->has_within) && b->st[last].kind == ST_FINAL) {
                uint32_t pend = new_state(b, ST_PENDING, cur);
                expr *nc = get_take(b, cur);
                add_edge(b, pend, EDGE_PROCEED, stop_state(b, nc, cur), nc);
                add_edge(b, pend, EDGE_IGNORE, pend, cond_not(b->c, nc));
                last = pend;
            }
        } else if (st == S_NOT_NEXT) {
            uint32_t nn = new_state(b, ST_NORMAL, cur);
            expr *nc = get_take(b, cur);
            uint32_t stop = stop_state(b, nc, cur);
            if (last != NONE && b->st[last].kind == ST_FINAL)
                add_edge(b, nn, EDGE_IGNORE, last, cond_not(b->c, nc)); /* no proceed into final */
            else
                add_edge(b, nn, EDGE_PROCEED, last, cond_not(b->c, nc));
            add_edge(b, nn, EDGE_PROCEED, stop, nc);
            last = nn;
        } else {
            last = convert_pattern(b, last);
        }
        b->following = cur;
        b->current = prev(b, cur);
    }
    return last;
}

/* ---- driver ---------------------------------------------------------------------------------- */

/* Does e read only the event under test (no step references, aggregates or
 * user functions)? */
static int event_only(const expr *e) {
    switch ((xkind)e->kind) {
    case XK_REF:
    case XK_REF_CMP:
    case XK_AGG:
    case XK_UCALL: return 0;
    case XK_CONST:
    case XK_SLOT:
    case XK_SLOT_CMP: return 1;
    default: break;
    }
    /* (the union of expr.h: only the kinds below have a, b, args) */
    if (e->kind == XK_UNARY || e->kind == XK_BINARY || e->kind == XK_MATCH || e->kind == XK_IN ||
        e->kind == XK_ISNULL)
        if (!event_only(e->a)) return 0;
    if (e->kind == XK_BINARY && !event_only(e->b)) return 0;
    if (e->kind == XK_IN || e->kind == XK_CALL)
        for (uint32_t i = 0; i < e->nargs; i++)
            if (!event_only(e->args[i])) return 0;
    return 1;
}

/* Split c into its leftmost conjunct that reads only the event (the gate,
 * returned; NULL if there is none) and the rest (*rest; NULL when c is the
 * gate). `g and x and y` holds exactly when g holds and `x and y` does,
 * evaluated in the same order. */
static const expr *split_gate(builder *b, const expr *c, const expr **rest) {
    *rest = c;
    if (event_only(c)) {
        *rest = NULL;
        return c;
    }
    if (c->kind != XK_BINARY || c->op != NFA_OP_AND) return NULL;
    const expr *r;
    const expr *g = split_gate(b, c->a, &r);
    if (!g) return NULL;
    if (!r) {
        *rest = c->b;
        return g;
    }
    expr *n = cond_and(b->c, (expr *)r, c->b);
    if (!n) return NULL; /* out of memory: no gate (b->c->oom is set) */
    *rest = n;
    return g;
}

/* A state's shape (nfa.h): the two edges every step has in its waiting
 * state, which the engine steps without a decision graph, testing the
 * gate once per event for all partial matches of a key waiting there. */
/* Can state t reach the final state through PROCEED edges alone
 * (whatever their conditions)? Then a TAKE into t may complete a match
 * at once (step.c's final_after_proceed). depth bounds the walk (proceed
 * edges never cycle; a deep chain just answers yes). */
static int proceeds_to_final(const nfa_pattern *np, uint32_t t, int depth) {
    const nfa_state *st = &np->states[t];
    if (st->kind == ST_FINAL || depth > 32) return 1;
    for (uint32_t i = 0; i < st->nedges; i++) {
        const nfa_edge *e = &np->edges[st->first_edge + i];
        if (e->kind == EDGE_PROCEED && proceeds_to_final(np, e->target, depth + 1)) return 1;
    }
    return 0;
}

static void set_shape(builder *b, nfa_pattern *np, uint32_t s) {
    nfa_state *st = &np->states[s];
    const nfa_edge *e = &np->edges[st->first_edge];
    st->shape = SHAPE_GENERAL;
    if ((st->kind != ST_NORMAL && st->kind != ST_PENDING) || !st->nedges || !e[0].cond || e[0].negate) return;
    int pair = st->nedges == 2 && e[1].kind == EDGE_IGNORE && e[1].cond == e[0].cond && e[1].negate &&
               e[1].target == s;
    /* followedByAny: the IGNORE edge always holds, so a partial match
     * stays whatever the event, and branches when c holds. */
    int any = st->nedges == 2 && e[1].kind == EDGE_IGNORE && !e[1].cond && e[1].target == s && e[0].target != s;
    int shape = SHAPE_GENERAL;
    if (e[0].kind == EDGE_TAKE && pair) shape = SHAPE_FOLLOW;
    else if (e[0].kind == EDGE_TAKE && any) shape = SHAPE_ANY;
    else if (e[0].kind == EDGE_TAKE && st->nedges == 1) shape = SHAPE_NEXT;
    else if (e[0].kind == EDGE_PROCEED && pair && np->states[e[0].target].kind == ST_STOP) shape = SHAPE_NEGATE;
    if (shape == SHAPE_GENERAL) return;
    if (shape != SHAPE_NEGATE) {
        /* Taking into a state that proceeds to the final state may also
         * complete: leave that to the decision graph. (One that proceeds
         * elsewhere, a loop before its next step, only waits there.) */
        const nfa_state *t = &np->states[e[0].target];
        if (t->kind == ST_STOP || (t->has_proceed && proceeds_to_final(np, e[0].target, 0))) return;
        st->target = e[0].target;
    }
    const expr *rest;
    const expr *gate = split_gate(b, e[0].cond, &rest);
    if (b->c->oom) return;
    st->shape = (uint8_t)shape;
    st->gate = gate;
    st->rest = rest;
    st->hint = rest && rest->kind == XK_REF_CMP && rest->op == NFA_OP_EQ;
}

/* Do the edges of s, and those of the states its PROCEED edges reach (of
 * a TAKE edge's target too: a completion by proceeding), read only the
 * event, with no gap on the way? depth bounds the walk (proceed edges
 * never cycle; a deep chain just answers no). */
static int graph_event_only(const nfa_pattern *np, uint32_t s, int only_proceed, int depth) {
    const nfa_state *st = &np->states[s];
    if (depth > 32 || st->gap_ms > 0) return 0;
    for (uint32_t i = 0; i < st->nedges; i++) {
        const nfa_edge *e = &np->edges[st->first_edge + i];
        if (only_proceed && e->kind != EDGE_PROCEED) continue;
        if (e->cond && !event_only(e->cond)) return 0;
        if (e->kind == EDGE_IGNORE) continue;
        if (!graph_event_only(np, e->target, e->kind == EDGE_TAKE || only_proceed, depth + 1)) return 0;
    }
    return 1;
}

/* Is gate g `field == an int or string constant`? */
static int dispatchable(const expr *g) {
    return g && g->kind == XK_SLOT_CMP && g->op == NFA_OP_EQ && (g->k.type == CEP_INT || g->k.type == CEP_STRING);
}

/* Most patterns test one field against constants in every step (`type ==
 * "click"`): those gates are decided together, by looking the event's
 * value up among the constants, instead of one comparison per state. The
 * field chosen is the one most gates test. */
static int set_dispatch(nfa_pattern *np) {
    np->dispatch_slot = -1;
    uint32_t n = np->nstates < 64 ? np->nstates : 64, best = 0;
    for (uint32_t s = 0; s < n; s++) {
        const expr *g = np->states[s].gate;
        if (!dispatchable(g)) continue;
        uint32_t count = 0;
        for (uint32_t t = 0; t < n; t++)
            if (dispatchable(np->states[t].gate) && np->states[t].gate->slot == g->slot) count++;
        if (count > best) {
            best = count;
            np->dispatch_slot = g->slot;
        }
    }
    if (np->dispatch_slot < 0) return 0;
    np->dispatch = mem_calloc(best, sizeof *np->dispatch);
    if (!np->dispatch) return -1;
    for (uint32_t s = 0; s < n; s++) {
        const expr *g = np->states[s].gate;
        if (!dispatchable(g) || g->slot != np->dispatch_slot) continue;
        np->dispatch_states |= (uint64_t)1 << s;
        uint32_t i = 0;
        while (i < np->ndispatch && !gate_key_same(&np->dispatch[i].k, &g->k)) i++;
        if (i == np->ndispatch) np->dispatch[np->ndispatch++].k = g->k;
        np->dispatch[i].opens |= (uint64_t)1 << s;
    }
    return 0;
}

/* Can an event that no gate of the pattern lets in be skipped without
 * looking its key up? Yes when every state that can hold a partial match
 * keeps it on a closed gate, and the start state takes nothing then. */
static int skippable(const nfa_pattern *pat) {
    for (uint32_t s = 0; s < pat->nstates; s++) {
        const nfa_state *st = &pat->states[s];
        if (st->kind != ST_NORMAL && st->kind != ST_PENDING) continue;
        if (!st->gate) return 0;
        if (st->shape == SHAPE_FOLLOW || st->shape == SHAPE_NEGATE || st->shape == SHAPE_ANY) continue;
        if (st->shape == SHAPE_NEXT && s == pat->start) continue;
        return 0;
    }
    return 1;
}

static int flatten(builder *b, nfa_pattern *np, uint32_t start) {
    size_t nedges = 0;
    for (size_t i = 0; i < b->nst; i++) nedges += b->st[i].n;
    np->states = mem_calloc(b->nst, sizeof *np->states);
    np->edges = mem_calloc(nedges ? nedges : 1, sizeof *np->edges);
    if (!np->states || !np->edges) return -1;
    np->nstates = (uint32_t)b->nst;
    np->start = start;
    for (size_t i = 0; i < b->nst; i++) {
        nfa_state *s = &np->states[i];
        s->kind = b->st[i].kind;
        s->step = b->st[i].step;
        s->gap_ms = b->st[i].gap;
        s->first_edge = np->nedges;
        for (size_t k = 0; k < b->st[i].n; k++) {
            bedge e = b->st[i].e[k];
            expr *cond = e.cond == b->t ? NULL : e.cond;
            int negate = 0;
            /* `not X` becomes X with negate set, so that a TAKE edge on X
             * and its IGNORE edge on `not X` share one evaluation. */
            if (cond && cond->kind == XK_UNARY && cond->op == NFA_OP_NOT) {
                cond = cond->a;
                negate = 1;
            }
            np->edges[np->nedges++] = (nfa_edge){cond, e.target, (uint8_t)e.kind, (uint8_t)negate};
        }
        s->nedges = np->nedges - s->first_edge;
    }
    for (uint32_t i = 0; i < np->nstates; i++)
        for (uint32_t k = 0; k < np->states[i].nedges; k++)
            if (np->edges[np->states[i].first_edge + k].kind == EDGE_PROCEED) np->states[i].has_proceed = 1;
    for (uint32_t i = 0; i < np->nstates; i++) {
        set_shape(b, np, i);
        if (np->states[i].shape == SHAPE_GENERAL && np->states[i].kind == ST_NORMAL)
            np->states[i].shared = (uint8_t)graph_event_only(np, i, 0, 0);
    }
    /* A decision graph yields at most one output per TAKE or IGNORE edge,
     * plus a completion per TAKE that can proceed to the final state. */
    np->max_outputs = 2 * np->nedges + 1;
    return 0;
}

int automaton_dispatch(nfa_pattern *np) {
    if (set_dispatch(np) < 0) return -1;
    np->skippable = skippable(np);
    for (uint32_t st = 0; st < np->nstates; st++)
        if (np->states[st].gate && !(st < 64 && (np->dispatch_states >> st & 1))) np->undispatched = 1;
    return 0;
}

/* Does e hold an aggregate (which needs the partial match's nodes)? */
static int has_agg(const expr *e) {
    if (e->kind == XK_AGG) return 1;
    /* (the union of expr.h, as event_only reads it) */
    if ((e->kind == XK_UNARY || e->kind == XK_BINARY || e->kind == XK_MATCH || e->kind == XK_IN ||
         e->kind == XK_ISNULL) && has_agg(e->a))
        return 1;
    if (e->kind == XK_BINARY && has_agg(e->b)) return 1;
    if (e->kind == XK_IN || e->kind == XK_CALL || e->kind == XK_UCALL)
        for (uint32_t i = 0; i < e->nargs; i++)
            if (has_agg(e->args[i])) return 1;
    return 0;
}

#define COMPACT_MAX_STEPS 8

int automaton_compact(const nfa_pattern *np) {
    uint32_t k = np->nsteps;
    if (np->skip != NFA_SKIP_NO_SKIP || k < 2 || k > COMPACT_MAX_STEPS || np->nstates != k + 1) return 0;
    for (uint32_t i = 0; i < np->nemit; i++)
        if (has_agg(np->emit_exprs[i])) return 0;
    uint32_t s = np->start;
    for (uint32_t j = 0; j < k; j++) {
        const nfa_state *st = &np->states[s];
        /* The start state only takes; every later one is followedByAny's
         * TAKE/IGNORE pair, so a partial match never leaves its state
         * but by branching, and which events it takes decide nothing. */
        int shape_ok = j ? st->shape == SHAPE_ANY
                         : st->shape == SHAPE_FOLLOW || st->shape == SHAPE_NEXT || st->shape == SHAPE_ANY;
        if (st->kind != ST_NORMAL || st->step != j || st->gap_ms > 0 || !shape_ok || !st->gate || st->hint ||
            (st->rest && !event_only(st->rest)) || st->target == s)
            return 0;
        s = st->target;
        if (np->states[s].kind != (j + 1 < k ? ST_NORMAL : ST_FINAL)) return 0;
    }
    return 1;
}

int automaton_build(cctx *c, nfa_pattern *np, const ast_pattern *ap) {
    builder b = {.c = c, .ap = ap};
    int rc = -1;
    uint32_t nsteps = np->nsteps;
    b.t = cond_true(c);
    b.where = mem_calloc(nsteps ? nsteps : 1, sizeof *b.where);
    if (!b.t || !b.where) {
        c->oom = 1;
        goto out;
    }
    collect_elems(&b, ap->steps, NULL, NONE);
    for (size_t i = 0; i < b.nelems && !b.err; i++) {
        const ast_step *s = b.elems[i].s;
        if (!s->is_group && s->where && !(b.where[s->index] = compile_expr(c, s->where))) b.err = 1;
    }
    if (b.err || index_elems(&b) < 0) goto out;
    b.current = ap->steps;
    while (b.current->next) b.current = b.current->next; /* Flink walks from the end */
    uint32_t final = new_state(&b, ST_FINAL, NULL);
    uint32_t sink = create_middle_states(&b, final);
    uint32_t start = convert_pattern(&b, sink);
    if (b.err || start == NONE) goto out;
    if (flatten(&b, np, start) < 0) {
        c->oom = 1;
        goto out;
    }
    rc = 0;
out:
    if (c->oom || c->failed) rc = -1;
    for (size_t i = 0; i < b.nst; i++) mem_free(b.st[i].e);
    mem_free(b.st);
    mem_free(b.fl);
    mem_free(b.stops);
    mem_free(b.original);
    mem_free(b.where);
    mem_free(b.elems);
    mem_free(b.byaddr);
    return rc;
}
