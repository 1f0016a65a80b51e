/* builtins.c — the names and arities of the functions every condition can
 * call: exists, len, lower, upper, abs, contains, startsWith (the checker
 * resolves calls with them; runtime/eval.c's builtin_call evaluates them). */
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

int builtin_arity(int fn) { return builtins[fn].nargs; }
