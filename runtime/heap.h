/* heap.h — a binary min-heap of pointers that tells each item where it sits,
 * so an item can be re-keyed or removed in O(log n). Used for the
 * out-of-order buffer (events by time) and for timers (keys by deadline). */
#ifndef CEP_HEAP_H
#define CEP_HEAP_H

#include <stddef.h>

typedef struct heap {
    void **v;
    size_t n, cap;
    int (*less)(const void *a, const void *b);
    void (*moved)(void *item, size_t pos); /* may be NULL */
} heap;

int heap_push(heap *h, void *item);           /* 0 or -1 (ENOMEM) */
static inline void *heap_top(const heap *h) { return h->n ? h->v[0] : NULL; } /* NULL when empty */
void *heap_pop(heap *h);
void heap_remove(heap *h, size_t pos);
void heap_fix(heap *h, size_t pos);            /* after the key at pos changed */
void heap_free(heap *h);

#define HEAP_NONE ((size_t)-1)

#endif
