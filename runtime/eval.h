/* eval.h — evaluating compiled conditions and emit expressions (nfa/expr.h's
 * trees) against the event under test and the partial match it would
 * extend: the engine's side of the compile/evaluate split. The program is
 * only read; everything mutable lives in an eval_ctx, one per engine. */
#ifndef CEP_EVAL_H
#define CEP_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include "cepheus.h"
#include "event.h"
#include "expr.h"
#include "nfa.h"

/* A partial match as conditions see it: a chain of accepted events, newest
 * first, shared between partial matches that have the same prefix. */
typedef struct pm_node pm_node;
typedef struct agg_block agg_block;
/* Most nodes live in the room at the head of their event's block (event.h:
 * most events are taken once), where the event is the bytes right after
 * the node: such a node keeps no pointer to it (at a million keys, 8 bytes
 * of every stored event: issue 18). A node of the pool or of a walk over
 * a compact key (loose) is a pm_lnode, which names its event. node_ev
 * reads either. */
struct pm_node {
    pm_node *parent;   /* the event accepted before it, NULL at the start */
    uint32_t refs;     /* partial matches and child nodes pointing here */
    uint32_t step : 30; /* index of the step that accepted its event */
    uint32_t loose : 1; /* a pm_lnode, not its event's room */
    /* The pattern's aggregates over this node and its parents are filled
     * the first time a condition reads them here, from the parent's: O(1)
     * per event instead of a walk of the chain. They are kept apart, in
     * eval_ctx's table by node (most patterns aggregate nothing, and 8
     * bytes in every node were 8 bytes of every stored event). */
    uint32_t has_agg : 1;
};

/* A node away from its event (loose set). */
typedef struct pm_lnode {
    pm_node n;
    cep_event *ev;     /* the accepted event (reference counted) */
} pm_lnode;

/* The event node n accepted. */
static inline cep_event *node_ev(const pm_node *n) {
    return n->loose ? ((const pm_lnode *)n)->ev : (cep_event *)((char *)n + sizeof(pm_node));
}

/* Scratch memory for strings made while evaluating (lower/upper, user
 * functions): chunks kept until expr_ctx_reset. */
typedef struct scratch_chunk scratch_chunk;

/* A node's aggregates in eval_ctx's table (eval.c). */
struct agg_slot {
    const pm_node *node; /* NULL: empty */
    agg_block *b;
};

typedef struct eval_ctx {
    const cep_program *prog;
    const cep_value *row;      /* event under test; NULL while emitting */
    const pm_node *chain;      /* accepted events, newest first */
    void *match_data;          /* pcre2_match_data for regexes */
    scratch_chunk *scratch;
    uint64_t regex_errors;     /* match/depth limit hits and the like */
    uint64_t fn_errors;        /* user functions that returned an error */
    int oom;                   /* scratch allocation failed (a value became null) */
    uint64_t agg_bytes;        /* held by agg_blocks of nodes (expr_agg_free) and their table */
    struct agg_slot *aggs;     /* the nodes' agg_blocks: open addressing by node */
    size_t agg_cap, agg_n;
    const pm_node **agg_stk;   /* scratch for filling accumulators */
    size_t agg_nstk, agg_capstk;
} eval_ctx;

/* Prepare/teardown a context (allocates the regex match data). */
int expr_ctx_init(eval_ctx *c, const cep_program *p);
void expr_ctx_free(eval_ctx *c);
/* Forget scratch strings (call between top-level evaluations). */
void expr_ctx_reset(eval_ctx *c);

cep_value expr_eval(const expr *e, eval_ctx *c);
/* Free node n's aggregates (when the node goes); n->has_agg becomes 0. */
void expr_agg_free(eval_ctx *c, pm_node *n);
/* A condition holds only when it evaluates to boolean true. Conditions are
 * tested, not valued: and/or/not and the one-node comparisons are decided
 * here without building values; everything else goes through expr_eval. */
int expr_holds(const expr *e, eval_ctx *c);

/* Comparison and arithmetic on values (exposed for unit tests). A null
 * operand makes every comparison false; `== null` and `!= null` written in
 * a pattern compile to XK_ISNULL instead. */
int value_equal(cep_value a, cep_value b);
cep_value value_compare(int op, cep_value a, cep_value b);
cep_value value_arith(int op, cep_value a, cep_value b);

/* The states of pat's dispatch whose gate (`field == constant`) the value
 * v of the dispatch field opens: all those gates decided by one lookup. */
uint64_t eval_dispatch(const nfa_pattern *pat, const cep_value *v);

/* Evaluate built-in fn on argv (strings made go to c's scratch). */
cep_value builtin_call(int fn, const cep_value *argv, int argc, eval_ctx *c);
/* Copy n bytes into scratch memory that lives until expr_ctx_reset. */
char *expr_scratch(eval_ctx *c, size_t n);

#endif
