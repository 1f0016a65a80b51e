/* suggest.h — "did you mean": the nearest of some names to a misspelled
 * one, for the parser's and the checker's messages. */
#ifndef CEP_SUGGEST_H
#define CEP_SUGGEST_H

#include <stddef.h>

/* Edit distance between a and b (insertions, deletions, substitutions and
 * swaps of neighbours cost 1; a change of case alone costs nothing). */
size_t suggest_distance(const char *a, size_t an, const char *b, size_t bn);

/* The candidate nearest to s when it is near enough to be a likely typo
 * (case ignored; one edit for 3 to 5 characters, a third of the length
 * beyond, none below 3),
 * else NULL. Ties go to the first candidate. */
const char *suggest_nearest(const char *s, size_t n, const char *const *cands, size_t ncands);

#endif
