/* mem.h — the one allocator every part of Cepheus goes through.
 * Backed by jemalloc's non-standard API (mallocx/dallocx), so the library
 * uses jemalloc without replacing the host program's malloc. A test build
 * (CEP_FAULT_INJECTION) can make the Nth allocation fail. */
#ifndef CEP_MEM_H
#define CEP_MEM_H

#include <stddef.h>

/* All return NULL on failure (never abort). mem_free(NULL) is a no-op. */
void *mem_alloc(size_t n);
void *mem_calloc(size_t count, size_t size);
void *mem_realloc(void *p, size_t n);
void mem_free(void *p);
/* n bytes at an address that is a multiple of align (a power of two of
 * at least sizeof(void *)); give it back with mem_free_aligned only. */
void *mem_alloc_aligned(size_t n, size_t align);
void mem_free_aligned(void *p);
char *mem_strndup(const char *s, size_t n);
char *mem_strdup(const char *s);

/* Grow *p (an array of elem-sized items with capacity *cap) to hold at
 * least need items. Returns 0 or -1 (then *p is unchanged). */
int mem_grow(void **p, size_t *cap, size_t need, size_t elem);

/* A heap of its own for one part of the library that one thread at a time
 * runs (each engine of a cep_pool): its small blocks do not share cache
 * lines with another heap's, except at the edges of the runs they are cut
 * in, so threads running different engines do not slow each other down
 * (false sharing), even as engines move between threads. With jemalloc, an
 * explicit thread cache; without it, no separation (on = 0) and the calls
 * do nothing. Blocks are ordinary: any heap, or none, may free them. */
typedef struct mem_heap {
    int on;
    int alloc_flags, free_flags; /* for mallocx/rallocx and dallocx */
    unsigned tcache;
} mem_heap;

/* Set h up: 0, or -1 when jemalloc could not make one (h->on = 0: usable,
 * the thread's own heap). */
int mem_heap_init(mem_heap *h);
/* Give h back; its blocks stay valid. No thread may be using it. */
void mem_heap_destroy(mem_heap *h);

/* The heap the calling thread allocates and frees in (NULL: its own).
 * Initial-exec: set and read on every event of a pool's engines. */
extern __thread const mem_heap *mem_heap_cur __attribute__((tls_model("initial-exec")));

/* Make h (or NULL) the calling thread's heap; returns the previous one. */
static inline const mem_heap *mem_heap_use(const mem_heap *h) {
    const mem_heap *old = mem_heap_cur;
    mem_heap_cur = h && h->on ? h : NULL;
    return old;
}

#ifdef CEP_FAULT_INJECTION
/* Make allocation number n (1-based, counted from this call) fail, and
 * every later one if sticky. n = 0 disables. Returns allocations counted. */
void mem_fail_at(unsigned long n, int sticky);
unsigned long mem_alloc_count(void);
/* Blocks allocated and not yet freed (since the program started). */
long mem_live_blocks(void);
#endif

#endif
