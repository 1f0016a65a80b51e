/* baseline.c — hand-written W1 and W3 matchers for cepbench: a hash map from
 * key to the few timestamps each pattern needs, with exactly the semantics
 * Cepheus gives the same patterns, so match counts and identities compare. */
#include "baseline.h"

#include <stdlib.h>
#include <string.h>

uint64_t bench_match_hash(int64_t key, int64_t start, int64_t end) {
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)start + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
    h ^= (uint64_t)end + 0x85EBCA77C2B2AE63ull + (h << 6) + (h >> 2);
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    return h;
}

static void add_match(match_sum *out, int64_t key, int64_t start, int64_t end) {
    out->count++;
    out->sum += bench_match_hash(key, start, end);
}

/* Open-addressing index from key to a record number (keys never leave: a
 * hand-written program would not bother either). */
typedef struct kindex {
    int64_t *keys;
    uint32_t *rec; /* record + 1; 0 = empty slot */
    uint64_t mask;
    uint32_t n;
} kindex;

static int kindex_init(kindex *x, uint64_t expect) {
    uint64_t cap = 16;
    while (cap < expect * 2) cap <<= 1;
    x->keys = malloc(cap * sizeof *x->keys);
    x->rec = calloc(cap, sizeof *x->rec);
    x->mask = cap - 1;
    x->n = 0;
    return x->keys && x->rec ? 0 : -1;
}

/* Record number of key, creating it (number x->n) when absent; the
 * caller sizes its record array for `keys` records up front. */
static uint32_t kindex_get(kindex *x, int64_t key, int *created) {
    uint64_t i = ((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 20 & x->mask;
    for (;;) {
        uint32_t r = x->rec[i];
        if (!r) {
            x->keys[i] = key;
            x->rec[i] = ++x->n;
            *created = 1;
            return x->n - 1;
        }
        if (x->keys[i] == key) {
            *created = 0;
            return r - 1;
        }
        i = (i + 1) & x->mask;
    }
}

static void kindex_free(kindex *x) {
    free(x->keys);
    free(x->rec);
}

/* Grow a vector of elem-sized items to hold need. */
static void *vgrow(void *v, uint32_t *cap, uint32_t need, size_t elem) {
    if (need <= *cap) return v;
    uint32_t c = *cap ? *cap * 2 : 4;
    while (c < need) c *= 2;
    void *nv = realloc(v, (size_t)c * elem);
    if (!nv) abort(); /* a benchmark: running out is fatal */
    *cap = c;
    return nv;
}

/* ---- W1 ---------------------------------------------------------------- */

typedef struct click {
    int64_t t;
    uint64_t seq;
    int32_t item;
} click;

typedef struct held {
    int64_t st, et;
    uint64_t sseq, eseq;
} held;

typedef struct w1rec {
    int64_t key;
    click *p; /* pending clicks, earliest first */
    held *h;  /* completed matches held back, earliest start first */
    uint32_t np, capp, nh, caph;
} w1rec;

struct base_w1 {
    kindex idx;
    w1rec *recs;
    uint64_t keys;
    int64_t within;
};

base_w1 *base_w1_new(uint64_t keys, int64_t within_ms) {
    base_w1 *b = calloc(1, sizeof *b);
    if (!b || kindex_init(&b->idx, keys) < 0) abort();
    b->recs = calloc(keys, sizeof *b->recs);
    if (!b->recs) abort();
    b->keys = keys;
    b->within = within_ms;
    return b;
}

static int before(int64_t t1, uint64_t s1, int64_t t2, uint64_t s2) {
    return t1 < t2 || (t1 == t2 && s1 < s2);
}

/* Emit held matches no earlier pending click can precede; each emitted
 * match drops everything that started at or before its purchase
 * (skip pastLastEvent). */
static void w1_release(w1rec *r, match_sum *out) {
    while (r->nh) {
        held m = r->h[0];
        if (r->np && before(r->p[0].t, r->p[0].seq, m.st, m.sseq)) break;
        uint32_t k = 1;
        while (k < r->nh && !before(m.et, m.eseq, r->h[k].st, r->h[k].sseq)) k++;
        memmove(r->h, r->h + k, (r->nh - k) * sizeof *r->h);
        r->nh -= k;
        k = 0;
        while (k < r->np && !before(m.et, m.eseq, r->p[k].t, r->p[k].seq)) k++;
        memmove(r->p, r->p + k, (r->np - k) * sizeof *r->p);
        r->np -= k;
        add_match(out, r->key, m.st, m.et);
    }
}

void base_w1_push(base_w1 *b, const bev *e, uint64_t seq, match_sum *out) {
    int created;
    uint32_t ri = kindex_get(&b->idx, e->key, &created);
    w1rec *r = &b->recs[ri];
    if (created) r->key = e->key;
    /* Windows that closed by now: the earliest pending clicks. */
    uint32_t k = 0;
    while (k < r->np && r->p[k].t + b->within <= e->t) k++;
    if (k) {
        memmove(r->p, r->p + k, (r->np - k) * sizeof *r->p);
        r->np -= k;
    }
    w1_release(r, out);
    if (e->type == 1) {
        r->p = vgrow(r->p, &r->capp, r->np + 1, sizeof *r->p);
        r->p[r->np++] = (click){e->t, seq, e->item};
        return;
    }
    /* A purchase completes every pending click of its item. */
    uint32_t w = 0, done = 0;
    for (uint32_t i = 0; i < r->np; i++) {
        if (r->p[i].item != e->item) {
            r->p[w++] = r->p[i];
            continue;
        }
        held m = {r->p[i].t, e->t, r->p[i].seq, seq};
        r->h = vgrow(r->h, &r->caph, r->nh + 1, sizeof *r->h);
        uint32_t j = r->nh++;
        while (j > 0 && before(m.st, m.sseq, r->h[j - 1].st, r->h[j - 1].sseq)) {
            r->h[j] = r->h[j - 1];
            j--;
        }
        r->h[j] = m;
        done++;
    }
    r->np = w;
    if (done) w1_release(r, out);
}

void base_w1_finish(base_w1 *b, match_sum *out) {
    for (uint32_t i = 0; i < b->idx.n; i++) {
        w1rec *r = &b->recs[i];
        r->np = 0; /* every window closes; nothing else can complete */
        w1_release(r, out);
    }
}

void base_w1_free(base_w1 *b) {
    if (!b) return;
    for (uint32_t i = 0; i < b->idx.n; i++) {
        free(b->recs[i].p);
        free(b->recs[i].h);
    }
    free(b->recs);
    kindex_free(&b->idx);
    free(b);
}

/* ---- W3 ---------------------------------------------------------------- */

typedef struct seqpm {
    int64_t start;
    int32_t step; /* last step taken, 1-based */
} seqpm;

typedef struct w3rec {
    int64_t key;
    int64_t oldest; /* earliest start among v, for a cheap expiry test */
    seqpm *v;
    uint32_t n, cap;
} w3rec;

struct base_w3 {
    kindex idx;
    w3rec *recs;
    int L;
    int64_t within;
};

base_w3 *base_w3_new(uint64_t keys, int L, int64_t within_ms) {
    base_w3 *b = calloc(1, sizeof *b);
    if (!b || kindex_init(&b->idx, keys) < 0) abort();
    b->recs = calloc(keys, sizeof *b->recs);
    if (!b->recs) abort();
    b->L = L;
    b->within = within_ms;
    return b;
}

void base_w3_push(base_w3 *b, const bev *e, match_sum *out) {
    int created;
    w3rec *r = &b->recs[kindex_get(&b->idx, e->key, &created)];
    if (created) r->key = e->key;
    if (r->n && r->oldest + b->within <= e->t) {
        uint32_t w = 0;
        int64_t oldest = INT64_MAX;
        for (uint32_t i = 0; i < r->n; i++) {
            if (r->v[i].start + b->within <= e->t) continue;
            if (r->v[i].start < oldest) oldest = r->v[i].start;
            r->v[w++] = r->v[i];
        }
        r->n = w;
        r->oldest = oldest;
    }
    int x = e->type;
    if (x == 1) {
        r->v = vgrow(r->v, &r->cap, r->n + 1, sizeof *r->v);
        if (!r->n) r->oldest = e->t;
        r->v[r->n++] = (seqpm){e->t, 1};
        return;
    }
    if (x < 2 || x > b->L) return;
    /* Every partial match waiting for step x takes this event. */
    uint32_t w = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        if (r->v[i].step == x - 1) {
            if (x == b->L) {
                add_match(out, r->key, r->v[i].start, e->t);
                continue;
            }
            r->v[i].step = x;
        }
        r->v[w++] = r->v[i];
    }
    r->n = w;
}

void base_w3_free(base_w3 *b) {
    if (!b) return;
    for (uint32_t i = 0; i < b->idx.n; i++) free(b->recs[i].v);
    free(b->recs);
    kindex_free(&b->idx);
    free(b);
}
