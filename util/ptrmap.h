/* ptrmap.h — a hash map from pointers to 32-bit numbers, for walks over
 * shared structures (snapshots number nodes and events, a program change
 * maps old events to their new copies). Open addressing, never shrinks. */
#ifndef CEP_PTRMAP_H
#define CEP_PTRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ptrmap {
    const void **keys;
    uint32_t *vals;
    size_t cap, n;
} ptrmap;

#define PTRMAP_NONE 0xFFFFFFFFu

/* The number stored for p, or PTRMAP_NONE. */
uint32_t ptr_get(const ptrmap *m, const void *p);
/* Store p -> v (p must not be there yet). 0, or -1 when out of memory. */
int ptr_put(ptrmap *m, const void *p, uint32_t v);
/* Empty m, keeping its room. */
void ptr_clear(ptrmap *m);
void ptr_free(ptrmap *m);

#endif
