/* fieldpath.h — field paths: the names that lead from an event's object to
 * a value inside it (`payload.amount` is "payload" then "amount"), in the
 * text form the language, --time-field and the C API share. A part is
 * written bare up to the next '.', or between backquotes when it holds a
 * '.', '[' or ']' or is empty (`a.b` names one key holding a dot). */
#ifndef CEP_FIELDPATH_H
#define CEP_FIELDPATH_H

#include <stddef.h>
#include <stdint.h>
#include "cepheus.h" /* CEP_DEFAULT_TIME_FIELD */

/* Most parts a path may have (nesting of events is bounded by JSON's 64). */
#define FPATH_MAX 16

typedef struct fpath {
    uint32_t n;                 /* parts; 0 for the empty text */
    const char *part[FPATH_MAX]; /* into the parsed text (not NUL-terminated) */
    size_t len[FPATH_MAX];
} fpath;

/* Split s[0..n) into parts, pointing into s. 0, or -1 for an empty bare
 * part ("a..b", "a."), an unterminated or misplaced backquote, or more
 * than FPATH_MAX parts. */
int fpath_parse(const char *s, size_t n, fpath *out);

/* Does a part need backquotes in the text form? */
int fpath_part_needs_quotes(const char *s, size_t n);

/* The text form of parts[from..p->n): bare where possible, so a top-level
 * field's text is its name. Allocated (mem_free); NULL on ENOMEM. */
char *fpath_text(const fpath *p, uint32_t from);

#endif
