/* ast.h — the syntax tree the parser builds and the checker annotates.
 * Every node keeps its source span (byte offsets into the pattern text) so
 * that any later stage can point an error at the exact place. */
#ifndef CEP_AST_H
#define CEP_AST_H

#include <stdint.h>
#include <stddef.h>

typedef struct span {
    uint32_t start, end; /* [start, end) byte offsets */
} span;

/* ---- Expressions -------------------------------------------------------- */

typedef enum expr_kind {
    EX_NULL,
    EX_BOOL,    /* ival 0/1 */
    EX_INT,     /* ival (durations are EX_INT in milliseconds) */
    EX_DOUBLE,  /* dval */
    EX_STRING,  /* str, slen (escapes decoded; may hold NUL) */
    EX_FIELD,   /* name: a field of the event under test */
    EX_STEPREF, /* step . name, or step[index] . name when has_index */
    EX_AGG,     /* op = AGG_*; step (count) or step.name (others) */
    EX_CALL,    /* name ( args ) */
    EX_UNARY,   /* op = OP_NEG / OP_NOT; a */
    EX_BINARY,  /* op = OP_*; a, b */
    EX_MATCH,   /* a =~ /regex/flags (op OP_MATCH) or !~ (OP_NOMATCH) */
    EX_IN       /* a in (args) */
} expr_kind;

typedef enum expr_op {
    OP_NONE,
    OP_OR, OP_AND, OP_NOT,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_NEG,
    OP_MATCH, OP_NOMATCH,
    AGG_COUNT, AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX
} expr_op;

typedef struct ast_expr ast_expr;
struct ast_expr {
    expr_kind kind;
    expr_op op;
    span sp;          /* the whole expression */
    int64_t ival;
    double dval;
    char *str;        /* EX_STRING bytes (NUL-terminated copy too) */
    size_t slen;
    char *name;       /* field or function name; NULL for count(step) */
    span name_sp;
    char *step;       /* EX_STEPREF / EX_AGG: the step referred to */
    span step_sp;
    int has_index;    /* EX_STEPREF: step[index].name */
    int npath;        /* EX_FIELD as parsed: parts of the path in name */
    char *head;       /* EX_FIELD: its first part when written bare and the
                       * path has more (a step name to the checker), with
                       * its span in step_sp */
    int64_t index;
    char *regex;      /* EX_MATCH: pattern text between the slashes */
    span regex_sp;    /* span of the pattern text only (inside slashes) */
    char *flags;      /* EX_MATCH: letters after the closing slash */
    span flags_sp;
    ast_expr *a, *b;  /* operands */
    ast_expr *args;   /* EX_CALL / EX_IN: first argument, linked by next */
    ast_expr *next;   /* sibling in an argument list */
    int nargs;
    uint32_t height;  /* levels of operators below and including this node
                       * (1 for a leaf): parser.y caps it */
    /* Filled by the checker: */
    int slot;         /* EX_FIELD / EX_STEPREF / EX_AGG with a field: slot */
    int step_index;   /* EX_STEPREF / EX_AGG: index of the step referred to */
    int fn_index;     /* EX_CALL: built-in (>= 0) or user (< 0: -1 - i) */
};

/* ---- Steps and patterns ----------------------------------------------- */

typedef enum conn_kind {
    CONN_BEGIN,            /* first element of a sequence */
    CONN_NEXT,
    CONN_FOLLOWED_BY,
    CONN_FOLLOWED_BY_ANY,
    CONN_NOT_NEXT,
    CONN_NOT_FOLLOWED_BY
} conn_kind;

typedef enum quant_kind {
    Q_ONE,      /* no quantifier */
    Q_OPTIONAL, /* ?      min 0 max 1 */
    Q_PLUS,     /* +      min 1 max -1 */
    Q_STAR,     /* *      min 0 max -1 */
    Q_TIMES,    /* {n}    min n max n */
    Q_AT_LEAST, /* {n,}   min n max -1 */
    Q_RANGE     /* {n,m}  min n max m */
} quant_kind;

typedef struct ast_quant {
    quant_kind kind;
    int64_t min, max; /* max -1 = unbounded */
    int optional;     /* {n}?, {n,}?, {n,m}?: Flink's times(..).optional() */
    span sp;          /* zero span when kind == Q_ONE */
} ast_quant;

typedef enum mod_kind { MOD_GREEDY, MOD_CONSECUTIVE, MOD_ALLOW_COMBINATIONS, MOD_UNTIL } mod_kind;

typedef struct ast_mod ast_mod;
struct ast_mod {
    mod_kind kind;
    span sp;          /* the keyword */
    ast_expr *cond;   /* MOD_UNTIL */
    ast_mod *next;
};

typedef struct ast_step ast_step;
struct ast_step {
    conn_kind conn;   /* how this element joins the previous one */
    span conn_sp;     /* the connector keyword (zero span for CONN_BEGIN) */
    span sp;          /* the whole element */
    int is_group;
    char *name;       /* NULL for a group */
    span name_sp;
    ast_quant quant;
    ast_expr *where;  /* NULL when absent */
    ast_mod *mods;    /* in source order */
    ast_step *body;   /* group: first element of the inner sequence */
    ast_step *next;   /* next element of the enclosing sequence */
    int has_gap;      /* `CONNECTOR within D elem`: the longest time between */
    int64_t gap_ms;   /* this element's event and the one taken before it */
    span gap_sp;
    int index;        /* filled by the checker: step number, -1 for groups */
};

typedef enum skip_kind {
    SKIP_NO_SKIP,     /* also the default when no skip clause is given */
    SKIP_TO_NEXT,
    SKIP_PAST_LAST_EVENT,
    SKIP_TO_FIRST,
    SKIP_TO_LAST
} skip_kind;

typedef struct ast_name ast_name;
struct ast_name {     /* a list of names (key fields) */
    char *name;
    span sp;
    ast_name *next;
};

typedef struct ast_emit ast_emit;
struct ast_emit {
    char *name;
    span name_sp;
    ast_expr *value;
    ast_emit *next;
};

typedef struct ast_pattern ast_pattern;
struct ast_pattern {
    char *name;
    span name_sp;
    span sp;
    ast_name *keys;      /* NULL: no key clause, one stream */
    ast_step *steps;     /* first element: conn == CONN_BEGIN */
    int has_within;
    int64_t within_ms;
    span within_sp;      /* the duration literal */
    int has_skip;
    skip_kind skip;
    span skip_sp;        /* the strategy keyword */
    char *skip_step;     /* toFirst / toLast target */
    span skip_step_sp;
    ast_emit *emits;
    ast_pattern *next;
};

/* The most levels an expression tree may have: a chain `1 + 1 + ...` of
 * n terms is n levels deep (operators are left-associative), and so are n
 * nested calls, `not`s or parentheses. Every later pass (checker, compiler,
 * evaluator, explain, free) walks trees recursively, so this bounds their
 * stack use: about 200 bytes per level in the deepest of them, so that a
 * thread with a 256 KiB stack can run any accepted pattern. */
#define AST_MAX_EXPR_HEIGHT 500

/* Constructors used by the parser: all return NULL on out-of-memory. Names
 * and strings passed in are taken (owned by the node afterwards). */
ast_expr *ast_expr_new(expr_kind kind, span sp);
ast_step *ast_step_new(span sp);
ast_mod *ast_mod_new(mod_kind kind, span sp);
ast_name *ast_name_new(char *name, span sp);
ast_emit *ast_emit_new(char *name, span name_sp, ast_expr *value);
ast_pattern *ast_pattern_new(void);

/* Free a node and everything it owns, including its ->next siblings.
 * All accept NULL. */
void ast_expr_free(ast_expr *e);
void ast_mod_free(ast_mod *m);
void ast_step_free(ast_step *s);
void ast_name_free(ast_name *n);
void ast_emit_free(ast_emit *e);
void ast_pattern_free(ast_pattern *p);

/* Parse pattern text into a list of patterns. Syntax and lexical errors
 * are added to d (all of them, with recovery at the next `pattern`).
 * Returns 0 when no error was found, -1 otherwise; *out gets whatever was
 * parsed (possibly partial) and is owned by the caller. */
struct cep_diag;
int ast_parse(const char *text, size_t len, struct cep_diag *d,
              ast_pattern **out);

/* An operator (or aggregate) as the pattern language spells it. */
const char *expr_op_text(expr_op op);
/* The aggregate a function name calls (AGG_COUNT ... AGG_MAX), or OP_NONE:
 * the one list of aggregate names. */
expr_op ast_aggregate(const char *name);

/* Write a readable S-expression of the tree (for tests). Returns a string
 * owned by the caller (mem_free), NULL on out-of-memory. */
char *ast_dump(const ast_pattern *p);

#endif
