/* step.c — one event through one pattern, for the event's key: Flink's
 * NFA.process (computeNextStates, the stop-state rule) over the key's
 * partial matches, bucket by bucket.
 *
 * What keeps it cheap: most states have one of three shapes (nfa.h), with
 * a gate — the part of the condition that reads only the event — tested
 * once per event and state. A closed gate leaves a whole bucket as it is,
 * unread; an open one steps its partial matches with what remains of the
 * condition. Other states take Flink's general decision graph. A partial
 * match that stays in its state stays in place; the others are collected
 * (e->kids) and merged into their buckets after the key's step, in order. */
#include "config.h"
#include "engine.h"
#include "tecs.h"
#include "hash.h"
#include "mem.h"
#include "partition.h"

#include <stdlib.h>
#include <string.h>

/* One output of a partial match's step. */
struct step_out {
    pm q;
    int final; /* completes a match (else a partial match to keep) */
};

/* Bytes the encoded key of vals for pattern pat takes (key_write). */
static size_t key_size(const nfa_pattern *pat, const cep_value *vals) {
    size_t need = 4;
    for (uint32_t i = 0; i < pat->nkeys; i++) {
        cep_value v = vals[pat->key_slots[i]];
        need += 1 + (v.type == CEP_STRING ? 4 + v.u.s.len : 8);
    }
    return need;
}

/* The encoded key: the pattern index, then a type tag and bytes per key
 * field. Integral doubles encode as ints so that 7 and 7.0 are one key,
 * as they compare equal. Returns its length. */
static uint32_t key_write(uint32_t pi, const nfa_pattern *pat, const cep_value *vals, char *buf) {
    char *p = buf;
    memcpy(p, &pi, 4);
    p += 4;
    for (uint32_t i = 0; i < pat->nkeys; i++) {
        cep_value v = vals[pat->key_slots[i]];
        if (v.type == CEP_DOUBLE && key_integral(v.u.d, &v.u.i)) v.type = CEP_INT;
        *p++ = (char)v.type;
        switch (v.type) {
        case CEP_NULL: memset(p, 0, 8); p += 8; break;
        case CEP_BOOL: { int64_t b = v.u.b; memcpy(p, &b, 8); p += 8; break; }
        case CEP_INT: memcpy(p, &v.u.i, 8); p += 8; break;
        case CEP_DOUBLE: memcpy(p, &v.u.d, 8); p += 8; break;
        case CEP_STRING: {
            uint32_t l = (uint32_t)v.u.s.len;
            memcpy(p, &l, 4);
            p += 4;
            memcpy(p, v.u.s.ptr, l);
            p += l;
            break;
        }
        }
    }
    return (uint32_t)(p - buf);
}

static int encode_key_slow(cep_engine *e, uint32_t pi, const cep_value *vals, uint32_t *len);

/* step_encode_key, its common key (one int field) inline: what key_write
 * writes. */
static inline int encode_key(cep_engine *e, uint32_t pi, const cep_value *vals, uint32_t *len) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    if (pat->nkeys == 1 && vals[pat->key_slots[0]].type == CEP_INT && e->scratch.keybuf_cap >= 13) {
        char *p = e->scratch.keybuf;
        memcpy(p, &pi, 4);
        p[4] = (char)CEP_INT;
        memcpy(p + 5, &vals[pat->key_slots[0]].u.i, 8);
        *len = 13;
        return CEP_OK;
    }
    return encode_key_slow(e, pi, vals, len);
}

int step_encode_key(cep_engine *e, uint32_t pi, const cep_value *vals, uint32_t *len) {
    return encode_key(e, pi, vals, len);
}

static int encode_key_slow(cep_engine *e, uint32_t pi, const cep_value *vals, uint32_t *len) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    size_t need = key_size(pat, vals);
    if (need > UINT32_MAX) return CEP_ERANGE;
    if (need > e->scratch.keybuf_cap && mem_grow((void **)&e->scratch.keybuf, &e->scratch.keybuf_cap, need, 1) < 0) return CEP_ENOMEM;
    *len = key_write(pi, pat, vals, e->scratch.keybuf);
    return CEP_OK;
}

void engine_prefetch_key(cep_engine *e, const cep_event *ev, int stage, ahead_key *ak) {
    /* What is read here is read at once, through pointers valid now: the
     * key table and key states may change before the event is pushed, and
     * then only a fetch is wasted. The first pattern's key (in a key
     * group, the first pattern's is the group's: the same bytes, and the
     * maps share a seed), down to its key entry. */
    if (!e->prog->npatterns || ev->nslots != e->prog->nfields || ev->stored) return;
    int grouped = e->rt[0].kgroup != NO_GROUP;
    if (grouped && stage == 3) return; /* (a group's entry has nothing for it) */
    const keymap *m = grouped ? &e->keyset.groups : &e->keyset.keys;
    if (!m->cap) return;
    const nfa_pattern *pat = &e->prog->patterns[0];
    if (stage == 0) { /* the hash is made once, here, for the later stages */
        char buf[64];
        uint32_t len = 13, pi = 0;
        ak->hash = 0;
        ak->ent = NULL;
        if (pat->nkeys == 1 && ev->vals[pat->key_slots[0]].type == CEP_INT) { /* (encode_key's common key) */
            memcpy(buf, &pi, 4);
            buf[4] = (char)CEP_INT;
            memcpy(buf + 5, &ev->vals[pat->key_slots[0]].u.i, 8);
        } else {
            if (key_size(pat, ev->vals) > sizeof buf) return;
            len = key_write(0, pat, ev->vals, buf);
        }
        ak->hash = hash_bytes(buf, len, m->seed);
        __builtin_prefetch(&m->slots[(size_t)ak->hash & (m->cap - 1)]);
        return;
    }
    uint64_t h = ak->hash;
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    for (int probe = 0; probe < 4 && m->slots[i]; probe++, i = (i + 1) & mask) {
        if (!slot_tagged(m->slots[i], h)) continue;
        if (grouped) {
            const key_entry *ent = slot_ptr(m->slots[i]);
            if (stage == 1) {
                const char *k = (const char *)ent;
                for (size_t off = 0; off < sizeof(key_entry) + 16; off += 64) __builtin_prefetch(k + off);
            } else if (stage == 2) {
                /* The entry, for the row's push (its key compared there). */
                ak->ent = (key_entry *)ent;
                if (ent->tab == ent->inl) return;
                /* (its table of the patterns' key states, out of line: the
                 * visits probe it, a rule set's ~20 times an event, up to
                 * 16 lines) */
                size_t bytes = (size_t)(ent->mask + 1) * sizeof *ent->tab;
                for (size_t off = 0; off < bytes && off < 16 * 64; off += 64) __builtin_prefetch((const char *)ent->tab + off);
            }
            return;
        }
        const key_state *ks = slot_ptr(m->slots[i]);
        if (stage == 1) { /* the key's bytes too: keymap_find compares them */
            const char *k = (const char *)ks;
            for (size_t off = 0; off < sizeof *ks + 16; off += 64) __builtin_prefetch(k + off);
            return;
        }
        /* Stage 2 (the key state has come): the partial matches of the
         * buckets this event's gates open, when they are not in the key
         * state; stage 3 (those have come): their events, unless their
         * hint decides. */
        uint64_t open = pat->dispatch_slot >= 0 ? eval_dispatch(pat, &ev->vals[pat->dispatch_slot]) : ~(uint64_t)0;
        for (uint32_t bi = 0; bi < ks->nb && bi < 4; bi++) {
            const bucket *b = &key_buckets(ks)[bi];
            if (b->state < 64 && (pat->dispatch_states >> b->state & 1) && !(open >> b->state & 1)) continue;
            if (stage == 2) {
                for (uint32_t j = b->lo; j < b->hi && j < b->lo + 8; j += 64 / sizeof *b->v)
                    __builtin_prefetch(&b->v[j]);
                continue;
            }
            for (uint32_t j = b->lo; j < b->hi && j < b->lo + 8; j++) {
                if (b->v[j].hinted) continue;
                const char *n = (const char *)b->v[j].node;
                __builtin_prefetch(n);
                __builtin_prefetch(n + 64);
                __builtin_prefetch(n + 128);
            }
        }
        return;
    }
}

static cep_event *stored_event(cep_engine *e, step_in *in) {
    if (!*in->stored) {
        if (!in->own) *in->stored = engine_keep_event(e, in->ev); /* the caller's row */
        else {
            *in->stored = in->ev;
            event_retain(in->ev);
        }
    }
    return *in->stored;
}

static inline int holds(cep_engine *e, const expr *c, const cep_value *row, const pm_node *chain) {
    e->ctx.row = row;
    e->ctx.chain = chain;
    int h = expr_holds(c, &e->ctx);
    if (e->ctx.scratch) expr_ctx_reset(&e->ctx);
    return h;
}

/* What remains of a state's condition. Its most common form, `field ==
 * step.field` on ints (an event joined to an earlier step), is decided
 * here; exactly as expr_holds would (the newest event of the step). */
static inline int rest_holds(cep_engine *e, const expr *r, const cep_value *row, const pm_node *chain) {
    if (r->kind == XK_REF_CMP && r->op == NFA_OP_EQ) {
        const pm_node *n = chain;
        while (n && (int32_t)n->step != r->step) n = n->parent;
        if (n) {
            const cep_value *a = &row[r->slot];
            cep_value b = event_stored_value(node_ev(n), (uint32_t)r->slot2);
            if (a->type == CEP_INT && b.type == CEP_INT) return a->u.i == b.u.i;
        }
    }
    return holds(e, r, row, chain);
}

/* Does the rest of st's condition hold for p (its gate being open)? */
static inline int pm_rest_holds(cep_engine *e, const nfa_state *st, const pm *p, const cep_value *row) {
    if (p->hinted) { /* `field == step.field` with the step's value at hand */
        const cep_value *v = &row[st->rest->slot];
        return v->type == CEP_INT ? v->u.i == p->hint : v->type == CEP_DOUBLE && v->u.d == (double)p->hint;
    }
    return !st->rest || rest_holds(e, st->rest, row, p->node);
}

/* The gate of state s, decided once per event and pattern: by the
 * pattern's dispatch lookup (e->gmask), or evaluated, e->gate[s] holding
 * the result when e->gate_at[s] is this step's stamp. */
static inline int gate_open(cep_engine *e, const nfa_pattern *pat, uint32_t s, const cep_value *row) {
    if (s < 64 && (pat->dispatch_states >> s & 1)) return (int)(e->scratch.gmask >> s & 1);
    if (s < 64 && !(e->scratch.maybe >> s & 1)) return 0; /* the route knows it closed */
    if (s < 64 && (e->scratch.sure >> s & 1)) return 1;   /* ... or open (its thresholds) */
    const nfa_state *st = &pat->states[s];
    if (e->scratch.gate_at[s] != e->scratch.stamp) {
        e->scratch.gate_at[s] = e->scratch.stamp;
        e->scratch.gate[s] = (uint8_t)holds(e, st->gate, row, NULL);
    }
    return e->scratch.gate[s];
}

cep_event *step_stored(cep_engine *e, step_in *in) { return stored_event(e, in); }

int step_cond(cep_engine *e, const nfa_pattern *pat, uint32_t s, const cep_value *row) {
    const nfa_state *st = &pat->states[s];
    return gate_open(e, pat, s, row) && (!st->rest || holds(e, st->rest, row, NULL));
}

static uint32_t bits_for(uint64_t n) {
    uint32_t w = 0;
    while (w < 64 && ((uint64_t)1 << w) < n) w++;
    return w;
}

/* ---- Flink's decision graph, for states of no simple shape --------------------- */

static int u32_push(u32_list *l, uint32_t v) {
    if (l->n == l->cap && mem_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v) < 0) return -1;
    l->v[l->n++] = v;
    return 0;
}

/* A condition once per (partial match, event): a TAKE edge and its IGNORE
 * edge test the same one. */
static int cond_holds(cep_engine *e, const expr *cond) {
    for (int i = 0; i < e->scratch.ncache; i++)
        if (e->scratch.cache[i].cond == cond) return e->scratch.cache[i].holds;
    int h = expr_holds(cond, &e->ctx);
    if (e->ctx.scratch) expr_ctx_reset(&e->ctx);
    if (e->scratch.ncache < (int)(sizeof e->scratch.cache / sizeof *e->scratch.cache)) e->scratch.cache[e->scratch.ncache++] = (cond_result){cond, h};
    return h;
}

/* Flink's createDecisionGraph: the TAKE and IGNORE edges that hold for this
 * event, reached from the partial match's state through PROCEED edges that
 * hold, depth first with a stack, in Flink's order. */
static int decision_graph(cep_engine *e, const nfa_pattern *pat, const pm *p, const step_in *in) {
    const cep_event *ev = in->ev;
    e->scratch.stack.n = 0;
    e->scratch.out.n = 0;
    if (u32_push(&e->scratch.stack, p->state) < 0) return -1;
    e->ctx.row = in->row;
    e->ctx.chain = p->node;
    size_t guard = 0;
    e->scratch.ncache = 0;
    while (e->scratch.stack.n) {
        uint32_t s = e->scratch.stack.v[--e->scratch.stack.n];
        const nfa_state *st = &pat->states[s];
        if (++guard > (size_t)pat->nstates * 4 + 64) break; /* proceed edges never cycle; be safe */
        /* A state reached by proceeding (past a loop or an optional step)
         * whose gap has passed since the last event taken neither takes nor
         * waits (language.md §10; Flink checks only the state a partial
         * match waits in, §21). The state waited in is pruned by its timer
         * before this event, so this only ever cuts proceeded-to states. */
        if (st->gap_ms > 0 && p->node && node_ev(p->node)->time <= INT64_MAX - st->gap_ms &&
            ev->time >= node_ev(p->node)->time + st->gap_ms)
            continue;
        for (uint32_t i = 0; i < st->nedges; i++) {
            const nfa_edge *edge = &pat->edges[st->first_edge + i];
            int h = edge->cond ? cond_holds(e, edge->cond) : 1;
            if (h == edge->negate) continue;
            if (edge->kind == EDGE_PROCEED) {
                if (u32_push(&e->scratch.stack, edge->target) < 0) return -1;
            } else if (u32_push(&e->scratch.out, st->first_edge + i) < 0 || u32_push(&e->scratch.out, s) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* Flink's findFinalStateAfterProceed: can state s reach the final state by
 * PROCEED edges that hold for this event? */
static int final_after_proceed(cep_engine *e, const nfa_pattern *pat, uint32_t s) {
    size_t base = e->scratch.stack.n;
    if (u32_push(&e->scratch.stack, s) < 0) return 0;
    int found = 0;
    size_t guard = 0;
    while (e->scratch.stack.n > base && !found && ++guard < (size_t)pat->nstates * 4 + 64) {
        const nfa_state *st = &pat->states[e->scratch.stack.v[--e->scratch.stack.n]];
        for (uint32_t i = 0; i < st->nedges && !found; i++) {
            const nfa_edge *edge = &pat->edges[st->first_edge + i];
            if (edge->kind != EDGE_PROCEED) continue;
            int h = edge->cond ? cond_holds(e, edge->cond) : 1;
            if (h == edge->negate) continue;
            if (pat->states[edge->target].kind == ST_FINAL) found = 1;
            else if (u32_push(&e->scratch.stack, edge->target) < 0) break;
        }
    }
    e->scratch.stack.n = base;
    return found;
}

static int push_out(cep_engine *e, pm q, int final) {
    out_list *o = &e->scratch.outs;
    if (o->n == o->cap && mem_grow((void **)&o->v, &o->cap, o->n + 1, sizeof *o->v) < 0) return -1;
    o->v[o->n++] = (struct step_out){q, final};
    return 0;
}

/* Where one output goes: completed, kept in place in bucket b (the first
 * output that waits in b's state: it sorts where p did), or e->kids. */
static void place_out(cep_engine *e, key_state *ks, bucket *b, const pm *p, struct step_out *o,
                      uint32_t *k, int *in_place) {
    if (!o->final && b && !*in_place && o->q.state == b->state) {
        if (o->q.node != p->node) {
            pm_set_hint(&e->prog->patterns[key_pattern(ks)], &o->q);
            if (timers_arm_pm(e, ks, &o->q, 0) < 0) { /* it could never expire */
                engine_node_release(e, o->q.node);
                e->oom = 1;
                return;
            }
        }
        b->v[(*k)++] = o->q;
        *in_place = 1;
        ks->npms++;
        e->stats.partial_matches++;
        if (o->q.used > ks->max_used) ks->max_used = o->q.used;
        return;
    }
    if (engine_list_push(o->final ? &e->scratch.completed : &e->scratch.kids, o->q) < 0) {
        engine_node_release(e, o->q.node);
        e->oom = 1;
    }
}

/* Flink's computeNextStates plus the stop-state rule of doProcess, for
 * partial match p (node NULL: the start state), which sat in bucket b
 * (NULL for the start state) at the place *k writes back to; shared: the
 * decision graph in e->out is the bucket's (its state's is shared).
 * Returns -1 with nothing changed when memory runs out. */
static int general_step(cep_engine *e, const nfa_pattern *pat, key_state *ks, bucket *b, const pm *p,
                        uint32_t *k, step_in *in, int shared) {
    if (!shared && decision_graph(e, pat, p, in) < 0) return -1;
    e->scratch.outs.n = 0;
    int discard = 0, failed = 0;
    for (uint32_t j = 0; j + 1 < e->scratch.out.n && !failed; j += 2) {
        const nfa_edge *edge = &pat->edges[e->scratch.out.v[j]];
        const nfa_state *src = &pat->states[e->scratch.out.v[j + 1]];
        const nfa_state *dst = &pat->states[edge->target];
        pm q = *p;
        q.state = edge->target;
        if (edge->kind == EDGE_IGNORE) {
            if (!p->node) continue; /* the start state never waits */
            q.node->refs++;
        } else {
            cep_event *ev = stored_event(e, in);
            if (!ev || !(q.node = engine_node_new(e, ev, src->step, p->node))) {
                failed = 1;
                break;
            }
        }
        if (dst->kind == ST_STOP) { /* a negation fired: the whole path goes */
            discard = 1;
            engine_node_release(e, q.node);
            continue;
        }
        if (push_out(e, q, dst->kind == ST_FINAL) < 0) {
            engine_node_release(e, q.node);
            failed = 1;
            break;
        }
        if (edge->kind == EDGE_TAKE && dst->kind != ST_FINAL) {
            /* Reaching the final state by proceeding completes a match now. */
            e->ctx.row = in->row;
            e->ctx.chain = p->node;
            if (final_after_proceed(e, pat, edge->target)) {
                q.node->refs++;
                if (push_out(e, q, 1) < 0) {
                    q.node->refs--;
                    failed = 1;
                }
            }
        }
    }
    if (failed) {
        for (size_t i = 0; i < e->scratch.outs.n; i++) engine_node_release(e, e->scratch.outs.v[i].q.node);
        e->scratch.outs.n = 0;
        return -1;
    }
    size_t n = e->scratch.outs.n;
    if (n >= 2) {
        /* Branches sort in edge order just after p, before anything that
         * came after p: the next w label bits below the ones p uses. */
        uint32_t w = bits_for(n), u = p->used;
        if (u + w <= 64) /* else relabelling ran out of memory: ties stay ties */
            for (size_t i = 0; i < n; i++) {
                e->scratch.outs.v[i].q.label = p->label + ((uint64_t)i << (64 - u - w));
                e->scratch.outs.v[i].q.used = u + w;
            }
    }
    int in_place = 0;
    for (size_t i = 0; i < n; i++) {
        struct step_out *o = &e->scratch.outs.v[i];
        if (discard && !o->final) engine_node_release(e, o->q.node);
        else place_out(e, ks, b, p, o, k, &in_place);
    }
    e->scratch.outs.n = 0;
    return 0;
}

/* ---- the simple shapes --------------------------------------------------------------- */

/* TAKE into st->target: a new node on p's chain, completed or kept. */
static inline __attribute__((always_inline)) int take(cep_engine *e, const nfa_pattern *pat, const nfa_state *st, const pm *p,
                                                      step_in *in) {
    cep_event *ev = stored_event(e, in);
    if (!ev) return -1;
    pm q = *p;
    q.state = st->target;
    if (!(q.node = engine_node_new(e, ev, st->step, p->node))) return -1;
    pm_list *to = pat->states[st->target].kind == ST_FINAL ? &e->scratch.completed : &e->scratch.kids;
    if (engine_list_push(to, q) < 0) {
        engine_node_release(e, q.node);
        return -1;
    }
    return 0;
}

/* ANY's TAKE for p, whose condition holds: the taking branch (into
 * st->target: completed or a new partial match), and p stays where it is.
 * Exactly general_step's two outputs, TAKE first: the taking one keeps
 * p's label and p, staying, sorts just after it, one label bit more each.
 * p is unchanged when memory runs out. */
static int take_any(cep_engine *e, const nfa_pattern *pat, const nfa_state *st, pm *p, step_in *in) {
    cep_event *ev = stored_event(e, in);
    if (!ev) return -1;
    pm q = *p;
    q.state = st->target;
    if (!(q.node = engine_node_new(e, ev, st->step, p->node))) return -1;
    if (p->used < 64) /* else relabelling ran out of memory: ties stay ties */
        q.used = (uint8_t)(p->used + 1);
    pm_list *to = pat->states[st->target].kind == ST_FINAL ? &e->scratch.completed : &e->scratch.kids;
    if (engine_list_push(to, q) < 0) {
        engine_node_release(e, q.node);
        return -1;
    }
    if (p->used < 64) {
        p->label += (uint64_t)1 << (63 - p->used);
        p->used++;
    }
    return 0;
}

/* An ANY bucket whose gate is open: each partial match whose rest holds
 * branches; all stay in place, in order (a branch sorts after the new
 * one, before whatever came after the partial match). */
static int step_any(cep_engine *e, const nfa_pattern *pat, key_state *ks, bucket *b, step_in *in) {
    const nfa_state *st = &pat->states[b->state];
    const cep_event *ev = in->ev;
    for (uint32_t i = b->lo; i < b->hi; i++) {
        pm *p = &b->v[i];
        if (in->straggler && node_ev(p->node)->time > ev->time) continue; /* as step_bucket */
        if (!pm_rest_holds(e, st, p, in->row)) continue;
        if (take_any(e, pat, st, p, in) < 0) return -1;
        if (p->used > ks->max_used) ks->max_used = p->used;
    }
    return 0;
}

/* Step every partial match of bucket b over the event; those that stay
 * are compacted in place. Returns -1 when memory ran out (the partial
 * matches not stepped then stay as they were). */
static int step_bucket(cep_engine *e, const nfa_pattern *pat, key_state *ks, bucket *b, step_in *in) {
    const nfa_state *st = &pat->states[b->state];
    const cep_event *ev = in->ev;
    if (st->shape != SHAPE_GENERAL && st->gate && !gate_open(e, pat, b->state, in->row)) {
        if (st->shape != SHAPE_NEXT) return 0; /* nothing here can move */
    }
    if (st->shape == SHAPE_ANY) return step_any(e, pat, ks, b, in);
    int closed_next = st->shape == SHAPE_NEXT && st->gate && !gate_open(e, pat, b->state, in->row);
    int shared = st->shape == SHAPE_GENERAL && st->shared && b->lo < b->hi;
    if (shared) {
        /* One decision graph for the whole bucket (its conditions read
         * only the event); when all it says is "stay", nothing moves. */
        if (decision_graph(e, pat, &b->v[b->lo], in) < 0) return -1;
        if (e->scratch.out.n == 2 && pat->edges[e->scratch.out.v[0]].kind == EDGE_IGNORE &&
            pat->edges[e->scratch.out.v[0]].target == b->state)
            return 0;
    }
    uint32_t k = b->lo, gone = 0;
    int failed = 0;
    for (uint32_t i = b->lo; i < b->hi; i++) {
        pm p = b->v[i];
        if (failed || (in->straggler && node_ev(p.node)->time > ev->time)) {
            /* A straggler cannot come after an event the partial match
             * already took: that one goes on unchanged. */
            b->v[k++] = p;
            continue;
        }
        if (closed_next) {
            /* strict contiguity broken: it ends */
        } else if (st->shape == SHAPE_FOLLOW || st->shape == SHAPE_NEXT) {
            int h = pm_rest_holds(e, st, &p, in->row);
            if (!h) {
                if (st->shape == SHAPE_FOLLOW) {
                    b->v[k++] = p;
                    continue;
                }
            } else if (take(e, pat, st, &p, in) < 0) {
                failed = 1;
                b->v[k++] = p;
                continue;
            }
        } else if (st->shape == SHAPE_NEGATE) {
            if (st->rest && !holds(e, st->rest, in->row, p.node)) {
                b->v[k++] = p;
                continue;
            }
            /* the negation fired: the partial match goes */
        } else if (general_step(e, pat, ks, b, &p, &k, in, shared) < 0) {
            failed = 1;
            b->v[k++] = p;
            continue;
        }
        engine_node_release(e, p.node);
        gone++;
    }
    b->hi = k;
    ks->npms -= gone;
    e->stats.partial_matches -= gone;
    if (b->lo == b->hi) e->scratch.emptied = 1;
    return failed ? -1 : 0;
}

/* The start state, which never waits: every event is tried against it. */
static int step_start(cep_engine *e, const nfa_pattern *pat, step_in *in) {
    uint32_t s = pat->start;
    const nfa_state *st = &pat->states[s];
    if (st->shape == SHAPE_FOLLOW || st->shape == SHAPE_NEXT || st->shape == SHAPE_ANY) {
        /* (ANY: the start state never waits, so only its TAKE counts.) */
        if (st->gate && !gate_open(e, pat, s, in->row)) return 0;
        if (st->rest && !holds(e, st->rest, in->row, NULL)) return 0;
        pm p = {.node = NULL, .start = in->ev->time, .start_seq = in->ev->seq, .state = s};
        return take(e, pat, st, &p, in);
    }
    pm p = {.node = NULL, .start = in->ev->time, .start_seq = in->ev->seq, .state = s};
    uint32_t k = 0;
    return general_step(e, pat, NULL, NULL, &p, &k, in, 0);
}

/* ---- one event, one pattern ------------------------------------------------------ */

static int kid_less(const pm *a, const pm *b) { return a->state != b->state ? a->state < b->state : pm_less(a, b); }

static int cmp_kid(const void *a, const void *b) {
    const pm *x = a, *y = b;
    return kid_less(x, y) ? -1 : kid_less(y, x);
}

/* Timer entries for the new partial matches, then into their buckets. */
static void insert_kids(cep_engine *e, key_state *ks, const step_in *in) {
    pm_list *l = &e->scratch.kids;
    if (l->n == 1) {
        /* The common case: one new partial match, which goes last (its
         * bucket made or grown here: a key that waits in the state already,
         * W7's, most often has no room left in it). */
        pm *q = &l->v[0];
        bucket *b = ks->nb == 1 && key_buckets(ks)[0].state == q->state ? &key_buckets(ks)[0]
                  : key_bucket(e, ks, q->state, 1);
        if (b && (b->lo == b->hi || pm_less(&b->v[b->hi - 1], q)) && key_bucket_room(e, ks, b, 1) == 0) {
            pm_set_hint(&e->prog->patterns[key_pattern(ks)], q);
            if (timers_arm_pm(e, ks, q, q->start_seq == in->ev->seq) < 0) {
                engine_node_release(e, q->node);
                e->oom = 1;
                if (b->lo == b->hi) key_drop_empty_buckets(e, ks); /* (made above: no empty bucket stays) */
            } else {
                b->v[b->hi++] = *q;
                ks->npms++;
                e->stats.partial_matches++;
                if (q->used > ks->max_used) ks->max_used = q->used;
            }
            l->n = 0;
            return;
        }
    }
    uint32_t k = 0;
    int family_armed = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        pm *q = &l->v[i];
        /* The event's own seq marks the partial matches it started: one
         * `within` entry covers them all. */
        int fresh = q->start_seq == in->ev->seq;
        if (timers_arm_pm(e, ks, q, fresh && !family_armed) < 0) {
            engine_node_release(e, q->node); /* it could never expire */
            e->oom = 1;
            continue;
        }
        family_armed |= fresh;
        l->v[k++] = *q;
    }
    l->n = k;
    uint32_t sorted = 1; /* (followedByAny's branches come in order) */
    while (sorted < k && !kid_less(&l->v[sorted], &l->v[sorted - 1])) sorted++;
    if (sorted == k) {
    } else if (k > 16) {
        qsort(l->v, k, sizeof *l->v, cmp_kid);
    } else {
        for (uint32_t i = 1; i < k; i++) {
            pm x = l->v[i];
            uint32_t j = i;
            for (; j > 0 && kid_less(&x, &l->v[j - 1]); j--) l->v[j] = l->v[j - 1];
            l->v[j] = x;
        }
    }
    if (key_insert_sorted(e, ks, l) < 0) e->oom = 1;
}

/* memcmp(a, b, n) == 0, the usual key (9 to 16 bytes: one int's is 13)
 * in two loads a side instead of a call. */
static inline int key_bytes_equal(const char *a, const char *b, uint32_t n) {
    if (n < 8 || n > 16) return !memcmp(a, b, n);
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a, 8);
    memcpy(&b0, b, 8);
    memcpy(&a1, a + n - 8, 8);
    memcpy(&b1, b + n - 8, 8);
    return a0 == b0 && a1 == b1;
}

int group_lookup_slow(cep_engine *e, const pat_rt *rt, const cep_value *vals) {
    gcache *c = &e->keyset.gcache[rt->kgroup];
    uint32_t klen;
    int rc = encode_key(e, rt->kgroup_pat, vals, &klen);
    if (rc != CEP_OK) return rc;
    c->stamp = e->scratch.ev_stamp;
    /* push_many's row found an entry a few rows ago (not freed since:
     * ent_free clears it): it is the key's when its key is these bytes (an
     * entry's key never changes), without the hash and the probes. */
    const key_entry *a = e->scratch.ahead_ent;
    if (a && vals == e->scratch.ahead_row && a->key_len == klen && key_bytes_equal(a->key, e->scratch.keybuf, klen)) {
        c->hash = a->hash;
        c->ent = (key_entry *)a;
        return CEP_OK;
    }
    c->hash = hash_bytes(e->scratch.keybuf, klen, e->keyset.groups.seed);
    c->ent = entmap_find(&e->keyset.groups, c->hash, e->scratch.keybuf, klen);
    return CEP_OK;
}

/* Keyed like other patterns: the key's entry is looked up once per event
 * for all of them (keys.c), into *gc. */
static inline int group_lookup(cep_engine *e, const pat_rt *rt, const cep_value *vals, gcache **gc) {
    gcache *c = *gc = &e->keyset.gcache[rt->kgroup];
    return c->stamp == e->scratch.ev_stamp ? CEP_OK : group_lookup_slow(e, rt, vals);
}

/* A key with no state for pattern pat, whose simple start (FOLLOW, NEXT
 * or ANY, taking into a waiting state) may take the event: what
 * step_pattern does for it, straight: the one partial match the start
 * makes, in a new key state's first bucket (W8: most partial matches are
 * made so, each the first of its key and pattern). Inline: its two
 * callers fold what they know (open, gc). */
static inline __attribute__((always_inline)) int step_fresh(cep_engine *e, uint32_t pi, const nfa_pattern *pat,
                                                            step_in *in, gcache *gc, uint64_t hash, int open) {
    const nfa_state *st = &pat->states[pat->start];
    if (!open && st->gate && !gate_open(e, pat, pat->start, in->row)) return CEP_OK;
    if (st->rest && !holds(e, st->rest, in->row, NULL)) return CEP_OK;
    cep_event *ev = stored_event(e, in);
    pm q = {.start = in->ev->time, .start_seq = in->ev->seq, .state = st->target};
    uint32_t klen = 0;
    if (!ev || !(q.node = engine_node_new(e, ev, st->step, NULL))) goto oom;
    /* The key's entry in its group, when it has one, holds its bytes
     * (after the group's first pattern: engine_key_fresh writes pi's). */
    const char *key = gc && gc->ent ? gc->ent->key : e->scratch.keybuf;
    if (gc && gc->ent) klen = gc->ent->key_len;
    else if (step_encode_key(e, pi, in->row, &klen) != CEP_OK) key = NULL;
    pm_set_hint(pat, &q);
    if (!key || !engine_key_fresh(e, pi, hash, key, klen, gc, &q, in->ev->time)) {
        engine_node_release(e, q.node);
        goto oom;
    }
    return e->oom ? CEP_ENOMEM : CEP_OK;
oom:
    e->oom = 1;
    return CEP_ENOMEM;
}

#define STEP_FLAT 1 /* (not a CEP_ code) */

/* step_pattern for a compact pattern whose key (ks, NULL: none yet; its
 * bytes in keybuf, klen of them, when it is alone in its key group) has
 * no partial match one by one: every combination, compactly (tecs.c),
 * while nothing needs them one by one; else the key goes flat for good
 * and STEP_FLAT says step_pattern goes on. (Out of line: the common
 * step's registers.) */
static __attribute__((noinline)) int step_compact(cep_engine *e, uint32_t pi, step_in *in, key_state *ks, gcache *gc,
                                                  uint64_t hash, uint32_t klen) {
    if (tecs_usable(e) && !in->straggler) {
        if (!ks) {
            if (!tecs_starts(e, pi, in)) return CEP_OK;
            if ((gc && step_encode_key(e, pi, in->row, &klen) != CEP_OK) ||
                !(ks = engine_key_new(e, pi, hash, e->scratch.keybuf, klen, gc))) {
                e->oom = 1;
                return CEP_ENOMEM;
            }
        }
        return tecs_step(e, pi, ks, in);
    }
    if (ks && key_tecs(ks) && tecs_flatten(e, ks) < 0) return CEP_ENOMEM;
    return STEP_FLAT;
}

int step_start_fresh(cep_engine *e, uint32_t pi, step_in *in) {
    gcache *gc = &e->keyset.gcache[e->hot[pi].kgroup]; /* (not pat_rt: see pat_fresh) */
    const pat_fresh *f = &e->fresh[pi];
    if (!f->plain || !gc->ent) return step_fresh(e, pi, &e->prog->patterns[pi], in, gc, 0, 1);
    /* step_fresh where its questions have their answers in f: the gate
     * is open (the route said so), no condition is left, the target
     * state joins no step; the key's entry is there and holds its bytes.
     * Neither the pattern nor its states are read. */
    cep_event *ev = stored_event(e, in);
    pm q = {.start = in->ev->time, .start_seq = in->ev->seq, .state = f->target};
    if (!ev || !(q.node = engine_node_new(e, ev, f->step, NULL))) goto oom;
    if (!engine_key_fresh(e, pi, 0, gc->ent->key, gc->ent->key_len, gc, &q, in->ev->time)) {
        engine_node_release(e, q.node);
        goto oom;
    }
    return e->oom ? CEP_ENOMEM : CEP_OK;
oom:
    e->oom = 1;
    return CEP_ENOMEM;
}

int step_pattern(cep_engine *e, uint32_t pi, step_in *in) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    const pat_rt *rt = &e->rt[pi];
    const cep_event *ev = in->ev;
    /* Partitioned: another shard owns this key (cep_engine_set_partition). */
    if (e->cfg.part_count > 1 && partition_of(e->prog, pi, in->row, e->cfg.part_count) != e->cfg.part_index) return CEP_OK;
    if (++e->scratch.stamp == 0) { /* wrapped: no stale stamp may match */
        memset(e->scratch.gate_at, 0, e->scratch.gate_cap * sizeof *e->scratch.gate_at);
        e->scratch.stamp = 1;
    }
    e->scratch.maybe = in->maybe;
    e->scratch.sure = in->sure;
    if (in->exact_dispatch) e->scratch.gmask = in->maybe & pat->dispatch_states;
    else e->scratch.gmask = pat->dispatch_slot >= 0 ? eval_dispatch(pat, &in->row[pat->dispatch_slot]) : 0;
    if (rt->skippable && e->cfg.state_ttl <= 0) {
        /* If no gate lets the event in, it changes nothing of this pattern
         * for any key: not even its key needs looking up. */
        int any = e->scratch.gmask != 0 || e->scratch.sure != 0; /* (sure: gates the route opened) */
        for (uint32_t s = 0; s < pat->nstates && !any && rt->undispatched; s++)
            if (pat->states[s].gate && gate_open(e, pat, s, in->row)) any = 1;
        if (!any) return CEP_OK;
    }
    uint32_t klen = 0;
    uint64_t hash = 0;
    key_state *ks;
    gcache *gc = NULL;
    int rc;
    if (rt->kgroup == NO_GROUP) {
        if ((rc = encode_key(e, pi, in->row, &klen)) != CEP_OK) return rc;
        hash = hash_bytes(e->scratch.keybuf, klen, e->keyset.keys.seed);
        ks = keymap_find(&e->keyset.keys, hash, e->scratch.keybuf, klen);
    } else {
        if ((rc = group_lookup(e, rt, in->row, &gc)) != CEP_OK) return rc;
        ks = gc->ent ? entry_get(gc->ent, pi) : NULL;
    }
    if (!ks && !e->cfg.max_bytes) {
        /* No state for the key: only the start state can take the event,
         * and when its gate is closed nothing below would happen. */
        const nfa_state *st = &pat->states[pat->start];
        if ((st->shape == SHAPE_FOLLOW || st->shape == SHAPE_NEXT) && st->gate &&
            !gate_open(e, pat, pat->start, in->row))
            return CEP_OK;
        if (rt->fresh_start && !pat->compact && e->cfg.state_ttl <= 0) return step_fresh(e, pi, pat, in, gc, hash, 0);
    }
    if (pat->compact && (!ks || key_tecs(ks) || (!ks->nb && !ks->held))) {
        int r = step_compact(e, pi, in, ks, gc, hash, klen);
        if (r != STEP_FLAT) return r;
    }
    int had_state = ks && ks->listed;
    if (ks) {
        if (ks->held) emit_release_held(e, pi, ks);
        if (ks->npms && ks->max_used + rt->maxw > 64) key_relabel(e, ks);
    }
    if (e->cfg.max_bytes) budget_before_step(e, pi, ks, in); /* room for a fan-out, before it */
    e->scratch.kids.n = 0;
    e->scratch.completed.n = 0;
    e->scratch.emptied = 0;
    int failed = 0;
    uint32_t cut[PM_MERGE_MAX], ncut = 0;
    for (uint32_t i = 0; ks && i < ks->nb && !failed; i++) {
        failed = step_bucket(e, pat, ks, &key_buckets(ks)[i], in) < 0;
        if (e->scratch.completed.n > (ncut ? cut[ncut - 1] : 0) && ncut < PM_MERGE_MAX) cut[ncut++] = e->scratch.completed.n;
    }
    /* Completions in Flink's order of the partial matches that made them
     * (each bucket's come in order: merged); those the start state makes
     * come after, as it is stepped last. */
    if (e->scratch.completed.n > 1) {
        int known = ncut < PM_MERGE_MAX && ncut && cut[ncut - 1] == e->scratch.completed.n;
        pm_list *parts = &e->scratch.expired;
        pm_list t = *parts;
        *parts = e->scratch.completed;
        e->scratch.completed = t;
        pm_merge(e, parts, known ? cut : NULL, ncut, &e->scratch.completed);
    }
    if (!failed) failed = step_start(e, pat, in) < 0;
    if (failed) e->oom = 1;
    if (e->scratch.emptied) key_drop_empty_buckets(e, ks);

    int need_state = e->scratch.kids.n || (e->scratch.completed.n && pat->skip != NFA_SKIP_NO_SKIP);
    /* (In a key group, keybuf holds the group's key: this pattern's now.) */
    if (!ks && need_state &&
        ((gc && step_encode_key(e, pi, in->row, &klen) != CEP_OK) || !(ks = engine_key_new(e, pi, hash, e->scratch.keybuf, klen, gc)))) {
        e->oom = 1;
        for (uint32_t i = 0; i < e->scratch.kids.n; i++) engine_node_release(e, e->scratch.kids.v[i].node);
        for (uint32_t i = 0; i < e->scratch.completed.n; i++) engine_node_release(e, e->scratch.completed.v[i].node);
        e->scratch.kids.n = e->scratch.completed.n = 0;
        return CEP_ENOMEM;
    }
    if (!ks) {
        emit_complete(e, pi, NULL, &e->scratch.completed); /* noSkip without state: emit now */
        return e->oom ? CEP_ENOMEM : CEP_OK;
    }
    if (!had_state || ev->time > ks->last_event) ks->last_event = ev->time; /* stragglers are older */
    if (e->scratch.kids.n) insert_kids(e, ks, in);
    if (e->cfg.max_pms && ks->npms > e->cfg.max_pms) {
        /* Over the limit: the earliest-started partial matches go. */
        pm x;
        while (ks->npms > e->cfg.max_pms && key_pop_first(e, ks, &x)) {
            engine_node_release(e, x.node);
            e->stats.dropped++;
        }
        if (e->cfg.limit_policy == CEP_LIMIT_FAIL) e->limit_hit = LIMIT_PARTIAL_MATCHES;
    }
    if (e->stats.partial_matches > e->stats.peak_partial_matches)
        e->stats.peak_partial_matches = e->stats.partial_matches;
    if (!ks->listed && (ks->npms || (e->scratch.completed.n && pat->skip != NFA_SKIP_NO_SKIP))) engine_key_activate(e, ks);
    if (e->scratch.completed.n || ks->held) emit_complete(e, pi, ks, &e->scratch.completed);
    if (e->cfg.state_ttl > 0) timers_arm_ttl(e, ks);
    if (!ks->npms && !ks->held) engine_key_settle(e, ks);
    return e->oom ? CEP_ENOMEM : CEP_OK;
}
