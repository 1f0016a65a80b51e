/* json.h — reading one JSON object into an event row (the implementation
 * of cep_event_parse_json, on top of yajl 2). The parser state lives in
 * cep_event.json so that steady-state parsing allocates nothing. */
#ifndef CEP_JSON_H
#define CEP_JSON_H

#include <stddef.h>
#include <stdint.h>
#include "cepheus.h"

/* Deepest nesting of objects and arrays an event may have (the top-level
 * object counts as 1); deeper text fails with CEP_ETOODEEP. */
#define JSON_MAX_DEPTH 64

/* Free the parser state kept in cep_event.json (called by cep_event_free).
 * NULL is a no-op. */
void json_state_free(void *state);

/* One top-level member as the fast reader last saw it at its place in
 * the object: the bytes from the end of the value before it (or the '{')
 * to the start of its own value — white space, comma, key, colon — and
 * what that key means (json_fast.c, "predicted keys"). */
#define JSON_SHAPE_KEYS 16   /* members predicted, the first ones */
#define JSON_SHAPE_BYTES 32  /* longest such run of bytes */
typedef struct json_shape_key {
    unsigned char lit[JSON_SHAPE_BYTES];
    uint8_t len;             /* 0: nothing predicted here */
    int32_t slot, child;     /* the key's slot and level under it, -1: none */
    int8_t is_time;          /* the key is the time field */
    int8_t tnext;            /* the time path goes on under it: its next part, -1: no */
} json_shape_key;

/* What the fast reader (json_fast.c) keeps between lines: a buffer for
 * strings with escapes, and the top-level members of the last lines with
 * the time field they were read with (the builder's program is fixed). */
typedef struct json_scratch {
    char *buf;
    size_t cap;
    char tf[JSON_SHAPE_BYTES];
    size_t tflen;            /* > JSON_SHAPE_BYTES: keys not predicted */
    json_shape_key keys[JSON_SHAPE_KEYS];
} json_scratch;
void json_scratch_free(json_scratch *s);

/* json_fast_parse returned: the text needs the yajl reader. */
#define JSON_DEFER 1

/* The fast path of cep_event_parse_json on a cleared event (time_field not
 * NULL; "" reads no time): CEP_OK with the row filled exactly as
 * json_parse_yajl fills it, or JSON_DEFER for everything else, errors
 * included; the event must then be parsed again by json_parse_yajl. */
int json_fast_parse(cep_event *ev, const char *text, size_t len, const char *time_field, json_scratch *sc);
/* The same, the raw text lent (ev->raw points into text) when lend is set. */
int json_fast_read(cep_event *ev, const char *text, size_t len, const char *time_field, json_scratch *sc, int lend);

/* cep_event_parse_json into a row that is read only while text lives (the
 * engine's own row in cep_engine_push_json): its raw text is then text's
 * bytes, lent, not copied (and not NUL-terminated). */
int json_parse_lent(cep_event *ev, const char *text, size_t len, const char *time_field);

/* cep_event_parse_json through yajl alone: the reference reader, which
 * gives every error its message (also for bench/jsonbench.c). */
int json_parse_yajl(cep_event *ev, const char *text, size_t len, const char *time_field);

/* json_strict.c: check the strings of JSON text[from..to), which yajl has
 * lexed (from outside a string): 0, or JSON_STRICT_UTF8 for bytes that are
 * not well-formed UTF-8 (overlong, surrogates, past U+10FFFF),
 * JSON_STRICT_SURROGATE for a \u escape of a surrogate that is not a high
 * one followed by a low one. */
#define JSON_STRICT_UTF8 1
#define JSON_STRICT_SURROGATE 2
int json_strict_strings(const char *text, size_t from, size_t to);

/* Length of the well-formed UTF-8 sequence at p (before end), 0 if there
 * is none: no overlong forms, no surrogates, nothing above U+10FFFF
 * (Unicode 15, table 3-7). Both readers use it: the fast path as it
 * decodes, json_strict.c on what yajl alone would accept. Inline: the fast
 * path calls it for every non-ASCII byte. */
static inline size_t json_utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    size_t k;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) k = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) k = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) k = 4, cp = c & 0x07;
    else return 0;
    if ((size_t)(end - p) < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return k;
}

#endif
