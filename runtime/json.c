/* json.c — one JSON object text into an event row (cep_event_parse_json),
 * between the caller's input and runtime/engine.c. yajl's callbacks put the
 * top-level fields the program reads into their slots and read the time.
 *
 * No steady-state allocation: yajl allocates a handle per parse (a handle
 * cannot be reset), so its allocator is an arena kept in cep_event.json,
 * rewound at each parse and regrown only when a longer text arrives.
 * yajl does not survive a failed allocation (it dereferences the result),
 * so the arena is sized before the parse for everything yajl can ask for
 * on a text of that length; the parse itself then never fails to allocate. */
#include "config.h"
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "event.h"
#include "fieldpath.h"
#include "mem.h"
#include "nfa.h"
#include "timefmt.h"

/* ---- the arena ----------------------------------------------------------- */

#define ARENA_ALIGN 16

typedef struct chunk {
    struct chunk *next;  /* older chunk (only after an overflow) */
    size_t cap, used;    /* bytes of data after the header */
} chunk;

/* Header of every block, so realloc knows the old size. */
typedef struct block {
    size_t size;
    size_t pad_;         /* keeps the payload ARENA_ALIGN-aligned */
} block;

#define CHUNK_HDR ((sizeof(chunk) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

typedef struct json_state {
    chunk *head;         /* newest chunk; allocation happens here */
    char *num;           /* NUL-terminated copy of the number being read */
    size_t num_cap;
    json_scratch fast;   /* the fast path's buffers (json_fast.c) */
} json_state;

static char *chunk_data(chunk *c) { return (char *)c + CHUNK_HDR; }

static chunk *chunk_new(size_t cap) {
    if (cap > (size_t)-1 - CHUNK_HDR) return NULL;
    chunk *c = mem_alloc(CHUNK_HDR + cap);
    if (!c) return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

static void chunks_free(chunk *c) {
    while (c) {
        chunk *next = c->next;
        mem_free(c);
        c = next;
    }
}

/* Rewind the arena and make sure one chunk holds at least need bytes.
 * Chunks left from an overflow are merged into one, so the next parse of
 * the same size needs no allocation. */
static int arena_reset(json_state *st, size_t need) {
    size_t total = 0;
    for (chunk *c = st->head; c; c = c->next) total += c->cap;
    if (st->head && !st->head->next && st->head->cap >= need) {
        st->head->used = 0;
        return 0;
    }
    if (need < total) need = total;
    chunk *c = chunk_new(need);
    if (!c) {
        /* Keep the old chunks usable for a smaller text later. */
        if (st->head) st->head->used = 0;
        return -1;
    }
    chunks_free(st->head);
    st->head = c;
    return 0;
}

static size_t round_up(size_t n) {
    return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

static void *arena_alloc(void *ctx, size_t sz) {
    json_state *st = ctx;
    if (sz > (size_t)-1 / 2) return NULL;
    size_t need = sizeof(block) + round_up(sz);
    chunk *c = st->head;
    if (!c || c->cap - c->used < need) {
        /* Only reached if the pre-sizing bound was too small. */
        size_t cap = c && c->cap > need ? c->cap : need;
        chunk *nc = chunk_new(cap);
        if (!nc) return NULL;
        nc->next = c;
        st->head = c = nc;
    }
    block *b = (block *)(chunk_data(c) + c->used);
    b->size = round_up(sz);
    c->used += need;
    return b + 1;
}

/* True when p is the newest block of the current chunk. */
static int arena_is_last(json_state *st, void *p) {
    block *b = (block *)p - 1;
    chunk *c = st->head;
    return c && (char *)p + b->size == chunk_data(c) + c->used;
}

static void *arena_realloc(void *ctx, void *p, size_t sz) {
    json_state *st = ctx;
    if (!p) return arena_alloc(ctx, sz);
    block *b = (block *)p - 1;
    if (sz <= b->size) return p;
    if (sz > (size_t)-1 / 2) return NULL;
    size_t grow = round_up(sz) - b->size;
    if (arena_is_last(st, p) && st->head->cap - st->head->used >= grow) {
        st->head->used += grow;
        b->size += grow;
        return p;
    }
    void *np = arena_alloc(ctx, sz);
    if (np) memcpy(np, p, b->size);
    return np;
}

static void arena_free(void *ctx, void *p) {
    json_state *st = ctx;
    /* Only the newest block gives its room back; the rest waits for reset. */
    if (p && arena_is_last(st, p)) {
        block *b = (block *)p - 1;
        st->head->used -= sizeof(block) + b->size;
    }
}

void json_state_free(void *state) {
    json_state *st = state;
    if (!st) return;
    chunks_free(st->head);
    mem_free(st->num);
    json_scratch_free(&st->fast);
    mem_free(st);
}

/* Bytes yajl may allocate while parsing n bytes: the handle, lexer and
 * parser stacks (a few hundred bytes; the stack grows 128 at a time and we
 * stop at JSON_MAX_DEPTH), the error text, and two doubling buffers (the
 * string decode buffer and the lexer's buffer for a token cut by the end of
 * the text), each at most 2n+2048 bytes, allocated up to twice over when a
 * realloc cannot grow in place. */
static size_t arena_bound(size_t n) {
    if (n > ((size_t)-1 - 65536) / 16) return (size_t)-1;
    return 8 * (n + 2) + 2 * 4096 + 16384;
}

/* ---- the parse ------------------------------------------------------------ */

/* TIME_NOZONE, TIME_NOCOLON: date-times that lack only their zone
 * (Python's isoformat() of a naive datetime) or its colon (strftime's %z),
 * refused with a message saying so. */
enum { TIME_MISSING, TIME_SET, TIME_BAD, TIME_NOZONE, TIME_NOCOLON };

/* Which near miss of RFC 3339 the string s is, if any. */
static int time_near_miss(const char *s, size_t n) {
    char z[64];
    int64_t ms;
    if (n < 5 || n + 1 >= sizeof z) return TIME_BAD;
    memcpy(z, s, n);
    z[n] = 'Z';
    if (timefmt_parse(z, n + 1, &ms) == 0) return TIME_NOZONE;
    memcpy(z, s, n - 2);
    z[n - 2] = ':';
    memcpy(z + n - 1, s + n - 2, 2);
    if ((s[n - 5] == '+' || s[n - 5] == '-') && timefmt_parse(z, n + 1, &ms) == 0) return TIME_NOCOLON;
    return TIME_BAD;
}

/* What is read inside the object or array open at a depth: the program's
 * level for it (-1: none) and the part of the time path its keys are
 * compared with (-1: not on it). Both -1 (arrays always): nothing. */
typedef struct frame {
    int lvl, td;
} frame;

typedef struct pctx {
    cep_event *ev;
    json_state *st;
    const char *tf;      /* time field name */
    const fpath *tp;     /* its path */
    int depth;           /* 1 inside the top-level object */
    int not_object;      /* the top-level value is something else */
    const char *top_kind;
    int slot;            /* slot of the current key, or -1 */
    int is_time;         /* the current key is the time field */
    int child, tnext;    /* the current key leads to a level / further on
                          * the time path (-1: no) */
    int time_state;
    int64_t time;
    int status;          /* why a callback stopped the parse */
    frame fr[JSON_MAX_DEPTH + 2];
    yajl_handle h;       /* for the offset reached: strings are checked */
    const char *text;    /* strictly up to it (json_strict.c) */
    size_t checked;
} pctx;

/* Stop the parse with code and a printf-style reason in ev->err. */
static int fail(pctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(pctx *c, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->ev->err, EVENT_ERR_SIZE, fmt, ap);
    va_end(ap);
    c->status = code;
    return 0;
}

static int set_status(pctx *c, int rc) {
    if (rc == CEP_OK) return 1;
    return fail(c, rc, "%s", cep_strerror(rc));
}

/* A scalar at depth 0 means the text is not an object; note it and let
 * yajl go on, so that invalid JSON is still reported as such. */
static int top_scalar(pctx *c, const char *kind) {
    c->not_object = 1;
    c->top_kind = kind;
    return 1;
}

/* A value for a key the program reads (or the time path) is expected:
 * inside an object it looks into, not an array. */
static int at_field(const pctx *c) {
    return c->depth >= 1 && !c->not_object && (c->fr[c->depth].lvl >= 0 || c->fr[c->depth].td >= 0);
}

static const char *field_name(const pctx *c) {
    return cep_program_field_name(c->ev->prog, (size_t)c->slot);
}

static int cb_null(void *ctx) {
    pctx *c = ctx;
    if (c->depth == 0) return top_scalar(c, "null");
    if (!at_field(c)) return 1;
    if (c->is_time) c->time_state = TIME_BAD;
    return c->slot < 0 || set_status(c, cep_event_set_null(c->ev, c->slot));
}

static int cb_bool(void *ctx, int b) {
    pctx *c = ctx;
    if (c->depth == 0) return top_scalar(c, "a boolean");
    if (!at_field(c)) return 1;
    if (c->is_time) c->time_state = TIME_BAD;
    return c->slot < 0 || set_status(c, cep_event_set_bool(c->ev, c->slot, b));
}

/* NUL-terminated copy of a number's text for strtoll/strtod, in a buffer
 * kept in the state (numbers are short; it grows only for odd inputs). */
static char *num_text(pctx *c, const char *s, size_t n) {
    json_state *st = c->st;
    if (n + 1 > st->num_cap) {
        size_t cap = st->num_cap ? st->num_cap : 64;
        while (cap < n + 1) cap *= 2;
        char *p = mem_realloc(st->num, cap);
        if (!p) return NULL;
        st->num = p;
        st->num_cap = cap;
    }
    memcpy(st->num, s, n);
    st->num[n] = '\0';
    return st->num;
}

static int cb_number(void *ctx, const char *s, size_t n) {
    pctx *c = ctx;
    if (c->depth == 0) return top_scalar(c, "a number");
    if (!at_field(c) || (c->slot < 0 && !c->is_time)) return 1;
    char *t = num_text(c, s, n);
    if (!t) return set_status(c, CEP_ENOMEM);

    /* JSON integer syntax that fits int64 is an int; anything else is a
     * double (so 2^63 and beyond lose precision rather than fail). */
    int is_int = !memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n);
    int64_t iv = 0;
    double dv = 0;
    if (is_int) {
        errno = 0;
        long long v = strtoll(t, NULL, 10);
        if (errno == ERANGE) is_int = 0;
        iv = v;
    }
    if (!is_int) {
        dv = strtod(t, NULL);
        if (isinf(dv)) {
            if (c->slot >= 0)
                return fail(c, CEP_ERANGE, "number out of range in field '%s'",
                            field_name(c));
            c->time_state = TIME_BAD;
            return 1;
        }
    }
    if (c->is_time) {
        if (is_int) {
            c->time = iv;
            c->time_state = TIME_SET;
        } else if (dv == trunc(dv) && dv >= -9223372036854775808.0 &&
                   dv < 9223372036854775808.0) {
            c->time = (int64_t)dv;
            c->time_state = TIME_SET;
        } else {
            c->time_state = TIME_BAD;
        }
    }
    if (c->slot < 0) return 1;
    return set_status(c, is_int ? cep_event_set_int(c->ev, c->slot, iv)
                                : cep_event_set_double(c->ev, c->slot, dv));
}

/* The strings yajl has lexed since the last check, strictly (yajl lets
 * through UTF-8 that is not, and pairs surrogate escapes loosely). */
static int strict(pctx *c) {
    size_t to = yajl_get_bytes_consumed(c->h);
    int r = json_strict_strings(c->text, c->checked, to);
    c->checked = to;
    if (r == JSON_STRICT_UTF8) return fail(c, CEP_EJSON, "invalid JSON: lexical error: invalid bytes in UTF8 string.");
    if (r) return fail(c, CEP_EJSON, "invalid JSON: lexical error: unpaired surrogate in a \\u escape.");
    return 1;
}

static int cb_string(void *ctx, const unsigned char *s, size_t n) {
    pctx *c = ctx;
    if (!strict(c)) return 0;
    if (c->depth == 0) return top_scalar(c, "a string");
    if (!at_field(c)) return 1;
    if (c->is_time) {
        int64_t ms;
        if (timefmt_parse((const char *)s, n, &ms) == 0) {
            c->time = ms;
            c->time_state = TIME_SET;
        } else {
            c->time_state = time_near_miss((const char *)s, n);
        }
    }
    if (c->slot < 0) return 1;
    return set_status(c, cep_event_set_string(c->ev, c->slot, (const char *)s, n));
}

static int cb_key(void *ctx, const unsigned char *s, size_t n) {
    pctx *c = ctx;
    if (!strict(c)) return 0;
    if (!at_field(c)) return 1;
    /* Compared as the decoded bytes, so "a\u0062" names field "ab". */
    frame f = c->fr[c->depth];
    const field_member *m = f.lvl >= 0 ? program_member(c->ev->prog, f.lvl, (const char *)s, n) : NULL;
    c->slot = m ? m->slot : -1;
    c->child = m ? m->child : -1;
    /* An empty time path ("": no time field) matches no key. */
    int on_time = f.td >= 0 && c->tp->len[f.td] && n == c->tp->len[f.td] && memcmp(s, c->tp->part[f.td], n) == 0;
    c->is_time = on_time && (uint32_t)f.td + 1 == c->tp->n;
    c->tnext = on_time && !c->is_time ? f.td + 1 : -1;
    return 1;
}

/* An object or array: the event itself, or a value. Objects on the way to
 * a field the program reads (or to the time) are looked into; any other
 * is not, and a field holding one reads as null and cannot be the time. */
static int open_nested(pctx *c, int is_map) {
    if (c->depth == 0) {
        c->depth = 1;
        c->fr[1].lvl = c->fr[1].td = -1;
        if (!is_map) {
            c->not_object = 1;
            c->top_kind = "an array";
        } else {
            c->fr[1].lvl = c->ev->prog->nlevels ? 0 : -1;
            c->fr[1].td = c->tp->n ? 0 : -1;
        }
        return 1;
    }
    frame next = {-1, -1};
    if (at_field(c)) {
        if (c->is_time) c->time_state = TIME_BAD;
        if (c->slot >= 0 && !set_status(c, cep_event_set_null(c->ev, c->slot)))
            return 0;
        if (is_map) next = (frame){c->child, c->tnext};
    }
    if (c->depth < JSON_MAX_DEPTH) c->fr[c->depth + 1] = next;
    if (++c->depth > JSON_MAX_DEPTH) {
        if (c->not_object)
            return fail(c, CEP_ENOTOBJECT, "event is %s, not a JSON object",
                        c->top_kind);
        return fail(c, CEP_ETOODEEP, "JSON nesting deeper than %d levels",
                    JSON_MAX_DEPTH);
    }
    return 1;
}

static int cb_start_map(void *ctx) { return open_nested(ctx, 1); }
static int cb_start_array(void *ctx) { return open_nested(ctx, 0); }

static int cb_end(void *ctx) {
    pctx *c = ctx;
    c->depth--;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_bool,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_key,
    .yajl_end_map = cb_end,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end,
};

/* yajl's error text on one line: "lexical error: invalid char in json
 * text." (control characters become spaces, runs of spaces collapse). */
static void json_error(cep_event *ev, yajl_handle h, const char *text,
                       size_t len) {
    unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)text, len);
    const char *m = msg ? (const char *)msg : "malformed JSON";
    size_t o = 0, cap = EVENT_ERR_SIZE;
    int space = 0;
    o = (size_t)snprintf(ev->err, cap, "invalid JSON: ");
    for (const char *p = m; *p && o + 1 < cap; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch == ' ') {
            space = 1;
            continue;
        }
        if (space && o + 2 < cap) ev->err[o++] = ' ';
        space = 0;
        ev->err[o++] = (char)ch;
    }
    ev->err[o] = '\0';
    if (msg) yajl_free_error(h, msg);
}

static int is_ws(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

int json_parse_yajl(cep_event *ev, const char *text, size_t len, const char *time_field) {
    if (!ev || ev->stored || !ev->sbufs || !ev->prog || (!text && len)) return CEP_EINVAL;
    if (!text) text = "";
    if (!time_field) time_field = CEP_DEFAULT_TIME_FIELD;
    cep_event_clear(ev);
    fpath tp;
    if (fpath_parse(time_field, strlen(time_field), &tp) < 0) {
        snprintf(ev->err, EVENT_ERR_SIZE, "invalid time field name '%.100s'", time_field);
        return CEP_EINVAL;
    }

    json_state *st = ev->json;
    if (!st) {
        st = mem_calloc(1, sizeof *st);
        if (!st) goto oom;
        ev->json = st;
    }
    if (arena_reset(st, arena_bound(len)) < 0) goto oom;

    static const yajl_alloc_funcs funcs_template = {
        arena_alloc, arena_realloc, arena_free, NULL};
    yajl_alloc_funcs funcs = funcs_template;
    funcs.ctx = st;

    pctx c = {.ev = ev, .st = st, .tf = time_field, .tp = &tp,
              .slot = -1, .child = -1, .tnext = -1, .time_state = TIME_MISSING, .status = CEP_OK};
    /* yajl copies funcs into the handle, so the local struct may go. */
    yajl_handle h = yajl_alloc(&callbacks, &funcs, &c);
    if (!h) goto oom;
    c.h = h;
    c.text = text;
    yajl_config(h, yajl_allow_trailing_garbage, 0);
    yajl_config(h, yajl_allow_multiple_values, 0);
    yajl_config(h, yajl_allow_comments, 0);

    yajl_status ys = yajl_parse(h, (const unsigned char *)text, len);
    if (ys == yajl_status_ok) ys = yajl_complete_parse(h);
    if (ys == yajl_status_client_canceled) return c.status;
    if (ys != yajl_status_ok) {
        json_error(ev, h, text, len);
        return CEP_EJSON;
    }
    /* The handle lives in the arena: the next reset reclaims it. */

    if (c.not_object) {
        fail(&c, CEP_ENOTOBJECT, "event is %s, not a JSON object", c.top_kind);
        return CEP_ENOTOBJECT;
    }
    if (!*time_field) {
        /* No time field (processing time): the engine stamps the event. */
    } else if (c.time_state == TIME_MISSING) {
        fail(&c, CEP_ETIME, "missing time field '%s'", time_field);
        return CEP_ETIME;
    }
    if (c.time_state >= TIME_BAD) {
        fail(&c, CEP_ETIME, "time field '%s' is not integer milliseconds or an RFC 3339 string%s", time_field,
             c.time_state == TIME_NOZONE    ? " (it has no zone: add Z or +HH:MM)"
             : c.time_state == TIME_NOCOLON ? " (its zone needs a colon: +HH:MM)"
                                            : "");
        return CEP_ETIME;
    }
    int rc = *time_field ? cep_event_set_time(ev, c.time) : CEP_OK;
    if (rc != CEP_OK) return rc;

    size_t b = 0, e = len;
    while (b < e && is_ws(text[b])) b++;
    while (e > b && is_ws(text[e - 1])) e--;
    rc = cep_event_set_raw(ev, text + b, e - b);
    if (rc == CEP_ENOMEM) goto oom;
    return rc;

oom:
    snprintf(ev->err, EVENT_ERR_SIZE, "%s", cep_strerror(CEP_ENOMEM));
    return CEP_ENOMEM;
}

/* The fast path first (json_fast.c); yajl for whatever it leaves, which
 * includes every malformed line, so errors read as yajl reports them. */
static int parse_row(cep_event *ev, const char *text, size_t len, const char *time_field, int lend) {
    if (!ev || ev->stored || !ev->sbufs || !ev->prog || (!text && len)) return CEP_EINVAL;
    if (!text) text = "";
    if (!time_field) time_field = CEP_DEFAULT_TIME_FIELD;
    json_state *st = ev->json;
    if (!st) {
        st = mem_calloc(1, sizeof *st);
        if (!st) return json_parse_yajl(ev, text, len, time_field); /* reports the ENOMEM */
        ev->json = st;
    }
    event_clear_builder(ev);
    if (json_fast_read(ev, text, len, time_field, &st->fast, lend) == CEP_OK) return CEP_OK;
    return json_parse_yajl(ev, text, len, time_field);
}

CEP_API int cep_event_parse_json(cep_event *ev, const char *text, size_t len, const char *time_field) {
    return parse_row(ev, text, len, time_field, 0);
}

int json_parse_lent(cep_event *ev, const char *text, size_t len, const char *time_field) {
    return parse_row(ev, text, len, time_field, 1);
}

CEP_API const char *cep_event_error(const cep_event *ev) {
    /* A stored event (from a match) has no builder fields: no error. */
    return ev && !ev->stored && ev->sbufs && ev->err ? ev->err : "";
}
