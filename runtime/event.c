/* event.c — event rows: the reusable builder that callers fill slot by slot,
 * and the frozen single-allocation copy the engine keeps while a partial
 * match needs it. */
#include "config.h"
#include "event.h"
#include "bytes.h"
#include "json.h"
#include "mem.h"
#include "nfa.h"

#include <string.h>

CEP_API int cep_event_new(const cep_program *p, cep_event **out) {
    if (!out) return CEP_EINVAL;
    *out = NULL;
    if (!p) return CEP_EINVAL;
    /* The error buffer lives after the builder: stored copies, of which
     * there are many, do not carry one. */
    cep_event *ev = mem_calloc(1, sizeof *ev + EVENT_ERR_SIZE);
    if (!ev) return CEP_ENOMEM;
    ev->err = (char *)(ev + 1);
    ev->prog = p;
    ev->nslots = p->nfields;
    ev->vals = mem_calloc(ev->nslots ? ev->nslots : 1, sizeof *ev->vals);
    ev->sbufs = mem_calloc(ev->nslots ? ev->nslots : 1, sizeof *ev->sbufs);
    if (!ev->vals || !ev->sbufs) {
        /* Not through cep_event_free: without sbufs it would take this
         * for a stored event and leave it. */
        mem_free(ev->sbufs);
        mem_free(ev->vals);
        mem_free(ev);
        return CEP_ENOMEM;
    }
    *out = ev;
    return CEP_OK;
}

/* A builder the caller may change: not a stored event (a match's, the
 * engine's: its block goes with its last reference) nor a lent view. */
static inline int is_builder(const cep_event *ev) { return ev && !ev->stored && ev->sbufs; }

CEP_API void cep_event_free(cep_event *ev) {
    if (!is_builder(ev)) return;
    for (uint32_t i = 0; i < ev->nslots; i++) mem_free(ev->sbufs[i].p);
    mem_free(ev->sbufs);
    mem_free(ev->vals);
    mem_free(ev->raw_buf);
    json_state_free(ev->json);
    mem_free(ev);
}

CEP_API void cep_event_clear(cep_event *ev) {
    if (is_builder(ev)) event_clear_builder(ev);
}

CEP_API int cep_event_set_tag(cep_event *ev, uint64_t tag) {
    if (!is_builder(ev)) return CEP_EINVAL;
    ev->tag = tag;
    return CEP_OK;
}

CEP_API uint64_t cep_event_tag(const cep_event *ev) { return ev ? event_tag(ev) : 0; }

CEP_API int cep_event_set_time(cep_event *ev, int64_t ms) {
    if (!is_builder(ev)) return CEP_EINVAL;
    ev->time = ms;
    ev->has_time = 1;
    return CEP_OK;
}

static cep_value *slot_ref(cep_event *ev, int slot) {
    if (!is_builder(ev) || slot < 0 || (uint32_t)slot >= ev->nslots) return NULL;
    return &ev->vals[slot];
}

CEP_API int cep_event_set_null(cep_event *ev, int slot) {
    cep_value *v = slot_ref(ev, slot);
    if (!v) return CEP_EINVAL;
    v->type = CEP_NULL;
    return CEP_OK;
}

CEP_API int cep_event_set_bool(cep_event *ev, int slot, int b) {
    cep_value *v = slot_ref(ev, slot);
    if (!v) return CEP_EINVAL;
    v->type = CEP_BOOL;
    v->u.b = b != 0;
    return CEP_OK;
}

CEP_API int cep_event_set_int(cep_event *ev, int slot, int64_t i) {
    cep_value *v = slot_ref(ev, slot);
    if (!v) return CEP_EINVAL;
    v->type = CEP_INT;
    v->u.i = i;
    return CEP_OK;
}

CEP_API int cep_event_set_double(cep_event *ev, int slot, double d) {
    cep_value *v = slot_ref(ev, slot);
    if (!v) return CEP_EINVAL;
    v->type = CEP_DOUBLE;
    v->u.d = d;
    return CEP_OK;
}

CEP_API int cep_event_set_string(cep_event *ev, int slot, const char *s,
                                 size_t len) {
    cep_value *v = slot_ref(ev, slot);
    if (!v || (!s && len)) return CEP_EINVAL;
    /* Each slot owns its buffer, so growing one never moves another. */
    slot_buf *b = &ev->sbufs[slot];
    if (len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16;
        while (cap < len + 1) cap *= 2;
        char *np = mem_realloc(b->p, cap);
        if (!np) return CEP_ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    if (len) memcpy(b->p, s, len);
    b->p[len] = '\0';
    v->type = CEP_STRING;
    v->u.s.ptr = b->p;
    v->u.s.len = len;
    return CEP_OK;
}

CEP_API int cep_event_set_raw(cep_event *ev, const char *text, size_t len) {
    if (!is_builder(ev) || (!text && len)) return CEP_EINVAL;
    if (len + 1 > ev->raw_cap) {
        size_t cap = ev->raw_cap ? ev->raw_cap : 128;
        while (cap < len + 1) cap *= 2;
        char *np = mem_realloc(ev->raw_buf, cap);
        if (!np) return CEP_ENOMEM;
        ev->raw_buf = np;
        ev->raw_cap = cap;
    }
    if (len) memcpy(ev->raw_buf, text, len);
    ev->raw_buf[len] = '\0';
    ev->raw = ev->raw_buf;
    ev->raw_len = len;
    return CEP_OK;
}

CEP_API int64_t cep_event_time(const cep_event *ev) { return ev ? ev->time : 0; }

CEP_API cep_value cep_event_value(const cep_event *ev, int slot) {
    cep_value v = {.type = CEP_NULL};
    if (ev && slot >= 0 && (uint32_t)slot < ev->nslots) v = event_value(ev, (uint32_t)slot);
    return v;
}

CEP_API const char *cep_event_raw(const cep_event *ev, size_t *len) {
    size_t n = 0;
    const char *raw = ev ? event_raw(ev, &n) : NULL;
    if (raw && n == 0 && !ev->stored && ev->sbufs) raw = NULL; /* a builder's cleared text */
    if (len) *len = raw ? n : 0;
    return raw;
}

const uint8_t event_skip_tab[256] = {
    [EV_I8] = 1, [EV_I16] = 2, [EV_I32] = 4, [EV_I64] = 8, [EV_F64] = 8,
    [EV_S8] = EVENT_SKIP_S8, [EV_S32] = EVENT_SKIP_S32, /* the rest: 0 */
};

/* The code of value v in the packed form of an event of time t (event.h). */
static inline uint8_t value_code(const cep_value *v, int64_t t) {
    if (v->type == CEP_INT) {
        int64_t i = v->u.i;
        if ((uint64_t)i + 64 < 128) return (uint8_t)(i + EV_SMALL_ZERO);
        if (i == t) return EV_TIME;
        if (i != (int32_t)i) return EV_I64;
        return i == (int16_t)i ? (i == (int8_t)i ? EV_I8 : EV_I16) : EV_I32;
    }
    if (v->type == CEP_STRING) return v->u.s.len < 256 ? EV_S8 : EV_S32;
    if (v->type == CEP_DOUBLE) return EV_F64;
    if (v->type == CEP_BOOL) return v->u.b ? EV_TRUE : EV_FALSE;
    return EV_NULL;
}

/* Bytes the value v of code c takes. */
static inline size_t code_bytes(uint8_t c, const cep_value *v) {
    static const uint8_t fixed[EV_S32 + 1] = {0, 0, 0, 0, 1, 2, 4, 8, 8, 2, 5};
    if (c >= EV_SMALL) return 0;
    return fixed[c] + (c >= EV_S8 ? v->u.s.len : 0);
}

/* Write value v of code c at p. */
static inline void pack_value(uint8_t c, const cep_value *v, uint8_t *p) {
    switch (c) {
    case EV_I8: *p = (uint8_t)v->u.i; break;
    case EV_I16: { int16_t x = (int16_t)v->u.i; memcpy(p, &x, 2); break; }
    case EV_I32: { int32_t x = (int32_t)v->u.i; memcpy(p, &x, 4); break; }
    case EV_I64: memcpy(p, &v->u.i, 8); break;
    case EV_F64: memcpy(p, &v->u.d, 8); break;
    case EV_S8:
        p[0] = (uint8_t)v->u.s.len;
        copy_bytes(p + 1, v->u.s.ptr, v->u.s.len); /* most strings are short: no call */
        p[1 + v->u.s.len] = '\0';
        break;
    case EV_S32: {
        uint32_t l = (uint32_t)v->u.s.len;
        memcpy(p, &l, 4);
        memcpy(p + 4, v->u.s.ptr, l);
        p[4 + l] = '\0';
        break;
    }
    default: break;
    }
}

uint64_t event_stored_tag(const cep_event *ev) {
    if (!(ev->stored & EVENT_TAIL_TAG)) return 0;
    const uint8_t *p = event_values_end(ev);
    if (ev->stored & EVENT_TAIL_RAW) p += 4 + (size_t)event_rd32(p) + 1;
    uint64_t t;
    memcpy(&t, p, 8);
    return t;
}

const char *event_stored_raw(const cep_event *ev, size_t *len) {
    *len = 0;
    if (!(ev->stored & EVENT_TAIL_RAW)) return NULL;
    const uint8_t *p = event_values_end(ev);
    *len = event_rd32(p);
    return (const char *)p + 4;
}

const cep_value *event_decode(const cep_event *ev, cep_value **buf, size_t *cap) {
    if (mem_grow((void **)buf, cap, ev->nslots ? ev->nslots : 1, sizeof **buf) < 0) return NULL;
    event_reader r = event_reader_of(ev);
    for (uint32_t i = 0; i < ev->nslots; i++) (*buf)[i] = event_next(&r);
    return *buf;
}

void event_thaw(const cep_event *ev, cep_event *view, cep_value *vals) {
    memset(view, 0, sizeof *view);
    view->nslots = ev->nslots;
    view->time = ev->time;
    view->seq = ev->seq;
    view->has_time = ev->has_time;
    view->tag = event_tag(ev);
    event_reader r = event_reader_of(ev);
    for (uint32_t i = 0; i < ev->nslots; i++) vals[i] = event_next(&r);
    view->vals = vals;
    size_t rl;
    const char *raw = event_raw(ev, &rl);
    view->raw = (char *)raw;
    view->raw_len = raw ? rl : 0;
}

/* Raw text of ev worth keeping: NULL when none or empty. */
static const char *kept_raw(const cep_event *ev, size_t *len) {
    const char *raw = event_raw(ev, len);
    return raw && *len ? raw : NULL;
}

/* Bytes of the k values v packed, their codes into codes (unless NULL). */
static inline size_t size_values(const cep_value *v, uint32_t k, int64_t t, uint8_t *codes) {
    size_t n = 0;
    for (uint32_t i = 0; i < k; i++) {
        uint8_t c = value_code(&v[i], t);
        if (codes) codes[i] = c;
        n += code_bytes(c, &v[i]);
    }
    return n;
}

/* Pack the k values v (codes: theirs, or NULL) as codes at code, values
 * at p; returns the end of the values. */
static inline uint8_t *pack_values(const cep_value *v, uint32_t k, int64_t t, const uint8_t *codes, uint8_t *code,
                                   uint8_t *p) {
    for (uint32_t i = 0; i < k; i++) {
        uint8_t c = codes ? codes[i] : value_code(&v[i], t);
        code[i] = c;
        pack_value(c, &v[i], p);
        p += code_bytes(c, &v[i]);
    }
    return p;
}

/* A stored event's values are decoded this many at a time when it is
 * stored again (a match's event pushed back). */
#define DECODE_RUN 16

/* The next min(DECODE_RUN, nslots - from) values of r's event into buf. */
static uint32_t decode_run(event_reader *r, uint32_t from, cep_value *buf) {
    uint32_t k = r->ev->nslots - from < DECODE_RUN ? r->ev->nslots - from : DECODE_RUN;
    for (uint32_t j = 0; j < k; j++) buf[j] = event_next(r);
    return k;
}

size_t event_frozen_size(const cep_event *ev, uint8_t *codes) {
    const uint32_t ns = ev->nslots;
    size_t n = EVENT_NODE_ROOM + EVENT_STORED_HDR + ns, rl;
    if (!ev->stored) {
        n += size_values(ev->vals, ns, ev->time, codes);
    } else {
        cep_value buf[DECODE_RUN];
        event_reader r = event_reader_of(ev);
        for (uint32_t i = 0, k; i < ns; i += k) {
            k = decode_run(&r, i, buf);
            n += size_values(buf, k, ev->time, codes ? codes + i : NULL);
        }
    }
    if (kept_raw(ev, &rl)) n += rl + 1 + 4;
    if (event_tag(ev)) n += 8;
    return n > UINT32_MAX ? 0 : n;
}

/* The stored header of ev's copy f. */
static void write_header(cep_event *f, const cep_event *ev) {
    /* Only the stored header exists: no assignment of the whole struct. */
    memset(f, 0, EVENT_STORED_HDR);
    f->nslots = ev->nslots;
    f->refs = 1;
    f->time = ev->time;
    f->seq = ev->seq;
    f->stored = EVENT_STORED;
    f->has_time = ev->has_time;
}

/* The tail of f at p: raw text (rl bytes, NULL: none) and tag (0: none). */
static void write_tail(cep_event *f, uint8_t *p, const char *raw, size_t rl, uint64_t tag) {
    if (raw) {
        uint32_t l = (uint32_t)rl;
        memcpy(p, &l, 4);
        memcpy(p + 4, raw, rl);
        p[4 + rl] = '\0';
        p += 4 + rl + 1;
        f->stored |= EVENT_TAIL_RAW;
    }
    if (tag) {
        memcpy(p, &tag, 8);
        f->stored |= EVENT_TAIL_TAG;
    }
}

cep_event *event_freeze_to(const cep_event *ev, void *block, size_t n, const uint8_t *codes) {
    const uint32_t ns = ev->nslots;
    /* The node room is left for the engine; refs 0 there marks it free. */
    memset(block, 0, EVENT_NODE_ROOM);
    cep_event *f = (cep_event *)((char *)block + EVENT_NODE_ROOM);
    write_header(f, ev);
    uint8_t *code = (uint8_t *)f + EVENT_STORED_HDR, *p = code + ns;
    if (!ev->stored) {
        p = pack_values(ev->vals, ns, ev->time, codes, code, p);
    } else {
        cep_value buf[DECODE_RUN];
        event_reader r = event_reader_of(ev);
        for (uint32_t i = 0, k; i < ns; i += k) {
            k = decode_run(&r, i, buf);
            p = pack_values(buf, k, ev->time, codes ? codes + i : NULL, code + i, p);
        }
    }
    size_t rl;
    const char *raw = kept_raw(ev, &rl);
    write_tail(f, p, raw, rl, event_tag(ev));
    return f;
}

size_t event_pack(const cep_event *ev, void *buf, size_t cap) {
    const uint32_t ns = ev->nslots;
    const int64_t t = ev->time;
    uint8_t *block = buf, *end = block + cap;
    if (ev->stored || EVENT_NODE_ROOM + EVENT_STORED_HDR + (size_t)ns > cap) return 0;
    uint8_t *code = block + EVENT_NODE_ROOM + EVENT_STORED_HDR, *p = code + ns;
    for (uint32_t i = 0; i < ns; i++) {
        const cep_value *v = &ev->vals[i];
        uint8_t c = code[i] = value_code(v, t);
        size_t b = code_bytes(c, v);
        if (b > (size_t)(end - p)) return 0;
        pack_value(c, v, p);
        p += b;
    }
    size_t rl;
    const char *raw = kept_raw(ev, &rl);
    uint64_t tag = event_tag(ev);
    size_t n = (size_t)(p - block) + (raw ? rl + 1 + 4 : 0) + (tag ? 8 : 0);
    if (n > cap) return 0;
    memset(block, 0, EVENT_NODE_ROOM);
    cep_event *f = (cep_event *)(block + EVENT_NODE_ROOM);
    write_header(f, ev);
    write_tail(f, p, raw, rl, tag);
    return n;
}

cep_event *event_freeze(const cep_event *ev) {
    size_t n = event_frozen_size(ev, NULL);
    void *block = n ? mem_alloc(n) : NULL;
    return block ? event_freeze_to(ev, block, n, NULL) : NULL;
}

void event_release(cep_event *ev) {
    if (ev && --ev->refs == 0) mem_free(event_block(ev));
}
