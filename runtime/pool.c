/* pool.c — cep_pool: one program over N engines, each on a worker thread
 * of its own, partitioned by key (runtime/partition.c). The caller's thread
 * is the router: it keeps the watermark of the whole stream, decides which
 * shards an event goes to, and writes the event as a record into each
 * shard's ring; the worker advances its engine to the watermark the record
 * carries, then pushes the event. So each shard decides lateness and
 * releases buffered events exactly as one engine over the whole stream.
 *
 * Rings are single-producer single-consumer byte queues of fixed size (no
 * allocation per event, and a full ring makes the router wait); the worker
 * frees room in steps and sleeps only after spinning briefly, and the
 * router wakes a sleeping worker once a batch has gathered, so that
 * synchronisation is paid per batch, not per event. */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "event.h"
#include "mem.h"
#include "nfa.h"
#include "partition.h"

#define RING_BYTES ((size_t)1 << 20)
#define BIG_RECORD (RING_BYTES / 4)  /* larger events go out of line */
#define FREE_STEP (RING_BYTES / 16)  /* the worker gives room back this often:
                                      * each time may wake the router, and a
                                      * wake-up costs microseconds */
#define WAKE_BATCH 256               /* records before a dozing worker is woken */
#define SPIN 2000                    /* polls of an empty ring before dozing, */
#define SPIN_CROWDED 50              /* or with no spare core: spinning would
                                      * take the core the router or another
                                      * shard needs */
#define DOZE_ROUNDS 20               /* 1 ms dozes before sleeping until woken */
#define SLEEP_MS 50                  /* (or at most this long: see rec_commit) */
#define MAX_THREADS 256

enum { R_WRAP, R_EVENT, R_BIG, R_ADVANCE, R_TICK, R_SYNC, R_FINISH, R_STOP };

/* Every record starts with this; records are 8-byte aligned and never cross
 * the end of the ring (an R_WRAP record fills the rest). */
typedef struct rec {
    uint32_t size;  /* bytes, header included */
    uint16_t kind;
    uint16_t pad_;
    int64_t arg;    /* R_EVENT, R_BIG, R_ADVANCE: watermark to reach first
                     * (INT64_MIN: none); R_SYNC, R_FINISH: sequence */
} rec;

/* An event after its rec: this, its values (cep_value, strings pointing
 * nowhere yet: the worker points them at their bytes), then the string
 * bytes and the raw text. The worker pushes a view of the record itself:
 * no copy on its side. */
typedef struct rec_event {
    int64_t time;
    uint64_t tag;
    uint32_t has_time, nslots;
    uint32_t raw_len, pad_;
} rec_event;

typedef struct shard {
    /* The router's side. */
    _Alignas(64) _Atomic uint64_t head; /* bytes written */
    uint64_t head_local;                /* = head, without the atomic load */
    uint64_t tail_seen;                 /* the router's last view of tail */
    unsigned unwoken;                   /* records since the worker was woken */
    /* The worker's side. */
    _Alignas(64) _Atomic uint64_t tail; /* bytes consumed */
    _Atomic int dozing;                 /* 1: 1 ms naps, 2: asleep until woken */
    _Atomic int waiting;                /* the router waits for room or an ack */
    _Alignas(64) pthread_mutex_t mu;
    pthread_cond_t wake;                /* the worker waits here */
    pthread_cond_t done;                /* the router waits here */
    uint64_t acked;                     /* under mu: last sync done */
    cep_stats stats;                    /* under mu: stats at that sync */
    int rc;                             /* under mu: first error, then drain */
    char err[256];
    struct cep_pool *pool;
    unsigned index;
    int spin;                           /* SPIN or SPIN_CROWDED */
    cep_engine *e;
    cep_event *row;                     /* lends its place to each record */
    char *ring;
    pthread_t thread;
    int running;
} shard;

struct cep_pool {
    const cep_program *prog;
    unsigned n;
    shard *shards;
    /* Time, as one engine over the whole stream keeps it. */
    int64_t max_delay, lateness;
    int processing;
    char *time_field;       /* for cep_pool_push_json */
    int64_t wm, max_seen;
    cep_event *builder;     /* cep_pool_push_json's row */
    unsigned char *hit;     /* per shard: the event goes there */
    unsigned *targets;
    _Atomic int failed;     /* a worker recorded an error */
    int rc;                 /* sticky: the first shard error seen */
    int finished;
    uint64_t sync_seq;
    uint64_t dup_events, dup_stragglers; /* copies beyond the first */
    char err[256];
};

static void set_err(cep_pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(cep_pool *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* ---- the worker ---------------------------------------------------------- */

static void shard_fail(shard *s, int rc) {
    pthread_mutex_lock(&s->mu);
    if (!s->rc) {
        s->rc = rc;
        snprintf(s->err, sizeof s->err, "%s", cep_engine_error(s->e));
        if (!s->err[0]) snprintf(s->err, sizeof s->err, "%s", cep_strerror(rc));
    }
    pthread_mutex_unlock(&s->mu);
    atomic_store_explicit(&s->pool->failed, 1, memory_order_release);
}

/* Push the event of a record. The shard's row (a real builder, so the
 * engine copies what it keeps, as from any caller's row) lends its place
 * to the record for the call: its values and raw text are the record's,
 * with no copy on this side. */
static int push_record(shard *s, char *body) {
    rec_event *re = (rec_event *)body;
    cep_value *vals = (cep_value *)(re + 1);
    char *bytes = (char *)(vals + re->nslots);
    for (uint32_t i = 0; i < re->nslots; i++)
        if (vals[i].type == CEP_STRING) {
            vals[i].u.s.ptr = bytes;
            bytes += vals[i].u.s.len;
        }
    cep_event *row = s->row;
    cep_value *own_vals = row->vals;
    char *own_raw = row->raw;
    size_t own_len = row->raw_len;
    row->has_time = (int)re->has_time;
    row->time = re->time;
    row->tag = re->tag;
    row->vals = vals;
    row->raw = re->raw_len ? bytes : NULL;
    row->raw_len = re->raw_len;
    int rc = cep_engine_push(s->e, row);
    row->vals = own_vals;
    row->raw = own_raw;
    row->raw_len = own_len;
    return rc;
}

static void ack(shard *s, uint64_t seq) {
    cep_stats st;
    cep_engine_stats(s->e, &st);
    pthread_mutex_lock(&s->mu);
    s->acked = seq;
    s->stats = st;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
}

/* Handle one record; 1 for R_STOP. */
static int handle(shard *s, rec *r) {
    int failed = s->rc != 0; /* only this thread writes rc */
    char *body = (char *)(r + 1);
    int rc = CEP_OK;
    switch (r->kind) {
    case R_WRAP: break;
    case R_EVENT:
    case R_BIG:
        if (r->kind == R_BIG) memcpy(&body, body, sizeof body);
        if (!failed && r->arg != INT64_MIN) rc = cep_engine_advance_watermark(s->e, r->arg);
        if (!failed && rc == CEP_OK) rc = push_record(s, body);
        if (r->kind == R_BIG) mem_free(body);
        break;
    case R_ADVANCE:
        if (!failed) rc = cep_engine_advance_watermark(s->e, r->arg);
        break;
    case R_TICK:
        if (!failed) rc = cep_engine_tick(s->e);
        break;
    case R_SYNC: ack(s, (uint64_t)r->arg); break;
    case R_FINISH:
        if (!failed) rc = cep_engine_finish(s->e);
        if (rc != CEP_OK) shard_fail(s, rc);
        ack(s, (uint64_t)r->arg);
        return 0;
    case R_STOP: return 1;
    }
    if (rc != CEP_OK) shard_fail(s, rc);
    return 0;
}

static void give_room(shard *s, uint64_t t) {
    atomic_store(&s->tail, t);
    if (atomic_load(&s->waiting)) {
        pthread_mutex_lock(&s->mu);
        pthread_cond_broadcast(&s->done);
        pthread_mutex_unlock(&s->mu);
    }
}

/* Wait until the ring holds more than t: spin, then doze in 1 ms naps
 * (the router wakes a dozing worker only once a batch has gathered), then
 * sleep until woken. */
static void await_records(shard *s, uint64_t t) {
    for (int i = 0; i < s->spin; i++) {
        if (atomic_load_explicit(&s->head, memory_order_acquire) != t) return;
        cpu_relax();
    }
    pthread_mutex_lock(&s->mu);
    for (int round = 0;; round++) {
        atomic_store(&s->dozing, round < DOZE_ROUNDS ? 1 : 2);
        if (atomic_load(&s->head) != t) break;
        if (round < DOZE_ROUNDS) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 1000000;
            if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
            pthread_cond_timedwait(&s->wake, &s->mu, &ts);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += SLEEP_MS / 1000;
            ts.tv_nsec += (SLEEP_MS % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
            pthread_cond_timedwait(&s->wake, &s->mu, &ts);
        }
    }
    atomic_store(&s->dozing, 0);
    pthread_mutex_unlock(&s->mu);
}

static void *worker(void *arg) {
    shard *s = arg;
    uint64_t t = 0, given = 0;
    for (;;) {
        uint64_t h = atomic_load_explicit(&s->head, memory_order_acquire);
        if (h == t) {
            if (given != t) give_room(s, given = t);
            await_records(s, t);
            continue;
        }
        while (t != h) {
            rec *r = (rec *)(s->ring + (t % RING_BYTES));
            uint32_t size = r->size;
            int stop = handle(s, r);
            t += size;
            if (stop) {
                give_room(s, t);
                return NULL;
            }
            if (t - given >= FREE_STEP) give_room(s, given = t);
        }
    }
}

/* ---- the router's side of a ring ----------------------------------------- */

static void wake_worker(shard *s) {
    pthread_mutex_lock(&s->mu);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    s->unwoken = 0;
}

/* Wait until need bytes are free after head. */
static void await_room(shard *s, size_t need) {
    if (RING_BYTES - (s->head_local - s->tail_seen) >= need) return;
    s->tail_seen = atomic_load_explicit(&s->tail, memory_order_acquire);
    if (RING_BYTES - (s->head_local - s->tail_seen) >= need) return;
    /* The router is about to sleep: every shard with records it has not
     * been woken for must run now, not at the end of its nap. */
    cep_pool *p = s->pool;
    for (unsigned i = 0; i < p->n; i++)
        if (&p->shards[i] == s || (p->shards[i].unwoken && atomic_load(&p->shards[i].dozing)))
            wake_worker(&p->shards[i]);
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->waiting, 1);
    while (RING_BYTES - (s->head_local - (s->tail_seen = atomic_load(&s->tail))) < need)
        pthread_cond_wait(&s->done, &s->mu);
    atomic_store(&s->waiting, 0);
    pthread_mutex_unlock(&s->mu);
}

/* Room for a record of size bytes (8-aligned, at most BIG_RECORD): its
 * address in the ring, after an R_WRAP when the end of the ring is near. */
static char *rec_begin(shard *s, size_t size) {
    size_t pos = (size_t)(s->head_local % RING_BYTES), rest = RING_BYTES - pos;
    await_room(s, size <= rest ? size : rest + size);
    if (size > rest) {
        rec *w = (rec *)(s->ring + pos);
        w->size = (uint32_t)rest;
        w->kind = R_WRAP;
        s->head_local += rest;
        pos = 0;
    }
    return s->ring + pos;
}

/* Publish the record; wake the worker when it sleeps, or when it dozes and
 * a batch has gathered since it last ran (or now is set). */
static void rec_commit(shard *s, size_t size, int now) {
    s->head_local += size;
    /* Release, not sequentially consistent: a full fence per event cost
     * more than the rest of the ring. A worker that starts to doze just as
     * this store is still on its way can miss it; it then wakes from its
     * nap (1 ms), or its sleep (SLEEP_MS), on its own. */
    atomic_store_explicit(&s->head, s->head_local, memory_order_release);
    int d = atomic_load_explicit(&s->dozing, memory_order_relaxed);
    s->unwoken++;
    if (d == 2 || (d == 1 && (now || s->unwoken >= WAKE_BATCH))) wake_worker(s);
    else if (!d) s->unwoken = 0; /* running: it sees the record without help */
}

static void send_small(shard *s, int kind, int64_t arg, int now) {
    rec *r = (rec *)rec_begin(s, sizeof(rec));
    r->size = sizeof(rec);
    r->kind = (uint16_t)kind;
    r->arg = arg;
    rec_commit(s, sizeof(rec), now);
}

/* Bytes of an event's serialized form (after its rec). */
static size_t event_bytes(const cep_event *ev) {
    size_t n = sizeof(rec_event) + ev->nslots * sizeof(cep_value);
    for (uint32_t i = 0; i < ev->nslots; i++)
        if (ev->vals[i].type == CEP_STRING) n += ev->vals[i].u.s.len;
    size_t rl;
    if (cep_event_raw(ev, &rl)) n += rl;
    return n;
}

static void write_event(char *dst, const cep_event *ev) {
    rec_event *re = (rec_event *)dst;
    size_t rl = 0;
    const char *raw = cep_event_raw(ev, &rl);
    re->time = ev->time;
    re->tag = ev->tag;
    re->has_time = (uint32_t)ev->has_time;
    re->nslots = ev->nslots;
    re->raw_len = raw ? (uint32_t)rl : 0;
    re->pad_ = 0;
    cep_value *vals = (cep_value *)(re + 1);
    memcpy(vals, ev->vals, ev->nslots * sizeof *vals);
    char *bytes = (char *)(vals + ev->nslots);
    for (uint32_t i = 0; i < ev->nslots; i++)
        if (vals[i].type == CEP_STRING) {
            if (vals[i].u.s.len) memcpy(bytes, vals[i].u.s.ptr, vals[i].u.s.len);
            vals[i].u.s.ptr = NULL;
            bytes += vals[i].u.s.len;
        }
    if (raw && rl) memcpy(bytes, raw, rl);
}

/* One event into a shard's ring; an event too large for it goes out of
 * line, after the ring has drained, so at most one such block per shard
 * is alive. */
static int send_event(shard *s, const cep_event *ev, size_t body, int64_t wm) {
    size_t size = align8(sizeof(rec) + body);
    if (size <= BIG_RECORD) {
        rec *r = (rec *)rec_begin(s, size);
        r->size = (uint32_t)size;
        r->kind = R_EVENT;
        r->arg = wm;
        write_event((char *)(r + 1), ev);
        rec_commit(s, size, 0);
        return CEP_OK;
    }
    char *block = mem_alloc(body);
    if (!block) return CEP_ENOMEM;
    write_event(block, ev);
    await_room(s, RING_BYTES);
    size = align8(sizeof(rec) + sizeof block);
    rec *r = (rec *)rec_begin(s, size);
    r->size = (uint32_t)size;
    r->kind = R_BIG;
    r->arg = wm;
    memcpy(r + 1, &block, sizeof block);
    rec_commit(s, size, 0);
    return CEP_OK;
}

/* ---- the pool ------------------------------------------------------------- */

/* The first shard error, once the workers have reported one: sticky. */
static int pool_check(cep_pool *p) {
    if (p->rc) return p->rc;
    if (!atomic_load_explicit(&p->failed, memory_order_acquire)) return CEP_OK;
    for (unsigned i = 0; i < p->n && !p->rc; i++) {
        shard *s = &p->shards[i];
        pthread_mutex_lock(&s->mu);
        if (s->rc) {
            p->rc = s->rc;
            set_err(p, "shard %u: %s", i, s->err);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return p->rc;
}

static void stop_threads(cep_pool *p) {
    for (unsigned i = 0; i < p->n; i++)
        if (p->shards[i].running) send_small(&p->shards[i], R_STOP, 0, 1);
    for (unsigned i = 0; i < p->n; i++) {
        shard *s = &p->shards[i];
        if (!s->running) continue;
        pthread_join(s->thread, NULL);
        s->running = 0;
    }
}

CEP_API void cep_pool_free(cep_pool *p) {
    if (!p) return;
    if (p->shards) {
        stop_threads(p);
        for (unsigned i = 0; i < p->n; i++) {
            shard *s = &p->shards[i];
            cep_engine_free(s->e);
            cep_event_free(s->row);
            mem_free(s->ring);
            pthread_mutex_destroy(&s->mu);
            pthread_cond_destroy(&s->wake);
            pthread_cond_destroy(&s->done);
        }
    }
    mem_free(p->shards);
    mem_free(p->hit);
    mem_free(p->targets);
    mem_free(p->time_field);
    cep_event_free(p->builder);
    mem_free(p);
}

CEP_API int cep_pool_new(const cep_program *prog, unsigned n, cep_pool_configure_fn fn, void *ud,
                         cep_pool **out) {
    if (!out) return CEP_EINVAL;
    *out = NULL;
    if (!prog || n == 0 || n > MAX_THREADS) return CEP_EINVAL;
    cep_pool *p = mem_calloc(1, sizeof *p);
    if (!p) return CEP_ENOMEM;
    p->prog = prog;
    p->wm = p->max_seen = INT64_MIN;
    p->shards = mem_calloc(n, sizeof *p->shards);
    p->hit = mem_calloc(n, 1);
    p->targets = mem_calloc(n, sizeof *p->targets);
    int rc = p->shards && p->hit && p->targets ? cep_event_new(prog, &p->builder) : CEP_ENOMEM;
    if (rc != CEP_OK) goto fail;
    /* Shards count from here on, so that cep_pool_free cleans up each. */
    for (unsigned i = 0; i < n; i++) {
        shard *s = &p->shards[i];
        s->pool = p;
        s->index = i;
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->wake, NULL);
        pthread_cond_init(&s->done, NULL);
        p->n = i + 1;
        if (!(s->ring = mem_alloc(RING_BYTES)) || (rc = cep_event_new(prog, &s->row)) != CEP_OK ||
            (rc = cep_engine_new(prog, &s->e)) != CEP_OK) {
            if (rc == CEP_OK) rc = CEP_ENOMEM;
            goto fail;
        }
        if (fn && (rc = fn(ud, s->e, i)) != CEP_OK) goto fail;
        if ((rc = cep_engine_set_partition(s->e, i, n)) != CEP_OK) goto fail;
    }
    /* The router keeps time as each shard's engine will: every shard
     * must have the same time options. */
    const cep_engine *e0 = p->shards[0].e;
    for (unsigned i = 1; i < n; i++) {
        const cep_engine *e = p->shards[i].e;
        const char *a = e0->time_field ? e0->time_field : "ts", *b = e->time_field ? e->time_field : "ts";
        if (e->max_delay != e0->max_delay || e->lateness != e0->lateness || e->time_mode != e0->time_mode ||
            strcmp(a, b) != 0) {
            rc = CEP_EINVAL;
            goto fail;
        }
    }
    p->max_delay = e0->max_delay;
    p->lateness = e0->lateness;
    p->processing = e0->time_mode == CEP_TIME_PROCESSING;
    if (!(p->time_field = mem_strdup(p->processing ? "" : e0->time_field ? e0->time_field : "ts"))) {
        rc = CEP_ENOMEM;
        goto fail;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    for (unsigned i = 0; i < n; i++) {
        shard *s = &p->shards[i];
        s->spin = cpus > (long)n ? SPIN : SPIN_CROWDED; /* n workers and the router */
        if (pthread_create(&s->thread, NULL, worker, s) != 0) {
            rc = CEP_ENOMEM;
            goto fail;
        }
        s->running = 1;
    }
    *out = p;
    return CEP_OK;
fail:
    cep_pool_free(p);
    return rc;
}

static int pool_ready(cep_pool *p) {
    if (!p) return CEP_EINVAL;
    int rc = pool_check(p);
    if (rc != CEP_OK) return rc;
    if (p->finished) {
        set_err(p, "%s", cep_strerror(CEP_EFINISHED));
        return CEP_EFINISHED;
    }
    return CEP_OK;
}

CEP_API int cep_pool_push(cep_pool *p, const cep_event *ev) {
    int rc = pool_ready(p);
    if (rc != CEP_OK) return rc;
    if (!ev || ev->nslots != p->prog->nfields) return CEP_EINVAL;
    int64_t wm = INT64_MIN;
    int late = 0, straggler = 0;
    if (!p->processing) {
        /* What cep_engine_push does with time (engine.c push_at), on the
         * watermark of the whole stream. */
        if (!ev->has_time) {
            set_err(p, "event has no time");
            return CEP_ETIME;
        }
        int64_t t = ev->time;
        wm = p->wm;
        if (t < wm) {
            if (p->lateness > 0 && (wm < INT64_MIN + p->lateness || t >= wm - p->lateness)) straggler = 1;
            else late = 1;
        } else {
            if (t > p->max_seen) p->max_seen = t;
            int64_t w = p->max_seen < INT64_MIN + p->max_delay ? INT64_MIN : p->max_seen - p->max_delay;
            if (w > p->wm) p->wm = w;
        }
    }
    /* Shards: the owner of each pattern's key; a late event only to
     * shard 0, so that it is reported once. */
    unsigned nt = 0;
    if (!late)
        for (uint32_t pi = 0; pi < p->prog->npatterns; pi++) {
            uint32_t k = partition_of(p->prog, pi, ev->vals, p->n);
            if (!p->hit[k]) p->hit[k] = 1, p->targets[nt++] = k;
        }
    if (nt == 0) p->targets[nt++] = 0, p->hit[0] = 1;
    size_t body = event_bytes(ev);
    for (unsigned i = 0; i < nt; i++) {
        p->hit[p->targets[i]] = 0;
        if (rc == CEP_OK) rc = send_event(&p->shards[p->targets[i]], ev, body, wm);
    }
    if (rc != CEP_OK) {
        set_err(p, "%s", cep_strerror(rc));
        return rc;
    }
    if (!late) p->dup_events += nt - 1;
    if (straggler) p->dup_stragglers += nt - 1;
    return CEP_OK;
}

CEP_API int cep_pool_push_json(cep_pool *p, const char *text, size_t len) {
    int rc = pool_ready(p);
    if (rc != CEP_OK) return rc;
    if (!text && len) return CEP_EINVAL;
    rc = cep_event_parse_json(p->builder, text, len, p->time_field);
    if (rc != CEP_OK) {
        set_err(p, "%s", cep_event_error(p->builder));
        return rc;
    }
    return cep_pool_push(p, p->builder);
}

static void broadcast(cep_pool *p, int kind, int64_t arg) {
    for (unsigned i = 0; i < p->n; i++) send_small(&p->shards[i], kind, arg, 1);
}

CEP_API int cep_pool_advance_watermark(cep_pool *p, int64_t ms) {
    int rc = pool_ready(p);
    if (rc != CEP_OK) return rc;
    if (!p->processing) {
        if (ms <= p->wm) return CEP_OK; /* a watermark never goes back */
        p->wm = ms;
    }
    broadcast(p, R_ADVANCE, ms);
    return CEP_OK;
}

CEP_API int cep_pool_tick(cep_pool *p) {
    int rc = pool_ready(p);
    if (rc != CEP_OK) return rc;
    if (p->processing) broadcast(p, R_TICK, 0);
    return CEP_OK;
}

/* Send kind (R_SYNC or R_FINISH) to every shard and wait for each ack. */
static void sync_all(cep_pool *p, int kind) {
    uint64_t seq = ++p->sync_seq;
    broadcast(p, kind, (int64_t)seq);
    for (unsigned i = 0; i < p->n; i++) {
        shard *s = &p->shards[i];
        pthread_mutex_lock(&s->mu);
        atomic_store(&s->waiting, 1);
        while (s->acked < seq) pthread_cond_wait(&s->done, &s->mu);
        atomic_store(&s->waiting, 0);
        pthread_mutex_unlock(&s->mu);
    }
}

CEP_API int cep_pool_sync(cep_pool *p) {
    if (!p) return CEP_EINVAL;
    int rc = pool_check(p);
    if (rc != CEP_OK || p->finished) return rc;
    sync_all(p, R_SYNC);
    return pool_check(p);
}

CEP_API int cep_pool_finish(cep_pool *p) {
    int rc = pool_ready(p);
    if (rc != CEP_OK) return rc;
    sync_all(p, R_FINISH);
    p->finished = 1;
    if (!p->processing) p->wm = INT64_MAX;
    return pool_check(p);
}

CEP_API int cep_pool_stats(cep_pool *p, cep_stats *out) {
    if (!out) return CEP_EINVAL;
    memset(out, 0, sizeof *out);
    if (!p) return CEP_EINVAL;
    if (!p->finished) sync_all(p, R_SYNC);
    out->watermark = p->processing ? INT64_MIN : p->wm;
    for (unsigned i = 0; i < p->n; i++) {
        shard *s = &p->shards[i];
        pthread_mutex_lock(&s->mu);
        cep_stats st = s->stats;
        pthread_mutex_unlock(&s->mu);
        out->events += st.events;
        out->matches += st.matches;
        out->late += st.late;
        out->stragglers += st.stragglers;
        out->timeouts += st.timeouts;
        out->partial_matches += st.partial_matches;
        out->peak_partial_matches += st.peak_partial_matches;
        out->keys += st.keys;
        out->buffered += st.buffered;
        out->dropped += st.dropped;
        out->ttl_dropped += st.ttl_dropped;
        out->mem_dropped += st.mem_dropped;
        out->memory += st.memory;
        out->nodes += st.nodes;
        out->stored_events += st.stored_events;
        out->regex_errors += st.regex_errors;
        if (st.watermark > out->watermark) out->watermark = st.watermark;
    }
    out->events = out->events > p->dup_events ? out->events - p->dup_events : 0;
    out->stragglers = out->stragglers > p->dup_stragglers ? out->stragglers - p->dup_stragglers : 0;
    return pool_check(p);
}

CEP_API const char *cep_pool_error(const cep_pool *p) { return p ? p->err : ""; }
