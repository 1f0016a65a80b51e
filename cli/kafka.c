/* kafka.c — `cepheus run --kafka`: a member of a Kafka consumer group. Each
 * assigned partition of the input topic gets an engine of its own; matches,
 * and each partition's engine snapshot with the input offset it stands for,
 * are produced in one Kafka transaction with the consumed offsets. */
#include "config.h"
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "cepheus.h"
#include "cli.h"
#include "jsonout.h"
#include "kafka.h"
#include "metrics.h"

/* A state record: magic, the input offset the snapshot stands for, the
 * piece's index and the number of pieces (big-endian), then that piece of
 * the engine's snapshot. The offset lives in the same records as the state
 * so the two can never disagree (Kafka's committed offsets are also written,
 * in the same transaction, for lag monitoring and tools). Piece 0 has the partition's key, piece i the key
 * and "#i": a snapshot larger than a record may be goes in several, all in
 * one transaction and one state partition. (CEPKST01: one piece, without
 * the two counts; still read.) */
#define STATE_MAGIC "CEPKST02"
#define STATE_MAGIC_V1 "CEPKST01"
#define STATE_HDR 24
#define STATE_HDR_V1 16
#define STATE_PIECES_MAX 65536

typedef struct part {
    int32_t id;
    cep_engine *e;
    int64_t next;          /* offset of the next input message to read */
    int dirty;             /* consumed in the open transaction */
    uint64_t events, last_events;
    int64_t high;          /* last known high watermark (for lag) */
    uint32_t pieces;       /* state records its last state took (1 + highest index seen) */
    cep_stats base;        /* --metrics: the engine's counters when it was restored */
    struct kctx *k;
} part;

typedef struct kctx {
    const kafka_opts *o;
    const cep_program *prog;
    rd_kafka_t *cons, *prod;
    rd_kafka_topic_partition_list_t *none;
    char *state_topic;
    int32_t state_parts;
    size_t piece_max;      /* snapshot bytes in one state record */
    part *parts;           /* assigned partitions */
    size_t nparts, capparts;
    int in_txn;
    int txn_doomed;        /* a record could not go out: the transaction can only be aborted */
    int64_t txn_timeout_ms;    /* the producer's transaction.timeout.ms */
    int64_t txn_count;
    double txn_start;
    jbuf buf;
    int status;            /* first fatal status, EXIT_OK while running */
    int oom;
    uint64_t produced;
    /* --metrics: member-wide counters, which never go back while engines
     * come and go with their partitions */
    metrics *mx;
    cep_stats retired;     /* what engines since dropped had done here */
    uint64_t *by_pattern;  /* matches by pattern index */
    uint64_t records, malformed_by[MAL_N], txn_committed, txn_aborted;
    uint64_t txn_state_bytes, last_state_bytes;
    double last_commit_s;  /* the last commit's duration */
} kctx;

static volatile sig_atomic_t stop_requested;
static void on_stop(int sig) {
    (void)sig;
    stop_requested = 1;
}

static int kfail(kctx *k, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* fail(), and the member's first fatal status is kept. */
static int kfail(kctx *k, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(status, fmt, ap);
    va_end(ap);
    if (k && k->status == EXIT_OK) k->status = status;
    return status;
}

/* CEPHEUS_KAFKA_DEBUG=1: what the member does, with wall-clock times (the
 * mock-cluster test reads these when it fails). */
static void dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dbg(const char *fmt, ...) {
    static int on = -1;
    if (on < 0) on = getenv("CEPHEUS_KAFKA_DEBUG") != NULL;
    if (!on) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cepheus: [%ld.%03ld] ", (long)ts.tv_sec, ts.tv_nsec / 1000000);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- producing ------------------------------------------------------------ */

/* Produce one record, waiting (polling delivery reports) while the local
 * queue is full rather than failing. */
static int produce(kctx *k, const char *topic, int32_t partition, const void *key, size_t klen,
                   const void *val, size_t vlen) {
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            k->prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!err) {
            k->produced++;
            return 0;
        }
        if (err == RD_KAFKA_RESP_ERR__STATE && k->in_txn && !rd_kafka_fatal_error(k->prod, NULL, 0)) {
            /* The transaction is in an abortable state (a delivery failed):
             * what is produced now would be aborted anyway. The main loop
             * aborts it and rewinds (commit_txn). */
            k->txn_doomed = 1;
            return 0;
        }
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
            kfail(k, EXIT_OUTPUT, "cannot produce to '%s': a record of %zu bytes is over the producer's "
                  "message.max.bytes (raise it with -X message.max.bytes=N, and the topic's "
                  "max.message.bytes on the brokers; docs/scaling.md)", topic, vlen + klen);
            return -1;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            kfail(k, EXIT_OUTPUT, "cannot produce to '%s': %s", topic, rd_kafka_err2str(err));
            return -1;
        }
        if (stop_requested) {
            /* SIGINT/SIGTERM while the queue stays full: the transaction
             * this record belongs to is aborted on the way out. */
            k->txn_doomed = 1;
            return 0;
        }
        rd_kafka_poll(k->prod, 50);
    }
}

/* The match's key as JSON: null, the value, or an array of values. */
static void key_json(jbuf *b, const cep_match *m) {
    size_t n = cep_match_key_count(m);
    if (n == 0) {
        jbuf_puts(b, "null");
        return;
    }
    if (n > 1) jbuf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_puts(b, ",");
        jbuf_value(b, cep_match_key(m, i));
    }
    if (n > 1) jbuf_puts(b, "]");
}

static int emit_match(part *p, const cep_match *m, const char *topic) {
    kctx *k = p->k;
    jbuf_reset(&k->buf);
    key_json(&k->buf, m);
    size_t klen = k->buf.len;
    jbuf_match(&k->buf, k->prog, m);
    if (k->buf.oom) {
        k->oom = 1;
        return 1;
    }
    size_t vlen = k->buf.len - klen;
    if (vlen && k->buf.p[k->buf.len - 1] == '\n') vlen--; /* a record is a line */
    return produce(k, topic, RD_KAFKA_PARTITION_UA, k->buf.p, klen, k->buf.p + klen, vlen) ? 1 : 0;
}

static int on_match(void *ud, const cep_match *m) {
    part *p = ud;
    if (p->k->by_pattern) p->k->by_pattern[cep_match_pattern_index(m)]++;
    return emit_match(p, m, p->k->o->output_topic);
}

static int on_timeout(void *ud, const cep_match *m) {
    part *p = ud;
    return emit_match(p, m, p->k->o->timeouts_topic);
}

static int on_late(void *ud, const cep_event *ev) {
    part *p = ud;
    size_t len;
    const char *raw = cep_event_raw(ev, &len);
    if (!raw) return 0;
    return produce(p->k, p->k->o->late_topic, RD_KAFKA_PARTITION_UA, NULL, 0, raw, len) ? 1 : 0;
}

/* ---- state records --------------------------------------------------------- */

static void state_key(kctx *k, int32_t partition, char *out, size_t n) {
    snprintf(out, n, "%s/%s/%" PRId32, k->o->group, k->o->topic, partition);
}

typedef struct growbuf {
    char *p;
    size_t len, cap;
} growbuf;

static int grow_write(void *ud, const void *data, size_t len) {
    growbuf *g = ud;
    if (g->len + len > g->cap) {
        size_t nc = g->cap ? g->cap : 4096;
        while (nc < g->len + len) nc *= 2;
        char *np = realloc(g->p, nc);
        if (!np) return 1;
        g->p = np;
        g->cap = nc;
    }
    memcpy(g->p + g->len, data, len);
    g->len += len;
    return 0;
}

static void put_be64(unsigned char *b, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) b[i] = (unsigned char)v;
}
static uint64_t get_be64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | b[i];
    return v;
}

static void put_be32(unsigned char *b, uint32_t v) {
    for (int i = 3; i >= 0; i--, v >>= 8) b[i] = (unsigned char)v;
}
static uint32_t get_be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The key of piece i of a partition's state. */
static size_t piece_key(kctx *k, int32_t partition, uint32_t i, char *out, size_t n) {
    state_key(k, partition, out, n);
    size_t l = strlen(out);
    if (i) snprintf(out + l, n - l, "#%" PRIu32, i);
    return strlen(out);
}

/* The partition's snapshot, in as many records as it needs, each headed by
 * STATE_HDR bytes. The snapshot is written after room for the first header;
 * piece i's header then goes over the last STATE_HDR bytes of piece i-1,
 * which produce has already copied (RD_KAFKA_MSG_F_COPY), so no piece is
 * copied twice here. The pieces a larger earlier state left beyond them get
 * tombstones, so that compaction drops them (they would be ignored anyway:
 * piece 0 says how many there are). */
static int write_state(kctx *k, part *p) {
    growbuf g = {0};
    int rc = grow_write(&g, (unsigned char[STATE_HDR]){0}, STATE_HDR) ? CEP_ENOMEM
                                                                    : cep_engine_snapshot(p->e, grow_write, &g);
    if (rc != CEP_OK) {
        free(g.p);
        return kfail(k, EXIT_INTERNAL, "cannot snapshot partition %" PRId32 ": %s", p->id,
                     cep_strerror(rc == CEP_ECALLBACK ? CEP_ENOMEM : rc));
    }
    size_t snap = g.len - STATE_HDR, per = k->piece_max;
    size_t n = snap ? (snap + per - 1) / per : 1;
    if (n > STATE_PIECES_MAX) {
        free(g.p);
        return kfail(k, EXIT_OUTPUT, "the state of partition %" PRId32 " is %zu bytes: over %d records of %zu "
                     "(raise -X message.max.bytes)", p->id, snap, STATE_PIECES_MAX, per);
    }
    char key[600];
    int32_t sp = p->id % k->state_parts;
    int r = 0;
    for (uint32_t i = 0; i < n && !r; i++) {
        size_t off = (size_t)i * per, len = snap - off < per ? snap - off : per;
        unsigned char *rec = (unsigned char *)g.p + off; /* its header, then its piece */
        memcpy(rec, STATE_MAGIC, 8);
        put_be64(rec + 8, (uint64_t)p->next);
        put_be32(rec + 16, i);
        put_be32(rec + 20, (uint32_t)n);
        size_t kl = piece_key(k, p->id, i, key, sizeof key);
        r = produce(k, k->state_topic, sp, key, kl, rec, STATE_HDR + len);
    }
    k->txn_state_bytes += snap;
    free(g.p);
    for (uint32_t i = (uint32_t)n; i < p->pieces && !r; i++) {
        size_t kl = piece_key(k, p->id, i, key, sizeof key);
        r = produce(k, k->state_topic, sp, key, kl, NULL, 0);
    }
    if (!r) p->pieces = (uint32_t)n;
    return r ? EXIT_OUTPUT : EXIT_OK;
}

/* The last record read of one piece of a partition's state. */
typedef struct piece {
    char *data;            /* malloc'd; NULL: none (or a tombstone) */
    size_t len;
    int64_t next;
    uint32_t count;
    int foreign;           /* the record is not Cepheus state */
} piece;

/* What a restore found for one input partition. */
typedef struct restored {
    int32_t id;
    char key[512];
    size_t klen;
    piece *pc;             /* by index, as read */
    uint32_t npc;          /* 1 + the highest index read */
    char *snap;            /* malloc'd engine snapshot; NULL: no state record */
    size_t len;
    int64_t next;          /* input offset the snapshot stands for */
} restored;

static void restored_free(restored *r, size_t n) {
    for (size_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < r[i].npc; j++) free(r[i].pc[j].data);
        free(r[i].pc);
        free(r[i].snap);
    }
    free(r);
}

/* Which piece of e's state a record with this key is: its index, or -1. */
static long piece_index(const restored *e, const char *key, size_t klen) {
    if (klen < e->klen || memcmp(key, e->key, e->klen) != 0) return -1;
    if (klen == e->klen) return 0;
    if (key[e->klen] != '#' || klen == e->klen + 1 || klen - e->klen > 6) return -1;
    long i = 0;
    for (size_t j = e->klen + 1; j < klen; j++) {
        if (key[j] < '0' || key[j] > '9') return -1;
        i = i * 10 + (key[j] - '0');
    }
    return i > 0 && i < STATE_PIECES_MAX ? i : -1;
}

/* Keep record m as piece i of e (the later record of a key wins, as
 * compaction would have it). -1 with k->status set on failure. */
static int keep_piece(kctx *k, restored *e, long i, const rd_kafka_message_t *m) {
    if ((uint32_t)i >= e->npc) {
        piece *np = realloc(e->pc, ((size_t)i + 1) * sizeof *np);
        if (!np) return kfail(k, EXIT_INTERNAL, "out of memory"), -1;
        memset(np + e->npc, 0, ((size_t)i + 1 - e->npc) * sizeof *np);
        e->pc = np;
        e->npc = (uint32_t)i + 1;
    }
    piece *pc = &e->pc[i];
    free(pc->data);
    pc->data = NULL;
    pc->foreign = 0;
    if (m->len == 0) return 0; /* a tombstone: that piece is gone */
    const unsigned char *b = m->payload;
    size_t hdr;
    if (m->len >= STATE_HDR && memcmp(b, STATE_MAGIC, 8) == 0) {
        hdr = STATE_HDR;
        pc->count = get_be32(b + 20);
        if (get_be32(b + 16) != (uint32_t)i) hdr = 0;
    } else if (i == 0 && m->len >= STATE_HDR_V1 && memcmp(b, STATE_MAGIC_V1, 8) == 0) {
        hdr = STATE_HDR_V1;
        pc->count = 1;
    } else {
        hdr = 0;
    }
    if (!hdr) { /* refused only if no later record of the key replaces it (join_pieces) */
        pc->foreign = 1;
        return 0;
    }
    pc->len = m->len - hdr;
    pc->next = (int64_t)get_be64(b + 8);
    if (!(pc->data = malloc(pc->len + 1))) return kfail(k, EXIT_INTERNAL, "out of memory"), -1;
    memcpy(pc->data, b + hdr, pc->len);
    return 0;
}

/* The snapshot from e's pieces: as many as piece 0 says, all of the same
 * commit (the same offset; they were written in one transaction). */
static int join_pieces(kctx *k, restored *e) {
    for (uint32_t i = 0; i < e->npc && i < (e->pc[0].data ? e->pc[0].count : 1); i++)
        if (e->pc[i].foreign)
            return kfail(k, EXIT_INTERNAL, "state record of partition %" PRId32 " in '%s' is not Cepheus state",
                         e->id, k->state_topic);
    if (!e->npc || !e->pc[0].data) return 0; /* no state */
    uint32_t n = e->pc[0].count;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (n > STATE_PIECES_MAX || i >= e->npc || !e->pc[i].data || e->pc[i].count != n ||
            e->pc[i].next != e->pc[0].next)
            return kfail(k, EXIT_INTERNAL, "the state of partition %" PRId32 " in '%s' is incomplete: piece %" PRIu32
                         " of %" PRIu32 " is missing or from another commit", e->id, k->state_topic, i, n);
        total += e->pc[i].len;
    }
    if (!(e->snap = malloc(total + 1))) return kfail(k, EXIT_INTERNAL, "out of memory");
    e->len = 0;
    for (uint32_t i = 0; i < n; i++) {
        memcpy(e->snap + e->len, e->pc[i].data, e->pc[i].len);
        e->len += e->pc[i].len;
    }
    e->next = e->pc[0].next;
    return 0;
}

static rd_kafka_t *new_reader(kctx *k);

/* The last committed state record of each of n input partitions: each state
 * partition they map to is read once, from the start to its end. Returns
 * EXIT_OK, a fatal status, or -1 when SIGINT/SIGTERM came first. The topic is
 * compacted, so this stays short.
 *
 * read_committed stops at the last stable offset, the first record of a
 * transaction still open. When records follow it, it is not the end: such a
 * transaction may be one a member left open when it died, and the state
 * other members committed since (on revoking their partitions) sits behind
 * it. So reading waits until the open transaction ends, committed or aborted
 * by the broker after transaction.timeout.ms.
 *
 * Each restore uses a reader of its own: a consumer keeps per-partition
 * fetch state across assignments, and with librdkafka 2.0.2 a second read of
 * a state partition that had not changed sometimes never reported its end. */
static int read_states(kctx *k, restored *r, size_t n) {
    int32_t sps = k->state_parts;
    char *want = calloc((size_t)sps, 1); /* 1: to read, 2: read to its end */
    if (!want) return kfail(k, EXIT_INTERNAL, "out of memory");
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        int32_t sp = r[i].id % sps;
        state_key(k, r[i].id, r[i].key, sizeof r[i].key);
        r[i].klen = strlen(r[i].key);
        r[i].snap = NULL;
        if (!want[sp]) rd_kafka_topic_partition_list_add(l, k->state_topic, sp)->offset = RD_KAFKA_OFFSET_BEGINNING;
        want[sp] = 1;
    }
    rd_kafka_t *rd = new_reader(k);
    rd_kafka_resp_err_t aerr = rd ? rd_kafka_assign(rd, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
    int left = l->cnt;
    rd_kafka_topic_partition_list_destroy(l);
    if (!rd || aerr) {
        if (rd) rd_kafka_destroy(rd);
        free(want);
        return rd ? kfail(k, EXIT_INTERNAL, "cannot read the state topic: %s", rd_kafka_err2str(aerr)) : k->status;
    }
    int waiting = 0;
    long nread = 0;
    double start = cli_now(), deadline = start + 120 + (double)k->txn_timeout_ms / 1000;
    while (left > 0 && k->status == EXIT_OK && !stop_requested) {
        if (cli_now() > deadline) {
            kfail(k, EXIT_INTERNAL, "timed out reading the state topic '%s'", k->state_topic);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rd, 200);
        if (!m) continue;
        int32_t sp = m->partition;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            int64_t lo, hi, end = m->offset;
            rd_kafka_message_destroy(m);
            int wr = rd_kafka_get_watermark_offsets(rd, k->state_topic, sp, &lo, &hi);
            dbg("state [%" PRId32 "]: end at %" PRId64 ", log end %" PRId64 ", %ld records read", sp, end,
                wr == 0 ? hi : -1, nread);
            if (sp >= 0 && sp < sps && want[sp] == 1 && (wr != 0 || end >= hi)) {
                want[sp] = 2;
                left--;
            } else if (!waiting && cli_now() - start > 2) {
                fprintf(stderr, "cepheus: state partition %" PRId32 " of '%s' has a transaction open at offset "
                        "%" PRId64 "; waiting for it to end (a member that died leaves one until "
                        "transaction.timeout.ms)\n", sp, k->state_topic, end);
                waiting = 1;
            }
            continue;
        }
        if (m->err) {
            /* Transient (broker down, leader moving): librdkafka retries. */
            fprintf(stderr, "cepheus: reading state topic '%s': %s (retrying)\n", k->state_topic,
                    rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        nread++;
        for (size_t i = 0; i < n; i++) {
            long pi = piece_index(&r[i], m->key ? m->key : "", m->key_len);
            if (pi < 0) continue;
            keep_piece(k, &r[i], pi, m);
            break;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rd);
    rd_kafka_destroy(rd);
    free(want);
    /* Stopped while waiting: nothing is restored, so nothing is assigned. */
    if (left > 0 && k->status == EXIT_OK) return -1;
    for (size_t i = 0; i < n && k->status == EXIT_OK; i++) join_pieces(k, &r[i]);
    return k->status;
}

/* ---- partitions -------------------------------------------------------------- */

static part *find_part(kctx *k, int32_t id) {
    for (size_t i = 0; i < k->nparts; i++)
        if (k->parts[i].id == id) return &k->parts[i];
    return NULL;
}

/* Engines hold a pointer to their part as callback data: set again
 * whenever the array of parts moves. */
static void wire(kctx *k) {
    for (size_t i = 0; i < k->nparts; i++) {
        part *p = &k->parts[i];
        cep_engine_on_match(p->e, on_match, p);
        if (k->o->late_topic) cep_engine_on_late(p->e, on_late, p);
        if (k->o->timeouts_topic) cep_engine_on_timeout(p->e, on_timeout, p);
    }
}

static int new_engine(kctx *k, cep_engine **out) {
    const kafka_opts *o = k->o;
    cep_engine *e = NULL;
    int rc = cep_engine_new(k->prog, &e);
    int pol = o->limit_fail ? CEP_LIMIT_FAIL : CEP_LIMIT_DROP_OLDEST;
    if (rc == CEP_OK) rc = cep_engine_set_max_delay(e, o->max_delay);
    if (rc == CEP_OK) rc = cep_engine_set_state_ttl(e, o->state_ttl);
    if (rc == CEP_OK) rc = cep_engine_set_allowed_lateness(e, o->lateness);
    if (rc == CEP_OK) rc = cep_engine_set_max_partial_matches(e, (uint64_t)o->max_pms, pol);
    if (rc == CEP_OK) rc = cep_engine_set_time_field(e, o->time_field);
    /* The events' text is kept (no cep_engine_set_drop_raw): a member may
     * restart with --timeouts-topic on state written without it, and its
     * timeouts would then have no text to print. */
    if (rc != CEP_OK) {
        if (e) cep_engine_free(e);
        return rc;
    }
    *out = e;
    return CEP_OK;
}

/* Create the engine of a newly assigned partition from what the restore
 * found (its last committed snapshot, or nothing: an empty engine at the
 * start of the topic). Takes r->snap. Sets *offset to where reading resumes. */
static int add_part(kctx *k, restored *r, int64_t *offset) {
    if (k->nparts == k->capparts) {
        size_t nc = k->capparts ? k->capparts * 2 : 16;
        part *np = realloc(k->parts, nc * sizeof *np);
        if (!np) return kfail(k, EXIT_INTERNAL, "out of memory");
        k->parts = np;
        k->capparts = nc;
        wire(k);
    }
    part *p = &k->parts[k->nparts];
    memset(p, 0, sizeof *p);
    p->id = r->id;
    p->k = k;
    p->high = -1;
    int rc = new_engine(k, &p->e);
    if (rc != CEP_OK) return kfail(k, EXIT_INTERNAL, "cannot start an engine: %s", cep_strerror(rc));
    int found = r->snap != NULL;
    if (found) {
        rc = cep_engine_restore(p->e, r->snap, r->len);
        free(r->snap);
        r->snap = NULL;
        if (rc != CEP_OK) {
            cep_engine_free(p->e);
            return kfail(k, EXIT_INTERNAL, "cannot restore partition %" PRId32 " from '%s': %s", r->id,
                         k->state_topic, cep_strerror(rc));
        }
    }
    p->next = found ? r->next : 0;
    p->pieces = r->npc;
    cep_engine_stats(p->e, &p->base); /* what the next state must overwrite or delete */
    *offset = found ? r->next : RD_KAFKA_OFFSET_BEGINNING;
    k->nparts++;
    wire(k);
    dbg("partition %" PRId32 " assigned, %s at offset %" PRId64 " (%zu bytes of state in %" PRIu32 " records)", r->id,
        found ? "restored" : "fresh", p->next, found ? r->len : 0, found ? r->pc[0].count : 0);
    return EXIT_OK;
}

/* Restore the n partitions ids (engines from their state) into k->parts;
 * offs[i] gets where partition ids[i] resumes. EXIT_OK, a fatal status, or -1
 * (none added) when stopped while reading their state. */
static int add_parts(kctx *k, const int32_t *ids, size_t n, int64_t *offs) {
    restored *r = calloc(n ? n : 1, sizeof *r);
    if (!r) return kfail(k, EXIT_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) r[i].id = ids[i];
    metrics_health(k->mx, HEALTH_RESTORING, "restoring partitions from the state topic");
    int rc = n ? read_states(k, r, n) : EXIT_OK;
    if (rc == EXIT_OK)
        for (size_t i = 0; i < n && k->status == EXIT_OK; i++) add_part(k, &r[i], &offs[i]);
    restored_free(r, n);
    metrics_health(k->mx, HEALTH_RUNNING, NULL);
    return rc < 0 ? rc : k->status;
}

static void drop_part(kctx *k, int32_t id) {
    for (size_t i = 0; i < k->nparts; i++) {
        if (k->parts[i].id != id) continue;
        cep_stats st;
        cep_engine_stats(k->parts[i].e, &st);
        metrics_stats_add(&k->retired, &st, &k->parts[i].base);
        cep_engine_free(k->parts[i].e);
        k->parts[i] = k->parts[--k->nparts];
        wire(k);
        return;
    }
}

/* ---- transactions -------------------------------------------------------------- */

static int begin_txn(kctx *k) {
    rd_kafka_error_t *err = rd_kafka_begin_transaction(k->prod);
    if (err) {
        kfail(k, EXIT_OUTPUT, "cannot begin a transaction: %s", rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
        return -1;
    }
    k->in_txn = 1;
    k->txn_doomed = 0;
    k->txn_count = 0;
    k->txn_state_bytes = 0;
    k->txn_start = cli_now();
    return 0;
}

/* Forget everything since the last commit: every engine is rebuilt from its
 * committed state and the consumer seeks back to where that state stood. */
static int rewind_all(kctx *k) {
    size_t n = k->nparts;
    int32_t *ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids) return kfail(k, EXIT_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) ids[i] = k->parts[i].id;
    for (size_t i = 0; i < n; i++) drop_part(k, ids[i]);
    int64_t *offs = calloc(n ? n : 1, sizeof *offs);
    if (!offs) {
        free(ids);
        return kfail(k, EXIT_INTERNAL, "out of memory");
    }
    /* (Stopped while restoring: the partitions stay without engines, their
     * messages ignored, until the consumer closes.) */
    int rc = add_parts(k, ids, n, offs);
    for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, k->o->topic, ids[i])->offset = offs[i];
        rd_kafka_error_t *e = rd_kafka_seek_partitions(k->cons, l, 10000);
        if (e) {
            kfail(k, EXIT_INTERNAL, "cannot seek partition %" PRId32 ": %s", ids[i], rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
    free(offs);
    free(ids);
    return k->status;
}

/* Abort the open transaction (a failed commit, or the partitions were
 * lost); a failure to abort is fatal (k->status). */
static void abort_txn(kctx *k) {
    if (!k->in_txn) return;
    rd_kafka_error_t *ab = rd_kafka_abort_transaction(k->prod, -1);
    k->in_txn = 0;
    k->txn_aborted++;
    if (ab) {
        kfail(k, EXIT_OUTPUT, "cannot abort the transaction: %s", rd_kafka_error_string(ab));
        rd_kafka_error_destroy(ab);
    }
}

/* Write the dirty partitions' state and offsets and commit. A retriable
 * failure is retried; an abortable one aborts and rewinds; a fatal one
 * (fenced by a newer instance) stops the process. */
static int commit_txn(kctx *k) {
    if (!k->in_txn) return EXIT_OK;
    double t0 = cli_now();
    dbg("commit: %" PRId64 " messages", k->txn_count);
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new((int)k->nparts);
    for (size_t i = 0; i < k->nparts && k->status == EXIT_OK && !k->txn_doomed; i++) {
        part *p = &k->parts[i];
        if (!p->dirty) continue;
        if (write_state(k, p) != EXIT_OK) break;
        rd_kafka_topic_partition_list_add(offs, k->o->topic, p->id)->offset = p->next;
    }
    rd_kafka_error_t *err = NULL;
    if (k->status == EXIT_OK && offs->cnt > 0 && !k->txn_doomed) {
        rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(k->cons);
        for (int tries = 0;; tries++) {
            err = rd_kafka_send_offsets_to_transaction(k->prod, offs, md, -1);
            if (!err || !rd_kafka_error_is_retriable(err) || tries > 10) break;
            rd_kafka_error_destroy(err);
        }
        rd_kafka_consumer_group_metadata_destroy(md);
    }
    rd_kafka_topic_partition_list_destroy(offs);
    if (!err && k->status == EXIT_OK && !k->txn_doomed) {
        for (int tries = 0;; tries++) {
            err = rd_kafka_commit_transaction(k->prod, -1);
            if (!err || !rd_kafka_error_is_retriable(err) || tries > 10) break;
            rd_kafka_error_destroy(err);
        }
    }
    if (!err && k->status == EXIT_OK && !k->txn_doomed) {
        dbg("committed in %.0f ms", (cli_now() - t0) * 1000);
        k->in_txn = 0;
        k->txn_committed++;
        k->last_commit_s = cli_now() - t0;
        k->last_state_bytes = k->txn_state_bytes;
        for (size_t i = 0; i < k->nparts; i++) k->parts[i].dirty = 0;
        return EXIT_OK;
    }
    if (err && rd_kafka_error_is_fatal(err)) {
        kfail(k, EXIT_OUTPUT, "transaction failed for good (another instance took over?): %s",
              rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
        return k->status;
    }
    if (err) {
        fprintf(stderr, "cepheus: transaction aborted: %s; rewinding to the last commit\n",
                rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    } else if (k->txn_doomed && !stop_requested) {
        fprintf(stderr, "cepheus: transaction aborted: a record was not delivered; rewinding to the last commit\n");
    }
    abort_txn(k);
    /* Leaving (SIGINT/SIGTERM): nothing more is consumed, no need to rewind. */
    if (k->status != EXIT_OK || stop_requested) return k->status;
    return rewind_all(k);
}

/* ---- rebalancing ----------------------------------------------------------------- */

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    kctx *k = opaque;
    dbg("rebalance: %s %d partitions", err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assign" : "revoke",
        parts->cnt);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        size_t n = (size_t)parts->cnt;
        int32_t *ids = calloc(n ? n : 1, sizeof *ids);
        int64_t *offs = calloc(n ? n : 1, sizeof *offs);
        if (!ids || !offs) kfail(k, EXIT_INTERNAL, "out of memory");
        for (size_t i = 0; i < n && k->status == EXIT_OK; i++) {
            ids[i] = parts->elems[i].partition;
            if (find_part(k, ids[i])) drop_part(k, ids[i]);
        }
        int rc = k->status == EXIT_OK ? add_parts(k, ids, n, offs) : k->status;
        if (rc == EXIT_OK)
            for (size_t i = 0; i < n; i++) parts->elems[i].offset = offs[i];
        free(ids);
        free(offs);
        rd_kafka_assign(rk, rc == EXIT_OK ? parts : NULL);
    } else {
        /* Revoked: what was consumed so far is committed before another
         * member may take the partitions over. */
        if (k->status == EXIT_OK) {
            if (rd_kafka_assignment_lost(rk)) {
                /* Expelled (a session timeout, a long pause): another member
                 * may own the partitions already: abort, never commit. */
                fprintf(stderr, "cepheus: partitions lost (expelled from the group): the open transaction is aborted\n");
                abort_txn(k);
            } else {
                commit_txn(k);
            }
        }
        for (int i = 0; i < parts->cnt; i++) drop_part(k, parts->elems[i].partition);
        rd_kafka_assign(rk, NULL);
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    kctx *k = opaque;
    static double last;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_fatal_error(rk, buf, sizeof buf);
        kfail(k, EXIT_OUTPUT, "fatal Kafka error: %s", buf);
        return;
    }
    /* Unreachable brokers: librdkafka reconnects with back-off; say so, at
     * most every few seconds. */
    double t = cli_now();
    if (t - last < 5) return;
    last = t;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
        err == RD_KAFKA_RESP_ERR__RESOLVE)
        fprintf(stderr, "cepheus: cannot reach the Kafka brokers at %s: %s (retrying)\n", k->o->brokers,
                reason);
    else
        fprintf(stderr, "cepheus: kafka: %s (retrying)\n", reason);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    /* A failed delivery makes the transaction's commit fail: it is aborted
     * and redone there. Only report it here. */
    if (m->err && getenv("CEPHEUS_KAFKA_DEBUG"))
        fprintf(stderr, "cepheus: delivery to '%s' failed: %s\n", rd_kafka_topic_name(m->rkt),
                rd_kafka_err2str(m->err));
}

/* ---- setup -------------------------------------------------------------------------- */

static rd_kafka_conf_t *base_conf(kctx *k, char *errstr, size_t n) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", k->o->brokers, errstr, n) != RD_KAFKA_CONF_OK) goto bad;
    for (int i = 0; i < k->o->nconfig; i++) {
        char *kv = strdup(k->o->config[i]); /* whole: a value may be long (a password, a path) */
        char *eq = kv ? strchr(kv, '=') : NULL;
        if (!eq) {
            snprintf(errstr, n, kv ? "-X '%s': expected key=value" : "-X '%s': out of memory", k->o->config[i]);
            free(kv);
            goto bad;
        }
        *eq = '\0';
        int ok = rd_kafka_conf_set(c, kv, eq + 1, errstr, n) == RD_KAFKA_CONF_OK;
        free(kv);
        if (!ok) goto bad;
    }
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_error_cb(c, on_error);
    return c;
bad:
    rd_kafka_conf_destroy(c);
    return NULL;
}

static int setconf(rd_kafka_conf_t *c, const char *key, const char *val, char *errstr, size_t n) {
    return rd_kafka_conf_set(c, key, val, errstr, n) == RD_KAFKA_CONF_OK ? 0 : -1;
}

/* A reader of the state topic: assigned, never in the group, stops at the
 * end of what is committed. NULL (and k->status set) on failure. */
static rd_kafka_t *new_reader(kctx *k) {
    char errstr[512], rgroup[512];
    snprintf(rgroup, sizeof rgroup, "%s.state-reader", k->o->group);
    rd_kafka_conf_t *c = base_conf(k, errstr, sizeof errstr);
    if (!c || setconf(c, "group.id", rgroup, errstr, sizeof errstr) ||
        setconf(c, "enable.auto.commit", "false", errstr, sizeof errstr) ||
        setconf(c, "enable.partition.eof", "true", errstr, sizeof errstr) ||
        setconf(c, "isolation.level", "read_committed", errstr, sizeof errstr)) {
        if (c) rd_kafka_conf_destroy(c);
        kfail(k, EXIT_USAGE, "Kafka state reader configuration: %s", errstr);
        return NULL;
    }
    rd_kafka_t *rd = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof errstr);
    if (!rd) {
        rd_kafka_conf_destroy(c); /* still ours when rd_kafka_new fails */
        kfail(k, EXIT_USAGE, "cannot create the Kafka state reader: %s", errstr);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rd);
    return rd;
}

static int create_clients(kctx *k) {
    char errstr[512], txid[512], host[256] = "host";
    const kafka_opts *o = k->o;
    rd_kafka_conf_t *c = base_conf(k, errstr, sizeof errstr);
    if (!c || setconf(c, "group.id", o->group, errstr, sizeof errstr) ||
        setconf(c, "enable.auto.commit", "false", errstr, sizeof errstr) ||
        setconf(c, "isolation.level", "read_committed", errstr, sizeof errstr) ||
        setconf(c, "auto.offset.reset", "earliest", errstr, sizeof errstr)) {
        if (c) rd_kafka_conf_destroy(c);
        return kfail(k, EXIT_USAGE, "Kafka consumer configuration: %s", errstr);
    }
    rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
    if (!(k->cons = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(c);
        return kfail(k, EXIT_USAGE, "cannot create the Kafka consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(k->cons);

    /* The transactional id names this member: a restarted member with the
     * same --instance-id fences its previous incarnation at once. */
    if (o->instance_id) {
        snprintf(txid, sizeof txid, "cepheus-%s-%s", o->group, o->instance_id);
    } else {
        gethostname(host, sizeof host - 1);
        snprintf(txid, sizeof txid, "cepheus-%s-%s-%ld", o->group, host, (long)getpid());
    }
    c = base_conf(k, errstr, sizeof errstr);
    /* allow.auto.create.topics: the producer's default would create a
     * missing state topic (not compacted) on a broker that allows it. */
    if (!c || setconf(c, "transactional.id", txid, errstr, sizeof errstr) ||
        setconf(c, "linger.ms", "5", errstr, sizeof errstr) ||
        setconf(c, "allow.auto.create.topics", "false", errstr, sizeof errstr)) {
        if (c) rd_kafka_conf_destroy(c);
        return kfail(k, EXIT_USAGE, "Kafka producer configuration: %s", errstr);
    }
    char tt[32];
    size_t ttn = sizeof tt;
    k->txn_timeout_ms = rd_kafka_conf_get(c, "transaction.timeout.ms", tt, &ttn) == RD_KAFKA_CONF_OK
                            ? strtoll(tt, NULL, 10) : 60000;
    /* A state record's snapshot piece: what message.max.bytes leaves after
     * the key, the header and the protocol's own bytes per record. */
    char mm[32];
    size_t mmn = sizeof mm;
    long long mmax = rd_kafka_conf_get(c, "message.max.bytes", mm, &mmn) == RD_KAFKA_CONF_OK ? strtoll(mm, NULL, 10)
                                                                                            : 1000000;
    if (mmax < 2048) {
        rd_kafka_conf_destroy(c);
        return kfail(k, EXIT_USAGE, "message.max.bytes %lld is too small for state records (at least 2048)", mmax);
    }
    k->piece_max = (size_t)mmax - 1024;
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    if (!(k->prod = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(c);
        return kfail(k, EXIT_USAGE, "cannot create the Kafka producer: %s", errstr);
    }
    for (;;) {
        rd_kafka_error_t *err = rd_kafka_init_transactions(k->prod, 30000);
        if (!err) break;
        int retry = rd_kafka_error_is_retriable(err) || rd_kafka_error_code(err) == RD_KAFKA_RESP_ERR__TIMED_OUT;
        fprintf(stderr, "cepheus: cannot start transactions with the brokers at %s: %s%s\n", o->brokers,
                rd_kafka_error_string(err), retry ? " (retrying)" : "");
        rd_kafka_error_destroy(err);
        if (!retry || stop_requested) return kfail(k, EXIT_OUTPUT, "giving up");
        sleep(1);
    }

    /* The state topic must exist: its partition count says where each
     * input partition's state goes. Looked up in the list of all topics:
     * asking for the one topic would create it on a broker that allows it
     * (librdkafka 2.0.2 asks so whatever allow.auto.create.topics says),
     * with cleanup.policy=delete. */
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(k->prod, 1, NULL, &md, 10000);
        const struct rd_kafka_metadata_topic *st = NULL;
        for (int i = 0; !err && i < md->topic_cnt; i++)
            if (!strcmp(md->topics[i].topic, k->state_topic)) st = &md->topics[i];
        if (st && !st->err && st->partition_cnt > 0) {
            k->state_parts = st->partition_cnt;
            rd_kafka_metadata_destroy(md);
            break;
        }
        if (!err && (!st || st->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)) {
            rd_kafka_metadata_destroy(md);
            return kfail(k, EXIT_USAGE, "the state topic '%s' does not exist (create it, compacted: "
                         "cleanup.policy=compact)", k->state_topic);
        }
        if (md) rd_kafka_metadata_destroy(md);
        fprintf(stderr, "cepheus: cannot read metadata of '%s' from %s: %s (retrying)\n", k->state_topic,
                o->brokers, rd_kafka_err2str(err ? err : RD_KAFKA_RESP_ERR__PARTIAL));
        if (stop_requested) return kfail(k, EXIT_OUTPUT, "giving up");
        sleep(1);
    }
    return EXIT_OK;
}

static void print_stats(kctx *k, double dt) {
    for (size_t i = 0; i < k->nparts; i++) {
        part *p = &k->parts[i];
        cep_stats st;
        cep_engine_stats(p->e, &st);
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(k->cons, k->o->topic, p->id, &lo, &hi) == 0) p->high = hi;
        char wm[32] = "-";
        if (st.watermark != INT64_MIN) snprintf(wm, sizeof wm, "%" PRId64, st.watermark);
        fprintf(stderr,
                "cepheus: partition %" PRId32 ": offset %" PRId64 ", lag %" PRId64 ", %.0f events/s, "
                "watermark %s, partial matches %" PRIu64 ", matches %" PRIu64 "\n",
                p->id, p->next, p->high >= 0 && p->high > p->next ? p->high - p->next : 0,
                dt > 0 ? (double)(p->events - p->last_events) / dt : 0.0, wm, st.partial_matches,
                st.matches);
        p->last_events = p->events;
    }
}


static int handle_msg(kctx *k, rd_kafka_message_t *m) {
    part *p = find_part(k, m->partition);
    if (!p) return EXIT_OK; /* from a partition just revoked */
    if (!k->in_txn && begin_txn(k) < 0) return k->status;
    int64_t wm;
    const char *s = m->payload ? m->payload : "";
    int kind = cli_watermark_line(s, m->len, &wm); /* as in file mode */
    int rc = kind > 0 ? cep_engine_advance_watermark(p->e, wm) : kind < 0 ? CEP_ETIME
                                                                         : cep_engine_push_json(p->e, s, m->len);
    p->next = m->offset + 1;
    p->dirty = 1;
    p->events++;
    k->txn_count++;
    k->records++;
    if (rc == CEP_OK) return EXIT_OK;
    if (rc == CEP_EJSON || rc == CEP_ENOTOBJECT || rc == CEP_ETIME || rc == CEP_ERANGE || rc == CEP_ETOODEEP) {
        k->malformed_by[metrics_reason(rc, 0, kind)]++;
        fprintf(stderr, "%s[%" PRId32 "]@%" PRId64 ": error: %s\n", k->o->topic, m->partition, m->offset,
                kind < 0 ? "invalid watermark" : cep_engine_error(p->e));
        return EXIT_OK;
    }
    if (rc == CEP_ECALLBACK && k->status != EXIT_OK) return k->status;
    if (rc == CEP_ENOMEM || k->oom) return kfail(k, EXIT_INTERNAL, "out of memory");
    if (rc == CEP_ELIMIT) return kfail(k, EXIT_LIMIT, "%s", cep_engine_error(p->e));
    return kfail(k, EXIT_INTERNAL, "%s", cep_strerror(rc));
}

/* --metrics: copy the member's counters for the scrape that asked. */
static void publish(kctx *k) {
    metrics_snap s;
    memset(&s, 0, sizeof s);
    s.st = k->retired;
    s.st.watermark = s.st.max_event_time = INT64_MIN;
    int64_t worst = -1;
    int32_t *ids = calloc(k->nparts ? k->nparts : 1, sizeof *ids);
    int64_t *lag = calloc(k->nparts ? k->nparts : 1, sizeof *lag);
    for (size_t i = 0; i < k->nparts; i++) {
        part *p = &k->parts[i];
        cep_stats st;
        cep_engine_stats(p->e, &st);
        metrics_stats_add(&s.st, &st, &p->base);
        s.st.partial_matches += st.partial_matches;
        s.st.keys += st.keys;
        s.st.memory += st.memory;
        s.st.buffered += st.buffered;
        /* The watermark lag shown is the partition's that trails most. */
        if (st.max_event_time != INT64_MIN && st.watermark != INT64_MIN && st.watermark != INT64_MAX &&
            st.max_event_time - st.watermark > worst) {
            worst = st.max_event_time - st.watermark;
            s.st.max_event_time = st.max_event_time;
            s.st.watermark = st.watermark;
        }
        if (ids && lag) {
            int64_t lo, hi;
            ids[i] = p->id;
            /* Cached by the consumer from its fetches: no request here. */
            lag[i] = rd_kafka_get_watermark_offsets(k->cons, k->o->topic, p->id, &lo, &hi) == 0 && hi >= 0
                         ? (hi > p->next ? hi - p->next : 0)
                         : -1;
        }
    }
    s.records = k->records;
    memcpy(s.malformed, k->malformed_by, sizeof s.malformed);
    s.ckpt_on = 1;
    s.ckpt_done = k->txn_committed;
    s.ckpt_failed = k->txn_aborted;
    s.ckpt_seconds = k->last_commit_s;
    s.ckpt_bytes = k->last_state_bytes;
    s.ckpt_pause = -1; /* the commit is the pause: its duration */
    size_t np = cep_program_pattern_count(k->prog);
    const char **names = calloc(np ? np : 1, sizeof *names);
    if (names && k->by_pattern) {
        for (size_t i = 0; i < np; i++) names[i] = cep_program_pattern_name(k->prog, i);
        s.npatterns = np;
        s.pattern_names = names;
        s.pattern_matches = k->by_pattern;
    }
    s.kafka = 1;
    s.txn_committed = k->txn_committed;
    s.txn_aborted = k->txn_aborted;
    if (ids && lag) {
        s.nparts = k->nparts;
        s.part_ids = ids;
        s.part_lag = lag;
    }
    metrics_publish(k->mx, &s);
    free(names);
    free(ids);
    free(lag);
}

int kafka_run(const cep_program *prog, const kafka_opts *o) {
    kctx k = {.o = o, .prog = prog, .mx = o->metrics};
    if (k.mx) k.by_pattern = calloc(cep_program_pattern_count(prog), sizeof *k.by_pattern);
    char st[512];
    if (o->state_topic) snprintf(st, sizeof st, "%s", o->state_topic);
    else snprintf(st, sizeof st, "%s-cepheus-state", o->group);
    k.state_topic = st;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (create_clients(&k) == EXIT_OK) {
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, o->topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(k.cons, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (err) kfail(&k, EXIT_USAGE, "cannot subscribe to '%s': %s", o->topic, rd_kafka_err2str(err));
        else metrics_health(k.mx, HEALTH_RUNNING, NULL);
    }
    double last_stats = cli_now();
    while (k.status == EXIT_OK && !stop_requested) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k.cons, 100);
        if (m) {
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    fprintf(stderr, "cepheus: consuming '%s': %s\n", o->topic, rd_kafka_message_errstr(m));
            } else {
                handle_msg(&k, m);
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(k.prod, 0);
        if (k.in_txn && k.status == EXIT_OK &&
            (k.txn_doomed || k.txn_count >= o->txn_events || (cli_now() - k.txn_start) * 1000 >= (double)o->txn_ms))
            commit_txn(&k);
        if (metrics_wanted(k.mx)) publish(&k);
        if (o->stats_ms && (cli_now() - last_stats) * 1000 >= (double)o->stats_ms) {
            print_stats(&k, cli_now() - last_stats);
            last_stats = cli_now();
        }
    }
    dbg("stopping");
    /* Leaving: commit what was consumed (closing revokes the partitions,
     * whose callback commits), then give the partitions back. */
    if (k.cons) {
        if (k.status == EXIT_OK) commit_txn(&k);
        rd_kafka_consumer_close(k.cons);
        rd_kafka_destroy(k.cons);
    }
    if (k.prod) {
        if (k.in_txn) {
            rd_kafka_error_t *e = rd_kafka_abort_transaction(k.prod, 10000);
            if (e) rd_kafka_error_destroy(e);
        }
        rd_kafka_flush(k.prod, 10000);
        rd_kafka_destroy(k.prod);
    }
    for (size_t i = 0; i < k.nparts; i++) cep_engine_free(k.parts[i].e);
    free(k.parts);
    free(k.by_pattern);
    jbuf_free(&k.buf);
    dbg("stopped, status %d", k.status);
    return k.status;
}
