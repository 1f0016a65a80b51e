/* reload.c — changing the program an engine runs without losing state:
 * patterns kept (same name, same fingerprint) keep their keys and partial
 * matches, removed ones drop theirs, new ones start empty. Stored events
 * are copied into the new program's slot layout. */
#include "config.h"
#include "engine.h"
#include "hash.h"
#include "json.h"
#include "mem.h"
#include "names.h"
#include "ptrmap.h"
#include "tecs.h"

#include <string.h>

typedef struct remap {
    cep_engine *e;
    const cep_program *np;
    int *slot;              /* old slot -> new slot, -1: not read any more */
    cep_event *builder;     /* for the new layout */
    ptrmap done;            /* old event -> index in copies */
    cep_event **copies;
    size_t ncopies, cap;
    ptrmap nodes;           /* old node -> index in nnew */
    pm_node **nnew;
    size_t nnodes, nncap;
    pm_node **olds;         /* old nodes held by partial matches, let go at the end */
    size_t nolds, ocap;
    pm_node **stk;
    size_t nstk, scap;
    int oom;
} remap;

/* The copy of ev in the new layout, made once however many nodes share ev.
 * A buffered event still to be matched is parsed again from its text when
 * it has one, so new patterns see the fields they read. */
static cep_event *copy_event(remap *r, cep_event *ev, int reparse) {
    uint32_t id = ptr_get(&r->done, ev);
    if (id != PTRMAP_NONE) return r->copies[id];
    cep_event *b = r->builder;
    cep_event_clear(b);
    size_t raw_len;
    const char *raw = event_raw(ev, &raw_len);
    int parsed = reparse && raw &&
                 cep_event_parse_json(b, raw, raw_len,
                                      r->e->cfg.time_field ? r->e->cfg.time_field : CEP_DEFAULT_TIME_FIELD) == CEP_OK;
    if (!parsed) {
        cep_event_clear(b);
        event_reader it = event_reader_of(ev);
        for (uint32_t i = 0; i < ev->nslots; i++) {
            cep_value v = event_next(&it);
            int to = r->slot[i];
            if (to < 0) continue;
            switch (v.type) {
            case CEP_NULL: break;
            case CEP_BOOL: cep_event_set_bool(b, to, v.u.b); break;
            case CEP_INT: cep_event_set_int(b, to, v.u.i); break;
            case CEP_DOUBLE: cep_event_set_double(b, to, v.u.d); break;
            case CEP_STRING:
                if (cep_event_set_string(b, to, v.u.s.ptr, v.u.s.len) != CEP_OK) r->oom = 1;
                break;
            }
        }
        if (raw && cep_event_set_raw(b, raw, raw_len) != CEP_OK) r->oom = 1;
    }
    cep_event_set_time(b, ev->time);
    b->seq = ev->seq;
    b->tag = event_tag(ev);
    /* Counted and its tag held as any kept event; the old copy is dropped
     * (counted down, its hold let go) with its last holder. */
    cep_event *f = r->oom ? NULL : engine_keep_event_text(r->e, b); /* (with the text it had) */
    if (!f || mem_grow((void **)&r->copies, &r->cap, r->ncopies + 1, sizeof *r->copies) < 0 ||
        ptr_put(&r->done, ev, (uint32_t)r->ncopies) < 0) {
        engine_drop_event(r->e, f);
        r->oom = 1;
        return NULL;
    }
    /* The reference keep_event gave is the remap's own, dropped at the
     * end: a copy no holder took (out of memory) goes then, once. */
    r->copies[r->ncopies++] = f;
    return f;
}

/* The node of the new program standing for old node n, made with the new
 * nodes above it (a shared prefix once). Nodes are made anew, not changed:
 * an old node may live in its old event's block (event.h), which goes. A
 * new node counts only its holders; NULL when memory ran out. */
static pm_node *new_node(remap *r, pm_node *n) {
    size_t base = r->nstk;
    pm_node *last = NULL; /* made in this call and not held yet */
    for (pm_node *x = n; x && ptr_get(&r->nodes, x) == PTRMAP_NONE; x = x->parent) {
        if (mem_grow((void **)&r->stk, &r->scap, r->nstk + 1, sizeof *r->stk) < 0) goto oom;
        r->stk[r->nstk++] = x;
    }
    while (r->nstk > base) {
        pm_node *o = r->stk[--r->nstk];
        pm_node *parent = o->parent ? r->nnew[ptr_get(&r->nodes, o->parent)] : NULL;
        cep_event *c = copy_event(r, node_ev(o), 0);
        if (!c || mem_grow((void **)&r->nnew, &r->nncap, r->nnodes + 1, sizeof *r->nnew) < 0) goto oom;
        pm_node *nn = engine_node_new(r->e, c, o->step, parent);
        if (!nn) goto oom;
        if (ptr_put(&r->nodes, o, (uint32_t)r->nnodes) < 0) {
            /* nn goes, and with it what this call made above it (each
             * held only by the one below). */
            engine_node_release(r->e, nn);
            last = NULL;
            goto oom;
        }
        nn->refs = 0;
        r->nnew[r->nnodes++] = nn;
        last = nn;
    }
    return r->nnew[ptr_get(&r->nodes, n)];
oom:
    /* What this call made goes (the top of it held by the rest); nothing
     * is looked up in r->nodes after a failure. */
    if (last) {
        last->refs = 1;
        engine_node_release(r->e, last);
    }
    r->nstk = base;
    r->oom = 1;
    return NULL;
}

/* Partial match (or held match) p moves to the new nodes; its old node is
 * let go at the end, when no chain is being copied any more. */
static void move_pm(remap *r, pm *p) {
    if (r->oom) return;
    /* Room to keep the old node first: the new one must have a holder. */
    if (mem_grow((void **)&r->olds, &r->ocap, r->nolds + 1, sizeof *r->olds) < 0) {
        r->oom = 1;
        return;
    }
    pm_node *nn = new_node(r, p->node);
    if (!nn) return;
    nn->refs++;
    r->olds[r->nolds++] = p->node;
    p->node = nn;
}

/* Out of memory for timer entries: partial matches without one could never
 * expire, so they go (the call reports CEP_ENOMEM). */
static void lose_partial_matches(cep_engine *e) {
    key_state *next;
    for (key_state *ks = e->keyset.first; ks; ks = next) {
        next = ks->next;
        key_drop_pms(e, ks);
        key_drop_held(e, ks);
        engine_key_settle(e, ks);
    }
}

/* Out of memory before the switch: what was made for it goes; the
 * engine runs the old program. */
static int not_switched(remap *r, int *pmap) {
    for (size_t i = 0; i < r->ncopies; i++) engine_drop_event(r->e, r->copies[i]);
    ptr_free(&r->done);
    mem_free(r->copies);
    mem_free(pmap);
    mem_free(r->slot);
    cep_event_free(r->builder);
    r->e->cfg.raw_all_emit = engine_all_emit(r->e->prog);
    engine_set_err(r->e, "out of memory while changing the program");
    return CEP_ENOMEM;
}

/* pmap[i]: the index in np of op's pattern i when it is kept (the same
 * name and fingerprint), else -1. By hashed name: comparing every pair
 * took 10^8 strcmp, over a second of each engine's reload, at 10,000
 * patterns. -1 when out of memory. */
static int map_patterns(const cep_program *op, const cep_program *np, int *pmap) {
    name_index ix = {0};
    for (uint32_t j = 0; j < np->npatterns; j++)
        if (name_put(&ix, np->patterns[j].name, j) < 0) { /* names are unique (the checker) */
            name_free(&ix);
            return -1;
        }
    for (uint32_t i = 0; i < op->npatterns; i++) {
        uint32_t j = name_get(&ix, op->patterns[i].name);
        pmap[i] = j != UINT32_MAX && op->patterns[i].fingerprint == np->patterns[j].fingerprint ? (int)j : -1;
    }
    name_free(&ix);
    return 0;
}

CEP_API const cep_program *cep_engine_program(const cep_engine *e) { return e ? e->prog : NULL; }

CEP_API int cep_engine_replace_program(cep_engine *e, const cep_program *np) {
    if (!e || !np) return CEP_EINVAL;
    if (e->finished) return CEP_EFINISHED;
    const cep_program *op = e->prog;
    /* The partial matches move one by one: compact keys go flat first. */
    if (tecs_flatten_all(e) < 0) return CEP_ENOMEM;
    remap r = {.e = e, .np = np};
    int *pmap = mem_calloc(op->npatterns ? op->npatterns : 1, sizeof *pmap);
    r.slot = mem_calloc(op->nfields ? op->nfields : 1, sizeof *r.slot);
    int rc = cep_event_new(np, &r.builder);
    if (!pmap || !r.slot || rc != CEP_OK) {
        mem_free(pmap);
        mem_free(r.slot);
        cep_event_free(r.builder);
        return CEP_ENOMEM;
    }
    if (map_patterns(op, np, pmap) < 0) {
        mem_free(pmap);
        mem_free(r.slot);
        cep_event_free(r.builder);
        return CEP_ENOMEM;
    }
    for (uint32_t i = 0; i < op->nfields; i++)
        r.slot[i] = program_slot(np, op->fields[i], strlen(op->fields[i]));

    /* Buffered events are still to be matched, by every new pattern too:
     * copied before anything changes, so that running out of memory here
     * leaves the engine as it was (no partial match holds them yet).
     * They keep their text: a new pattern without emit may print them. */
    e->cfg.raw_all_emit = 0;
    for (size_t i = 0; i < e->time.reorder.n && !r.oom; i++) copy_event(&r, e->time.reorder.v[i], 1);
    if (r.oom) {
        return not_switched(&r, pmap);
    }

    /* Timer entries are made again in the new program's lanes; keys that
     * held nothing but entries go now. */
    timers_clear(e);
    if (engine_lanes_switch(e, np) < 0) {
        if (timers_rebuild(e) < 0) lose_partial_matches(e);
        return not_switched(&r, pmap);
    }
    /* Keys of removed patterns go; kept ones move to their new index,
     * all out of the key maps first: the new program groups patterns by
     * key anew, and an old key entry must not take a new key state. */
    key_state *next;
    for (key_state *ks = e->keyset.first; ks; ks = next) {
        next = ks->next;
        int j = pmap[key_pattern(ks)];
        if (j < 0) {
            engine_key_free(e, ks);
            continue;
        }
        engine_key_unmap(e, ks);
        uint32_t nj = (uint32_t)j;
        memcpy(ks->key, &nj, 4); /* the encoded key starts with the pattern */
    }
    for (key_state *ks = e->keyset.first; ks; ks = ks->next) {
        if (engine_key_map(e, ks) < 0) r.oom = 1; /* lose_partial_matches frees it */
        bucket *bv = key_buckets(ks);
        for (uint32_t i = 0; i < ks->nb; i++)
            for (uint32_t x = bv[i].lo; x < bv[i].hi; x++) move_pm(&r, &bv[i].v[x]);
        for (uint32_t i = 0; i < key_nheld(ks); i++) move_pm(&r, &ks->held->v[i]);
    }
    /* Out of memory half-way: some chains are in the old layout, which the
     * new program cannot read, so every partial and held match goes. */
    if (r.oom) lose_partial_matches(e);
    for (size_t i = 0; i < r.nolds; i++) engine_node_release(e, r.olds[i]);
    /* The buffered events' copies, made above, take their places. */
    for (size_t i = 0; i < e->time.reorder.n; i++) {
        cep_event *old = e->time.reorder.v[i];
        cep_event *c = r.copies[ptr_get(&r.done, old)];
        event_retain(c);
        engine_drop_event(e, old);
        e->time.reorder.v[i] = c; /* same time and sequence: the heap order holds */
    }
    for (size_t i = 0; i < r.ncopies; i++) engine_drop_event(e, r.copies[i]);
    e->prog = np;
    e->ctx.prog = np;
    e->cfg.raw_all_emit = engine_all_emit(np);
    if (timers_rebuild(e) < 0) {
        lose_partial_matches(e);
        r.oom = 1;
    }
    cep_event_free(e->builder); /* made again for the new layout */
    e->builder = NULL;
    ptr_free(&r.done);
    ptr_free(&r.nodes);
    mem_free(r.copies);
    mem_free(r.nnew);
    mem_free(r.olds);
    mem_free(r.stk);
    mem_free(pmap);
    mem_free(r.slot);
    cep_event_free(r.builder);
    if (r.oom) {
        engine_set_err(e, "out of memory while changing the program");
        return CEP_ENOMEM;
    }
    return CEP_OK;
}
