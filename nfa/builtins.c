/* builtins.c — the functions every condition can call: exists, len,
 * lower, upper, abs, contains, startsWith. Wrong argument types give null. */
#include "config.h"
#include "expr.h"

#include <string.h>

static const struct {
    const char *name;
    int nargs;
} builtins[BI_COUNT_] = {
    [BI_EXISTS] = {"exists", 1},   [BI_LEN] = {"len", 1},
    [BI_LOWER] = {"lower", 1},     [BI_UPPER] = {"upper", 1},
    [BI_ABS] = {"abs", 1},         [BI_CONTAINS] = {"contains", 2},
    [BI_STARTS_WITH] = {"startsWith", 2},
};

int builtin_lookup(const char *name, int *nargs) {
    for (int i = 0; i < BI_COUNT_; i++)
        if (strcmp(builtins[i].name, name) == 0) {
            if (nargs) *nargs = builtins[i].nargs;
            return i;
        }
    return -1;
}

const char *builtin_name(int fn) {
    return fn >= 0 && fn < BI_COUNT_ ? builtins[fn].name : "?";
}

static cep_value nullv(void) { return (cep_value){.type = CEP_NULL}; }

static cep_value case_map(cep_value s, int upper, eval_ctx *c) {
    char *p = expr_scratch(c, s.u.s.len + 1);
    if (!p) return nullv();
    for (size_t i = 0; i < s.u.s.len; i++) {
        unsigned char ch = (unsigned char)s.u.s.ptr[i];
        if (upper && ch >= 'a' && ch <= 'z') ch -= 32;
        if (!upper && ch >= 'A' && ch <= 'Z') ch += 32;
        p[i] = (char)ch;
    }
    p[s.u.s.len] = '\0';
    cep_value r = s;
    r.u.s.ptr = p;
    return r;
}

cep_value builtin_call(int fn, const cep_value *a, int argc, eval_ctx *c) {
    cep_value r = {.type = CEP_NULL};
    if (argc != builtins[fn].nargs) return r;
    int strs = a[0].type == CEP_STRING && (argc < 2 || a[1].type == CEP_STRING);
    switch (fn) {
    case BI_EXISTS:
        r.type = CEP_BOOL;
        r.u.b = a[0].type != CEP_NULL;
        return r;
    case BI_LEN: {
        if (a[0].type != CEP_STRING) return r;
        int64_t n = 0; /* code points: count bytes that do not continue one */
        for (size_t i = 0; i < a[0].u.s.len; i++)
            n += ((unsigned char)a[0].u.s.ptr[i] & 0xC0) != 0x80;
        r.type = CEP_INT;
        r.u.i = n;
        return r;
    }
    case BI_LOWER:
    case BI_UPPER:
        return a[0].type == CEP_STRING ? case_map(a[0], fn == BI_UPPER, c) : r;
    case BI_ABS:
        if (a[0].type == CEP_INT) {
            if (a[0].u.i == INT64_MIN) {
                r.type = CEP_DOUBLE;
                r.u.d = 9223372036854775808.0;
            } else {
                r = a[0];
                if (r.u.i < 0) r.u.i = -r.u.i;
            }
        } else if (a[0].type == CEP_DOUBLE) {
            r = a[0];
            if (r.u.d < 0) r.u.d = -r.u.d;
        }
        return r;
    case BI_CONTAINS:
        if (!strs) return r;
        r.type = CEP_BOOL;
        r.u.b = a[1].u.s.len == 0 ||
                memmem(a[0].u.s.ptr, a[0].u.s.len, a[1].u.s.ptr, a[1].u.s.len) != NULL;
        return r;
    case BI_STARTS_WITH:
        if (!strs) return r;
        r.type = CEP_BOOL;
        r.u.b = a[1].u.s.len <= a[0].u.s.len &&
                memcmp(a[0].u.s.ptr, a[1].u.s.ptr, a[1].u.s.len) == 0;
        return r;
    }
    return r;
}
