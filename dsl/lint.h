/* lint.h — interface of lint.c: warnings about checked patterns (what
 * compiles but is likely a mistake or costly), for cep_lint. */
#ifndef CEP_LINT_H
#define CEP_LINT_H

#include <stddef.h>
#include "ast.h"
#include "diag.h"
#include "relint.h"

/* Add the warnings of pats (checked: step indices set) to w; text is the
 * source the spans point into; rx runs the regexes (NULL: no search for
 * catastrophic backtracking). 0, or -1 when out of memory. */
int lint_patterns(const ast_pattern *pats, const char *text, size_t len, cep_diag *w,
                  lint_regex_fn rx);

#endif
