/* snapshot.c — writing an engine's whole state as bytes and reading it back
 * into a new engine of the same program: watermark and counters, buffered
 * events, every key's partial matches and held matches, with their shared
 * nodes and events stored once. Format in docs/snapshot.md. */
#include "config.h"
#include "crc32c.h"
#include "engine.h"
#include "hash.h"
#include "mem.h"
#include "ptrmap.h"

#include <string.h>

#define MAGIC "CEPSNAP\0"
#define END_MAGIC "CEP."
#define SNAP_VERSION 2 /* 2 added mem_released and regex_errors; 1 is still read */
#define HEADER_LEN 24  /* magic 8, version 4, reserved 4, fingerprint 8 */
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
} writer;

static void w_flush(writer *w) {
    if (w->failed || !w->len) return;
    w->crc = crc32c(w->crc, w->buf, w->len);
    if (w->fn(w->ud, w->buf, w->len) != 0) w->failed = 1;
    w->len = 0;
}

static void w_bytes(writer *w, const void *p, size_t n) {
    const unsigned char *b = p;
    w->total += n;
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
 * are the engine's own bytes (step.c's encode_key: pattern number and key
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
    for (uint32_t i = 0; i < ev->nslots; i++) {
        cep_value v = ev->vals[i];
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
    if (ev->raw) {
        w_u32(w, (uint32_t)ev->raw_len);
        w_bytes(w, ev->raw, ev->raw_len);
    } else {
        w_u32(w, NONE32);
    }
}

typedef struct snap {
    ptrmap events, nodes;
    const cep_event **ev;   /* by index */
    const pm_node **nd;
    const pm_node **stk;    /* scratch for add_chain */
    size_t nev, capev, nnd, capnd, nstk, capstk;
    int oom;
} snap;

static uint32_t add_event(snap *s, const cep_event *ev) {
    uint32_t id = ptr_get(&s->events, ev);
    if (id != NONE32) return id;
    id = (uint32_t)s->nev;
    if (mem_grow((void **)&s->ev, &s->capev, s->nev + 1, sizeof *s->ev) < 0 || ptr_put(&s->events, ev, id) < 0) {
        s->oom = 1;
        return NONE32;
    }
    s->ev[s->nev++] = ev;
    return id;
}

/* Number a chain's nodes, root first, so a parent always precedes its child. */
static void add_chain(snap *s, const pm_node *n) {
    s->nstk = 0;
    for (const pm_node *x = n; x && ptr_get(&s->nodes, x) == NONE32; x = x->parent) {
        if (mem_grow((void **)&s->stk, &s->capstk, s->nstk + 1, sizeof *s->stk) < 0) {
            s->oom = 1;
            return;
        }
        s->stk[s->nstk++] = x;
    }
    while (s->nstk && !s->oom) {
        const pm_node *y = s->stk[--s->nstk];
        add_event(s, y->ev);
        uint32_t id = (uint32_t)s->nnd;
        if (mem_grow((void **)&s->nd, &s->capnd, s->nnd + 1, sizeof *s->nd) < 0 ||
            ptr_put(&s->nodes, y, id) < 0) {
            s->oom = 1;
            return;
        }
        s->nd[s->nnd++] = y;
    }
}

static void snap_free(snap *s) {
    ptr_free(&s->events);
    ptr_free(&s->nodes);
    mem_free(s->ev);
    mem_free(s->nd);
    mem_free(s->stk);
}

static void w_pm(writer *w, const snap *s, const pm *p) {
    w_u32(w, ptr_get(&s->nodes, p->node));
    w_i64(w, p->start);
    w_u64(w, p->start_seq);
    w_i64(w, p->node->ev->time); /* the time of its last event (gap windows) */
    w_u32(w, p->state);
}

CEP_API int cep_engine_snapshot(const cep_engine *e, cep_write_fn fn, void *ud) {
    if (!e || !fn) return CEP_EINVAL;
    snap s = {0};
    /* Number every shared node and event first. */
    for (size_t i = 0; i < e->reorder.n; i++) add_event(&s, e->reorder.v[i]);
    uint32_t nkeys = 0;
    for (const key_state *ks = e->first; ks; ks = ks->next, nkeys++) {
        for (uint32_t i = 0; i < ks->nb; i++)
            for (uint32_t j = ks->b[i].lo; j < ks->b[i].hi; j++) add_chain(&s, ks->b[i].v[j].node);
        for (uint32_t i = 0; i < ks->done.n; i++) add_chain(&s, ks->done.v[i].node);
    }
    writer *w = mem_calloc(1, sizeof *w);
    pm_list order = {0}; /* one key's partial matches in the engine's order */
    if (s.oom || !w) {
        mem_free(w);
        snap_free(&s);
        return CEP_ENOMEM;
    }
    w->fn = fn;
    w->ud = ud;
    w_bytes(w, MAGIC, 8);
    w_u32(w, SNAP_VERSION);
    w_u32(w, 0);
    w_u64(w, e->prog->fingerprint);
    /* engine */
    w_i64(w, e->max_delay);
    w_i64(w, e->watermark);
    w_i64(w, e->max_seen);
    w_u64(w, e->arrivals);
    w_u64(w, e->keys_created);
    w_u8(w, (unsigned)e->started);
    w_u8(w, (unsigned)e->finished);
    const cep_stats *st = &e->stats;
    uint64_t counters[] = {st->events, st->matches, st->late, st->stragglers, st->timeouts, st->dropped,
                           st->ttl_dropped, st->mem_dropped, st->peak_partial_matches,
                           st->mem_released, e->ctx.regex_errors};
    for (size_t i = 0; i < sizeof counters / sizeof *counters; i++) w_u64(w, counters[i]);
    /* events, buffered events, nodes */
    w_u32(w, (uint32_t)s.nev);
    for (size_t i = 0; i < s.nev; i++) w_event(w, s.ev[i]);
    w_u32(w, (uint32_t)e->reorder.n);
    for (size_t i = 0; i < e->reorder.n; i++) w_u32(w, ptr_get(&s.events, e->reorder.v[i]));
    w_u32(w, (uint32_t)s.nnd);
    for (size_t i = 0; i < s.nnd; i++) {
        const pm_node *n = s.nd[i];
        w_u32(w, ptr_get(&s.events, n->ev));
        w_u32(w, n->step);
        w_u32(w, n->parent ? ptr_get(&s.nodes, n->parent) : NONE32);
    }
    /* keys, in creation order */
    w_u32(w, nkeys);
    for (const key_state *ks = e->first; ks; ks = ks->next) {
        w_u32(w, ks->pattern);
        w_u64(w, ks->created);
        w_i64(w, ks->last_event);
        w_u32(w, ks->key_len);
        w_bytes(w, ks->key, ks->key_len);
        order.n = 0;
        if (key_collect(ks, &order) < 0) {
            mem_free(order.v);
            mem_free(w);
            snap_free(&s);
            return CEP_ENOMEM;
        }
        w_u32(w, order.n);
        for (uint32_t i = 0; i < order.n; i++) w_pm(w, &s, &order.v[i]);
        w_u32(w, ks->done.n);
        for (uint32_t i = 0; i < ks->done.n; i++) w_pm(w, &s, &ks->done.v[i]);
    }
    /* trailer: length of everything before it, then the CRC of all that */
    uint64_t body = w->total;
    w_u64(w, body);
    w_flush(w);
    uint32_t crc = w->crc;
    unsigned char tail[8];
    for (int i = 0; i < 4; i++) tail[i] = (unsigned char)(crc >> (8 * i));
    memcpy(tail + 4, END_MAGIC, 4);
    if (!w->failed && fn(ud, tail, 8) != 0) w->failed = 1;
    int rc = w->failed ? CEP_ECALLBACK : CEP_OK;
    mem_free(order.v);
    mem_free(w);
    snap_free(&s);
    return rc;
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

/* Read one event into the builder b and keep a frozen copy. */
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
    return engine_keep_event(e, b);
}

static int r_pm(reader *r, const cep_engine *e, const nfa_pattern *pat, pm_node **nodes, uint32_t nnodes, pm *p) {
    (void)e;
    memset(p, 0, sizeof *p);
    uint32_t node = r_u32(r);
    p->start = r_i64(r);
    p->start_seq = r_u64(r);
    int64_t prev_time = r_i64(r);
    p->state = r_u32(r);
    if (r->bad || node >= nnodes || p->state >= pat->nstates) return -1;
    /* Written as the time of the partial match's last event, which is
     * where the engine reads it from. */
    if (prev_time != nodes[node]->ev->time) return -1;
    p->node = nodes[node];
    p->node->refs++;
    return 0;
}

/* Read the partial matches of ks (in the engine's order, as written) into
 * its buckets. -1: corrupt, -2: out of memory. */
static int r_key_pms(reader *r, cep_engine *e, const nfa_pattern *pat, key_state *ks, pm_node **nodes,
                     uint32_t nnd) {
    pm_list *l = &e->kids;
    l->n = 0;
    uint32_t n = r_u32(r);
    int rc = 0;
    if (!r_fits(r, n, SNAP_PM)) return -1;
    for (uint32_t i = 0; i < n && !rc; i++) {
        pm p;
        if (r_pm(r, e, pat, nodes, nnd, &p) < 0) {
            rc = -1;
        } else if (engine_list_push(l, p) < 0) {
            engine_node_release(e, p.node);
            rc = -2;
        } else if (i && pm_cmp_start(&l->v[i - 1], &l->v[i]) > 0) {
            rc = -1; /* not in start order: not written by an engine */
        } else {
            for (pm_node *x = p.node; x; x = x->parent)
                if (x->step >= pat->nsteps) rc = -1;
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
        label_family_run(l->v + i, j - i);
        i = j;
    }
    /* Bucket by state, stably. */
    for (uint32_t i = 1; i < l->n; i++) {
        pm x = l->v[i];
        uint32_t j = i;
        for (; j > 0 && l->v[j - 1].state > x.state; j--) l->v[j] = l->v[j - 1];
        l->v[j] = x;
    }
    return key_insert_sorted(e, ks, l) < 0 ? -2 : 0;
}

/* Check the envelope: magic, version, trailer, length, CRC, program. */
static int check_envelope(const cep_engine *e, const unsigned char *buf, size_t len) {
    if (len < 8 || memcmp(buf, MAGIC, 8) != 0) return CEP_EFORMAT;
    if (len < HEADER_LEN + TRAILER_LEN) return CEP_ETRUNCATED;
    reader r = {buf + 8, buf + len, 0};
    uint32_t version = r_u32(&r);
    if (version != SNAP_VERSION && version != 1) return CEP_EFORMAT;
    if (memcmp(buf + len - 4, END_MAGIC, 4) != 0) return CEP_ETRUNCATED;
    reader t = {buf + len - TRAILER_LEN, buf + len, 0};
    uint64_t body = r_u64(&t);
    uint32_t crc = r_u32(&t);
    if (body != len - TRAILER_LEN) return body > len - TRAILER_LEN ? CEP_ETRUNCATED : CEP_ECORRUPT;
    if (crc32c(0, buf, len - 8) != crc) return CEP_ECORRUPT;
    reader h = {buf + 16, buf + len, 0};
    if (r_u64(&h) != e->prog->fingerprint) return CEP_EPROGRAM;
    return CEP_OK;
}

/* What a restore has read so far: the numbered events and nodes that the
 * later sections refer to. Each section's reader returns CEP_OK,
 * CEP_ECORRUPT or CEP_ENOMEM. */
typedef struct restoring {
    cep_engine *e;
    reader r;
    cep_event *builder;
    cep_event **events;
    pm_node **nodes;
    uint32_t nev, nnd;
    uint64_t keys_created;
    int started, finished;
    uint32_t version; /* check_envelope accepted it */
} restoring;

/* The engine's clock and counters. */
static int r_engine(restoring *s) {
    cep_engine *e = s->e;
    reader *r = &s->r;
    e->max_delay = r_i64(r);
    e->watermark = r_i64(r);
    e->max_seen = r_i64(r);
    e->arrivals = r_u64(r);
    s->keys_created = r_u64(r);
    s->started = (int)r_u8(r);
    s->finished = (int)r_u8(r);
    cep_stats *st = &e->stats;
    uint64_t *counters[] = {&st->events, &st->matches, &st->late, &st->stragglers, &st->timeouts,
                            &st->dropped, &st->ttl_dropped, &st->mem_dropped, &st->peak_partial_matches};
    for (size_t i = 0; i < sizeof counters / sizeof *counters; i++) *counters[i] = r_u64(r);
    if (s->version >= 2) {
        st->mem_released = r_u64(r);
        e->ctx.regex_errors = r_u64(r);
    }
    /* A negative delay (which set_max_delay refuses) overflowed the
     * watermark arithmetic of push (found by fuzz_snapshot). */
    return r->bad || e->max_delay < 0 ? CEP_ECORRUPT : CEP_OK;
}

/* The stored events, then which of them wait in the out-of-order buffer. */
static int r_events(restoring *s) {
    cep_engine *e = s->e;
    reader *r = &s->r;
    uint32_t want = r_u32(r);
    if (!r_fits(r, want, SNAP_MIN_EVENT)) return CEP_ECORRUPT;
    if (!(s->events = mem_calloc(want ? want : 1, sizeof *s->events))) return CEP_ENOMEM;
    for (; s->nev < want; s->nev++)
        if (!(s->events[s->nev] = r_event(r, e, s->builder))) return r->bad ? CEP_ECORRUPT : CEP_ENOMEM;
    uint32_t nbuf = r_u32(r);
    if (r->bad || nbuf > want) return CEP_ECORRUPT;
    for (uint32_t i = 0; i < nbuf; i++) {
        uint32_t id = r_u32(r);
        /* Only events[] holds it yet (nodes come later): refs above 1 is
         * an event buffered twice, which no engine does and which the
         * engine's own next snapshot could not restore (fuzz_snapshot). */
        if (r->bad || id >= s->nev || s->events[id]->refs != 1) return CEP_ECORRUPT;
        event_retain(s->events[id]);
        if (heap_push(&e->reorder, s->events[id]) < 0) {
            engine_drop_event(e, s->events[id]);
            return CEP_ENOMEM;
        }
        e->stats.buffered++;
    }
    return CEP_OK;
}

/* The partial matches' nodes, shared among them. */
static int r_nodes(restoring *s) {
    reader *r = &s->r;
    uint32_t want = r_u32(r);
    if (!r_fits(r, want, SNAP_NODE)) return CEP_ECORRUPT;
    if (!(s->nodes = mem_calloc(want ? want : 1, sizeof *s->nodes))) return CEP_ENOMEM;
    for (; s->nnd < want; s->nnd++) {
        uint32_t ev = r_u32(r), step = r_u32(r), parent = r_u32(r);
        /* Parents come first, so a node can only point back. */
        if (r->bad || ev >= s->nev || (parent != NONE32 && parent >= s->nnd)) return CEP_ECORRUPT;
        pm_node *up = parent == NONE32 ? NULL : s->nodes[parent];
        if (!(s->nodes[s->nnd] = engine_node_new(s->e, s->events[ev], step, up))) return CEP_ENOMEM;
    }
    return CEP_OK;
}

/* One key: its partial matches and its held matches. */
static int r_key(restoring *s) {
    cep_engine *e = s->e;
    reader *r = &s->r;
    uint32_t pi = r_u32(r);
    uint64_t created = r_u64(r);
    int64_t last_event = r_i64(r);
    uint32_t klen = r_u32(r);
    const char *key = r_bytes(r, klen);
    /* The encoded key starts with its pattern's number (step.c's
     * encode_key), and lookups go by the key alone: a key naming
     * another pattern ran that pattern on this one's states, out of
     * bounds (found by fuzz_snapshot); a key given twice is not one. */
    if (r->bad || pi >= e->prog->npatterns || klen < 4 || memcmp(key, &pi, 4) != 0) return CEP_ECORRUPT;
    uint64_t kh = hash_bytes(key, klen, e->keys.seed);
    if (keymap_find(&e->keys, kh, key, klen)) return CEP_ECORRUPT;
    const nfa_pattern *pat = &e->prog->patterns[pi];
    key_state *ks = engine_key_new(e, pi, kh, key, klen);
    if (!ks) return CEP_ENOMEM;
    engine_key_activate(e, ks);
    ks->created = created;
    ks->last_event = last_event;
    int kr = r_key_pms(r, e, pat, ks, s->nodes, s->nnd);
    if (kr) return kr == -1 ? CEP_ECORRUPT : CEP_ENOMEM;
    uint32_t n = r_u32(r);
    if (!r_fits(r, n, SNAP_PM)) return CEP_ECORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        pm p;
        if (r_pm(r, e, pat, s->nodes, s->nnd, &p) < 0) return CEP_ECORRUPT;
        if (key_hold_push(e, ks, p) < 0) {
            engine_node_release(e, p.node);
            return CEP_ENOMEM;
        }
    }
    const pm_list *l = &ks->done;
    for (uint32_t i = 0; i < l->n; i++)
        for (pm_node *x = l->v[i].node; x; x = x->parent)
            if (x->step >= pat->nsteps) return CEP_ECORRUPT;
    engine_key_settle(e, ks);
    return CEP_OK;
}

static int r_keys(restoring *s) {
    uint32_t nkeys = r_u32(&s->r);
    if (!r_fits(&s->r, nkeys, SNAP_MIN_KEY)) return CEP_ECORRUPT;
    int rc = CEP_OK;
    for (uint32_t k = 0; k < nkeys && rc == CEP_OK; k++) rc = r_key(s);
    return rc;
}

/* A failed restore leaves a clean, unused engine behind. */
static void restore_undo(cep_engine *e, int64_t old_delay) {
    timers_clear(e);
    while (e->first) engine_key_free(e, e->first);
    cep_event *ev;
    while ((ev = heap_pop(&e->reorder))) engine_drop_event(e, ev);
    memset(&e->stats, 0, sizeof e->stats);
    e->max_delay = old_delay;
    e->watermark = INT64_MIN;
    e->max_seen = INT64_MIN;
    e->arrivals = 0;
    e->keys_created = 0;
    e->started = e->finished = 0;
}

CEP_API int cep_engine_restore(cep_engine *e, const void *buf, size_t len) {
    if (!e || (!buf && len)) return CEP_EINVAL;
    if (e->started || e->first || e->reorder.n) {
        engine_set_err(e, "restore needs a new engine");
        return CEP_EINVAL;
    }
    int rc = check_envelope(e, buf, len);
    if (rc != CEP_OK) {
        engine_set_err(e, "%s", cep_strerror(rc));
        return rc;
    }
    const unsigned char *b = buf;
    /* The version is 1 or 2 (check_envelope): its low byte says which. */
    restoring s = {.e = e, .r = {b + HEADER_LEN, b + len - TRAILER_LEN, 0}, .version = b[8]};
    rc = cep_event_new(e->prog, &s.builder);
    if (rc != CEP_OK) return rc;
    int64_t old_delay = e->max_delay; /* the caller's, kept if restore fails */
    rc = r_engine(&s);
    if (rc == CEP_OK) rc = r_events(&s);
    if (rc == CEP_OK) rc = r_nodes(&s);
    if (rc == CEP_OK) rc = r_keys(&s);
    if (rc == CEP_OK && s.r.p != s.r.end) rc = CEP_ECORRUPT;
    if (rc == CEP_OK && timers_rebuild(e) < 0) rc = CEP_ENOMEM;
    if (rc == CEP_OK) {
        e->keys_created = s.keys_created;
        e->started = s.started;
        e->finished = s.finished;
    }
    /* The nodes and events now belong to the keys and the buffer that
     * took them (or to nothing, after a failure). */
    for (uint32_t i = 0; i < s.nnd; i++) engine_node_release(e, s.nodes[i]);
    for (uint32_t i = 0; i < s.nev; i++) engine_drop_event(e, s.events[i]);
    mem_free(s.nodes);
    mem_free(s.events);
    cep_event_free(s.builder);
    if (rc != CEP_OK) {
        engine_set_err(e, rc == CEP_ENOMEM ? "out of memory" : "snapshot is inconsistent");
        restore_undo(e, old_delay);
    }
    return rc;
}
