/* budget.c — the memory budget (cep_engine_set_memory_limit): what the
 * engine holds (engine_memory, stats.memory), room made before a key's
 * partial matches step over an event (so that a fan-out cannot run past
 * the budget and be cut back only afterwards), and the partial matches
 * dropped to make it. engine.c enforces the budget after each call:
 * buffered events first, then budget_drop. docs/state.md, "The memory budget". */
#include "config.h"
#include "engine.h"
#include "mem.h"

#include <string.h>

/* ---- most outputs of one step ------------------------------------------------------ */

#define MAX_CONDS 5        /* conditions tried both ways; more: all hold */
#define MAX_WORK (1u << 22) /* states visited for one pattern; then max_outputs */
#define MAX_VISITS 256     /* states one simulation may visit; more: max_outputs */

typedef struct sim {
    const nfa_pattern *pat;
    const expr *conds[MAX_CONDS];
    int nconds, all_hold;
    unsigned assign;       /* bit i: conds[i] holds */
    size_t visits;
} sim;

/* Does edge hold under the assignment? (all_hold: every edge, negated or
 * not, an upper bound when the conditions are too many to try.) */
static int sim_holds(const sim *m, const nfa_edge *edge) {
    if (m->all_hold || !edge->cond) return m->all_hold || !edge->negate;
    for (int i = 0; i < m->nconds; i++)
        if (m->conds[i] == edge->cond) return (int)(m->assign >> i & 1) != edge->negate;
    return 1;
}

/* step.c's final_after_proceed under the assignment. -1: too much work. */
static int sim_final(sim *m, uint32_t s, uint32_t *stack) {
    size_t n = 0;
    stack[n++] = s;
    while (n) {
        const nfa_state *st = &m->pat->states[stack[--n]];
        if (++m->visits > MAX_VISITS) return -1;
        for (uint32_t i = 0; i < st->nedges; i++) {
            const nfa_edge *edge = &m->pat->edges[st->first_edge + i];
            if (edge->kind != EDGE_PROCEED || !sim_holds(m, edge)) continue;
            if (m->pat->states[edge->target].kind == ST_FINAL) return 1;
            if (n == MAX_VISITS) return -1;
            stack[n++] = edge->target;
        }
    }
    return 0;
}

/* Outputs of step.c's general_step (decision_graph, then a completion
 * per TAKE that reaches the final state by proceeding) for a partial
 * match in state s under the assignment. -1: too much work. */
static long sim_outputs(sim *m, uint32_t s) {
    uint32_t stack[MAX_VISITS], fstack[MAX_VISITS];
    size_t n = 0;
    long outs = 0;
    stack[n++] = s;
    m->visits = 0;
    while (n) {
        const nfa_state *st = &m->pat->states[stack[--n]];
        if (++m->visits > MAX_VISITS) return -1;
        for (uint32_t i = 0; i < st->nedges; i++) {
            const nfa_edge *edge = &m->pat->edges[st->first_edge + i];
            if (!sim_holds(m, edge)) continue;
            if (edge->kind == EDGE_PROCEED) {
                if (n == MAX_VISITS) return -1;
                stack[n++] = edge->target;
                continue;
            }
            outs++;
            if (edge->kind == EDGE_TAKE && m->pat->states[edge->target].kind != ST_FINAL) {
                int f = sim_final(m, edge->target, fstack);
                if (f < 0) return -1;
                outs += f;
            }
        }
    }
    return outs;
}

/* The conditions of the edges reachable from s by PROCEED edges, and of
 * the PROCEED edges reachable from the targets of its TAKE edges (which
 * final_after_proceed reads). 0, or -1 when there are more than MAX_CONDS
 * or too many states. */
#define ONLY_PROCEED 0x80000000u
static int sim_conds(sim *m, uint32_t s) {
    uint32_t stack[MAX_VISITS];
    size_t n = 0, visits = 0;
    stack[n++] = s;
    while (n) {
        uint32_t top = stack[--n], only = top & ONLY_PROCEED;
        const nfa_state *st = &m->pat->states[top & ~ONLY_PROCEED];
        if (++visits > MAX_VISITS) return -1;
        for (uint32_t i = 0; i < st->nedges; i++) {
            const nfa_edge *edge = &m->pat->edges[st->first_edge + i];
            if (only && edge->kind != EDGE_PROCEED) continue;
            if (edge->cond) {
                int k = 0;
                while (k < m->nconds && m->conds[k] != edge->cond) k++;
                if (k == m->nconds) {
                    if (m->nconds == MAX_CONDS) return -1;
                    m->conds[m->nconds++] = edge->cond;
                }
            }
            if (edge->kind == EDGE_IGNORE) continue;
            if (n == MAX_VISITS) return -1;
            stack[n++] = edge->target | (edge->kind == EDGE_TAKE ? ONLY_PROCEED : only);
        }
    }
    return 0;
}

/* New partial matches (or completions) one partial match in state s can
 * make from one event: what the budget keeps room for before a step. */
uint32_t budget_state_outputs(const nfa_pattern *pat, uint32_t s, size_t *work) {
    const nfa_state *st = &pat->states[s];
    switch (st->shape) {
    case SHAPE_FOLLOW: return 1; /* a taking copy; the partial match stays where it is */
    case SHAPE_NEXT: return 1;   /* the taking copy replaces it */
    case SHAPE_NEGATE: return 0; /* it stays, or goes */
    default: break;
    }
    /* The conditions a step reads come out the same on every edge that
     * names them (step.c caches them per partial match): try each way they
     * can come out, which is exact up to what the conditions can say
     * together. */
    if (*work > MAX_WORK) return pat->max_outputs; /* a huge pattern: the plain bound */
    sim m = {.pat = pat};
    long best = 0;
    if (sim_conds(&m, s) < 0) {
        m.nconds = 0;
        m.all_hold = 1;
    }
    for (unsigned a = 0; a < (1u << m.nconds); a++) {
        m.assign = a;
        long o = sim_outputs(&m, s);
        *work += m.visits;
        if (o < 0) return pat->max_outputs;
        if (o > best) best = o;
    }
    return best > pat->max_outputs ? pat->max_outputs : (uint32_t)best;
}

/* ---- what the engine holds ------------------------------------------------------- */

/* Bytes of the arrays that only grow with the input (the key table, the
 * out-of-order buffer's heap, timer lanes, scratch lists); they stay when
 * partial matches are dropped. */
static uint64_t container_bytes(const cep_engine *e) {
    uint64_t b = (uint64_t)(e->keyset.keys.cap + e->keyset.groups.cap) * sizeof(keyslot) + (uint64_t)e->time.reorder.cap * sizeof(void *);
    for (uint32_t i = 0; i < e->timers.nlanes; i++) b += timers_lane_bytes(&e->timers.lanes[i]);
    b += (uint64_t)(e->scratch.kids.cap + e->scratch.completed.cap + e->scratch.expired.cap) * sizeof(pm);
    b += (uint64_t)e->scratch.outs.cap * (sizeof(pm) + sizeof(uint64_t)); /* step.c's struct step_out */
    b += (uint64_t)(e->scratch.stack.cap + e->scratch.out.cap) * sizeof(uint32_t);
    b += (uint64_t)e->timers.due_cap * sizeof(timer_ent) + e->scratch.keybuf_cap;
    b += (uint64_t)e->match.events_cap * sizeof(cep_event *) + (uint64_t)e->match.steps_cap * sizeof(uint32_t) +
         (uint64_t)e->match.fields_cap * sizeof(cep_value);
    return b;
}

/* Stored events (buffered ones too), key states, bucket arrays and held
 * matches (the slab's blocks), nodes not in an event's own room. */
static uint64_t live_bytes(const cep_engine *e) {
    /* (+ the running aggregates nodes keep, allocated apart: eval.c) */
    return (uint64_t)e->store.mem.in_use + e->store.mem.direct + e->store.pooled_nodes * sizeof(pm_lnode) + e->ctx.agg_bytes;
}

uint64_t engine_memory(const cep_engine *e) { return live_bytes(e) + container_bytes(e); }

/* ---- room before a step ------------------------------------------------------------ */

/* Bytes the step of key ks (NULL: no state yet) over in->ev can add at
 * most: per output of a partial match a node and a place in e->kids
 * (which doubles), the bucket arrays regrown while the old ones are still
 * held, the event's stored copy, and for a new key its state and the key
 * table doubling. */
static uint64_t step_growth(const cep_engine *e, uint32_t pi, const key_state *ks, const step_in *in) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    const pat_rt *rt = &e->rt[pi];
    uint64_t k = rt->outs[pat->start], n = 0;
    for (uint32_t i = 0; ks && i < ks->nb; i++) {
        const bucket *b = &key_buckets(ks)[i];
        uint32_t s = b->state;
        /* A gate the dispatch lookup closed: nothing there moves. */
        if (s < 64 && (pat->dispatch_states >> s & 1) && !(e->scratch.gmask >> s & 1)) continue;
        k += (uint64_t)(b->hi - b->lo) * rt->outs[s];
    }
    if (ks) n = ks->npms;
    uint64_t g = k * (2 * sizeof(pm) + sizeof(pm_lnode)) + 2 * (n + k) * sizeof(pm);
    if (!in->own && !*in->stored) g += event_frozen_size(in->ev, NULL);
    if (!ks) {
        g += slab_size(sizeof(key_state) + e->scratch.keybuf_cap);
        /* (in a key group: maybe a key entry, or its table doubling) */
        if (e->rt[pi].kgroup != NO_GROUP) {
            const gcache *c = &e->keyset.gcache[e->rt[pi].kgroup];
            const key_entry *ent = c->stamp == e->scratch.ev_stamp ? c->ent : NULL;
            g += ent ? slab_size(2 * (size_t)(ent->mask + 1) * sizeof(kref)) : slab_size(sizeof(key_entry) + e->scratch.keybuf_cap);
        }
        const keymap *m = e->rt[pi].kgroup != NO_GROUP ? &e->keyset.groups : &e->keyset.keys;
        if ((m->count + 1) * 4 > m->cap * 3) g += (uint64_t)(m->cap ? m->cap * 2 : 64) * sizeof(keyslot);
    }
    return g;
}

/* Bytes of ks's bucket arrays beyond what its live partial matches would
 * take in arrays of their own size (freed by shrink_buckets). */
static uint64_t bucket_slack(const key_state *ks) {
    uint64_t slack = 0;
    for (uint32_t i = 0; i < ks->nb; i++) {
        const bucket *b = &key_buckets(ks)[i];
        size_t live = (size_t)(b->hi - b->lo) * sizeof(pm), held = slab_size((size_t)b->cap * sizeof(pm));
        size_t want = live ? slab_size(live) : 0;
        if (held > want) slack += held - want;
    }
    return slack;
}

/* Give ks's bucket arrays the size of what they hold (after drops from
 * their front). Where no smaller block can be had, an array stays. */
static void shrink_buckets(cep_engine *e, key_state *ks) {
    for (uint32_t i = 0; i < ks->nb; i++) {
        bucket *b = &key_buckets(ks)[i];
        uint32_t live = b->hi - b->lo;
        if (!live || slab_size((size_t)b->cap * sizeof(pm)) <= slab_size((size_t)live * sizeof(pm)))
            continue;
        pm *nv = slab_alloc(&e->store.mem, (size_t)live * sizeof *nv);
        if (!nv) continue;
        memcpy(nv, b->v + b->lo, (size_t)live * sizeof *nv);
        key_array_free(e, ks, b->v, b->cap);
        b->v = nv;
        b->lo = 0;
        b->hi = b->cap = live;
    }
}

/* Drop partial matches, earliest first from the oldest keys, until the
 * state plus what the step of key cur (of pattern pi, over in->ev; in
 * NULL: no step) can add fits in limit. Keys left with nothing release
 * their held matches and settle, except cur, which the step still uses.
 * Returns the partial matches dropped. */
static uint64_t drop_until_fits(cep_engine *e, uint64_t limit, uint32_t pi, key_state *cur, const step_in *in) {
    uint64_t dropped = 0, fixed = container_bytes(e);
    key_state *ks = e->keyset.first;
    while (ks) {
        uint64_t add = in ? step_growth(e, pi, cur, in) : 0;
        if (live_bytes(e) + fixed + add <= limit) break;
        key_state *next = ks->next;
        pm x;
        while (ks->npms) {
            add = in ? step_growth(e, pi, cur, in) : 0;
            if (live_bytes(e) - bucket_slack(ks) + fixed + add <= limit) break;
            if (!key_pop_first(e, ks, &x)) break;
            engine_node_release(e, x.node);
            e->stats.mem_dropped++;
            dropped++;
        }
        shrink_buckets(e, ks);
        if (ks->npms) break; /* it fits now */
        if (ks != cur) {
            emit_release_held(e, key_pattern(ks), ks);
            engine_key_settle(e, ks);
        }
        ks = next;
    }
    return dropped;
}

void budget_before_step(cep_engine *e, uint32_t pi, key_state *ks, step_in *in) {
    /* While events are buffered the step may pass the budget by an eighth:
     * after the call they run early to make room (engine.c), which is
     * what the buffer gives up before partial matches are dropped. */
    uint64_t limit = e->cfg.max_bytes + (e->time.reorder.n ? e->cfg.max_bytes / 8 : 0);
    if (engine_memory(e) + step_growth(e, pi, ks, in) <= limit) return;
    if (drop_until_fits(e, limit, pi, ks, in) && e->cfg.limit_policy == CEP_LIMIT_FAIL) e->limit_hit = LIMIT_MEMORY;
}

void budget_drop(cep_engine *e) { drop_until_fits(e, e->cfg.max_bytes, 0, NULL, NULL); }

void budget_trim(cep_engine *e) {
    /* Scratch arrays are made again when a step needs them. */
    pm_list *lists[] = {&e->scratch.kids, &e->scratch.completed, &e->scratch.expired};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        mem_free(lists[i]->v);
        lists[i]->v = NULL;
        lists[i]->n = lists[i]->cap = 0;
    }
    mem_free(e->scratch.outs.v);
    e->scratch.outs.v = NULL;
    e->scratch.outs.n = e->scratch.outs.cap = 0;
    if (!e->time.reorder.n) heap_free(&e->time.reorder);
}

void budget_release(cep_engine *e) {
    /* After the end of input nothing more is pushed: the arrays kept for
     * the stream go, so stats.memory is 0 when no key is left. Each is made
     * again from empty if a later call needs it (snapshot, restore). */
    budget_trim(e);
    mem_free(e->scratch.stack.v);
    mem_free(e->scratch.out.v);
    mem_free(e->timers.due);
    mem_free(e->scratch.keybuf);
    mem_free(e->match.events);
    mem_free(e->match.step_off);
    mem_free(e->match.fields);
    e->scratch.stack = (u32_list){0};
    e->scratch.out = (u32_list){0};
    e->timers.due = NULL;
    e->timers.due_cap = 0;
    e->scratch.keybuf = NULL;
    e->scratch.keybuf_cap = 0;
    e->match.events = NULL;
    e->match.step_off = NULL;
    e->match.fields = NULL;
    e->match.events_cap = e->match.steps_cap = e->match.fields_cap = 0;
    if (!e->keyset.keys.count) keymap_free(&e->keyset.keys);
    if (!e->keyset.groups.count) keymap_free(&e->keyset.groups);
    for (uint32_t i = 0; i < e->timers.nlanes; i++) {
        lane *l = &e->timers.lanes[i];
        if (l->lo == l->hi) timers_lane_release(l);
    }
}
