/* suggest.h — "did you mean ...?": the nearest of a list of names to a
 * misspelt one (command-line options and commands). */
#ifndef CEP_SUGGEST_H
#define CEP_SUGGEST_H

#include <stddef.h>

/* The name of names[0..n) nearest to word (edit distance, '_' and '-'
 * alike, case ignored), or NULL when none is near enough to be a typo. */
const char *suggest_nearest(const char *word, const char *const *names, size_t n);

#endif
