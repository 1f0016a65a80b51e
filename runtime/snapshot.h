/* snapshot.h — the snapshot format's two sides (runtime/snapshot.c) for
 * the engine and for a pool of engines (runtime/pool.c): one format
 * whatever wrote it, state filed by key group, so that a snapshot of one
 * engine or of N engines restores into one engine or into M
 * (docs/snapshot.md, docs/state.md "Rescaling"). */
#ifndef CEP_SNAPSHOT_H
#define CEP_SNAPSHOT_H

#include <stdint.h>
#include "cepheus.h"

/* What a snapshot says about the stream as a whole: the time of one
 * engine over all of it, and the counters summed. */
/* Every counter of the stream's that a snapshot keeps, so that --stats,
 * --metrics and the summary after a restore equal an uninterrupted run's. */
#define SNAP_COUNTERS 11
#define SNAP_COUNTERS_V1 9

typedef struct snap_stream {
    int64_t max_delay, watermark, max_seen;
    uint64_t arrivals;      /* above every event's sequence number */
    uint64_t keys_created;  /* above every key's creation number */
    int started, finished;
    uint32_t engines;       /* how many engines wrote it (1: an engine) */
    /* events, matches, late, stragglers, timeouts, dropped, ttl_dropped,
     * mem_dropped, peak_partial_matches, mem_released, regex_errors (the
     * last two not in version 1: 0 when restored from it) */
    uint64_t counters[SNAP_COUNTERS];
} snap_stream;

/* Bytes collected in memory: snapshot_to_mem, a cep_write_fn, appends to
 * the mem_out its ud points to (mem_grow; -1 when memory runs out). */
typedef struct mem_out {
    unsigned char *p;
    size_t n, cap;
} mem_out;
int snapshot_to_mem(void *ud, const void *buf, size_t len);

/* An engine's own stream figures. */
void snapshot_stream_of(const cep_engine *e, snap_stream *st);

/* Write the state of engines es[0..n) (all of program prog, at rest) as
 * one snapshot with stream figures st: every key under its key group,
 * each buffered event once (engines of a pool share an event's sequence
 * number). CEP_OK, CEP_ENOMEM or CEP_ECALLBACK. */
int snapshot_write(const cep_program *prog, const cep_engine *const *es, unsigned n, const snap_stream *st,
                   cep_write_fn fn, void *ud);

/* Check the envelope (magic, version, length, CRC, program, key groups)
 * and read the stream figures. CEP_OK or the error of docs/snapshot.md. */
int snapshot_open(const cep_program *prog, const void *buf, size_t len, snap_stream *st);

/* Load into e (new, of the snapshot's program; snapshot_open passed) the
 * part that shard index of count owns: the keys of its key groups and the
 * buffered events of those keys; the counters only when counters is set.
 * On failure e is left empty. */
int snapshot_restore_part(cep_engine *e, const void *buf, size_t len, unsigned index, unsigned count,
                          int counters);

/* Empty e again after a restore (a pool's restore that failed in a later
 * engine): no keys, nothing buffered, no counters, max_delay delay. */
void snapshot_undo(cep_engine *e, int64_t delay);

#endif
