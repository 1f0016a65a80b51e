/* event.h — event rows: the builder form callers fill (cep_event_new) and
 * the frozen form the engine stores (one allocation, reference counted).
 * Both are `struct cep_event`, so matches hand out stored events directly. */
#ifndef CEP_EVENT_H
#define CEP_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include "cepheus.h"

/* Per-slot string storage of a builder, reused from event to event. */
typedef struct slot_buf {
    char *p;
    size_t cap;
} slot_buf;

/* The fields a stored event needs come first; a stored event's block ends
 * with them (EVENT_STORED_HDR), then its values and bytes. The rest are the
 * builder's. sbufs tells the two apart (NULL: stored). */
struct cep_event {
    uint32_t nslots;
    uint32_t refs;        /* stored events: owners; builders: 0 */
    int64_t time;
    uint64_t seq;         /* stored events: processing order */
    uint64_t tag;         /* the caller's handle, carried along */
    cep_value *vals;      /* nslots values */
    char *raw;            /* original text or NULL */
    size_t raw_len;
    slot_buf *sbufs;      /* builders: one per slot; NULL when stored */
    size_t size;          /* stored: bytes of its block (node included) */
    int has_time;
    /* Builder-only state. */
    const cep_program *prog;
    size_t raw_cap;
    void *json;           /* parser state kept between parses (json.c) */
    char *err;            /* reason of the last failed parse (EVENT_ERR_SIZE
                           * bytes after the builder) */
};

#define EVENT_ERR_SIZE 192
#define EVENT_STORED_HDR offsetof(struct cep_event, prog)

/* A stored event is one block: the first node that takes it (see nfa.h's
 * pm_node; most events are taken once), then the event's stored header,
 * values, string bytes and raw text. Node and event share cache lines. */
#define EVENT_NODE_ROOM 32

/* Bytes of the block a stored copy of ev takes. */
size_t event_frozen_size(const cep_event *ev);
/* Copy builder ev into block (event_frozen_size(ev) = n bytes) as a stored
 * event with refs = 1; returns the event, which starts EVENT_NODE_ROOM
 * bytes into the block (the engine's stored events, in its slab). */
cep_event *event_freeze_to(const cep_event *ev, void *block, size_t n);
/* The same in a heap block of its own (NULL on ENOMEM), freed by
 * event_release when its last reference goes (tests). */
cep_event *event_freeze(const cep_event *ev);
void event_release(cep_event *ev);
static inline void event_retain(cep_event *ev) { ev->refs++; }
/* The block of a stored event, and its size. */
static inline void *event_block(cep_event *ev) { return (char *)ev - EVENT_NODE_ROOM; }
static inline size_t event_stored_size(const cep_event *ev) { return ev->size; }

#endif
