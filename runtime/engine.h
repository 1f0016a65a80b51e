/* engine.h — the engine's internal state: per (pattern, key) partial
 * matches, the out-of-order buffer, timers, and the match view handed to
 * callbacks. Shared by engine.c, keymap.c and match.c. */
#ifndef CEP_ENGINE_H
#define CEP_ENGINE_H

#include <stdint.h>
#include "cepheus.h"
#include "event.h"
#include "expr.h"
#include "heap.h"
#include "nfa.h"

/* A partial match (or a completed one waiting to be emitted). */
typedef struct pm {
    pm_node *node;      /* last accepted event; its parents hold the rest */
    int64_t start;      /* time of the first event */
    uint64_t start_seq; /* processing order of the first event */
    int64_t prev_time;  /* time of the last event taken (gap windows) */
    uint32_t state;
} pm;

typedef struct pm_list {
    pm *v;
    uint32_t n, cap;
} pm_list;

/* State of one key of one pattern. Freed as soon as it holds nothing. */
typedef struct key_state key_state;
struct key_state {
    uint64_t hash;
    uint64_t created;       /* creation order, for deterministic iteration */
    uint32_t pattern;
    uint32_t key_len;       /* bytes of the encoded key */
    pm_list pms;            /* alive partial matches, earliest start first */
    pm_list done;           /* completed matches held back by the skip rule */
    int64_t deadline;       /* earliest time a partial match expires */
    int64_t last_event;     /* time of the key's latest event (state TTL) */
    size_t heap_pos;        /* place in the timer heap, HEAP_NONE if absent */
    key_state *prev, *next; /* all key states in creation order */
    cep_value *keyvals;     /* decoded key values, for matches */
    char *key;              /* encoded key bytes (after the struct) */
};

/* Open-addressing hash table of key states, linear probing. */
typedef struct keymap {
    key_state **slots;
    size_t cap, count;
    uint64_t seed;
} keymap;

key_state *keymap_find(const keymap *m, uint64_t hash, const char *key, uint32_t len);
int keymap_insert(keymap *m, key_state *ks);
void keymap_remove(keymap *m, key_state *ks);
void keymap_free(keymap *m);

/* The view of a match handed to the match callback (reused buffers). */
struct cep_match {
    const nfa_pattern *pat;
    uint32_t pattern_index;
    const cep_value *keyvals;
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

typedef struct cond_result {
    const expr *cond;
    int holds;
} cond_result;

typedef struct node_slab node_slab;
struct node_slab {
    node_slab *next;
    pm_node nodes[NODE_SLAB];
};

struct cep_engine {
    const cep_program *prog;
    int64_t max_delay;
    char *time_field;
    cep_match_fn on_match;
    void *match_ud;
    cep_late_fn on_late;
    void *late_ud;
    cep_tag_fn on_tag;
    void *tag_ud;
    int started, finished, stop, oom, limit_hit;
    uint64_t max_pms;         /* per key and pattern; 0: unlimited */
    int64_t state_ttl;        /* 0: keys keep state until it expires */
    int64_t lateness;         /* allowed lateness behind the watermark */
    uint64_t max_bytes;       /* memory budget of the state; 0: none */
    uint64_t event_bytes;     /* bytes of the stored events */
    int time_mode;            /* CEP_TIME_EVENT or CEP_TIME_PROCESSING */
    cep_clock_fn clock;
    void *clock_ud;
    int64_t last_clock;       /* processing time never goes back */
    int limit_policy;
    int64_t watermark;
    int64_t max_seen;
    uint64_t arrivals;
    uint64_t keys_created;
    cep_event *builder;       /* for cep_engine_push_json */
    eval_ctx ctx;
    keymap keys;
    heap reorder;             /* buffered events by (time, arrival) */
    heap timers;              /* key states by (deadline, creation) */
    key_state *first, *last;  /* key states in creation order */
    pm_node *free_nodes;      /* node pool: partial matches never malloc per event */
    node_slab *slabs;
    pm_list next_pms, completed; /* scratch lists reused for every event */
    u32_list stack, out;      /* scratch for the decision graph */
    cond_result cache[8];     /* conditions already evaluated for this step */
    const expr *gate_expr;    /* the last gate evaluated, for which event, */
    const cep_event *gate_event;
    int gate_open;            /* and its result */
    int ncache;
    cep_match_fn on_timeout;
    void *timeout_ud;
    char *keybuf;
    size_t keybuf_cap;
    cep_match match;          /* the view handed to the match callback */
    cep_stats stats;
    uint32_t part_index, part_count; /* cep_engine_set_partition (runtime/partition.c) */
    char err[256];
};

/* Internal engine operations shared with snapshot.c. */
void engine_set_err(cep_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
cep_event *engine_keep_event(cep_engine *e, const cep_event *ev);
void engine_drop_event(cep_engine *e, cep_event *ev);
pm_node *engine_node_new(cep_engine *e, cep_event *ev, uint32_t step, pm_node *parent);
void engine_node_release(cep_engine *e, pm_node *n);
int engine_list_push(pm_list *l, pm p);
key_state *engine_key_new(cep_engine *e, uint32_t pattern, uint64_t hash, const char *key, uint32_t len);
void engine_key_free(cep_engine *e, key_state *ks);
void engine_key_settle(cep_engine *e, const nfa_pattern *pat, key_state *ks);

#endif
