/* relint.h — interface of relint.c: subjects that make a backtracking
 * regex matcher give up, for the regex warning. */
#ifndef CEP_RELINT_H
#define CEP_RELINT_H

#include <stddef.h>

/* Run the regex on subject (n bytes) as the engine does: 1 when the
 * matcher gives up (its match limit), 0 when it decides, -1 when out of
 * memory. */
typedef int (*relint_probe)(void *ud, const char *subject, size_t n);

/* The subject found: prefix, pump repeated pumps times, tail, then post. */
typedef struct relint_found {
    size_t offset; /* of the repeat's quantifier in the regex */
    char prefix[64], pump[64], post[64];
    size_t prefix_len, pump_len, post_len;
    int pumps;
    char tail;
} relint_found;

/* Search re (PCRE2 syntax, NUL-terminated, no x flag) for a repeat that
 * backtracks catastrophically, trying subjects built from its structure
 * with probe, at most *budget of them (decremented: a hostile file cannot
 * make the search long). 1 with *out when a subject made the matcher give
 * up, 0 when none did (or re uses constructs the search does not follow),
 * -1 when out of memory. */
int relint_backtracks(const char *re, relint_probe probe, void *ud, int *budget, relint_found *out);

/* The regex check cep_lint runs (nfa/ gives PCRE2's): 1 with *out, 0, -1
 * when out of memory. */
typedef int (*lint_regex_fn)(const char *re, const char *flags, int *budget, relint_found *out);

#endif
