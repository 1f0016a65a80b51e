/* checker.h — interface of check.c, the semantic checker between parser
 * and compiler: resolves names to step indices and field slots, checks
 * structure and types, and refuses what the engine cannot run yet. Reports
 * every error it finds. */
#ifndef CEP_CHECKER_H
#define CEP_CHECKER_H

#include "ast.h"
#include "nfa.h"

/* Check pats, assigning field slots into prog->fields. Errors go to d.
 * Returns CEP_OK, CEP_EPATTERN (errors were reported) or CEP_ENOMEM. */
int check_patterns(ast_pattern *pats, const cep_compiler *c, cep_program *prog,
                   cep_diag *d);

/* Steps of a pattern in source order, groups flattened (for the compiler). */
typedef struct step_list {
    ast_step **v;
    size_t n, cap;
} step_list;
int check_collect_steps(ast_step *first, step_list *out);

#endif
