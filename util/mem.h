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
char *mem_strndup(const char *s, size_t n);
char *mem_strdup(const char *s);

/* 1 when jemalloc serves allocations (the program links it), else 0. */
int mem_uses_jemalloc(void);

/* Grow *p (an array of elem-sized items with capacity *cap) to hold at
 * least need items. Returns 0 or -1 (then *p is unchanged). */
int mem_grow(void **p, size_t *cap, size_t need, size_t elem);

#ifdef CEP_FAULT_INJECTION
/* Make allocation number n (1-based, counted from this call) fail, and
 * every later one if sticky. n = 0 disables. Returns allocations counted. */
void mem_fail_at(unsigned long n, int sticky);
unsigned long mem_alloc_count(void);
#endif

#endif
