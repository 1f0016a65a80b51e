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
    mem_free(ev->raw);
    json_state_free(ev->json);
    mem_free(ev);
}

CEP_API void cep_event_clear(cep_event *ev) {
    if (!is_builder(ev)) return;
    memset(ev->vals, 0, ev->nslots * sizeof *ev->vals);
    ev->has_time = 0;
    ev->time = 0;
    ev->raw_len = 0;
    ev->tag = 0;
    ev->err[0] = '\0';
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
        char *np = mem_realloc(ev->raw, cap);
        if (!np) return CEP_ENOMEM;
        ev->raw = np;
        ev->raw_cap = cap;
    }
    if (len) memcpy(ev->raw, text, len);
    ev->raw[len] = '\0';
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

/* The code of value v of an event of time t, and the bytes its value takes
 * in the packed form (event.h). */
static uint8_t pack_code(const cep_value *v, int64_t t, size_t *bytes) {
    *bytes = 0;
    switch (v->type) {
    case CEP_BOOL: return v->u.b ? EV_TRUE : EV_FALSE;
    case CEP_INT: {
        int64_t i = v->u.i;
        if (i >= -64 && i < 64) return (uint8_t)(i + EV_SMALL_ZERO);
        if (i == t) return EV_TIME;
        if (i == (int8_t)i) return *bytes = 1, EV_I8;
        if (i == (int16_t)i) return *bytes = 2, EV_I16;
        if (i == (int32_t)i) return *bytes = 4, EV_I32;
        return *bytes = 8, EV_I64;
    }
    case CEP_DOUBLE: return *bytes = 8, EV_F64;
    case CEP_STRING:
        if (v->u.s.len < 256) return *bytes = 2 + v->u.s.len, EV_S8;
        return *bytes = 5 + v->u.s.len, EV_S32;
    default: return EV_NULL;
    }
}

uint64_t event_tag(const cep_event *ev) {
    if (!ev->stored) return ev->tag;
    if (!(ev->tail & EVENT_TAIL_TAG)) return 0;
    uint64_t t;
    memcpy(&t, (const char *)ev - EVENT_NODE_ROOM + ev->size - 8, 8);
    return t;
}

const char *event_raw(const cep_event *ev, size_t *len) {
    if (!ev->stored) {
        *len = ev->raw ? ev->raw_len : 0;
        return ev->raw;
    }
    *len = 0;
    if (!(ev->tail & EVENT_TAIL_RAW)) return NULL;
    const uint8_t *end = (const uint8_t *)ev - EVENT_NODE_ROOM + ev->size - (ev->tail & EVENT_TAIL_TAG ? 8 : 0);
    *len = event_rd32(end - 4);
    return (const char *)end - 4 - 1 - *len;
}

const cep_value *event_row(const cep_event *ev, cep_value **buf, size_t *cap) {
    if (!ev->stored) return ev->vals;
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

size_t event_frozen_size(const cep_event *ev) {
    size_t n = EVENT_NODE_ROOM + EVENT_STORED_HDR + ev->nslots, b, rl;
    event_reader r = event_reader_of(ev);
    for (uint32_t i = 0; i < ev->nslots; i++) {
        cep_value v = event_next(&r);
        pack_code(&v, ev->time, &b);
        n += b;
    }
    if (kept_raw(ev, &rl)) n += rl + 1 + 4;
    if (event_tag(ev)) n += 8;
    return n > UINT32_MAX ? 0 : n;
}

cep_event *event_freeze_to(const cep_event *ev, void *block, size_t n) {
    /* The node room is left for the engine; refs 0 there marks it free. */
    memset(block, 0, EVENT_NODE_ROOM);
    cep_event *f = (cep_event *)((char *)block + EVENT_NODE_ROOM);
    /* Only the stored header exists: no assignment of the whole struct. */
    memset(f, 0, EVENT_STORED_HDR);
    f->nslots = ev->nslots;
    f->refs = 1;
    f->time = ev->time;
    f->seq = ev->seq;
    f->size = (uint32_t)n;
    f->stored = 1;
    f->has_time = ev->has_time;
    uint8_t *code = (uint8_t *)f + EVENT_STORED_HDR, *p = code + f->nslots;
    event_reader r = event_reader_of(ev);
    for (uint32_t i = 0; i < ev->nslots; i++) {
        cep_value v = event_next(&r);
        size_t b;
        uint8_t c = code[i] = pack_code(&v, ev->time, &b);
        switch (c) {
        case EV_I8: *p = (uint8_t)v.u.i; break;
        case EV_I16: { int16_t x = (int16_t)v.u.i; memcpy(p, &x, 2); break; }
        case EV_I32: { int32_t x = (int32_t)v.u.i; memcpy(p, &x, 4); break; }
        case EV_I64: memcpy(p, &v.u.i, 8); break;
        case EV_F64: memcpy(p, &v.u.d, 8); break;
        case EV_S8:
            p[0] = (uint8_t)v.u.s.len;
            copy_bytes(p + 1, v.u.s.ptr, v.u.s.len); /* most strings are short: no call */
            p[1 + v.u.s.len] = '\0';
            break;
        case EV_S32: {
            uint32_t l = (uint32_t)v.u.s.len;
            memcpy(p, &l, 4);
            memcpy(p + 4, v.u.s.ptr, l);
            p[4 + l] = '\0';
            break;
        }
        default: break;
        }
        p += b;
    }
    size_t rl;
    const char *raw = kept_raw(ev, &rl);
    if (raw) {
        uint32_t l = (uint32_t)rl;
        memcpy(p, raw, rl);
        p[rl] = '\0';
        memcpy(p + rl + 1, &l, 4);
        p += rl + 1 + 4;
        f->tail |= EVENT_TAIL_RAW;
    }
    uint64_t tag = event_tag(ev);
    if (tag) {
        memcpy(p, &tag, 8);
        f->tail |= EVENT_TAIL_TAG;
    }
    return f;
}

cep_event *event_freeze(const cep_event *ev) {
    size_t n = event_frozen_size(ev);
    void *block = n ? mem_alloc(n) : NULL;
    return block ? event_freeze_to(ev, block, n) : NULL;
}

void event_release(cep_event *ev) {
    if (ev && --ev->refs == 0) mem_free(event_block(ev));
}
