/* tecs.c — every combination kept compactly (issue 23, level 2).
 *
 * For a compact pattern (nfa_pattern.compact: steps s1 followedByAny s2
 * ... followedByAny sk, each condition reading only the event), the
 * partial matches of a key waiting after step j (level j) are exactly the
 * increasing sequences x1 < x2 < ... < xj of events, xi satisfying step
 * i's condition, whose first event's window is still open. So the key
 * keeps, per level j < k, the list of events that opened step j while
 * level j-1 had a partial match, each with `ptr`, how many entries level
 * j-1 had had by then (its predecessors are exactly those): CORE's tECS
 * with its unions as list prefixes. An event costs O(k): one entry per
 * step it opens. A completion at step k enumerates the sequences ending
 * in level k-1's entries, in Flink's order (language.md §17: by start,
 * then the order in which branches were made, which for followedByAny
 * is the order of their events, a longer one before its own prefix), at
 * O(k) per match; they go to emit_match through a chain of nodes on the
 * stack.
 *
 * Windows close at the first level: an entry there is one start. Entries
 * of higher levels whose predecessors have all closed go too (a prefix of
 * each list, as ptr grows along it). The flat engine's counts stay exact
 * (partial matches alive, their peak, timeouts): level j's count grows by
 * level j-1's on each entry; the partial matches that start at a closing
 * entry m are counted from A(a, b), the number of increasing sequences of
 * entries of levels a..b made so far, whose values at m's entry are kept
 * beside it (sequences after m = all minus those that begin before m).
 * The counters wrap modulo 2^64, which the differences survive.
 *
 * Whatever needs the partial matches one by one (a snapshot, a program
 * change, a straggler, a timeout callback, limits) first turns the key
 * into the flat form (tecs_flatten), exactly. */
#include "config.h"
#include "engine.h"
#include "mem.h"
#include "tecs.h"

#include <stdlib.h>
#include <string.h>

#define TECS_MAX 8 /* steps (automaton.c's COMPACT_MAX_STEPS) */

typedef struct tecs_ent {
    cep_event *ev;
    uint64_t ptr; /* level > 1: entries level - 1 had had when this came */
} tecs_ent;

typedef struct tecs_lvl {
    tecs_ent *v;
    uint64_t base; /* entries ever removed from the front: v[lo]'s number */
    uint32_t lo, hi, cap;
} tecs_lvl;

/* One block per key, sized by its pattern's steps (a key of a two-step
 * pattern holds one list and no counter). */
struct tecs {
    uint32_t k;                  /* steps: levels 1 .. k-1 hold entries */
    uint32_t na;                 /* counters A(a, b), 2 <= a <= b <= k-1 */
    uint32_t state[TECS_MAX + 1]; /* NFA state of each level (0: start, k: final) */
    uint32_t snap_cap;           /* level-1 slots snap has room for */
    uint64_t *snap;              /* na per level-1 slot: A when the entry came */
    uint64_t *live;              /* [k]: partial matches per level (in the block) */
    uint64_t *a;                 /* [na] (in the block) */
    tecs_lvl lvl[];              /* [k]; lvl[0] unused */
};

static size_t tecs_bytes(uint32_t k, uint32_t na) {
    return sizeof(tecs) + k * sizeof(tecs_lvl) + (k + na) * sizeof(uint64_t);
}

/* Index of A(a, b) among the na counters. */
static inline uint32_t aidx(uint32_t a, uint32_t b) { return (b - 2) * (b - 1) / 2 + (a - 2); }

static inline uint64_t lvl_end(const tecs_lvl *l) { return l->base + (l->hi - l->lo); }
static inline tecs_ent *lvl_at(const tecs_lvl *l, uint64_t abs) { return &l->v[l->lo + (abs - l->base)]; }

int tecs_usable(const cep_engine *e) {
    return !e->cfg.max_pms && !e->cfg.max_bytes && e->cfg.state_ttl <= 0 && !e->cfg.flat_only;
}

/* (The lists live in the engine's slab, which the memory stats count.) */
static tecs *tecs_new(cep_engine *e, const nfa_pattern *pat) {
    uint32_t k = pat->nsteps, na = (k - 2) * (k - 1) / 2;
    tecs *t = slab_alloc(&e->store.mem, tecs_bytes(k, na));
    if (!t) return NULL;
    memset(t, 0, tecs_bytes(k, na));
    t->k = k;
    t->na = na;
    t->live = (uint64_t *)(t->lvl + k);
    t->a = t->live + k;
    uint32_t s = pat->start;
    for (uint32_t j = 0; j < t->k; j++) {
        t->state[j] = s;
        s = pat->states[s].target;
    }
    t->state[t->k] = s;
    return t;
}

/* Room for one more entry at the end of level j. */
static int lvl_reserve(cep_engine *e, tecs *t, uint32_t j) {
    tecs_lvl *l = &t->lvl[j];
    int snap = j == 1 && t->na; /* level 1 keeps counters beside its entries */
    if (l->hi < l->cap && (!snap || l->hi < t->snap_cap)) return 0;
    uint32_t n = l->hi - l->lo;
    if (l->lo >= n && l->lo) { /* half or more is gone: slide down */
        memmove(l->v, l->v + l->lo, (size_t)n * sizeof *l->v);
        if (snap) memmove(t->snap, t->snap + (size_t)l->lo * t->na, (size_t)n * t->na * sizeof *t->snap);
        l->lo = 0;
        l->hi = n;
        return 0;
    }
    if (l->hi >= l->cap) {
        uint64_t cap = l->cap ? 2 * (uint64_t)l->cap : 2;
        if (cap > UINT32_MAX / (sizeof *l->v * (t->na + 1))) return -1;
        tecs_ent *v = slab_realloc(&e->store.mem, l->v, l->cap * sizeof *l->v, cap * sizeof *l->v);
        if (!v) return -1;
        l->v = v;
        l->cap = (uint32_t)cap;
    }
    if (snap && l->hi >= t->snap_cap) {
        uint64_t *sn = slab_realloc(&e->store.mem, t->snap, (size_t)t->snap_cap * t->na * sizeof *sn,
                                    (size_t)l->cap * t->na * sizeof *sn);
        if (!sn) return -1;
        t->snap = sn;
        t->snap_cap = l->cap;
    }
    return 0;
}

/* Partial matches starting at level-1 entry s (its counters at sn): per
 * level j, c[j]. Sequences of entries of levels 2..b after it: from A(a,
 * b) now minus those whose first elements came before it. */
static void family_counts(const tecs *t, const uint64_t *sn, uint64_t *c) {
    uint32_t top = t->k - 1;
    c[1] = 1;
    for (uint32_t b = 2; b <= top; b++) {
        uint64_t y[TECS_MAX + 2];
        y[b + 1] = 1;
        for (uint32_t a = b + 1; a-- > 2;) {
            uint64_t v = t->a[aidx(a, b)];
            for (uint32_t s = a; s <= b; s++) v -= sn[aidx(a, s)] * y[s + 1];
            y[a] = v;
        }
        c[b] = y[2];
    }
}

/* ks->npms (32 bits) says whether the key holds partial matches: every
 * combination can be more than that, so it is capped (the stats count
 * them in 64 bits). */
static void set_npms(key_state *ks, const tecs *t) {
    uint64_t n = 0;
    for (uint32_t j = 1; j < t->k; j++) n += t->live[j];
    ks->npms = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static void release_front(cep_engine *e, tecs_lvl *l) {
    engine_drop_event(e, l->v[l->lo].ev);
    l->lo++;
    l->base++;
}

static void free_lists(cep_engine *e, tecs *t) {
    for (uint32_t j = 1; j < t->k; j++) {
        tecs_lvl *l = &t->lvl[j];
        while (l->lo < l->hi) release_front(e, l);
        slab_free(&e->store.mem, l->v, l->cap * sizeof *l->v);
    }
    slab_free(&e->store.mem, t->snap, (size_t)t->snap_cap * t->na * sizeof *t->snap);
    slab_free(&e->store.mem, t, tecs_bytes(t->k, t->na));
}

void tecs_drop(cep_engine *e, key_state *ks) {
    tecs *t = key_tecs(ks);
    if (!t) return;
    for (uint32_t j = 1; j < t->k; j++) e->stats.partial_matches -= t->live[j];
    ks->npms = 0;
    key_set_tecs(e, ks, NULL);
    free_lists(e, t);
}

int tecs_starts(cep_engine *e, uint32_t pi, const step_in *in) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    return step_cond(e, pat, pat->start, in->row);
}

/* ---- matches ---------------------------------------------------------------------------- */

typedef struct walk {
    cep_engine *e;
    uint32_t pi, top;
    const tecs *t;
    uint64_t hi[TECS_MAX]; /* per level: entries before this bound can reach the completion */
    pm_lnode nodes[TECS_MAX + 1]; /* loose: they name their events */
    pm p;
} walk;

/* The first entry of level j (below bound hi) whose ptr passes i. */
static uint64_t first_after(const tecs_lvl *l, uint64_t from, uint64_t hi, uint64_t i) {
    while (from < hi) {
        uint64_t mid = from + (hi - from) / 2;
        if (lvl_at(l, mid)->ptr > i) hi = mid;
        else from = mid + 1;
    }
    return from;
}

/* Every sequence through level j's entries from `from` on, in order. */
static void walk_level(walk *w, uint32_t j, uint64_t from) {
    const tecs_lvl *l = &w->t->lvl[j];
    uint64_t next = 0;
    if (j < w->top) {
        const tecs_lvl *u = &w->t->lvl[j + 1];
        next = first_after(u, u->base, w->hi[j + 1], from);
    }
    for (uint64_t i = from; i < w->hi[j]; i++) {
        cep_event *ev = lvl_at(l, i)->ev;
        w->nodes[j - 1].ev = ev;
        if (j == 1) {
            w->p.start = ev->time;
            w->p.start_seq = ev->seq;
        }
        if (j == w->top) {
            emit_match(w->e, w->pi, &w->p, 0);
            continue;
        }
        const tecs_lvl *u = &w->t->lvl[j + 1];
        while (next < w->hi[j + 1] && lvl_at(u, next)->ptr <= i) next++;
        walk_level(w, j + 1, next);
    }
}

/* The matches the event (stored as ev) completes with level k-1's first
 * `end` entries, in Flink's order. */
static void complete(cep_engine *e, uint32_t pi, const tecs *t, cep_event *ev, uint64_t end) {
    walk w = {.e = e, .pi = pi, .top = t->k - 1, .t = t};
    w.hi[w.top] = end;
    for (uint32_t j = w.top; j > 1; j--) {
        if (w.hi[j] <= t->lvl[j].base) return;
        w.hi[j - 1] = lvl_at(&t->lvl[j], w.hi[j] - 1)->ptr;
    }
    for (uint32_t j = 0; j <= w.top; j++)
        w.nodes[j] = (pm_lnode){.n = {.parent = j ? &w.nodes[j - 1].n : NULL, .refs = 1, .step = j, .loose = 1}};
    w.nodes[w.top].ev = ev;
    w.p.node = &w.nodes[w.top].n;
    w.p.state = t->state[t->k];
    walk_level(&w, 1, t->lvl[1].base);
}

/* Timeouts of level j's entry i and everything after it, in Flink's
 * order (as flat_entry makes them). */
static void time_out(walk *w, uint32_t j, uint64_t i) {
    const tecs_lvl *l = &w->t->lvl[j];
    w->nodes[j - 1].ev = lvl_at(l, i)->ev;
    if (j < w->top) {
        const tecs_lvl *u = &w->t->lvl[j + 1];
        for (uint64_t c = first_after(u, u->base, lvl_end(u), i); c < lvl_end(u); c++) time_out(w, j + 1, c);
    }
    w->p.node = &w->nodes[j - 1].n;
    emit_match(w->e, w->pi, &w->p, 1);
}

/* The timeouts of the first n entries of level 1 (their windows closed). */
static void time_out_first(cep_engine *e, uint32_t pi, const tecs *t, uint64_t n) {
    walk w = {.e = e, .pi = pi, .top = t->k - 1, .t = t};
    for (uint32_t j = 0; j <= w.top; j++)
        w.nodes[j] = (pm_lnode){.n = {.parent = j ? &w.nodes[j - 1].n : NULL, .refs = 1, .step = j, .loose = 1}};
    const tecs_lvl *l = &t->lvl[1];
    for (uint64_t i = l->base; i < l->base + n; i++) {
        const cep_event *ev = lvl_at(l, i)->ev;
        w.p.start = ev->time;
        w.p.start_seq = ev->seq;
        time_out(&w, 1, i);
    }
}

/* ---- one event ---------------------------------------------------------------------------- */

static int push(cep_engine *e, tecs *t, uint32_t j, step_in *in) {
    cep_event *ev = step_stored(e, in);
    if (!ev || lvl_reserve(e, t, j) < 0) return -1;
    tecs_lvl *l = &t->lvl[j];
    event_retain(ev);
    l->v[l->hi++] = (tecs_ent){ev, j > 1 ? lvl_end(&t->lvl[j - 1]) : 0};
    return 0;
}

int tecs_step(cep_engine *e, uint32_t pi, key_state *ks, step_in *in) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    const cep_event *ev = in->ev;
    if (!key_tecs(ks)) {
        tecs *nt = tecs_new(e, pat);
        if (!nt) {
            e->oom = 1;
            engine_key_settle(e, ks);
            return CEP_ENOMEM;
        }
        key_set_tecs(e, ks, nt);
    }
    tecs *t = key_tecs(ks);
    uint32_t top = t->k - 1;
    int failed = 0;
    /* Levels from the top down: an entry's predecessors and the counters
     * it reads are those from before this event. */
    uint64_t done_end = 0, added = 0;
    cep_event *done_ev = NULL;
    if (t->lvl[top].lo < t->lvl[top].hi && step_cond(e, pat, t->state[top], in->row)) {
        done_end = lvl_end(&t->lvl[top]);
        if (!(done_ev = step_stored(e, in))) failed = 1;
    }
    for (uint32_t j = top; j >= 2 && !failed; j--) {
        if (t->lvl[j - 1].lo == t->lvl[j - 1].hi || !step_cond(e, pat, t->state[j - 1], in->row)) continue;
        if (push(e, t, j, in) < 0) {
            failed = 1;
            break;
        }
        for (uint32_t a = 2; a <= j; a++) t->a[aidx(a, j)] += a == j ? 1 : t->a[aidx(a, j - 1)];
        t->live[j] += t->live[j - 1];
        added += t->live[j - 1];
    }
    if (!failed && step_cond(e, pat, t->state[0], in->row)) {
        pm q = {.start = ev->time, .start_seq = ev->seq, .state = t->state[1]};
        if (timers_arm_pm(e, ks, &q, 1) < 0 || push(e, t, 1, in) < 0) {
            failed = 1;
        } else {
            tecs_lvl *l = &t->lvl[1];
            if (t->na) memcpy(t->snap + (size_t)(l->hi - 1) * t->na, t->a, t->na * sizeof *t->a);
            t->live[1]++;
            added++;
        }
    }
    set_npms(ks, t);
    e->stats.partial_matches += added;
    if (e->stats.partial_matches > e->stats.peak_partial_matches)
        e->stats.peak_partial_matches = e->stats.partial_matches;
    if (ev->time > ks->last_event || !ks->listed) ks->last_event = ev->time;
    if (!ks->listed && ks->npms) engine_key_activate(e, ks);
    if (done_ev) complete(e, pi, t, done_ev, done_end);
    if (failed) e->oom = 1;
    if (!ks->npms) engine_key_settle(e, ks);
    return e->oom ? CEP_ENOMEM : CEP_OK;
}

/* ---- windows ------------------------------------------------------------------------------ */

static int64_t start_deadline(const nfa_pattern *pat, int64_t start) {
    if (pat->has_within && start <= INT64_MAX - pat->within_ms) return start + pat->within_ms;
    return INT64_MAX;
}

int64_t tecs_first_deadline(const cep_engine *e, const key_state *ks) {
    const tecs_lvl *l = &key_tecs(ks)->lvl[1];
    if (l->lo == l->hi) return INT64_MAX;
    return start_deadline(&e->prog->patterns[key_pattern(ks)], l->v[l->lo].ev->time);
}

int tecs_has_start(const key_state *ks, int64_t start) {
    const tecs_lvl *l = &key_tecs(ks)->lvl[1];
    uint32_t lo = l->lo, hi = l->hi;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].ev->time < start) lo = mid + 1;
        else hi = mid;
    }
    return lo < l->hi && l->v[lo].ev->time == start;
}

int tecs_prune(cep_engine *e, key_state *ks, int64_t now) {
    if (!key_tecs(ks)) return 0;
    if (!tecs_usable(e)) {
        tecs_flatten(e, ks);
        return 0;
    }
    tecs *t = key_tecs(ks);
    const nfa_pattern *pat = &e->prog->patterns[key_pattern(ks)];
    tecs_lvl *first = &t->lvl[1];
    /* The first entries whose windows closed (as within_due: a window
     * ending at INT64_MAX or past it never closes), and what they count. */
    uint64_t due = 0, gone = 0;
    while (pat->has_within && first->lo + due < first->hi) {
        int64_t s = first->v[first->lo + due].ev->time;
        if (s >= INT64_MAX - pat->within_ms || s + pat->within_ms > now) break;
        uint64_t c[TECS_MAX];
        family_counts(t, t->snap + (size_t)(first->lo + due) * t->na, c);
        for (uint32_t j = 1; j < t->k; j++) {
            t->live[j] -= c[j];
            gone += c[j];
        }
        due++;
    }
    if (!due) return 1;
    set_npms(ks, t);
    e->stats.partial_matches -= gone;
    if (e->hooks.on_timeout) time_out_first(e, key_pattern(ks), t, due); /* (counts them) */
    else e->stats.timeouts += gone;
    while (due--) {
        release_front(e, first);
        for (uint32_t j = 2; j < t->k; j++) {
            tecs_lvl *l = &t->lvl[j];
            while (l->lo < l->hi && l->v[l->lo].ptr <= t->lvl[j - 1].base) release_front(e, l);
        }
    }
    return 1;
}

/* ---- back to one partial match each ----------------------------------------------------- */

typedef struct flat {
    cep_engine *e;
    const tecs *t;
    pm_list out[TECS_MAX];
    pm fam;      /* start, start seq, label width of the family */
    uint64_t rank;
    int failed;
} flat;

/* Level j's entry i and everything after it, in Flink's order: the
 * longer partial matches first (a branch sorts before the partial match
 * it branched from), each level's events in their order. */
static void flat_entry(flat *f, uint32_t j, uint64_t i, pm_node *parent) {
    const tecs *t = f->t;
    pm_node *n = f->failed ? NULL : engine_node_new(f->e, lvl_at(&t->lvl[j], i)->ev, j - 1, parent);
    if (!n) {
        f->failed = 1;
        return;
    }
    if (j + 1 < t->k) {
        const tecs_lvl *u = &t->lvl[j + 1];
        for (uint64_t c = first_after(u, u->base, lvl_end(u), i); c < lvl_end(u); c++) flat_entry(f, j + 1, c, n);
    }
    pm q = f->fam;
    q.node = n;
    q.state = t->state[j];
    if (q.used) q.label = f->rank << (64 - q.used);
    f->rank++;
    if (engine_list_push(&f->out[j], q) < 0) {
        engine_node_release(f->e, n);
        f->failed = 1;
    }
}

static int cmp_level_state(const void *a, const void *b) {
    const pm_list *x = a, *y = b;
    if (!x->n || !y->n) return (int)!x->n - (int)!y->n;
    return x->v[0].state < y->v[0].state ? -1 : x->v[0].state > y->v[0].state;
}

/* Level lists (sorted by state, empty ones last) into ks's buckets, which
 * hold nothing yet; all or nothing: -1 leaves ks without a bucket. */
static int fill_buckets(cep_engine *e, key_state *ks, pm_list *out, uint32_t n) {
    for (uint32_t j = 0; j < n && out[j].n; j++) {
        bucket *b = key_bucket(e, ks, out[j].v[0].state, 1);
        if (!b) goto fail;
        if (b->cap < out[j].n) {
            pm *v = slab_alloc(&e->store.mem, (size_t)out[j].n * sizeof *v);
            if (!v) goto fail;
            key_array_free(e, ks, b->v, b->cap);
            b->v = v;
            b->cap = out[j].n;
        }
    }
    for (uint32_t j = 0; j < n && out[j].n; j++) {
        bucket *b = key_bucket(e, ks, out[j].v[0].state, 0);
        memcpy(b->v, out[j].v, (size_t)out[j].n * sizeof *b->v);
        b->lo = 0;
        b->hi = out[j].n;
    }
    return 0;
fail:
    key_drop_empty_buckets(e, ks);
    return -1;
}

int tecs_flatten(cep_engine *e, key_state *ks) {
    tecs *t = key_tecs(ks);
    if (!t) return 0;
    flat f = {.e = e, .t = t};
    const tecs_lvl *first = &t->lvl[1];
    for (uint64_t i = first->base; i < lvl_end(first) && !f.failed; i++) {
        uint64_t c[TECS_MAX], n = 0;
        family_counts(t, t->snap + (size_t)(first->lo + (i - first->base)) * t->na, c);
        for (uint32_t j = 1; j < t->k; j++) n += c[j];
        uint32_t w = 0;
        while (w < 64 && ((uint64_t)1 << w) < n) w++;
        const cep_event *ev = lvl_at(first, i)->ev;
        f.fam = (pm){.start = ev->time, .start_seq = ev->seq, .used = (uint8_t)w};
        f.rank = 0;
        flat_entry(&f, 1, i, NULL);
    }
    /* Buckets take them by state; on failure the compact form stays. */
    qsort(f.out + 1, TECS_MAX - 1, sizeof *f.out, cmp_level_state);
    key_set_tecs(e, ks, NULL); /* (its room is the buckets' now) */
    if (!f.failed && fill_buckets(e, ks, f.out + 1, TECS_MAX - 1) < 0) f.failed = 1;
    uint64_t total = 0;
    for (uint32_t j = 1; j < TECS_MAX; j++) {
        total += f.out[j].n;
        for (uint32_t i = 0; i < f.out[j].n; i++) {
            if (f.failed) engine_node_release(e, f.out[j].v[i].node);
            else if (f.out[j].v[i].used > ks->max_used) ks->max_used = f.out[j].v[i].used;
        }
        mem_free(f.out[j].v);
    }
    if (f.failed) {
        key_set_tecs(e, ks, t); /* (fill_buckets left no bucket) */
        return -1;
    }
    /* (The same count, made one by one.) */
    uint64_t had = 0;
    for (uint32_t j = 1; j < t->k; j++) had += t->live[j];
    e->stats.partial_matches += total - had;
    ks->npms = (uint32_t)total;
    free_lists(e, t);
    return 0;
}

static __thread int flatten_failed; /* (engine_keys_each takes no user data) */

static void flatten_one(cep_engine *e, key_state *ks) {
    if (key_tecs(ks) && tecs_flatten(e, ks) < 0) flatten_failed = 1;
}

int tecs_flatten_all(cep_engine *e) {
    flatten_failed = 0;
    engine_keys_each(e, flatten_one);
    return flatten_failed ? -1 : 0;
}
