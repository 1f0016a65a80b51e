/* slab.c — size-classed blocks from chunks (see slab.h). Classes are
 * 8-byte steps to 256 bytes (a 40-byte partial match, a 109-byte key
 * state: 16-byte steps cost them 8 and 3 bytes each, issue 18), then
 * steps of 1.33-1.5x to 4 KiB; anything larger goes to the heap directly.
 *
 * A chunk is CHUNK_BYTES at an address that is a multiple of CHUNK_BYTES,
 * so a block finds its chunk by masking its address; the chunk holds
 * blocks of one class and counts those handed out. When the count falls
 * to 0 the chunk goes to the empty chunks, which any class takes before
 * the heap, unless it is its class's only chunk with room (then a block
 * freed and taken again at a chunk's edge moves no chunk). So blocks of
 * one size do not sit idle while another size grows: idle memory is at
 * most one chunk per class, the free blocks of chunks that still hold a
 * block in use, and empty chunks, which the next growth of any class uses
 * (docs/state.md). Empty chunks are not given back to the heap: jemalloc
 * serves an aligned request from fresh pages rather than from a freed
 * 64 KiB extent (measured: resident memory grew by every chunk given
 * back), so giving them back would grow the process, not shrink it. */
#include "config.h"
#include "slab.h"
#include "mem.h"

#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#if defined(CEP_USE_JEMALLOC) && !defined(CEP_FAULT_INJECTION)
#define SLAB_POOLED 1
#else
#define SLAB_POOLED 0
#endif

#define CHUNK_BYTES (64u * 1024) /* also its alignment */
#define SMALL_MAX 256u
#define SMALL_CLASSES 32 /* 8-byte steps to SMALL_MAX */
#define LARGEST 4096u /* the largest class; SLAB_CLASSES covers up to it */

struct slab_chunk {
    slab_chunk *next, *prev; /* in its class's avail or full list */
    void *free;              /* freed blocks, linked through their first word */
    char *cur;               /* start of the part never handed out */
    uint32_t live;           /* blocks handed out */
    uint16_t cls;
    uint16_t full;           /* in the full list */
    char pad_[24];           /* 64 bytes: the blocks after it are 8-byte aligned */
};

_Static_assert(sizeof(slab_chunk) == 64, "slab_chunk is the 64-byte head of a chunk");

/* Bytes of the blocks of class c (size_class). */
static inline size_t class_size(int c) {
    if (c < SMALL_CLASSES) return (size_t)(c + 1) << 3;
    size_t base = (size_t)256 << ((c - SMALL_CLASSES) / 2); /* 256, 512, 1024, 2048 */
    return (c - SMALL_CLASSES) % 2 ? base * 2 : base + base / 2;
}

/* Class of a size: 0..31 for 8..256 bytes in 8-byte steps, then 32..39
 * for 384, 512, 768, 1024, 1536, 2048, 3072, 4096 (steps of 1.5x and
 * 1.33x: a partial-match array that doubled wastes less than with powers
 * of two). */
static inline int size_class(size_t n) {
    if (n <= SMALL_MAX) return n ? (int)((n - 1) >> 3) : 0;
    int c = SMALL_CLASSES;
    while (class_size(c) < n) c++;
    return c;
}

size_t slab_size(size_t n) {
    if (!SLAB_POOLED || n > LARGEST) return n;
    return class_size(size_class(n));
}

int slab_pooled(void) { return SLAB_POOLED; }

static void unlink_chunk(slab_chunk **head, slab_chunk *ch) {
    if (ch->prev) ch->prev->next = ch->next;
    else *head = ch->next;
    if (ch->next) ch->next->prev = ch->prev;
    ch->next = ch->prev = NULL;
}

static void push_chunk(slab_chunk **head, slab_chunk *ch) {
    ch->prev = NULL;
    ch->next = *head;
    if (*head) (*head)->prev = ch;
    *head = ch;
}

/* A growing slab's new chunk, its pages made present in one call rather
 * than by a fault each as its blocks are first written: a page fault
 * costs ~2 us of kernel time, a fifth of an event of a rule set that
 * grows (W8 dense), and the chunk of a slab this large fills. A hint:
 * where it fails (an older kernel, not Linux), the faults come as
 * before. */
#define POPULATE_FROM (8u << 20)
static void populate(const slab *s, void *ch) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    if (s->reserved >= POPULATE_FROM) (void)madvise(ch, CHUNK_BYTES, MADV_POPULATE_WRITE);
#else
    (void)s;
    (void)ch;
#endif
}

/* (Out of line, as is the move to the full list: slab_alloc's usual path,
 * a block popped from its class's chunk, then saves no registers.) */
static __attribute__((noinline)) slab_chunk *new_chunk(slab *s, int c) {
    slab_chunk *ch = s->empty;
    if (!ch && s->reclaim) {
        s->reclaim(s->reclaim_ud);
        ch = s->empty;
    }
    if (ch) s->empty = ch->next;
    else {
        ch = mem_alloc_aligned(CHUNK_BYTES, CHUNK_BYTES);
        if (!ch) return NULL;
        s->reserved += CHUNK_BYTES;
        populate(s, ch);
    }
    memset(ch, 0, sizeof *ch);
    ch->cls = (uint16_t)c;
    ch->cur = (char *)(ch + 1);
    push_chunk(&s->avail[c], ch);
    return ch;
}

/* ch, of class c, has no block left: to its class's full chunks. */
static __attribute__((noinline)) void chunk_filled(slab *s, slab_chunk *ch, int c) {
    unlink_chunk(&s->avail[c], ch);
    push_chunk(&s->full[c], ch);
    ch->full = 1;
}

void *slab_alloc(slab *s, size_t n) {
    if (!SLAB_POOLED || n > LARGEST) {
        void *d = mem_alloc(n);
        if (d) s->direct += n;
        return d;
    }
    int c = size_class(n);
    size_t sz = class_size(c);
    slab_chunk *ch = s->avail[c];
    if (!ch && !(ch = new_chunk(s, c))) return NULL;
    void *p = ch->free;
    if (p) memcpy(&ch->free, p, sizeof(void *));
    else {
        p = ch->cur;
        ch->cur += sz;
    }
    ch->live++;
    s->in_use += sz;
    if (!ch->free && (size_t)((char *)ch + CHUNK_BYTES - ch->cur) < sz) chunk_filled(s, ch, c);
    return p;
}

/* ch, of class c, just had a block freed: from the full chunks to those
 * with room, and to the empty chunks when it holds none (and is not its
 * class's only chunk with room). Out of line, as chunk_filled. */
static __attribute__((noinline)) void chunk_moved(slab *s, slab_chunk *ch, int c) {
    if (ch->full) {
        unlink_chunk(&s->full[c], ch);
        push_chunk(&s->avail[c], ch);
        ch->full = 0;
    }
    if (ch->live == 0 && (ch->prev || ch->next)) {
        unlink_chunk(&s->avail[c], ch);
        ch->next = s->empty;
        s->empty = ch;
    }
}

void slab_free(slab *s, void *p, size_t n) {
    if (!p) return;
    if (!SLAB_POOLED || n > LARGEST) {
        mem_free(p);
        s->direct -= n;
        return;
    }
    slab_chunk *ch = (slab_chunk *)((uintptr_t)p & ~(uintptr_t)(CHUNK_BYTES - 1));
    int c = ch->cls;
    memcpy(p, &ch->free, sizeof(void *));
    ch->free = p;
    ch->live--;
    s->in_use -= class_size(c);
    if (ch->full || (ch->live == 0 && (ch->prev || ch->next))) chunk_moved(s, ch, c);
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

static void free_list(slab_chunk *ch) {
    while (ch) {
        slab_chunk *next = ch->next;
        mem_free_aligned(ch);
        ch = next;
    }
}

void slab_destroy(slab *s) {
    for (int c = 0; c < SLAB_CLASSES; c++) {
        free_list(s->avail[c]);
        free_list(s->full[c]);
    }
    free_list(s->empty);
    memset(s, 0, sizeof *s);
}
