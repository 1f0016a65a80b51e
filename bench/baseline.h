/* baseline.h — hand-written matchers for workloads W1 and W3 (no language,
 * no NFA): the practical speed limit cepbench compares Cepheus against.
 * Fed the same generated events; must report the same matches. */
#ifndef CEP_BENCH_BASELINE_H
#define CEP_BENCH_BASELINE_H

#include <stdint.h>

/* A generated event, as both Cepheus and the baselines see it. */
typedef struct bev {
    int64_t t;      /* event time, ms */
    int64_t key;    /* user / card / process id */
    int32_t type;   /* workload-specific event type */
    int32_t item;   /* W1: item id */
    int64_t amount; /* W2, W7: amount */
} bev;

/* Matches are compared as a count plus an order-independent checksum. */
typedef struct match_sum {
    uint64_t count;
    uint64_t sum;
} match_sum;

uint64_t bench_match_hash(int64_t key, int64_t start, int64_t end);

/* W1 click→purchase: type 1 = click, 2 = purchase; within_ms window;
 * skip pastLastEvent with Flink's hold-back of completed matches. */
typedef struct base_w1 base_w1;
base_w1 *base_w1_new(uint64_t keys, int64_t within_ms);
void base_w1_push(base_w1 *b, const bev *e, uint64_t seq, match_sum *out);
void base_w1_finish(base_w1 *b, match_sum *out);
void base_w1_free(base_w1 *b);

/* W3 sequence a1 followedBy ... aL (type j = step j), noSkip, within. */
typedef struct base_w3 base_w3;
base_w3 *base_w3_new(uint64_t keys, int L, int64_t within_ms);
void base_w3_push(base_w3 *b, const bev *e, match_sum *out);
void base_w3_free(base_w3 *b);

#endif
