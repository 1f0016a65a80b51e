/* slab.h — the engine's own small-object allocator: size classes carved
 * from aligned chunks, each chunk holding blocks of one class. Stored
 * events, key states and partial-match arrays come and go with every few
 * events; through this they cost no heap allocation in steady state.
 * A chunk whose blocks are all free can be taken by any class, so blocks
 * of one size do not sit idle while another size grows (the memory budget
 * counts blocks in use only). Memory goes back to the heap when the engine
 * is freed.
 *
 * Builds without jemalloc (sanitizers, valgrind) and fault-injection builds
 * pass every block straight to mem_alloc, so those tools see each one. */
#ifndef CEP_SLAB_H
#define CEP_SLAB_H

#include <stddef.h>
#include <stdint.h>

#define SLAB_CLASSES 40

typedef struct slab_chunk slab_chunk;

typedef struct slab {
    slab_chunk *avail[SLAB_CLASSES]; /* chunks of each class with room */
    slab_chunk *full[SLAB_CLASSES];  /* chunks of each class without */
    slab_chunk *empty;               /* chunks with no block in use, for any class */
    size_t reserved;          /* bytes of chunks taken from the heap */
    size_t in_use;            /* bytes of chunk blocks handed out (class sizes) */
    size_t direct;            /* bytes of blocks passed to the heap directly
                               * (larger than a class, or every block when not
                               * pooled): the memory budget counts them too */
    /* Called (when set) before a chunk is taken from the heap: its owner
     * gives back the blocks it keeps for reuse (keys.c), whose chunks may
     * then be empty, for any class. */
    void (*reclaim)(void *ud);
    void *reclaim_ud;
} slab;

/* A block of at least n bytes (NULL when the heap is exhausted). Up to
 * 256 bytes, n's class is (n - 1) / 8, of (class + 1) * 8 bytes (keys.c
 * keeps freed key blocks by class on that). */
void *slab_alloc(slab *s, size_t n);
/* Give back a block from slab_alloc(s, n), with the same n. NULL: no-op. */
void slab_free(slab *s, void *p, size_t n);
/* Resize a block of n bytes to m bytes, keeping min(n, m) of its content;
 * on failure the block is untouched and NULL is returned. */
void *slab_realloc(slab *s, void *p, size_t n, size_t m);
/* Bytes slab_alloc(s, n) really reserves (its class size; the memory
 * budget counts arrays by it, runtime/budget.c). */
size_t slab_size(size_t n);
/* Are blocks carved from chunks (else each is the heap's, and a caller
 * must not keep freed blocks for reuse: the tools would not see them)? */
int slab_pooled(void);
void slab_destroy(slab *s);

#endif
