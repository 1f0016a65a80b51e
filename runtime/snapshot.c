/* snapshot.c — writing the state of an engine, or of a pool's engines, as
 * bytes and reading it back into a new engine of the same program, or
 * into each engine of a pool: watermark and counters, buffered events,
 * and per key group every key's partial matches and held matches, with
 * their shared nodes and events stored once per group. A shard reads only
 * the groups it owns (runtime/partition.h), so N engines' snapshot
 * restores into M. Format in docs/snapshot.md. */
#include "config.h"
#include "crc32c.h"
#include "engine.h"
#include "hash.h"
#include "mem.h"
#include "partition.h"
#include "ptrmap.h"
#include "snapshot.h"
#include "tecs.h"

#include <stdlib.h>
#include <string.h>

#define MAGIC "CEPSNAP\0"
#define END_MAGIC "CEP."
#define SNAP_VERSION 2 /* 1: one engine, no key groups (still read) */
#define HEADER_LEN 24  /* magic 8, version 4, key groups 4 (v1: 0), fingerprint 8 */
#define TRAILER_LEN 16 /* payload length 8, crc 4, end magic 4 */
#define NONE32 0xFFFFFFFFu

/* ---- writing ------------------------------------------------------------------------- */

typedef struct writer {
    cep_write_fn fn;
    void *ud;
    unsigned char buf[1 << 16];
    size_t len;
    uint64_t total;   /* bytes written so far */
    uint32_t crc;
    int failed;
    int nocrc;        /* a section being collected: the snapshot's writer sums it */
} writer;

/* Hand n bytes at p to the callback (after what is buffered). */
static void w_out(writer *w, const void *p, size_t n) {
    if (w->failed || !n) return;
    if (!w->nocrc) w->crc = util_crc32c(w->crc, p, n);
    if (w->fn(w->ud, p, n) != 0) w->failed = 1;
}

static void w_flush(writer *w) {
    w_out(w, w->buf, w->len);
    w->len = 0;
}

static void w_bytes(writer *w, const void *p, size_t n) {
    const unsigned char *b = p;
    w->total += n;
    if (n >= sizeof w->buf) { /* a whole section: not copied once more */
        w_flush(w);
        w_out(w, b, n);
        return;
    }
    while (n && !w->failed) {
        size_t room = sizeof w->buf - w->len;
        size_t k = n < room ? n : room;
        memcpy(w->buf + w->len, b, k);
        w->len += k;
        b += k;
        n -= k;
        if (w->len == sizeof w->buf) w_flush(w);
    }
}

/* The format's integers are written little-endian whatever the host. Keys
 * are the engine's own bytes (step.c's step_encode_key: pattern number and key
 * values in host byte order), so a snapshot moves between little-endian
 * machines only (docs/snapshot.md). */
static void w_u64(writer *w, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    w_bytes(w, b, 8);
}
static void w_u32(writer *w, uint32_t v) {
    unsigned char b[4];
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
    w_bytes(w, b, 4);
}
static void w_u8(writer *w, unsigned v) {
    unsigned char b = (unsigned char)v;
    w_bytes(w, &b, 1);
}
static void w_i64(writer *w, int64_t v) { w_u64(w, (uint64_t)v); }
static void w_f64(writer *w, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    w_u64(w, v);
}

static void w_event(writer *w, const cep_event *ev) {
    w_i64(w, ev->time);
    w_u64(w, ev->seq);
    w_u32(w, ev->nslots);
    event_reader it = event_reader_of(ev);
    for (uint32_t i = 0; i < ev->nslots; i++) {
        cep_value v = event_next(&it);
        w_u8(w, (unsigned)v.type);
        switch (v.type) {
        case CEP_NULL: break;
        case CEP_BOOL: w_u8(w, (unsigned)v.u.b); break;
        case CEP_INT: w_i64(w, v.u.i); break;
        case CEP_DOUBLE: w_f64(w, v.u.d); break;
        case CEP_STRING:
            w_u32(w, (uint32_t)v.u.s.len);
            w_bytes(w, v.u.s.ptr, v.u.s.len);
            break;
        }
    }
    size_t rl;
    const char *raw = event_raw(ev, &rl);
    if (raw) {
        w_u32(w, (uint32_t)rl);
        w_bytes(w, raw, rl);
    } else {
        w_u32(w, NONE32);
    }
}

/* A key group's section is made in one walk over its keys, each key,
 * node and event read once while at hand (the writer's time is cache
 * misses): an event or node is written when it is numbered, into its own
 * buffer, a key's record right after its chains; the section is then
 * the three buffers in the format's order. The buffers are kept from
 * group to group. */
typedef struct snap {
    ptrmap events, nodes;
    uint32_t nev, nnd;
    writer *ew, *nw, *kw;   /* events, nodes, keys, each into its own: */
    mem_out eb, nb, kb;
    const pm_node **stk;    /* scratch for add_chain */
    size_t nstk, capstk;
    pm_list order;          /* one key's partial matches in the engine's order */
    int oom;
} snap;

static uint32_t add_event(snap *s, const cep_event *ev) {
    uint32_t id = ptr_get(&s->events, ev);
    if (id != NONE32) return id;
    id = s->nev;
    if (ptr_put(&s->events, ev, id) < 0) {
        s->oom = 1;
        return NONE32;
    }
    s->nev++;
    w_event(s->ew, ev);
    return id;
}

/* Number a chain's nodes, root first, so a parent always precedes its child. */
static void add_chain(snap *s, const pm_node *n) {
    s->nstk = 0;
    uint32_t up = NONE32; /* the number of the first node above the new ones */
    for (const pm_node *x = n; x && (up = ptr_get(&s->nodes, x)) == NONE32; x = x->parent) {
        if (mem_grow((void **)&s->stk, &s->capstk, s->nstk + 1, sizeof *s->stk) < 0) {
            s->oom = 1;
            return;
        }
        s->stk[s->nstk++] = x;
    }
    while (s->nstk && !s->oom) {
        const pm_node *y = s->stk[--s->nstk];
        uint32_t ev = add_event(s, node_ev(y));
        uint32_t id = s->nnd;
        if (ptr_put(&s->nodes, y, id) < 0) {
            s->oom = 1;
            return;
        }
        s->nnd++;
        w_u32(s->nw, ev);
        w_u32(s->nw, y->step);
        w_u32(s->nw, up);
        up = id; /* the parent of the next one down */
    }
}

static void w_pm(writer *w, const snap *s, const pm *p) {
    w_u32(w, ptr_get(&s->nodes, p->node));
    w_i64(w, p->start);
    w_u64(w, p->start_seq);
    w_i64(w, node_ev(p->node)->time); /* the time of its last event (gap windows) */
    w_u32(w, p->state);
}

/* A writer's callback that collects into memory (a group's section, whose
 * length comes before it). */
int snapshot_to_mem(void *ud, const void *buf, size_t len) {
    mem_out *m = ud;
    if (mem_grow((void **)&m->p, &m->cap, m->n + len, 1) < 0) return -1;
    memcpy(m->p + m->n, buf, len);
    m->n += len;
    return 0;
}

/* A group's keys lie far apart in memory (a key's group is a hash of it):
 * what the walk reads next is fetched ahead, in stages, each from what the
 * stage before brought in: the key state, its first bucket's partial
 * matches, the first one's node, that node's event. */
#define SNAP_STEP 4 /* keys between two stages (6: no better, measured) */
static inline const bucket *first_bucket(const key_state *ks) {
    const bucket *b = key_buckets(ks);
    return ks->nb && b->hi > b->lo ? b : NULL;
}

static inline void fetch_key(const key_state *const *keys, size_t k, size_t nk) {
    if (k + 3 * SNAP_STEP < nk) {
        const char *x = (const char *)keys[k + 3 * SNAP_STEP];
        __builtin_prefetch(x);
        __builtin_prefetch(x + 64);
        __builtin_prefetch(x + 128);
    }
    const bucket *b;
    if (k + 2 * SNAP_STEP < nk && (b = first_bucket(keys[k + 2 * SNAP_STEP]))) __builtin_prefetch(&b->v[b->lo]);
    if (k + SNAP_STEP < nk && (b = first_bucket(keys[k + SNAP_STEP]))) __builtin_prefetch(b->v[b->lo].node);
    if (k + SNAP_STEP / 2 < nk && (b = first_bucket(keys[k + SNAP_STEP / 2]))) {
        const char *x = (const char *)node_ev(b->v[b->lo].node);
        __builtin_prefetch(x);
        __builtin_prefetch(x + 64);
    }
}

/* A key's record: its identity, its partial matches in the engine's
 * order, its held matches (the nodes they name are numbered). */
static int w_key(writer *w, snap *s, const key_state *ks) {
    w_u32(w, key_pattern(ks));
    w_u64(w, ks->created);
    w_i64(w, ks->last_event);
    w_u32(w, ks->key_len);
    w_bytes(w, ks->key, ks->key_len);
    s->order.n = 0;
    if (key_collect(ks, &s->order) < 0) return CEP_ENOMEM;
    w_u32(w, s->order.n);
    for (uint32_t i = 0; i < s->order.n; i++) w_pm(w, s, &s->order.v[i]);
    w_u32(w, key_nheld(ks));
    for (uint32_t i = 0; i < key_nheld(ks); i++) w_pm(w, s, &ks->held->v[i]);
    return CEP_OK;
}

/* Key group g's section into w: its number and length, its events, its
 * shared nodes, its keys in creation order. */
static int write_group(writer *w, snap *s, unsigned g, const key_state *const *keys, size_t nk) {
    s->nev = s->nnd = 0;
    s->eb.n = s->nb.n = s->kb.n = 0;
    *s->ew = (writer){.fn = snapshot_to_mem, .ud = &s->eb, .nocrc = 1};
    *s->nw = (writer){.fn = snapshot_to_mem, .ud = &s->nb, .nocrc = 1};
    *s->kw = (writer){.fn = snapshot_to_mem, .ud = &s->kb, .nocrc = 1};
    int rc = CEP_OK;
    for (size_t k = 0; k < nk && rc == CEP_OK; k++) {
        fetch_key(keys, k, nk);
        const key_state *ks = keys[k];
        const bucket *bv = key_buckets(ks);
        for (uint32_t i = 0; i < ks->nb; i++)
            for (uint32_t j = bv[i].lo; j < bv[i].hi; j++) add_chain(s, bv[i].v[j].node);
        for (uint32_t i = 0; i < key_nheld(ks); i++) add_chain(s, ks->held->v[i].node);
        rc = s->oom ? CEP_ENOMEM : w_key(s->kw, s, ks);
    }
    w_flush(s->ew);
    w_flush(s->nw);
    w_flush(s->kw);
    if (rc == CEP_OK && (s->ew->failed || s->nw->failed || s->kw->failed)) rc = CEP_ENOMEM;
    if (rc == CEP_OK) {
        w_u32(w, g);
        w_u64(w, 4 + s->eb.n + 4 + s->nb.n + 4 + s->kb.n);
        w_u32(w, s->nev);
        w_bytes(w, s->eb.p, s->eb.n);
        w_u32(w, s->nnd);
        w_bytes(w, s->nb.p, s->nb.n);
        w_u32(w, (uint32_t)nk);
        w_bytes(w, s->kb.p, s->kb.n);
    }
    /* The numbering starts again in the next group; the tables keep their room. */
    ptr_clear(&s->events);
    ptr_clear(&s->nodes);
    return rc;
}

static int snap_init(snap *s) {
    *s = (snap){0};
    s->ew = mem_alloc(sizeof *s->ew);
    s->nw = mem_alloc(sizeof *s->nw);
    s->kw = mem_alloc(sizeof *s->kw);
    return s->ew && s->nw && s->kw ? CEP_OK : CEP_ENOMEM;
}

static void snap_free(snap *s) {
    ptr_free(&s->events);
    ptr_free(&s->nodes);
    mem_free(s->ew);
    mem_free(s->nw);
    mem_free(s->kw);
    mem_free(s->eb.p);
    mem_free(s->nb.p);
    mem_free(s->kb.p);
    mem_free(s->stk);
    mem_free(s->order.v);
}

static int cmp_seq(const void *a, const void *b) {
    const cep_event *x = *(const cep_event *const *)a, *y = *(const cep_event *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The buffered events of all engines, each once: the engines of a pool
 * that an event went to each buffer a copy under one sequence number. */
static int gather_buffered(const cep_engine *const *es, unsigned n, const cep_event ***out, size_t *nu,
                           size_t *copies) {
    size_t total = 0, m = 0;
    for (unsigned k = 0; k < n; k++) total += es[k]->time.reorder.n;
    const cep_event **v = mem_alloc((total ? total : 1) * sizeof *v);
    if (!v) return CEP_ENOMEM;
    for (unsigned k = 0; k < n; k++)
        for (size_t i = 0; i < es[k]->time.reorder.n; i++) v[m++] = es[k]->time.reorder.v[i];
    qsort(v, m, sizeof *v, cmp_seq);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (!u || v[u - 1]->seq != v[i]->seq) v[u++] = v[i];
    *out = v;
    *nu = u;
    *copies = m;
    return CEP_OK;
}

/* Every key of every engine, filed by key group (a counting sort; within a
 * group, by engine, each engine's keys in creation order). *byg: the keys,
 * start[g] .. start[g + 1] those of group g. The lists are walked once
 * (each key a cache miss), their keys and groups noted for the sort. */
_Static_assert(KEY_GROUPS <= 256, "a key group is noted in a byte");
static int sort_keys(const cep_program *prog, const cep_engine *const *es, unsigned n, const key_state ***byg,
                     size_t start[KEY_GROUPS + 1]) {
    size_t total = 0, cap = 0, gcap = 0;
    const key_state **all = NULL, **v = NULL;
    uint8_t *grp = NULL;
    size_t *fill = NULL;
    int rc = CEP_ENOMEM;
    memset(start, 0, (KEY_GROUPS + 1) * sizeof *start);
    for (unsigned k = 0; k < n; k++)
        for (const key_state *ks = es[k]->keyset.first; ks; ks = ks->next, total++) {
            if (mem_grow((void **)&all, &cap, total + 1, sizeof *all) < 0 ||
                mem_grow((void **)&grp, &gcap, total + 1, sizeof *grp) < 0)
                goto out;
            int g = key_group_of_encoded(prog, ks->key, ks->key_len);
            g = g < 0 ? 0 : g; /* (an engine's own keys are well formed) */
            all[total] = ks;
            grp[total] = (uint8_t)g;
            start[g + 1]++;
        }
    for (unsigned g = 0; g < KEY_GROUPS; g++) start[g + 1] += start[g];
    v = mem_alloc((total ? total : 1) * sizeof *v);
    fill = mem_alloc(KEY_GROUPS * sizeof *fill);
    if (!v || !fill) goto out;
    memcpy(fill, start, KEY_GROUPS * sizeof *fill);
    for (size_t i = 0; i < total; i++) v[fill[grp[i]]++] = all[i];
    *byg = v;
    v = NULL;
    rc = CEP_OK;
out:
    mem_free(all);
    mem_free(grp);
    mem_free(fill);
    mem_free(v);
    return rc;
}

void snapshot_stream_of(const cep_engine *e, snap_stream *st) {
    const cep_stats *s = &e->stats;
    *st = (snap_stream){.max_delay = e->cfg.max_delay, .watermark = e->time.watermark, .max_seen = e->time.max_seen,
                        .arrivals = e->time.arrivals, .keys_created = e->keyset.keys_created, .started = e->started,
                        .finished = e->finished, .engines = 1,
                        .counters = {s->events, s->matches, s->late, s->stragglers, s->timeouts, s->dropped,
                                     s->ttl_dropped, s->mem_dropped, s->peak_partial_matches, s->mem_released,
                                     e->ctx.regex_errors}};
}

static int write_all(writer *w, const cep_program *prog, const cep_engine *const *es, unsigned n,
                     const snap_stream *st) {
    const cep_event **buffered;
    size_t nbuf, copies;
    if (gather_buffered(es, n, &buffered, &nbuf, &copies) != CEP_OK) return CEP_ENOMEM;
    /* A pool counts an event's copies beyond the first as it routes them
     * (cep_pool_stats subtracts them), an engine counts an event when it
     * matches it: the copies still buffered are subtracted and not yet
     * counted. In the snapshot every event counts once. */
    uint64_t counters[SNAP_COUNTERS];
    memcpy(counters, st->counters, sizeof counters);
    counters[0] += copies - nbuf;
    w_bytes(w, MAGIC, 8);
    w_u32(w, SNAP_VERSION);
    w_u32(w, KEY_GROUPS);
    w_u64(w, prog->fingerprint);
    w_i64(w, st->max_delay);
    w_i64(w, st->watermark);
    w_i64(w, st->max_seen);
    w_u64(w, st->arrivals);
    w_u64(w, st->keys_created);
    w_u8(w, (unsigned)st->started);
    w_u8(w, (unsigned)st->finished);
    w_u32(w, st->engines);
    for (size_t i = 0; i < SNAP_COUNTERS; i++) w_u64(w, counters[i]);
    w_u32(w, (uint32_t)nbuf);
    for (size_t i = 0; i < nbuf; i++) w_event(w, buffered[i]);
    mem_free(buffered);
    int rc = CEP_OK;
    const key_state **byg = NULL;
    size_t start[KEY_GROUPS + 1];
    if (rc == CEP_OK) rc = sort_keys(prog, es, n, &byg, start);
    if (rc != CEP_OK) return rc;
    uint32_t ngroups = 0;
    for (unsigned g = 0; g < KEY_GROUPS; g++) ngroups += start[g + 1] > start[g];
    w_u32(w, ngroups);
    snap sn;
    if (snap_init(&sn) != CEP_OK) rc = CEP_ENOMEM;
    for (unsigned g = 0; g < KEY_GROUPS && rc == CEP_OK && !w->failed; g++)
        if (start[g + 1] > start[g]) rc = write_group(w, &sn, g, byg + start[g], start[g + 1] - start[g]);
    snap_free(&sn);
    mem_free(byg);
    return rc;
}

int snapshot_write(const cep_program *prog, const cep_engine *const *es, unsigned n, const snap_stream *st,
                   cep_write_fn fn, void *ud) {
    /* Snapshots hold partial matches one by one: compact keys go flat
     * (exactly what they stand for), and stay so. */
    for (unsigned i = 0; i < n; i++)
        if (tecs_flatten_all((cep_engine *)es[i]) < 0) return CEP_ENOMEM;
    writer *w = mem_calloc(1, sizeof *w);
    if (!w) return CEP_ENOMEM;
    w->fn = fn;
    w->ud = ud;
    int rc = write_all(w, prog, es, n, st);
    if (rc == CEP_OK) {
        /* trailer: length of everything before it, then the CRC of all that */
        uint64_t body = w->total;
        w_u64(w, body);
        w_flush(w);
        uint32_t crc = w->crc;
        unsigned char tail[8];
        for (int i = 0; i < 4; i++) tail[i] = (unsigned char)(crc >> (8 * i));
        memcpy(tail + 4, END_MAGIC, 4);
        if (!w->failed && fn(ud, tail, 8) != 0) w->failed = 1;
        if (w->failed) rc = CEP_ECALLBACK;
    }
    mem_free(w);
    return rc;
}

CEP_API int cep_engine_snapshot(const cep_engine *e, cep_write_fn fn, void *ud) {
    if (!e || !fn) return CEP_EINVAL;
    snap_stream st;
    snapshot_stream_of(e, &st);
    return snapshot_write(e->prog, &e, 1, &st, fn, ud);
}

/* ---- reading ------------------------------------------------------------------------- */

typedef struct reader {
    const unsigned char *p, *end;
    int bad;
} reader;

static int r_need(reader *r, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}
static uint64_t r_u64(reader *r) {
    if (!r_need(r, 8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    return v;
}
static uint32_t r_u32(reader *r) {
    if (!r_need(r, 4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)r->p[i] << (8 * i);
    r->p += 4;
    return v;
}
static unsigned r_u8(reader *r) {
    if (!r_need(r, 1)) return 0;
    return *r->p++;
}
static int64_t r_i64(reader *r) { return (int64_t)r_u64(r); }
static const char *r_bytes(reader *r, size_t n) {
    if (!r_need(r, n)) return NULL;
    const char *s = (const char *)r->p;
    r->p += n;
    return s;
}

/* The smallest each record can be: a count larger than the bytes left
 * could hold is a lie, refused before anything is allocated for it. */
enum {
    SNAP_MIN_EVENT = 24, /* time 8, seq 8, slot count 4, raw length 4 */
    SNAP_NODE = 12,      /* event 4, step 4, parent 4 */
    SNAP_MIN_KEY = 28,   /* pattern 4, created 8, last event 8, key length 4, key >= 4 */
    SNAP_PM = 32         /* node 4, start 8, start seq 8, last event's time 8, state 4 */
};

static int r_fits(const reader *r, uint32_t n, size_t size) {
    return !r->bad && n <= (size_t)(r->end - r->p) / size;
}

/* Read one event into the builder b and keep a frozen copy, with the
 * text the snapshot holds (under drop_raw the events that waited in the
 * reorder buffer keep theirs: engine_keep_event_text; restored as
 * written, a run goes on as it would have without the restore). */
static cep_event *r_event(reader *r, cep_engine *e, cep_event *b) {
    cep_event_clear(b);
    cep_event_set_time(b, r_i64(r));
    uint64_t seq = r_u64(r);
    uint32_t nslots = r_u32(r);
    if (r->bad || nslots != b->nslots) {
        r->bad = 1;
        return NULL;
    }
    for (uint32_t i = 0; i < nslots && !r->bad; i++) {
        switch (r_u8(r)) {
        case CEP_NULL: break;
        case CEP_BOOL: cep_event_set_bool(b, (int)i, (int)r_u8(r)); break;
        case CEP_INT: cep_event_set_int(b, (int)i, r_i64(r)); break;
        case CEP_DOUBLE: {
            uint64_t v = r_u64(r);
            double d;
            memcpy(&d, &v, 8);
            cep_event_set_double(b, (int)i, d);
            break;
        }
        case CEP_STRING: {
            uint32_t n = r_u32(r);
            const char *s = r_bytes(r, n);
            if (s && cep_event_set_string(b, (int)i, s, n) != CEP_OK) return NULL;
            break;
        }
        default: r->bad = 1;
        }
    }
    uint32_t rawlen = r_u32(r);
    if (rawlen != NONE32) {
        const char *raw = r_bytes(r, rawlen);
        if (raw && cep_event_set_raw(b, raw, rawlen) != CEP_OK) return NULL;
    }
    if (r->bad) return NULL;
    b->seq = seq;
    return engine_keep_event_text(e, b);
}

/* The state of one restore: the engine, the part of the snapshot it
 * takes, and the numbered events and nodes of the section being read. */
typedef struct rd {
    reader r;
    cep_engine *e;
    cep_event *builder;
    cep_value *row;         /* a stored event's values, decoded (buffered_here) */
    size_t row_cap;
    unsigned index, count;  /* the shard restored, of count */
    cep_event **events;
    pm_node **nodes;
    uint32_t nev, nnd;
} rd;

#define R_CORRUPT (-1)
#define R_OOM (-2)

static int r_pm(rd *d, const nfa_pattern *pat, pm *p) {
    reader *r = &d->r;
    memset(p, 0, sizeof *p);
    uint32_t node = r_u32(r);
    p->start = r_i64(r);
    p->start_seq = r_u64(r);
    int64_t prev_time = r_i64(r);
    uint32_t state = r_u32(r);
    if (r->bad || node >= d->nnd || state >= pat->nstates) return -1;
    p->state = (uint16_t)state;
    /* Written as the time of the partial match's last event, which is
     * where the engine reads it from. */
    if (prev_time != node_ev(d->nodes[node])->time) return -1;
    p->node = d->nodes[node];
    p->node->refs++;
    return 0;
}

/* Read the partial matches of ks (in the engine's order, as written) into
 * its buckets. R_CORRUPT or R_OOM, else 0. */
static int r_key_pms(rd *d, const nfa_pattern *pat, key_state *ks) {
    cep_engine *e = d->e;
    pm_list *l = &e->scratch.kids;
    l->n = 0;
    uint32_t n = r_u32(&d->r);
    int rc = 0;
    if (!r_fits(&d->r, n, SNAP_PM)) return R_CORRUPT;
    for (uint32_t i = 0; i < n && !rc; i++) {
        pm p;
        if (r_pm(d, pat, &p) < 0) {
            rc = R_CORRUPT;
        } else if (engine_list_push(l, p) < 0) {
            engine_node_release(e, p.node);
            rc = R_OOM;
        } else if (i && pm_cmp_start(&l->v[i - 1], &l->v[i]) > 0) {
            rc = R_CORRUPT; /* not in start order: not written by an engine */
        } else {
            for (pm_node *x = p.node; x; x = x->parent)
                if (x->step >= pat->nsteps) rc = R_CORRUPT;
        }
    }
    if (rc) {
        for (uint32_t i = 0; i < l->n; i++) engine_node_release(e, l->v[i].node);
        l->n = 0;
        return rc;
    }
    /* Order within a start is the order written: labels from it. */
    for (uint32_t i = 0; i < l->n;) {
        uint32_t j = i + 1;
        while (j < l->n && pm_cmp_start(&l->v[i], &l->v[j]) == 0) j++;
        key_label_family(l->v + i, j - i);
        i = j;
    }
    /* Bucket by state, stably. */
    for (uint32_t i = 1; i < l->n; i++) {
        pm x = l->v[i];
        uint32_t j = i;
        for (; j > 0 && l->v[j - 1].state > x.state; j--) l->v[j] = l->v[j - 1];
        l->v[j] = x;
    }
    return key_insert_sorted(e, ks, l) < 0 ? R_OOM : 0;
}

static int r_key_held(rd *d, const nfa_pattern *pat, key_state *ks) {
    uint32_t n = r_u32(&d->r);
    if (!r_fits(&d->r, n, SNAP_PM)) return R_CORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        pm p;
        if (r_pm(d, pat, &p) < 0) return R_CORRUPT;
        if (key_hold_push(d->e, ks, p) < 0) {
            engine_node_release(d->e, p.node);
            return R_OOM;
        }
    }
    for (uint32_t i = 0; i < key_nheld(ks); i++)
        for (pm_node *x = ks->held->v[i].node; x; x = x->parent)
            if (x->step >= pat->nsteps) return R_CORRUPT;
    return 0;
}

/* Pass over a key another shard owns: its partial and held matches. */
static int skip_pms(rd *d) {
    for (int k = 0; k < 2; k++) {
        uint32_t n = r_u32(&d->r);
        if (!r_fits(&d->r, n, SNAP_PM)) return R_CORRUPT;
        d->r.p += (size_t)n * SNAP_PM;
    }
    return 0;
}

/* The keys of a section: all of group (-1: of any group; those the shard
 * does not own are passed over). */
static int r_keys(rd *d, int group) {
    cep_engine *e = d->e;
    reader *r = &d->r;
    uint32_t nkeys = r_u32(r);
    if (!r_fits(r, nkeys, SNAP_MIN_KEY)) return R_CORRUPT;
    for (uint32_t k = 0; k < nkeys; k++) {
        uint32_t pi = r_u32(r);
        uint64_t created = r_u64(r);
        int64_t last_event = r_i64(r);
        uint32_t klen = r_u32(r);
        const char *key = r_bytes(r, klen);
        /* The encoded key starts with its pattern's number (step.c's
         * step_encode_key), and lookups go by the key alone: a key naming
         * another pattern ran that pattern on this one's states, out of
         * bounds (found by fuzz_snapshot); a key given twice is not one. */
        if (r->bad || pi >= e->prog->npatterns || klen < 4 || memcmp(key, &pi, 4) != 0) return R_CORRUPT;
        int g = key_group_of_encoded(e->prog, key, klen);
        if (g < 0 || (group >= 0 && g != group)) return R_CORRUPT;
        if (group_owner((uint32_t)g, d->count) != d->index) {
            if (skip_pms(d) < 0) return R_CORRUPT;
            continue;
        }
        uint64_t kh = hash_bytes(key, klen, e->keyset.keys.seed);
        if (engine_key_find(e, pi, key, klen)) return R_CORRUPT;
        const nfa_pattern *pat = &e->prog->patterns[pi];
        key_state *ks = engine_key_new(e, pi, kh, key, klen, NULL);
        if (!ks) return R_OOM;
        engine_key_activate(e, ks);
        ks->created = created;
        ks->last_event = last_event;
        int rc = r_key_pms(d, pat, ks);
        if (rc == 0) rc = r_key_held(d, pat, ks);
        if (rc) return rc;
        engine_key_settle(e, ks);
    }
    return 0;
}

static int r_events(rd *d) {
    reader *r = &d->r;
    uint32_t want = r_u32(r);
    if (!r_fits(r, want, SNAP_MIN_EVENT)) return R_CORRUPT;
    if (!(d->events = mem_calloc(want ? want : 1, sizeof *d->events))) return R_OOM;
    for (; d->nev < want; d->nev++)
        if (!(d->events[d->nev] = r_event(r, d->e, d->builder))) return r->bad ? R_CORRUPT : R_OOM;
    return 0;
}

static int r_nodes(rd *d) {
    reader *r = &d->r;
    uint32_t want = r_u32(r);
    if (!r_fits(r, want, SNAP_NODE)) return R_CORRUPT;
    if (!(d->nodes = mem_calloc(want ? want : 1, sizeof *d->nodes))) return R_OOM;
    for (; d->nnd < want; d->nnd++) {
        uint32_t ev = r_u32(r), step = r_u32(r), parent = r_u32(r);
        /* Parents come first, so a node can only point back. */
        if (r->bad || ev >= d->nev || (parent != NONE32 && parent >= d->nnd)) return R_CORRUPT;
        pm_node *pn = parent == NONE32 ? NULL : d->nodes[parent];
        if (!(d->nodes[d->nnd] = engine_node_new(d->e, d->events[ev], step, pn))) return R_OOM;
    }
    return 0;
}

/* Drop the section's own references to its events and nodes: what its
 * keys hold stays. */
static void section_end(rd *d) {
    for (uint32_t i = 0; i < d->nnd; i++) engine_node_release(d->e, d->nodes[i]);
    for (uint32_t i = 0; i < d->nev; i++) engine_drop_event(d->e, d->events[i]);
    mem_free(d->nodes);
    mem_free(d->events);
    d->nodes = NULL;
    d->events = NULL;
    d->nev = d->nnd = 0;
}

/* Is a buffered event one of this shard's: does a pattern's key of it
 * belong to the shard (a pool's router sends it there)? 1, 0, or R_OOM. */
static int buffered_here(rd *d, const cep_event *ev) {
    const cep_program *p = d->e->prog;
    if (d->count <= 1 || !p->npatterns) return d->index == 0;
    const cep_value *row = event_row(ev, &d->row, &d->row_cap);
    if (!row) return R_OOM;
    for (uint32_t pi = 0; pi < p->npatterns; pi++)
        if (partition_of(p, pi, row, d->count) == d->index) return 1;
    return 0;
}

static int buffer_event(rd *d, cep_event *ev) {
    if (heap_push(&d->e->time.reorder, ev) < 0) return R_OOM;
    d->e->stats.buffered++;
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Two buffered events of one number are one event to format 2 (a pool's
 * copies): a format-1 snapshot holding such a pair is refused, or the
 * engine's next snapshot would keep one of them. -1: not distinct (or no
 * memory to tell: the engine's buffer is small then). */
static int distinct_seqs(const cep_engine *e) {
    size_t n = e->time.reorder.n;
    if (n < 2) return 0;
    uint64_t *v = mem_alloc(n * sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < n; i++) v[i] = ((const cep_event *)e->time.reorder.v[i])->seq;
    qsort(v, n, sizeof *v, cmp_u64);
    int rc = 0;
    for (size_t i = 1; i < n && !rc; i++) rc = v[i] == v[i - 1] ? -1 : 0;
    mem_free(v);
    return rc;
}

/* Version 1: one engine's state as one section, the buffered events by
 * number among its events. */
static int r_body_v1(rd *d) {
    int rc = r_events(d);
    if (rc) return rc;
    uint32_t nbuf = r_u32(&d->r);
    if (d->r.bad || nbuf > d->nev) return R_CORRUPT;
    for (uint32_t i = 0; i < nbuf; i++) {
        uint32_t id = r_u32(&d->r);
        /* Only events[] holds it yet (nodes come later): refs above 1 is
         * an event buffered twice, which no engine does and which the
         * engine's own next snapshot could not restore (fuzz_snapshot). */
        if (d->r.bad || id >= d->nev || d->events[id]->refs != 1) return R_CORRUPT;
        /* Numbered below the arrivals, as a format-2 snapshot must be (a
         * new event would get the same number). */
        if (d->events[id]->seq >= d->e->time.arrivals) return R_CORRUPT;
        int here = buffered_here(d, d->events[id]);
        if (here == R_OOM) return R_OOM;
        if (!here) continue;
        event_retain(d->events[id]);
        if (buffer_event(d, d->events[id]) < 0) {
            engine_drop_event(d->e, d->events[id]);
            return R_OOM;
        }
    }
    if (distinct_seqs(d->e) < 0) return R_CORRUPT;
    if ((rc = r_nodes(d)) || (rc = r_keys(d, -1))) return rc;
    section_end(d);
    return 0;
}

/* Version 2: the buffered events, then a section per key group. */
static int r_body_v2(rd *d) {
    reader *r = &d->r;
    uint32_t nbuf = r_u32(r);
    if (!r_fits(r, nbuf, SNAP_MIN_EVENT)) return R_CORRUPT;
    uint64_t last = 0;
    for (uint32_t i = 0; i < nbuf; i++) {
        cep_event *ev = r_event(r, d->e, d->builder);
        if (!ev) return r->bad ? R_CORRUPT : R_OOM;
        /* Written once each, by sequence number, all below the arrivals:
         * anything else is an event buffered twice, or one a new event
         * would be numbered as (fuzz_snapshot's finding in version 1). */
        int bad = (i && ev->seq <= last) || ev->seq >= d->e->time.arrivals;
        last = ev->seq;
        if (bad) {
            engine_drop_event(d->e, ev);
            return R_CORRUPT;
        }
        int here = buffered_here(d, ev);
        if (here != 1) {
            engine_drop_event(d->e, ev);
            if (here == R_OOM) return R_OOM;
        } else if (buffer_event(d, ev) < 0) {
            engine_drop_event(d->e, ev);
            return R_OOM;
        }
    }
    uint32_t ngroups = r_u32(r);
    if (r->bad || ngroups > KEY_GROUPS) return R_CORRUPT;
    for (uint32_t i = 0, prev = 0; i < ngroups; i++) {
        uint32_t g = r_u32(r);
        uint64_t len = r_u64(r);
        if (r->bad || g >= KEY_GROUPS || (i && g <= prev) || len > (uint64_t)(r->end - r->p)) return R_CORRUPT;
        prev = g;
        const unsigned char *end = r->p + len;
        if (group_owner(g, d->count) == d->index) {
            reader whole = *r;
            *r = (reader){r->p, end, 0};
            int rc = r_events(d);
            if (!rc) rc = r_nodes(d);
            if (!rc) rc = r_keys(d, (int)g);
            if (!rc && r->p != end) rc = R_CORRUPT;
            if (rc) return rc;
            section_end(d);
            *r = whole;
        }
        r->p = end;
    }
    return 0;
}

/* Check the envelope: magic, version, trailer, length, CRC, program. */
static int check_envelope(const cep_program *prog, const unsigned char *buf, size_t len, uint32_t *version) {
    if (len < 8 || memcmp(buf, MAGIC, 8) != 0) return CEP_EFORMAT;
    if (len < HEADER_LEN + TRAILER_LEN) return CEP_ETRUNCATED;
    reader r = {buf + 8, buf + len, 0};
    *version = r_u32(&r);
    uint32_t groups = r_u32(&r);
    if (*version != 1 && *version != SNAP_VERSION) return CEP_EFORMAT;
    if (memcmp(buf + len - 4, END_MAGIC, 4) != 0) return CEP_ETRUNCATED;
    reader t = {buf + len - TRAILER_LEN, buf + len, 0};
    uint64_t body = r_u64(&t);
    uint32_t crc = r_u32(&t);
    if (body != len - TRAILER_LEN) return body > len - TRAILER_LEN ? CEP_ETRUNCATED : CEP_ECORRUPT;
    if (util_crc32c(0, buf, len - 8) != crc) return CEP_ECORRUPT;
    /* Another key group count files keys elsewhere: not ours to read. */
    if (*version == SNAP_VERSION && groups != KEY_GROUPS) return CEP_EFORMAT;
    reader h = {buf + 16, buf + len, 0};
    if (r_u64(&h) != prog->fingerprint) return CEP_EPROGRAM;
    return CEP_OK;
}

/* The stream figures after the header; *body where the rest starts. */
static int read_stream(reader *r, uint32_t version, snap_stream *st) {
    memset(st, 0, sizeof *st);
    st->max_delay = r_i64(r);
    st->watermark = r_i64(r);
    st->max_seen = r_i64(r);
    st->arrivals = r_u64(r);
    st->keys_created = r_u64(r);
    st->started = (int)r_u8(r);
    st->finished = (int)r_u8(r);
    st->engines = version == 1 ? 1 : r_u32(r);
    size_t ncounters = version == 1 ? SNAP_COUNTERS_V1 : SNAP_COUNTERS;
    for (size_t i = 0; i < ncounters; i++) st->counters[i] = r_u64(r);
    /* A negative delay (which set_max_delay refuses) overflowed the
     * watermark arithmetic of push (found by fuzz_snapshot). */
    return r->bad || st->max_delay < 0 ? CEP_ECORRUPT : CEP_OK;
}

int snapshot_open(const cep_program *prog, const void *buf, size_t len, snap_stream *st) {
    uint32_t version;
    if (!buf) return CEP_EFORMAT;
    int rc = check_envelope(prog, buf, len, &version);
    if (rc != CEP_OK) return rc;
    reader r = {(const unsigned char *)buf + HEADER_LEN, (const unsigned char *)buf + len - TRAILER_LEN, 0};
    return read_stream(&r, version, st);
}

typedef struct key_at {
    key_state *ks;
    size_t pos;
} key_at;

static int cmp_created(const void *a, const void *b) {
    const key_at *x = a, *y = b;
    if (x->ks->created != y->ks->created) return x->ks->created < y->ks->created ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Keys come by group: put the list back in creation order, which decides
 * the order of what is emitted for several keys at once. */
static int relist_by_creation(cep_engine *e) {
    size_t n = 0;
    for (key_state *ks = e->keyset.first; ks; ks = ks->next) n++;
    if (n < 2) return 0;
    key_at *v = mem_alloc(n * sizeof *v);
    if (!v) return -1;
    n = 0;
    for (key_state *ks = e->keyset.first; ks; ks = ks->next, n++) v[n] = (key_at){ks, n};
    qsort(v, n, sizeof *v, cmp_created);
    for (size_t i = 0; i < n; i++) {
        v[i].ks->prev = i ? v[i - 1].ks : NULL;
        v[i].ks->next = i + 1 < n ? v[i + 1].ks : NULL;
    }
    e->keyset.first = v[0].ks;
    e->keyset.last = v[n - 1].ks;
    mem_free(v);
    return 0;
}

void snapshot_undo(cep_engine *e, int64_t old_delay) {
    /* Leave a clean, unused engine behind. */
    timers_clear(e);
    while (e->keyset.first) engine_key_free(e, e->keyset.first);
    cep_event *ev;
    while ((ev = heap_pop(&e->time.reorder))) engine_drop_event(e, ev);
    memset(&e->stats, 0, sizeof e->stats);
    e->cfg.max_delay = old_delay;
    e->time.watermark = INT64_MIN;
    e->time.max_seen = INT64_MIN;
    e->time.arrivals = 0;
    e->keyset.keys_created = 0;
    e->started = e->finished = 0;
}

int snapshot_restore_part(cep_engine *e, const void *buf, size_t len, unsigned index, unsigned count,
                          int counters) {
    snap_stream st;
    int rc = snapshot_open(e->prog, buf, len, &st);
    if (rc != CEP_OK) {
        engine_set_err(e, "%s", cep_strerror(rc));
        return rc;
    }
    const unsigned char *b = buf;
    uint32_t version = b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    rd d = {.r = {b + HEADER_LEN, b + len - TRAILER_LEN, 0}, .e = e, .index = index, .count = count};
    read_stream(&d.r, version, &st);
    if ((rc = cep_event_new(e->prog, &d.builder)) != CEP_OK) return rc;
    int64_t old_delay = e->cfg.max_delay; /* the caller's, kept if restore fails */
    e->cfg.max_delay = st.max_delay;
    e->time.watermark = st.watermark;
    e->time.max_seen = st.max_seen;
    e->time.arrivals = st.arrivals;
    if (counters) {
        cep_stats *s = &e->stats;
        uint64_t *to[] = {&s->events, &s->matches, &s->late, &s->stragglers, &s->timeouts, &s->dropped,
                          &s->ttl_dropped, &s->mem_dropped, &s->peak_partial_matches, &s->mem_released,
                          &e->ctx.regex_errors};
        for (size_t i = 0; i < SNAP_COUNTERS; i++) *to[i] = st.counters[i];
    }
    int r = version == 1 ? r_body_v1(&d) : r_body_v2(&d);
    if (!r && d.r.p != d.r.end) r = R_CORRUPT;
    section_end(&d);
    if (!r && (relist_by_creation(e) < 0 || timers_rebuild(e) < 0)) r = R_OOM;
    cep_event_free(d.builder);
    mem_free(d.row);
    if (r) {
        rc = r == R_OOM ? CEP_ENOMEM : CEP_ECORRUPT;
        engine_set_err(e, "%s", r == R_OOM ? "out of memory" : "snapshot is inconsistent");
        snapshot_undo(e, old_delay);
        return rc;
    }
    e->keyset.keys_created = st.keys_created;
    e->started = st.started;
    e->finished = st.finished;
    return CEP_OK;
}

CEP_API int cep_engine_restore(cep_engine *e, const void *buf, size_t len) {
    if (!e || (!buf && len)) return CEP_EINVAL;
    if (e->started || e->keyset.first || e->time.reorder.n) {
        engine_set_err(e, "restore needs a new engine");
        return CEP_EINVAL;
    }
    /* An engine partitioned by cep_engine_set_partition takes its share. */
    unsigned count = e->cfg.part_count > 1 ? e->cfg.part_count : 1, index = e->cfg.part_count > 1 ? e->cfg.part_index : 0;
    return snapshot_restore_part(e, buf, len, index, count, index == 0);
}
