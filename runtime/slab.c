/* slab.c — size-classed blocks from large chunks (see slab.h). Classes
 * are 16-byte steps to 256 bytes, then steps of 1.33-1.5x to 4 KiB; anything
 * larger goes to the heap directly. */
#include "config.h"
#include "slab.h"
#include "mem.h"

#include <string.h>

#if defined(CEP_USE_JEMALLOC) && !defined(CEP_FAULT_INJECTION)
#define SLAB_POOLED 1
#else
#define SLAB_POOLED 0
#endif

#define CHUNK_BYTES (256u * 1024)
#define SMALL_MAX 256u
#define LARGEST 4096u /* the largest class; SLAB_CLASSES covers up to it */

/* Bytes of the blocks of class c (size_class). */
static size_t class_size(int c) {
    if (c < 16) return (size_t)(c + 1) << 4;
    size_t base = (size_t)256 << ((c - 16) / 2); /* 256, 512, 1024, 2048 */
    return (c - 16) % 2 ? base * 2 : base + base / 2;
}

struct slab_chunk {
    slab_chunk *next;
    size_t pad_; /* keeps the blocks after the header 16-byte aligned */
};

/* Class of a size: 0..15 for 16..256 bytes in 16-byte steps, then 16..23
 * for 384, 512, 768, 1024, 1536, 2048, 3072, 4096 (steps of 1.5x and
 * 1.33x: a partial-match array that doubled wastes less than with powers
 * of two). */
static int size_class(size_t n) {
    if (n <= SMALL_MAX) return n ? (int)((n - 1) >> 4) : 0;
    int c = 16;
    while (class_size(c) < n) c++;
    return c;
}

size_t slab_size(size_t n) {
    if (!SLAB_POOLED || n > LARGEST) return n;
    return class_size(size_class(n));
}

void *slab_alloc(slab *s, size_t n) {
    if (!SLAB_POOLED || n > LARGEST) {
        void *d = mem_alloc(n);
        if (d) s->direct += n;
        return d;
    }
    int c = size_class(n);
    void *p = s->free[c];
    if (p) {
        memcpy(&s->free[c], p, sizeof(void *));
        s->in_use += class_size(c);
        return p;
    }
    size_t sz = class_size(c);
    if ((size_t)(s->end - s->cur) < sz) {
        /* The tail of the old chunk is too small: give it to smaller
         * classes rather than waste it. */
        while ((size_t)(s->end - s->cur) >= 16) {
            int tc = size_class((size_t)(s->end - s->cur));
            if (class_size(tc) > (size_t)(s->end - s->cur)) tc--;
            s->in_use += class_size(tc); /* slab_free takes it off again */
            slab_free(s, s->cur, class_size(tc));
            s->cur += class_size(tc);
        }
        slab_chunk *ch = mem_alloc(CHUNK_BYTES);
        if (!ch) return NULL;
        ch->next = s->chunks;
        s->chunks = ch;
        s->cur = (char *)(ch + 1);
        s->end = (char *)ch + CHUNK_BYTES;
        s->reserved += CHUNK_BYTES;
    }
    p = s->cur;
    s->cur += sz;
    s->in_use += sz;
    return p;
}

void slab_free(slab *s, void *p, size_t n) {
    if (!p) return;
    if (!SLAB_POOLED || n > LARGEST) {
        mem_free(p);
        s->direct -= n;
        return;
    }
    int c = size_class(n);
    memcpy(p, &s->free[c], sizeof(void *));
    s->free[c] = p;
    s->in_use -= class_size(c);
}

void *slab_realloc(slab *s, void *p, size_t n, size_t m) {
    if (!p) return slab_alloc(s, m);
    if (!SLAB_POOLED || (n > LARGEST && m > LARGEST)) {
        void *q = mem_realloc(p, m);
        if (q) s->direct = s->direct - n + m;
        return q;
    }
    if (n <= LARGEST && m <= LARGEST && size_class(n) == size_class(m)) return p;
    void *q = slab_alloc(s, m);
    if (!q) return NULL;
    memcpy(q, p, n < m ? n : m);
    slab_free(s, p, n);
    return q;
}

void slab_destroy(slab *s) {
    while (s->chunks) {
        slab_chunk *next = s->chunks->next;
        mem_free(s->chunks);
        s->chunks = next;
    }
    memset(s, 0, sizeof *s);
}
