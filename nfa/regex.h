/* regex.h — regex literals of conditions, compiled once through PCRE2
 * (JIT where available) with match and depth limits. */
#ifndef CEP_REGEX_H
#define CEP_REGEX_H

#include <stddef.h>

typedef struct regex regex;

/* Compile pattern text pat (n bytes) with flags ("imsxu" letters already
 * validated by the checker). On failure returns NULL and, unless it ran out
 * of memory (*erroff == (size_t)-1), fills msg and *erroff (byte offset in
 * pat). */
regex *regex_compile(const char *pat, size_t n, const char *flags,
                     char *msg, size_t msgsz, size_t *erroff);
/* 1 match, 0 no match, -1 error (limit hit, bad UTF-8...). */
int regex_match(const regex *re, const char *s, size_t n, void *match_data);
/* Free a chain of regexes linked by regex_next. */
void regex_free_all(regex *re);
void regex_link(regex *re, regex **list);
void *regex_match_data_new(void);
void regex_match_data_free(void *md);
/* The regex warning's check (a lint_regex_fn, dsl/relint.h): does a
 * subject built from pat's structure make PCRE2 give up, as it would at
 * run time (same compile options, JIT, match limit)? At most *budget
 * subjects are tried. 1 with *out, 0, -1 when out of memory. */
struct relint_found;
int regex_backtracks(const char *pat, const char *flags, int *budget, struct relint_found *out);
/* Is c a known flag letter? */
int regex_flag_ok(char c);

#endif
