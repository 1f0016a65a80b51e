/* timers.c — when windows close. A key's windows have timer entries
 * (deadline, key) in lanes; the engine takes the earliest deadline of all
 * lanes, fires the keys due then in creation order, and a key whose
 * window closed expires what is due (emit.c).
 *
 * A pattern with gap windows arms an entry per partial match's gap and
 * per `within` window (a family: the partial matches of one start). One
 * without (most) keeps one `within` entry per key: it is armed for a
 * window when the key has none pending (timers_arm_pm), and when it fires
 * the key's next window end is armed in the re-arm lane (timers_rearm).
 * At a million keys that is one entry per key instead of one per window
 * (issue 18: 45 MB of 2.8M entries at W1's peak); docs/design.md, "Time".
 *
 * Entries are never removed early: an entry whose partial match has gone
 * (matched, pruned) fires as a no-op. A key state stays allocated while an
 * entry names it (key_state.timers), so entries need no validity check. */
#include "config.h"
#include "engine.h"
#include "tecs.h"
#include "mem.h"
#include "route.h"

#include <stdlib.h>
#include <string.h>

/* A sorted lane holds its entries at positions lo..hi-1 (counters that
 * only grow), in chunks (engine.h, lane_at): the chunks of positions
 * lo / LANE_CHUNK .. cap / LANE_CHUNK - 1 exist, a chunk is freed when lo
 * leaves it. Popping and pushing never move the others. The TTL lane is a
 * heap in v[0..hi). */
#define AT(l, i) (*lane_at((l), (i)))

static inline __attribute__((always_inline)) int64_t lane_head(const lane *l) {
    if (l->kind == LANE_SORTED) return l->lo < l->hi ? AT(l, l->lo).deadline : INT64_MAX;
    return l->hi ? l->v[0].deadline : INT64_MAX;
}

static int lane_less(const void *a, const void *b) { return lane_head(a) < lane_head(b); }

/* With a few lanes (one pattern: its window and the TTL lane; W7's three
 * windows), looking at each is cheaper than keeping the heap of lanes in
 * order: timers_take takes from them all in one pass. */
#define FEW_LANES 8

static inline __attribute__((always_inline)) lane *first_lane(const cep_engine *e) {
    if (e->timers.nlanes > FEW_LANES) return heap_top(&e->timers.lane_heap);
    if (!e->timers.nlanes) return NULL; /* freed, or being made */
    /* The TTL lane (the last) has entries only with a TTL. */
    uint32_t n = e->cfg.state_ttl > 0 ? e->timers.nlanes : e->timers.nlanes - 1;
    if (n <= 1) return n ? &e->timers.lanes[0] : NULL;
    lane *best = &e->timers.lanes[0];
    int64_t bh = lane_head(best);
    for (uint32_t i = 1; i < n; i++) {
        int64_t h = lane_head(&e->timers.lanes[i]);
        if (h < bh) {
            best = &e->timers.lanes[i];
            bh = h;
        }
    }
    return best;
}

/* After l's earliest deadline changed. */
static void lane_moved_head(cep_engine *e, lane *l) {
    if (e->timers.nlanes > FEW_LANES) heap_fix(&e->timers.lane_heap, l->heap_pos);
}

static int64_t next_due(const cep_engine *e) {
    const lane *l = first_lane(e);
    return l ? lane_head(l) : INT64_MAX;
}

static void lane_moved(void *item, size_t pos) { ((lane *)item)->heap_pos = pos; }

/* The heap lane's entries into an array of ncap entries. */
static int heap_relay(lane *l, size_t ncap) {
    timer_ent *nv = mem_alloc(ncap * sizeof *nv);
    if (!nv) return -1;
    if (l->hi) memcpy(nv, l->v, l->hi * sizeof *nv);
    mem_free(l->v);
    l->v = nv;
    l->cap = ncap;
    return 0;
}

/* First chunk of sorted lane l (its chunks: first .. l->cap / LANE_CHUNK - 1). */
static size_t first_chunk(const lane *l) { return l->lo >> LANE_SHIFT; }

/* Free chunk k of sorted lane l (its place in the ring made empty). */
static void chunk_free(lane *l, size_t k) {
    mem_free(l->dir[k & (l->ndir - 1)]);
    l->dir[k & (l->ndir - 1)] = NULL;
}

/* Free the chunks of sorted lane l from position end on (a multiple of
 * LANE_CHUNK, at least lo's chunk's start). */
static void chunks_free_from(lane *l, size_t end) {
    for (size_t k = end >> LANE_SHIFT; k < l->cap >> LANE_SHIFT; k++) chunk_free(l, k);
    if (end < l->cap) l->cap = end;
}

/* Chunks for the positions of sorted lane l up to end - 1. */
static int chunks_reserve(lane *l, size_t end) {
    if (end <= l->cap) return 0;
    size_t first = first_chunk(l), last = (end - 1) >> LANE_SHIFT;
    if (last - first + 1 > l->ndir) { /* the ring of chunks grows: the same chunks, placed anew */
        size_t nd = l->ndir ? l->ndir : 4;
        while (nd < last - first + 1) nd *= 2;
        timer_ent **ndir = mem_calloc(nd, sizeof *ndir);
        if (!ndir) return -1;
        for (size_t k = first; k < l->cap >> LANE_SHIFT; k++) ndir[k & (nd - 1)] = l->dir[k & (l->ndir - 1)];
        mem_free(l->dir);
        l->dir = ndir;
        l->ndir = nd;
    }
    if (l->cap < first << LANE_SHIFT) l->cap = first << LANE_SHIFT; /* (no chunk yet) */
    while (l->cap < end) {
        timer_ent *c = mem_alloc(LANE_CHUNK * sizeof *c);
        if (!c) return -1;
        l->dir[(l->cap >> LANE_SHIFT) & (l->ndir - 1)] = c;
        l->cap += LANE_CHUNK;
    }
    return 0;
}

int timers_lane_reserve(lane *l, size_t n) {
    if (l->kind == LANE_SORTED) {
        if (n > (size_t)-1 / 2 - l->hi) return -1;
        return chunks_reserve(l, l->hi + n);
    }
    if (l->hi + n <= l->cap) return 0;
    size_t ncap = l->cap ? l->cap : 16;
    while (ncap < l->hi + n) {
        if (ncap > ((size_t)-1 / 2) / sizeof *l->v) return -1;
        ncap *= 2;
    }
    return heap_relay(l, ncap);
}

uint64_t timers_lane_bytes(const lane *l) {
    if (l->kind != LANE_SORTED) return (uint64_t)l->cap * sizeof(timer_ent);
    size_t from = first_chunk(l) << LANE_SHIFT;
    return (uint64_t)(l->cap > from ? l->cap - from : 0) * sizeof(timer_ent) + (uint64_t)l->ndir * sizeof *l->dir;
}

/* Empty l and free its entries' memory (the chunks' ring stays). */
static void lane_empty(lane *l) {
    if (l->kind == LANE_SORTED) chunks_free_from(l, first_chunk(l) << LANE_SHIFT);
    l->lo = l->hi = l->cap = 0;
    memset(l->fetched, 0, sizeof l->fetched);
}

void timers_lane_release(lane *l) {
    lane_empty(l);
    mem_free(l->v);
    mem_free(l->dir);
    l->v = NULL;
    l->dir = NULL;
    l->ndir = 0;
}

/* ---- the TTL lane: a binary heap of entries ------------------------------------ */

static void ent_sift_down(timer_ent *v, size_t n, size_t i) {
    /* Bottom-up (Floyd): down to a leaf by the earlier child, one
     * comparison a level, then x back up from there; x, the lane's last
     * entry after a pop, belongs near the leaves. */
    timer_ent x = v[i];
    size_t top = i, c;
    while ((c = 2 * i + 1) + 1 < n) {
        if (v[c + 1].deadline < v[c].deadline) c++;
        v[i] = v[c];
        i = c;
    }
    if (c < n) {
        v[i] = v[c];
        i = c;
    }
    while (i > top && v[(i - 1) / 2].deadline > x.deadline) {
        v[i] = v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    v[i] = x;
}

static void heap_put(lane *l, timer_ent t) {
    size_t i = l->hi++;
    while (i > 0 && l->v[(i - 1) / 2].deadline > t.deadline) {
        l->v[i] = l->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    l->v[i] = t;
}

/* Entries of one window length arrive nearly in deadline order: insertion
 * from the tail is O(1) but for stragglers and the like. */
static void sorted_put(lane *l, timer_ent t) {
    size_t j = l->hi;
    for (; j > l->lo && AT(l, j - 1).deadline > t.deadline; j--) AT(l, j) = AT(l, j - 1);
    AT(l, j) = t;
    l->hi++;
}

static timer_ent lane_pop(lane *l) {
    if (l->kind == LANE_SORTED) {
        timer_ent t = AT(l, l->lo);
        l->lo++;
        if (!(l->lo & (LANE_CHUNK - 1))) chunk_free(l, (l->lo >> LANE_SHIFT) - 1); /* it left a chunk */
        return t;
    }
    timer_ent t = l->v[0];
    l->v[0] = l->v[--l->hi];
    if (l->hi) ent_sift_down(l->v, l->hi, 0);
    return t;
}

/* The keys of a sorted lane's next entries fire a window after they were
 * made, out of cache, ~5 an event in a rule set (W8): what expire_lone
 * will read is fetched a few events ahead, in three stages a few entries
 * apart, each reading only what the stage before fetched: the key state
 * (its header, key and first partial match: three lines), then its key
 * entry and the partial match's node, then the entry's slot for the key
 * and a pooled node's event. Each entry goes through each stage once
 * (lane.fetched). */
#define FETCH_GAP 8

/* Positions [*from, *to) of stage (0: farthest) still to fetch; 0: none. */
static int fetch_range(lane *l, int stage, size_t *from, size_t *to) {
    size_t f = l->lo + (size_t)(2 - stage) * FETCH_GAP, t = f + FETCH_GAP;
    if (l->fetched[stage] > f) f = l->fetched[stage];
    if (t > l->hi) t = l->hi;
    if (f >= t) return 0;
    l->fetched[stage] = t;
    *from = f;
    *to = t;
    return 1;
}

/* The node of ks's first partial match, when it keeps one bucket. */
static const pm_node *fetch_node(const key_state *ks) {
    return ks->nb && ks->bcap_log <= 1 && ks->inl_b.lo < ks->inl_b.hi ? ks->inl_b.v[ks->inl_b.lo].node : NULL;
}

/* The entry after t, at position i + 1 (in t's chunk unless it starts
 * one), or NULL past end. */
static inline const timer_ent *entry_next(const lane *l, const timer_ent *t, size_t i, size_t end) {
    if (i + 1 >= end) return NULL;
    return (i + 1) & (LANE_CHUNK - 1) ? t + 1 : lane_at(l, i + 1);
}

static void prefetch_next(const cep_engine *e, lane *l) {
    size_t i, to;
    const timer_ent *t;
    if (fetch_range(l, 2, &i, &to))
        for (t = &AT(l, i); t; t = entry_next(l, t, i, to), i++) {
            const key_state *ks = t->ks;
            const key_entry *ent = ks->ent;
            const pm_node *n = fetch_node(ks);
            if (ent) { /* (and the next line: ent_del shifts the slots after the key's) */
                uint32_t h = entry_home(ent->mask, key_pattern(ks));
                __builtin_prefetch(&ent->tab[h]);
                __builtin_prefetch(&ent->tab[(h + 4) & ent->mask]);
            }
            if (n) __builtin_prefetch(node_ev(n)); /* (its count, dropped with the node) */
        }
    if (fetch_range(l, 1, &i, &to))
        for (t = &AT(l, i); t; t = entry_next(l, t, i, to), i++) {
            const key_state *ks = t->ks;
            const pm_node *n = fetch_node(ks);
            if (ks->ent) __builtin_prefetch(ks->ent);
            if (n) __builtin_prefetch(n);
            __builtin_prefetch(&e->fresh[key_pattern(ks)]);
        }
    if (fetch_range(l, 0, &i, &to))
        for (t = &AT(l, i); t; t = entry_next(l, t, i, to), i++) {
            const char *k = (const char *)t->ks;
            __builtin_prefetch(k);
            __builtin_prefetch(k + 64);
            __builtin_prefetch(k + 128);
        }
}

/* Does entry t of lane li still stand for a partial match: one of its
 * key's partial matches whose window ends at t.deadline in that lane? */
static int entry_live(const cep_engine *e, uint32_t li, const timer_ent *t) {
    const key_state *ks = t->ks;
    const pat_rt *rt = &e->rt[key_pattern(ks)];
    const nfa_pattern *pat = &e->prog->patterns[key_pattern(ks)];
    /* One entry per key stands for all its windows (it is re-armed when it fires). */
    if (timers_per_key(e, rt)) return ks->npms > 0;
    if (key_tecs(ks)) return li == rt->within_lane && tecs_has_start(ks, t->deadline - rt->within_ms);
    for (uint32_t i = 0; i < ks->nb; i++) {
        const bucket *b = &key_buckets(ks)[i];
        int gap = rt->gap_lane[b->state] == li;
        if (!gap && li != rt->within_lane) continue;
        for (uint32_t j = b->lo; j < b->hi; j++) {
            const pm *p = &b->v[j];
            if (li == rt->within_lane && p->start == t->deadline - rt->within_ms) return 1;
            if (gap && node_ev(p->node)->time == t->deadline - pat->states[b->state].gap_ms) return 1;
        }
    }
    return 0;
}

/* Entries outlive what they were for (a partial match that matched or was
 * pruned), until their deadline. So that they cannot pile up beyond the
 * state itself (a high rate under a long window), a full sorted lane that
 * holds more than twice as many entries as there are partial matches
 * drops those that stand for nothing, before it grows: O(1) per entry,
 * amortised, and a lane never holds much more than the live state. */
static void lane_compact(cep_engine *e, uint32_t li) {
    lane *l = &e->timers.lanes[li];
    size_t k = l->lo;
    for (size_t i = l->lo; i < l->hi; i++) {
        timer_ent t = AT(l, i);
        if (entry_live(e, li, &t)) {
            AT(l, k) = t;
            k++;
        } else if (--t.ks->timers == 0) {
            /* Its last entry anywhere (timers counts them all, so no
             * later one names it): a key that holds nothing goes. */
            engine_key_settle(e, t.ks);
        }
    }
    l->hi = k;
    memset(l->fetched, 0, sizeof l->fetched); /* (entries moved) */
    /* Give back what a burst made it grow to: the chunks after the last entry. */
    chunks_free_from(l, (l->hi + LANE_CHUNK - 1) & ~(LANE_CHUNK - 1));
}

void timers_compact(cep_engine *e) {
    e->timers.compact_due = 0;
    for (uint32_t i = 0; i < e->timers.nlanes; i++) {
        lane *l = &e->timers.lanes[i];
        if (l->kind != LANE_SORTED || l->hi - l->lo <= 2 * (e->stats.partial_matches + 64)) continue;
        lane_compact(e, i);
        lane_moved_head(e, l);
    }
    e->timers.next_due = next_due(e);
}

int timers_add(cep_engine *e, uint32_t li, int64_t deadline, key_state *ks) {
    lane *l = &e->timers.lanes[li];
    /* Full and oversized: compacted once the event is through (keys may
     * be freed then, which they must not be in the middle of a step). */
    if (l->kind == LANE_SORTED && l->hi == l->cap && l->hi - l->lo > 2 * (e->stats.partial_matches + 64))
        e->timers.compact_due = 1;
    if (l->kind == LANE_SORTED && l->lo < l->hi && l->hi < l->cap && AT(l, l->hi - 1).deadline <= deadline) {
        /* The common case: a later deadline than all, and room for it. */
        AT(l, l->hi) = (timer_ent){deadline, ks};
        l->hi++;
        ks->timers++;
        return 0;
    }
    if (timers_lane_reserve(l, 1) < 0) return -1;
    int64_t before = lane_head(l);
    timer_ent t = {deadline, ks};
    if (l->kind == LANE_SORTED) sorted_put(l, t);
    else heap_put(l, t);
    ks->timers++;
    if (deadline < before) {
        lane_moved_head(e, l);
        if (deadline < e->timers.next_due) e->timers.next_due = deadline;
    }
    return 0;
}


/* Room for one more due entry past n; 0, or -1 (then e->oom). */
static int due_room(cep_engine *e, size_t n) {
    if (n < e->timers.due_cap) return 0;
    if (mem_grow((void **)&e->timers.due, &e->timers.due_cap, n + 1, sizeof *e->timers.due) == 0) return 0;
    e->oom = 1;
    return -1;
}

/* Lane l's entries due at d onto the due list past *n; 0, or -1 out of
 * memory (the rest stays due: taken on the next round). A sorted lane's
 * are walked in their chunk (most deadlines take a few entries, all in
 * one), then what the next ones will read is fetched. */
static int take_lane(cep_engine *e, lane *l, int64_t d, size_t *n) {
    if (l->kind == LANE_SORTED) {
        const timer_ent *p = &AT(l, l->lo);
        do {
            if (due_room(e, *n) < 0) return -1;
            e->timers.due[(*n)++] = *p;
            if (!(++l->lo & (LANE_CHUNK - 1))) { /* it left a chunk */
                chunk_free(l, (l->lo >> LANE_SHIFT) - 1);
                if (l->lo == l->hi) break;
                p = &AT(l, l->lo);
            } else {
                p++;
            }
        } while (l->lo < l->hi && p->deadline == d);
        prefetch_next(e, l);
        return 0;
    }
    const lane *ttl = &e->timers.lanes[e->timers.nlanes - 1];
    do {
        if (due_room(e, *n) < 0) return -1;
        timer_ent t = lane_pop(l);
        if (l == ttl) t.ks->ttl_armed = 0;
        e->timers.due[(*n)++] = t;
    } while (lane_head(l) == d);
    return 0;
}

/* timers_take over few lanes (no heap): each lane's entries due at d, and
 * the next deadline, in one pass. (Their order does not matter: fire_due
 * sorts them by key.) */
static size_t take_few(cep_engine *e, int64_t d) {
    uint32_t nl = e->cfg.state_ttl > 0 ? e->timers.nlanes : e->timers.nlanes - 1; /* (as first_lane) */
    size_t n = 0;
    int64_t next = INT64_MAX;
    for (uint32_t i = 0; i < nl; i++) {
        lane *l = &e->timers.lanes[i];
        int64_t h = lane_head(l);
        if (h == d) {
            if (take_lane(e, l, d, &n) < 0) {
                e->timers.next_due = next_due(e);
                return n;
            }
            h = lane_head(l);
        }
        if (h < next) next = h;
    }
    e->timers.next_due = next;
    return n;
}

size_t timers_take(cep_engine *e, int64_t d) {
    if (e->timers.nlanes && e->timers.nlanes <= FEW_LANES) return take_few(e, d);
    size_t n = 0;
    for (;;) {
        lane *l = first_lane(e);
        if (!l || lane_head(l) != d) break;
        int rc = take_lane(e, l, d, &n);
        lane_moved_head(e, l);
        if (rc < 0) break;
    }
    e->timers.next_due = next_due(e);
    return n;
}

/* ---- arming ----------------------------------------------------------------------- */

static int add_entry(cep_engine *e, uint32_t li, int64_t d, key_state *ks, int raw) {
    if (!raw) return timers_add(e, li, d, ks);
    lane *l = &e->timers.lanes[li]; /* rebuilding: append now, sort at the end */
    if (timers_lane_reserve(l, 1) < 0) return -1;
    if (l->kind == LANE_SORTED) AT(l, l->hi) = (timer_ent){d, ks};
    else l->v[l->hi] = (timer_ent){d, ks};
    l->hi++;
    ks->timers++;
    return 0;
}

static int arm_pm(cep_engine *e, key_state *ks, const pm *p, int new_family, int raw) {
    const pat_rt *rt = &e->rt[key_pattern(ks)];
    /* A window ending at INT64_MAX or past it never closes: no entry. */
    if (new_family && rt->within_lane != NO_LANE && p->start < INT64_MAX - rt->within_ms &&
        add_entry(e, rt->within_lane, p->start + rt->within_ms, ks, raw) < 0)
        return -1;
    uint32_t gl = rt->gap_lane[p->state];
    if (gl != NO_LANE) {
        int64_t gap = e->prog->patterns[key_pattern(ks)].states[p->state].gap_ms, t = node_ev(p->node)->time;
        if (t < INT64_MAX - gap && add_entry(e, gl, t + gap, ks, raw) < 0) return -1;
    }
    return 0;
}

int timers_arm_pm_slow(cep_engine *e, key_state *ks, const pm *p, int new_family) {
    return arm_pm(e, ks, p, new_family, 0);
}

static int arm_ttl(cep_engine *e, key_state *ks, int raw) {
    if (e->cfg.state_ttl <= 0 || ks->ttl_armed || !(ks->npms || ks->held)) return 0;
    if (ks->last_event > INT64_MAX - e->cfg.state_ttl) return 0; /* never idle long enough */
    if (add_entry(e, e->timers.nlanes - 1, ks->last_event + e->cfg.state_ttl, ks, raw) < 0) return -1;
    ks->ttl_armed = 1;
    return 0;
}

void timers_arm_ttl(cep_engine *e, key_state *ks) {
    if (arm_ttl(e, ks, 0) < 0) e->oom = 1;
}

/* The end of ks's first `within` window (INT64_MAX: none that closes), for
 * a pattern without gaps: its buckets are each in start order. */
static int64_t first_window_end(const cep_engine *e, const key_state *ks) {
    const pat_rt *rt = &e->rt[key_pattern(ks)];
    if (key_tecs(ks)) return tecs_first_deadline(e, ks);
    int64_t s = INT64_MAX;
    const bucket *bv = key_buckets(ks);
    for (uint32_t i = 0; i < ks->nb; i++)
        if (bv[i].lo < bv[i].hi && bv[i].v[bv[i].lo].start < s) s = bv[i].v[bv[i].lo].start;
    return s < INT64_MAX - rt->within_ms ? s + rt->within_ms : INT64_MAX;
}

void timers_rearm(cep_engine *e, key_state *ks, int64_t d) {
    if (!ks->npms || !timers_per_key(e, &e->rt[key_pattern(ks)])) return;
    int64_t next = first_window_end(e, ks);
    /* (Whatever ended by d has expired: next is later, or never.) */
    if (next == INT64_MAX || next <= d) return;
    if (timers_add(e, e->timers.nlanes - 2, next, ks) < 0) {
        /* Its windows could never close: dropped, as a partial match
         * whose entry cannot be armed is (step.c). */
        e->oom = 1;
        key_drop_pms(e, ks);
        emit_release_held(e, key_pattern(ks), ks);
    }
}

/* ---- lanes of a program ---------------------------------------------------------- */

/* What engine_lanes_build makes for a program, committed in one step. */
typedef struct lane_set {
    pat_rt *rt;
    pat_hot *hot;           /* in rt's block */
    pat_fresh *fresh;       /* in rt's block */
    uint32_t nrt;
    lane *lanes;
    uint32_t nlanes;
    heap lane_heap;
    gcache *gcache;
    uint32_t ngroups;
    uint32_t keyed_group;
} lane_set;

static void set_free(lane_set *ls) {
    for (uint32_t i = 0; ls->lanes && i < ls->nlanes; i++) timers_lane_release(&ls->lanes[i]);
    mem_free(ls->lanes);
    heap_free(&ls->lane_heap);
    mem_free(ls->rt); /* with every pattern's per-state arrays */
    mem_free(ls->gcache);
    memset(ls, 0, sizeof *ls);
}

static uint32_t bits_for(uint64_t n) {
    uint32_t w = 0;
    while (w < 64 && ((uint64_t)1 << w) < n) w++;
    return w;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The lane of windows of length d: its place among the distinct lengths. */
static uint32_t lane_of(const int64_t *len, uint32_t n, int64_t d) {
    uint32_t lo = 0, hi = n;
    while (lo + 1 < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (len[mid] <= d) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* The route's keyed patterns (visit.c): each one's keyed_every, and
 * the key group they all share (NO_GROUP when some is alone or they
 * differ: each is then looked up on its own). */
static void keyed_build(const cep_program *p, lane_set *ls) {
    const nfa_route *r = p->route;
    ls->keyed_group = NO_GROUP;
    for (uint32_t i = 0; r && i < r->nkeyed; i++) {
        pat_rt *rt = &ls->rt[r->keyed[i]];
        rt->keyed_every = r->keyed_every[i];
        if (!i) ls->keyed_group = rt->kgroup;
        else if (rt->kgroup != ls->keyed_group) ls->keyed_group = NO_GROUP;
    }
}

/* Pattern pat's pat_fresh, from its rt (made but for nothing it reads). */
static void fresh_build(const nfa_pattern *pat, const pat_rt *rt, pat_fresh *f) {
    *f = (pat_fresh){.within_ms = rt->within_ms, .keyed_every = rt->keyed_every, .within_lane = rt->within_lane,
                     .grouped = rt->kgroup != NO_GROUP, .has_gaps = rt->has_gaps, .has_pending = rt->has_pending};
    if (!rt->fresh_start || !pat->nstates) return;
    const nfa_state *st = &pat->states[pat->start];
    if (st->target > UINT16_MAX || st->step > UINT16_MAX) return;
    f->target = (uint16_t)st->target;
    f->step = (uint16_t)st->step;
    f->plain = !st->rest && !pat->states[st->target].hint;
}

/* Lanes for program p: one per window length, shared by every pattern
 * and by `within` and gap windows alike (entries of one length are pushed
 * in the order of the events that arm them, whoever arms them, so a
 * lane stays sorted; with a thousand patterns there are a few lanes, not
 * a thousand to keep in a heap); the TTL lane last. Also sizes the
 * engine's per-state scratch. */
static int set_build(cep_engine *e, const cep_program *p, lane_set *ls) {
    memset(ls, 0, sizeof *ls);
    /* The patterns' per-state arrays in the same block (thousands of
     * rules: two small blocks a rule would cost more than their data). */
    size_t nst = 0;
    for (uint32_t i = 0; i < p->npatterns; i++) nst += p->patterns[i].nstates;
    size_t np = p->npatterns ? p->npatterns : 1;
    ls->rt = mem_calloc(1, np * (sizeof *ls->rt + sizeof *ls->hot + sizeof *ls->fresh) + 2 * nst * sizeof(uint32_t));
    if (!ls->rt) return -1;
    ls->hot = (pat_hot *)(ls->rt + np);
    ls->fresh = (pat_fresh *)(ls->hot + np);
    uint32_t *per_state = (uint32_t *)(ls->fresh + np);
    ls->nrt = p->npatterns;
    uint32_t n = 0, maxstates = 1;
    size_t nlen = 0;
    for (uint32_t i = 0; i < p->npatterns; i++) {
        nlen += p->patterns[i].has_within;
        for (uint32_t st = 0; st < p->patterns[i].nstates; st++) nlen += p->patterns[i].states[st].gap_ms > 0;
    }
    int64_t *len = mem_alloc((nlen ? nlen : 1) * sizeof *len);
    if (!len) goto oom;
    nlen = 0;
    for (uint32_t i = 0; i < p->npatterns; i++) {
        if (p->patterns[i].has_within) len[nlen++] = p->patterns[i].within_ms;
        for (uint32_t st = 0; st < p->patterns[i].nstates; st++)
            if (p->patterns[i].states[st].gap_ms > 0) len[nlen++] = p->patterns[i].states[st].gap_ms;
    }
    qsort(len, nlen, sizeof *len, cmp_i64);
    for (size_t i = 0; i < nlen; i++)
        if (!n || len[n - 1] != len[i]) len[n++] = len[i];
    for (uint32_t i = 0; i < p->npatterns; i++) {
        const nfa_pattern *pat = &p->patterns[i];
        pat_rt *rt = &ls->rt[i];
        rt->gap_lane = per_state;
        rt->outs = per_state + pat->nstates;
        per_state += 2 * (size_t)pat->nstates;
        size_t work = 0;
        for (uint32_t st = 0; st < pat->nstates; st++) rt->outs[st] = budget_state_outputs(pat, st, &work);
        rt->within_lane = pat->has_within ? lane_of(len, n, pat->within_ms) : NO_LANE;
        rt->within_ms = pat->within_ms;
        for (uint32_t st = 0; st < pat->nstates; st++) {
            int64_t g = pat->states[st].gap_ms;
            rt->gap_lane[st] = g > 0 ? lane_of(len, n, g) : NO_LANE;
            if (g > 0) rt->has_gaps = 1;
            if (pat->states[st].kind == ST_PENDING) rt->has_pending = 1;
        }
        const nfa_state *sst = pat->nstates ? &pat->states[pat->start] : NULL;
        if (sst && pat->start < 64 && sst->gate && (sst->shape == SHAPE_FOLLOW || sst->shape == SHAPE_NEXT))
            rt->start_bit = (uint64_t)1 << pat->start;
        rt->maxw = bits_for(pat->max_outputs);
        rt->skippable = pat->skippable;
        rt->undispatched = pat->undispatched;
        rt->fresh_start = sst && (sst->shape == SHAPE_FOLLOW || sst->shape == SHAPE_NEXT || sst->shape == SHAPE_ANY) &&
                          pat->states[sst->target].kind != ST_FINAL;
        if (pat->nstates > maxstates) maxstates = pat->nstates;
    }
    mem_free(len);
    len = NULL;
    ls->ngroups = key_groups_build(p, ls->rt);
    if (ls->ngroups == UINT32_MAX || !(ls->gcache = mem_calloc(ls->ngroups ? ls->ngroups : 1, sizeof *ls->gcache)))
        goto oom;
    for (uint32_t i = 0; i < p->npatterns; i++) {
        const pat_rt *rt = &ls->rt[i];
        ls->hot[i] = (pat_hot){rt->kgroup, rt->start_bit ? (uint8_t)p->patterns[i].start : 64,
                               rt->skippable && p->patterns[i].nstates <= 64,
                               rt->kgroup != NO_GROUP && rt->start_bit && rt->fresh_start && !p->patterns[i].compact,
                               0};
    }
    keyed_build(p, ls);
    for (uint32_t i = 0; i < p->npatterns; i++) fresh_build(&p->patterns[i], &ls->rt[i], &ls->fresh[i]);
    ls->nlanes = n + 2; /* then the re-arm lane and the TTL lane */
    ls->lanes = mem_calloc(ls->nlanes, sizeof *ls->lanes);
    if (!ls->lanes) goto oom;
    ls->lanes[n].kind = LANE_HEAP;
    ls->lanes[n + 1].kind = LANE_HEAP;
    ls->lane_heap.less = lane_less;
    ls->lane_heap.moved = lane_moved;
    for (uint32_t i = 0; i < ls->nlanes; i++)
        if (heap_push(&ls->lane_heap, &ls->lanes[i]) < 0) goto oom;
    if (maxstates > e->scratch.gate_cap) {
        uint8_t *g = mem_realloc(e->scratch.gate, maxstates);
        if (g) e->scratch.gate = g;
        uint32_t *at = mem_calloc(maxstates, sizeof *at);
        if (!g || !at) {
            mem_free(at);
            goto oom;
        }
        mem_free(e->scratch.gate_at);
        e->scratch.gate_at = at;
        e->scratch.gate_cap = maxstates;
        e->scratch.stamp = 0;
    }
    if (mem_grow((void **)&e->timers.due, &e->timers.due_cap, 64, sizeof *e->timers.due) < 0) goto oom;
    return 0;
oom:
    mem_free(len);
    set_free(ls);
    return -1;
}

static void set_take(cep_engine *e, lane_set *ls) {
    e->rt = ls->rt;
    e->hot = ls->hot;
    e->fresh = ls->fresh;
    e->nrt = ls->nrt;
    e->timers.lanes = ls->lanes;
    e->timers.nlanes = ls->nlanes;
    e->timers.lane_heap = ls->lane_heap;
    e->keyset.gcache = ls->gcache;
    e->keyset.ngroups = ls->ngroups;
    e->keyset.keyed_group = ls->keyed_group;
    e->timers.next_due = next_due(e);
}

static lane_set set_of(cep_engine *e) {
    return (lane_set){e->rt, e->hot, e->fresh, e->nrt, e->timers.lanes, e->timers.nlanes, e->timers.lane_heap, e->keyset.gcache,
                      e->keyset.ngroups, e->keyset.keyed_group};
}

int engine_lanes_init(cep_engine *e) {
    lane_set ls;
    if (set_build(e, e->prog, &ls) < 0) return -1;
    set_take(e, &ls);
    return 0;
}

void engine_lanes_free(cep_engine *e) {
    lane_set ls = set_of(e);
    set_free(&ls);
    set_take(e, &ls);
}

int engine_lanes_switch(cep_engine *e, const cep_program *np) {
    lane_set ls;
    if (set_build(e, np, &ls) < 0) return -1;
    engine_lanes_free(e);
    set_take(e, &ls);
    return 0;
}

/* ---- starting over ------------------------------------------------------------------ */

/* Held only by entries: gone with them. */
static void clear_key(cep_engine *e, key_state *ks) {
    ks->timers = 0;
    ks->ttl_armed = 0;
    if (!ks->npms && !ks->held) engine_key_free(e, ks);
}

void timers_clear(cep_engine *e) {
    for (uint32_t i = 0; i < e->timers.nlanes; i++) lane_empty(&e->timers.lanes[i]);
    e->timers.next_due = INT64_MAX;
    engine_keys_each(e, clear_key);
}

/* Sort sorted lane l's entries by deadline, in place (heapsort: its
 * chunks are no array for qsort, and sorting must not allocate). */
static void lane_sort(lane *l) {
    size_t n = l->hi - l->lo, base = l->lo;
    if (n < 2) return;
    for (size_t end = n, start = n / 2;;) {
        size_t root;
        if (start > 0) root = --start; /* heapify, then pop the largest to the end */
        else if (--end > 0) {
            timer_ent t = AT(l, base);
            AT(l, base) = AT(l, base + end);
            AT(l, base + end) = t;
            root = 0;
        } else break;
        timer_ent x = AT(l, base + root);
        for (size_t c; (c = 2 * root + 1) < end; root = c) {
            if (c + 1 < end && AT(l, base + c + 1).deadline > AT(l, base + c).deadline) c++;
            if (AT(l, base + c).deadline <= x.deadline) break;
            AT(l, base + root) = AT(l, base + c);
        }
        AT(l, base + root) = x;
    }
}

int timers_rebuild(cep_engine *e) {
    timers_clear(e);
    /* Room first, each lane's whole count, so that arming cannot fail
     * half-way (the cleared lanes hold nothing: reserving n is room for n). */
    size_t *need = mem_calloc(e->timers.nlanes ? e->timers.nlanes : 1, sizeof *need);
    if (!need) return -1;
    for (key_state *ks = e->keyset.first; ks; ks = ks->next) {
        const pat_rt *rt = &e->rt[key_pattern(ks)];
        for (uint32_t i = 0; i < ks->nb; i++) {
            const bucket *b = &key_buckets(ks)[i];
            size_t n = b->hi - b->lo;
            uint32_t gl = rt->gap_lane[b->state];
            if (rt->within_lane != NO_LANE) need[rt->within_lane] += timers_per_key(e, rt) ? 1 : n;
            if (gl != NO_LANE) need[gl] += n;
            for (uint32_t j = b->lo; j < b->hi; j++) /* (see engine_timers.front) */
                if (b->v[j].start > e->timers.front) e->timers.front = b->v[j].start;
        }
        if (e->cfg.state_ttl > 0) need[e->timers.nlanes - 1]++;
    }
    int rc = 0;
    for (uint32_t i = 0; i < e->timers.nlanes && rc == 0; i++)
        if (need[i] && timers_lane_reserve(&e->timers.lanes[i], need[i]) < 0) rc = -1;
    mem_free(need);
    if (rc < 0) return -1;
    for (key_state *ks = e->keyset.first; ks; ks = ks->next) {
        const pat_rt *rt = &e->rt[key_pattern(ks)];
        bucket *bv = key_buckets(ks);
        int per_key = timers_per_key(e, rt);
        for (uint32_t i = 0; i < ks->nb; i++)
            for (uint32_t j = bv[i].lo; j < bv[i].hi; j++)
                if (arm_pm(e, ks, &bv[i].v[j], !per_key, 1) < 0) return -1;
        int64_t first = per_key && ks->nb ? first_window_end(e, ks) : INT64_MAX;
        if (first != INT64_MAX && add_entry(e, rt->within_lane, first, ks, 1) < 0) return -1;
        if (arm_ttl(e, ks, 1) < 0) return -1;
    }
    for (uint32_t i = 0; i < e->timers.nlanes; i++) {
        lane *l = &e->timers.lanes[i];
        if (l->kind == LANE_SORTED) {
            lane_sort(l);
        } else {
            for (size_t k = l->hi / 2; k-- > 0;) ent_sift_down(l->v, l->hi, k);
        }
    }
    /* Every lane changed: the heap of lanes is made again (its array
     * already has room for all of them). */
    e->timers.lane_heap.n = 0;
    for (uint32_t i = 0; i < e->timers.nlanes; i++) heap_push(&e->timers.lane_heap, &e->timers.lanes[i]);
    e->timers.next_due = next_due(e);
    return 0;
}
