/* metrics.c — the HTTP side of `cepheus run --metrics`: a listening socket
 * of our own (so a bad address or a port in use gets a clear message), handed
 * to libmicrohttpd, which serves /metrics and /healthz on its own thread.
 * The counters come from the run loop's last metrics_publish; a scrape asks
 * for a fresh one and waits for it a little (docs/operations.md). */
#include "config.h"
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cli.h"
#include "jsonout.h"

/* A connection that sends no complete request in this time is closed (a
 * scrape that never ends); Prometheus' own scrape timeout is 10 s. */
#define CONN_TIMEOUT_S 5
/* How long a scrape waits for the run loop to publish: it publishes at
 * most a block of input (or a Kafka poll) later; past this, the scrape gets
 * the last copy. */
#define FRESH_WAIT_MS 1000
#define MAX_CONNECTIONS 16

struct metrics {
    struct MHD_Daemon *d;
    int listen_fd;
    int wake[2];            /* scrape -> run loop: "publish" */
    atomic_int wanted;
    pthread_mutex_t lock;   /* everything below */
    pthread_cond_t cond;    /* a publish happened */
    uint64_t gen;           /* publishes so far */
    metrics_snap s;         /* the last copy; arrays below are its own */
    char **names;
    uint64_t *matches;
    int32_t *ids;
    int64_t *lag;
    size_t cap_names, cap_matches, cap_ids, cap_lag;
    int state;
    char reason[512];
    double start_time;      /* Unix seconds */
    pid_t owner;            /* the process serving: a forked checkpoint writer is not */
};

static metrics *active; /* the process' one server, for metrics_fatal */

int metrics_reason(int rc, int toolong, int kind) {
    if (toolong) return MAL_TOO_LONG;
    if (kind < 0) return MAL_WATERMARK;
    switch (rc) {
    case CEP_EJSON: return MAL_JSON;
    case CEP_ENOTOBJECT: return MAL_NOT_OBJECT;
    case CEP_ERANGE: return MAL_RANGE;
    case CEP_ETOODEEP: return MAL_TOO_DEEP;
    default: return MAL_TIME;
    }
}

static const char *const reason_label[MAL_N] = {"json", "not_object", "time", "range", "too_deep", "too_long",
                                                 "watermark"};

void metrics_stats_add(cep_stats *acc, const cep_stats *a, const cep_stats *b) {
    static const cep_stats zero;
    if (!b) b = &zero;
#define ADD(f) acc->f += a->f >= b->f ? a->f - b->f : 0
    ADD(events);
    ADD(matches);
    ADD(late);
    ADD(stragglers);
    ADD(timeouts);
    ADD(dropped);
    ADD(ttl_dropped);
    ADD(mem_dropped);
    ADD(mem_released);
    ADD(regex_errors);
#undef ADD
}

/* ---- rendering ------------------------------------------------------------ */

static void head(jbuf *b, const char *name, const char *type, const char *help) {
    jbuf_puts(b, "# HELP ");
    jbuf_puts(b, name);
    jbuf_puts(b, " ");
    jbuf_puts(b, help);
    jbuf_puts(b, "\n# TYPE ");
    jbuf_puts(b, name);
    jbuf_puts(b, " ");
    jbuf_puts(b, type);
    jbuf_puts(b, "\n");
}

static void sample_u(jbuf *b, const char *name, uint64_t v) {
    char num[32];
    snprintf(num, sizeof num, " %" PRIu64 "\n", v);
    jbuf_puts(b, name);
    jbuf_puts(b, num);
}

static void sample_d(jbuf *b, const char *name, double v) {
    char num[48];
    /* The shortest form that reads back the same (0.999, not 0.99899...). */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(num, sizeof num, " %.*g\n", prec, v);
        if (strtod(num, NULL) == v) break;
    }
    jbuf_puts(b, name);
    jbuf_puts(b, num);
}

static void metric_u(jbuf *b, const char *name, const char *type, const char *help, uint64_t v) {
    head(b, name, type, help);
    sample_u(b, name, v);
}

static void metric_d(jbuf *b, const char *name, const char *type, const char *help, double v) {
    head(b, name, type, help);
    sample_d(b, name, v);
}

/* A label value, escaped as the text format asks (\\, \", \n). */
static void label_value(jbuf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\') jbuf_puts(b, "\\\\");
        else if (*s == '"') jbuf_puts(b, "\\\"");
        else if (*s == '\n') jbuf_puts(b, "\\n");
        else jbuf_put(b, s, 1);
    }
}

static uint64_t resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size, rss = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &rss) != 2) rss = 0;
        fclose(f);
    }
    long page = sysconf(_SC_PAGESIZE);
    return (uint64_t)rss * (uint64_t)(page > 0 ? page : 4096);
}

/* The exposition of s (called with m->lock held). */
static void render(const metrics *m, const metrics_snap *s, jbuf *b) {
    const cep_stats *st = &s->st;
    char line[640];
    metric_u(b, "cepheus_input_records_total", "counter",
             "Input lines (not blank) or Kafka messages read, malformed ones included.", s->records);
    metric_u(b, "cepheus_events_total", "counter", "Events the engines accepted for matching.", st->events);
    head(b, "cepheus_matches_total", "counter", "Matches written, by pattern.");
    for (size_t i = 0; i < s->npatterns; i++) {
        jbuf_puts(b, "cepheus_matches_total{pattern=\"");
        label_value(b, s->pattern_names[i]);
        snprintf(line, sizeof line, "\"} %" PRIu64 "\n", s->pattern_matches[i]);
        jbuf_puts(b, line);
    }
    metric_u(b, "cepheus_timeouts_total", "counter", "Partial matches whose within window or gap closed.",
             st->timeouts);
    metric_u(b, "cepheus_late_events_total", "counter",
             "Events older than the watermark (less the allowed lateness): not matched.", st->late);
    metric_u(b, "cepheus_late_events_matched_total", "counter",
             "Events behind the watermark but within the allowed lateness: matched.", st->stragglers);
    head(b, "cepheus_malformed_lines_total", "counter", "Input lines or messages rejected, by reason.");
    for (int i = 0; i < MAL_N; i++) {
        snprintf(line, sizeof line, "cepheus_malformed_lines_total{reason=\"%s\"} %" PRIu64 "\n", reason_label[i],
                 s->malformed[i]);
        jbuf_puts(b, line);
    }
    head(b, "cepheus_dropped_partial_matches_total", "counter",
         "Partial matches dropped, by cause: --max-partial-matches, --state-ttl, --max-memory.");
    snprintf(line, sizeof line,
             "cepheus_dropped_partial_matches_total{cause=\"limit\"} %" PRIu64 "\n"
             "cepheus_dropped_partial_matches_total{cause=\"ttl\"} %" PRIu64 "\n"
             "cepheus_dropped_partial_matches_total{cause=\"memory\"} %" PRIu64 "\n",
             st->dropped, st->ttl_dropped, st->mem_dropped);
    jbuf_puts(b, line);
    metric_u(b, "cepheus_buffered_events_run_early_total", "counter",
             "Buffered events run before the watermark reached them, to keep within --max-memory.",
             st->mem_released);
    metric_u(b, "cepheus_regex_errors_total", "counter",
             "Regular-expression matches stopped by PCRE2's limits (counted as no match).", st->regex_errors);
    metric_u(b, "cepheus_partial_matches", "gauge", "Partial matches alive now.", st->partial_matches);
    metric_u(b, "cepheus_keys", "gauge", "(pattern, key) states holding something now.", st->keys);
    metric_u(b, "cepheus_state_bytes", "gauge", "Bytes of matching state now (approximate).", st->memory);
    metric_u(b, "cepheus_buffered_events", "gauge", "Events waiting for the watermark (--max-delay).",
             st->buffered);
    double lag = 0;
    if (st->max_event_time != INT64_MIN && st->watermark != INT64_MIN && st->watermark != INT64_MAX &&
        st->max_event_time > st->watermark)
        lag = (double)(st->max_event_time - st->watermark) / 1000.0;
    metric_d(b, "cepheus_watermark_lag_seconds", "gauge",
             "How far the watermark trails the newest event time seen (Kafka: the largest of the partitions').",
             lag);
    if (st->watermark != INT64_MIN && st->watermark != INT64_MAX)
        metric_d(b, "cepheus_watermark_seconds", "gauge", "The event-time watermark, Unix seconds.",
                 (double)st->watermark / 1000.0);
    if (s->ckpt_on) {
        metric_u(b, "cepheus_checkpoints_total", "counter",
                 "Checkpoints written (Kafka: transactions committed with state).", s->ckpt_done);
        metric_u(b, "cepheus_checkpoints_failed_total", "counter",
                 "Checkpoints that failed (Kafka: transactions aborted).", s->ckpt_failed);
        metric_d(b, "cepheus_checkpoint_duration_seconds", "gauge",
                 "Duration of the last checkpoint (0: none yet).", s->ckpt_seconds > 0 ? s->ckpt_seconds : 0);
        metric_u(b, "cepheus_checkpoint_size_bytes", "gauge", "Size of the last checkpoint (0: none yet).",
                 s->ckpt_bytes);
        if (s->ckpt_pause >= 0)
            metric_d(b, "cepheus_checkpoint_pause_seconds", "gauge",
                     "How long matching stopped to start the last checkpoint (0: none yet).", s->ckpt_pause);
        if (s->ckpt_pause >= 0)
            metric_d(b, "cepheus_checkpoint_pause_max_seconds", "gauge",
                     "The longest a checkpoint or savepoint stopped matching so far (0: none yet).",
                     s->ckpt_pause_max);
    }
    if (s->kafka) {
        metric_u(b, "cepheus_kafka_transactions_committed_total", "counter", "Kafka transactions committed.",
                 s->txn_committed);
        metric_u(b, "cepheus_kafka_transactions_aborted_total", "counter",
                 "Kafka transactions aborted (then redone from the last commit).", s->txn_aborted);
        metric_u(b, "cepheus_kafka_partitions", "gauge", "Input partitions assigned to this member.", s->nparts);
        head(b, "cepheus_kafka_consumer_lag", "gauge",
             "Messages of an assigned input partition not yet read (high watermark less the next offset).");
        for (size_t i = 0; i < s->nparts; i++) {
            if (s->part_lag[i] < 0) continue;
            snprintf(line, sizeof line, "cepheus_kafka_consumer_lag{partition=\"%" PRId32 "\"} %" PRId64 "\n",
                     s->part_ids[i], s->part_lag[i]);
            jbuf_puts(b, line);
        }
    }
    metric_u(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", resident_bytes());
    metric_d(b, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.",
             m->start_time);
}

/* ---- serving ---------------------------------------------------------------- */

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *text, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text) {
    char *t = strdup(text);
    return t ? reply(c, code, "text/plain; charset=utf-8", t, strlen(t)) : MHD_NO;
}

static enum MHD_Result serve_metrics(metrics *m, struct MHD_Connection *c) {
    pthread_mutex_lock(&m->lock);
    if (m->state == HEALTH_RUNNING) {
        /* Ask the run loop for fresh counters and wait for them a while. */
        uint64_t g = m->gen;
        atomic_store_explicit(&m->wanted, 1, memory_order_relaxed);
        char one = 1;
        ssize_t w = write(m->wake[1], &one, 1); /* full: a wake-up is pending anyway */
        (void)w;
        double until = mono_ms() + FRESH_WAIT_MS;
        while (m->gen == g && m->state == HEALTH_RUNNING) {
            double left = until - mono_ms();
            if (left <= 0) break;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            long long ns = ts.tv_nsec + (long long)(left * 1e6);
            ts.tv_sec += (time_t)(ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&m->cond, &m->lock, &ts);
        }
    }
    jbuf b = {0};
    render(m, &m->s, &b);
    pthread_mutex_unlock(&m->lock);
    if (b.oom) {
        jbuf_free(&b);
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    /* The buffer goes to the response, which frees it. */
    return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
}

static enum MHD_Result serve_health(metrics *m, struct MHD_Connection *c) {
    char text[600];
    pthread_mutex_lock(&m->lock);
    int st = m->state;
    snprintf(text, sizeof text, "%s\n", m->reason);
    pthread_mutex_unlock(&m->lock);
    return reply_text(c, st == HEALTH_RUNNING ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    (void)upload;
    (void)con_cls;
    metrics *m = cls;
    if (*upload_size) return MHD_NO; /* no bodies here */
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    if (!strcmp(url, "/metrics")) return serve_metrics(m, c);
    if (!strcmp(url, "/healthz")) return serve_health(m, c);
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics or /healthz\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    (void)fmt;
    (void)ap; /* libmicrohttpd's own chatter (a client that went away): not ours to print */
}

/* Split ADDR:PORT into host and port ("[v6]:port" too); -1 when malformed. */
static int split_addr(const char *a, char *host, size_t hn, const char **port) {
    const char *h = a, *colon;
    size_t len;
    if (a[0] == '[') {
        const char *close = strchr(a, ']');
        if (!close || close[1] != ':') return -1;
        h = a + 1;
        len = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(a, ':');
        if (!colon) return -1;
        len = (size_t)(colon - a);
        if (memchr(a, ':', len)) return -1; /* a bare IPv6 address: write it in brackets */
    }
    if (len == 0 || len >= hn) return -1;
    memcpy(host, h, len);
    host[len] = '\0';
    *port = colon + 1;
    size_t pl = strlen(*port);
    if (pl == 0 || pl > 5 || strspn(*port, "0123456789") != pl || atoi(*port) > 65535) return -1;
    return 0;
}

/* A socket listening on addr, or -1 after printing why not. */
static int listen_on(const char *addr) {
    char host[256];
    const char *port;
    if (split_addr(addr, host, sizeof host, &port) < 0) {
        fprintf(stderr, "cepheus: invalid --metrics '%s': expected ADDRESS:PORT (127.0.0.1:9464, [::1]:9464, "
                "localhost:9464, 0.0.0.0:9464)\n", addr);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gr = getaddrinfo(host, port, &hints, &res);
    if (gr != 0) {
        fprintf(stderr, "cepheus: --metrics '%s': cannot resolve '%s': %s\n", addr, host, gai_strerror(gr));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on); /* restart while old sockets linger */
        if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) fprintf(stderr, "cepheus: --metrics '%s': cannot listen: %s\n", addr, strerror(err ? err : EINVAL));
    return fd;
}

static void print_address(int fd) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[128] = "?", port[16] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
    const char *l = ss.ss_family == AF_INET6 ? "[" : "", *r = ss.ss_family == AF_INET6 ? "]" : "";
    fprintf(stderr, "cepheus: metrics at http://%s%s%s:%s/metrics and /healthz\n", l, host, r, port);
}

int metrics_start(const char *addr, metrics **out) {
    *out = NULL;
    int fd = listen_on(addr);
    if (fd < 0) return EXIT_USAGE;
    metrics *m = calloc(1, sizeof *m);
    if (!m || pipe2(m->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        free(m);
        close(fd);
        return fail(EXIT_INTERNAL, "cannot start the metrics server: %s", strerror(errno ? errno : ENOMEM));
    }
    m->listen_fd = fd;
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cond, &ca);
    pthread_condattr_destroy(&ca);
    m->state = HEALTH_STARTING;
    snprintf(m->reason, sizeof m->reason, "starting");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    m->start_time = (double)now.tv_sec + now.tv_nsec / 1e9;
    m->owner = getpid();
    /* The server's thread takes no signals: SIGHUP, SIGINT and SIGTERM
     * must reach the run loop's thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    /* AUTO: epoll where there is one (select fails past descriptor 1024). */
    m->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, m,
                            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!m->d) {
        metrics_stop(m);
        return fail(EXIT_USAGE, "--metrics '%s': cannot start the HTTP server", addr);
    }
    print_address(fd);
    active = m;
    *out = m;
    return EXIT_OK;
}

static void free_names(metrics *m) {
    for (size_t i = 0; i < m->s.npatterns; i++) free(m->names[i]);
    m->s.npatterns = 0;
}

void metrics_stop(metrics *m) {
    if (!m) return;
    if (active == m) active = NULL;
    if (m->d) MHD_stop_daemon(m->d);
    if (m->listen_fd >= 0) close(m->listen_fd);
    close(m->wake[0]);
    close(m->wake[1]);
    free_names(m);
    free(m->names);
    free(m->matches);
    free(m->ids);
    free(m->lag);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int metrics_wake_fd(const metrics *m) { return m ? m->wake[0] : -1; }

int metrics_wanted(const metrics *m) {
    return m && atomic_load_explicit(&((metrics *)m)->wanted, memory_order_relaxed);
}

/* Grow an array of n elements of size sz to hold want; 0 or -1. */
static int reserve(void **p, size_t *cap, size_t want, size_t sz) {
    if (want <= *cap) return 0;
    size_t nc = want < 16 ? 16 : want * 2;
    void *np = realloc(*p, nc * sz);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

void metrics_publish(metrics *m, const metrics_snap *s) {
    if (!m) return;
    char drain[64];
    while (read(m->wake[0], drain, sizeof drain) > 0) {
    }
    atomic_store_explicit(&m->wanted, 0, memory_order_relaxed);
    pthread_mutex_lock(&m->lock);
    free_names(m);
    size_t np = s->npatterns, nk = s->nparts;
    /* Out of memory: the arrays that could not grow are left out. */
    if (reserve((void **)&m->names, &m->cap_names, np, sizeof *m->names) < 0 ||
        reserve((void **)&m->matches, &m->cap_matches, np, sizeof *m->matches) < 0)
        np = 0;
    if (reserve((void **)&m->ids, &m->cap_ids, nk, sizeof *m->ids) < 0 ||
        reserve((void **)&m->lag, &m->cap_lag, nk, sizeof *m->lag) < 0)
        nk = 0;
    m->s = *s;
    size_t kept = 0;
    for (size_t i = 0; i < np; i++) {
        if (!(m->names[kept] = strdup(s->pattern_names[i]))) continue;
        m->matches[kept++] = s->pattern_matches[i];
    }
    m->s.npatterns = kept;
    m->s.pattern_names = (const char *const *)m->names;
    m->s.pattern_matches = m->matches;
    if (nk) {
        memcpy(m->ids, s->part_ids, nk * sizeof *m->ids);
        memcpy(m->lag, s->part_lag, nk * sizeof *m->lag);
    }
    m->s.nparts = nk;
    m->s.part_ids = m->ids;
    m->s.part_lag = m->lag;
    m->gen++;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

void metrics_health(metrics *m, int state, const char *reason) {
    if (!m) return;
    static const char *const word[] = {"starting", "restoring", "ok", "failed"};
    pthread_mutex_lock(&m->lock);
    if (m->state != HEALTH_FAILED) {
        m->state = state;
        snprintf(m->reason, sizeof m->reason, "%s", reason ? reason : word[state]);
    }
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

void metrics_fatal(const char *msg) {
    metrics *m = active;
    /* In a forked child (a checkpoint writer) the server thread is not
     * there, and its lock may have been held at the fork. */
    if (!m || getpid() != m->owner) return;
    char line[512];
    snprintf(line, sizeof line, "failed: %s", msg);
    line[strcspn(line, "\n")] = '\0'; /* one line */
    metrics_health(m, HEALTH_FAILED, line);
}
