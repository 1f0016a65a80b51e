/* expr.h — compiled conditions and emit expressions: trees whose leaves are
 * field slots and resolved step references (never names), evaluated against
 * the event under test and the partial match it would extend. */
#ifndef CEP_EXPR_H
#define CEP_EXPR_H

#include <stdint.h>
#include "cepheus.h"
#include "nfa.h"

/* Operators of compiled nodes: the compiler's own list, translated from
 * the parser's expr_op (compile.c), so that the engine never reads the
 * syntax tree's enums. Ranges are tested (NFA_OP_EQ .. NFA_OP_GE compare),
 * so the order matters. */
typedef enum nfa_op {
    NFA_OP_NONE,
    NFA_OP_OR, NFA_OP_AND, NFA_OP_NOT,
    NFA_OP_EQ, NFA_OP_NE, NFA_OP_LT, NFA_OP_LE, NFA_OP_GT, NFA_OP_GE,
    NFA_OP_ADD, NFA_OP_SUB, NFA_OP_MUL, NFA_OP_DIV, NFA_OP_MOD, NFA_OP_NEG,
    NFA_OP_MATCH, NFA_OP_NOMATCH,
    NFA_AGG_COUNT, NFA_AGG_SUM, NFA_AGG_AVG, NFA_AGG_MIN, NFA_AGG_MAX
} nfa_op;

typedef enum xkind {
    XK_CONST,   /* k */
    XK_SLOT,    /* field of the event under test */
    XK_REF,     /* step[index].field of the partial match */
    XK_AGG,     /* op AGG_*: over the partial match's events of a step;
                 * slot2: its accumulator in the pattern's agg_block,
                 * index: the slot that accumulator adds up (-1: it only
                 * counts), fn: how many accumulators the pattern has */
    XK_CALL,    /* built-in function fn */
    XK_UCALL,   /* user function fn */
    XK_UNARY,   /* op NFA_OP_NOT / NFA_OP_NEG */
    XK_BINARY,  /* op: NFA_OP_AND ... NFA_OP_MOD */
    XK_MATCH,   /* regex; op NFA_OP_MATCH or NFA_OP_NOMATCH */
    XK_IN,      /* a in args */
    XK_ISNULL,  /* a == null (op NFA_OP_EQ) or a != null (NFA_OP_NE) */
    XK_SLOT_CMP, /* field of the event under test (slot) op constant k: the
                  * most common condition, evaluated without recursion */
    XK_REF_CMP  /* field of the event under test (slot) op step.field (step,
                 * slot2; the newest event of the step), or the other way
                 * round when swapped: `item == click.item` in one node */
} xkind;

struct expr {
    uint8_t kind, op;
    uint8_t swapped;    /* XK_REF_CMP: written as step.field op field */
    int has_index;
    int32_t slot, step, fn, slot2;
    int64_t index;
    cep_value k;
    const regex *re;
    expr *a, *b;
    expr **args;
    uint32_t nargs;
    expr *next_alloc;   /* every node of a program, for freeing */
};

/* Built-in functions, indexed by fn of XK_CALL. */
enum builtin {
    BI_EXISTS, BI_LEN, BI_LOWER, BI_UPPER, BI_ABS, BI_CONTAINS, BI_STARTS_WITH,
    BI_COUNT_
};
/* Index of a built-in name, -1 if none; nargs gets its arity. */
int builtin_lookup(const char *name, int *nargs);
const char *builtin_name(int fn);

/* Scratch memory for strings made while evaluating (lower/upper, user
 * functions): chunks kept until expr_ctx_reset. */
typedef struct scratch_chunk scratch_chunk;

typedef struct eval_ctx {
    const cep_program *prog;
    const cep_value *row;      /* event under test; NULL while emitting */
    const pm_node *chain;      /* accepted events, newest first */
    void *match_data;          /* pcre2_match_data for regexes */
    scratch_chunk *scratch;
    uint64_t regex_errors;     /* match/depth limit hits and the like */
    uint64_t fn_errors;        /* user functions that returned an error */
    int oom;                   /* scratch allocation failed (a value became null) */
    uint64_t agg_bytes;        /* held by agg_blocks of nodes (expr_agg_free) */
    const pm_node **agg_stk;   /* scratch for filling accumulators */
    size_t agg_nstk, agg_capstk;
} eval_ctx;

/* Prepare/teardown a context (allocates the regex match data). */
int expr_ctx_init(eval_ctx *c, const cep_program *p);
void expr_ctx_free(eval_ctx *c);
/* Forget scratch strings (call between top-level evaluations). */
void expr_ctx_reset(eval_ctx *c);

cep_value expr_eval(const expr *e, eval_ctx *c);
/* Free node n's aggregates (when the node goes); n->agg becomes NULL. */
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

/* Evaluate built-in fn on argv (strings made go to c's scratch). */
cep_value builtin_call(int fn, const cep_value *argv, int argc, eval_ctx *c);
/* Copy n bytes into scratch memory that lives until expr_ctx_reset. */
char *expr_scratch(eval_ctx *c, size_t n);

#endif
