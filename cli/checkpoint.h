/* checkpoint.h — checkpoints of `cepheus run`: the engine's snapshot plus
 * where the input was, how long the outputs were and the text of the
 * patterns that ran, written atomically, so that a restarted run continues
 * exactly where the checkpoint left off (docs/state.md). */
#ifndef CEP_CHECKPOINT_H
#define CEP_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "cepheus.h"

/* The outputs a run had open (ckpt_pos.outputs). */
enum { CKPT_OUT = 1, CKPT_LATE = 2, CKPT_TIMEOUTS = 4, CKPT_ERRORS = 8 };

typedef struct ckpt_pos {
    uint32_t file;       /* index of the input file being read */
    uint64_t offset;     /* bytes of it consumed */
    uint64_t lineno;     /* lines of it consumed */
    uint64_t out_len, late_len, timeouts_len; /* bytes of each output */
    uint64_t read, malformed;                 /* counters for --stats */
    /* (Added in format 2; after the others, so that the positional
     * initializers of format 1's fields still mean what they say.) */
    uint64_t errors_len;                      /* bytes of --errors */
    uint32_t outputs;                         /* CKPT_* bits */
} ckpt_pos;

/* A checkpoint read back: every check of its own passed (header CRC,
 * pattern text CRC, lengths); the snapshot's are cep_engine_restore's. */
typedef struct ckpt {
    ckpt_pos pos;
    const char *text;    /* the pattern file that made it */
    size_t text_len;
    const void *snap;    /* the engine snapshot */
    size_t snap_len;
    char *buf;           /* owns text and snap */
} ckpt;

/* What a checkpoint holds the state of: one engine, or with --threads a
 * pool of engines (whose snapshot restores with any number of threads). */
typedef struct ckpt_src {
    const cep_engine *e;
    cep_pool *p;          /* synced before the checkpoint starts */
} ckpt_src;

/* Make DIR if it does not exist and prove a checkpoint can be written
 * there, before anything else is. 0, or -1 with a message in err. */
int checkpoint_prepare_dir(const char *dir, char *err, size_t errsz);

/* One checkpoint or savepoint as --checkpoint-log records it: the moment
 * of its fork (the state the pause copied the page tables of) and, once
 * its writer is collected, its time to write and size. */
typedef struct ckpt_rec {
    double time;               /* seconds since the epoch at the pause's start */
    uint64_t read;             /* lines read: its position */
    double pause, pause_cpu;   /* seconds the run waited, and their CPU time */
    double fork;               /* seconds of that in fork() itself */
    uint64_t partial_matches, keys, state_bytes, rss_bytes;
    double write_seconds;      /* from the fork to the file in place */
    uint64_t bytes;            /* its file's size */
} ckpt_rec;

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
    double pauses[1024];       /* the last 1024 pauses, for their median */
    double pause_cpu_sum, worst_pause_cpu; /* the CPU time of the pauses */
    double pause_t0, pause_c0;  /* checkpoint_pause_begin: when the pause began, CPU then */
    double last_duration;      /* seconds from fork to the file in place */
    double ended;              /* cli_now() when the last checkpoint was found in place */
    uint64_t last_size;        /* bytes of the last checkpoint file */
    const char *dir;
    /* Savepoints (SIGUSR1, --savepoint-dir) share the one writer. */
    int savepoint;             /* the running child writes a savepoint */
    uint64_t sp_starts, sp_taken;
    double sp_last_duration;   /* the last savepoint's, as last_duration */
    uint64_t sp_last_size;
    char sp_path[4096];        /* the savepoint being (or last) written */
    FILE *log;                 /* --checkpoint-log, or NULL (owned by the run) */
    int log_failed;            /* it could not be written: said once, no more */
    ckpt_rec rec;              /* the last one started, logged when collected */
    int rec_logged;
    int rec_status;            /* the status of a checkpoint written in the foreground */
} ckpt_bg;
#define CKPT_BUSY (-1)
/* The run stops for a checkpoint or savepoint from now (before it syncs
 * its engines and flushes its outputs): the pause counted in --stats runs
 * from here to the fork's return in checkpoint_start / savepoint_start. */
void checkpoint_pause_begin(ckpt_bg *bg);
/* Start a checkpoint of e at pos (and the pattern text, len bytes) in a
 * child: fsync the fds (the outputs' bytes the checkpoint counts; -1: none
 * to sync), then write the checkpoint (temporary file, fsync, rename, fsync
 * of the directory). The caller has
 * flushed its buffers; no child may be running (checkpoint_reap first).
 * Where fork fails, the checkpoint is written here and now. Returns
 * EXIT_OK or a failure status (message printed). */
int checkpoint_start(ckpt_bg *bg, const char *dir, const ckpt_pos *pos, const char *text, size_t len,
                     const ckpt_src *src, const int *fds, int nfds);
/* A savepoint (docs/state.md, "Savepoints"): the same checkpoint, in a
 * directory of its own made inside parent, DIR/savepoint-TIME-EVENTS,
 * written as DIR/...tmp and renamed when complete, so that the name exists
 * only for a whole savepoint; --restore takes that directory. Like
 * checkpoint_start otherwise (the pause counts in the same figures). */
int savepoint_start(ckpt_bg *bg, const char *parent, const ckpt_pos *pos, const char *text, size_t len,
                    const ckpt_src *src, const int *fds, int nfds);
/* The running child's result: EXIT_OK when none runs or it succeeded,
 * CKPT_BUSY while it runs (block = 0), else its failure status (it printed
 * why). block = 1 waits for it. */
int checkpoint_reap(ckpt_bg *bg, int block);
/* After checkpoint_start or savepoint_start: the state at its fork, for
 * --checkpoint-log (RSS is read here, after the pause). Its line is
 * written when its writer is collected (at once if it wrote in the
 * foreground). */
void checkpoint_record(ckpt_bg *bg, uint64_t partial_matches, uint64_t keys, uint64_t state_bytes);
/* The median of the pauses kept (seconds; 0 when none). */
double checkpoint_pause_p50(const ckpt_bg *bg);

/* Hold DIR/lock (flock) for the rest of the process: one run per
 * checkpoint directory, and a run restoring from DIR waits until the
 * checkpoint writer of a killed run is gone (it holds the lock too, and
 * dies with its parent), so that writer cannot replace the checkpoint after
 * the restore read it. Waits up to 10 s. EXIT_OK or a failure printed. */
int checkpoint_lock(const char *dir);

/* Read and check DIR/checkpoint: 1 with *ck filled (checkpoint_free it),
 * 0 when there is no checkpoint yet, -1 with a message in err (-2: out of
 * memory). Changes nothing on disk. */
int checkpoint_read(const char *dir, ckpt *ck, char *err, size_t errsz);
void checkpoint_free(ckpt *ck);

/* Before anything is changed: does the checkpoint fit the files of this
 * run? Its input file index is below nin and its offset inside that file
 * (input, open, named name); each output named now (paths: --output,
 * --late, --timeouts, --errors; NULL: not wanted) was an output then and
 * is at least as long as recorded (missing only if recorded empty).
 * 0, or -1 with a message in err. */
int checkpoint_check_files(const ckpt *ck, const char *dir, FILE *input, const char *name, int nin,
                           const char *const paths[4], char *err, size_t errsz);

/* Load the checkpoint's snapshot into an engine running prog. Returns the
 * engine (*out, owned; NULL on failure) and 0, or with a message in err -1
 * (refused: nothing restored) or -2 (out of memory).
 * When prog is not the program that made the checkpoint, the checkpoint's
 * own pattern text is compiled, its state restored into an engine of it
 * and switched to prog as a SIGHUP reload does: unchanged patterns keep
 * their state, changed and new ones start empty, removed ones go. *note
 * (malloc'd, or NULL when prog is the same) then says which; nothing is
 * restored when no pattern is kept. configure sets up each engine made
 * (callbacks, options) before its restore. */
typedef int (*ckpt_configure_fn)(void *ud, cep_engine *e);
int checkpoint_restore(const ckpt *ck, const char *dir, const char *pattern_file,
                       const cep_program *prog, ckpt_configure_fn configure, void *ud,
                       cep_engine **out, char **note, char *err, size_t errsz);
/* The same into a new pool of threads threads (--threads), each engine
 * set up by configure_shard: the snapshot of one engine or of a pool of
 * any size restores (docs/state.md, "Rescaling"). *out: the pool. */
int checkpoint_restore_pool(const ckpt *ck, const char *dir, const char *pattern_file,
                            const cep_program *prog, unsigned threads, cep_pool_configure_fn configure, void *ud,
                            cep_pool **out, char **note, char *err, size_t errsz);

/* What changed between two programs, as "kept a; changed, started empty:
 * b; new: c; removed: d" (only the parts that are not empty, each naming
 * at most 8 patterns, then "and N more"; malloc'd, NULL when out of
 * memory). *kept: the patterns that keep their state. */
char *checkpoint_describe_change(const cep_program *old, const cep_program *np, size_t *kept);
/* For each pattern of to, the index of from's pattern of the same name, or
 * -1 (malloc'd, NULL when out of memory). */
long *checkpoint_name_map(const cep_program *from, const cep_program *to);

/* The forked writer finishes a checkpoint in a fresh image of this
 * program (`cepheus __checkpoint-finish ...`, checkpoint.c): main() hands
 * that command here. */
#define CKPT_FINISH_CMD "__checkpoint-finish"
int checkpoint_finish_main(int argc, char **argv);

#endif
