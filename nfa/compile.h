/* compile.h — shared by the two halves of the compiler: compile.c (the
 * driver and expression trees) and automaton.c (steps to NFA states). */
#ifndef CEP_COMPILE_H
#define CEP_COMPILE_H

#include "ast.h"
#include "expr.h"
#include "nfa.h"

typedef struct cctx {
    cep_program *prog;
    cep_diag *d;
    int oom;
    int failed;      /* a diagnostic was reported */
    /* The aggregates of the pattern being compiled: one accumulator per
     * (step, field), or per step for count (runtime/eval.c's agg_block). */
    expr **aggs;
    size_t naggs, capaggs;
    struct xchunk *chunks; /* scratch memory of the nodes (compile.c) */
    size_t nnodes;         /* nodes built */
} cctx;

/* Compile an expression tree (NULL on out-of-memory, c->oom set). */
expr *compile_expr(cctx *c, const ast_expr *a);
/* Condition combinators over compiled trees; NULL in means "absent" only
 * where said. All return NULL on out-of-memory. */
expr *cond_true(cctx *c);
expr *cond_not(cctx *c, expr *a);
expr *cond_and(cctx *c, expr *a, expr *b);

/* Build the states and edges of np from the checked pattern ap, the way
 * Flink's NFACompiler does. 0, or -1 (c->oom or c->failed set). */
int automaton_build(cctx *c, nfa_pattern *np, const ast_pattern *ap);
/* Can the engine keep np's partial matches compactly (nfa_pattern.compact)?
 * Call once its skip strategy and emit are set. */
int automaton_compact(const nfa_pattern *np);

/* After the nodes are packed: the gates decided by one lookup per event,
 * and whether an event that opens none can be skipped. 0 or -1 (out of
 * memory). */
int automaton_dispatch(nfa_pattern *np);

/* Copy the nodes the patterns of prog reach (conditions, gates, emit
 * expressions) into one block, equal subtrees once, and point the
 * patterns at the copies (pack.c); nnodes bounds how many there are.
 * CEP_OK or CEP_ENOMEM (the patterns then still point at the scratch). */
int nfa_pack_exprs(cep_program *prog, size_t nnodes);

/* Compile checked patterns into prog (fields already assigned by the
 * checker). Errors (regex) go to d. Returns CEP_OK, CEP_EPATTERN or
 * CEP_ENOMEM. */
int nfa_compile(cep_program *prog, const ast_pattern *pats, cep_diag *d);

/* Most states one pattern may compile to (quantifier bounds multiply). */
#define MAX_STATES 10000
_Static_assert(MAX_STATES <= 65535, "the engine keeps a partial match's state in 16 bits (runtime/engine.h)");

#endif
