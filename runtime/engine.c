/* engine.c — running compiled patterns over a stream: event time and the
 * out-of-order buffer, per-key partial matches stepped through each
 * pattern's NFA (Flink's rules), `within` expiry driven by a timer heap,
 * after-match skipping and the hold-back of matches it requires. */
#include "config.h"
#include "engine.h"
#include "json.h"
#include "hash.h"
#include "mem.h"
#include "partition.h"

#include <stdarg.h>
#include <sys/random.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void engine_set_err(cep_engine *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof e->err, fmt, ap);
    va_end(ap);
}

/* Copy a caller's event for keeping; tells the tag hook. */
cep_event *engine_keep_event(cep_engine *e, const cep_event *ev) {
    cep_event *f = event_freeze(ev);
    if (!f) return NULL;
    e->stats.stored_events++;
    e->event_bytes += event_stored_size(f);
    if (f->tag && e->on_tag) e->on_tag(e->tag_ud, f->tag, 1);
    return f;
}

void engine_drop_event(cep_engine *e, cep_event *ev) {
    if (ev && ev->refs == 1) {
        e->stats.stored_events--;
        e->event_bytes -= event_stored_size(ev);
        if (ev->tag && e->on_tag) e->on_tag(e->tag_ud, ev->tag, 0);
    }
    event_release(ev);
}

/* ---- nodes and partial-match lists ------------------------------------------- */

pm_node *engine_node_new(cep_engine *e, cep_event *ev, uint32_t step, pm_node *parent) {
    if (!e->free_nodes) {
        node_slab *s = mem_alloc(sizeof *s);
        if (!s) return NULL;
        s->next = e->slabs;
        e->slabs = s;
        for (size_t i = 0; i < NODE_SLAB; i++) {
            s->nodes[i].parent = e->free_nodes;
            e->free_nodes = &s->nodes[i];
        }
    }
    pm_node *n = e->free_nodes;
    e->free_nodes = n->parent;
    n->ev = ev;
    event_retain(ev);
    n->parent = parent;
    if (parent) parent->refs++;
    n->refs = 1;
    n->step = step;
    e->stats.nodes++;
    return n;
}

void engine_node_release(cep_engine *e, pm_node *n) {
    while (n && --n->refs == 0) {
        pm_node *parent = n->parent;
        e->stats.nodes--;
        engine_drop_event(e, n->ev);
        n->parent = e->free_nodes;
        e->free_nodes = n;
        n = parent;
    }
}

int engine_list_push(pm_list *l, pm p) {
    if (l->n == l->cap) {
        size_t cap = l->cap;
        if (mem_grow((void **)&l->v, &cap, (size_t)l->n + 1, sizeof *l->v) < 0) return -1;
        l->cap = (uint32_t)cap;
    }
    l->v[l->n++] = p;
    return 0;
}

static int u32_push(u32_list *l, uint32_t v) {
    if (l->n == l->cap && mem_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v) < 0) return -1;
    l->v[l->n++] = v;
    return 0;
}

/* (start time, start seq) order: Flink's ordering of partial matches. */
static int pm_cmp(const pm *a, const pm *b) {
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    return a->start_seq < b->start_seq ? -1 : a->start_seq > b->start_seq;
}

/* ---- key states ----------------------------------------------------------------- */

static int timer_less(const void *a, const void *b) {
    const key_state *x = a, *y = b;
    if (x->deadline != y->deadline) return x->deadline < y->deadline;
    return x->created < y->created;
}

static void timer_moved(void *item, size_t pos) { ((key_state *)item)->heap_pos = pos; }

key_state *engine_key_new(cep_engine *e, uint32_t pattern, uint64_t hash, const char *key,
                                uint32_t len) {
    key_state *ks = mem_calloc(1, sizeof *ks + len);
    if (!ks) return NULL;
    ks->hash = hash;
    ks->created = e->keys_created++;
    ks->pattern = pattern;
    ks->key_len = len;
    ks->key = (char *)(ks + 1);
    memcpy(ks->key, key, len);
    ks->heap_pos = HEAP_NONE;
    if (keymap_insert(&e->keys, ks) < 0) {
        mem_free(ks);
        return NULL;
    }
    ks->prev = e->last;
    if (e->last) e->last->next = ks;
    else e->first = ks;
    e->last = ks;
    e->stats.keys++;
    return ks;
}

void engine_key_free(cep_engine *e, key_state *ks) {
    for (uint32_t i = 0; i < ks->pms.n; i++) engine_node_release(e, ks->pms.v[i].node);
    for (uint32_t i = 0; i < ks->done.n; i++) engine_node_release(e, ks->done.v[i].node);
    e->stats.partial_matches -= ks->pms.n;
    if (ks->heap_pos != HEAP_NONE) heap_remove(&e->timers, ks->heap_pos);
    keymap_remove(&e->keys, ks);
    if (ks->prev) ks->prev->next = ks->next;
    else e->first = ks->next;
    if (ks->next) ks->next->prev = ks->prev;
    else e->last = ks->prev;
    e->stats.keys--;
    mem_free(ks->pms.v);
    mem_free(ks->done.v);
    mem_free(ks);
}

/* When partial match p stops being able to grow: its pattern window or
 * the gap window of the state it waits in, whichever closes first. */
static int64_t pm_deadline(const nfa_pattern *pat, const pm *p) {
    int64_t d = INT64_MAX;
    if (pat->has_within && p->start <= INT64_MAX - pat->within_ms) d = p->start + pat->within_ms;
    int64_t gap = pat->states[p->state].gap_ms;
    if (gap > 0 && p->prev_time <= INT64_MAX - gap && p->prev_time + gap < d) d = p->prev_time + gap;
    return d;
}

/* After a change: free an empty key state, else re-arm its timer. */
void engine_key_settle(cep_engine *e, const nfa_pattern *pat, key_state *ks) {
    if (ks->pms.n == 0 && ks->done.n == 0) {
        engine_key_free(e, ks);
        return;
    }
    int64_t d = INT64_MAX;
    for (uint32_t i = 0; i < ks->pms.n; i++) {
        int64_t x = pm_deadline(pat, &ks->pms.v[i]);
        if (x < d) d = x;
    }
    /* State TTL: a key idle that long loses what it holds. */
    if (e->state_ttl > 0 && ks->last_event <= INT64_MAX - e->state_ttl && ks->last_event + e->state_ttl < d)
        d = ks->last_event + e->state_ttl;
    if (d == INT64_MAX) { /* nothing can expire: no timer */
        if (ks->heap_pos != HEAP_NONE) heap_remove(&e->timers, ks->heap_pos);
        return;
    }
    ks->deadline = d;
    if (ks->heap_pos == HEAP_NONE) {
        if (heap_push(&e->timers, ks) < 0) e->oom = 1;
    } else {
        heap_fix(&e->timers, ks->heap_pos);
    }
}

/* Encode the key of ev for pattern pi into e->keybuf: the pattern index,
 * then a type tag and bytes per key field. Integral doubles encode as ints
 * so that 7 and 7.0 are one key, as they compare equal. */
static int encode_key(cep_engine *e, uint32_t pi, const cep_value *vals, uint32_t *len) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    size_t need = 4;
    for (uint32_t i = 0; i < pat->nkeys; i++) {
        cep_value v = vals[pat->key_slots[i]];
        need += 1 + (v.type == CEP_STRING ? 4 + v.u.s.len : 8);
    }
    if (need > UINT32_MAX) return CEP_ERANGE;
    if (mem_grow((void **)&e->keybuf, &e->keybuf_cap, need, 1) < 0) return CEP_ENOMEM;
    char *p = e->keybuf;
    memcpy(p, &pi, 4);
    p += 4;
    for (uint32_t i = 0; i < pat->nkeys; i++) {
        cep_value v = vals[pat->key_slots[i]];
        if (v.type == CEP_DOUBLE && v.u.d >= -9.2e18 && v.u.d <= 9.2e18 && v.u.d == (double)(int64_t)v.u.d) {
            v.type = CEP_INT;
            v.u.i = (int64_t)v.u.d;
        }
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
    *len = (uint32_t)(p - e->keybuf);
    return CEP_OK;
}

/* ---- emitting matches ------------------------------------------------------------ */

static int match_reserve(cep_engine *e, size_t nevents, size_t nsteps, size_t nfields) {
    cep_match *m = &e->match;
    if (mem_grow((void **)&m->events, &m->events_cap, nevents, sizeof *m->events) < 0) return -1;
    if (mem_grow((void **)&m->step_off, &m->steps_cap, nsteps + 1, sizeof *m->step_off) < 0) return -1;
    if (nfields && mem_grow((void **)&m->fields, &m->fields_cap, nfields, sizeof *m->fields) < 0)
        return -1;
    return 0;
}

static void emit(cep_engine *e, uint32_t pi, const pm *p, int timeout) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    cep_match *m = &e->match;
    if (match_reserve(e, 0, pat->nsteps, pat->nemit) < 0) {
        e->oom = 1;
        return;
    }
    /* Group the chain's events by step, oldest first (a counting sort):
     * count per step while finding the length and the first event. */
    memset(m->step_off, 0, (pat->nsteps + 1) * sizeof *m->step_off);
    size_t n = 0;
    const pm_node *first = NULL;
    for (const pm_node *x = p->node; x; x = x->parent, n++) {
        m->step_off[x->step + 1]++;
        first = x;
    }
    if (match_reserve(e, n, pat->nsteps, pat->nemit) < 0) {
        e->oom = 1;
        return;
    }
    for (uint32_t s = 0; s < pat->nsteps; s++) m->step_off[s + 1] += m->step_off[s];
    /* Walk newest to oldest, filling each step's range from its end; then
     * step_off[s + 1] has come down to the start of step s: shift it. */
    for (const pm_node *x = p->node; x; x = x->parent) m->events[--m->step_off[x->step + 1]] = x->ev;
    memmove(m->step_off, m->step_off + 1, pat->nsteps * sizeof *m->step_off);
    m->step_off[pat->nsteps] = (uint32_t)n;
    m->pat = pat;
    m->pattern_index = pi;
    m->nkeys = pat->nkeys;
    m->keyvals = first->ev->vals; /* every event of the match shares the key */
    m->start = p->start;
    m->end = p->node->ev->time;
    m->timeout = timeout;
    if (timeout) {
        e->stats.timeouts++;
        if (e->on_timeout && e->on_timeout(e->timeout_ud, m) != 0) e->stop = 1;
        return;
    }
    e->ctx.row = NULL;
    e->ctx.chain = p->node;
    for (uint32_t i = 0; i < pat->nemit; i++) m->fields[i] = expr_eval(pat->emit_exprs[i], &e->ctx);
    e->stats.matches++;
    if (e->on_match && e->on_match(e->match_ud, m) != 0) e->stop = 1;
    expr_ctx_reset(&e->ctx);
}

/* Remove from l every entry with (start, start_seq) before (or, when
 * inclusive, at) the pruning event: Flink's AfterMatchSkipStrategy.prune. */
static uint32_t prune_list(cep_engine *e, pm_list *l, const cep_event *at, int inclusive) {
    pm mark = {.start = at->time, .start_seq = at->seq};
    uint32_t k = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        int c = pm_cmp(&l->v[i], &mark);
        if (c < 0 || (inclusive && c == 0)) engine_node_release(e, l->v[i].node);
        else l->v[k++] = l->v[i];
    }
    uint32_t gone = l->n - k;
    l->n = k;
    return gone;
}

/* The event a skip strategy prunes up to, and whether it prunes that
 * event's own partial matches too (NULL: no pruning). */
static const cep_event *pruning_event(const nfa_pattern *pat, const pm *m, int *inclusive) {
    const pm_node *first = m->node, *step_first = NULL, *step_last = NULL;
    for (const pm_node *x = m->node; x; x = x->parent) {
        first = x;
        if ((int)x->step == pat->skip_step) {
            if (!step_last) step_last = x;
            step_first = x;
        }
    }
    *inclusive = 1;
    switch (pat->skip) {
    case SKIP_TO_NEXT: return first->ev;
    case SKIP_PAST_LAST_EVENT: return m->node->ev;
    case SKIP_TO_FIRST: *inclusive = 0; return step_first ? step_first->ev : NULL;
    case SKIP_TO_LAST: *inclusive = 0; return step_last ? step_last->ev : NULL;
    default: return NULL;
    }
}

/* Emit held matches that no earlier-starting partial match can still
 * precede (Flink's processMatchesAccordingToSkipStrategy). */
static void release_held(cep_engine *e, uint32_t pi, key_state *ks) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    while (ks->done.n) {
        pm m = ks->done.v[0];
        if (ks->pms.n && pm_cmp(&ks->pms.v[0], &m) < 0) break;
        memmove(ks->done.v, ks->done.v + 1, (ks->done.n - 1) * sizeof *ks->done.v);
        ks->done.n--;
        int inclusive;
        const cep_event *at = pruning_event(pat, &m, &inclusive);
        if (at) {
            e->stats.partial_matches -= prune_list(e, &ks->pms, at, inclusive);
            prune_list(e, &ks->done, at, inclusive);
        }
        emit(e, pi, &m, 0);
        engine_node_release(e, m.node);
    }
}

/* Insert completed matches into the key's held list, ordered by start. */
static void hold(cep_engine *e, key_state *ks, const pm *m) {
    if (engine_list_push(&ks->done, *m) < 0) {
        engine_node_release(e, m->node);
        e->oom = 1;
        return;
    }
    for (uint32_t j = ks->done.n - 1; j > 0 && pm_cmp(&ks->done.v[j], &ks->done.v[j - 1]) < 0; j--) {
        pm t = ks->done.v[j];
        ks->done.v[j] = ks->done.v[j - 1];
        ks->done.v[j - 1] = t;
    }
}

/* Completed matches of one step: emitted at once under noSkip, else held
 * back and released in start order by the skip strategy's rules. */
static void complete(cep_engine *e, uint32_t pi, key_state *ks, pm_list *done) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    for (uint32_t i = 0; i < done->n; i++) {
        if (pat->skip == SKIP_NO_SKIP) {
            emit(e, pi, &done->v[i], 0);
            engine_node_release(e, done->v[i].node);
        } else {
            hold(e, ks, &done->v[i]);
        }
    }
    done->n = 0;
    if (pat->skip != SKIP_NO_SKIP && ks) release_held(e, pi, ks);
}

/* Time has reached now: partial matches whose window closed either complete
 * (a trailing notFollowedBy waiting in its pending state) or time out. */
static void prune_expired(cep_engine *e, uint32_t pi, key_state *ks, int64_t now) {
    /* The key's timer holds its earliest deadline: nothing is due before. */
    if (ks->heap_pos == HEAP_NONE || ks->deadline > now) return;
    const nfa_pattern *pat = &e->prog->patterns[pi];
    uint32_t k = 0;
    e->completed.n = 0;
    for (uint32_t i = 0; i < ks->pms.n; i++) {
        pm *p = &ks->pms.v[i];
        /* INT64_MAX is "no deadline": an event at time INT64_MAX must not
         * expire a partial match that has no window (or one past int64). */
        int64_t d = pm_deadline(pat, p);
        if (d == INT64_MAX || d > now) {
            ks->pms.v[k++] = *p;
            continue;
        }
        e->stats.partial_matches--;
        if (pat->states[p->state].kind == ST_PENDING) {
            if (engine_list_push(&e->completed, *p) < 0) {
                engine_node_release(e, p->node);
                e->oom = 1;
            }
            continue;
        }
        if (e->on_timeout) emit(e, pi, p, 1);
        else e->stats.timeouts++;
        engine_node_release(e, p->node);
    }
    ks->pms.n = k;
    complete(e, pi, ks, &e->completed);
}

static uint64_t hash_key(const cep_engine *e, uint32_t len) {
    return hash_bytes(e->keybuf, len, e->keys.seed);
}

/* ---- stepping the NFA ------------------------------------------------------------- */

typedef struct step_in {
    cep_event *ev;       /* the event under test */
    cep_event **stored;  /* its kept copy, made on the first TAKE */
    int straggler;       /* behind the watermark, within the allowed lateness */
} step_in;

static cep_event *stored_event(cep_engine *e, step_in *in) {
    if (!*in->stored) {
        if (in->ev->sbufs) *in->stored = engine_keep_event(e, in->ev); /* a caller's builder */
        else {
            *in->stored = in->ev;
            event_retain(in->ev);
        }
    }
    return *in->stored;
}

/* Evaluate a condition on e->ctx once per (partial match, event): a TAKE
 * edge and its IGNORE edge test the same condition. */
static int cond_holds(cep_engine *e, const expr *cond) {
    for (int i = 0; i < e->ncache; i++)
        if (e->cache[i].cond == cond) return e->cache[i].holds;
    int holds = expr_holds(cond, &e->ctx);
    expr_ctx_reset(&e->ctx);
    if (e->ncache < (int)(sizeof e->cache / sizeof *e->cache))
        e->cache[e->ncache++] = (cond_result){cond, holds};
    return holds;
}

/* Flink's createDecisionGraph: the TAKE and IGNORE edges that hold for this
 * event, reached from the partial match's state through PROCEED edges that
 * hold, depth first with a stack, in Flink's order. */
static int decision_graph(cep_engine *e, const nfa_pattern *pat, const pm *p, const cep_event *ev) {
    e->stack.n = 0;
    e->out.n = 0;
    if (u32_push(&e->stack, p->state) < 0) return -1;
    e->ctx.row = ev->vals;
    e->ctx.chain = p->node;
    size_t guard = 0;
    e->ncache = 0; /* conditions of this partial match and event, evaluated once */
    while (e->stack.n) {
        uint32_t s = e->stack.v[--e->stack.n];
        const nfa_state *st = &pat->states[s];
        if (++guard > (size_t)pat->nstates * 4 + 64) break; /* proceed edges never cycle; be safe */
        for (uint32_t i = 0; i < st->nedges; i++) {
            const nfa_edge *edge = &pat->edges[st->first_edge + i];
            int holds = edge->cond ? cond_holds(e, edge->cond) : 1;
            if (holds == edge->negate) continue;
            if (edge->kind == EDGE_PROCEED) {
                if (u32_push(&e->stack, edge->target) < 0) return -1;
            } else if (u32_push(&e->out, st->first_edge + i) < 0 || u32_push(&e->out, s) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* Flink's findFinalStateAfterProceed: can state s reach the final state by
 * PROCEED edges that hold for this event? */
static int final_after_proceed(cep_engine *e, const nfa_pattern *pat, uint32_t s) {
    size_t base = e->stack.n;
    if (u32_push(&e->stack, s) < 0) return 0;
    int found = 0;
    size_t guard = 0;
    while (e->stack.n > base && !found && ++guard < (size_t)pat->nstates * 4 + 64) {
        const nfa_state *st = &pat->states[e->stack.v[--e->stack.n]];
        for (uint32_t i = 0; i < st->nedges && !found; i++) {
            const nfa_edge *edge = &pat->edges[st->first_edge + i];
            if (edge->kind != EDGE_PROCEED) continue;
            int holds = edge->cond ? cond_holds(e, edge->cond) : 1;
            if (holds == edge->negate) continue;
            if (pat->states[edge->target].kind == ST_FINAL) found = 1;
            else if (u32_push(&e->stack, edge->target) < 0) break;
        }
    }
    e->stack.n = base;
    return found;
}

/* Flink's computeNextStates plus the stop-state rule of doProcess: step
 * partial match p (node NULL: the start state) over the event. New partial
 * matches go to e->next_pms, completed ones to e->completed. */
static int step_pm(cep_engine *e, const nfa_pattern *pat, const pm *p, step_in *in) {
    const nfa_state *st = &pat->states[p->state];
    if (st->gate) {
        /* The event fails the state's gate: nothing can happen but the
         * partial match staying (followedBy) or ending (next). A gate reads
         * only the event, so its result is kept for the next partial match
         * in the same state. */
        int open;
        if (e->gate_expr == st->gate && e->gate_event == in->ev) {
            open = e->gate_open;
        } else {
            e->ctx.row = in->ev->vals;
            e->ctx.chain = p->node;
            open = expr_holds(st->gate, &e->ctx);
            expr_ctx_reset(&e->ctx);
            e->gate_expr = st->gate;
            e->gate_event = in->ev;
            e->gate_open = open;
        }
        if (!open) {
            if (!st->gate_keeps || !p->node) return 0; /* the start state never waits */
            pm q = *p;
            q.node->refs++;
            if (engine_list_push(&e->next_pms, q) < 0) {
                q.node->refs--;
                return -1;
            }
            return 0;
        }
    }
    if (decision_graph(e, pat, p, in->ev) < 0) return -1;
    uint32_t first_new = e->next_pms.n;
    int discard = 0;
    for (uint32_t k = 0; k + 1 < e->out.n; k += 2) {
        const nfa_edge *edge = &pat->edges[e->out.v[k]];
        const nfa_state *src = &pat->states[e->out.v[k + 1]];
        const nfa_state *dst = &pat->states[edge->target];
        pm q;
        if (edge->kind == EDGE_IGNORE) {
            if (!p->node) continue; /* the start state never waits */
            q = *p;
            q.state = edge->target;
            q.node->refs++;
        } else {
            cep_event *ev = stored_event(e, in);
            if (!ev) return -1;
            q.start = p->node ? p->start : in->ev->time;
            q.start_seq = p->node ? p->start_seq : in->ev->seq;
            q.prev_time = in->ev->time;
            q.state = edge->target;
            if (!(q.node = engine_node_new(e, ev, src->step, p->node))) return -1;
        }
        if (dst->kind == ST_STOP) { /* a negation fired: the whole path goes */
            discard = 1;
            engine_node_release(e, q.node);
            continue;
        }
        pm_list *to = dst->kind == ST_FINAL ? &e->completed : &e->next_pms;
        if (engine_list_push(to, q) < 0) {
            engine_node_release(e, q.node);
            return -1;
        }
        if (edge->kind == EDGE_TAKE && dst->kind != ST_FINAL) {
            /* Reaching the final state by proceeding completes a match now. */
            e->ctx.row = in->ev->vals;
            e->ctx.chain = p->node;
            if (final_after_proceed(e, pat, edge->target)) {
                pm f = q;
                f.node->refs++;
                if (engine_list_push(&e->completed, f) < 0) {
                    f.node->refs--;
                    return -1;
                }
            }
        }
    }
    if (discard) {
        for (uint32_t i = first_new; i < e->next_pms.n; i++) engine_node_release(e, e->next_pms.v[i].node);
        e->next_pms.n = first_new;
    }
    return 0;
}

/* Insertion sort by (start, start seq): lists are short and nearly sorted. */
static void sort_by_start(pm_list *l) {
    for (uint32_t i = 1; i < l->n; i++) {
        pm x = l->v[i];
        uint32_t j = i;
        while (j > 0 && pm_cmp(&x, &l->v[j - 1]) < 0) {
            l->v[j] = l->v[j - 1];
            j--;
        }
        l->v[j] = x;
    }
}

/* Run one event through pattern pi: Flink's advanceTime then process, for
 * one key. */
static int process_pattern(cep_engine *e, uint32_t pi, step_in *in) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    /* Partitioned: another shard owns this key (cep_engine_set_partition). */
    if (e->part_count > 1 && partition_of(e->prog, pi, in->ev->vals, e->part_count) != e->part_index) return CEP_OK;
    uint32_t klen;
    int rc = encode_key(e, pi, in->ev->vals, &klen);
    if (rc != CEP_OK) return rc;
    uint64_t hash = hash_key(e, klen);
    key_state *ks = keymap_find(&e->keys, hash, e->keybuf, klen);
    int had_state = ks != NULL;
    if (ks) {
        prune_expired(e, pi, ks, in->ev->time);
        release_held(e, pi, ks);
    }
    e->next_pms.n = 0;
    e->completed.n = 0;
    int failed = 0;
    for (uint32_t i = 0; ks && i < ks->pms.n && !failed; i++) {
        const pm *p = &ks->pms.v[i];
        if (in->straggler && p->node->ev->time > in->ev->time) {
            /* A straggler cannot come after an event the partial match
             * already took: that one goes on unchanged. */
            pm q = *p;
            q.node->refs++;
            failed = engine_list_push(&e->next_pms, q) < 0;
            if (failed) q.node->refs--;
            continue;
        }
        failed = step_pm(e, pat, p, in) < 0;
    }
    pm start = {.state = pat->start};
    if (!failed) failed = step_pm(e, pat, &start, in) < 0;
    if (failed) e->oom = 1;

    if (ks) {
        for (uint32_t i = 0; i < ks->pms.n; i++) engine_node_release(e, ks->pms.v[i].node);
        e->stats.partial_matches -= ks->pms.n;
        ks->pms.n = 0;
    }
    int need_state = e->next_pms.n || (e->completed.n && pat->skip != SKIP_NO_SKIP);
    if (!ks && need_state && !(ks = engine_key_new(e, pi, hash, e->keybuf, klen))) {
        e->oom = 1;
        for (uint32_t i = 0; i < e->next_pms.n; i++) engine_node_release(e, e->next_pms.v[i].node);
        for (uint32_t i = 0; i < e->completed.n; i++) engine_node_release(e, e->completed.v[i].node);
        e->next_pms.n = e->completed.n = 0;
        return CEP_ENOMEM;
    }
    if (ks) {
        if (!had_state || in->ev->time > ks->last_event) ks->last_event = in->ev->time; /* stragglers are older */
        pm_list tmp = ks->pms; /* swap: the scratch list becomes the key's list */
        ks->pms = e->next_pms;
        e->next_pms = tmp;
        if (e->max_pms && ks->pms.n > e->max_pms) {
            /* Over the limit: the earliest-started partial matches go. */
            uint32_t drop = ks->pms.n - (uint32_t)e->max_pms;
            for (uint32_t i = 0; i < drop; i++) engine_node_release(e, ks->pms.v[i].node);
            memmove(ks->pms.v, ks->pms.v + drop, (ks->pms.n - drop) * sizeof *ks->pms.v);
            ks->pms.n -= drop;
            e->stats.dropped += drop;
            if (e->limit_policy == CEP_LIMIT_FAIL) e->limit_hit = 1;
        }
        if (in->straggler) sort_by_start(&ks->pms); /* its new ones start earlier */
        e->stats.partial_matches += ks->pms.n;
        if (e->stats.partial_matches > e->stats.peak_partial_matches)
            e->stats.peak_partial_matches = e->stats.partial_matches;
        complete(e, pi, ks, &e->completed);
        engine_key_settle(e, pat, ks);
    } else {
        complete(e, pi, NULL, &e->completed); /* noSkip without state: emit now */
    }
    return e->oom ? CEP_ENOMEM : CEP_OK;
}

/* ---- time ---------------------------------------------------------------------------- */

/* Run one event, in event-time order, through every pattern. */
static int process_event(cep_engine *e, cep_event *ev, int straggler) {
    e->gate_expr = NULL; /* a caller's row is reused for the next event */
    cep_event *stored = NULL;
    step_in in = {ev, &stored, straggler};
    int rc = CEP_OK;
    e->stats.events++;
    for (uint32_t pi = 0; pi < e->prog->npatterns; pi++) {
        int r = process_pattern(e, pi, &in);
        if (r != CEP_OK) rc = r;
    }
    engine_drop_event(e, stored);
    return rc;
}

/* A key's timer fired at time now: expire, release held matches, re-arm. */
static void fire_timer(cep_engine *e, key_state *ks, int64_t now) {
    const nfa_pattern *pat = &e->prog->patterns[ks->pattern];
    prune_expired(e, ks->pattern, ks, now);
    if (e->state_ttl > 0 && ks->last_event <= INT64_MAX - e->state_ttl && ks->last_event + e->state_ttl <= now) {
        /* Idle past the TTL: drop the partial matches (counted), which
         * releases the matches they were holding back. */
        for (uint32_t i = 0; i < ks->pms.n; i++) engine_node_release(e, ks->pms.v[i].node);
        e->stats.partial_matches -= ks->pms.n;
        e->stats.ttl_dropped += ks->pms.n;
        ks->pms.n = 0;
    }
    release_held(e, ks->pattern, ks);
    engine_key_settle(e, pat, ks);
}

/* Move the watermark to w: buffered events and timers up to w run in one
 * time-ordered sequence (timers first on ties: a window closing at t is
 * closed for events at t). */
static int advance_to(cep_engine *e, int64_t w) {
    int rc = CEP_OK;
    if (w > e->watermark) e->watermark = w;
    for (;;) {
        cep_event *ev = heap_top(&e->reorder);
        key_state *ks = heap_top(&e->timers);
        int ev_due = ev && ev->time <= w;
        int tm_due = ks && ks->deadline <= w;
        if (!ev_due && !tm_due) break;
        if (tm_due && (!ev_due || ks->deadline <= ev->time)) {
            fire_timer(e, ks, ks->deadline);
            continue;
        }
        heap_pop(&e->reorder);
        e->stats.buffered--;
        int r = process_event(e, ev, 0);
        engine_drop_event(e, ev);
        if (r != CEP_OK) rc = r;
    }
    return rc;
}

static int reorder_less(const void *a, const void *b) {
    const cep_event *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time;
    return x->seq < y->seq;
}

static int finish_rc(cep_engine *e, int rc) {
    /* A condition or emit value that could not allocate (lower, upper)
     * evaluated to null: report it, or a match is lost without a word. */
    if (e->ctx.oom) {
        e->ctx.oom = 0;
        e->oom = 1;
    }
    if (e->oom) {
        e->oom = 0;
        engine_set_err(e, "out of memory");
        return CEP_ENOMEM;
    }
    if (rc != CEP_OK) return rc;
    if (e->limit_hit) {
        if (e->limit_hit == 2)
            engine_set_err(e, "the engine's state reached its memory limit of %llu bytes",
                           (unsigned long long)e->max_bytes);
        else
            engine_set_err(e, "a key reached the limit of %llu partial matches", (unsigned long long)e->max_pms);
        e->limit_hit = 0;
        return CEP_ELIMIT;
    }
    if (e->stop) {
        e->stop = 0;
        return CEP_ECALLBACK;
    }
    return CEP_OK;
}

static int64_t system_clock(void *ud) {
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Processing time: the clock, never going back. */
static int64_t processing_now(cep_engine *e) {
    int64_t now = e->clock ? e->clock(e->clock_ud) : system_clock(NULL);
    if (now < e->last_clock) now = e->last_clock;
    e->last_clock = now;
    return now;
}

/* The engine's state in bytes, approximately: stored events, shared nodes,
 * partial matches and key states (what grows with the input). */
static uint64_t state_bytes(const cep_engine *e) {
    return e->event_bytes + e->stats.nodes * sizeof(pm_node) + e->stats.partial_matches * sizeof(pm) +
           e->stats.keys * (sizeof(key_state) + 16);
}

/* Over the memory budget: drop partial matches, earliest-started first,
 * from the oldest keys, until under it again. */
static void enforce_memory(cep_engine *e) {
    if (!e->max_bytes || state_bytes(e) <= e->max_bytes) return;
    if (e->limit_policy == CEP_LIMIT_FAIL) e->limit_hit = 2;
    key_state *ks = e->first;
    while (ks && state_bytes(e) > e->max_bytes) {
        key_state *next = ks->next;
        if (ks->pms.n) {
            engine_node_release(e, ks->pms.v[0].node);
            memmove(ks->pms.v, ks->pms.v + 1, (ks->pms.n - 1) * sizeof *ks->pms.v);
            ks->pms.n--;
            e->stats.partial_matches--;
            e->stats.mem_dropped++;
            if (ks->pms.n) continue; /* the same key again */
        }
        release_held(e, ks->pattern, ks);
        engine_key_settle(e, &e->prog->patterns[ks->pattern], ks);
        ks = next;
    }
}

/* Push ev at its time t: late, buffered, or matched now. */
static int push_at(cep_engine *e, cep_event *ev, int64_t t) {
    if (t < e->watermark && e->lateness > 0 && t >= e->watermark - e->lateness) {
        /* Allowed lateness: matched now, against what it can still join. */
        uint64_t saved_seq = ev->seq;
        ev->seq = e->arrivals++;
        e->stats.stragglers++;
        int rc = process_event(e, ev, 1);
        ev->seq = saved_seq;
        int r = advance_to(e, e->watermark); /* windows it opened that are already closed */
        enforce_memory(e);
        return finish_rc(e, rc != CEP_OK ? rc : r);
    }
    if (t < e->watermark) {
        e->stats.late++;
        if (e->on_late && e->on_late(e->late_ud, ev) != 0) e->stop = 1;
        return finish_rc(e, CEP_OK);
    }
    if (t > e->max_seen) e->max_seen = t;
    int64_t delay = e->time_mode == CEP_TIME_PROCESSING ? 0 : e->max_delay;
    int64_t w = e->max_seen < INT64_MIN + delay ? INT64_MIN : e->max_seen - delay;
    uint64_t saved_seq = ev->seq;
    ev->seq = e->arrivals++;
    int rc = CEP_OK;
    if (e->reorder.n == 0 && t <= w) {
        /* In order: run it straight from the caller's row, no copy. */
        rc = advance_to(e, t);
        if (rc == CEP_OK) rc = process_event(e, ev, 0);
    } else {
        cep_event *f = engine_keep_event(e, ev);
        if (!f || heap_push(&e->reorder, f) < 0) {
            engine_drop_event(e, f);
            ev->seq = saved_seq;
            engine_set_err(e, "out of memory");
            return CEP_ENOMEM;
        }
        e->stats.buffered++;
    }
    ev->seq = saved_seq;
    int r = advance_to(e, w);
    if (rc == CEP_OK) rc = r;
    enforce_memory(e);
    return finish_rc(e, rc);
}

CEP_API int cep_engine_push(cep_engine *e, const cep_event *ev_in) {
    if (!e || !ev_in || ev_in->nslots != e->prog->nfields) return CEP_EINVAL;
    if (e->finished) return CEP_EFINISHED;
    if (!ev_in->has_time && e->time_mode != CEP_TIME_PROCESSING) {
        engine_set_err(e, "event has no time");
        return CEP_ETIME;
    }
    e->started = 1;
    /* The caller's row is lent: only its sequence number and, in processing
     * time, its time are set for the call, then put back. */
    cep_event *ev = (cep_event *)ev_in;
    if (e->time_mode != CEP_TIME_PROCESSING) return push_at(e, ev, ev->time);
    int64_t saved_time = ev->time;
    int saved_has = ev->has_time;
    ev->time = processing_now(e);
    ev->has_time = 1;
    int rc = push_at(e, ev, ev->time);
    ev->time = saved_time;
    ev->has_time = saved_has;
    return rc;
}

CEP_API int cep_engine_push_json(cep_engine *e, const char *text, size_t len) {
    if (!e || (!text && len)) return CEP_EINVAL;
    if (e->finished) return CEP_EFINISHED;
    if (!e->builder) {
        int rc = cep_event_new(e->prog, &e->builder);
        if (rc != CEP_OK) return rc;
    }
    cep_event_clear(e->builder);
    const char *tf = e->time_mode == CEP_TIME_PROCESSING ? "" : e->time_field ? e->time_field : "ts";
    int rc = cep_event_parse_json(e->builder, text, len, tf);
    if (rc != CEP_OK) {
        engine_set_err(e, "%s", cep_event_error(e->builder));
        return rc;
    }
    return cep_engine_push(e, e->builder);
}

CEP_API const char *cep_engine_error(const cep_engine *e) { return e ? e->err : ""; }

CEP_API int cep_engine_advance_watermark(cep_engine *e, int64_t ms) {
    if (!e) return CEP_EINVAL;
    if (e->finished) return CEP_EFINISHED;
    e->started = 1;
    if (ms <= e->watermark) return CEP_OK; /* a watermark never goes back */
    return finish_rc(e, advance_to(e, ms));
}

CEP_API int cep_engine_finish(cep_engine *e) {
    if (!e) return CEP_EINVAL;
    if (e->finished) return CEP_EFINISHED;
    e->started = 1;
    /* End of input: the watermark goes to +infinity, every window closes. */
    int rc = advance_to(e, INT64_MAX);
    /* No partial match can grow any more: drop them, which releases the
     * matches they were holding back, key by key in creation order. */
    while (e->first) {
        key_state *ks = e->first;
        for (uint32_t i = 0; i < ks->pms.n; i++) engine_node_release(e, ks->pms.v[i].node);
        e->stats.partial_matches -= ks->pms.n;
        ks->pms.n = 0;
        release_held(e, ks->pattern, ks);
        engine_key_free(e, ks);
    }
    e->finished = 1;
    return finish_rc(e, rc);
}

/* ---- life cycle and options ---------------------------------------------------------- */

CEP_API int cep_engine_new(const cep_program *p, cep_engine **out) {
    if (!out) return CEP_EINVAL;
    *out = NULL;
    if (!p) return CEP_EINVAL;
    cep_engine *e = mem_calloc(1, sizeof *e);
    if (!e) return CEP_ENOMEM;
    e->prog = p;
    e->watermark = INT64_MIN;
    e->max_seen = INT64_MIN;
    e->reorder.less = reorder_less;
    e->timers.less = timer_less;
    e->timers.moved = timer_moved;
    /* A random seed per engine, so keys cannot be chosen to collide. Output
     * order never depends on it: keys are iterated in creation order. */
    uint64_t seed = (uint64_t)(uintptr_t)e;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed ^= 0x9E3779B97F4A7C15ull;
    e->keys.seed = seed;
    e->stats.watermark = INT64_MIN;
    if (expr_ctx_init(&e->ctx, p) != CEP_OK) {
        cep_engine_free(e);
        return CEP_ENOMEM;
    }
    *out = e;
    return CEP_OK;
}

CEP_API void cep_engine_free(cep_engine *e) {
    if (!e) return;
    while (e->first) engine_key_free(e, e->first);
    cep_event *ev;
    while ((ev = heap_pop(&e->reorder))) engine_drop_event(e, ev);
    heap_free(&e->reorder);
    heap_free(&e->timers);
    keymap_free(&e->keys);
    while (e->slabs) {
        node_slab *next = e->slabs->next;
        mem_free(e->slabs);
        e->slabs = next;
    }
    mem_free(e->next_pms.v);
    mem_free(e->completed.v);
    mem_free(e->stack.v);
    mem_free(e->out.v);
    mem_free(e->keybuf);
    mem_free(e->match.events);
    mem_free(e->match.step_off);
    mem_free(e->match.fields);
    expr_ctx_free(&e->ctx);
    cep_event_free(e->builder);
    mem_free(e->time_field);
    mem_free(e);
}

CEP_API int cep_engine_set_max_delay(cep_engine *e, int64_t ms) {
    if (!e || ms < 0 || e->started) return CEP_EINVAL;
    e->max_delay = ms;
    return CEP_OK;
}

CEP_API int cep_engine_set_max_partial_matches(cep_engine *e, uint64_t max, int policy) {
    if (!e || e->started || (policy != CEP_LIMIT_DROP_OLDEST && policy != CEP_LIMIT_FAIL) ||
        max > UINT32_MAX)
        return CEP_EINVAL;
    e->max_pms = max;
    e->limit_policy = policy;
    return CEP_OK;
}

CEP_API int cep_engine_set_memory_limit(cep_engine *e, uint64_t bytes, int policy) {
    if (!e || e->started || (policy != CEP_LIMIT_DROP_OLDEST && policy != CEP_LIMIT_FAIL)) return CEP_EINVAL;
    e->max_bytes = bytes;
    e->limit_policy = policy;
    return CEP_OK;
}

CEP_API int cep_engine_set_allowed_lateness(cep_engine *e, int64_t ms) {
    if (!e || ms < 0 || e->started) return CEP_EINVAL;
    e->lateness = ms;
    return CEP_OK;
}

CEP_API int cep_engine_set_state_ttl(cep_engine *e, int64_t ms) {
    if (!e || ms < 0 || e->started) return CEP_EINVAL;
    e->state_ttl = ms;
    return CEP_OK;
}

CEP_API int cep_engine_set_time_mode(cep_engine *e, int mode) {
    if (!e || e->started || (mode != CEP_TIME_EVENT && mode != CEP_TIME_PROCESSING)) return CEP_EINVAL;
    e->time_mode = mode;
    return CEP_OK;
}

CEP_API int cep_engine_set_clock(cep_engine *e, cep_clock_fn fn, void *ud) {
    if (!e) return CEP_EINVAL;
    e->clock = fn;
    e->clock_ud = ud;
    return CEP_OK;
}

CEP_API int cep_engine_tick(cep_engine *e) {
    if (!e) return CEP_EINVAL;
    if (e->finished) return CEP_EFINISHED;
    if (e->time_mode != CEP_TIME_PROCESSING) return CEP_OK;
    e->started = 1;
    return finish_rc(e, advance_to(e, processing_now(e)));
}

CEP_API int cep_engine_set_time_field(cep_engine *e, const char *name) {
    if (!e || !name || !*name || e->started) return CEP_EINVAL;
    char *copy = mem_strdup(name);
    if (!copy) return CEP_ENOMEM;
    mem_free(e->time_field);
    e->time_field = copy;
    return CEP_OK;
}

CEP_API void cep_engine_on_match(cep_engine *e, cep_match_fn fn, void *ud) {
    if (!e) return;
    e->on_match = fn;
    e->match_ud = ud;
}

CEP_API void cep_engine_on_late(cep_engine *e, cep_late_fn fn, void *ud) {
    if (!e) return;
    e->on_late = fn;
    e->late_ud = ud;
}

CEP_API void cep_engine_on_timeout(cep_engine *e, cep_match_fn fn, void *ud) {
    if (!e) return;
    e->on_timeout = fn;
    e->timeout_ud = ud;
}

CEP_API void cep_engine_on_tag(cep_engine *e, cep_tag_fn fn, void *ud) {
    if (!e) return;
    e->on_tag = fn;
    e->tag_ud = ud;
}

CEP_API void cep_engine_stats(const cep_engine *e, cep_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!e) return;
    *out = e->stats;
    out->regex_errors = e->ctx.regex_errors;
    out->watermark = e->watermark;
    out->memory = state_bytes(e);
}
