/* metrics.h — `cepheus run --metrics ADDR:PORT`: /metrics (Prometheus text
 * format) and /healthz, served by libmicrohttpd on a thread of its own. The
 * run loop never locks per event: it copies its counters into the server
 * (metrics_publish) only when a scrape asks for them, at its poll points
 * (before reading a block of input, or once per Kafka poll). */
#ifndef CEP_METRICS_H
#define CEP_METRICS_H

#include <stdint.h>
#include "cepheus.h"

typedef struct metrics metrics;

/* Why a line was malformed: the label reason of
 * cepheus_malformed_lines_total. */
enum {
    MAL_JSON,       /* CEP_EJSON */
    MAL_NOT_OBJECT, /* CEP_ENOTOBJECT */
    MAL_TIME,       /* CEP_ETIME: no or an invalid time field */
    MAL_RANGE,      /* CEP_ERANGE: a number out of range */
    MAL_TOO_DEEP,   /* CEP_ETOODEEP */
    MAL_TOO_LONG,   /* over --max-line-bytes */
    MAL_WATERMARK,  /* a $watermark line of the wrong form */
    MAL_N
};
/* The reason of a malformed line: rc as the push returned it, toolong 1
 * for a line over --max-line-bytes, kind < 0 for a bad watermark line. */
int metrics_reason(int rc, int toolong, int kind);

/* What the run loop hands over at a poll point. Pointers are borrowed for
 * the call: metrics_publish copies what they point to. */
typedef struct metrics_snap {
    cep_stats st;                 /* engine, pool or all partitions' engines */
    uint64_t records;             /* input lines (not blank) or messages read */
    uint64_t malformed[MAL_N];
    int ckpt_on;                  /* checkpoints are taken (--checkpoint, Kafka) */
    uint64_t ckpt_done, ckpt_failed;  /* checkpoints (Kafka: commits with state) */
    double ckpt_seconds;          /* the last one's duration */
    uint64_t ckpt_bytes;          /* the last one's size */
    double ckpt_pause;            /* how long the run stopped to start the last one
                                   * (file mode: the fork); < 0: not measured */
    double ckpt_pause_max;        /* the longest such stop so far */
    size_t npatterns;
    const char *const *pattern_names;
    const uint64_t *pattern_matches;  /* matches by pattern, npatterns of them */
    int kafka;                    /* the Kafka mode: the fields below apply */
    uint64_t txn_committed, txn_aborted;
    size_t nparts;
    const int32_t *part_ids;      /* assigned input partitions */
    const int64_t *part_lag;      /* their consumer lag, messages; -1: unknown */
} metrics_snap;

/* Listen on ADDR:PORT (host name, IPv4 address or [IPv6 address]; port 0:
 * any free one, printed) and start serving. Prints why not and returns
 * EXIT_USAGE (2) for a bad address or one that cannot be listened on;
 * EXIT_OK with *out. */
int metrics_start(const char *addr, metrics **out);
/* Stop serving and free; NULL is a no-op. */
void metrics_stop(metrics *m);

/* A descriptor that becomes readable when a scrape wants fresh counters
 * (for the run loop's poll); -1 for NULL. */
int metrics_wake_fd(const metrics *m);
/* Does a scrape wait for metrics_publish? (one relaxed atomic load) */
int metrics_wanted(const metrics *m);
/* Copy s for the scrapes and wake the one waiting. */
void metrics_publish(metrics *m, const metrics_snap *s);

/* Health, for /healthz. */
enum { HEALTH_STARTING, HEALTH_RESTORING, HEALTH_RUNNING, HEALTH_FAILED };
/* Set the state with a one-line reason (NULL: the state's own word). A
 * failed run stays failed. */
void metrics_health(metrics *m, int state, const char *reason);
/* The process' fatal error, as printed (called by fail() and the Kafka
 * mode's kfail): /healthz answers 503 with it from now on. A no-op when no
 * server runs. */
void metrics_fatal(const char *msg);

/* Counter fields of cep_stats: acc += a - base (base may be NULL). The
 * Kafka mode keeps member-wide counters that never go back while engines
 * come and go with partitions. */
void metrics_stats_add(cep_stats *acc, const cep_stats *a, const cep_stats *base);

#endif
