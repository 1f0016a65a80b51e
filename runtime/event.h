/* event.h — event rows: the builder form callers fill (cep_event_new) and
 * the packed form the engine stores (one allocation, reference counted).
 * Both are `struct cep_event`, so matches hand out stored events directly;
 * `stored` tells them apart, and the public read calls decode either. */
#ifndef CEP_EVENT_H
#define CEP_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "cepheus.h"

/* Per-slot string storage of a builder, reused from event to event. */
typedef struct slot_buf {
    char *p;
    size_t cap;
} slot_buf;

/* The first EVENT_STORED_HDR bytes are all a stored event has of the
 * struct: its block goes on with its packed values (below). The rest are
 * the builder's, never read on a stored event. */
struct cep_event {
    uint32_t refs;        /* stored events: owners; builders: 0 */
    uint16_t nslots;      /* (a program reads at most NFA_MAX_FIELDS) */
    uint8_t stored;       /* 0: a builder; else EVENT_STORED and the
                           * EVENT_TAIL_* bits of what ends its block */
    uint8_t has_time;
    int64_t time;
    uint64_t seq;         /* stored events: processing order */
    /* Builder-only state (and a lent view's, event_thaw). */
    uint64_t tag;         /* the caller's handle, carried along */
    cep_value *vals;      /* nslots values */
    char *raw;            /* original text or NULL: raw_buf's, or lent
                           * (json_parse_lent; not NUL-terminated) */
    size_t raw_len;
    slot_buf *sbufs;      /* one per slot; NULL in a lent view */
    const cep_program *prog;
    char *raw_buf;        /* the builder's own copy of its text */
    size_t raw_cap;
    void *json;           /* parser state kept between parses (json.c) */
    char *err;            /* reason of the last failed parse (EVENT_ERR_SIZE
                           * bytes after the builder) */
};

#define EVENT_ERR_SIZE 192
#define EVENT_STORED_HDR offsetof(struct cep_event, tag)

/* A stored event is one block: the first node that takes it (see eval.h's
 * pm_node; most events are taken once), then the event's stored header
 * (24 bytes: no size, which its codes give: event_stored_size), one code
 * byte per slot, the slots' packed values in slot order, then its tail:
 * the raw text (u32 length, bytes, NUL) and the tag (u64), each only when
 * there is one. A value takes what its code says (EV_*): nothing for
 * null, booleans, small integers and an integer equal to the event's time;
 * 1, 2, 4 or 8 bytes for other integers, 8 for a double; a string its
 * length (1 byte below 256, else 4), its bytes and a NUL. Unaligned: read
 * with memcpy. Reading slot i walks the codes before it: events have the
 * few fields their patterns read. */
#define EVENT_NODE_ROOM 16

enum {
    EV_NULL, EV_FALSE, EV_TRUE, EV_TIME, EV_I8, EV_I16, EV_I32, EV_I64, EV_F64, EV_S8, EV_S32,
    EV_SMALL = 0x80 /* 0x80..0xff: the integer code - EV_SMALL_ZERO (-64..63) */
};
#define EV_SMALL_ZERO 0xC0
#define EVENT_STORED 1u   /* (cep_event.stored) */
#define EVENT_TAIL_RAW 2u
#define EVENT_TAIL_TAG 4u

static inline const uint8_t *event_codes(const cep_event *ev) { return (const uint8_t *)ev + EVENT_STORED_HDR; }

static inline uint32_t event_rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Bytes the value of each code takes, EVENT_SKIP_S8/S32 for strings
 * (event.c). One load for the common codes: reads walk them. */
extern const uint8_t event_skip_tab[256];
#define EVENT_SKIP_S8 0xFF
#define EVENT_SKIP_S32 0xFE

/* Bytes the value of code c at p takes. */
static inline __attribute__((always_inline)) size_t event_skip(uint8_t c, const uint8_t *p) {
    uint8_t s = event_skip_tab[c];
    if (__builtin_expect(s < EVENT_SKIP_S32, 1)) return s;
    return s == EVENT_SKIP_S8 ? 2 + (size_t)p[0] : 5 + (size_t)event_rd32(p);
}

/* The value of code c at p, of stored event ev. */
static inline cep_value event_read(const cep_event *ev, uint8_t c, const uint8_t *p) {
    cep_value v = {.type = CEP_INT};
    if (c >= EV_SMALL) {
        v.u.i = (int64_t)c - EV_SMALL_ZERO;
        return v;
    }
    switch (c) {
    case EV_FALSE: v.type = CEP_BOOL; v.u.b = 0; break;
    case EV_TRUE: v.type = CEP_BOOL; v.u.b = 1; break;
    case EV_TIME: v.u.i = ev->time; break;
    case EV_I8: v.u.i = (int8_t)p[0]; break;
    case EV_I16: { int16_t x; memcpy(&x, p, 2); v.u.i = x; break; }
    case EV_I32: { int32_t x; memcpy(&x, p, 4); v.u.i = x; break; }
    case EV_I64: memcpy(&v.u.i, p, 8); break;
    case EV_F64: v.type = CEP_DOUBLE; memcpy(&v.u.d, p, 8); break;
    case EV_S8: v.type = CEP_STRING; v.u.s.len = p[0]; v.u.s.ptr = (const char *)p + 1; break;
    case EV_S32: v.type = CEP_STRING; v.u.s.len = event_rd32(p); v.u.s.ptr = (const char *)p + 4; break;
    default: v.type = CEP_NULL; break;
    }
    return v;
}

/* Slot i of a stored event (i < nslots). */
static inline __attribute__((always_inline)) cep_value event_stored_value(const cep_event *ev, uint32_t i) {
    const uint8_t *c = event_codes(ev), *p = c + ev->nslots;
    for (uint32_t j = 0; j < i; j++) p += event_skip(c[j], p);
    return event_read(ev, c[i], p);
}

/* Slot i of any event (i < nslots). */
static inline cep_value event_value(const cep_event *ev, uint32_t i) {
    return ev->stored ? event_stored_value(ev, i) : ev->vals[i];
}

/* Reads an event's values in slot order, either form: O(1) a value. */
typedef struct event_reader {
    const cep_event *ev;
    const uint8_t *p;
    uint32_t i;
} event_reader;

static inline event_reader event_reader_of(const cep_event *ev) {
    event_reader r = {ev, ev->stored ? event_codes(ev) + ev->nslots : NULL, 0};
    return r;
}

static inline cep_value event_next(event_reader *r) {
    const cep_event *ev = r->ev;
    uint32_t i = r->i++;
    if (!ev->stored) return ev->vals[i];
    uint8_t c = event_codes(ev)[i];
    cep_value v = event_read(ev, c, r->p);
    r->p += event_skip(c, r->p);
    return v;
}

/* cep_event_clear of a builder. */
static inline void event_clear_builder(cep_event *ev) {
    memset(ev->vals, 0, ev->nslots * sizeof *ev->vals);
    ev->has_time = 0;
    ev->time = 0;
    ev->raw = ev->raw_buf;
    ev->raw_len = 0;
    ev->tag = 0;
    ev->err[0] = '\0';
}

/* Tag and raw text of any event (raw NULL: none). */
uint64_t event_stored_tag(const cep_event *ev);
const char *event_stored_raw(const cep_event *ev, size_t *len);
static inline uint64_t event_tag(const cep_event *ev) { return ev->stored ? event_stored_tag(ev) : ev->tag; }
static inline const char *event_raw(const cep_event *ev, size_t *len) {
    if (ev->stored) return event_stored_raw(ev, len);
    *len = ev->raw ? ev->raw_len : 0;
    return ev->raw;
}

/* ev's values as a row of nslots cep_values: a builder's own array, or a
 * stored event's decoded into *buf (grown to hold them; its strings point
 * into ev). NULL when *buf cannot grow. */
const cep_value *event_decode(const cep_event *ev, cep_value **buf, size_t *cap);
static inline const cep_value *event_row(const cep_event *ev, cep_value **buf, size_t *cap) {
    return ev->stored ? event_decode(ev, buf, cap) : ev->vals;
}
/* A builder-form view of stored event ev, lent: its values decoded into
 * vals (ev->nslots of them), its strings and raw text ev's. Never freed;
 * valid while ev is. Lets code written for rows take a stored event. */
void event_thaw(const cep_event *ev, cep_event *view, cep_value *vals);

/* Bytes of the block a stored copy of ev takes (0: more than a block can
 * say, 4 GiB); codes, when not NULL, gets its values' codes (nslots). */
size_t event_frozen_size(const cep_event *ev, uint8_t *codes);
/* Copy ev (either form) into block (event_frozen_size(ev) = n bytes) as a
 * stored event with refs = 1, with the codes event_frozen_size gave (NULL:
 * found again); returns the event, which starts EVENT_NODE_ROOM bytes into
 * the block (the engine's stored events, in its slab). */
cep_event *event_freeze_to(const cep_event *ev, void *block, size_t n, const uint8_t *codes);
/* The whole block of a stored copy of builder ev, in one pass, into buf
 * (cap bytes); returns its size, or 0 when ev is stored or its block
 * would not fit (then event_frozen_size and event_freeze_to). The block
 * holds no pointer: it may be copied where it is to stay. */
size_t event_pack(const cep_event *ev, void *buf, size_t cap);
/* Events of up to this many fields are frozen with their codes on the stack. */
#define EVENT_CODES_MAX 64
/* The same in a heap block of its own (NULL on ENOMEM), freed by
 * event_release when its last reference goes (tests). */
cep_event *event_freeze(const cep_event *ev);
void event_release(cep_event *ev);
static inline void event_retain(cep_event *ev) { ev->refs++; }
/* Where a stored event's values end (its tail, if any, begins). */
static inline const uint8_t *event_values_end(const cep_event *ev) {
    const uint8_t *c = event_codes(ev), *p = c + ev->nslots;
    for (uint32_t j = 0; j < ev->nslots; j++) p += event_skip(c[j], p);
    return p;
}
/* The block of a stored event, and its size (node room included). */
static inline void *event_block(cep_event *ev) { return (char *)ev - EVENT_NODE_ROOM; }
static inline size_t event_stored_size(const cep_event *ev) {
    const uint8_t *p = event_values_end(ev);
    if (ev->stored & EVENT_TAIL_RAW) p += 4 + (size_t)event_rd32(p) + 1;
    if (ev->stored & EVENT_TAIL_TAG) p += 8;
    return (size_t)(p - (const uint8_t *)ev) + EVENT_NODE_ROOM;
}

#endif
