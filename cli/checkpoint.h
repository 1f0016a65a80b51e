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
/* Checkpoints written in the background (docs/state.md, "Checkpoints
 * without a stall"): a forked child holds the engine as it was at the fork,
 * copy-on-write, and writes it while the run goes on; the run waits only
 * for the fork. One child at a time. */
typedef struct ckpt_bg {
    int pid;                   /* the writing child; 0: none */
    double started;            /* cli_now() at its fork */
    uint64_t taken;            /* checkpoints completed */
    uint64_t starts;           /* checkpoints started */
    double last_pause, worst_pause; /* seconds the run waited to start one */
    double pause_sum;
    double last_duration;      /* seconds from fork to the file in place */
    uint64_t last_size;        /* bytes of the last checkpoint file */
    const char *dir;
} ckpt_bg;
#define CKPT_BUSY (-1)
/* Start a checkpoint of e at pos in a child: fsync the fds (the outputs'
 * bytes the checkpoint counts), then checkpoint_write. The caller has
 * flushed its buffers; no child may be running (checkpoint_reap first).
 * Where fork fails, the checkpoint is written here and now. Returns
 * EXIT_OK or a failure status (message printed). */
int checkpoint_start(ckpt_bg *bg, const char *dir, const ckpt_pos *pos, const cep_engine *e,
                     const int *fds, int nfds);
/* The running child's result: EXIT_OK when none runs or it succeeded,
 * CKPT_BUSY while it runs (block = 0), else its failure status (it printed
 * why). block = 1 waits for it. */
int checkpoint_reap(ckpt_bg *bg, int block);

/* Hold DIR/lock (flock) for the rest of the process: one run per
 * checkpoint directory, and a run restoring from DIR waits until the
 * checkpoint writer of a killed run is gone (it holds the lock too, and
 * dies with its parent), so that writer cannot replace the checkpoint after
 * the restore read it. Waits up to 10 s. EXIT_OK or a failure printed. */
int checkpoint_lock(const char *dir);

/* Read DIR/checkpoint: 1 with *snap (malloc'd, free it) and *pos filled,
 * 0 when there is no checkpoint yet, -1 with a message in err. */
int checkpoint_read(const char *dir, ckpt_pos *pos, char **snap, size_t *snaplen,
                    char *err, size_t errsz);

#endif
