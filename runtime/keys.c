/* keys.c — key states and their buckets: the partial matches of one key
 * of one pattern, grouped by the NFA state they wait in, each group in
 * Flink's order (engine.h: pm_less). An event then visits only the states
 * whose gate it passes; the rest of the key's partial matches stay where
 * they are, untouched. */
#include "config.h"
#include "engine.h"
#include "tecs.h"
#include "hash.h"
#include "mem.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- key groups: one lookup of a key for every pattern keyed alike ---------- */

static uint32_t ent_home(const key_entry *ent, uint32_t pi) { return (pi * 0x9E3779B1u) >> 16 & ent->mask; }

static void ent_put(key_entry *ent, uint32_t pi, uint32_t due, key_state *ks) {
    uint32_t i = ent_home(ent, pi);
    while (ent->tab[i].ks) i = (i + 1) & ent->mask;
    ent->tab[i] = (kref){pi, due, ks};
}

/* ent can take one more key state (load at most 3/4). */
static int ent_has_room(const key_entry *ent) { return (ent->n + 1) * 4 <= (ent->mask + 1) * 3; }

/* Room for one more key state in ent; 0 or -1. */
static int ent_reserve(cep_engine *e, key_entry *ent) {
    if (ent_has_room(ent)) return 0;
    uint32_t ocap = ent->mask + 1, ncap = 2 * ocap;
    kref *old = ent->tab, *nt = slab_alloc(&e->store.mem, (size_t)ncap * sizeof *nt);
    if (!nt) return -1;
    memset(nt, 0, (size_t)ncap * sizeof *nt);
    ent->tab = nt;
    ent->mask = ncap - 1;
    for (uint32_t i = 0; i < ocap; i++)
        if (old[i].ks) ent_put(ent, old[i].pattern, old[i].due, old[i].ks);
    if (old != ent->inl) slab_free(&e->store.mem, old, (size_t)ocap * sizeof *old);
    return 0;
}

static void ent_free(cep_engine *e, key_entry *ent) {
    entmap_remove(&e->keyset.groups, ent);
    ahead_key *ak = e->scratch.ahead; /* (push_many's rows must not find it) */
    if (ak)
        for (int i = 0; i < AHEAD_RING; i++)
            if (ak[i].ent == ent) ak[i].ent = NULL;
    if (e->scratch.ahead_ent == ent) e->scratch.ahead_ent = NULL;
    /* The event under way must not find it (a reload leaves old entries
     * with another program's group numbers: the pointer decides). */
    if (ent->group < e->keyset.ngroups && e->keyset.gcache[ent->group].ent == ent) e->keyset.gcache[ent->group].ent = NULL;
    if (ent->tab != ent->inl) slab_free(&e->store.mem, ent->tab, (size_t)(ent->mask + 1) * sizeof *ent->tab);
    slab_free(&e->store.mem, ent, sizeof *ent + ent->key_len);
}

/* Take ks out of its entry (backward shift); the last one frees it. */
static void ent_del(cep_engine *e, key_state *ks) {
    key_entry *ent = ks->ent;
    ks->ent = NULL;
    uint32_t i = ent_home(ent, key_pattern(ks));
    while (ent->tab[i].ks != ks) i = (i + 1) & ent->mask;
    uint32_t hole = i;
    ent->ndue -= ent->tab[i].due;
    for (uint32_t j = (i + 1) & ent->mask; ent->tab[j].ks; j = (j + 1) & ent->mask) {
        uint32_t h = ent_home(ent, ent->tab[j].pattern);
        int stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
        if (!stays) {
            ent->tab[hole] = ent->tab[j];
            hole = j;
        }
    }
    ent->tab[hole] = (kref){0, 0, NULL};
    if (--ent->n == 0) ent_free(e, ent);
}

/* The group key of ks (its key with the group's first pattern in front):
 * written over ks->key's prefix for the time of fn, then put back. */
static uint64_t group_hash(const cep_engine *e, key_state *ks) {
    uint32_t gp = e->rt[key_pattern(ks)].kgroup_pat, own;
    memcpy(&own, ks->key, 4);
    memcpy(ks->key, &gp, 4);
    uint64_t h = hash_bytes(ks->key, ks->key_len, e->keyset.groups.seed);
    memcpy(ks->key, &own, 4);
    return h;
}

static key_entry *group_find(cep_engine *e, key_state *ks, uint64_t h) {
    uint32_t gp = e->rt[key_pattern(ks)].kgroup_pat, own;
    memcpy(&own, ks->key, 4);
    memcpy(ks->key, &gp, 4);
    key_entry *ent = entmap_find(&e->keyset.groups, h, ks->key, ks->key_len);
    memcpy(ks->key, &own, 4);
    return ent;
}

/* Into its group's entry for its key, made when there is none; gc (may
 * be NULL) is the group's cache for the event under way, whose key ks
 * has. 0 or -1. */
/* ks into ent (which has room), due or not. */
static void ent_link(key_entry *ent, key_state *ks, uint32_t due) {
    ent_put(ent, key_pattern(ks), due, ks);
    ent->n++;
    ent->ndue += due;
    ks->ent = ent;
}

static int group_attach(cep_engine *e, key_state *ks, gcache *gc) {
    const pat_rt *rt = &e->rt[key_pattern(ks)];
    uint64_t h = gc ? gc->hash : group_hash(e, ks);
    key_entry *ent = gc ? gc->ent : group_find(e, ks, h);
    if (!ent) {
        ent = slab_alloc(&e->store.mem, sizeof *ent + ks->key_len);
        if (!ent) return -1;
        memset(ent, 0, sizeof *ent);
        ent->hash = h;
        ent->key_len = ks->key_len;
        ent->group = rt->kgroup;
        ent->tab = ent->inl;
        ent->mask = KE_INLINE - 1;
        memcpy(ent->key, &rt->kgroup_pat, 4);
        memcpy(ent->key + 4, ks->key + 4, ks->key_len - 4);
        if (entmap_insert(&e->keyset.groups, ent) < 0) {
            slab_free(&e->store.mem, ent, sizeof *ent + ent->key_len);
            return -1;
        }
        if (gc) gc->ent = ent; /* the event's next patterns find it */
    } else if (ent_reserve(e, ent) < 0) {
        return -1;
    }
    /* (after a program change, ks comes with its partial matches) */
    ent_link(ent, ks, rt->keyed_every && key_waits_in(ks, rt->keyed_every));
    return 0;
}

int key_waits_in(const key_state *ks, uint64_t states) {
    if (states == ~(uint64_t)0 || ks->compact) return ks->nb || ks->compact;
    const bucket *bv = key_buckets(ks);
    for (uint32_t i = 0; i < ks->nb; i++)
        if (bv[i].state >= 64 || (states >> bv[i].state & 1)) return 1;
    return 0;
}

/* A bucket of ks in state s was made: due in its kref when s is one of
 * its pattern's keyed_every. */
static void mark_due(cep_engine *e, key_state *ks, uint32_t s) {
    key_entry *ent = ks->ent;
    uint64_t every = e->rt[key_pattern(ks)].keyed_every;
    if (!ent || !every || (s < 64 && !(every >> s & 1))) return;
    uint32_t i = ent_home(ent, key_pattern(ks));
    while (ent->tab[i].ks != ks) i = (i + 1) & ent->mask;
    if (!ent->tab[i].due) {
        ent->tab[i].due = 1;
        ent->ndue++;
    }
}

int engine_key_map(cep_engine *e, key_state *ks) {
    int rc;
    if (e->rt[key_pattern(ks)].kgroup != NO_GROUP) {
        rc = group_attach(e, ks, NULL);
    } else {
        rc = keymap_insert(&e->keyset.keys, ks, hash_bytes(ks->key, ks->key_len, e->keyset.keys.seed));
    }
    ks->unmapped = rc < 0;
    return rc;
}

void engine_key_unmap(cep_engine *e, key_state *ks) {
    if (ks->unmapped) return;
    if (ks->ent) ent_del(e, ks);
    else keymap_remove(&e->keyset.keys, ks);
    ks->unmapped = 1;
}

key_state *engine_key_find(cep_engine *e, uint32_t pattern, const char *key, uint32_t len) {
    const pat_rt *rt = &e->rt[pattern];
    if (rt->kgroup == NO_GROUP) return keymap_find(&e->keyset.keys, hash_bytes(key, len, e->keyset.keys.seed), key, len);
    if (len < 4) return NULL;
    char buf[256], *k = len <= sizeof buf ? buf : mem_alloc(len);
    if (!k) return NULL;
    memcpy(k, &rt->kgroup_pat, 4);
    memcpy(k + 4, key + 4, len - 4);
    key_entry *ent = entmap_find(&e->keyset.groups, hash_bytes(k, len, e->keyset.groups.seed), k, len);
    if (k != buf) mem_free(k);
    return ent ? entry_get(ent, pattern) : NULL;
}

/* Where a key state with room (key_state.room) keeps its partial match:
 * after the key, aligned. */
static size_t room_off(uint32_t len) { return (sizeof(key_state) + len + 7) & ~(size_t)7; }
static pm *key_room(key_state *ks) { return (pm *)((char *)ks + room_off(ks->key_len)); }
static size_t key_bytes(const key_state *ks) {
    return ks->room ? room_off(ks->key_len) + sizeof(pm) : sizeof *ks + ks->key_len;
}

/* Most keys of a grouped pattern are made with their first partial match
 * and freed a window later with their last, five times an event in a
 * rule set (W8), all of a size (the group's key): up to this many freed
 * blocks are kept, and the next key of that size takes the one freed
 * last, whose lines are likely still in cache, without slab_alloc's
 * search for a class and a chunk. They count as free memory (in_use). */
#define KEY_PARK_MAX 64

static inline __attribute__((always_inline)) void *key_block_take(cep_engine *e, size_t n) {
    engine_store *st = &e->store;
    size_t c = (n - 1) >> 3; /* (slab.c's class of n, when n <= 256) */
    void *p = c < KEY_PARK_CLASSES ? st->park[c] : NULL;
    if (!p) return slab_alloc(&st->mem, n);
    memcpy(&st->park[c], p, sizeof p);
    st->npark[c]--;
    st->mem.in_use += (c + 1) << 3;
    return p;
}

static inline __attribute__((always_inline)) void key_block_give(cep_engine *e, void *p, size_t n) {
    engine_store *st = &e->store;
    size_t c = (n - 1) >> 3;
    if (!st->pooled || c >= KEY_PARK_CLASSES || st->npark[c] >= KEY_PARK_MAX) {
        slab_free(&st->mem, p, n);
        return;
    }
    memcpy(p, &st->park[c], sizeof p);
    st->park[c] = p;
    st->npark[c]++;
    st->mem.in_use -= (c + 1) << 3;
}

/* The slab's reclaim hook (cep_engine_new): every kept block goes back to
 * its chunk before the slab grows, so a key size that no longer comes
 * does not hold chunks that other sizes could use (up to 64 a class). */
void key_blocks_release(void *ud) {
    engine_store *st = &((cep_engine *)ud)->store;
    for (size_t c = 0; c < KEY_PARK_CLASSES; c++)
        while (st->park[c]) {
            void *p = st->park[c];
            memcpy(&st->park[c], p, sizeof p);
            st->mem.in_use += (c + 1) << 3; /* (slab_free takes it off again) */
            slab_free(&st->mem, p, (c + 1) << 3);
        }
    memset(st->npark, 0, sizeof st->npark);
}

void key_array_free(cep_engine *e, key_state *ks, pm *v, uint32_t cap) {
    if (!ks->room || v != key_room(ks)) slab_free(&e->store.mem, v, (size_t)cap * sizeof *v);
}

/* ks's key: key's bytes, its first 4 pattern's (an encoded key starts
 * with its pattern: key may be its group's). */
static inline __attribute__((always_inline)) void key_copy(key_state *ks, uint32_t pattern, const char *key,
                                                           uint32_t len) {
    if (len >= 8 && len <= 16) { /* (most keys: two words, not a call) */
        uint64_t a, b;
        memcpy(&a, key, 8);
        memcpy(&b, key + len - 8, 8);
        memcpy(ks->key, &a, 8);
        memcpy(ks->key + len - 8, &b, 8);
    } else {
        memcpy(ks->key, key, len);
    }
    memcpy(ks->key, &pattern, 4);
}

/* A new key state's block (room: with its first partial match's), its
 * fields zero but these. */
static inline __attribute__((always_inline)) key_state *key_alloc(cep_engine *e, uint32_t pattern, const char *key,
                                                                   uint32_t len, int room) {
    key_state *ks = room ? key_block_take(e, room_off(len) + sizeof(pm)) : slab_alloc(&e->store.mem, sizeof *ks + len);
    if (!ks) return NULL;
    memset(ks, 0, sizeof *ks);
    ks->key_len = len;
    ks->room = room != 0;
    key_copy(ks, pattern, key, len);
    return ks;
}

static key_state *key_make(cep_engine *e, uint32_t pattern, uint64_t hash, const char *key, uint32_t len, gcache *gc,
                           int room) {
    key_state *ks = key_alloc(e, pattern, key, len, room);
    if (!ks) return NULL;
    int rc = e->rt[pattern].kgroup != NO_GROUP ? group_attach(e, ks, gc) : keymap_insert(&e->keyset.keys, ks, hash);
    if (rc < 0) {
        slab_free(&e->store.mem, ks, key_bytes(ks));
        return NULL;
    }
    e->keyset.nkey_states++;
    return ks;
}

key_state *engine_key_new(cep_engine *e, uint32_t pattern, uint64_t hash, const char *key, uint32_t len, gcache *gc) {
    return key_make(e, pattern, hash, key, len, gc, 0);
}

/* The end of the creation-order list (engine_key_activate). */
static inline __attribute__((always_inline)) void key_list_append(cep_engine *e, key_state *ks) {
    ks->created = e->keyset.keys_created++;
    ks->listed = 1;
    ks->prev = e->keyset.last;
    ks->next = NULL;
    if (e->keyset.last) e->keyset.last->next = ks;
    else e->keyset.first = ks;
    e->keyset.last = ks;
    e->stats.keys++;
}

/* A fresh grouped key's counts and flags (key_len to inl_b): one bucket,
 * its array in the block's room. */
static const key_state key_fresh_tpl = {.nb = 1, .room = 1, .bcap_log = 1};

key_state *engine_key_fresh(cep_engine *e, uint32_t pattern, uint64_t hash, const char *key, uint32_t len, gcache *gc,
                            const pm *q, int64_t time) {
    /* What key_bucket and bucket_reserve would make for it, without
     * their searching and sizing: the array of one partial match (slab
     * classes step by 8 bytes: the whole block). In a key group, where
     * most keys of a pattern hold one partial match (W8: a card starts
     * one of a thousand rules), that array is in the key state's block:
     * one block made and freed instead of two, the same bytes. (Keys of
     * a pattern alone, W1's, mostly hold more: there the room would sit
     * empty, issue 18.) Then what step_pattern would do with q, in one
     * call (W8 makes ~5 such keys an event). */
    const pat_fresh *f = &e->fresh[pattern]; /* (not pat_rt: see pat_fresh) */
    uint32_t state = q->state;
    int room = f->grouped;
    key_entry *ent = room && gc ? gc->ent : NULL;
    key_state *ks;
    if (ent && ent_has_room(ent)) {
        /* The usual case: the key's entry is there with room in its
         * table. key_make, group_attach and mark_due at once. */
        ks = key_block_take(e, room_off(len) + sizeof(pm));
        if (!ks) return NULL;
        /* Each field written once, no clearing first (an 88-byte `rep
         * stos`): the counts and flags from key_fresh_tpl, the creation
         * links when it is listed, below. */
        ks->ent = ent;
        ks->held = NULL;
        ks->last_event = time;
        memcpy(&ks->key_len, &key_fresh_tpl.key_len, offsetof(key_state, inl_b) - offsetof(key_state, key_len));
        ks->key_len = len;
        ks->inl_b = (bucket){.v = (pm *)((char *)ks + room_off(len)), .cap = 1, .state = state};
        key_copy(ks, pattern, key, len);
        uint32_t due = f->keyed_every && (state >= 64 || (f->keyed_every >> state & 1));
        ent_put(ent, pattern, due, ks);
        ent->n++;
        ent->ndue += due;
        e->keyset.nkey_states++;
    } else {
        pm *v = room ? NULL : slab_alloc(&e->store.mem, sizeof *v);
        if (!room && !v) return NULL;
        ks = key_make(e, pattern, hash, key, len, gc, room);
        if (!ks) {
            slab_free(&e->store.mem, v, sizeof *v);
            return NULL;
        }
        ks->nb = ks->bcap_log = 1;
        ks->inl_b = (bucket){.v = room ? key_room(ks) : v, .cap = 1, .state = state};
        mark_due(e, ks, state);
        ks->last_event = time;
    }
    if (timers_arm_fresh(e, ks, q, 1, f) < 0) { /* (it could never expire) */
        engine_key_settle(e, ks);
        return NULL;
    }
    ks->inl_b.v[ks->inl_b.hi++] = *q;
    ks->npms = 1;
    if (++e->stats.partial_matches > e->stats.peak_partial_matches)
        e->stats.peak_partial_matches = e->stats.partial_matches;
    key_list_append(e, ks);
    return ks;
}

void engine_keys_each(cep_engine *e, void (*fn)(cep_engine *, key_state *)) {
    keymap *m = &e->keyset.keys;
    for (size_t i = 0; i < m->cap; i++) {
        key_state *ks;
        /* Freeing one shifts a later key into slot i: look again. */
        while ((ks = slot_ptr(m->slots[i]))) {
            fn(e, ks);
            if (slot_ptr(m->slots[i]) == ks) break;
        }
    }
    m = &e->keyset.groups;
    for (size_t i = 0; i < m->cap; i++) {
        key_entry *ent;
        while ((ent = slot_ptr(m->slots[i]))) {
            int gone = 0;
            for (uint32_t j = 0; !gone && j <= ent->mask; j++) { /* (gone first: ent may be freed) */
                key_state *ks = ent->tab[j].ks;
                if (!ks) continue;
                fn(e, ks);
                /* Its last key state freed the entry (nothing else moves
                 * in the map while fn runs); else a later one may have
                 * shifted into j. */
                if (slot_ptr(m->slots[i]) != ent) gone = 1;
                else if (ent->tab[j].ks != ks) j--;
            }
            if (!gone) break;
        }
    }
}

static int cmp_keyed(const void *a, const void *b) {
    const nfa_pattern *x = *(const nfa_pattern *const *)a, *y = *(const nfa_pattern *const *)b;
    if (x->nkeys != y->nkeys) return x->nkeys < y->nkeys ? -1 : 1;
    for (uint32_t i = 0; i < x->nkeys; i++)
        if (x->key_slots[i] != y->key_slots[i]) return x->key_slots[i] < y->key_slots[i] ? -1 : 1;
    return (x > y) - (x < y); /* pattern order */
}

static int same_keys(const nfa_pattern *x, const nfa_pattern *y) {
    return x->nkeys == y->nkeys && (!x->nkeys || !memcmp(x->key_slots, y->key_slots, x->nkeys * sizeof *x->key_slots));
}

uint32_t key_groups_build(const cep_program *p, pat_rt *rt) {
    uint32_t n = p->npatterns, ng = 0;
    const nfa_pattern **ord = mem_alloc((n ? n : 1) * sizeof *ord);
    if (!ord) return UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) ord[i] = &p->patterns[i];
    qsort(ord, n, sizeof *ord, cmp_keyed);
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        while (j < n && same_keys(ord[i], ord[j])) j++;
        /* ord[i..j) are keyed alike, in pattern order: ord[i] is first. */
        for (uint32_t k = i; k < j; k++) {
            pat_rt *r = &rt[ord[k] - p->patterns];
            r->kgroup = j - i > 1 ? ng : NO_GROUP;
            r->kgroup_pat = (uint32_t)(ord[i] - p->patterns);
        }
        if (j - i > 1) ng++;
        i = j;
    }
    mem_free(ord);
    return ng;
}

void engine_key_activate(cep_engine *e, key_state *ks) {
    if (!ks->listed) key_list_append(e, ks);
}

static void unlist(cep_engine *e, key_state *ks) {
    if (!ks->listed) return;
    if (ks->prev) ks->prev->next = ks->next;
    else e->keyset.first = ks->next;
    if (ks->next) ks->next->prev = ks->prev;
    else e->keyset.last = ks->prev;
    ks->prev = ks->next = NULL;
    ks->listed = 0;
    e->stats.keys--;
}

static void bucket_free(cep_engine *e, key_state *ks, bucket *b) {
    key_array_free(e, ks, b->v, b->cap);
    b->v = NULL;
    b->lo = b->hi = b->cap = 0;
}

static void dir_free(cep_engine *e, key_state *ks) {
    if (ks->bcap_log > 1) slab_free(&e->store.mem, ks->dir, (size_t)key_bcap(ks) * sizeof *ks->dir);
    ks->bcap_log = 0;
}

void key_set_tecs(cep_engine *e, key_state *ks, struct tecs *t) {
    ks->compact = t != NULL;
    if (!t) return;
    dir_free(e, ks); /* (it holds no bucket: nb is 0) */
    ks->tecs = t;
}

void key_drop_pms(cep_engine *e, key_state *ks) {
    if (key_tecs(ks)) tecs_drop(e, ks);
    for (uint32_t i = 0; i < ks->nb; i++) {
        bucket *b = &key_buckets(ks)[i];
        for (uint32_t j = b->lo; j < b->hi; j++) engine_node_release(e, b->v[j].node);
        bucket_free(e, ks, b);
    }
    e->stats.partial_matches -= ks->npms;
    ks->npms = 0;
    ks->nb = 0;
    ks->max_used = 0;
}

void key_drop_held(cep_engine *e, key_state *ks) {
    key_held *h = ks->held;
    if (!h) return;
    for (uint32_t i = 0; i < h->n; i++) engine_node_release(e, h->v[i].node);
    slab_free(&e->store.mem, h, sizeof *h + (size_t)h->cap * sizeof *h->v);
    ks->held = NULL;
}

void engine_key_free(cep_engine *e, key_state *ks) {
    /* (Most keys are freed empty: after their last window closed.) */
    if (ks->nb || ks->npms || ks->compact) key_drop_pms(e, ks);
    if (ks->held) key_drop_held(e, ks);
    unlist(e, ks);
    engine_key_unmap(e, ks);
    dir_free(e, ks);
    if (ks->room) key_block_give(e, ks, key_bytes(ks));
    else slab_free(&e->store.mem, ks, key_bytes(ks));
    e->keyset.nkey_states--;
}

void engine_key_free_lone(cep_engine *e, key_state *ks) {
    /* engine_key_free for the one shape, without its questions: the
     * bucket's array (most often the room in ks's block), the list, the
     * entry, the block. */
    bucket *b = key_buckets(ks);
    key_array_free(e, ks, b->v, b->cap);
    dir_free(e, ks);
    unlist(e, ks);
    if (!ks->unmapped) {
        if (ks->ent) ent_del(e, ks);
        else keymap_remove(&e->keyset.keys, ks);
    }
    if (ks->room) key_block_give(e, ks, key_bytes(ks));
    else slab_free(&e->store.mem, ks, key_bytes(ks));
    e->keyset.nkey_states--;
}

void key_drop_empty_buckets(cep_engine *e, key_state *ks) {
    uint32_t k = 0;
    bucket *bv = key_buckets(ks);
    for (uint32_t i = 0; i < ks->nb; i++) {
        if (bv[i].lo == bv[i].hi) bucket_free(e, ks, &bv[i]);
        else bv[k++] = bv[i];
    }
    ks->nb = (uint16_t)k;
    if (!ks->npms) ks->max_used = 0;
}

void engine_key_settle(cep_engine *e, key_state *ks) {
    if (ks->npms || ks->held) return;
    unlist(e, ks);
    if (ks->nb) key_drop_empty_buckets(e, ks);
    if (!ks->timers) engine_key_free(e, ks);
}

bucket *key_bucket(cep_engine *e, key_state *ks, uint32_t state, int create) {
    uint32_t i = 0;
    bucket *bv = key_buckets(ks);
    while (i < ks->nb && bv[i].state < state) i++;
    if (i < ks->nb && bv[i].state == state) return &bv[i];
    if (!create) return NULL;
    if (!ks->bcap_log) {
        ks->bcap_log = 1; /* inl_b */
    } else if (ks->nb == key_bcap(ks)) {
        uint32_t ncap = 2u * key_bcap(ks), nlog = ks->bcap_log + 1u;
        if (nlog > 15) return NULL; /* (4 bits: 16,384 buckets; a pattern has at most 10,000 states) */
        bucket *nb = slab_alloc(&e->store.mem, (size_t)ncap * sizeof *nb);
        if (!nb) return NULL;
        memcpy(nb, bv, ks->nb * sizeof *nb);
        dir_free(e, ks);
        ks->dir = bv = nb; /* (over inl_b, copied) */
        ks->bcap_log = nlog & 15u;
    }
    if (i < ks->nb) memmove(bv + i + 1, bv + i, (ks->nb - i) * sizeof *bv);
    ks->nb++;
    bv[i] = (bucket){.state = state};
    mark_due(e, ks, state);
    return &bv[i];
}

/* Room for n more entries at b's end (live ones moved to the front). */
static int bucket_reserve(cep_engine *e, key_state *ks, bucket *b, uint32_t n) {
    uint32_t live = b->hi - b->lo;
    if (b->hi + n <= b->cap) return 0;
    if (live + n <= b->cap && b->lo >= live) {
        memmove(b->v, b->v + b->lo, (size_t)live * sizeof *b->v);
        b->lo = 0;
        b->hi = live;
        return 0;
    }
    uint64_t ncap = b->cap ? b->cap : 1;
    /* One at a time up to 6 (240 bytes: slab classes step by 8 to 256,
     * so each is a block of its own size; keys hold a few, and growing by
     * half left a fifth of W1's arrays empty at a million keys), then by
     * half. */
    while (ncap < (uint64_t)live + n) ncap += ncap < 6 ? 1 : (ncap + 1) / 2;
    if (ncap > UINT32_MAX / sizeof(pm)) return -1;
    ncap = slab_size((size_t)ncap * sizeof(pm)) / sizeof(pm); /* the whole block */
    pm *nv = slab_alloc(&e->store.mem, (size_t)ncap * sizeof *nv);
    if (!nv) return -1;
    if (live) memcpy(nv, b->v + b->lo, (size_t)live * sizeof *nv);
    key_array_free(e, ks, b->v, b->cap);
    b->v = nv;
    b->lo = 0;
    b->hi = live;
    b->cap = (uint32_t)ncap;
    return 0;
}

int key_bucket_room(cep_engine *e, key_state *ks, bucket *b, uint32_t n) { return bucket_reserve(e, ks, b, n); }

int key_insert_sorted(cep_engine *e, key_state *ks, pm_list *l) {
    uint32_t i = 0;
    int rc = 0;
    while (i < l->n) {
        uint32_t j = i + 1;
        while (j < l->n && l->v[j].state == l->v[i].state) j++;
        uint32_t m = j - i;
        bucket *b = key_bucket(e, ks, l->v[i].state, 1);
        if (!b || bucket_reserve(e, ks, b, m) < 0) {
            for (uint32_t k = i; k < j; k++) engine_node_release(e, l->v[k].node);
            rc = -1;
            i = j;
            continue;
        }
        /* Merge from the back; new entries usually all go after the old
         * ones, and then this only copies them. Where they go in between
         * (followedByAny's branches of old partial matches), the old
         * entries above each are found by binary search and moved up in
         * one block: a memmove, not a comparison per entry. */
        pm *v = b->v, *run = l->v + i;
        const nfa_pattern *pat = &e->prog->patterns[key_pattern(ks)];
        if (pat->states[b->state].hint)
            for (uint32_t k2 = 0; k2 < m; k2++) pm_set_hint(pat, &run[k2]);
        uint32_t old = b->hi, w = b->hi + m, k = m;
        while (k > 0) {
            const pm *x = &run[k - 1];
            if (old > b->lo && pm_less(x, &v[old - 1])) {
                uint32_t lo = b->lo, hi = old - 1; /* the first old entry above x */
                while (lo < hi) {
                    uint32_t mid = lo + (hi - lo) / 2;
                    if (pm_less(x, &v[mid])) hi = mid;
                    else lo = mid + 1;
                }
                w -= old - lo;
                memmove(&v[w], &v[lo], (size_t)(old - lo) * sizeof *v);
                old = lo;
            }
            v[--w] = *x;
            k--;
        }
        b->hi += m;
        for (uint32_t k2 = 0; k2 < m; k2++)
            if (run[k2].used > ks->max_used) ks->max_used = run[k2].used;
        ks->npms += m;
        e->stats.partial_matches += m;
        i = j;
    }
    l->n = 0;
    if (rc < 0) key_drop_empty_buckets(e, ks);
    return rc;
}

int key_hold_push(cep_engine *e, key_state *ks, pm p) {
    key_held *h = ks->held;
    uint32_t cap = h ? h->cap : 0;
    if (!h || h->n == cap) {
        /* From the engine's slab: keys that hold matches come and go.
         * Most hold one (W1 at a million keys: room for four was 12 MB). */
        uint32_t ncap = cap ? cap + (cap + 1) / 2 : 1;
        if (ncap > (UINT32_MAX - sizeof *h) / sizeof *h->v) return -1;
        key_held *nh = slab_realloc(&e->store.mem, h, h ? sizeof *h + (size_t)cap * sizeof *h->v : 0,
                                    sizeof *nh + (size_t)ncap * sizeof *nh->v);
        if (!nh) return -1;
        if (!h) nh->n = 0;
        nh->cap = ncap;
        ks->held = h = nh;
    }
    h->v[h->n++] = p;
    return 0;
}

void key_held_settle(cep_engine *e, key_state *ks) {
    key_held *h = ks->held;
    if (h && !h->n) {
        slab_free(&e->store.mem, h, sizeof *h + (size_t)h->cap * sizeof *h->v);
        ks->held = NULL;
    }
}

const pm *key_first(const key_state *ks) {
    const pm *best = NULL;
    for (uint32_t i = 0; i < ks->nb; i++) {
        const bucket *b = &key_buckets(ks)[i];
        if (b->lo < b->hi && (!best || pm_less(&b->v[b->lo], best))) best = &b->v[b->lo];
    }
    return best;
}

int key_pop_first(cep_engine *e, key_state *ks, pm *out) {
    const pm *f = key_first(ks);
    if (!f) return 0;
    for (uint32_t i = 0; i < ks->nb; i++) {
        bucket *b = &key_buckets(ks)[i];
        if (b->lo < b->hi && &b->v[b->lo] == f) {
            *out = b->v[b->lo++];
            ks->npms--;
            e->stats.partial_matches--;
            if (b->lo == b->hi) key_drop_empty_buckets(e, ks);
            return 1;
        }
    }
    return 0;
}

static int cmp_pm(const void *a, const void *b) {
    const pm *x = a, *y = b;
    return pm_less(x, y) ? -1 : pm_less(y, x);
}

int key_collect(const key_state *ks, pm_list *l) {
    uint32_t base = l->n;
    for (uint32_t i = 0; i < ks->nb; i++) {
        const bucket *b = &key_buckets(ks)[i];
        for (uint32_t j = b->lo; j < b->hi; j++)
            if (engine_list_push(l, b->v[j]) < 0) return -1;
    }
    if (ks->nb > 1) qsort(l->v + base, l->n - base, sizeof *l->v, cmp_pm);
    return 0;
}

static uint32_t bits_for(uint64_t n) {
    uint32_t w = 0;
    while (w < 64 && ((uint64_t)1 << w) < n) w++;
    return w;
}

void key_label_family(pm *v, size_t n) {
    /* v[0..n) share a start, in order: labels j << (64 - w). */
    uint32_t w = bits_for(n);
    for (size_t j = 0; j < n; j++) {
        v[j].label = w ? (uint64_t)j << (64 - w) : 0;
        v[j].used = w;
    }
}

static int cmp_pmp(const void *a, const void *b) {
    const pm *x = *(pm *const *)a, *y = *(pm *const *)b;
    return pm_less(x, y) ? -1 : pm_less(y, x);
}

void key_relabel(cep_engine *e, key_state *ks) {
    if (!ks->npms) return;
    pm **v = mem_alloc((size_t)ks->npms * sizeof *v);
    if (!v) {
        e->oom = 1; /* labels stay; at worst same-start order degrades */
        return;
    }
    size_t n = 0;
    bucket *bv = key_buckets(ks);
    for (uint32_t i = 0; i < ks->nb; i++)
        for (uint32_t j = bv[i].lo; j < bv[i].hi; j++) v[n++] = &bv[i].v[j];
    qsort(v, n, sizeof *v, cmp_pmp);
    ks->max_used = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && v[j]->start == v[i]->start && v[j]->start_seq == v[i]->start_seq) j++;
        /* The same relabelling as key_label_family, through pointers: the
         * family is spread over buckets, each keeps its order. */
        uint32_t w = bits_for(j - i);
        for (size_t k = i; k < j; k++) {
            v[k]->label = w ? (uint64_t)(k - i) << (64 - w) : 0;
            v[k]->used = w;
        }
        if (w > ks->max_used) ks->max_used = w;
        i = j;
    }
    mem_free(v);
}
