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

CEP_API void cep_event_free(cep_event *ev) {
    /* A stored event (a match's) is the engine's, not the caller's: its
     * block goes with its last reference, never here. */
    if (!ev || !ev->sbufs) return;
    for (uint32_t i = 0; i < ev->nslots; i++) mem_free(ev->sbufs[i].p);
    mem_free(ev->sbufs);
    mem_free(ev->vals);
    mem_free(ev->raw);
    json_state_free(ev->json);
    mem_free(ev);
}

CEP_API void cep_event_clear(cep_event *ev) {
    if (!ev || !ev->sbufs) return;
    memset(ev->vals, 0, ev->nslots * sizeof *ev->vals);
    ev->has_time = 0;
    ev->time = 0;
    ev->raw_len = 0;
    ev->tag = 0;
    ev->err[0] = '\0';
}

CEP_API int cep_event_set_tag(cep_event *ev, uint64_t tag) {
    if (!ev || !ev->sbufs) return CEP_EINVAL;
    ev->tag = tag;
    return CEP_OK;
}

CEP_API uint64_t cep_event_tag(const cep_event *ev) { return ev ? ev->tag : 0; }

CEP_API int cep_event_set_time(cep_event *ev, int64_t ms) {
    if (!ev || !ev->sbufs) return CEP_EINVAL;
    ev->time = ms;
    ev->has_time = 1;
    return CEP_OK;
}

static cep_value *slot_ref(cep_event *ev, int slot) {
    if (!ev || !ev->sbufs || slot < 0 || (uint32_t)slot >= ev->nslots) return NULL;
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
    if (!ev || !ev->sbufs || (!text && len)) return CEP_EINVAL;
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
    if (ev && slot >= 0 && (uint32_t)slot < ev->nslots) v = ev->vals[slot];
    return v;
}

CEP_API const char *cep_event_raw(const cep_event *ev, size_t *len) {
    if (!ev || !ev->raw || (ev->sbufs && ev->raw_len == 0)) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = ev->raw_len;
    return ev->raw;
}

size_t event_frozen_size(const cep_event *ev) {
    size_t n = EVENT_NODE_ROOM + EVENT_STORED_HDR + ev->nslots * sizeof(cep_value);
    for (uint32_t i = 0; i < ev->nslots; i++)
        if (ev->vals[i].type == CEP_STRING) n += ev->vals[i].u.s.len + 1;
    if (ev->raw && ev->raw_len) n += ev->raw_len + 1;
    return n;
}

cep_event *event_freeze_to(const cep_event *ev, void *block, size_t n) {
    /* The node room is left for the engine; refs 0 there marks it free. */
    memset(block, 0, EVENT_NODE_ROOM);
    cep_event *f = (cep_event *)((char *)block + EVENT_NODE_ROOM);
    /* Only the stored header exists: no assignment of the whole struct. */
    f->nslots = ev->nslots;
    f->refs = 1;
    f->time = ev->time;
    f->seq = ev->seq;
    f->tag = ev->tag;
    f->raw = NULL;
    f->raw_len = 0;
    f->sbufs = NULL;
    f->size = n;
    f->has_time = ev->has_time;
    f->vals = (cep_value *)((char *)f + EVENT_STORED_HDR);
    char *bytes = (char *)(f->vals + f->nslots);
    for (uint32_t i = 0; i < ev->nslots; i++) {
        f->vals[i] = ev->vals[i];
        if (f->vals[i].type != CEP_STRING) continue;
        size_t l = f->vals[i].u.s.len;
        const char *src = f->vals[i].u.s.ptr;
        copy_bytes(bytes, src, l); /* most strings are short: no call */
        bytes[l] = '\0';
        f->vals[i].u.s.ptr = bytes;
        bytes += l + 1;
    }
    if (ev->raw && ev->raw_len) {
        memcpy(bytes, ev->raw, ev->raw_len);
        bytes[ev->raw_len] = '\0';
        f->raw = bytes;
        f->raw_len = ev->raw_len;
    }
    return f;
}

cep_event *event_freeze(const cep_event *ev) {
    size_t n = event_frozen_size(ev);
    void *block = mem_alloc(n);
    return block ? event_freeze_to(ev, block, n) : NULL;
}

void event_release(cep_event *ev) {
    if (ev && --ev->refs == 0) mem_free(event_block(ev));
}
