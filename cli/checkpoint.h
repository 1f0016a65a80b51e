/* checkpoint.h — checkpoints of `cepheus run`: the engine's snapshot plus
 * where the input was and how long the outputs were, written atomically, so
 * that a restarted run continues exactly where the checkpoint left off. */
#ifndef CEP_CHECKPOINT_H
#define CEP_CHECKPOINT_H

#include <stdint.h>
#include "cepheus.h"

typedef struct ckpt_pos {
    uint32_t file;       /* index of the input file being read */
    uint64_t offset;     /* bytes of it consumed */
    uint64_t lineno;     /* lines of it consumed */
    uint64_t out_len, late_len, timeouts_len; /* bytes of each output */
    uint64_t read, malformed;                 /* counters for --stats */
} ckpt_pos;

/* Write DIR/checkpoint atomically (temporary file, fsync, rename, fsync of
 * the directory). Returns 0, or -1 with a message in err. */
int checkpoint_write(const char *dir, const ckpt_pos *pos, const cep_engine *e,
                     char *err, size_t errsz);
/* Read DIR/checkpoint: 1 with *snap (malloc'd, free it) and *pos filled,
 * 0 when there is no checkpoint yet, -1 with a message in err. */
int checkpoint_read(const char *dir, ckpt_pos *pos, char **snap, size_t *snaplen,
                    char *err, size_t errsz);

#endif
