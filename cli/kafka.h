/* kafka.h — `cepheus run --kafka`: the tool as one member of a Kafka consumer
 * group, one engine per assigned partition, matches and engine snapshots
 * written in Kafka transactions (docs/scaling.md). Built only with librdkafka. */
#ifndef CEP_KAFKA_H
#define CEP_KAFKA_H

#include <stdint.h>
#include "cepheus.h"

typedef struct kafka_opts {
    const char *brokers, *topic, *group, *output_topic;
    const char *late_topic, *timeouts_topic, *state_topic; /* NULL: none / default */
    const char *instance_id;    /* NULL: hostname-pid */
    const char *const *config;        /* "key=value" librdkafka properties (-X), nconfig of them */
    int nconfig;
    int64_t txn_events;         /* commit a transaction after this many messages... */
    int64_t txn_ms;             /* ...or this many milliseconds */
    int64_t stats_ms;           /* --stats: per-partition report period; 0: none */
    /* engine options, as for a file run */
    const char *time_field;
    int64_t max_delay, lateness, state_ttl, max_pms;
    int limit_fail;
    struct metrics *metrics;    /* --metrics: the server to publish to, or NULL */
} kafka_opts;

/* Run until SIGINT/SIGTERM; returns the tool's exit status. prog is
 * borrowed. Messages go to standard error. */
int kafka_run(const cep_program *prog, const kafka_opts *o);

#endif
