/* heap.c — binary min-heap with position tracking (see heap.h). */
#include "config.h"
#include "heap.h"
#include "mem.h"

static void place(heap *h, size_t i, void *item) {
    h->v[i] = item;
    if (h->moved) h->moved(item, i);
}

static void sift_up(heap *h, size_t i) {
    void *item = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!h->less(item, h->v[parent])) break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, item);
}

static void sift_down(heap *h, size_t i) {
    void *item = h->v[i];
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        void *bv = item;
        if (l < h->n && h->less(h->v[l], bv)) best = l, bv = h->v[l];
        if (l + 1 < h->n && h->less(h->v[l + 1], bv)) best = l + 1, bv = h->v[l + 1];
        if (best == i) break;
        place(h, i, bv);
        i = best;
    }
    place(h, i, item);
}

int heap_push(heap *h, void *item) {
    if (mem_grow((void **)&h->v, &h->cap, h->n + 1, sizeof *h->v) < 0) return -1;
    h->v[h->n++] = item;
    sift_up(h, h->n - 1);
    return 0;
}

void heap_remove(heap *h, size_t pos) {
    if (pos >= h->n) return;
    void *gone = h->v[pos];
    if (h->moved) h->moved(gone, HEAP_NONE);
    void *last = h->v[--h->n];
    if (pos == h->n) return;
    h->v[pos] = last;
    heap_fix(h, pos);
}

void *heap_pop(heap *h) {
    if (!h->n) return NULL;
    void *top = h->v[0];
    heap_remove(h, 0);
    return top;
}

void heap_fix(heap *h, size_t pos) {
    if (pos > 0 && h->less(h->v[pos], h->v[(pos - 1) / 2])) sift_up(h, pos);
    else sift_down(h, pos);
}

void heap_free(heap *h) {
    mem_free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
