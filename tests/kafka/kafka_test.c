/* kafka_test.c — `cepheus run --kafka` against librdkafka's mock cluster (3
 * brokers inside this process): keyed click events over 12 partitions, a
 * group of `cepheus` processes, members stopped (SIGTERM) or killed (SIGKILL)
 * mid-run, and the output topic, read with isolation.level=read_committed,
 * compared with a single-process `cepheus run` on the same events. Linked
 * with the librdkafka of tests/kafka/librdkafka.sh, whose mock cluster
 * applies transactions to fetches (docs/scaling.md).
 *
 * Usage: kafka_test CEPHEUS PATTERNS.cep WORKDIR [--events N] [--consumers C]
 *        [--kill term|kill|none] [--errors] [--bench] [--scrape]
 *        kafka_test CEPHEUS PATTERNS.cep WORKDIR --refusals
 * KAFKA_TEST_MEMBER_ARGS adds options to every member (e.g. --stats).
 * --scrape: the last member (never stopped) runs with --metrics; once the
 * output is complete, its /metrics and /healthz are scraped and checked. 
 * Exit 0 when the committed output equals the reference exactly once.
 * --refusals: one member, one partition; its committed state replaced by
 * damaged or foreign records, each must be refused (run_refusals). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

extern char **environ;

#define PARTS 12
#define USERS 1000
#define ITEMS 25
#define RECENT 16

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wall-clock seconds, to line the test's messages up with the members'. */
static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kafka_test: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* The click_to_purchase generator's format and logic, with USERS users. */
static uint64_t rng_state = 20231114;
static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static unsigned below(unsigned n) { return (unsigned)(rng_next() % n); }

static void gen_events(const char *path, long n) {
    FILE *f = fopen(path, "w");
    if (!f) die("cannot write %s", path);
    static int clicked[USERS][RECENT];
    static const char *devices[] = {"mobile", "desktop", "tablet"};
    int64_t clock = 1700000000000LL;
    for (long i = 0; i < n; i++) {
        clock += 5 + below(60);
        int64_t ts = clock;
        if (below(10) == 0) ts -= below(5001);
        unsigned u = below(USERS), roll = below(100);
        const char *type;
        int item;
        if (roll < 50) {
            type = "view";
            item = 1 + (int)below(ITEMS);
        } else if (roll < 80) {
            type = "click";
            item = 1 + (int)below(ITEMS);
            memmove(&clicked[u][1], &clicked[u][0], (RECENT - 1) * sizeof(int));
            clicked[u][0] = item;
        } else {
            type = "purchase";
            int pick = clicked[u][below(RECENT)];
            item = (below(100) < 70 && pick) ? pick : 1 + (int)below(ITEMS);
        }
        fprintf(f, "{\"ts\":%" PRId64 ",\"user_id\":\"u%u\",\"type\":\"%s\",\"item\":\"i%d\",\"device\":\"%s\"}\n",
                ts, u + 1, type, item, devices[below(3)]);
    }
    fclose(f);
}

/* Lines of a file, or record values, as a sortable list. */
typedef struct lines {
    char **v;
    size_t n, cap;
} lines;
static void lines_add(lines *l, const char *s, size_t len) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n] = strndup(s, len);
    l->n++;
}
static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Events the test producer could not deliver (none may be). */
static long failed_deliveries;
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    if (m->err) failed_deliveries++;
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *boot, const char *group, const char *isolation) {
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", boot, err, sizeof err);
    if (type == RD_KAFKA_CONSUMER) {
        rd_kafka_conf_set(c, "group.id", group, err, sizeof err);
        rd_kafka_conf_set(c, "isolation.level", isolation, err, sizeof err);
        rd_kafka_conf_set(c, "enable.partition.eof", "true", err, sizeof err);
        rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof err);
    } else {
        rd_kafka_conf_set(c, "linger.ms", "20", err, sizeof err);
        rd_kafka_conf_set(c, "enable.idempotence", "true", err, sizeof err);
        rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    }
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof err);
    if (!rk) die("cannot create a client: %s", err);
    return rk;
}

/* A consumer of every partition of a topic, read as the run goes: with
 * read_committed, what it has is what a downstream consumer would see. */
typedef struct reader {
    rd_kafka_t *rk;
    const char *topic;
    int64_t end[PARTS]; /* offset of the last end-of-partition seen, -1: none */
} reader;

static void reader_open(reader *r, const char *boot, const char *topic, const char *isolation) {
    r->rk = client(RD_KAFKA_CONSUMER, boot, "kafka-test-reader", isolation);
    r->topic = topic;
    rd_kafka_poll_set_consumer(r->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
    for (int p = 0; p < PARTS; p++) {
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        r->end[p] = -1;
    }
    rd_kafka_assign(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Take what has been committed since the last call (waiting up to ms). */
static void reader_drain(reader *r, lines *out, int ms) {
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, ms);
        if (!m) return;
        ms = 0;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) r->end[m->partition] = m->offset;
        else if (!m->err) lines_add(out, m->payload, m->len);
        rd_kafka_message_destroy(m);
    }
}

/* Everything is in: each partition's committed end is its log end (no
 * transaction still open on it). */
static int reader_complete(reader *r) {
    for (int p = 0; p < PARTS; p++) {
        int64_t lo, hi;
        if (r->end[p] < 0 || rd_kafka_get_watermark_offsets(r->rk, r->topic, p, &lo, &hi) != 0 ||
            r->end[p] < hi)
            return 0;
    }
    return 1;
}

/* Where each partition stands: the reader's position, the last stable
 * offset (read_committed's end, from the broker) and the log end. */
static void report_partitions(reader *r) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
    for (int p = 0; p < PARTS; p++) rd_kafka_topic_partition_list_add(l, r->topic, p);
    rd_kafka_position(r->rk, l);
    for (int p = 0; p < PARTS; p++) {
        int64_t lo = -1, lso = -1, wlo, hi = -1;
        rd_kafka_query_watermark_offsets(r->rk, r->topic, p, &lo, &lso, 5000);
        rd_kafka_get_watermark_offsets(r->rk, r->topic, p, &wlo, &hi);
        fprintf(stderr, "kafka_test: %s [%d]: read to %" PRId64 ", last stable offset %" PRId64 ", log end %" PRId64 "\n",
                r->topic, p, l->elems[p].offset, lso, hi);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void reader_close(reader *r) {
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
}

/* Produce events *fed.. up to `upto` to the input topic, keyed by user; after
 * the last, each partition's watermark to the far future (what end of input
 * does in the single-process run), then wait until all are delivered. */
static void feed(rd_kafka_t *prod, const lines *evs, size_t *fed, size_t upto) {
    if (upto > evs->n) upto = evs->n;
    if (*fed >= evs->n) return;
    for (; *fed < upto; (*fed)++) {
        const char *line = evs->v[*fed];
        const char *u = strstr(line, "\"user_id\":\"");
        if (!u) die("event without user_id: %s", line);
        u += 11;
        size_t ulen = strcspn(u, "\"");
        while (rd_kafka_producev(prod, RD_KAFKA_V_TOPIC("in"), RD_KAFKA_V_KEY(u, ulen),
                                 RD_KAFKA_V_VALUE((void *)line, strlen(line)),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(prod, 10);
    }
    rd_kafka_poll(prod, 0);
    if (*fed < evs->n) return;
    /* (Waiting while the local queue is full, as for the events: a
     * watermark dropped there once left the matches it releases out.) */
    const char *wm = "{\"$watermark\":9000000000000000}";
    for (int p = 0; p < PARTS; p++) {
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(prod, RD_KAFKA_V_TOPIC("in"), RD_KAFKA_V_PARTITION(p),
                                        RD_KAFKA_V_VALUE((void *)wm, strlen(wm)),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(prod, 10);
        if (err) die("cannot produce a watermark: %s", rd_kafka_err2str(err));
    }
    if (rd_kafka_flush(prod, 60000) || failed_deliveries) die("cannot produce the events");
}

/* Kafka protocol API keys (rdkafka_protocol.h is not installed). */
enum { API_PRODUCE = 0, API_FETCH = 1, API_ADD_PARTITIONS_TO_TXN = 24, API_END_TXN = 26, API_TXN_OFFSET_COMMIT = 28 };

/* Injected errors: each entry fails one request of that API, the zeros let
 * requests through, so a fifth (or a third) of the requests fail however
 * many clients send them. Produce gets only errors that say the records were
 * not written: the mock answers REQUEST_TIMED_OUT without writing them, which
 * on a broker means "maybe written", and an idempotent producer then stops
 * for good at the next batch (a fatal sequence error: the member exits with
 * status 4, as for a crash). */
static void inject_errors(rd_kafka_mock_cluster_t *mc) {
    static const rd_kafka_resp_err_t produce[] = {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 0, 0, 0, 0,
                                                  RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, 0, 0, 0, 0};
    static const rd_kafka_resp_err_t fetch[] = {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 0, 0, 0, 0};
    static const rd_kafka_resp_err_t add_parts[] = {RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, 0, 0};
    static const rd_kafka_resp_err_t txn_offsets[] = {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, 0, 0};
    static const rd_kafka_resp_err_t end_txn[] = {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, 0, 0};
    rd_kafka_mock_push_request_errors_array(mc, API_PRODUCE, 10, produce);
    rd_kafka_mock_push_request_errors_array(mc, API_FETCH, 5, fetch);
    rd_kafka_mock_push_request_errors_array(mc, API_ADD_PARTITIONS_TO_TXN, 3, add_parts);
    rd_kafka_mock_push_request_errors_array(mc, API_TXN_OFFSET_COMMIT, 3, txn_offsets);
    rd_kafka_mock_push_request_errors_array(mc, API_END_TXN, 3, end_txn);
}

static void clear_errors(rd_kafka_mock_cluster_t *mc) {
    int16_t apis[] = {API_PRODUCE, API_FETCH, API_ADD_PARTITIONS_TO_TXN, API_TXN_OFFSET_COMMIT,
                      API_END_TXN};
    for (size_t i = 0; i < sizeof apis / sizeof *apis; i++) rd_kafka_mock_clear_request_errors(mc, apis[i]);
}

static pid_t spawn_member(const char *cepheus, const char *pat, const char *boot, const char *dir, int i,
                          const char *extra) {
    char logp[1024], inst[32], cmd[4096];
    snprintf(logp, sizeof logp, "%s/member%d.log", dir, i);
    snprintf(inst, sizeof inst, "m%d", i);
    snprintf(cmd, sizeof cmd,
             "exec '%s' run '%s' --kafka '%s' --topic in --group g --output-topic out "
             "--state-topic state --instance-id %s --max-delay 5000 --txn-events 5000 --txn-ms 500 "
             "-X session.timeout.ms=6000 -X heartbeat.interval.ms=500 -X transaction.timeout.ms=10000 "
             "%s 2>>'%s'",
             cepheus, pat, boot, inst, extra ? extra : "", logp);
    char *argv[] = {"sh", "-c", cmd, NULL};
    pid_t pid;
    if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) != 0) die("cannot start %s", cepheus);
    return pid;
}

/* GET path from 127.0.0.1:port (HTTP/1.0, so the server closes): the
 * status code, the body in body (malloc'd); -1 on a failure. */
static int http_get(int port, const char *path, char **body) {
    *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap + 1);
    ssize_t got;
    while (buf && (got = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)got;
        if (len == cap && !(buf = realloc(buf, (cap *= 2) + 1))) die("out of memory");
    }
    close(fd);
    if (!buf) die("out of memory");
    buf[len] = '\0';
    int code = -1;
    char *sep = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1 || !sep) {
        free(buf);
        return -1;
    }
    memmove(buf, sep + 4, strlen(sep + 4) + 1);
    *body = buf;
    return code;
}

/* The value of the sample line "name value" (name with its labels), or -1. */
static double sample(const char *body, const char *name) {
    size_t n = strlen(name);
    for (const char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, name, n) && l[n] == ' ') return strtod(l + n + 1, NULL);
    return -1;
}

/* Scrape member i (its log says where) once the output is complete: 200
 * with the counters of a member that has consumed everything it holds. */
static int scrape_member(const char *dir, int i, long nev) {
    char logp[1024], line[1024];
    snprintf(logp, sizeof logp, "%s/member%d.log", dir, i);
    FILE *f = fopen(logp, "r");
    int port = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "cepheus: metrics at http://127.0.0.1:%d/metrics", &port) == 1) break;
    if (f) fclose(f);
    if (!port) {
        fprintf(stderr, "kafka_test: scrape: member %d did not say where its metrics are\n", i);
        return 0;
    }
    char *health, *body;
    int hc = http_get(port, "/healthz", &health), mc = http_get(port, "/metrics", &body);
    /* kept for a look: WORKDIR/member<i>.metrics */
    snprintf(logp, sizeof logp, "%s/member%d.metrics", dir, i);
    if (body && (f = fopen(logp, "w"))) {
        fputs(body, f);
        fclose(f);
    }
    int ok = hc == 200 && health && !strcmp(health, "ok\n") && mc == 200 && body;
    if (!ok) fprintf(stderr, "kafka_test: scrape: /healthz %d %s, /metrics %d\n", hc, health ? health : "", mc);
    double committed = body ? sample(body, "cepheus_kafka_transactions_committed_total") : -1;
    double parts = body ? sample(body, "cepheus_kafka_partitions") : -1;
    double events = body ? sample(body, "cepheus_events_total") : -1;
    double records = body ? sample(body, "cepheus_input_records_total") : -1;
    /* Every assigned partition read to its end: lag 0 on each. */
    int lags = 0, lagging = 0;
    for (const char *l = body; l && (l = strstr(l, "\ncepheus_kafka_consumer_lag{partition=\"")); l++) {
        lags++;
        const char *v = strchr(l, ' ');
        if (!v || strtol(v + 1, NULL, 10) != 0) lagging++;
    }
    /* (events may exceed records: a restored engine counts the events its
     * snapshot held buffered when it releases them) */
    if (committed < 1 || parts < 1 || parts > PARTS || lags != (int)parts || lagging || events < 1 ||
        records < 1 || records > nev * 2) {
        fprintf(stderr, "kafka_test: scrape: committed %g, partitions %g, lag lines %d (%d not 0), events %g, "
                        "records %g\n", committed, parts, lags, lagging, events, records);
        ok = 0;
    }
    if (ok)
        fprintf(stderr, "kafka_test: scrape of member %d: 200 ok; %g partitions, all at lag 0; %g events, "
                        "%g transactions committed\n", i, parts, events, committed);
    free(health);
    free(body);
    return ok;
}

/* ---- refusals: a damaged or foreign state record stops a member cleanly ---- */

/* The high watermark (log end) of partition 0 of topic. */
static int64_t log_end(rd_kafka_t *rk, const char *topic) {
    int64_t lo = -1, hi = -1;
    if (rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000)) die("cannot query %s", topic);
    return hi;
}

/* The last committed record of key in partition 0 of topic (NULL: none
 * yet); its length in *len. */
static char *last_record(const char *boot, const char *topic, const char *key, size_t *len) {
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, boot, "kafka-test-refusals", "read_committed");
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    char *val = NULL;
    for (double until = now_s() + 30; now_s() < until;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        int end = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
        if (!m->err && m->key_len == strlen(key) && !memcmp(m->key, key, m->key_len) && m->len) {
            free(val);
            val = malloc(m->len);
            memcpy(val, m->payload, m->len);
            *len = m->len;
        }
        rd_kafka_message_destroy(m);
        if (end) break;
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return val;
}

/* Produce one record to partition 0 of topic and wait for it. */
static void produce_one(rd_kafka_t *prod, const char *topic, const char *key, const void *val, size_t len) {
    if (rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key, strlen(key)),
                          RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_END) ||
        rd_kafka_flush(prod, 30000) || failed_deliveries)
        die("cannot produce to %s", topic);
}

/* Wait up to 90 s for pid: its exit status, or -1 (killed, or it did not
 * stop). */
static int wait_exit(pid_t pid) {
    int st = 0;
    for (double until = now_s() + 90; now_s() < until;) {
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* Does the log at path hold, from byte `from` on, the line `want`? */
static int log_has(const char *path, long from, const char *want) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    fseek(f, from, SEEK_SET);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int found = 0;
    while (!found && (n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') line[--n] = '\0';
        found = !strcmp(line, want);
    }
    free(line);
    fclose(f);
    return found;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* One partition's committed state replaced by a damaged or foreign record
 * (or restored by another program): a member must refuse it with exit 5 and
 * the exact message, and write nothing (the state and output topics keep
 * their ends). The good state is made first by a member that runs part of
 * the events and stops (SIGTERM). Returns the number of failed checks. */
static int run_refusals(const char *cepheus, const char *pat, const char *dir) {
    char evp[1024], other[1024], logp[1024];
    snprintf(evp, sizeof evp, "%s/events.jsonl", dir);
    snprintf(other, sizeof other, "%s/other.cep", dir);
    snprintf(logp, sizeof logp, "%s/member0.log", dir);
    gen_events(evp, 5000);
    FILE *f = fopen(other, "w");
    if (!f) die("cannot write %s", other);
    fputs("pattern click_to_purchase\n  key user_id\n  begin click where type == \"click\"\n"
          "  followedBy purchase where type == \"purchase\" and item == click.item\n  within 20m\n",
          f);
    fclose(f);

    rd_kafka_t *mrk = client(RD_KAFKA_PRODUCER, "", NULL, NULL);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mrk, 3);
    if (!mc) die("cannot start the mock cluster");
    const char *boot = rd_kafka_mock_cluster_bootstraps(mc);
    rd_kafka_mock_topic_create(mc, "in", 1, 3);
    rd_kafka_mock_topic_create(mc, "out", 1, 3);
    rd_kafka_mock_topic_create(mc, "state", 1, 3);
    rd_kafka_t *prod = client(RD_KAFKA_PRODUCER, boot, NULL, NULL);
    f = fopen(evp, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0)
        if (rd_kafka_producev(prod, RD_KAFKA_V_TOPIC("in"), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_VALUE(line, (size_t)n - 1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_END))
            die("cannot produce an event");
    free(line);
    fclose(f);
    if (rd_kafka_flush(prod, 30000) || failed_deliveries) die("cannot produce the events");

    /* The good state: a member's, committed when it stops. */
    const char *key = "g/in/0";
    pid_t pid = spawn_member(cepheus, pat, boot, dir, 0, NULL);
    size_t glen = 0;
    char *good = NULL;
    for (double until = now_s() + 60; !good && now_s() < until;) {
        usleep(500000);
        good = last_record(boot, "state", key, &glen);
    }
    kill(pid, SIGTERM);
    int st = wait_exit(pid);
    free(good);
    good = last_record(boot, "state", key, &glen);
    if (st != 0 || !good || glen <= 24 || memcmp(good, "CEPKST02", 8))
        die("the first member made no state (exit %d; see %s)", st, logp);

    struct {
        const char *what, *want;
        int other_program;
    } cases[] = {
        {"a byte of the snapshot changed", "cepheus: cannot restore partition 0 from 'state': snapshot is corrupted", 0},
        {"a record of something else", "cepheus: state record of partition 0 in 'state' is not Cepheus state", 0},
        {"a newer state record format", "cepheus: state record of partition 0 in 'state' is not Cepheus state", 0},
        {"piece 1 of 2 missing",
         "cepheus: the state of partition 0 in 'state' is incomplete: piece 1 of 2 is missing or from another commit", 0},
        {"a snapshot of another program",
         "cepheus: cannot restore partition 0 from 'state': snapshot was made by a different program", 1},
    };
    int failures = 0;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char *bad = malloc(glen);
        memcpy(bad, good, glen);
        size_t blen = glen;
        if (c == 0) bad[24 + (glen - 24) / 2] ^= 0x20;
        if (c == 1) blen = strlen(strcpy(bad, "{\"not\":\"state\"}"));
        if (c == 2) bad[7] = '3';
        if (c == 3) bad[23] = 2; /* the piece count, big-endian */
        produce_one(prod, "state", key, bad, blen);
        free(bad);
        int64_t state_end = log_end(prod, "state"), out_end = log_end(prod, "out");
        long from = file_size(logp);
        pid = spawn_member(cepheus, cases[c].other_program ? other : pat, boot, dir, 0, NULL);
        st = wait_exit(pid);
        int said = log_has(logp, from, cases[c].want);
        int64_t state_now = log_end(prod, "state"), out_now = log_end(prod, "out");
        int ok = st == 5 && said && state_now == state_end && out_now == out_end;
        fprintf(stderr, "kafka_test: refusal, %s: exit %d%s, state topic end %" PRId64 " -> %" PRId64
                ", output end %" PRId64 " -> %" PRId64 ": %s\n",
                cases[c].what, st, said ? ", message as expected" : ", MESSAGE MISSING", state_end, state_now, out_end,
                out_now, ok ? "ok" : "FAILED");
        if (!ok) {
            fprintf(stderr, "kafka_test: wanted the line: %s\n", cases[c].want);
            failures++;
        }
        if (c + 1 < sizeof cases / sizeof *cases && cases[c + 1].other_program)
            produce_one(prod, "state", key, good, glen); /* the good state back */
    }
    free(good);
    rd_kafka_destroy(prod);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mrk);
    fprintf(stderr, "kafka_test: refusals: %d of %zu failed\n", failures, sizeof cases / sizeof *cases);
    return failures;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: kafka_test CEPHEUS PATTERNS.cep WORKDIR [--events N] [--consumers C] "
                        "[--kill term|kill|none] [--restart] [--errors] [--bench]\n");
        return 2;
    }
    const char *cepheus = argv[1], *pat = argv[2], *dir = argv[3];
    long nev = 100000;
    int consumers = 3, errors = 0, bench = 0, restart = 0, scrape = 0;
    const char *kill_mode = "term";
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc) nev = atol(argv[++i]);
        else if (!strcmp(argv[i], "--consumers") && i + 1 < argc) consumers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kill") && i + 1 < argc) kill_mode = argv[++i];
        else if (!strcmp(argv[i], "--errors")) errors = 1;
        else if (!strcmp(argv[i], "--restart")) restart = 1;
        else if (!strcmp(argv[i], "--scrape")) scrape = 1;
        else if (!strcmp(argv[i], "--bench")) bench = 1, kill_mode = "none";
        else if (!strcmp(argv[i], "--refusals")) return run_refusals(cepheus, pat, dir) ? 1 : 0;
        else die("unknown argument %s", argv[i]);
    }
    if (consumers < 1 || consumers > 16) die("bad --consumers");
    int ksig = !strcmp(kill_mode, "kill") ? SIGKILL : !strcmp(kill_mode, "term") ? SIGTERM : 0;

    /* Events, and the reference: one process over the whole file. */
    char evp[1024], refp[1024], cmd[4096];
    snprintf(evp, sizeof evp, "%s/events.jsonl", dir);
    snprintf(refp, sizeof refp, "%s/reference.jsonl", dir);
    gen_events(evp, nev);
    snprintf(cmd, sizeof cmd, "'%s' run --max-delay 5000 -o '%s' '%s' '%s'", cepheus, refp, pat, evp);
    if (system(cmd) != 0) die("reference run failed: %s", cmd);
    lines ref = {0};
    {
        FILE *f = fopen(refp, "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) lines_add(&ref, line, (size_t)n - (line[n - 1] == '\n'));
        free(line);
        fclose(f);
    }

    /* The cluster, its topics, and the events keyed by user. */
    rd_kafka_t *mrk = client(RD_KAFKA_PRODUCER, "", NULL, NULL);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mrk, 3);
    if (!mc) die("cannot start the mock cluster");
    const char *boot = rd_kafka_mock_cluster_bootstraps(mc);
    rd_kafka_mock_topic_create(mc, "in", PARTS, 3);
    rd_kafka_mock_topic_create(mc, "out", PARTS, 3);
    rd_kafka_mock_topic_create(mc, "state", 4, 3);
    rd_kafka_t *prod = client(RD_KAFKA_PRODUCER, boot, NULL, NULL);
    lines evs = {0};
    {
        FILE *f = fopen(evp, "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) lines_add(&evs, line, (size_t)n - 1);
        free(line);
        fclose(f);
    }
    /* A live stream: the events go in over about 30 s while the members run
     * (or all before them, to measure throughput), so that stops land in
     * the middle of the input. */
    size_t fed = 0, chunk = evs.n / 150 + 1;
    if (bench) feed(prod, &evs, &fed, evs.n);
    fprintf(stderr, "kafka_test: %ld events on 12 partitions, %zu reference matches, %d members, stop: %s%s\n",
            nev, ref.n, consumers, kill_mode, errors ? ", broker errors injected" : "");

    pid_t pids[16];
    reader out;
    lines got = {0};
    reader_open(&out, boot, "out", "read_committed");
    double t0 = now_s();
    char scraped_args[2048];
    snprintf(scraped_args, sizeof scraped_args, "%s --metrics 127.0.0.1:0",
             getenv("KAFKA_TEST_MEMBER_ARGS") ? getenv("KAFKA_TEST_MEMBER_ARGS") : "");
    for (int i = 0; i < consumers; i++)
        pids[i] = spawn_member(cepheus, pat, boot, dir, i,
                               scrape && i == consumers - 1 ? scraped_args : getenv("KAFKA_TEST_MEMBER_ARGS"));
    int stopped = 0, ticks = 0, stall_reported = 0, restarted = 0;
    size_t last_seen = 0;
    double last_change = now_s(), t_done = 0, t_stop1 = 0, t_first = 0;
    double deadline = now_s() + 300;
    while (now_s() < deadline) {
        reader_drain(&out, &got, 200);
        feed(prod, &evs, &fed, fed + chunk);
        if (errors && ++ticks % 5 == 0) inject_errors(mc);
        size_t seen = got.n;
        if (seen != last_seen) last_seen = seen, last_change = now_s();
        /* Stop a member a third of the way into the input, another two
         * thirds in but not before the group has taken over from the first
         * (its session timeout is 6 s). */
        if (ksig && consumers >= 3 && stopped == 0 && fed >= evs.n / 3 && seen > 0) {
            kill(pids[0], ksig);
            t_stop1 = now_s();
            fprintf(stderr, "kafka_test: [%.3f] member 0 stopped (signal %d) at %zu events in, %zu committed matches\n",
                    wall(), ksig, fed, seen);
            stopped = 1;
        } else if (restart && !restarted && stopped == 1 && now_s() - t_stop1 >= 3) {
            /* The stopped member comes back under the same --instance-id:
             * its producer fences the dead one's open transaction at once
             * (docs/scaling.md), and it rejoins the group. */
            int st = 0;
            waitpid(pids[0], &st, 0);
            pids[0] = spawn_member(cepheus, pat, boot, dir, 0, getenv("KAFKA_TEST_MEMBER_ARGS"));
            fprintf(stderr, "kafka_test: [%.3f] member 0 started again\n", wall());
            restarted = 1;
        } else if (ksig && consumers >= 3 && stopped == 1 && fed >= evs.n * 2 / 3 && now_s() - t_stop1 >= 8) {
            kill(pids[1], ksig);
            fprintf(stderr, "kafka_test: [%.3f] member 1 stopped (signal %d) at %zu events in, %zu committed matches\n",
                    wall(), ksig, fed, seen);
            stopped = 2;
        }
        if (seen < ref.n && now_s() - last_change > 20 && !stall_reported) {
            /* Not done and nothing new: say where the committed output stands. */
            stall_reported = 1;
            fprintf(stderr, "kafka_test: [%.3f] no new committed matches for 20 s at %zu\n", wall(), seen);
            report_partitions(&out);
        }
        if (seen > 0 && !t_first) t_first = now_s();
        if (seen >= ref.n && !t_done) t_done = now_s();
        if (seen >= ref.n && now_s() - last_change > 3) break;
    }
    if (now_s() >= deadline) fprintf(stderr, "kafka_test: timed out with %zu committed matches\n", got.n);
    if (errors) clear_errors(mc);
    int scraped = !scrape || scrape_member(dir, consumers - 1, nev);
    /* Every member stopped by SIGTERM (at the end, or as the stop) must
     * leave cleanly: an exit status is a failure even when the output is
     * right (another member made up for it). */
    int bad_exits = 0;
    for (int i = 0; i < consumers; i++) {
        kill(pids[i], SIGTERM);
        int st = 0;
        if (waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) != 0) {
            fprintf(stderr, "kafka_test: member %d exited with status %d\n", i, WEXITSTATUS(st));
            bad_exits++;
        }
    }
    if (bench && t_done)
        printf("consumers %d: %ld events in %.2f s from start (group join included): %.0f events/s; "
               "first match committed after %.2f s\n",
               consumers, nev, t_done - t0, nev / (t_done - t0), t_first - t0);
    /* What the members committed last, and the aborts of what killed ones
     * left open (transaction.timeout.ms), become visible. */
    double until = now_s() + 60;
    while (!reader_complete(&out) && now_s() < until) reader_drain(&out, &got, 200);
    reader_drain(&out, &got, 500);
    if (!reader_complete(&out)) report_partitions(&out);
    reader_close(&out);
    {
        /* What was read, in the order read, for a look after a failure. */
        char outp[1024];
        snprintf(outp, sizeof outp, "%s/output.jsonl", dir);
        FILE *f = fopen(outp, "w");
        if (!f) die("cannot write %s", outp);
        for (size_t i = 0; i < got.n; i++) fprintf(f, "%s\n", got.v[i]);
        fclose(f);
    }
    /* The same topic read_uncommitted: what more it holds is the records of
     * aborted transactions (killed members', failed commits) that
     * read_committed hid. */
    size_t all = 0;
    {
        reader raw;
        lines l = {0};
        reader_open(&raw, boot, "out", "read_uncommitted");
        double t = now_s() + 60;
        while (!reader_complete(&raw) && now_s() < t) reader_drain(&raw, &l, 200);
        reader_close(&raw);
        all = l.n;
        for (size_t i = 0; i < l.n; i++) free(l.v[i]);
        free(l.v);
    }
    qsort(ref.v, ref.n, sizeof *ref.v, cmpstr);
    qsort(got.v, got.n, sizeof *got.v, cmpstr);
    size_t i = 0, j = 0, missing = 0, extra = 0, dups = 0;
    while (i < ref.n || j < got.n) {
        int c = i == ref.n ? 1 : j == got.n ? -1 : strcmp(ref.v[i], got.v[j]);
        if (c == 0) {
            i++, j++;
            while (j < got.n && !strcmp(got.v[j], got.v[j - 1])) dups++, j++;
        } else if (c < 0) {
            if (missing++ < 3) fprintf(stderr, "kafka_test: missing %s\n", ref.v[i]);
            i++;
        } else {
            if (extra++ < 3) fprintf(stderr, "kafka_test: unexpected %s\n", got.v[j]);
            j++;
        }
    }
    fprintf(stderr, "kafka_test: reference %zu, output %zu: %zu missing, %zu duplicated, %zu unexpected "
                    "(%zu records of aborted transactions not shown)\n",
            ref.n, got.n, missing, dups, extra, all - got.n);
    rd_kafka_destroy(prod);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mrk);
    int ok = missing == 0 && extra == 0 && dups == 0 && bad_exits == 0 && scraped;
    if (ksig && consumers >= 3 && stopped < 2) {
        fprintf(stderr, "kafka_test: the run ended after %d of the 2 stops\n", stopped);
        ok = 0;
    }
    if (restart && !restarted) {
        fprintf(stderr, "kafka_test: the stopped member was not started again\n");
        ok = 0;
    }
    return ok ? 0 : 1;
}
