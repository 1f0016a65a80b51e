/* mem.c — allocation through jemalloc's *allocx API (libc malloc in
 * sanitizer builds), with optional fault injection for out-of-memory tests. */
#include "config.h"
#include "mem.h"
#include "cepheus.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef CEP_USE_JEMALLOC
#include <jemalloc/jemalloc.h>
/* Weak references: jemalloc serves the library when the program links it
 * (the cepheus tool does, and pkg-config users may), and libc malloc does
 * otherwise. A jemalloc loaded late, as a dependency of a library that an
 * interpreter such as Python opens at run time, cannot get the static TLS
 * block it needs, so the library itself must not pull it in. The choice is
 * fixed when the library is loaded, so a block is always freed by the
 * allocator that made it. */
#pragma weak mallocx
#pragma weak rallocx
#pragma weak dallocx
#pragma weak mallctl
#define JE (mallocx != NULL)
/* The calling thread's heap (mem_heap_use), as jemalloc flags. */
#define AF (mem_heap_cur ? mem_heap_cur->alloc_flags : 0)
#define FF (mem_heap_cur ? mem_heap_cur->free_flags : 0)
#define RAW_ALLOC(n) (JE ? mallocx((n), AF) : malloc(n))
#define RAW_ZALLOC(n) (JE ? mallocx((n), MALLOCX_ZERO | AF) : calloc(1, (n)))
#define RAW_REALLOC(p, n) (JE ? rallocx((p), (n), AF) : realloc((p), (n)))
#define RAW_FREE(p) (JE ? dallocx((p), FF) : free(p))
#else
/* Sanitizer and valgrind builds: libc malloc, which those tools watch. */
#define RAW_ALLOC(n) malloc(n)
#define RAW_ZALLOC(n) calloc(1, (n))
#define RAW_REALLOC(p, n) realloc((p), (n))
#define RAW_FREE(p) free(p)
#endif

/* cep_set_allocator: an embedding program's allocator, when set. Read on
 * every allocation without a lock: it is set before anything else runs. */
static cep_allocator user;
static int user_on;

CEP_API int cep_set_allocator(const cep_allocator *a) {
    if (a && (!a->alloc || !a->realloc || !a->free)) return CEP_EINVAL;
    user_on = a != NULL;
    if (a) user = *a;
    return CEP_OK;
}

__thread const mem_heap *mem_heap_cur __attribute__((tls_model("initial-exec")));

int mem_heap_init(mem_heap *h) {
    memset(h, 0, sizeof *h);
    if (user_on) return 0; /* the embedder's allocator has no heaps */
#ifdef CEP_USE_JEMALLOC
    if (!JE || !mallctl) return 0;
    /* A thread cache of its own, not an arena: its blocks are cut from the
     * arenas in runs, one run per refill, so two heaps' blocks meet at run
     * edges only; a separate arena per heap measured slower (pages spread
     * thin). Blocks stay valid after the cache goes. */
    size_t sz = sizeof(unsigned);
    if (mallctl("tcache.create", &h->tcache, &sz, NULL, 0) != 0) return -1;
    h->alloc_flags = h->free_flags = (int)MALLOCX_TCACHE(h->tcache);
    h->on = 1;
#endif
    return 0;
}

void mem_heap_destroy(mem_heap *h) {
#ifdef CEP_USE_JEMALLOC
    /* Hands what the cache holds back to the arenas. */
    if (h->on) mallctl("tcache.destroy", NULL, NULL, &h->tcache, sizeof h->tcache);
#endif
    memset(h, 0, sizeof *h);
}

#ifdef CEP_FAULT_INJECTION
/* Test-only global state: the fault-injection tests are single-threaded. */
static unsigned long fail_at, counted;
static int fail_sticky, env_read;
/* Blocks handed out and not yet freed: the allocation-failure loop compares
 * it before and after each run, a leak check that costs nothing (LSan's
 * costs a stop-the-world heap scan). Atomic: a test may use threads. */
static _Atomic long live;

long mem_live_blocks(void) { return live; }
#define LIVE(p) ((p) ? (void)live++ : (void)0)
#define DEAD() ((void)live--)

void mem_fail_at(unsigned long n, int sticky) {
    env_read = 1;
    fail_at = n;
    fail_sticky = sticky;
    counted = 0;
}

unsigned long mem_alloc_count(void) { return counted; }

static int should_fail(void) {
    if (!env_read) {
        /* CEP_FAIL_AT=N (or N+ for N and every later one) reaches whole
         * programs such as the CLI, which cannot call mem_fail_at. */
        const char *v = getenv("CEP_FAIL_AT");
        char *end = NULL;
        env_read = 1;
        if (v && *v >= '0' && *v <= '9') { /* anything else: no failure */
            unsigned long n = strtoul(v, &end, 10);
            if (*end == '\0' || (*end == '+' && end[1] == '\0')) {
                fail_at = n;
                fail_sticky = *end == '+';
            }
        }
    }
    counted++;
    if (fail_at == 0) return 0;
    return fail_sticky ? counted >= fail_at : counted == fail_at;
}
#else
#define should_fail() 0
#define LIVE(p) ((void)0)
#define DEAD() ((void)0)
#endif

void *mem_alloc(size_t n) {
    if (should_fail()) return NULL;
    if (n == 0) n = 1;
    void *p = user_on ? user.alloc(user.ud, n) : RAW_ALLOC(n);
    LIVE(p);
    return p;
}

void *mem_calloc(size_t count, size_t size) {
    if (size && count > (size_t)-1 / size) return NULL;
    if (should_fail()) return NULL;
    size_t n = count * size;
    if (n == 0) n = 1;
    void *p = user_on ? user.alloc(user.ud, n) : RAW_ZALLOC(n);
    if (p && user_on) memset(p, 0, n);
    LIVE(p);
    return p;
}

void *mem_realloc(void *p, size_t n) {
    if (!p) return mem_alloc(n);
    if (should_fail()) return NULL;
    if (n == 0) n = 1;
    return user_on ? user.realloc(user.ud, p, n) : RAW_REALLOC(p, n);
}

void mem_free(void *p) {
    if (!p) return;
    DEAD();
    if (user_on)
        user.free(user.ud, p);
    else
        RAW_FREE(p);
}

/* An embedder's allocator knows no alignment: take align more and keep
 * what it returned in the word before the aligned block. */
static void *alloc_aligned(size_t n, size_t align) {
    if (user_on) {
        if (n > (size_t)-1 - align - sizeof(void *)) return NULL;
        char *raw = user.alloc(user.ud, n + align + sizeof(void *));
        if (!raw) return NULL;
        char *p = (char *)(((uintptr_t)raw + sizeof(void *) + align - 1) & ~(uintptr_t)(align - 1));
        memcpy(p - sizeof(void *), &raw, sizeof raw);
        return p;
    }
#ifdef CEP_USE_JEMALLOC
    if (JE) return mallocx(n, MALLOCX_ALIGN(align) | AF);
#endif
    void *p = NULL;
    return posix_memalign(&p, align, n) == 0 ? p : NULL;
}

void *mem_alloc_aligned(size_t n, size_t align) {
    if (should_fail()) return NULL;
    void *p = alloc_aligned(n, align);
    LIVE(p);
    return p;
}

void mem_free_aligned(void *p) {
    if (!p) return;
    DEAD();
    if (user_on) {
        void *raw;
        memcpy(&raw, (char *)p - sizeof(void *), sizeof raw);
        user.free(user.ud, raw);
        return;
    }
    RAW_FREE(p);
}

char *mem_strndup(const char *s, size_t n) {
    char *r = mem_alloc(n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

char *mem_strdup(const char *s) { return mem_strndup(s, strlen(s)); }

int mem_grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > ((size_t)-1 / 2) / elem) return -1;
        ncap *= 2;
    }
    void *np = mem_realloc(*p, ncap * elem);
    if (!np) return -1;
    *p = np;
    *cap = ncap;
    return 0;
}
