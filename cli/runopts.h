/* runopts.h — `cepheus run`'s command line: every option into one struct,
 * and the checks of which options go together (runopts.c). */
#ifndef CEP_CLI_RUNOPTS_H
#define CEP_CLI_RUNOPTS_H

#include <stdint.h>

#include "cli.h"

#define RUN_MAX_KAFKA_CONF 64

/* Kafka mode's options: only collected here, used by cli/kafka.c. */
typedef struct run_kafka_opts {
    const char *brokers, *topic, *group, *out_topic, *late_topic, *timeouts_topic, *state_topic, *instance;
    int64_t txn_events, txn_ms;
    const char *conf[RUN_MAX_KAFKA_CONF]; /* -X KEY=VALUE */
    int nconf;
} run_kafka_opts;

#define MIN_PAUSE_AUTO (-1)

typedef struct run_opts {
    const char *output, *late, *timeouts, *time_field, *errors;
    int64_t max_line;    /* --max-line-bytes; 0: no limit */
    int64_t max_delay, max_pms, checkpoint_every, state_ttl, max_memory, lateness;
    int processing_time;
    int positions;       /* --output-form positions */
    int stats, strict, limit_fail;
    int quiet, progress;   /* progress: 1 on, 0 off, -1 when stderr is a terminal */
    int64_t flush_ms;      /* --flush-interval */
    int64_t threads;     /* --threads: shards of a pool; 0: one engine */
    const char *metrics; /* --metrics ADDR:PORT */
    const char *checkpoint_dir, *restore_dir;
    int64_t checkpoint_ms; /* --checkpoint-interval; 0: by events only */
    int64_t min_pause_ms;  /* --checkpoint-min-pause; 0: none; MIN_PAUSE_AUTO: the last writer's time */
    int min_pause_given;
    int every_given;       /* --checkpoint-every was given */
    const char *savepoint_dir; /* --savepoint-dir: SIGUSR1 writes one there */
    const char *checkpoint_log; /* --checkpoint-log: a JSON line per checkpoint */
    warn_opts warn;      /* -W */
    run_kafka_opts kafka;
    const char *pattern_file;
    char **inputs;       /* the event files; none: standard input */
    int ninputs;
} run_opts;

/* What run_options returns besides the EXIT_* codes: --help was printed. */
#define RUN_HELP (-1)

/* Parse argv into *o (every field set) and check that the options go
 * together; EXIT_OK, RUN_HELP, or the usage error's exit code (said). */
int run_options(int argc, char **argv, run_opts *o);

#endif
