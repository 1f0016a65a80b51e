/* engine.c — the engine's life cycle and time: events in, the
 * out-of-order buffer, watermarks, timers fired in time order between
 * events, state bounds, and the pool of shared nodes and stored events.
 * Matching itself is step.c; what leaves the engine, emit.c. */
#include "config.h"
#include "engine.h"
#include "tecs.h"
#include "json.h"
#include "fieldpath.h"
#include "hash.h"
#include "mem.h"
#include "route.h"

#include <stdarg.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void engine_set_err(cep_engine *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof e->err, fmt, ap);
    va_end(ap);
}

/* ---- stored events ------------------------------------------------------------ */

/* Does every pattern of p have an emit clause (its matches print fields,
 * never an event's text)? Set in cfg.raw_all_emit whenever e->prog
 * changes: a cache keyed by the program's address would outlive a freed
 * program whose address a new one takes. */
int engine_all_emit(const cep_program *p) {
    for (uint32_t i = 0; i < p->npatterns; i++)
        if (!p->patterns[i].nemit) return 0;
    return 1;
}

/* Is ev's raw text of no use to keep (cep_engine_set_drop_raw)? */
static int raw_unwanted(cep_engine *e, const cep_event *ev) {
    return e->cfg.drop_raw && e->cfg.raw_all_emit && !ev->stored && ev->raw_len;
}

/* engine_copy_event, its block's size in *size; with_raw: keep the text
 * even under drop_raw. */
static cep_event *copy_event(cep_engine *e, const cep_event *ev, size_t *size, int with_raw) {
    cep_event view;
    if (!with_raw && raw_unwanted(e, ev)) { /* the same event, without its text */
        view = *ev;
        view.raw = NULL;
        view.raw_len = 0;
        ev = &view;
    }
    /* Most events are packed in one pass on the stack, then copied to
     * their block (a small copy costs less than a second pass). */
    _Alignas(16) uint8_t tmp[256];
    size_t m = event_pack(ev, tmp, sizeof tmp);
    if (m) {
        char *mem = slab_alloc(&e->store.mem, m);
        if (!mem) return NULL;
        memcpy(mem, tmp, m);
        *size = m;
        return (cep_event *)(mem + EVENT_NODE_ROOM);
    }
    uint8_t codes[EVENT_CODES_MAX], *c = ev->nslots <= EVENT_CODES_MAX ? codes : NULL;
    size_t n = event_frozen_size(ev, c);
    void *mem = n ? slab_alloc(&e->store.mem, n) : NULL;
    *size = n;
    return mem ? event_freeze_to(ev, mem, n, c) : NULL;
}

cep_event *engine_copy_event(cep_engine *e, const cep_event *ev) {
    size_t n;
    return copy_event(e, ev, &n, 0);
}

void engine_free_event(cep_engine *e, cep_event *ev) { slab_free(&e->store.mem, event_block(ev), event_stored_size(ev)); }

static cep_event *keep_event(cep_engine *e, const cep_event *ev, int with_raw) {
    size_t n;
    cep_event *f = copy_event(e, ev, &n, with_raw);
    if (!f) return NULL;
    e->stats.stored_events++;
    e->store.event_bytes += n;
    uint64_t tag = event_tag(f);
    if (tag && e->hooks.on_tag) e->hooks.on_tag(e->hooks.tag_ud, tag, 1);
    return f;
}

/* Copy a caller's event for keeping; tells the tag hook. */
cep_event *engine_keep_event(cep_engine *e, const cep_event *ev) { return keep_event(e, ev, 0); }

/* The same with its text under drop_raw too: the reorder buffer's events,
 * for a reload or a restore with changed patterns parses them again
 * (reload.c), so that new patterns read the fields they name; and a
 * snapshot's events as written (snapshot.c). */
cep_event *engine_keep_event_text(cep_engine *e, const cep_event *ev) { return keep_event(e, ev, 1); }

void engine_drop_event(cep_engine *e, cep_event *ev) {
    if (!ev || --ev->refs) return;
    e->stats.stored_events--;
    size_t n = event_stored_size(ev);
    e->store.event_bytes -= n;
    uint64_t tag = event_tag(ev);
    if (tag && e->hooks.on_tag) e->hooks.on_tag(e->hooks.tag_ud, tag, 0);
    slab_free(&e->store.mem, event_block(ev), n);
}

/* ---- nodes and partial-match lists ------------------------------------------- */

_Static_assert(sizeof(pm_node) == EVENT_NODE_ROOM, "a stored event's node room holds one pm_node");

/* The pool is empty: a slab of nodes onto it; its first, or NULL. */
pm_node *engine_node_refill(cep_engine *e) {
    node_slab *s = mem_alloc(sizeof *s);
    if (!s) return NULL;
    s->next = e->store.slabs;
    e->store.slabs = s;
    e->store.node_slabs++;
    for (size_t i = 0; i < NODE_SLAB; i++) {
        s->nodes[i].n.parent = e->store.free_nodes;
        e->store.free_nodes = &s->nodes[i].n;
    }
    return e->store.free_nodes;
}

void engine_node_release(cep_engine *e, pm_node *n) {
    while (n && --n->refs == 0) {
        pm_node *parent = n->parent;
        cep_event *ev = node_ev(n);
        e->stats.nodes--;
        if (n->has_agg) expr_agg_free(&e->ctx, n);
        if (n->loose) { /* a pooled node; a room is freed with its event */
            n->parent = e->store.free_nodes;
            e->store.free_nodes = n;
            e->store.pooled_nodes--;
        }
        engine_drop_event(e, ev);
        n = parent;
    }
}

int engine_list_grow(pm_list *l) {
    size_t cap = l->cap;
    if (mem_grow((void **)&l->v, &cap, (size_t)l->n + 1, sizeof *l->v) < 0) return -1;
    l->cap = (uint32_t)cap;
    return 0;
}

/* ---- time ---------------------------------------------------------------------------- */

/* One pattern of an event's visits (process_event), with what the route
 * says of its gates: passed over when that leaves it nothing to do, else
 * stepped. */
static inline __attribute__((always_inline)) int visit_one(cep_engine *e, step_in *in, const pat_hot *h, uint32_t pi,
                                                           uint64_t maybe, uint64_t sure, int exact, int budget) {
    /* Every gate closed: the event changes nothing of a skippable
     * pattern (step_pattern's first return). */
    if (exact && !maybe && h->skip_closed) return CEP_OK;
    /* Its start closed, it can only step the key's partial matches:
     * none, nothing to do (step_pattern's early return, without the
     * call; not under a memory budget, which makes room before even
     * that). */
    if (h->start < 64 && !(maybe >> h->start & 1) && h->kgroup != NO_GROUP && !budget &&
        pattern_keyless(e, h->kgroup, pi, in->row))
        return CEP_OK;
    in->maybe = maybe;
    in->sure = sure;
    /* It opens the start for sure and the key has no state: the one
     * partial match it starts, without step_pattern's preamble (W8: most
     * starts). */
    if (h->fresh && (sure >> h->start & 1) && !budget && e->cfg.part_count <= 1 &&
        pattern_keyless(e, h->kgroup, pi, in->row)) /* (no TTL here) */
        return step_start_fresh(e, pi, in);
    in->exact_dispatch = exact && (e->prog->route->exact_dispatch[pi / 64] >> (pi % 64) & 1);
    return step_pattern(e, pi, in);
}

/* Visits from this many on fetch ahead what they will read. */
#define VISIT_FETCH_MIN 8

/* Fetch into cache, before the visits probe them one after the other,
 * the card's key-entry slots where n routed visits look for their key
 * state first: with many rules a card's table is seldom in cache, each
 * probe a miss, and fetched together the misses overlap instead of
 * following each other. (A visit of another key group fetches a slot
 * for nothing: no harm.) */
static void visit_fetch(cep_engine *e, const uint32_t *pis, int n, const cep_value *row) {
    key_entry *ent;
    if (pattern_group_entry(e, pis[0], row, &ent) != CEP_OK || !ent) return;
    /* (push_many fetched this entry's table a few rows ago, up to 16 lines) */
    if (ent == e->scratch.ahead_ent && ent->mask < 16 * 64 / sizeof(kref)) return;
    const kref *tab = ent->tab;
    uint32_t mask = ent->mask;
    for (int i = 0; i < n; i++) __builtin_prefetch(&tab[entry_home(mask, pis[i])]);
}

/* Run one event, in event-time order, through every pattern it can
 * concern, in pattern order (the order of their matches). */
static int process_event(cep_engine *e, cep_event *ev, int straggler, int own) {
    cep_event *stored = NULL;
    /* A buffered event is stored: its values are decoded once for all the
     * patterns' conditions. */
    const cep_value *row = event_row(ev, &e->scratch.row, &e->scratch.row_cap);
    if (!row) {
        engine_set_err(e, "out of memory");
        return CEP_ENOMEM;
    }
    step_in in = {ev, row, &stored, straggler, own, ~(uint64_t)0, 0, 0};
    int rc = CEP_OK;
    e->stats.events++;
    e->scratch.ev_stamp++; /* the key groups' lookups of the last event are stale */
    const nfa_route *r = e->prog->route;
    visit_set vs;
    int nv;
    /* With a state TTL every event refreshes its keys: no routing. */
    if (r && e->cfg.state_ttl <= 0 && (nv = visit_build(e, r, row, &vs)) >= 0) {
        /* (Read once: stepping changes neither the program nor these.) */
        const pat_hot *hots = e->hot; /* (not pat_rt: see pat_hot) */
        int budget = e->cfg.max_bytes != 0;
        if (nv && vs.pi) {
            if (nv >= VISIT_FETCH_MIN && !budget && hots[vs.pi[0]].kgroup != NO_GROUP) visit_fetch(e, vs.pi, nv, row);
            uint64_t *closed = e->scratch.closed; /* (zeros again once read) */
            for (int i = 0; i < nv; i++) {
                uint32_t pi = vs.pi[i];
                uint64_t c = ~closed[i];
                closed[i] = 0;
                int res = visit_one(e, &in, &hots[pi], pi, vs.maybe[i] & c, vs.sure[i] & c, 1, budget);
                if (res != CEP_OK) rc = res;
            }
        } else {
            for (int i = 0; i < nv; i++) {
                const route_visit *v = &vs.v[i];
                int res = visit_one(e, &in, &hots[v->pi], v->pi, v->maybe, v->sure, (int)v->exact, budget);
                if (res != CEP_OK) rc = res;
            }
        }
    } else {
        for (uint32_t pi = 0; pi < e->prog->npatterns; pi++) {
            int res = step_pattern(e, pi, &in);
            if (res != CEP_OK) rc = res;
        }
    }
    engine_drop_event(e, stored);
    if (e->timers.compact_due) timers_compact(e);
    return rc;
}

/* The earliest window of ks's partial matches (INT64_MAX: none). */
static int64_t key_first_deadline(const cep_engine *e, const key_state *ks) {
    const nfa_pattern *pat = &e->prog->patterns[key_pattern(ks)];
    int64_t d = INT64_MAX;
    if (key_tecs(ks)) return tecs_first_deadline(e, ks);
    const bucket *bv = key_buckets(ks);
    for (uint32_t i = 0; i < ks->nb; i++)
        for (uint32_t j = bv[i].lo; j < bv[i].hi; j++) {
            int64_t x = pm_deadline(pat, &bv[i].v[j]);
            if (x < d) d = x;
        }
    return d;
}

/* A timer of key ks fired at time d: expire what closed by now (d, or
 * +inf at end of input), drop an idle key's partial matches (state TTL),
 * release held matches. */
static void fire_timer(cep_engine *e, key_state *ks, int64_t d, int64_t now) {
    if (!ks->npms && !ks->held) return; /* what the entry was for has gone */
    /* At end of input the key's windows close together at its first real
     * deadline, not at an entry left by a partial match that moved on. */
    if (now != d && key_first_deadline(e, ks) > d) now = d;
    emit_prune_expired(e, ks, now);
    if (e->cfg.state_ttl > 0 && ks->npms && ks->last_event <= INT64_MAX - e->cfg.state_ttl &&
        ks->last_event + e->cfg.state_ttl <= d) {
        /* Idle past the TTL: drop the partial matches (counted), which
         * releases the matches they were holding back. */
        e->stats.ttl_dropped += ks->npms;
        key_drop_pms(e, ks);
    }
    if (ks->held) emit_release_held(e, key_pattern(ks), ks);
    if (e->cfg.state_ttl > 0) timers_arm_ttl(e, ks);
}

static int due_less(const timer_ent *a, const timer_ent *b) { return a->ks->created < b->ks->created; }

/* fire_timer and the settle after it for the usual key of a rule set (a
 * card that started one rule): one partial match, whose `within` window
 * the key's only entry, due at d, closes; nothing held, no gap, no TTL,
 * not a trailing notFollowedBy. It times out and the key goes, as the
 * general path would do it, without its lists and searches. 0: not such
 * a key, nothing done. */
static int expire_lone(cep_engine *e, key_state *ks, int64_t d) {
    const pat_fresh *f = &e->fresh[key_pattern(ks)]; /* (not the pattern nor pat_rt: see pat_fresh) */
    if (ks->timers != 1 || ks->npms != 1 || ks->nb != 1 || ks->held || ks->compact || e->cfg.state_ttl > 0 ||
        f->has_gaps)
        return 0;
    bucket *b = key_buckets(ks);
    pm p = b->v[b->lo];
    /* (Its window closes by d, so fire_timer's end-of-input time is d's.) */
    if (f->within_lane == NO_LANE || p.start >= INT64_MAX - f->within_ms || p.start + f->within_ms > d ||
        (f->has_pending && e->prog->patterns[key_pattern(ks)].states[p.state].kind == ST_PENDING))
        return 0;
    e->stats.partial_matches--;
    if (e->hooks.on_timeout) emit_match(e, key_pattern(ks), &p, 1);
    else e->stats.timeouts++;
    engine_node_release(e, p.node);
    engine_key_free_lone(e, ks); /* (its only bucket: the key goes) */
    return 1;
}

/* Let go of an entry of ks, fired at d: a key that keeps one `within`
 * entry (timers.c) has it armed again for its next window; a key that
 * holds nothing else goes. */
static void let_go(cep_engine *e, key_state *ks, int64_t d) {
    ks->timers--;
    timers_rearm(e, ks, d);
    engine_key_settle(e, ks);
}

/* Fire every key with a timer due at d, in the order the keys got their
 * state (as one heap of keys by (deadline, creation) would). */
static void fire_due(cep_engine *e, int64_t d, int64_t now) {
    size_t n = timers_take(e, d);
    timer_ent *v = e->timers.due;
    /* (Each key is a block the cache has not seen for a window's length:
     * timers_take fetched what a sorted lane's entries will read a few
     * events ahead.) */
    if (n == 1) {
        if (expire_lone(e, v[0].ks, d)) return;
        fire_timer(e, v[0].ks, d, now);
        let_go(e, v[0].ks, d);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        timer_ent x = v[i];
        size_t j = i;
        for (; j > 0 && due_less(&x, &v[j - 1]); j--) v[j] = v[j - 1];
        v[j] = x;
    }
    for (size_t i = 0; i < n; i++) {
        if (i && v[i].ks == v[i - 1].ks) continue;
        if (expire_lone(e, v[i].ks, d)) v[i].ks = NULL; /* (its only entry: gone with it) */
        else fire_timer(e, v[i].ks, d, now);
    }
    /* Then let go of the entries; a key that holds nothing else goes. A
     * key's entries due together are armed again once (a straggler's own
     * entry meets the key's re-armed one: they would stay two). */
    for (size_t i = 0; i < n; i++) {
        if (!v[i].ks) continue;
        if (i + 1 < n && v[i + 1].ks == v[i].ks) v[i].ks->timers--;
        else let_go(e, v[i].ks, d);
    }
}

/* Move the watermark to w: buffered events and timers up to w run in one
 * time-ordered sequence (timers first on ties: a window closing at t is
 * closed for events at t). */
static int advance_to(cep_engine *e, int64_t w) {
    int rc = CEP_OK;
    if (w > e->time.watermark) e->time.watermark = w;
    if (!e->time.reorder.n && e->timers.next_due > w) return CEP_OK; /* nothing is due */
    for (;;) {
        cep_event *ev = heap_top(&e->time.reorder);
        int64_t d = timers_next(e);
        int ev_due = ev && ev->time <= w;
        int tm_due = d != INT64_MAX && d <= w;
        if (!ev_due && !tm_due) break;
        if (tm_due && (!ev_due || d <= ev->time)) {
            /* Past the last event at end of input, time jumps to +inf:
             * Flink's last watermark (Long.MAX_VALUE) is one advanceTime
             * per key, so all of a key's windows close together, at its
             * first deadline: the timeouts first, then the pending
             * matches, released and pruned by the skip strategy. */
            fire_due(e, d, d > e->time.end_after ? INT64_MAX : d);
            continue;
        }
        heap_pop(&e->time.reorder);
        e->stats.buffered--;
        int r = process_event(e, ev, 0, 1);
        engine_drop_event(e, ev);
        if (r != CEP_OK) rc = r;
    }
    return rc;
}

/* advance_to's usual case, nothing buffered and no timer due: inline. */
static inline int advance(cep_engine *e, int64_t w) {
    if (!e->time.reorder.n && e->timers.next_due > w) {
        if (w > e->time.watermark) e->time.watermark = w;
        return CEP_OK;
    }
    return advance_to(e, w);
}

static int reorder_less(const void *a, const void *b) {
    const cep_event *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time;
    return x->seq < y->seq;
}

static int finish_slow(cep_engine *e, int rc);

/* What a call returns after its work; the flags are rarely set. */
static inline int finish_rc(cep_engine *e, int rc) {
    if (rc == CEP_OK && !e->ctx.oom && !e->oom && !e->limit_hit && !e->stop) return CEP_OK;
    return finish_slow(e, rc);
}

static int finish_slow(cep_engine *e, int rc) {
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
        if (e->limit_hit == LIMIT_MEMORY)
            engine_set_err(e, "the engine's state reached its memory limit of %llu bytes",
                           (unsigned long long)e->cfg.max_bytes);
        else
            engine_set_err(e, "a key reached the limit of %llu partial matches", (unsigned long long)e->cfg.max_pms);
        e->limit_hit = LIMIT_NONE;
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

/* Processing time: the clock, never going back, and never behind the
 * watermark (which cep_engine_advance_watermark may have moved past the
 * clock): in processing time no event is late. */
static int64_t processing_now(cep_engine *e) {
    int64_t now = e->hooks.clock ? e->hooks.clock(e->hooks.clock_ud) : system_clock(NULL);
    if (now < e->time.last_clock) now = e->time.last_clock;
    if (now < e->time.watermark) now = e->time.watermark;
    e->time.last_clock = now;
    return now;
}

/* Over the memory budget after a call: buffered events run early,
 * earliest first (as a buffer that emits early when full: each moves the
 * watermark to its time, so an event older than it arrives late); then
 * partial matches go, earliest first from the oldest keys; then scratch
 * arrays. docs/state.md, "The memory budget". */
static int enforce_memory_slow(cep_engine *e);

static inline int enforce_memory(cep_engine *e) {
    return e->cfg.max_bytes ? enforce_memory_slow(e) : CEP_OK;
}

static int enforce_memory_slow(cep_engine *e) {
    if (engine_memory(e) <= e->cfg.max_bytes) return CEP_OK;
    if (e->cfg.limit_policy == CEP_LIMIT_FAIL) e->limit_hit = LIMIT_MEMORY;
    int rc = CEP_OK;
    while (e->time.reorder.n && engine_memory(e) > e->cfg.max_bytes) {
        const cep_event *ev = heap_top(&e->time.reorder);
        uint64_t before = e->stats.buffered;
        rc = advance_to(e, ev->time);
        e->stats.mem_released += before - e->stats.buffered;
        if (rc != CEP_OK) return rc;
    }
    if (engine_memory(e) > e->cfg.max_bytes) budget_drop(e);
    if (engine_memory(e) > e->cfg.max_bytes) budget_trim(e);
    return rc;
}

/* Push ev at its time t: late, buffered, or matched now. */
static int push_at(cep_engine *e, cep_event *ev, int64_t t) {
    if (t < e->time.watermark && e->cfg.lateness > 0 &&
        (e->time.watermark < INT64_MIN + e->cfg.lateness || t >= e->time.watermark - e->cfg.lateness)) {
        /* Allowed lateness: matched now, against what it can still join. */
        uint64_t saved_seq = ev->seq;
        ev->seq = e->time.arrivals++;
        e->stats.stragglers++;
        int rc = process_event(e, ev, 1, 0);
        ev->seq = saved_seq;
        int r = advance_to(e, e->time.watermark); /* windows it opened that are already closed */
        if (r == CEP_OK) r = enforce_memory(e);
        return finish_rc(e, rc != CEP_OK ? rc : r);
    }
    if (t < e->time.watermark) {
        e->stats.late++;
        if (e->hooks.on_late && e->hooks.on_late(e->hooks.late_ud, ev) != 0) e->stop = 1;
        return finish_rc(e, CEP_OK);
    }
    if (t > e->time.max_seen) e->time.max_seen = t;
    int64_t delay = e->cfg.time_mode == CEP_TIME_PROCESSING ? 0 : e->cfg.max_delay;
    int64_t w = e->time.max_seen < INT64_MIN + delay ? INT64_MIN : e->time.max_seen - delay;
    /* Time already at the watermark (advanced by the caller, or by a pool's
     * router, which sees every key's events): an event there runs now. */
    if (w < e->time.watermark) w = e->time.watermark;
    uint64_t saved_seq = ev->seq;
    ev->seq = e->time.arrivals++;
    int rc = CEP_OK;
    if (e->time.reorder.n == 0 && t <= w) {
        /* In order: run it straight from the caller's row, no copy. */
        rc = advance(e, t);
        if (rc == CEP_OK) rc = process_event(e, ev, 0, 0);
    } else {
        cep_event *f = engine_keep_event_text(e, ev);
        if (!f || heap_push(&e->time.reorder, f) < 0) {
            engine_drop_event(e, f);
            ev->seq = saved_seq;
            engine_set_err(e, "out of memory");
            return CEP_ENOMEM;
        }
        e->stats.buffered++;
    }
    ev->seq = saved_seq;
    int r = advance(e, w);
    if (rc == CEP_OK) rc = r;
    r = enforce_memory(e);
    if (rc == CEP_OK) rc = r;
    return finish_rc(e, rc);
}

/* Slot of the time field in e's program, -1 when no condition reads it
 * (or in processing time, where it is an ordinary field). */
static int time_slot(cep_engine *e) {
    if (e->cfg.tslot_prog != e->prog) {
        e->cfg.tslot_prog = e->prog;
        e->cfg.tslot = -1;
        if (e->cfg.time_mode != CEP_TIME_PROCESSING) {
            int s = cep_program_field_slot(e->prog, e->cfg.time_field ? e->cfg.time_field : CEP_DEFAULT_TIME_FIELD);
            if (s >= 0) e->cfg.tslot = s;
        }
    }
    return e->cfg.tslot;
}

CEP_API int cep_engine_push(cep_engine *e, const cep_event *ev_in) {
    if (!e || !ev_in || ev_in->nslots != e->prog->nfields) return CEP_EINVAL;
    if (e->finished) return CEP_EFINISHED;
    if (!ev_in->has_time && e->cfg.time_mode != CEP_TIME_PROCESSING) {
        engine_set_err(e, "event has no time");
        return CEP_ETIME;
    }
    e->started = 1;
    /* The caller's row is lent: only its sequence number, its time field
     * and, in processing time, its time are set for the call, then put
     * back. A stored event (a match's) is lent as a view of its values. */
    cep_event *ev = (cep_event *)ev_in, view;
    if (ev->stored) {
        if (mem_grow((void **)&e->scratch.thaw, &e->scratch.thaw_cap, ev->nslots ? ev->nslots : 1,
                     sizeof *e->scratch.thaw) < 0) {
            engine_set_err(e, "out of memory");
            return CEP_ENOMEM;
        }
        event_thaw(ev, &view, e->scratch.thaw);
        ev = &view;
    }
    if (e->cfg.time_mode != CEP_TIME_PROCESSING) {
        int ts = time_slot(e);
        if (ts < 0) return push_at(e, ev, ev->time);
        /* The time field reads as the event time in milliseconds, whatever
         * form it came in (RFC 3339 text, or only cep_event_set_time). */
        cep_value saved = ev->vals[ts];
        ev->vals[ts] = (cep_value){.type = CEP_INT, .u.i = ev->time};
        int rc = push_at(e, ev, ev->time);
        ev->vals[ts] = saved;
        return rc;
    }
    int64_t saved_time = ev->time;
    int saved_has = ev->has_time;
    ev->time = processing_now(e);
    ev->has_time = 1;
    int rc = push_at(e, ev, ev->time);
    ev->time = saved_time;
    ev->has_time = saved_has;
    return rc;
}

/* How far ahead push_many fetches a row's key slot, and its key state:
 * far enough for the memory to arrive, near enough to stay in cache. */
#define AHEAD_SLOT 15
#define AHEAD_KEY 10
#define AHEAD_PMS 6
#define AHEAD_EVENTS 3
#define PREFETCH_KEYS (64 * 1024) /* key table slots from which it pays */

/* push_many's rows, fetching ahead (ak: the ring, NULL: not) or not. */
static int push_rows(cep_engine *e, const cep_event *const *evs, size_t n, size_t *pushed, ahead_key *ak) {
    for (size_t i = 0; i < n; i++) {
        if (!evs[i]) return CEP_EINVAL;
        if (ak) {
            size_t a = i + AHEAD_SLOT, b = i + AHEAD_KEY, c = i + AHEAD_PMS, d = i + AHEAD_EVENTS;
            if (a < n && evs[a]) engine_prefetch_key(e, evs[a], 0, &ak[a % AHEAD_RING]);
            if (b < n && evs[b] && ak[b % AHEAD_RING].hash) engine_prefetch_key(e, evs[b], 1, &ak[b % AHEAD_RING]);
            if (c < n && evs[c] && ak[c % AHEAD_RING].hash) engine_prefetch_key(e, evs[c], 2, &ak[c % AHEAD_RING]);
            if (d < n && evs[d] && ak[d % AHEAD_RING].hash) engine_prefetch_key(e, evs[d], 3, &ak[d % AHEAD_RING]);
            /* (the entry stage 2 found for this row, or an older row's:
             * group_lookup_slow compares its key) */
            e->scratch.ahead_row = evs[i]->vals;
            e->scratch.ahead_ent = ak[i % AHEAD_RING].ent;
        }
        int rc = cep_engine_push(e, evs[i]);
        e->scratch.ahead_ent = NULL;
        if (rc != CEP_OK) {
            /* Refused before it went in, or taken in and then the call
             * failed (a callback, a limit, memory): then it counts, so that
             * going on from evs[*pushed] never pushes it twice. */
            if (pushed && rc != CEP_EINVAL && rc != CEP_ETIME && rc != CEP_EFINISHED) *pushed = i + 1;
            return rc;
        }
        if (pushed) *pushed = i + 1;
    }
    return CEP_OK;
}

CEP_API int cep_engine_push_many(cep_engine *e, const cep_event *const *evs, size_t n, size_t *pushed) {
    if (pushed) *pushed = 0;
    if (!e || (!evs && n)) return CEP_EINVAL;
    /* With few keys everything is in cache already and fetching ahead
     * would only cost the second hashing of each key. (Few keys of a
     * rule set hold many key states each: W8's 10,000 cards, ~300,000.) */
    size_t kcap = e->keyset.keys.cap > e->keyset.groups.cap ? e->keyset.keys.cap : e->keyset.groups.cap;
    int ahead = (kcap >= PREFETCH_KEYS || e->keyset.nkey_states >= PREFETCH_KEYS) &&
                e->cfg.time_mode != CEP_TIME_PROCESSING;
    /* Row i's key at i % AHEAD_RING, from stage 0 on. The ring is the
     * engine's to clear while the rows go in (ent_free); a push_many
     * called from a callback of another does not fetch ahead. */
    ahead_key ak[AHEAD_RING] = {{0}};
    if (!ahead || e->scratch.ahead) return push_rows(e, evs, n, pushed, NULL);
    e->scratch.ahead = ak;
    int rc = push_rows(e, evs, n, pushed, ak);
    e->scratch.ahead = NULL;
    return rc;
}

CEP_API int cep_engine_push_json(cep_engine *e, const char *text, size_t len) {
    if (!e || (!text && len)) return CEP_EINVAL;
    if (e->finished) return CEP_EFINISHED;
    if (!e->builder) {
        int rc = cep_event_new(e->prog, &e->builder);
        if (rc != CEP_OK) return rc;
    }
    const char *tf = e->cfg.time_mode == CEP_TIME_PROCESSING ? "" : e->cfg.time_field ? e->cfg.time_field : CEP_DEFAULT_TIME_FIELD;
    /* The row lives for this call only: its text is lent (what the engine
     * keeps, it copies). The parse clears it. */
    int rc = json_parse_lent(e->builder, text, len, tf);
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
    if (ms <= e->time.watermark) return CEP_OK; /* a watermark never goes back */
    int rc = advance_to(e, ms);
    if (rc == CEP_OK) rc = enforce_memory(e);
    return finish_rc(e, rc);
}

CEP_API int cep_engine_finish(cep_engine *e) {
    if (!e) return CEP_EINVAL;
    return engine_finish_after(e, e->time.max_seen);
}

int engine_finish_after(cep_engine *e, int64_t last) {
    if (e->finished) return CEP_EFINISHED;
    e->started = 1;
    e->time.end_after = last;
    /* End of input: the watermark goes to +infinity, every window closes
     * (and every timer entry fires). */
    int rc = advance_to(e, INT64_MAX);
    /* No partial match can grow any more: drop them, which releases the
     * matches they were holding back, key by key in creation order. */
    while (e->keyset.first) {
        key_state *ks = e->keyset.first;
        key_drop_pms(e, ks);
        emit_release_held(e, key_pattern(ks), ks);
        if (ks->held) engine_key_free(e, ks); /* only after running out of memory */
        else engine_key_settle(e, ks);
    }
    e->finished = 1;
    budget_release(e);
    return finish_rc(e, rc);
}

/* ---- life cycle and options ---------------------------------------------------------- */

static void free_all_keys(cep_engine *e) { engine_keys_each(e, engine_key_free); }

CEP_API int cep_engine_new(const cep_program *p, cep_engine **out) {
    if (!out) return CEP_EINVAL;
    *out = NULL;
    if (!p) return CEP_EINVAL;
    cep_engine *e = mem_calloc(1, sizeof *e);
    if (!e) return CEP_ENOMEM;
    e->prog = p;
    e->cfg.raw_all_emit = engine_all_emit(p);
    e->time.watermark = INT64_MIN;
    e->time.max_seen = INT64_MIN;
    e->timers.front = INT64_MIN;
    e->store.pooled = slab_pooled();
    e->store.mem.reclaim = key_blocks_release;
    e->store.mem.reclaim_ud = e;
    e->time.end_after = INT64_MAX;
    e->time.reorder.less = reorder_less;
    /* A random seed per engine, so keys cannot be chosen to collide. Output
     * order never depends on it: keys are iterated in creation order. */
    uint64_t seed = (uint64_t)(uintptr_t)e;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed ^= 0x9E3779B97F4A7C15ull;
    e->keyset.keys.seed = seed;
    e->keyset.groups.seed = seed;
    e->stats.watermark = INT64_MIN;
    /* For the tests that compare the compact form with the flat one. */
    const char *compact = getenv("CEP_COMPACT");
    e->cfg.flat_only = compact && !strcmp(compact, "0");
    if (expr_ctx_init(&e->ctx, p) != CEP_OK || engine_lanes_init(e) < 0) {
        cep_engine_free(e);
        return CEP_ENOMEM;
    }
    *out = e;
    return CEP_OK;
}

CEP_API void cep_engine_free(cep_engine *e) {
    if (!e) return;
    free_all_keys(e);
    cep_event *ev;
    while ((ev = heap_pop(&e->time.reorder))) engine_drop_event(e, ev);
    heap_free(&e->time.reorder);
    engine_lanes_free(e);
    keymap_free(&e->keyset.keys);
    keymap_free(&e->keyset.groups);
    while (e->store.slabs) {
        node_slab *next = e->store.slabs->next;
        mem_free(e->store.slabs);
        e->store.slabs = next;
    }
    mem_free(e->scratch.visit);
    mem_free(e->scratch.visit_tmp);
    mem_free(e->scratch.closed);
    mem_free(e->scratch.row);
    mem_free(e->scratch.thaw);
    mem_free(e->scratch.kids.v);
    mem_free(e->scratch.completed.v);
    mem_free(e->scratch.expired.v);
    mem_free(e->scratch.stack.v);
    mem_free(e->scratch.out.v);
    mem_free(e->scratch.outs.v);
    mem_free(e->timers.due);
    mem_free(e->scratch.gate);
    mem_free(e->scratch.gate_at);
    mem_free(e->scratch.keybuf);
    mem_free(e->match.events);
    mem_free(e->match.step_off);
    mem_free(e->match.fields);
    expr_ctx_free(&e->ctx);
    cep_event_free(e->builder);
    mem_free(e->cfg.time_field);
    slab_destroy(&e->store.mem);
    mem_free(e);
}

CEP_API int cep_engine_set_max_delay(cep_engine *e, int64_t ms) {
    if (!e || ms < 0 || e->started) return CEP_EINVAL;
    e->cfg.max_delay = ms;
    return CEP_OK;
}

CEP_API int cep_engine_set_max_partial_matches(cep_engine *e, uint64_t max, int policy) {
    if (!e || e->started || (policy != CEP_LIMIT_DROP_OLDEST && policy != CEP_LIMIT_FAIL) ||
        max > UINT32_MAX)
        return CEP_EINVAL;
    e->cfg.max_pms = max;
    e->cfg.limit_policy = policy;
    return CEP_OK;
}

CEP_API int cep_engine_set_memory_limit(cep_engine *e, uint64_t bytes, int policy) {
    if (!e || e->started || (policy != CEP_LIMIT_DROP_OLDEST && policy != CEP_LIMIT_FAIL)) return CEP_EINVAL;
    e->cfg.max_bytes = bytes;
    e->cfg.limit_policy = policy;
    return CEP_OK;
}

CEP_API int cep_engine_set_allowed_lateness(cep_engine *e, int64_t ms) {
    if (!e || ms < 0 || e->started) return CEP_EINVAL;
    e->cfg.lateness = ms;
    return CEP_OK;
}

CEP_API int cep_engine_set_drop_raw(cep_engine *e, int on) {
    if (!e || (on != 0 && on != 1)) return CEP_EINVAL;
    e->cfg.drop_raw = on;
    return CEP_OK;
}

CEP_API int cep_engine_set_state_ttl(cep_engine *e, int64_t ms) {
    if (!e || ms < 0 || e->started) return CEP_EINVAL;
    e->cfg.state_ttl = ms;
    if (ms > 0) e->timers.front = INT64_MAX; /* (timers_per_key) */
    else if (e->timers.front == INT64_MAX) e->timers.front = INT64_MIN;
    return CEP_OK;
}

CEP_API int cep_engine_set_time_mode(cep_engine *e, int mode) {
    if (!e || e->started || (mode != CEP_TIME_EVENT && mode != CEP_TIME_PROCESSING)) return CEP_EINVAL;
    e->cfg.time_mode = mode;
    e->cfg.tslot_prog = NULL;
    return CEP_OK;
}

CEP_API int cep_engine_set_clock(cep_engine *e, cep_clock_fn fn, void *ud) {
    if (!e) return CEP_EINVAL;
    e->hooks.clock = fn;
    e->hooks.clock_ud = ud;
    return CEP_OK;
}

CEP_API int cep_engine_tick(cep_engine *e) {
    if (!e) return CEP_EINVAL;
    if (e->finished) return CEP_EFINISHED;
    if (e->cfg.time_mode != CEP_TIME_PROCESSING) return CEP_OK;
    e->started = 1;
    int rc = advance_to(e, processing_now(e));
    if (rc == CEP_OK) rc = enforce_memory(e);
    return finish_rc(e, rc);
}

CEP_API int cep_engine_set_time_field(cep_engine *e, const char *name) {
    fpath fp;
    if (!e || !name || !*name || e->started || fpath_parse(name, strlen(name), &fp) < 0) return CEP_EINVAL;
    char *copy = mem_strdup(name);
    if (!copy) return CEP_ENOMEM;
    mem_free(e->cfg.time_field);
    e->cfg.time_field = copy;
    e->cfg.tslot_prog = NULL;
    return CEP_OK;
}

CEP_API void cep_engine_on_match(cep_engine *e, cep_match_fn fn, void *ud) {
    if (!e) return;
    e->hooks.on_match = fn;
    e->hooks.match_ud = ud;
}

CEP_API void cep_engine_on_late(cep_engine *e, cep_late_fn fn, void *ud) {
    if (!e) return;
    e->hooks.on_late = fn;
    e->hooks.late_ud = ud;
}

CEP_API void cep_engine_on_timeout(cep_engine *e, cep_match_fn fn, void *ud) {
    if (!e) return;
    e->hooks.on_timeout = fn;
    e->hooks.timeout_ud = ud;
}

CEP_API void cep_engine_on_tag(cep_engine *e, cep_tag_fn fn, void *ud) {
    if (!e) return;
    e->hooks.on_tag = fn;
    e->hooks.tag_ud = ud;
}

CEP_API void cep_engine_stats_sized(const cep_engine *e, cep_stats *out, size_t size) {
    if (!out) return;
    cep_stats st;
    memset(&st, 0, sizeof st);
    if (e) {
        st = e->stats;
        st.regex_errors = e->ctx.regex_errors;
        st.watermark = e->time.watermark;
        st.max_event_time = e->time.max_seen;
        st.memory = engine_memory(e);
        st.stored_bytes = e->store.event_bytes;
        st.pool_idle = e->store.mem.reserved - e->store.mem.in_use +
                       (e->store.node_slabs * (uint64_t)NODE_SLAB - e->store.pooled_nodes) * sizeof(pm_lnode);
    }
    /* Only what the caller's cep_stats holds (an older header's is shorter). */
    memcpy(out, &st, size < sizeof st ? size : sizeof st);
}
