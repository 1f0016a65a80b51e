/* suggest.c — the nearest name to a misspelt one (suggest.h): optimal
 * string alignment distance (insertions, deletions, substitutions and
 * swaps of neighbours), with '_' and '-' and letter case counted as equal. */
#include "config.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "suggest.h"

static int same(char a, char b) {
    if (a == '_') a = '-';
    if (b == '_') b = '-';
    return tolower((unsigned char)a) == tolower((unsigned char)b);
}

/* Distance of a and b, or max + 1 once it is surely above max. */
static size_t distance(const char *a, const char *b, size_t max) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64) return max + 1;
    if ((n > m ? n - m : m - n) > max) return max + 1;
    size_t d[65][65];
    for (size_t i = 0; i <= n; i++) d[i][0] = i;
    for (size_t j = 0; j <= m; j++) d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t cost = same(a[i - 1], b[j - 1]) ? 0 : 1;
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]) && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

const char *suggest_nearest(const char *word, const char *const *names, size_t n) {
    /* A typo: at most a third of the word wrong (1 for short words). */
    size_t len = strlen(word), max = len < 6 ? 1 : len / 3;
    const char *best = NULL;
    size_t bestd = max + 1;
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(word, names[i], max);
        /* Also a prefix of a name: --max-del for --max-delay. */
        if (d > 0 && len >= 3 && strlen(names[i]) > len && !strncmp(word, names[i], len)) d = 1;
        if (d < bestd) bestd = d, best = names[i];
    }
    return best;
}
