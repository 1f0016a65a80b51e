/* suggest.c — nearest names for "did you mean" hints (parser.y, check.c). */
#include "config.h"
#include "suggest.h"

#include <string.h>

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Optimal string alignment distance, ignoring case (followedby is one
 * keyword away from followedBy, not two). Names are short: longer ones are
 * never near anything. */
size_t suggest_distance(const char *a, size_t an, const char *b, size_t bn) {
    enum { MAXN = 64 };
    if (an >= MAXN || bn >= MAXN) return (size_t)-1;
    size_t d[MAXN + 1][MAXN + 1];
    for (size_t i = 0; i <= an; i++) d[i][0] = i;
    for (size_t j = 0; j <= bn; j++) d[0][j] = j;
    for (size_t i = 1; i <= an; i++)
        for (size_t j = 1; j <= bn; j++) {
            size_t cost = lower(a[i - 1]) != lower(b[j - 1]);
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1]) &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[an][bn];
}

const char *suggest_nearest(const char *s, size_t n, const char *const *cands, size_t ncands) {
    /* One edit for names of 3 to 5 characters, a third of longer ones;
     * none (only case) for shorter names, where anything is one edit away. */
    size_t limit = n < 3 ? 0 : n / 3 > 1 ? n / 3 : 1;
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < ncands; i++) {
        if (!cands[i]) continue;
        size_t cn = strlen(cands[i]);
        if (cn == n && memcmp(cands[i], s, n) == 0) continue; /* itself: no hint */
        size_t dist = suggest_distance(s, n, cands[i], cn);
        if (dist <= limit && dist < best_d) best = cands[i], best_d = dist;
    }
    return best;
}
