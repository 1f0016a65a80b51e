/* nfa.h — the compiled form of a program: one NFA per pattern, in the
 * spirit of Flink's NFA (states joined by TAKE / IGNORE / PROCEED edges),
 * with conditions compiled to expression trees over field slots. Everything
 * here is immutable once compiled; engines only read it. */
#ifndef CEP_NFA_H
#define CEP_NFA_H

#include <stdint.h>
#include <stddef.h>
#include "cepheus.h"

typedef struct expr expr;
typedef struct regex regex;

/* Skip strategies after a match (Flink's AfterMatchSkipStrategy): the
 * compiler's own list, translated from the parser's skip_kind, so that the
 * engine never reads the syntax tree's enums. */
typedef enum nfa_skip {
    NFA_SKIP_NO_SKIP,
    NFA_SKIP_TO_NEXT,
    NFA_SKIP_PAST_LAST_EVENT,
    NFA_SKIP_TO_FIRST,
    NFA_SKIP_TO_LAST
} nfa_skip;

typedef enum edge_kind {
    EDGE_TAKE,    /* consume the event, record it under the state's step */
    EDGE_IGNORE,  /* skip the event, stay (relaxed contiguity) */
    EDGE_PROCEED  /* move on without consuming (epsilon) */
} edge_kind;

typedef struct nfa_edge {
    const expr *cond;     /* NULL: always true */
    uint32_t target;      /* state index */
    uint8_t kind;         /* edge_kind */
    uint8_t negate;       /* the edge holds when cond is NOT true */
} nfa_edge;

typedef enum state_kind {
    ST_NORMAL,
    ST_FINAL,     /* reaching it completes a match */
    ST_STOP,      /* reaching it discards the partial match (negation) */
    ST_PENDING    /* trailing notFollowedBy: completes when its window closes */
} state_kind;

/* The edge shapes most states have, which the engine steps without the
 * general decision graph (automaton.c's set_shape finds them). */
typedef enum state_shape {
    SHAPE_GENERAL, /* anything else: Flink's decision graph */
    SHAPE_FOLLOW,  /* TAKE c -> target, IGNORE not c -> itself (followedBy) */
    SHAPE_NEXT,    /* TAKE c -> target, nothing else (next) */
    SHAPE_NEGATE,  /* PROCEED c -> a stop state, IGNORE not c -> itself
                    * (waiting on notFollowedBy) */
    SHAPE_ANY      /* TAKE c -> target, IGNORE (always) -> itself
                    * (followedByAny: the partial match branches) */
} state_shape;

typedef struct nfa_state {
    state_kind kind;
    uint32_t step;        /* step whose events TAKE edges record */
    uint32_t first_edge;  /* edges[first_edge .. first_edge + nedges) */
    uint32_t nedges;
    int64_t gap_ms;       /* > 0: the next event must come sooner than this
                           * after the last one taken (per-step window) */
    uint8_t shape;        /* state_shape */
    uint8_t has_proceed;  /* has a PROCEED edge */
    uint8_t hint;         /* rest is one `field == step.field` node (the
                           * engine keeps the step's value per partial match) */
    uint8_t shared;       /* GENERAL: its decision graph reads only the event
                           * (no step reference, aggregate, user function or
                           * gap on the way), so it comes out the same for
                           * every partial match waiting here */
    uint32_t target;      /* FOLLOW, NEXT, ANY: the TAKE edge's target */
    /* Shapes other than GENERAL: c split into the conjunct that reads only
     * the event (gate, NULL if none) and what remains (rest, NULL: true).
     * When the gate does not hold, a partial match stays as it is (FOLLOW,
     * NEGATE, ANY) or ends (NEXT), so the gate is tested once per event for
     * all the partial matches of a key that wait in this state. */
    const expr *gate;
    const expr *rest;
} nfa_state;

typedef struct nfa_step {
    char *name;
} nfa_step;

typedef struct nfa_pattern {
    /* (pointers and 64-bit fields first, then the narrow ones: no padding;
     * a program of thousands of rules has one of these each) */
    char *name;
    uint64_t fingerprint;     /* of the pattern's syntax tree: same text, same NFA */
    int *key_slots;           /* slot of each key field */
    char **key_names;
    int64_t within_ms;
    nfa_step *steps;
    nfa_state *states;
    nfa_edge *edges;
    char **emit_names;
    expr **emit_exprs;
    uint64_t dispatch_states;
    struct gate_key *dispatch;
    uint32_t nkeys;
    uint32_t nsteps;
    uint32_t start;           /* the start state */
    uint32_t nstates;
    uint32_t nedges;
    uint32_t nemit;
    uint32_t max_outputs;     /* most outputs one decision graph can have */
    uint32_t ndispatch;
    /* Gates `field == constant` on one field, decided by one lookup per
     * event: the states (below 64) whose gate that is (dispatch_states),
     * and per constant the states it opens (automaton.c's set_dispatch). */
    int32_t dispatch_slot;    /* -1: none */
    int32_t skip_step;        /* toFirst / toLast target, -1 otherwise */
    nfa_skip skip;
    uint8_t has_within;
    /* An event that opens no gate changes nothing of the pattern for any
     * key (every state that can hold a partial match keeps it on a closed
     * gate); undispatched: some gate is not decided by the dispatch. */
    uint8_t skippable, undispatched;
    /* Every combination, kept compactly (runtime/tecs.c): a chain of
     * single-event steps joined by followedByAny, every condition reading
     * only the event, no gap, no aggregate in emit, skip noSkip. The
     * engine keeps per step a list of the events taken instead of one
     * partial match per combination (automaton_compact). */
    uint8_t compact;
} nfa_pattern;

typedef struct gate_key {
    cep_value k;              /* an int or string constant */
    uint64_t opens;           /* states whose gate is `field == k` */
} gate_key;

/* A user function registered on a cep_compiler. */
typedef struct user_fn {
    char *name;
    int nargs;
    cep_function_fn fn;
    void *userdata;
} user_fn;

/* Where a field is first read: for messages (not in the fingerprint). */
typedef struct field_origin {
    uint32_t pattern;         /* index of the pattern */
    int line;                 /* 1-based line of the pattern text */
} field_origin;

/* The fields a program reads, as the JSON readers walk them: a level is
 * one object of the event (levels[0] the event itself), its members the
 * keys read there. A member is read into a slot, or looked into (child),
 * or both (an object read whole is null; see language.md). */
typedef struct field_member {
    const char *name;         /* the key (into the program's field_parts) */
    uint32_t len;
    int32_t slot;             /* -1: only a way to nested fields */
    int32_t child;            /* level under it, -1: none */
} field_member;

typedef struct field_level {
    uint32_t first, n;        /* members[first .. first + n) */
} field_level;

/* Fields one program reads at most: a stored event counts them in 16 bits
 * (runtime/event.h). */
#define NFA_MAX_FIELDS 65535

struct cep_program {
    uint64_t fingerprint;     /* of every pattern and field: snapshots check it */
    uint32_t npatterns;
    nfa_pattern *patterns;
    uint32_t nfields;     /* at most NFA_MAX_FIELDS */
    char **fields;            /* slot -> name (fieldpath.h's text form) */
    field_origin *field_origins; /* slot -> first read */
    char **field_parts;       /* slot -> its path's parts, each NUL-ended */
    uint32_t *field_nparts;   /* slot -> number of parts (1: top level) */
    uint32_t nlevels, nmembers;
    field_level *levels;
    field_member *members;
    uint32_t nfns;
    user_fn *fns;             /* copies of the compiler's registrations */
    expr *exprs;              /* every expression node, one block (pack.c) */
    regex *regexes;           /* every compiled regex, freed together */
    struct nfa_route *route;  /* which patterns an event concerns (route.h); NULL: all */
};

struct cep_compiler {
    uint32_t nfns;
    size_t cap;
    user_fn *fns;
};

/* Slot for a field name, -1 when the program does not read it. */
int program_slot(const cep_program *p, const char *name, size_t len);

/* The member of level lvl named k[0..n), or NULL. */
static inline const field_member *program_member(const cep_program *p, int lvl, const char *k, size_t n) {
    const field_level *l = &p->levels[lvl];
    if (!l->n) return NULL; /* (no members at all: members is NULL) */
    const field_member *m = p->members + l->first;
    for (uint32_t i = 0; i < l->n; i++) {
        if (m[i].len != n) continue;
        uint32_t j = 0; /* keys are short: a loop beats a call to memcmp */
        while (j < n && m[i].name[j] == k[j]) j++;
        if (j == n) return &m[i];
    }
    return NULL;
}

/* Split every field's name into its path and build the levels above
 * (after the checker has given every field its slot). CEP_OK or
 * CEP_ENOMEM. */
int program_index_fields(cep_program *p);

#endif
