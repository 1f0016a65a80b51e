/* diag.h — building the diagnostics list that cep_compile hands back.
 * Errors are recorded with a byte offset; line, column and the rendered
 * "name:line:col: error: msg" + source line + caret come from the source. */
#ifndef CEP_DIAG_H
#define CEP_DIAG_H

#include <stddef.h>
#include "cepheus.h"

/* Start a list for source text (copied) named name (NULL -> "<string>"). */
cep_diag *diag_new(const char *name, const char *src, size_t len);
/* Record an error at byte offset off. Returns 0, or -1 when out of memory
 * (the list then remembers that it is incomplete). printf-style message. */
int diag_add(cep_diag *d, int code, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 1-based line of byte offset off of the source (0 when d is NULL). */
int diag_line_at(cep_diag *d, size_t off);
/* Its 1-based column, in characters as the rendering counts them. */
int diag_col_at(cep_diag *d, size_t off);
/* The same for a warning (severity CEP_SEVERITY_WARNING; cep_lint). */
int diag_warn(cep_diag *d, int code, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sort by offset (stable) and build the rendered text. -1 on ENOMEM. */
int diag_finish(cep_diag *d);
/* Record that an allocation failed elsewhere (e.g. in the parser). */
void diag_set_oom(cep_diag *d);
/* True when an allocation failed while recording (report CEP_ENOMEM). */
int diag_oom(const cep_diag *d);

#endif
