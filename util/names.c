/* names.c — see names.h. */
#include "config.h"
#include "names.h"
#include "hash.h"
#include "mem.h"

#include <string.h>

static size_t name_at(const name_index *t, const char *name, size_t len) {
    /* seeded by the table's address: names written to collide in one
     * run's table need not in another's */
    size_t i = (size_t)hash_bytes(name, len, (uint64_t)(uintptr_t)t->k) & (t->cap - 1);
    while (t->k[i] && !(strncmp(t->k[i], name, len) == 0 && t->k[i][len] == '\0')) i = (i + 1) & (t->cap - 1);
    return i;
}

/* The number of name, or UINT32_MAX. */
uint32_t name_get(const name_index *t, const char *name) {
    if (!t->n) return UINT32_MAX;
    size_t i = name_at(t, name, strlen(name));
    return t->k[i] ? t->v[i] : UINT32_MAX;
}

/* name (kept by the caller while t lives) -> v; name must not be there.
 * 0, or -1 when out of memory. */
int name_put(name_index *t, const char *name, uint32_t v) {
    if (2 * (t->n + 1) > t->cap) {
        name_index g = {.cap = t->cap ? 2 * t->cap : 64};
        g.k = mem_calloc(g.cap, sizeof *g.k);
        g.v = mem_alloc(g.cap * sizeof *g.v);
        if (!g.k || !g.v) {
            mem_free(g.k);
            mem_free(g.v);
            return -1;
        }
        for (size_t i = 0; i < t->cap; i++)
            if (t->k[i]) {
                size_t j = name_at(&g, t->k[i], strlen(t->k[i]));
                g.k[j] = t->k[i], g.v[j] = t->v[i];
            }
        g.n = t->n;
        mem_free(t->k);
        mem_free(t->v);
        *t = g;
    }
    size_t i = name_at(t, name, strlen(name));
    t->k[i] = name, t->v[i] = v;
    t->n++;
    return 0;
}

void name_clear(name_index *t) {
    if (t->n) memset(t->k, 0, t->cap * sizeof *t->k);
    t->n = 0;
}

void name_free(name_index *t) {
    mem_free(t->k);
    mem_free(t->v);
}

