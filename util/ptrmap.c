/* ptrmap.c — a hash map from pointers to 32-bit numbers (see ptrmap.h). */
#include "config.h"
#include "ptrmap.h"
#include "hash.h"
#include "mem.h"

#include <string.h>

static size_t ptr_slot(const ptrmap *m, const void *p) {
    return (size_t)hash_bytes(&p, sizeof p, 0) & (m->cap - 1);
}

uint32_t ptr_get(const ptrmap *m, const void *p) {
    if (!m->cap) return PTRMAP_NONE;
    for (size_t i = ptr_slot(m, p);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i]) return PTRMAP_NONE;
        if (m->keys[i] == p) return m->vals[i];
    }
}

int ptr_put(ptrmap *m, const void *p, uint32_t v) {
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        ptrmap nm = {mem_calloc(ncap, sizeof *nm.keys), mem_calloc(ncap, sizeof *nm.vals), ncap, 0};
        if (!nm.keys || !nm.vals) {
            mem_free(nm.keys);
            mem_free(nm.vals);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) ptr_put(&nm, m->keys[i], m->vals[i]);
        mem_free(m->keys);
        mem_free(m->vals);
        *m = nm;
    }
    size_t i = ptr_slot(m, p);
    while (m->keys[i]) i = (i + 1) & (m->cap - 1);
    m->keys[i] = p;
    m->vals[i] = v;
    m->n++;
    return 0;
}

void ptr_clear(ptrmap *m) {
    if (m->cap) memset(m->keys, 0, m->cap * sizeof *m->keys);
    m->n = 0;
}

void ptr_free(ptrmap *m) {
    mem_free(m->keys);
    mem_free(m->vals);
}
