/* testjson.h — a small JSON reader for `cepheus test`: expected matches
 * written as JSON hold only the fields that matter, and are compared with
 * what the engine wrote as a subset. The tool uses only the public header,
 * so it cannot borrow the library's own reader. */
#ifndef CEP_TESTJSON_H
#define CEP_TESTJSON_H

#include <stddef.h>

typedef enum tj_kind { TJ_NULL, TJ_BOOL, TJ_NUM, TJ_STR, TJ_ARR, TJ_OBJ } tj_kind;

typedef struct tj tj;
struct tj {
    tj_kind kind;
    int b;
    double num;
    char *s;      /* TJ_STR: decoded bytes; TJ_NUM: the source text */
    size_t slen;
    char *key;    /* member name when this value is in an object */
    tj *kids;     /* TJ_ARR / TJ_OBJ: first element, linked by next */
    tj *next;
};

/* Parse text[0..len). NULL on a syntax error (or out of memory), with
 * *err set to a static reason. */
tj *tj_parse(const char *text, size_t len, const char **err);
void tj_free(tj *v);
/* Member of an object, NULL when absent. */
const tj *tj_get(const tj *obj, const char *key);
/* Is every part of want found in got? Objects: each member of want is in
 * got and matches; arrays: same length, elementwise; numbers by value;
 * the rest equal. */
int tj_subset(const tj *want, const tj *got);

#endif
