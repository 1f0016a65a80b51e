/* expr.h — compiled conditions and emit expressions: trees whose leaves are
 * field slots and resolved step references (never names), built by the
 * compiler (compile.c) and evaluated by the engine (runtime/eval.c)
 * against the event under test and the partial match it would extend. */
#ifndef CEP_EXPR_H
#define CEP_EXPR_H

#include <stdint.h>
#include "bytes.h"
#include "cepheus.h"
#include "nfa.h" /* regex */

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

/* 48 bytes: the fields a kind does not use share their room (a program of
 * thousands of rules holds a few nodes per rule; issue 17's idle rule).
 * Nodes live in one block per program (compile.c's program_pack), equal
 * subtrees once, so a node's address says nothing of where it came from. */
struct expr {
    uint8_t kind, op;
    uint8_t swapped;    /* XK_REF_CMP: written as step.field op field */
    uint8_t has_index;  /* XK_REF: step[index] */
    int32_t slot, step, fn, slot2;
    uint32_t nargs;
    union {
        cep_value k;    /* XK_CONST, XK_SLOT_CMP */
        int64_t index;  /* XK_REF, XK_AGG */
        struct {        /* the other kinds */
            expr *a;
            union {
                expr *b;           /* XK_BINARY */
                const regex *re;   /* XK_MATCH */
                expr **args;       /* XK_IN, XK_CALL, XK_UCALL */
            };
        };
    };
};

/* Built-in functions, indexed by fn of XK_CALL. */
enum builtin {
    BI_EXISTS, BI_LEN, BI_LOWER, BI_UPPER, BI_ABS, BI_CONTAINS, BI_STARTS_WITH,
    BI_COUNT_
};
/* Index of a built-in name, -1 if none; nargs gets its arity. */
int builtin_lookup(const char *name, int *nargs);
const char *builtin_name(int fn);

/* Is v the constant k of a gate key (same type; no int/double mixing)? */
static inline int gate_key_same(const cep_value *k, const cep_value *v) {
    if (k->type != v->type) return 0;
    if (k->type == CEP_INT) return k->u.i == v->u.i;
    return k->u.s.len == v->u.s.len && same_bytes(k->u.s.ptr, v->u.s.ptr, k->u.s.len);
}

/* The arity of built-in fn (evaluation checks the call against it). */
int builtin_arity(int fn);

#endif
