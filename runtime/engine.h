/* engine.h — the engine's internal state: per (pattern, key) partial
 * matches grouped by the NFA state they wait in, the out-of-order buffer,
 * timer lanes, and the match view handed to callbacks. Shared by the
 * runtime's files: engine.c (API, time), step.c (NFA stepping), keys.c
 * (key states, buckets), timers.c, emit.c, snapshot.c, reload.c. */
#ifndef CEP_ENGINE_H
#define CEP_ENGINE_H

#include <stdint.h>
#include "cepheus.h"
#include "eval.h"
#include "event.h"
#include "expr.h"
#include "heap.h"
#include "nfa.h"
#include "slab.h"

/* A partial match (or a completed one waiting to be emitted).
 *
 * Order: Flink orders partial matches by (start time, start event); those
 * with the same start come in the order the NFA branched them. label keeps
 * that order without a global list: a partial match that branches into k
 * outputs gives the first its own label and the others labels just after
 * it, in the `used` high bits' next ceil(log2 k) bits (see step.c). */
typedef struct pm {
    pm_node *node;      /* last accepted event; its parents hold the rest */
    int64_t start;      /* time of the first event */
    uint64_t start_seq; /* processing order of the first event */
    uint64_t label;     /* order among partial matches of the same start */
    /* When the state's condition is `field == step.field` (nfa_state.hint):
     * that step's field of this partial match, an int of 32 bits, kept
     * here when it enters the state, so the test reads no event
     * (pm_set_hint; a wider int is read from the event). */
    int32_t hint;
    uint16_t state;     /* (MAX_STATES, nfa/compile.h, is 10,000) */
    uint8_t used;       /* high bits of label taken by branching so far (at most 64) */
    uint8_t hinted;     /* hint holds the value the state's condition joins to */
} pm;

/* 40 bytes: at a million keys there are millions (issue 18). */
_Static_assert(sizeof(void *) != 8 || sizeof(pm) == 40, "a partial match grew (docs/design.md)");

static inline int pm_less(const pm *a, const pm *b) {
    if (a->start != b->start) return a->start < b->start;
    if (a->start_seq != b->start_seq) return a->start_seq < b->start_seq;
    return a->label < b->label;
}

/* (start, start event) only: Flink's ComputationState order. */
static inline int pm_cmp_start(const pm *a, const pm *b) {
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    return a->start_seq < b->start_seq ? -1 : a->start_seq > b->start_seq;
}

typedef struct pm_list {
    pm *v;
    uint32_t n, cap;
} pm_list;

/* The partial matches of one key waiting in one NFA state, in pm_less
 * order: v[lo..hi). */
typedef struct bucket {
    pm *v;
    uint32_t lo, hi, cap;
    uint32_t state;
} bucket;

/* Completed matches a skip rule holds back (emit.c), in start order: made
 * when a key first holds one, freed when it holds none again. */
typedef struct key_held {
    uint32_t n, cap;
    pm v[];
} key_held;

/* State of one key of one pattern. It lives while it holds partial or
 * held-back matches, and after that until the timer entries naming it have
 * fired (then an event of the same key finds it again, which saves making
 * it anew). At a million keys these are most of the engine's memory, so
 * it holds only what every key needs (88 bytes, then the key): its hash
 * is in its key map's slot, held matches in a block of their own that
 * exists only while there are some, partial matches in their buckets'
 * arrays. */
typedef struct key_state key_state;
typedef struct key_entry key_entry;
typedef struct tecs tecs;
struct key_state {
    key_state *prev, *next; /* keys holding state, in `created` order */
    uint64_t created;       /* order it last got state in, for deterministic iteration */
    key_entry *ent;         /* its group's entry for the key; NULL: alone */
    key_held *held;         /* completed matches held back by the skip rule; NULL: none */
    int64_t last_event;     /* time of the key's latest event (state TTL) */
    /* (Its pattern is its key's first 4 bytes: key_pattern.) */
    uint32_t key_len;       /* bytes of the encoded key */
    uint32_t npms;          /* partial matches in all buckets */
    uint32_t timers;        /* timer entries naming this key */
    uint16_t nb;            /* buckets (key_buckets) */
    uint16_t max_used : 7;  /* the largest `used` among its partial matches (at most 64) */
    uint16_t listed : 1;    /* on the creation-order list (holds state) */
    uint16_t ttl_armed : 1; /* has an entry in the TTL lane */
    uint16_t unmapped : 1;  /* in no key map (during a reload, or after one ran out of memory) */
    uint16_t compact : 1;   /* kept compactly (tecs.c): key_tecs, no bucket */
    uint16_t room : 1;      /* its block has room for one partial match after
                             * the key: its first bucket's array (keys.c,
                             * engine_key_fresh) */
    uint16_t bcap_log : 4;  /* room for buckets: 0 none, else 2^(bcap_log - 1) (key_bcap) */
    /* Most keys wait in one state: that bucket lives in the key state
     * itself; a key waiting in more states has its buckets in an array,
     * named in the same room. A bucket's partial matches are always in an
     * array of their own: at a million keys most keys hold several, and
     * room for one in every key state sat empty in three keys of four
     * (issue 18). A compact key has no bucket: the room names its block. */
    union {
        bucket inl_b;       /* bcap_log <= 1 */
        bucket *dir;        /* bcap_log > 1 */
        struct tecs *tecs;  /* compact (then bcap_log == 0) */
    };
    char key[];             /* the encoded key: its pattern (4 bytes), then values */
};

/* 88 bytes (with W1's key of 13, a 104-byte block): at a million keys
 * every 8 bytes are 8 MB (issue 18). */
_Static_assert(sizeof(void *) != 8 || sizeof(key_state) == 88, "a key state grew (docs/design.md)");

/* The pattern of ks: an encoded key starts with it (keys.c's key_alloc,
 * reload.c); kept once, not in a field beside it too. */
static inline uint32_t key_pattern(const key_state *ks) {
    uint32_t p;
    memcpy(&p, ks->key, 4);
    return p;
}

/* Buckets ks has room for. */
static inline uint32_t key_bcap(const key_state *ks) { return ks->bcap_log ? 1u << (ks->bcap_log - 1) : 0; }

/* ks's non-empty buckets, nb of them, by state index. */
static inline bucket *key_buckets(const key_state *ks) { return ks->bcap_log > 1 ? ks->dir : (bucket *)&ks->inl_b; }

/* A compact key's block (tecs.c), in the buckets' room; NULL: not compact. */
static inline struct tecs *key_tecs(const key_state *ks) { return ks->compact ? ks->tecs : NULL; }
/* ks compact with block t (its bucket directory, holding no bucket, freed
 * first: keys.c), or flat again (t NULL). */
void key_set_tecs(cep_engine *e, key_state *ks, struct tecs *t);

/* Held matches of ks: how many (ks->held has them). */
static inline uint32_t key_nheld(const key_state *ks) { return ks->held ? ks->held->n : 0; }

/* Patterns keyed by the same fields form a key group: an event's key is
 * encoded, hashed and looked up once for all of them (once per event, see
 * engine.gcache), to a key entry that holds each pattern's key state for
 * that key, in a small open-addressing table by pattern index. A rule set
 * of a thousand patterns keyed by `card` then costs one lookup of the
 * card per event, not one per pattern the event reaches. */
typedef struct kref {
    uint32_t pattern;
    /* ks may have a partial match in a state of its pattern's keyed_every
     * (pat_rt): set when such a bucket is made, cleared by visit.c when
     * it finds none (key_entry.ndue counts these) */
    uint32_t due;
    key_state *ks;          /* NULL: empty */
} kref;

#define KE_INLINE 4

struct key_entry {
    uint64_t hash;          /* of key */
    uint32_t key_len;       /* bytes of the encoded key (group's first pattern, then the fields) */
    uint32_t group;         /* index in engine.gcache */
    uint32_t n, mask;       /* key states; table slots - 1 */
    uint32_t ndue;          /* krefs with due set */
    kref *tab;              /* inl, or slab memory */
    kref inl[KE_INLINE];
    char key[];
};

/* Open-addressing hash table of key states or key entries, linear
 * probing. A slot is 8 bytes (at a million keys, 2M slots: issue 18): the
 * pointer in its low 48 bits (a user-space pointer fits: keymap.c checks),
 * above it 8 bits of the key's hash (most probes that miss read no key
 * state) and the slot's distance from its home slot (KS_FAR: that or
 * more, its home found again from the key); 0 is an empty slot. */
typedef uint64_t keyslot;
#define KS_PTR_MASK (((uint64_t)1 << 48) - 1)
#define KS_FAR 255u
static inline void *slot_ptr(keyslot s) { return (void *)(uintptr_t)(s & KS_PTR_MASK); }
/* Does slot s hold a key whose hash may be hash? */
static inline int slot_tagged(keyslot s, uint64_t hash) { return (s >> 48 & 0xff) == hash >> 56; }

typedef struct keymap {
    keyslot *slots;
    size_t cap, count;
    uint64_t seed;
} keymap;

key_state *keymap_find(const keymap *m, uint64_t hash, const char *key, uint32_t len);
int keymap_insert(keymap *m, key_state *ks, uint64_t hash);
void keymap_remove(keymap *m, key_state *ks);
key_entry *entmap_find(const keymap *m, uint64_t hash, const char *key, uint32_t len);
int entmap_insert(keymap *m, key_entry *ent);
void entmap_remove(keymap *m, key_entry *ent);
void keymap_free(keymap *m);

/* The slot of a table of mask + 1 where pattern pi's kref is looked for
 * first. */
static inline uint32_t entry_home(uint32_t mask, uint32_t pi) { return (pi * 0x9E3779B1u) >> 16 & mask; }

/* Pattern pi's key state in ent, or NULL. */
static inline key_state *entry_get(const key_entry *ent, uint32_t pi) {
    for (uint32_t i = entry_home(ent->mask, pi);; i = (i + 1) & ent->mask) {
        if (!ent->tab[i].ks || ent->tab[i].pattern == pi) return ent->tab[i].ks;
    }
}

/* Per key group, the entry of the event under way (keys.c). */
typedef struct gcache {
    uint64_t stamp;         /* engine.ev_stamp it was looked up for */
    uint64_t hash;
    key_entry *ent;         /* NULL: the key has none (yet) */
} gcache;

/* A timer entry: at deadline, key ks has something to expire. */
typedef struct timer_ent {
    int64_t deadline;
    key_state *ks;
} timer_ent;

/* A lane holds the timer entries of one window length (timers.c: shared by
 * every pattern, `within` and gaps alike). Deadlines of one length are
 * pushed almost in order, so those lanes are
 * sorted arrays with insertion from the tail (pushing and popping cost
 * O(1) in steady state, and memory is read in order); the last two lanes,
 * whose entries are re-armed out of order, are binary heaps: the
 * re-armed `within` entries of keys (timers_rearm) and the TTL lane. */
enum { LANE_SORTED, LANE_HEAP };
typedef struct lane {
    timer_ent *v;           /* heap: v[0..hi), room for cap */
    timer_ent **dir;        /* sorted: chunks of LANE_CHUNK entries (timers.c) */
    size_t lo, hi, cap;     /* sorted: positions lo..hi-1, chunks up to position cap */
    size_t ndir;            /* sorted: slots of dir, a power of two */
    size_t heap_pos;        /* place in the engine's heap of lanes */
    size_t fetched[3];      /* sorted: positions below which each stage of
                             * timers.c's fetch ahead has run */
    int kind;
} lane;

/* A sorted lane's entries live in 64-KiB chunks, position i in chunk
 * i / LANE_CHUNK, named by dir as a ring: the lane holds about what it
 * has. (A ring of power-of-two capacity held half as much again as its
 * entries at a million keys, and doubled by copying: issue 18.) */
#define LANE_SHIFT 12
#define LANE_CHUNK ((size_t)1 << LANE_SHIFT)
static inline timer_ent *lane_at(const lane *l, size_t i) {
    return &l->dir[(i >> LANE_SHIFT) & (l->ndir - 1)][i & (LANE_CHUNK - 1)];
}

/* Per pattern, what the engine derives from the program. */
typedef struct pat_rt {
    int64_t within_ms;
    uint32_t within_lane;   /* NO_LANE without `within` */
    uint32_t maxw;          /* label bits one branching can take at most */
    uint32_t *gap_lane;     /* per state: lane of its gap window, or NO_LANE */
    uint32_t *outs;         /* per state: budget_state_outputs (budget.c) */
    uint32_t kgroup;        /* its key group (gcache index); NO_GROUP: alone */
    uint32_t kgroup_pat;    /* the group's first pattern (its entries' key prefix) */
    /* In a key group, with a start state (below 64) that takes nothing
     * on a closed gate: its bit. An event whose route says that gate is
     * closed concerns the pattern only if the key has state (engine.c). */
    uint64_t start_bit;
    /* In the route's keyed list: its keyed_every (the states whose partial
     * matches see every event of their key); 0 when not in it. */
    uint64_t keyed_every;
    uint8_t has_gaps;       /* some state has a gap window */
    uint8_t skippable;      /* see step.c: an event no gate lets in changes nothing */
    uint8_t undispatched;   /* has gates that the dispatch lookup does not decide */
    uint8_t fresh_start;    /* its start is FOLLOW, NEXT or ANY into a state that waits (step_fresh) */
    uint8_t has_pending;    /* some state is ST_PENDING (expiry reads the states only then) */
} pat_rt;

#define NO_GROUP UINT32_MAX

/* What the visit loop (process_event) reads of a pattern to pass over it,
 * 8 bytes beside the pat_rt array. Most visits end there (every gate
 * closed, or only waiting gates open and no state for the key); with a
 * thousand rules an event concerns a rule seldom, and pat_rt (64 bytes)
 * and nfa_pattern are out of cache by then: this array (8 KB at 1,000
 * rules) stays in. */
typedef struct pat_hot {
    uint32_t kgroup;        /* pat_rt.kgroup */
    uint8_t start;          /* the state of pat_rt.start_bit; 64: none */
    uint8_t skip_closed;    /* pat_rt.skippable, at most 64 states */
    uint8_t fresh;          /* in a key group, start below 64, fresh_start,
                             * not compact: a sure start on a key with
                             * nothing is step_start_fresh's */
    uint8_t pad;
} pat_hot;

/* What a rule set's usual partial match reads of its pattern when it is
 * made (step_start_fresh, engine_key_fresh) and when it times out
 * (expire_lone), 32 bytes beside pat_hot, two patterns to a line: with a
 * thousand rules the pattern, its start and target states and pat_rt
 * were four lines out of cache each time an event concerned the rule. */
typedef struct pat_fresh {
    int64_t within_ms;      /* pat_rt.within_ms */
    uint64_t keyed_every;   /* pat_rt.keyed_every */
    uint32_t within_lane;   /* pat_rt.within_lane */
    uint16_t target, step;  /* the start state's target and step */
    /* The start's condition is all the gate's (no rest) and its target
     * joins no step (no hint): step_start_fresh reads no state. */
    uint8_t plain;
    uint8_t grouped;        /* in a key group */
    uint8_t has_gaps;       /* pat_rt.has_gaps */
    uint8_t has_pending;    /* pat_rt.has_pending */
    uint8_t pad[4];
} pat_fresh;

_Static_assert(sizeof(pat_fresh) == 32, "pat_fresh: two to a cache line");

#define NO_LANE UINT32_MAX

/* The view of a match handed to the match callback (reused buffers). */
struct cep_match {
    const nfa_pattern *pat;
    uint32_t pattern_index;
    const cep_event *keyev;   /* an event of the match: they share the key */
    uint32_t nkeys;
    int64_t start, end;
    int timeout;
    const cep_event **events; /* grouped by step, oldest first */
    uint32_t *step_off;       /* step s: events[step_off[s] .. step_off[s+1]) */
    cep_value *fields;        /* emit values */
    size_t events_cap, steps_cap, fields_cap;
};

#define NODE_SLAB 1024

typedef struct u32_list {
    uint32_t *v;
    size_t n, cap;
} u32_list;

typedef struct node_slab node_slab;
struct node_slab {
    node_slab *next;
    pm_lnode nodes[NODE_SLAB];
};

typedef struct cond_result {
    const expr *cond;
    int holds;
} cond_result;

/* Scratch for the outputs of one partial match's decision graph. */
typedef struct out_list {
    struct step_out *v;
    size_t n, cap;
} out_list;

/* What the caller set: cep_engine_set_* (the time field's slot is found
 * from the program when it runs). */
typedef struct engine_config {
    int64_t max_delay;
    char *time_field;
    const cep_program *tslot_prog; /* whose slot of time_field tslot is */
    int tslot;                     /* -1: the program does not read it */
    uint64_t max_pms;         /* per key and pattern; 0: unlimited */
    int64_t state_ttl;        /* 0: keys keep state until it expires */
    int64_t lateness;         /* allowed lateness behind the watermark */
    uint64_t max_bytes;       /* memory budget of the state; 0: none */
    int time_mode;            /* CEP_TIME_EVENT or CEP_TIME_PROCESSING */
    int limit_policy;
    uint32_t part_index, part_count; /* cep_engine_set_partition (runtime/partition.c) */
    int flat_only;            /* CEP_COMPACT=0 in the environment: compact patterns
                               * kept flat too (tests compare both forms) */
    int drop_raw;             /* cep_engine_set_drop_raw */
    int raw_all_emit;         /* engine_all_emit(prog), kept with prog */
} engine_config;

/* The caller's callbacks and their user data. */
typedef struct engine_hooks {
    cep_match_fn on_match;
    void *match_ud;
    cep_late_fn on_late;
    void *late_ud;
    cep_tag_fn on_tag;
    void *tag_ud;
    cep_match_fn on_timeout;
    void *timeout_ud;
    cep_clock_fn clock;
    void *clock_ud;
} engine_hooks;

/* Event time: the watermark and the events waiting for it. */
typedef struct engine_time {
    int64_t watermark;
    int64_t max_seen;
    int64_t end_after;        /* at end of input: deadlines past this (the
                               * newest event time of the whole input) close
                               * a key's windows all at once; INT64_MAX else */
    int64_t last_clock;       /* processing time never goes back */
    uint64_t arrivals;
    heap reorder;             /* buffered events by (time, arrival) */
} engine_time;

/* The keys that hold state. */
typedef struct engine_keyset {
    keymap keys;              /* key states of patterns alone in their key group */
    keymap groups;            /* key entries of key groups */
    gcache *gcache;           /* per key group */
    uint32_t ngroups;
    uint32_t keyed_group;     /* the key group of all the route's keyed
                               * patterns; NO_GROUP: none, or not one */
    key_state *first, *last;  /* key states holding state, in creation order */
    uint64_t keys_created;
    uint64_t nkey_states;     /* key states allocated (holding state or not) */
} engine_keyset;

#define KEY_PARK_CLASSES 32

/* Where stored events, key states and nodes live. */
typedef struct engine_store {
    slab mem;                 /* events, key states, buckets */
    pm_node *free_nodes;      /* node pool: partial matches never malloc per event */
    node_slab *slabs;
    uint64_t node_slabs, pooled_nodes; /* slabs made, pool nodes in use */
    uint64_t event_bytes;     /* bytes of the stored events */
    /* Key blocks freed lately, by slab class (8-byte steps to 256),
     * kept for the next key of that class (keys.c: a grouped pattern's
     * key is made and freed with its one partial match, five times an
     * event in a rule set), linked through their first word; counted
     * free in mem.in_use (their chunks stay out of the empty chunks:
     * at most KEY_PARK_MAX blocks a class, keys.c, all given back by the
     * slab's reclaim hook before it takes a chunk from the heap). */
    void *park[KEY_PARK_CLASSES];
    uint8_t npark[KEY_PARK_CLASSES];
    int pooled;               /* slab_pooled(): else no block is kept */
} engine_store;

/* Deadlines: `within` windows, gaps and the state TTL (timers.c). */
typedef struct engine_timers {
    lane *lanes;              /* timer lanes; the last is the TTL lane */
    uint32_t nlanes;
    heap lane_heap;           /* lanes by their earliest deadline */
    int64_t next_due;         /* the earliest deadline of all lanes (INT64_MAX: none) */
    int compact_due;          /* a lane holds many more entries than live partial matches */
    timer_ent *due;           /* scratch: timer entries of one deadline */
    size_t due_cap;
    /* The latest start of a partial match whose `within` window has been
     * armed (timers_arm_pm): every entry's deadline is at most front +
     * its window, so a key's pending entry covers a new window that
     * starts at or after front (one entry per key, timers.c). INT64_MAX
     * under a state TTL, where entries stay one per window. */
    int64_t front;
} engine_timers;

/* Scratch reused by every step, so an event allocates nothing. */
typedef struct engine_scratch {
    pm_list kids, completed, expired;
    u32_list stack, out;      /* the decision graph */
    out_list outs;
    cond_result cache[8];     /* conditions already evaluated for this partial match */
    int ncache;
    uint8_t *gate;            /* per state of the current pattern: gate result */
    uint32_t *gate_at;        /* ... valid when equal to stamp */
    size_t gate_cap;
    uint32_t stamp;           /* one per (event, pattern) step */
    uint64_t gmask;           /* states of the pattern's dispatch whose gate is open */
    uint64_t maybe;           /* states whose gate may be open (step_in.maybe) */
    int emptied;              /* a bucket became empty in this step */
    uint64_t ev_stamp;        /* one per event through process_event */
    char *keybuf;
    size_t keybuf_cap;
    uint64_t sure;            /* states whose gate is open, unread (step_in.sure) */
    struct route_visit *visit, *visit_tmp; /* the patterns an event visits (visit.c) */
    uint64_t *closed;         /* beside a routed value's patterns: the gates its thresholds close */
    uint32_t visit_cap;       /* of each of the three */
    cep_value *row;           /* a stored event's values, decoded (event_row) */
    size_t row_cap;
    cep_value *thaw;          /* a pushed stored event's values (cep_engine_push) */
    size_t thaw_cap;
    /* push_many's row under way and what its fetch ahead found of its
     * key (ahead_key): group_lookup_slow takes that entry when its key is
     * the row's. ahead: push_many's AHEAD_RING of them while it runs
     * (NULL: none), whose entries ent_free clears. */
    const cep_value *ahead_row;
    const key_entry *ahead_ent;
    struct ahead_key *ahead;
} engine_scratch;

/* Why the last call must fail with CEP_ELIMIT (--on-limit fail). */
typedef enum engine_limit {
    LIMIT_NONE = 0,
    LIMIT_PARTIAL_MATCHES,    /* a key reached max_pms */
    LIMIT_MEMORY              /* the state reached max_bytes */
} engine_limit;

struct cep_engine {
    const cep_program *prog;
    engine_config cfg;
    engine_hooks hooks;
    engine_time time;
    engine_keyset keyset;
    engine_store store;
    engine_timers timers;
    engine_scratch scratch;
    int started, finished, stop, oom;
    engine_limit limit_hit;
    cep_event *builder;       /* for cep_engine_push_json */
    eval_ctx ctx;
    pat_rt *rt;               /* per pattern */
    pat_hot *hot;             /* per pattern, in rt's block */
    pat_fresh *fresh;         /* per pattern, in rt's block */
    uint32_t nrt;
    cep_match match;          /* the view handed to the match callback */
    cep_stats stats;
    char err[256];
};

/* ---- engine.c: errors, events, nodes ---- */
void engine_set_err(cep_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A stored copy of ev (slab memory, refs 1, counted, tag hook told). */
cep_event *engine_keep_event(cep_engine *e, const cep_event *ev);
/* The same with its text even under drop_raw: the reorder buffer's
 * events (parsed again at a program switch); a snapshot's and a program
 * switch's copies with the text they had. */
cep_event *engine_keep_event_text(cep_engine *e, const cep_event *ev);
int engine_all_emit(const cep_program *p);
/* Drop one reference of a stored event (counted; freed at zero). */
void engine_drop_event(cep_engine *e, cep_event *ev);
/* The same without counting or telling the tag hook (reload.c's copies). */
cep_event *engine_copy_event(cep_engine *e, const cep_event *ev);
void engine_free_event(cep_engine *e, cep_event *ev);
/* The node pool is empty: a slab of nodes onto it; its first, or NULL. */
pm_node *engine_node_refill(cep_engine *e);
/* A node of stored event ev at step, child of parent: ev's own room when
 * free (a kept event's first partial match), else one from the pool.
 * Inline: every partial match made calls it. */
static inline pm_node *engine_node_new(cep_engine *e, cep_event *ev, uint32_t step, pm_node *parent) {
    pm_node *n = (pm_node *)event_block(ev); /* (its node room: event.h) */
    if (n->refs) {
        if (!(n = e->store.free_nodes) && !(n = engine_node_refill(e))) return NULL;
        e->store.free_nodes = n->parent;
        e->store.pooled_nodes++;
        n->loose = 1;
        ((pm_lnode *)n)->ev = ev;
    } else {
        n->loose = 0;
    }
    event_retain(ev);
    n->parent = parent;
    if (parent) parent->refs++;
    n->refs = 1;
    n->step = step;
    n->has_agg = 0;
    e->stats.nodes++;
    return n;
}
void engine_node_release(cep_engine *e, pm_node *n);
/* Append p to l (grown when full: engine_list_grow); 0 or -1. Inline:
 * every partial match a step makes goes through it. */
int engine_list_grow(pm_list *l);
static inline int engine_list_push(pm_list *l, pm p) {
    if (l->n == l->cap && engine_list_grow(l) < 0) return -1;
    l->v[l->n++] = p;
    return 0;
}

/* ---- keys.c: key states and their buckets ---- */
/* A key state for pattern's encoded key (hash: its hash; unused for a
 * pattern in a key group, whose entry is found or made here: gc, when
 * not NULL, is the group's cache for the event under way, whose key this
 * is). */
key_state *engine_key_new(cep_engine *e, uint32_t pattern, uint64_t hash, const char *key, uint32_t len,
                          gcache *gc);
/* The same, holding q, its first partial match, in its first bucket
 * (step.c's step_fresh: q's node made, its hint set), q's `within`
 * entry armed and the key last on the creation-order list, as
 * step_pattern would leave it; NULL when memory runs out (q's node is
 * then still the caller's). The key's first 4 bytes are taken as
 * pattern's (key may be its group's entry's). */
key_state *engine_key_fresh(cep_engine *e, uint32_t pattern, uint64_t hash, const char *key, uint32_t len, gcache *gc,
                            const pm *q, int64_t time);
/* The key state of pattern for encoded key, NULL when it has none. */
key_state *engine_key_find(cep_engine *e, uint32_t pattern, const char *key, uint32_t len);
/* Out of its map (entry) / into the one the current program says
 * (after a program change: its pattern and key prefix set anew). */
void engine_key_unmap(cep_engine *e, key_state *ks);
int engine_key_map(cep_engine *e, key_state *ks);
/* Every key state, whatever it holds, in no order: fn may free the one
 * it is given (only that one). */
void engine_keys_each(cep_engine *e, void (*fn)(cep_engine *, key_state *));
/* Key groups of program p into rt (p->npatterns of them); returns how
 * many groups, or UINT32_MAX when memory runs out. */
uint32_t key_groups_build(const cep_program *p, pat_rt *rt);
/* Free ks now, whatever it holds (engine teardown, restore failure). */
void engine_key_free(cep_engine *e, key_state *ks);
/* Free ks, which holds one bucket (nb 1) whose partial match has been
 * taken out (engine.c's expire_lone), nothing held, not compact. */
void engine_key_free_lone(cep_engine *e, key_state *ks);
/* After a change: a key that holds nothing leaves the creation-order list,
 * and is freed once no timer entry names it. */
void engine_key_settle(cep_engine *e, key_state *ks);
/* A key that had nothing and now holds state goes to the end of the list. */
void engine_key_activate(cep_engine *e, key_state *ks);
bucket *key_bucket(cep_engine *e, key_state *ks, uint32_t state, int create);
/* Room for n more partial matches at b's end (a bucket of ks); 0 or -1. */
int key_bucket_room(cep_engine *e, key_state *ks, bucket *b, uint32_t n);
/* Free v, a bucket array of ks with room for cap (unless it is the room
 * in ks's own block). */
void key_array_free(cep_engine *e, key_state *ks, pm *v, uint32_t cap);
void key_blocks_release(void *ud);
void key_drop_empty_buckets(cep_engine *e, key_state *ks);
/* Has ks a partial match in one of states (bits 0..63; a state from 64
 * on counts; all ones: in any state)? */
int key_waits_in(const key_state *ks, uint64_t states);
/* Insert l's partial matches (sorted by state, then pm_less) into ks's
 * buckets; on failure the ones not inserted are released and -1 returned. */
int key_insert_sorted(cep_engine *e, key_state *ks, pm_list *l);
/* Append to ks's held matches (slab memory); 0 or -1. */
int key_hold_push(cep_engine *e, key_state *ks, pm p);
/* ks's held block freed when it holds nothing. */
void key_held_settle(cep_engine *e, key_state *ks);
/* Release ks's held matches and their block. */
void key_drop_held(cep_engine *e, key_state *ks);
/* Remove ks's partial match that comes first in pm_less order into *out. */
int key_pop_first(cep_engine *e, key_state *ks, pm *out);
const pm *key_first(const key_state *ks);
/* Release every partial match of ks (not the held ones). */
void key_drop_pms(cep_engine *e, key_state *ks);
/* ks's partial matches in pm_less order, appended to l. */
int key_collect(const key_state *ks, pm_list *l);
/* Give same-start partial matches fresh labels (when bits run short). */
void key_relabel(cep_engine *e, key_state *ks);
/* Label v[0..n), partial matches of one start in their order, afresh. */
void key_label_family(pm *v, size_t n);

/* ---- timers.c ---- */
int engine_lanes_init(cep_engine *e);
void engine_lanes_free(cep_engine *e);
/* Lanes for program np, replacing e's (which must hold no entries); on
 * failure e's stay and -1 is returned. */
int engine_lanes_switch(cep_engine *e, const cep_program *np);
/* Make room for n more entries in lane; 0 or -1. */
int timers_lane_reserve(lane *l, size_t n);
/* Bytes lane holds; its memory freed (it must hold no entry). */
uint64_t timers_lane_bytes(const lane *l);
void timers_lane_release(lane *l);
/* Does pattern rt keep one `within` entry per key rather than one per
 * window (timers.c)? Those without gap windows do, without a state TTL:
 * all of a key's entries are then `within` entries. (Under a TTL an
 * entry that fires for nothing may still find the key idle and drop its
 * partial matches then: the entries stay one per window, as they were.) */
static inline int timers_per_key(const cep_engine *e, const pat_rt *rt) {
    return !rt->has_gaps && rt->within_lane != NO_LANE && e->cfg.state_ttl <= 0;
}
/* After a `within` entry of ks fired at d: the key's next window end
 * armed in the re-arm lane, if the pattern keeps one entry per key and
 * ks still has a window to close. */
void timers_rearm(cep_engine *e, key_state *ks, int64_t d);
/* Add an entry (room must have been reserved, or it is tried here). */
int timers_add(cep_engine *e, uint32_t lane, int64_t deadline, key_state *ks);
/* The earliest deadline of any lane, INT64_MAX when none. */
static inline int64_t timers_next(const cep_engine *e) { return e->timers.next_due; }
/* Remove every entry due at exactly d into e->due; returns their count. */
size_t timers_take(cep_engine *e, int64_t d);
/* Drop the entries of oversized lanes that stand for nothing any more
 * (between events: keys may be freed). */
void timers_compact(cep_engine *e);
/* Drop every entry; keys that held nothing but entries are freed. */
void timers_clear(cep_engine *e);
/* Entries of every key made again (after restore or a program change);
 * -1 (no entries then) when memory runs out. */
int timers_rebuild(cep_engine *e);
/* Arm the TTL entry of ks if TTL is on, it holds state and has none. */
void timers_arm_ttl(cep_engine *e, key_state *ks);
/* Entries for partial match p of ks: its gap window, and its `within`
 * window when it starts a new family (the first of its start). */
int timers_arm_pm_slow(cep_engine *e, key_state *ks, const pm *p, int new_family);

/* ---- emit.c: matches, timeouts, held matches ---- */
void emit_match(cep_engine *e, uint32_t pi, const pm *p, int timeout);
/* Completed matches: emitted now (noSkip) or held back; l emptied. */
void emit_complete(cep_engine *e, uint32_t pi, key_state *ks, pm_list *l);
void emit_release_held(cep_engine *e, uint32_t pi, key_state *ks);
/* out = parts, which is ncut runs each in pm_less order, ending at cut[i],
 * merged into one order (cut NULL: no runs known, sorted); parts emptied.
 * At most PM_MERGE_MAX runs. */
#define PM_MERGE_MAX 64
void pm_merge(cep_engine *e, pm_list *parts, const uint32_t *cut, uint32_t ncut, pm_list *out);
/* Expire what is due at time now in ks (uses e->kids as scratch: never
 * called while a step is under way). */
void emit_prune_expired(cep_engine *e, key_state *ks, int64_t now);
/* cep_engine_finish, where the input's newest event time is last (a pool
 * passes the one over all its engines: the result must not depend on how
 * keys are spread). */
int engine_finish_after(cep_engine *e, int64_t last);
/* When partial match p's window closes (INT64_MAX: never, also for a
 * window that ends at INT64_MAX or would pass it: the end of time). */
int64_t pm_deadline(const nfa_pattern *pat, const pm *p);

/* ---- step.c: one event through one pattern ---- */
typedef struct step_in {
    cep_event *ev;       /* the event under test */
    const cep_value *row; /* its values (a stored event's decoded) */
    cep_event **stored;  /* its kept copy, made on the first TAKE */
    int straggler;       /* behind the watermark, within the allowed lateness */
    int own;             /* ev is this engine's stored event (its buffer's):
                          * kept by reference; any other, even another
                          * engine's stored event, is copied */
    uint64_t maybe;      /* states (below 64) whose gate the event may open:
                          * the others' are closed, unread (nfa_route.maybe) */
    int exact_dispatch;  /* maybe decides the dispatch too (nfa_route.exact_dispatch) */
    uint64_t sure;       /* states (below 64, in maybe) whose gate the event
                          * opens, unread (nfa_route.sure, thresholds passed) */
} step_in;
int step_pattern(cep_engine *e, uint32_t pi, step_in *in);
/* step_pattern for a pattern in a key group whose fresh_start the event
 * opens for sure (in->sure) and whose key (looked up in its gcache for
 * this event) has no state, with no partition, budget, TTL or compact
 * form: the one partial match it starts, made straight. */
int step_start_fresh(cep_engine *e, uint32_t pi, step_in *in);
/* Does state s's condition (gate and rest; one that reads only the event)
 * hold for row? */
int step_cond(cep_engine *e, const nfa_pattern *pat, uint32_t s, const cep_value *row);
/* The event under test as a stored event (kept on first use). */
cep_event *step_stored(cep_engine *e, step_in *in);
/* Encode the key of vals for pattern pi into e->keybuf. */
int step_encode_key(cep_engine *e, uint32_t pi, const cep_value *vals, uint32_t *len);
/* What push_many's fetch ahead knows of a row's key: its hash (stage 0;
 * 0: none), and its group's entry as found (stage 2; NULL: none; cleared
 * when the entry is freed). */
typedef struct ahead_key {
    uint64_t hash;
    key_entry *ent;
} ahead_key;
#define AHEAD_RING 16
/* Fetch into cache what pushing ev will read, a few events ahead: its
 * key's slot in the key table (stage 0), the key state the slot names (1,
 * once the slot has come), the events of its partial matches that ev's
 * gates let it step (2, once the key state has come). Stage 0 makes the
 * key's hash in ak->hash; the later stages take it from there, and a key
 * group's stage 2 leaves the entry it found in ak->ent. */
void engine_prefetch_key(cep_engine *e, const cep_event *ev, int stage, ahead_key *ak);

/* ---- visit.c: the patterns an event visits ---- */
/* One pattern the route sends an event to, and what it says of its gates. */
typedef struct route_visit {
    uint64_t maybe;      /* as step_in.maybe (all ones: not known) */
    uint64_t sure;       /* as step_in.sure */
    uint32_t pi;
    uint32_t exact;      /* maybe is the route's for the event's value */
} route_visit;
/* The patterns an event visits, in pattern order. Most events reach one
 * list, a routed value's: it is read in place from the route (pi, maybe,
 * sure), less the gates its thresholds close (engine_scratch.closed,
 * beside them; set back to zeros as it is read); any other set is merged
 * into v (pi NULL). */
typedef struct visit_set {
    const uint32_t *pi;
    const uint64_t *maybe, *sure;
    const route_visit *v;
} visit_set;
struct nfa_route;
/* The visits of the event of vals into *vs (scratch until the next call):
 * how many, or -1 when memory runs out. */
int visit_build(cep_engine *e, const struct nfa_route *r, const cep_value *vals, visit_set *vs);

/* ---- budget.c: the memory budget ---- */
/* Bytes the engine holds for the stream (stats.memory). */
uint64_t engine_memory(const cep_engine *e);
/* New partial matches one in state s can make from an event; *work
 * counts the effort spent on the pattern (beyond a cap: the plain bound). */
uint32_t budget_state_outputs(const nfa_pattern *pat, uint32_t s, size_t *work);
/* Before key ks (NULL: none yet) of pattern pi steps over in->ev: drop
 * partial matches until what the step can add fits in the budget. */
void budget_before_step(cep_engine *e, uint32_t pi, key_state *ks, step_in *in);
/* After a call: drop partial matches until the state fits. */
void budget_drop(cep_engine *e);
/* Free the scratch arrays (and an empty buffer's heap). */
void budget_trim(cep_engine *e);
/* At the end of input: free every array kept for the stream that is empty. */
void budget_release(cep_engine *e);

/* ---- inline fast paths ---- */

/* Look up the key of vals in rt's key group, into its gcache (step.c). */
int group_lookup_slow(cep_engine *e, const pat_rt *rt, const cep_value *vals);

/* The entry of pi's key group for the key of vals (NULL: none); CEP_OK or
 * the error of encoding the key (then *ent NULL). Inline: the visits ask
 * it once an event. */
static inline int pattern_group_entry(cep_engine *e, uint32_t pi, const cep_value *vals, key_entry **ent) {
    const gcache *c = &e->keyset.gcache[e->rt[pi].kgroup];
    int rc = c->stamp == e->scratch.ev_stamp ? CEP_OK : group_lookup_slow(e, &e->rt[pi], vals);
    *ent = rc == CEP_OK ? c->ent : NULL;
    return rc;
}

/* Has pattern pi (in a key group) no state for the key of vals? Asked of
 * many patterns an event passes over: the group's entry is looked up
 * once per event, then one probe each. */
static inline int pattern_keyless(cep_engine *e, uint32_t kgroup, uint32_t pi, const cep_value *vals) {
    const gcache *c = &e->keyset.gcache[kgroup];
    if (c->stamp != e->scratch.ev_stamp && group_lookup_slow(e, &e->rt[pi], vals) != CEP_OK)
        return 0; /* step_pattern reports it */
    return !c->ent || !entry_get(c->ent, pi);
}

/* timers_arm_pm's usual case, a `within` entry later than all the lane
 * holds, appended where it goes; anything else takes timers.c's path.
 * What it reads of the pattern is in its pat_fresh (f). */
static inline __attribute__((always_inline)) int timers_arm_fresh(cep_engine *e, key_state *ks, const pm *p,
                                                                  int new_family, const pat_fresh *f) {
    if (!f->has_gaps && new_family && f->within_lane != NO_LANE && p->start <= INT64_MAX - f->within_ms) {
        /* One entry per key (timers_per_key): an entry the key has
         * pending ends no later than this window when it starts at or
         * after every window armed so far; when that entry fires, the
         * next window's end is armed (timers_rearm). (front is INT64_MAX
         * under a state TTL: nothing is covered.) */
        if (p->start >= e->timers.front && e->timers.front != INT64_MAX) {
            e->timers.front = p->start;
            if (ks->timers) return 0;
        }
        lane *l = &e->timers.lanes[f->within_lane];
        int64_t d = p->start + f->within_ms;
        timer_ent *last;
        if (l->lo < l->hi && l->hi < l->cap && (last = lane_at(l, l->hi - 1))->deadline <= d) {
            /* (the next position: in last's chunk unless it starts one) */
            *(l->hi & (LANE_CHUNK - 1) ? last + 1 : lane_at(l, l->hi)) = (timer_ent){d, ks};
            l->hi++;
            ks->timers++;
            return 0;
        }
    }
    if (!f->has_gaps && (!new_family || f->within_lane == NO_LANE)) return 0;
    return timers_arm_pm_slow(e, ks, p, new_family);
}

static inline __attribute__((always_inline)) int timers_arm_pm(cep_engine *e, key_state *ks, const pm *p,
                                                               int new_family) {
    return timers_arm_fresh(e, ks, p, new_family, &e->fresh[key_pattern(ks)]);
}

/* Fill in q.hint for the state q waits in (see pm.hint). (The state
 * without a hint, most, inline; the search for the step out of line.) */
static void pm_find_hint(const nfa_state *st, pm *q);
static inline __attribute__((always_inline)) void pm_set_hint(const nfa_pattern *pat, pm *q) {
    const nfa_state *st = &pat->states[q->state];
    q->hinted = 0;
    if (st->hint) pm_find_hint(st, q);
}

static __attribute__((noinline, unused)) void pm_find_hint(const nfa_state *st, pm *q) {
    const expr *r = st->rest;
    for (const pm_node *n = q->node; n; n = n->parent)
        if ((int32_t)n->step == r->step) { /* the newest event of the step, as expr_holds reads */
            cep_value v = event_stored_value(node_ev(n), (uint32_t)r->slot2);
            if (v.type == CEP_INT && v.u.i >= INT32_MIN && v.u.i <= INT32_MAX) {
                q->hint = (int32_t)v.u.i;
                q->hinted = 1;
            }
            return;
        }
}

#endif
