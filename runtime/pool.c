/* pool.c — cep_pool: one program over several engines partitioned by key
 * (runtime/partition.c), run by the caller's thread (the router) and
 * nthreads - 1 worker threads. The router keeps the watermark of the whole
 * stream and routes each event to the engine of its key: an engine the
 * router runs itself gets the caller's row directly; a worker's engine gets
 * a copy in that worker's ring, with the watermark to reach first. So each
 * engine decides lateness and releases buffered events exactly as one
 * engine over the whole stream.
 *
 * There are more engines than threads (ENGINES_PER_THREAD each), so that
 * the router can balance the threads without moving any key's state: it
 * hands a whole engine to a worker when that worker's ring runs low, and
 * takes one back when a ring fills. An engine coming back keeps its order:
 * its events wait in a hold buffer until the worker has passed the last
 * record it had for that engine, and the router runs them first.
 *
 * Rings are single-producer single-consumer byte queues of fixed size (no
 * allocation per event, and a full ring makes the router wait). A record
 * becomes visible when its size word is stored (release); the word after
 * it is zeroed first, so the worker reads no shared index per record. The
 * worker gives room back in steps and sleeps only after spinning. Each
 * engine allocates through a heap of its own (util/mem.c mem_heap), so
 * that engines on different threads do not share cache lines. */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "engine.h"
#include "event.h"
#include "mem.h"
#include "nfa.h"
#include "partition.h"
#include "pool.h"
#include "snapshot.h"
#include "tecs.h"

#define RING_BYTES ((size_t)1 << 20)
#define HOLD_BYTES (RING_BYTES / 2)  /* an engine's events while it comes back */
#define BIG_RECORD (RING_BYTES / 4)  /* larger events go out of line */
#define FREE_STEP (RING_BYTES / 16)  /* the worker gives room back this often */
#define NEXT_WORD 8                  /* room kept after a record for the next one's size word */
#define ENGINES_PER_THREAD 2         /* more cost per event (cache) and finer balance */
#define CHECK_EVERY 256              /* routed events between two looks at the rings */
#define COOL_EVENTS 4096             /* after a move, events before the next one */
#define HIGH_WATER (RING_BYTES / 2)  /* a ring this full: its worker has too much */
#define LOW_WATER (RING_BYTES / 8)   /* this empty: it has room for more */
#define SPIN 250                     /* polls of an empty ring (or a full one) before sleeping, */
#define SPIN_CROWDED 10              /* or with fewer cores than threads */
#define BACKOFF 8                    /* pauses between two polls: the router's cache lines
                                      * stay with the router while it writes them */
#define DOZE_ROUNDS 20               /* 1 ms naps before sleeping SLEEP_MS at a time */
#define SLEEP_MS 10                  /* also the latest a missed wake-up is noticed */
#define MAX_THREADS 256

enum { R_WRAP = 1, R_EVENT, R_BIG, R_ADVANCE, R_TICK, R_FINISH, R_SYNC, R_STOP };

/* Every record starts with this; records are 8-byte aligned and never cross
 * the end of the ring (an R_WRAP record fills the rest). */
typedef struct rec {
    _Atomic uint32_t size; /* bytes, header included; 0: not written yet */
    uint8_t kind, has_time; /* has_time: an event's */
    uint16_t engine;
    int64_t arg;           /* R_EVENT, R_BIG: watermark to reach first (INT64_MIN:
                            * none); R_ADVANCE: the watermark; R_SYNC: sequence */
} rec;

/* An event after its rec: this, its values (cep_value; strings point at
 * their bytes further on in the record), the string bytes, the raw text.
 * The reader lends the values to its row as they are (run_record). */
typedef struct rec_event {
    int64_t time;
    uint64_t tag;
    uint64_t seq;               /* the pool's arrival number (see apply) */
    uint32_t raw_len, raw_off;  /* the raw text: its length, where it starts */
} rec_event;

typedef struct worker {
    /* The router's side: only the router reads or writes these. */
    _Alignas(64) uint64_t head;         /* bytes written */
    uint64_t tail_seen;                 /* the router's last view of tail */
    /* Written by the worker. */
    _Alignas(64) _Atomic uint64_t tail; /* bytes consumed, given back in steps */
    _Atomic uint64_t naps;              /* times it waited on wake (pool_info) */
    _Alignas(64) _Atomic int sleeping;  /* set by the worker, cleared by its waker */
    _Alignas(64) _Atomic int router_waiting;
    pthread_mutex_t mu;
    pthread_cond_t wake;                /* the worker waits here */
    pthread_cond_t done;                /* the router waits here */
    uint64_t acked;                     /* under mu: last sync done */
    struct cep_pool *pool;
    int spin;
    cep_event *row;                     /* lends its place to each record */
    char *ring;
    pthread_t thread;
    int init, running;
} worker;

/* An engine. e and the error are used by the thread that runs it; a hand-
 * over between threads goes through a ring's release and acquire. */
typedef struct shard {
    cep_engine *e;
    mem_heap heap;                      /* all it allocates: see apply() */
    int rc;                             /* first error, under err_mu */
    char err[256];
} shard;

/* Where an engine runs, as the router sees it. */
typedef struct route {
    uint64_t last;                      /* its worker's head after its last record */
    unsigned owner;                     /* 0: the router; w + 1: worker w */
} route;

struct cep_pool {
    const cep_program *prog;
    unsigned nthreads, nworkers, nengines;
    worker *workers;
    shard *shards;
    route *routes;
    int one_layout;         /* every pattern has the same key: one engine per event */
    int fast;               /* cep_pool_push's shortcut applies: one layout, one key, */
    uint32_t key_slot;      /* in this slot; event time; not finished, no error */
    /* Time, as one engine over the whole stream keeps it. */
    int64_t max_delay, lateness;
    int processing;
    char *time_field;       /* for cep_pool_push_json */
    int64_t wm, max_seen;
    uint64_t seq;           /* events routed: each engine numbers an event by this */
    uint64_t cur_seq;       /* the number of the event being routed */
    int synced;             /* nothing routed since the last sync_all */
    cep_event *builder;     /* cep_pool_push_json's row */
    cep_value *thaw;        /* a pushed stored event's values (cep_pool_push) */
    size_t thaw_cap;
    unsigned char *hit;     /* per engine: the event goes there */
    unsigned *targets;
    /* Balance. */
    unsigned router_engines;
    int transit;            /* engine coming back to the router, or -1 */
    char *hold;             /* its records meanwhile */
    size_t hold_len;
    cep_event *hold_row;
    unsigned since_check, cool, churn, churn_step;
    int pinned;             /* pool_pin: no balancing */
    pool_info info;
    /* Errors. */
    pthread_mutex_t err_mu;
    int err_mu_init;
    _Atomic int failed;     /* an engine recorded an error */
    int rc;                 /* sticky: the first engine error seen */
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

static void timed_wait(pthread_cond_t *c, pthread_mutex_t *m, long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_cond_timedwait(c, m, &ts);
}

/* ---- running an engine's work, on whichever thread owns it ---------------- */

static void shard_fail(cep_pool *p, shard *s, int rc) {
    pthread_mutex_lock(&p->err_mu);
    if (!s->rc) {
        snprintf(s->err, sizeof s->err, "%s", cep_engine_error(s->e));
        if (!s->err[0]) snprintf(s->err, sizeof s->err, "%s", cep_strerror(rc));
        s->rc = rc;
    }
    pthread_mutex_unlock(&p->err_mu);
    atomic_store_explicit(&p->failed, 1, memory_order_release);
}

/* Will cep_engine_push run an event at t (>= the stream's watermark wm)
 * straight away, nothing buffered before it? Then its push moves the
 * engine's time to t before the event (engine.c push_at), past wm: moving
 * time to wm first would change nothing (time moved in one step or in two
 * runs the same timers in the same order) and costs a call. */
static inline int runs_in_order(const cep_engine *e, int64_t t, int64_t wm) {
    if (t < wm || e->time.reorder.n) return 0;
    if (e->cfg.max_delay == 0) return 1;
    return e->time.max_seen >= INT64_MIN + e->cfg.max_delay && e->time.max_seen - e->cfg.max_delay >= t;
}

/* One piece of an engine's work: an event (advanced to wm first), a
 * watermark, a tick or the end of input. A failed engine does nothing more;
 * its error is the pool's. Only the thread running s writes s->rc. The
 * engine allocates in its own heap: engines move between threads, and
 * blocks of two engines run by two threads must not share cache lines. */
static void apply(cep_pool *p, shard *s, int kind, int64_t arg, const cep_event *ev, uint64_t seq) {
    if (s->rc) return;
    const mem_heap *own = mem_heap_use(&s->heap);
    int rc = CEP_OK;
    switch (kind) {
    case R_EVENT:
        /* Every engine numbers an event as the pool does (its arrival
         * number is the event's sequence, which orders ties in time): so
         * the copies of one event in several engines are one event in a
         * snapshot, and keys from several engines compare in one order. */
        s->e->time.arrivals = seq;
        if (arg > s->e->time.watermark && !runs_in_order(s->e, ev->time, arg))
            rc = cep_engine_advance_watermark(s->e, arg);
        if (rc == CEP_OK) rc = cep_engine_push(s->e, ev);
        break;
    case R_ADVANCE: rc = cep_engine_advance_watermark(s->e, arg); break;
    case R_TICK: rc = cep_engine_tick(s->e); break;
    case R_FINISH: rc = engine_finish_after(s->e, arg); break;
    }
    mem_heap_use(own);
    if (rc != CEP_OK) shard_fail(p, s, rc);
}

/* Run a record of an engine (an event or a control). The thread's row (a
 * real builder, so the engine copies what it keeps, as from any caller's
 * row) lends its place to the record: its values are the record's, whose
 * strings already point at their bytes in it (write_event). The record is
 * only read: a line the worker wrote would have to come back from its
 * cache when the router next writes there. */
static void run_record(cep_pool *p, cep_event *row, rec *r) {
    shard *s = &p->shards[r->engine];
    if (r->kind != R_EVENT && r->kind != R_BIG) {
        apply(p, s, r->kind, r->arg, NULL, 0);
        return;
    }
    char *body = (char *)(r + 1);
    if (r->kind == R_BIG) memcpy(&body, r + 1, sizeof(char *)); /* the record holds where the body is */
    const rec_event *re = (const rec_event *)body;
    cep_value *own_vals = row->vals;
    char *own_raw = row->raw;
    size_t own_len = row->raw_len;
    row->has_time = r->has_time;
    row->time = re->time;
    row->tag = re->tag;
    row->vals = (cep_value *)(re + 1);
    row->raw = re->raw_len ? body + re->raw_off : NULL;
    row->raw_len = re->raw_len;
    apply(p, s, R_EVENT, r->arg, row, re->seq);
    row->vals = own_vals;
    row->raw = own_raw;
    row->raw_len = own_len;
    if (r->kind == R_BIG) mem_free(body);
}

/* ---- the worker ---------------------------------------------------------- */

static void give_room(worker *w, uint64_t t) {
    /* Sequentially consistent, as the router's router_waiting store: one
     * of the two sees the other, so the router is never left asleep. */
    atomic_store(&w->tail, t);
    if (atomic_load(&w->router_waiting)) {
        pthread_mutex_lock(&w->mu);
        pthread_cond_broadcast(&w->done);
        pthread_mutex_unlock(&w->mu);
    }
}

/* Wait until the record at r is written: spin (backing off, so the router
 * keeps the lines it is writing), then nap, then sleep until woken. The
 * size is checked under mu after sleeping is set: a waker that takes mu
 * after publishing cannot be missed. One that only looked at sleeping
 * without mu (rec_publish) can be: its look is not ordered after its store
 * of the record (a fence per event would cost more than it saves), so the
 * worker's nap ends the wait, 1 ms at most early in an idle spell and
 * SLEEP_MS at most later. Never a hang: sync and controls take mu. */
static void await_record(worker *w, rec *r) {
    for (int i = 0; i < w->spin; i++) {
        for (int j = 0; j < BACKOFF; j++) cpu_relax();
        if (atomic_load_explicit(&r->size, memory_order_acquire)) return;
    }
    pthread_mutex_lock(&w->mu);
    for (int round = 0;; round++) {
        atomic_store(&w->sleeping, 1);
        if (atomic_load(&r->size)) break;
        atomic_fetch_add_explicit(&w->naps, 1, memory_order_relaxed);
        timed_wait(&w->wake, &w->mu, round < DOZE_ROUNDS ? 1 : SLEEP_MS);
    }
    atomic_store(&w->sleeping, 0);
    pthread_mutex_unlock(&w->mu);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    cep_pool *p = w->pool;
    uint64_t t = 0, given = 0;
    for (;;) {
        rec *r = (rec *)(w->ring + t % RING_BYTES);
        uint32_t size = atomic_load_explicit(&r->size, memory_order_acquire);
        if (!size) {
            if (given != t) give_room(w, given = t);
            await_record(w, r);
            continue;
        }
        /* (An R_WRAP may be only the ring's last 8 bytes: no arg.) */
        int kind = r->kind;
        int64_t seq = kind == R_SYNC ? r->arg : 0;
        if (kind != R_WRAP && kind != R_SYNC && kind != R_STOP) run_record(p, w->row, r);
        t += size;
        if (kind == R_STOP) {
            give_room(w, t);
            return NULL;
        }
        if (kind == R_SYNC) {
            /* Room first: after the ack the router sees every record done. */
            give_room(w, given = t);
            pthread_mutex_lock(&w->mu);
            w->acked = (uint64_t)seq;
            pthread_cond_broadcast(&w->done);
            pthread_mutex_unlock(&w->mu);
        } else if (t - given >= FREE_STEP) {
            give_room(w, given = t);
        }
    }
}

/* ---- the router's side of a ring ----------------------------------------- */

static void wake_worker(worker *w) {
    pthread_mutex_lock(&w->mu);
    if (atomic_load(&w->sleeping)) {
        atomic_store(&w->sleeping, 0);
        pthread_cond_signal(&w->wake);
    }
    pthread_mutex_unlock(&w->mu);
}

/* Wait until the worker has consumed everything before want. */
static void wait_tail(cep_pool *p, worker *w, uint64_t want) {
    if ((w->tail_seen = atomic_load_explicit(&w->tail, memory_order_acquire)) >= want) return;
    p->info.room_waits++;
    for (int i = 0; i < w->spin; i++) {
        for (int j = 0; j < BACKOFF; j++) cpu_relax();
        if ((w->tail_seen = atomic_load_explicit(&w->tail, memory_order_acquire)) >= want) return;
    }
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->router_waiting, 1);
    /* A worker asleep with records ahead missed its wake-up: wake it. */
    if (atomic_load(&w->sleeping)) {
        atomic_store(&w->sleeping, 0);
        pthread_cond_signal(&w->wake);
    }
    while ((w->tail_seen = atomic_load(&w->tail)) < want) timed_wait(&w->done, &w->mu, 1);
    atomic_store(&w->router_waiting, 0);
    pthread_mutex_unlock(&w->mu);
}

/* Room for a record of size bytes (8-aligned, at most BIG_RECORD) at head:
 * its address in the ring, after an R_WRAP when the end is near. */
static rec *rec_begin_slow(cep_pool *p, worker *w, size_t size) {
    size_t pos = (size_t)(w->head % RING_BYTES), rest = RING_BYTES - pos;
    size_t need = (size <= rest ? size : rest + size) + NEXT_WORD;
    if (w->head + need > w->tail_seen + RING_BYTES) wait_tail(p, w, w->head + need - RING_BYTES);
    if (size > rest) {
        rec *wr = (rec *)(w->ring + pos);
        wr->kind = R_WRAP;
        w->head += rest;
        atomic_store_explicit(&((rec *)w->ring)->size, 0, memory_order_relaxed);
        atomic_store_explicit(&wr->size, (uint32_t)rest, memory_order_release);
        pos = 0;
    }
    return (rec *)(w->ring + pos);
}

static inline rec *rec_begin(cep_pool *p, worker *w, size_t size) {
    size_t pos = (size_t)(w->head % RING_BYTES);
    if (size <= RING_BYTES - pos && w->head + size + NEXT_WORD <= w->tail_seen + RING_BYTES)
        return (rec *)(w->ring + pos);
    return rec_begin_slow(p, w, size);
}

/* Publish the record at head: the size word after it is zeroed first, so
 * that the worker stops there. Wakes the worker when it sleeps (sure: take
 * its lock whatever it seems to be doing, so the wake cannot be missed). */
static inline void rec_publish(worker *w, rec *r, size_t size, int sure) {
    w->head += size;
    atomic_store_explicit(&((rec *)(w->ring + w->head % RING_BYTES))->size, 0, memory_order_relaxed);
    atomic_store_explicit(&r->size, (uint32_t)size, memory_order_release);
    if (sure || atomic_load_explicit(&w->sleeping, memory_order_relaxed)) wake_worker(w);
}

/* The raw text a record carries (cep_event_raw's, without the call). */
static inline size_t raw_of(const cep_event *ev) { return ev->raw ? ev->raw_len : 0; }

/* Bytes of an event's serialized form (after its rec). */
static inline size_t event_bytes(const cep_event *ev) {
    size_t n = sizeof(rec_event) + ev->nslots * sizeof(cep_value) + raw_of(ev);
    const cep_value *v = ev->vals;
    for (uint32_t i = 0; i < ev->nslots; i++)
        if (v[i].type == CEP_STRING) n += v[i].u.s.len;
    return n;
}

/* The record of ev at dst, where it stays until it has been run (in a
 * ring, the hold buffer or an out-of-line block): each string value points
 * at its bytes in the record, so that the reader lends the values as they
 * are. */
static inline void write_event(char *dst, const cep_event *ev, uint64_t seq) {
    rec_event *re = (rec_event *)dst;
    size_t rl = raw_of(ev);
    cep_value *vals = (cep_value *)(re + 1);
    const cep_value *src = ev->vals;
    uint32_t n = ev->nslots;
    memcpy(vals, src, n * sizeof *vals);
    /* The types are read from the source: a load from the record just
     * stored would wait for the ring's cache line to arrive. */
    char *bytes = (char *)(vals + n);
    for (uint32_t i = 0; i < n; i++)
        if (src[i].type == CEP_STRING) {
            copy_bytes(bytes, src[i].u.s.ptr, src[i].u.s.len);
            vals[i].u.s.ptr = bytes;
            bytes += src[i].u.s.len;
        }
    if (rl) memcpy(bytes, ev->raw, rl);
    re->time = ev->time;
    re->tag = ev->tag;
    re->seq = seq;
    re->raw_len = (uint32_t)rl;
    re->raw_off = (uint32_t)(bytes - dst);
}

/* ---- balance: which thread runs which engine ------------------------------ */

/* Run the held records of the engine coming back, once its worker has
 * passed its last record (waiting for that when wait is set); it is the
 * router's from then on. 1 when it came back. */
static int finish_transit(cep_pool *p, int wait) {
    if (p->transit < 0) return 1;
    route *rt = &p->routes[p->transit];
    worker *w = &p->workers[rt->owner - 1];
    if (w->tail_seen < rt->last) w->tail_seen = atomic_load_explicit(&w->tail, memory_order_acquire);
    if (w->tail_seen < rt->last) {
        if (!wait) return 0;
        wait_tail(p, w, rt->last);
    }
    for (size_t off = 0; off < p->hold_len;) {
        rec *r = (rec *)(p->hold + off);
        off += atomic_load_explicit(&r->size, memory_order_relaxed);
        run_record(p, p->hold_row, r);
    }
    p->hold_len = 0;
    rt->owner = 0;
    p->transit = -1;
    p->router_engines++;
    p->info.moves_back++;
    return 1;
}

/* Start taking engine k back from its worker (in churn mode, a test's,
 * not before the next look at the rings: its events are held meanwhile). */
static void start_transit(cep_pool *p, unsigned k) {
    p->transit = (int)k;
    p->hold_len = 0;
    if (!p->churn) finish_transit(p, 0);
}

/* Hand one of the router's engines to worker w. */
static void give(cep_pool *p, unsigned w) {
    for (unsigned k = 0; k < p->nengines; k++)
        if (p->routes[k].owner == 0) {
            p->routes[k].owner = w + 1;
            p->routes[k].last = p->workers[w].head;
            p->router_engines--;
            p->info.moves_out++;
            return;
        }
}

/* The engine of worker w whose last record is oldest: the quickest back. */
static int oldest_of(cep_pool *p, unsigned w) {
    int best = -1;
    for (unsigned k = 0; k < p->nengines; k++)
        if (p->routes[k].owner == w + 1 && (best < 0 || p->routes[k].last < p->routes[best].last)) best = (int)k;
    return best;
}

/* Look at the rings: a worker whose ring fills gives an engine back, one
 * whose ring runs low gets one of the router's. One move at a time, and
 * none for COOL_EVENTS after one, so that the rings show its effect. */
static void balance(cep_pool *p) {
    p->since_check = 0;
    if (!p->nworkers) return;
    for (unsigned i = 0; i < p->nworkers; i++)
        p->workers[i].tail_seen = atomic_load_explicit(&p->workers[i].tail, memory_order_acquire);
    /* Churn mode waits for a lagging worker here, so that a loaded machine
     * cannot keep engines from coming back and the test's moves happen. */
    if (p->transit >= 0 && !finish_transit(p, p->churn != 0)) return;
    if (p->cool > CHECK_EVERY) {
        p->cool -= CHECK_EVERY;
        return;
    }
    p->cool = 0;
    if (p->pinned) return;
    if (p->churn) {
        /* Test mode: alternately give an engine and take one back. */
        unsigned w = p->churn_step % p->nworkers;
        int k = oldest_of(p, w);
        if ((p->churn_step++ & 1) == 0 && p->router_engines) give(p, w);
        else if (k >= 0) start_transit(p, (unsigned)k);
        else if (p->router_engines) give(p, w);
        p->cool = p->churn;
        return;
    }
    unsigned full = 0, empty = 0;
    uint64_t most = 0, least = UINT64_MAX;
    for (unsigned i = 0; i < p->nworkers; i++) {
        uint64_t occ = p->workers[i].head - p->workers[i].tail_seen;
        if (occ > most) most = occ, full = i;
        if (occ < least) least = occ, empty = i;
    }
    if (most >= HIGH_WATER) {
        int k = oldest_of(p, full);
        if (k >= 0) {
            start_transit(p, (unsigned)k);
            p->cool = COOL_EVENTS;
        }
    } else if (least <= LOW_WATER && p->router_engines) {
        give(p, empty);
        p->cool = COOL_EVENTS;
    }
}

/* ---- routing --------------------------------------------------------------- */

/* Engine k's part of an event (ev, with the watermark arg to reach first)
 * or a control (ev NULL: R_ADVANCE, R_TICK, R_FINISH): run now when the
 * router runs k, held while k comes back, else queued in its worker's
 * ring. *body caches the event's serialized size (0: not yet known). */
static int to_engine(cep_pool *p, unsigned k, int kind, int64_t arg, const cep_event *ev, size_t *body) {
    route *rt = &p->routes[k];
    size_t size = sizeof(rec);
    if (ev) {
        if (!*body && rt->owner) *body = event_bytes(ev);
        size = align8(sizeof(rec) + *body);
    }
    /* Something that does not fit in the hold buffer: the engine's worker
     * finishes its part first, then the router runs it. */
    if (p->transit == (int)k && (size > BIG_RECORD || p->hold_len + size > HOLD_BYTES)) finish_transit(p, 1);
    if (rt->owner == 0) {
        if (ev) p->info.inline_events++;
        apply(p, &p->shards[k], kind, arg, ev, p->cur_seq);
        return CEP_OK;
    }
    char *big = NULL;
    if (ev && size > BIG_RECORD) {
        if (!(big = mem_alloc(*body))) return CEP_ENOMEM;
        write_event(big, ev, p->cur_seq);
        kind = R_BIG;
        size = align8(sizeof(rec) + sizeof big);
    }
    worker *w = &p->workers[rt->owner - 1];
    int held = p->transit == (int)k;
    /* At most one out-of-line event per ring: the one it has drained for. */
    if (big) wait_tail(p, w, w->head);
    rec *r = held ? (rec *)(p->hold + p->hold_len) : rec_begin(p, w, size);
    r->kind = (uint8_t)kind;
    r->has_time = ev && ev->has_time;
    r->engine = (uint16_t)k;
    r->arg = arg;
    if (big) memcpy(r + 1, &big, sizeof big);
    else if (ev) write_event((char *)(r + 1), ev, p->cur_seq);
    if (ev) p->info.ring_events++;
    if (held) {
        atomic_store_explicit(&r->size, (uint32_t)size, memory_order_relaxed);
        p->hold_len += size;
        p->info.held++;
    } else {
        rec_publish(w, r, size, !ev);
        rt->last = w->head;
    }
    return CEP_OK;
}

/* ---- the pool ------------------------------------------------------------- */

/* The first engine error, once one has been recorded: sticky. */
static int pool_check_slow(cep_pool *p) {
    pthread_mutex_lock(&p->err_mu);
    for (unsigned k = 0; k < p->nengines && !p->rc; k++)
        if (p->shards[k].rc) {
            p->rc = p->shards[k].rc;
            set_err(p, "shard %u: %s", k, p->shards[k].err);
        }
    pthread_mutex_unlock(&p->err_mu);
    return p->rc;
}

static inline int pool_check(cep_pool *p) {
    if (p->rc) return p->rc;
    if (!atomic_load_explicit(&p->failed, memory_order_acquire)) return CEP_OK;
    return pool_check_slow(p);
}

static void send_ctl(cep_pool *p, worker *w, int kind, int64_t arg) {
    rec *r = rec_begin(p, w, sizeof(rec));
    r->kind = (uint8_t)kind;
    r->engine = 0;
    r->arg = arg;
    rec_publish(w, r, sizeof(rec), 1);
}

static void stop_threads(cep_pool *p) {
    for (unsigned i = 0; i < p->nworkers; i++)
        if (p->workers[i].running) send_ctl(p, &p->workers[i], R_STOP, 0);
    for (unsigned i = 0; i < p->nworkers; i++) {
        worker *w = &p->workers[i];
        if (!w->running) continue;
        pthread_join(w->thread, NULL);
        w->running = 0;
    }
}

CEP_API unsigned cep_pool_engine_count(unsigned nthreads) {
    if (nthreads == 0 || nthreads > MAX_THREADS) return 0;
    /* No more engines than key groups: one more would own none. */
    unsigned n = nthreads == 1 ? 1 : nthreads * ENGINES_PER_THREAD;
    return n < KEY_GROUPS ? n : KEY_GROUPS;
}

CEP_API void cep_pool_free(cep_pool *p) {
    if (!p) return;
    if (p->workers) stop_threads(p);
    /* Held records of an engine that was coming back: their blocks only. */
    for (size_t off = 0; off < p->hold_len;) {
        rec *r = (rec *)(p->hold + off);
        off += atomic_load_explicit(&r->size, memory_order_relaxed);
        if (r->kind == R_BIG) {
            char *big;
            memcpy(&big, r + 1, sizeof big);
            mem_free(big);
        }
    }
    for (unsigned i = 0; p->workers && i < p->nworkers; i++) {
        worker *w = &p->workers[i];
        cep_event_free(w->row);
        mem_free(w->ring);
        if (w->init) {
            pthread_mutex_destroy(&w->mu);
            pthread_cond_destroy(&w->wake);
            pthread_cond_destroy(&w->done);
        }
    }
    for (unsigned k = 0; p->shards && k < p->nengines; k++) {
        shard *s = &p->shards[k];
        const mem_heap *own = mem_heap_use(&s->heap);
        cep_engine_free(s->e);
        mem_heap_use(own);
        mem_heap_destroy(&s->heap);
    }
    if (p->err_mu_init) pthread_mutex_destroy(&p->err_mu);
    mem_free(p->workers);
    mem_free(p->shards);
    mem_free(p->routes);
    mem_free(p->hit);
    mem_free(p->targets);
    mem_free(p->thaw);
    mem_free(p->hold);
    cep_event_free(p->hold_row);
    mem_free(p->time_field);
    cep_event_free(p->builder);
    mem_free(p);
}

/* Do all patterns read the same key? Then an event belongs to one engine,
 * which needs no check of its own (no partition set: the key is not
 * hashed a second time). */
static int one_layout(const cep_program *prog) {
    for (uint32_t pi = 1; pi < prog->npatterns; pi++) {
        const nfa_pattern *a = &prog->patterns[0], *b = &prog->patterns[pi];
        if (a->nkeys != b->nkeys || (a->nkeys && memcmp(a->key_slots, b->key_slots, a->nkeys * sizeof *a->key_slots)))
            return 0;
    }
    return 1;
}

static int worker_init(cep_pool *p, worker *w, int spin) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->wake, &ca);
    pthread_cond_init(&w->done, &ca);
    pthread_condattr_destroy(&ca);
    w->init = 1;
    w->pool = p;
    w->spin = spin;
    /* Zeroed: the first record's size word reads "not written yet". */
    if (!(w->ring = mem_calloc(1, RING_BYTES))) return CEP_ENOMEM;
    return cep_event_new(p->prog, &w->row);
}

CEP_API int cep_pool_new(const cep_program *prog, unsigned n, cep_pool_configure_fn fn, void *ud,
                         cep_pool **out) {
    if (!out) return CEP_EINVAL;
    *out = NULL;
    if (!prog || n == 0 || n > MAX_THREADS) return CEP_EINVAL;
    cep_pool *p = mem_calloc(1, sizeof *p);
    if (!p) return CEP_ENOMEM;
    p->prog = prog;
    p->nthreads = n;
    p->nengines = cep_pool_engine_count(n);
    p->wm = p->max_seen = INT64_MIN;
    p->transit = -1;
    pthread_mutex_init(&p->err_mu, NULL);
    p->err_mu_init = 1;
    p->one_layout = one_layout(prog);
    int rc = CEP_ENOMEM;
    p->shards = mem_calloc(p->nengines, sizeof *p->shards);
    p->routes = mem_calloc(p->nengines, sizeof *p->routes);
    p->hit = mem_calloc(p->nengines, 1);
    p->targets = mem_calloc(p->nengines, sizeof *p->targets);
    if (!p->shards || !p->routes || !p->hit || !p->targets) goto fail;
    if ((rc = cep_event_new(prog, &p->builder)) != CEP_OK) goto fail;
    for (unsigned k = 0; k < p->nengines; k++) {
        shard *s = &p->shards[k];
        cep_engine **e = &s->e;
        /* One thread: nothing to keep apart. On failure: the common heap. */
        if (n > 1) mem_heap_init(&s->heap);
        const mem_heap *own = mem_heap_use(&s->heap);
        rc = cep_engine_new(prog, e);
        mem_heap_use(own);
        if (rc != CEP_OK) goto fail;
        if (fn && (rc = fn(ud, *e, k)) != CEP_OK) goto fail;
        if (!p->one_layout && p->nengines > 1 && (rc = cep_engine_set_partition(*e, k, p->nengines)) != CEP_OK)
            goto fail;
    }
    /* The router keeps time as each engine will: every engine must have
     * the same time options. */
    const cep_engine *e0 = p->shards[0].e;
    for (unsigned k = 1; k < p->nengines; k++) {
        const cep_engine *e = p->shards[k].e;
        const char *a = e0->cfg.time_field ? e0->cfg.time_field : CEP_DEFAULT_TIME_FIELD, *b = e->cfg.time_field ? e->cfg.time_field : CEP_DEFAULT_TIME_FIELD;
        if (e->cfg.max_delay != e0->cfg.max_delay || e->cfg.lateness != e0->cfg.lateness || e->cfg.time_mode != e0->cfg.time_mode ||
            strcmp(a, b) != 0) {
            rc = CEP_EINVAL;
            goto fail;
        }
    }
    p->max_delay = e0->cfg.max_delay;
    p->lateness = e0->cfg.lateness;
    p->processing = e0->cfg.time_mode == CEP_TIME_PROCESSING;
    if (p->one_layout && prog->npatterns && prog->patterns[0].nkeys == 1 && !p->processing) {
        p->fast = 1;
        p->key_slot = prog->patterns[0].key_slots[0];
    }
    rc = CEP_ENOMEM;
    if (!(p->time_field = mem_strdup(p->processing ? "" : e0->cfg.time_field ? e0->cfg.time_field : CEP_DEFAULT_TIME_FIELD))) goto fail;
    p->nworkers = n - 1;
    p->router_engines = p->nengines;
    if (p->nworkers) {
        if (!(p->workers = mem_calloc(p->nworkers, sizeof *p->workers)) || !(p->hold = mem_alloc(HOLD_BYTES)) ||
            (rc = cep_event_new(prog, &p->hold_row)) != CEP_OK) {
            rc = CEP_ENOMEM;
            goto fail;
        }
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int spin = cpus >= (long)n ? SPIN : SPIN_CROWDED; /* the router and n - 1 workers */
        for (unsigned i = 0; i < p->nworkers; i++)
            if ((rc = worker_init(p, &p->workers[i], spin)) != CEP_OK) goto fail;
        /* The router starts with one engine (it also reads and routes), the
         * workers share the rest; balance() moves them from there. */
        for (unsigned k = 1; k < p->nengines; k++) p->routes[k].owner = 1 + (k - 1) % p->nworkers;
        p->router_engines = 1;
        for (unsigned i = 0; i < p->nworkers; i++) {
            worker *w = &p->workers[i];
            if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
                rc = CEP_ENOMEM;
                goto fail;
            }
            w->running = 1;
        }
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

/* An event of the common case to engine k: run now if the router runs
 * it, else copied into its worker's ring. 0 when it needs to_engine: k is
 * coming back, or the event is too large for the ring. */
static inline int push_fast(cep_pool *p, unsigned k, int64_t wm, const cep_event *ev) {
    route *rt = &p->routes[k];
    if (rt->owner == 0) {
        shard *s = &p->shards[k];
        p->info.inline_events++;
        if (s->rc) return 1;
        cep_engine *e = s->e;
        const mem_heap *own = mem_heap_use(&s->heap);
        int rc = wm > e->time.watermark && !runs_in_order(e, ev->time, wm) ? cep_engine_advance_watermark(e, wm) : CEP_OK;
        e->time.arrivals = p->cur_seq; /* as apply() */
        if (rc == CEP_OK) rc = cep_engine_push(e, ev);
        mem_heap_use(own);
        if (rc != CEP_OK) shard_fail(p, s, rc);
        return 1;
    }
    size_t body = event_bytes(ev);
    if ((int)k == p->transit || body > BIG_RECORD - sizeof(rec)) return 0;
    worker *w = &p->workers[rt->owner - 1];
    size_t size = align8(sizeof(rec) + body);
    rec *r = rec_begin(p, w, size);
    r->kind = R_EVENT;
    r->has_time = 1;
    r->engine = (uint16_t)k;
    r->arg = wm;
    write_event((char *)(r + 1), ev, p->cur_seq);
    rec_publish(w, r, size, 0);
    rt->last = w->head;
    p->info.ring_events++;
    return 1;
}

/* Route an event to its engines (ev passed its checks; wm is the
 * watermark before it; late: behind it by more than the lateness). */
static int route_event(cep_pool *p, const cep_event *ev, int64_t wm, int late, int straggler) {
    int rc = CEP_OK;
    size_t body = 0;
    if (p->one_layout || late) {
        /* One engine: the key's (a late event: engine 0, so that late
         * events are reported once and in order). */
        unsigned k = late || !p->prog->npatterns ? 0 : partition_of(p->prog, 0, ev->vals, p->nengines);
        rc = to_engine(p, k, R_EVENT, wm, ev, &body);
    } else {
        /* The engine of each pattern's key. */
        unsigned nt = 0;
        for (uint32_t pi = 0; pi < p->prog->npatterns; pi++) {
            uint32_t k = partition_of(p->prog, pi, ev->vals, p->nengines);
            if (!p->hit[k]) p->hit[k] = 1, p->targets[nt++] = k;
        }
        for (unsigned i = 0; i < nt; i++) {
            p->hit[p->targets[i]] = 0;
            if (rc == CEP_OK) rc = to_engine(p, p->targets[i], R_EVENT, wm, ev, &body);
        }
        p->dup_events += nt - 1;
        if (straggler) p->dup_stragglers += nt - 1;
    }
    if (rc != CEP_OK) {
        set_err(p, "%s", cep_strerror(rc));
        return rc;
    }
    if (++p->since_check >= CHECK_EVERY) balance(p);
    return CEP_OK;
}

CEP_API int cep_pool_push(cep_pool *p, const cep_event *ev) {
    /* The common case in few instructions (p->fast: one key layout, one
     * integer key, event time; the event in order, no error). */
    if (p && p->fast && ev && !ev->stored && ev->has_time && ev->nslots == p->prog->nfields && ev->time >= p->wm &&
        ev->vals[p->key_slot].type == CEP_INT && !atomic_load_explicit(&p->failed, memory_order_relaxed)) {
        int64_t t = ev->time, wm = p->wm;
        p->cur_seq = p->seq++;
        p->synced = 0;
        if (t > p->max_seen) {
            p->max_seen = t;
            int64_t w = t < INT64_MIN + p->max_delay ? INT64_MIN : t - p->max_delay;
            if (w > p->wm) p->wm = w;
        }
        unsigned k = p->nengines > 1 ? partition_int(ev->vals[p->key_slot].u.i, p->nengines) : 0;
        if (!push_fast(p, k, wm, ev)) return route_event(p, ev, wm, 0, 0);
        if (++p->since_check >= CHECK_EVERY) balance(p);
        return CEP_OK;
    }
    int rc = pool_ready(p);
    if (rc != CEP_OK) return rc;
    if (!ev || ev->nslots != p->prog->nfields) return CEP_EINVAL;
    cep_event view; /* a stored event (a match's) is routed as a view of its values */
    if (ev->stored) {
        if (mem_grow((void **)&p->thaw, &p->thaw_cap, ev->nslots ? ev->nslots : 1, sizeof *p->thaw) < 0) return CEP_ENOMEM;
        event_thaw(ev, &view, p->thaw);
        ev = &view;
    }
    p->synced = 0;
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
    p->cur_seq = p->seq++;
    return route_event(p, ev, wm, late, straggler);
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

/* A control to every engine. */
static int broadcast(cep_pool *p, int kind, int64_t arg) {
    int rc = CEP_OK;
    p->synced = 0;
    for (unsigned k = 0; k < p->nengines && rc == CEP_OK; k++) rc = to_engine(p, k, kind, arg, NULL, NULL);
    return rc;
}

CEP_API int cep_pool_advance_watermark(cep_pool *p, int64_t ms) {
    int rc = pool_ready(p);
    if (rc != CEP_OK) return rc;
    if (!p->processing) {
        if (ms <= p->wm) return CEP_OK; /* a watermark never goes back */
        p->wm = ms;
    }
    return broadcast(p, R_ADVANCE, ms);
}

CEP_API int cep_pool_tick(cep_pool *p) {
    int rc = pool_ready(p);
    if (rc != CEP_OK) return rc;
    return p->processing ? broadcast(p, R_TICK, 0) : CEP_OK;
}

/* Wait until every worker has run everything sent so far; the engine
 * coming back, if any, is then the router's. */
static void sync_all(cep_pool *p) {
    /* Every engine's time to the pool's watermark first (an engine hears
     * of it only with its next event): then each engine holds back exactly
     * its events past the watermark, as one engine over the stream would,
     * and a snapshot taken now is the same whatever the engines. */
    if (!p->processing && !p->finished && p->wm > INT64_MIN) broadcast(p, R_ADVANCE, p->wm);
    uint64_t seq = ++p->sync_seq;
    for (unsigned i = 0; i < p->nworkers; i++) send_ctl(p, &p->workers[i], R_SYNC, (int64_t)seq);
    for (unsigned i = 0; i < p->nworkers; i++) {
        worker *w = &p->workers[i];
        pthread_mutex_lock(&w->mu);
        while (w->acked < seq) pthread_cond_wait(&w->done, &w->mu);
        pthread_mutex_unlock(&w->mu);
        w->tail_seen = atomic_load_explicit(&w->tail, memory_order_acquire);
    }
    finish_transit(p, 1);
    p->synced = 1;
}

CEP_API int cep_pool_sync(cep_pool *p) {
    if (!p) return CEP_EINVAL;
    /* After a shard's error too: the other engines' queued work and its
     * callbacks are done when this returns. */
    if (p->finished) return pool_check(p);
    sync_all(p);
    return pool_check(p);
}

CEP_API int cep_pool_finish(cep_pool *p) {
    int rc = pool_ready(p);
    if (rc != CEP_OK) {
        if (rc != CEP_EINVAL && rc != CEP_EFINISHED) sync_all(p); /* as cep_pool_sync */
        return rc;
    }
    rc = broadcast(p, R_FINISH, p->max_seen); /* the windows past it close at once */
    p->finished = 1; /* (before the sync: no time to settle after the end) */
    sync_all(p);
    p->fast = 0;
    if (!p->processing) p->wm = INT64_MAX;
    return rc != CEP_OK ? rc : pool_check(p);
}

CEP_API int cep_pool_stats_sized(cep_pool *p, cep_stats *user, size_t size) {
    if (!user) return CEP_EINVAL;
    cep_stats sum, *out = &sum;
    memset(out, 0, sizeof *out);
    /* Only what the caller's cep_stats holds (an older header's is shorter). */
    size_t n = size < sizeof sum ? size : sizeof sum;
    memcpy(user, out, n);
    if (!p) return CEP_EINVAL;
    /* After a sync every engine is at rest: read them all from here. */
    if (!p->finished) sync_all(p);
    out->watermark = p->processing ? INT64_MIN : p->wm;
    out->max_event_time = p->max_seen;
    for (unsigned k = 0; k < p->nengines; k++) {
        cep_stats st;
        cep_engine_stats(p->shards[k].e, &st);
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
        out->mem_released += st.mem_released;
        out->memory += st.memory;
        out->nodes += st.nodes;
        out->stored_events += st.stored_events;
        out->stored_bytes += st.stored_bytes;
        out->pool_idle += st.pool_idle;
        out->regex_errors += st.regex_errors;
        if (st.watermark > out->watermark) out->watermark = st.watermark;
    }
    out->events = out->events > p->dup_events ? out->events - p->dup_events : 0;
    out->stragglers = out->stragglers > p->dup_stragglers ? out->stragglers - p->dup_stragglers : 0;
    memcpy(user, out, n);
    return pool_check(p);
}

CEP_API const char *cep_pool_error(const cep_pool *p) { return p ? p->err : ""; }

void pool_get_info(const cep_pool *p, pool_info *out) {
    *out = p->info;
    out->engines = p->nengines;
    out->router_engines = p->router_engines;
    out->naps = 0;
    for (unsigned i = 0; i < p->nworkers; i++) out->naps += atomic_load(&p->workers[i].naps);
}

void pool_set_churn(cep_pool *p, unsigned every) {
    p->churn = every;
    p->cool = 0;
}

void pool_pin(cep_pool *p, unsigned router_engines) {
    cep_pool_sync(p);
    p->pinned = 1;
    for (unsigned k = 0; k < p->nengines && p->nworkers; k++) {
        unsigned owner = k < router_engines ? 0 : 1 + k % p->nworkers;
        if (p->routes[k].owner && !owner) {
            p->routes[k].owner = 0;
            p->router_engines++;
        } else if (!p->routes[k].owner && owner) {
            p->routes[k].owner = owner;
            p->routes[k].last = p->workers[owner - 1].head;
            p->router_engines--;
        }
    }
}

/* ---- snapshots and program changes (docs/state.md, "Rescaling") -------- */

CEP_API int cep_pool_snapshot(cep_pool *p, cep_write_fn fn, void *ud) {
    if (!p || !fn) return CEP_EINVAL;
    /* At rest and settled (sync_all). A forked child (cepheus run's
     * checkpoint writer) has no worker threads: its parent synced just
     * before the fork, and nothing was routed since. */
    if (!p->synced) sync_all(p);
    int rc = pool_check(p);
    if (rc != CEP_OK) return rc;
    const cep_engine **es = mem_alloc(p->nengines * sizeof *es);
    if (!es) return CEP_ENOMEM;
    snap_stream st = {.max_delay = p->max_delay, .watermark = p->wm, .max_seen = p->max_seen,
                      .arrivals = p->seq, .finished = p->finished, .engines = p->nengines};
    for (unsigned k = 0; k < p->nengines; k++) {
        const cep_engine *e = es[k] = p->shards[k].e;
        snap_stream one;
        snapshot_stream_of(e, &one);
        if (p->processing) { /* the router keeps no time of its own */
            if (one.watermark > st.watermark) st.watermark = one.watermark;
            if (one.max_seen > st.max_seen) st.max_seen = one.max_seen;
        }
        if (one.arrivals > st.arrivals) st.arrivals = one.arrivals;
        if (one.keys_created > st.keys_created) st.keys_created = one.keys_created;
        st.started |= one.started;
        for (int i = 0; i < SNAP_COUNTERS; i++) st.counters[i] += one.counters[i];
    }
    /* events and stragglers: each event once, as cep_pool_stats counts */
    st.counters[0] -= st.counters[0] > p->dup_events ? p->dup_events : st.counters[0];
    st.counters[3] -= st.counters[3] > p->dup_stragglers ? p->dup_stragglers : st.counters[3];
    /* Compact keys go flat first (snapshot_write), in their engine's heap. */
    for (unsigned k = 0; k < p->nengines && rc == CEP_OK; k++) {
        const mem_heap *own = mem_heap_use(&p->shards[k].heap);
        if (tecs_flatten_all(p->shards[k].e) < 0) rc = CEP_ENOMEM;
        mem_heap_use(own);
    }
    if (rc == CEP_OK) rc = snapshot_write(p->prog, es, p->nengines, &st, fn, ud);
    mem_free(es);
    if (rc != CEP_OK) set_err(p, "%s", cep_strerror(rc));
    return rc;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Copies of an event buffered by several engines beyond the first (the
 * pool counts them when it routes them), over es[0..n) (NULL: the pool's
 * engines); -1 when memory runs out. */
static int64_t count_dups(const cep_pool *p, cep_engine *const *es) {
    unsigned n = p->nengines;
#define ENG(i) (es ? es[i] : p->shards[i].e)
    size_t copies = 0, u = 0;
    for (unsigned i = 0; i < n; i++) copies += ENG(i)->time.reorder.n;
    if (copies < 2) return 0;
    uint64_t *seqs = mem_alloc(copies * sizeof *seqs);
    if (!seqs) return -1;
    size_t m = 0;
    for (unsigned i = 0; i < n; i++)
        for (size_t j = 0; j < ENG(i)->time.reorder.n; j++)
            seqs[m++] = ((const cep_event *)ENG(i)->time.reorder.v[j])->seq;
#undef ENG
    qsort(seqs, m, sizeof *seqs, cmp_u64);
    for (size_t i = 0; i < m; i++) u += !i || seqs[i] != seqs[i - 1];
    mem_free(seqs);
    return (int64_t)(copies - u);
}

CEP_API int cep_pool_restore(cep_pool *p, const void *buf, size_t len) {
    if (!p || (!buf && len)) return CEP_EINVAL;
    int rc = pool_ready(p);
    if (rc != CEP_OK) return rc;
    if (p->seq || p->max_seen != INT64_MIN) {
        set_err(p, "restore needs a new pool");
        return CEP_EINVAL;
    }
    snap_stream st;
    if ((rc = snapshot_open(p->prog, buf, len, &st)) != CEP_OK) {
        set_err(p, "%s", cep_strerror(rc));
        return rc;
    }
    /* Each engine takes the key groups it owns, engine 0 the counters.
     * The workers have had nothing yet: the engines are the router's to
     * fill; a worker sees them through its ring's first record. */
    unsigned k = 0;
    for (; k < p->nengines && rc == CEP_OK; k++) {
        shard *s = &p->shards[k];
        const mem_heap *own = mem_heap_use(&s->heap);
        rc = snapshot_restore_part(s->e, buf, len, k, p->nengines, k == 0);
        mem_heap_use(own);
        if (rc != CEP_OK) set_err(p, "%s", cep_engine_error(s->e));
    }
    /* An event buffered by several engines is counted by each when they
     * match it: count the copies beyond the first, as routing does. */
    int64_t dups = rc == CEP_OK ? count_dups(p, NULL) : 0;
    if (dups < 0) {
        rc = CEP_ENOMEM;
        set_err(p, "%s", cep_strerror(rc));
    }
    if (rc != CEP_OK) {
        /* All or nothing: the engines restored so far are emptied again. */
        while (k-- > 0) {
            shard *s = &p->shards[k];
            const mem_heap *own = mem_heap_use(&s->heap);
            snapshot_undo(s->e, p->max_delay);
            mem_heap_use(own);
        }
        return rc;
    }
    p->dup_events = (uint64_t)dups;
    p->max_delay = st.max_delay;
    p->seq = st.arrivals;
    if (!p->processing) {
        p->wm = st.watermark;
        p->max_seen = st.max_seen;
    }
    if (st.finished) {
        p->finished = 1;
        p->fast = 0;
    }
    p->synced = 1; /* settled: every engine is at the stream's time */
    return CEP_OK;
}

/* After a program change, each buffered event goes to the engines of its
 * keys under the new program (a new pattern may key it elsewhere): every
 * engine's buffer is emptied, and each event, once (by its sequence
 * number), is kept again by each engine that owns one of its keys. es are
 * the pool's next engines (replace_program), of program np. */
typedef struct held {
    cep_event *ev;
    unsigned k;
} held;

static int cmp_held(const void *a, const void *b) {
    const held *x = a, *y = b;
    return x->ev->seq < y->ev->seq ? -1 : x->ev->seq > y->ev->seq;
}

static int reroute_buffered(cep_pool *p, cep_engine **es, const cep_program *np) {
    size_t total = 0, n = 0;
    for (unsigned k = 0; k < p->nengines; k++) total += es[k]->time.reorder.n;
    if (!total || p->nengines == 1) return CEP_OK;
    held *v = mem_alloc(total * sizeof *v);
    if (!v) return CEP_ENOMEM;
    for (unsigned k = 0; k < p->nengines; k++) {
        cep_event *ev;
        while ((ev = heap_pop(&es[k]->time.reorder))) {
            es[k]->stats.buffered--;
            v[n++] = (held){ev, k};
        }
    }
    qsort(v, n, sizeof *v, cmp_held);
    int rc = CEP_OK;
    cep_value *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && v[i - 1].ev->seq == v[i].ev->seq) continue; /* another engine's copy */
        const cep_event *ev = v[i].ev;
        const cep_value *row = event_row(ev, &buf, &cap);
        if (!row) rc = CEP_ENOMEM;
        for (unsigned k = 0; k < p->nengines && rc == CEP_OK; k++) {
            int mine = !np->npatterns && k == 0;
            for (uint32_t pi = 0; pi < np->npatterns && !mine; pi++)
                mine = partition_of(np, pi, row, p->nengines) == k;
            if (!mine) continue;
            const mem_heap *own = mem_heap_use(&p->shards[k].heap);
            cep_event *f = engine_keep_event_text(es[k], ev);
            if (!f || heap_push(&es[k]->time.reorder, f) < 0) {
                if (f) engine_drop_event(es[k], f);
                rc = CEP_ENOMEM;
            } else {
                es[k]->stats.buffered++;
            }
            mem_heap_use(own);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const mem_heap *own = mem_heap_use(&p->shards[v[i].k].heap);
        engine_drop_event(es[v[i].k], v[i].ev);
        mem_heap_use(own);
    }
    mem_free(buf);
    mem_free(v);
    return rc;
}

/* The pool's layout for program np: the partition each engine es[k]
 * checks (none when every pattern has the same key) ... */
static void set_partitions(cep_pool *p, cep_engine *const *es, const cep_program *np) {
    int part = !one_layout(np) && p->nengines > 1;
    for (unsigned k = 0; k < p->nengines; k++) {
        es[k]->cfg.part_index = part ? k : 0;
        es[k]->cfg.part_count = part ? p->nengines : 0;
    }
}

/* ... and the router's shortcut. */
static void set_layout(cep_pool *p, const cep_program *np) {
    p->prog = np;
    p->one_layout = one_layout(np);
    p->fast = 0;
    if (p->one_layout && np->npatterns && np->patterns[0].nkeys == 1 && !p->processing && !p->finished) {
        p->fast = 1;
        p->key_slot = np->patterns[0].key_slots[0];
    }
}

/* A new engine with e's options and callbacks, of e's program, empty. */
static int engine_like(const cep_engine *e, cep_engine **out) {
    int rc = cep_engine_new(e->prog, out);
    if (rc != CEP_OK) return rc;
    cep_engine *n = *out;
    char *tf = e->cfg.time_field;
    n->cfg = e->cfg;
    n->cfg.time_field = NULL;
    n->cfg.tslot_prog = NULL; /* the time field's slot is found again */
    if (n->cfg.state_ttl > 0) n->timers.front = INT64_MAX; /* (as cep_engine_set_state_ttl: timers_per_key) */
    n->hooks = e->hooks;
    n->time.last_clock = e->time.last_clock;
    if (tf && !(n->cfg.time_field = mem_strdup(tf))) {
        cep_engine_free(n);
        *out = NULL;
        return CEP_ENOMEM;
    }
    return CEP_OK;
}

/* The pool's next engines, es[k] for shard k: each a copy of the current
 * one (its options, callbacks and, from the pool's snapshot in snap, its
 * state) switched to np, the buffered events then sent to the engines of
 * their keys under np. The current engines are not touched; on failure
 * the ones made are freed. */
static int next_engines(cep_pool *p, const cep_program *np, const mem_out *snap, cep_engine **es) {
    int rc = CEP_OK;
    unsigned k = 0;
    for (; k < p->nengines && rc == CEP_OK; k++) {
        shard *s = &p->shards[k];
        const mem_heap *own = mem_heap_use(&s->heap);
        rc = engine_like(s->e, &es[k]);
        if (rc == CEP_OK) rc = snapshot_restore_part(es[k], snap->p, snap->n, k, p->nengines, k == 0);
        if (rc == CEP_OK) rc = cep_engine_replace_program(es[k], np);
        if (rc != CEP_OK && es[k]) set_err(p, "shard %u: %s", k, cep_engine_error(es[k]));
        mem_heap_use(own);
    }
    if (rc == CEP_OK) {
        set_partitions(p, es, np);
        rc = reroute_buffered(p, es, np);
    }
    if (rc == CEP_OK) return CEP_OK;
    for (unsigned i = 0; i < k; i++) {
        const mem_heap *own = mem_heap_use(&p->shards[i].heap);
        cep_engine_free(es[i]);
        mem_heap_use(own);
        es[i] = NULL;
    }
    return rc;
}

/* All or nothing: the next engines are made aside from a snapshot of the
 * current ones (reload.c switches a copy), and put in place only when all
 * of them and the rows of the new layout exist. On failure every engine
 * runs the old program with its state as it was, and the pool goes on.
 * The price: a snapshot and a restore of the state in memory. */
CEP_API int cep_pool_replace_program(cep_pool *p, const cep_program *np) {
    if (!p || !np) return CEP_EINVAL;
    int rc = pool_ready(p);
    if (rc != CEP_OK) return rc;
    sync_all(p);
    if ((rc = pool_check(p)) != CEP_OK) return rc;
    cep_event *builder = NULL, *hold_row = NULL;
    cep_event **rows = mem_calloc(p->nworkers ? p->nworkers : 1, sizeof *rows);
    cep_engine **es = mem_calloc(p->nengines, sizeof *es);
    mem_out snap = {0};
    int64_t dups = 0;
    rc = rows && es ? cep_event_new(np, &builder) : CEP_ENOMEM;
    if (rc == CEP_OK && p->nworkers) rc = cep_event_new(np, &hold_row);
    for (unsigned i = 0; i < p->nworkers && rc == CEP_OK; i++) rc = cep_event_new(np, &rows[i]);
    if (rc == CEP_OK) rc = cep_pool_snapshot(p, snapshot_to_mem, &snap);
    if (rc == CEP_ECALLBACK) rc = CEP_ENOMEM; /* (snapshot_to_mem fails only so) */
    if (rc == CEP_OK) rc = next_engines(p, np, &snap, es);
    mem_free(snap.p);
    if (rc == CEP_OK && (dups = count_dups(p, es)) < 0) {
        for (unsigned k = 0; k < p->nengines; k++) {
            const mem_heap *own = mem_heap_use(&p->shards[k].heap);
            cep_engine_free(es[k]);
            mem_heap_use(own);
        }
        rc = CEP_ENOMEM;
    }
    if (rc != CEP_OK) {
        for (unsigned i = 0; rows && i < p->nworkers; i++) cep_event_free(rows[i]);
        mem_free(rows);
        mem_free(es);
        cep_event_free(builder);
        cep_event_free(hold_row);
        if (rc == CEP_ENOMEM) set_err(p, "out of memory while changing the program; the old one goes on");
        return rc;
    }
    /* Nothing can fail from here. The workers are idle (synced): engines
     * and rows change under no one. */
    for (unsigned k = 0; k < p->nengines; k++) {
        shard *s = &p->shards[k];
        const mem_heap *own = mem_heap_use(&s->heap);
        cep_engine_free(s->e);
        mem_heap_use(own);
        s->e = es[k];
    }
    mem_free(es);
    set_layout(p, np);
    p->dup_events = (uint64_t)dups;
    p->dup_stragglers = 0; /* (the snapshot counted each straggler once) */
    cep_event_free(p->builder);
    p->builder = builder;
    cep_event_free(p->hold_row);
    p->hold_row = hold_row;
    for (unsigned i = 0; i < p->nworkers; i++) {
        cep_event_free(p->workers[i].row);
        p->workers[i].row = rows[i];
    }
    mem_free(rows);
    return CEP_OK;
}
