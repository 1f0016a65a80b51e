/* event.h — event rows: the builder form callers fill (cep_event_new) and
 * the frozen form the engine stores (one allocation, reference counted).
 * Both are `struct cep_event`, so matches hand out stored events directly. */
#ifndef CEP_EVENT_H
#define CEP_EVENT_H

#include <stdint.h>
#include "cepheus.h"

/* Per-slot string storage of a builder, reused from event to event. */
typedef struct slot_buf {
    char *p;
    size_t cap;
} slot_buf;

struct cep_event {
    uint32_t nslots;
    uint32_t refs;        /* stored events: owners; builders: 0 */
    int has_time;
    int64_t time;
    uint64_t seq;         /* stored events: processing order */
    uint64_t tag;         /* the caller's handle, carried along */
    cep_value *vals;      /* nslots values */
    char *raw;            /* original text or NULL */
    size_t raw_len;
    /* Builder-only state (NULL / 0 in stored events). */
    const cep_program *prog;
    slot_buf *sbufs;      /* one per slot */
    size_t raw_cap;
    void *json;           /* parser state kept between parses (json.c) */
    char *err;            /* reason of the last failed parse (EVENT_ERR_SIZE
                           * bytes after the builder; NULL when stored) */
};

#define EVENT_ERR_SIZE 192

/* Copy a builder into mem, event_frozen_size(ev) = n bytes, as a frozen
 * event with refs = 1 (the engine's stored events, in its slab). */
cep_event *event_freeze_to(const cep_event *ev, void *mem, size_t n);
/* The same in a heap block of its own (NULL on ENOMEM), freed by
 * event_release when its last reference goes (tests). */
cep_event *event_freeze(const cep_event *ev);
void event_release(cep_event *ev);
static inline void event_retain(cep_event *ev) { ev->refs++; }
/* Bytes a frozen copy of ev takes (for memory accounting). */
size_t event_frozen_size(const cep_event *ev);
/* Bytes a stored (frozen) event takes: kept in it when it was made. */
static inline size_t event_stored_size(const cep_event *ev) { return ev->raw_cap; }

#endif
