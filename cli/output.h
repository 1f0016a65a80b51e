/* output.h — the output files of `cepheus run`. Each writer (the engine's
 * callbacks, or each shard's with --threads) appends whole lines to a block
 * of its own and writes the block when it fills, so there is no write per
 * match; a lock per file keeps blocks whole when several shards write. */
#ifndef CEP_OUTPUT_H
#define CEP_OUTPUT_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include "jsonout.h"

/* A block is written once it holds this many bytes. */
#define OUT_BLOCK 65536

typedef struct out_file {
    FILE *f;              /* NULL: the output is not wanted */
    const char *name;     /* as shown in messages */
    int live;             /* write each line at once (processing time) */
    int err;              /* errno of the first failed write; 0: none */
    int reported;         /* its message was printed: not again at close */
    uint64_t synced;      /* length at its last fsync (checkpoints); ~0: none yet */
    pthread_mutex_t lock;
} out_file;

/* One writer's block for one file. */
typedef struct out_buf {
    out_file *file;
    jbuf b;
} out_buf;

void out_file_init(out_file *o, FILE *f, const char *name);
void out_file_destroy(out_file *o);
/* Write the block to its file and empty it: 0, or -1 when the write failed
 * (file->err is then set; later blocks are dropped). */
int out_flush(out_buf *o);
/* After appending one whole line: write the block if it is full or the
 * file is live. 0, or -1 as out_flush. */
static inline int out_line_done(out_buf *o) {
    return o->b.len >= OUT_BLOCK || o->file->live ? out_flush(o) : 0;
}
void out_buf_free(out_buf *o);

#endif
