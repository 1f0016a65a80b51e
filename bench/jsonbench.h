/* jsonbench.h — what bench/jsonbench.c and its simdjson shim
 * (bench/jsonbench_simdjson.cpp) share: every library hands each top-level
 * member of an event line to one C function, which fills the event row the
 * way runtime/json.c does, so the libraries are compared on the same work. */
#ifndef CEP_JSONBENCH_H
#define CEP_JSONBENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Kinds of a member's value; nested objects and arrays are M_NESTED. */
enum { M_NULL, M_BOOL, M_INT, M_DOUBLE, M_STRING, M_NESTED };

typedef struct jb_member {
    const char *key;
    size_t klen;
    int kind;
    int64_t i;        /* M_BOOL, M_INT */
    double d;         /* M_DOUBLE */
    const char *s;    /* M_STRING */
    size_t slen;
} jb_member;

/* Called once per top-level member, in text order. */
void jb_on_member(void *ud, const jb_member *m);

/* The simdjson shim: parsers kept across lines (as a reader would), one
 * line parsed per call; text must have 64 readable bytes after len.
 * 0 on success, -1 when simdjson rejected the line. */
void *jb_simdjson_new(void);
void jb_simdjson_free(void *p);
int jb_simdjson_dom(void *p, const char *text, size_t len, void *ud);
int jb_simdjson_ondemand(void *p, const char *text, size_t len, void *ud);

/* json-c, in a file of its own (its names clash with jansson's): a
 * tokener kept across lines; 0, or -1 when json-c rejected the line. */
void *jb_jsonc_new(void);
void jb_jsonc_free(void *tok);
int jb_jsonc(void *tok, const char *text, size_t len, void *ud);

#ifdef __cplusplus
}
#endif
#endif
