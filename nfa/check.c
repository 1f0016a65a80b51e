/* check.c — semantic checks between parsing and compiling: the compiler's
 * first pass (it knows the built-ins, the regex engine and the program's
 * field slots, so it lives in nfa/, not in the syntax layer). Resolves step
 * references and field names (fields get slots, so the engine never looks a
 * name up at match time), infers static types to catch what is wrong before
 * any event arrives, and reports every error of the file. */
#include "config.h"
#include "checker.h"
#include "diag.h"
#include "expr.h"
#include "fieldpath.h"
#include "names.h"
#include "mem.h"
#include "regex.h"
#include "suggest.h"

#include <stdio.h>
#include <string.h>

/* Static types: T_ANY is a field or anything only known at run time. */
typedef enum stype { T_ANY, T_NULL, T_BOOL, T_INT, T_DOUBLE, T_STRING, T_NUM } stype;

static const char *stype_name(stype t) {
    static const char *names[] = {"any", "null", "boolean", "int", "double", "string", "number"};
    return names[t];
}

typedef struct ctx {
    cep_program *prog;
    const cep_compiler *comp;
    cep_diag *d;
    int oom;
    const ast_pattern *pat;
    step_list steps;
    int current;     /* index of the step whose condition is checked; -1: emit */
    uint32_t pat_index; /* of c->pat, for cep_program_field_origin */
    name_index fields, pats, stepnames;
    size_t capfields;
} ctx;

#define ERR(c, code, off, ...)                                 \
    do {                                                       \
        if (diag_add((c)->d, (code), (off), __VA_ARGS__) < 0) \
            (c)->oom = 1;                                      \
    } while (0)

/* ---- fields and steps --------------------------------------------------- */

/* The slot of a field, made on its first read (at byte off of the
 * current pattern, remembered for cep_program_field_origin). */
static int add_field(ctx *c, const char *name, size_t off) {
    uint32_t known = name_get(&c->fields, name);
    if (known != UINT32_MAX) return (int)known;
    cep_program *p = c->prog;
    if (p->nfields >= NFA_MAX_FIELDS) {
        ERR(c, CEP_DIAG_LIMIT, off, "a program reads at most %d fields", NFA_MAX_FIELDS);
        return 0;
    }
    size_t cap = c->capfields;
    if (mem_grow((void **)&p->field_origins, &cap, p->nfields + 1, sizeof *p->field_origins) < 0 ||
        mem_grow((void **)&p->fields, &c->capfields, p->nfields + 1, sizeof *p->fields) < 0) {
        c->oom = 1;
        return 0;
    }
    p->field_origins[p->nfields] = (field_origin){c->pat_index, diag_line_at(c->d, off)};
    if (!(p->fields[p->nfields] = mem_strdup(name)) || name_put(&c->fields, p->fields[p->nfields], p->nfields) < 0) {
        mem_free(p->fields[p->nfields]);
        c->oom = 1;
        return 0;
    }
    return (int)p->nfields++;
}

static int collect(ast_step *s, step_list *out) {
    for (; s; s = s->next) {
        if (s->is_group) {
            s->index = -1;
            if (collect(s->body, out) < 0) return -1;
            continue;
        }
        if (mem_grow((void **)&out->v, &out->cap, out->n + 1, sizeof *out->v) < 0) return -1;
        s->index = (int)out->n;
        out->v[out->n++] = s;
    }
    return 0;
}

int check_collect_steps(ast_step *first, step_list *out) {
    out->n = 0;
    return collect(first, out);
}

static int find_step(const ctx *c, const char *name) {
    for (size_t i = 0; i < c->steps.n; i++)
        if (strcmp(c->steps.v[i]->name, name) == 0) return (int)i;
    return -1;
}

/* "; did you mean 'x'?" for a name that is not a step, or "". */
static const char *step_hint(const ctx *c, const char *name, char *buf, size_t cap) {
    buf[0] = '\0';
    const char *best = NULL;
    /* (Out of memory only costs the hint.) */
    const char **names = mem_alloc((c->steps.n ? c->steps.n : 1) * sizeof *names);
    if (names) {
        for (size_t i = 0; i < c->steps.n; i++) names[i] = c->steps.v[i]->name;
        best = suggest_nearest(name, strlen(name), names, c->steps.n);
        mem_free(names);
    }
    if (best) snprintf(buf, cap, "; did you mean '%s'?", best);
    return buf;
}

static int is_negated(const ast_step *s) {
    return s->conn == CONN_NOT_NEXT || s->conn == CONN_NOT_FOLLOWED_BY;
}

/* Resolve the step named in a reference; -1 after reporting an error. */
static int resolve_step_ref(ctx *c, const ast_expr *e) {
    int i = find_step(c, e->step);
    if (i < 0) {
        char hint[160];
        ERR(c, CEP_DIAG_NAME, e->step_sp.start, "unknown step '%s'%s", e->step,
            step_hint(c, e->step, hint, sizeof hint));
        return -1;
    }
    if (c->current >= 0 && i > c->current) {
        ERR(c, CEP_DIAG_ORDER, e->step_sp.start,
            "step '%s' comes later in the pattern; a condition can only refer to earlier steps",
            e->step);
        return -1;
    }
    if (is_negated(c->steps.v[i])) {
        ERR(c, CEP_DIAG_NAME, e->step_sp.start, "step '%s' is negated and accepts no events", e->step);
        return -1;
    }
    return i;
}

/* ---- expressions ------------------------------------------------------------ */


static int numeric(stype t) { return t == T_INT || t == T_DOUBLE || t == T_NUM; }

static stype check_expr(ctx *c, ast_expr *e);

/* Operands of arithmetic must be numbers (or unknown, or null). */
static void want_number(ctx *c, const ast_expr *at, int op, stype t) {
    if (t == T_ANY || t == T_NULL || numeric(t)) return;
    ERR(c, CEP_DIAG_TYPE, at->sp.start, "operator '%s' needs numbers, not %s", expr_op_text(op), stype_name(t));
}

static void want_bool(ctx *c, const ast_expr *at, int op, stype t) {
    if (t == T_ANY || t == T_NULL || t == T_BOOL) return;
    ERR(c, CEP_DIAG_TYPE, at->sp.start, "operator '%s' needs booleans, not %s", expr_op_text(op), stype_name(t));
}

/* "; did you mean 'x'?" for an unknown function: the nearest built-in,
 * aggregate or registered function (startswith, Exists, cout), or "". */
static const char *function_hint(const ctx *c, const char *name, char *buf, size_t cap) {
    static const char *const aggregates[] = {"count", "sum", "avg", "min", "max"};
    enum { NAGG = sizeof aggregates / sizeof aggregates[0] };
    const cep_compiler *comp = c->comp;
    size_t n = (size_t)BI_COUNT_ + NAGG + (comp ? comp->nfns : 0);
    const char *best = NULL;
    buf[0] = '\0';
    /* (Out of memory only costs the hint.) */
    const char **names = mem_alloc(n * sizeof *names);
    if (!names) return buf;
    size_t k = 0;
    for (int i = 0; i < BI_COUNT_; i++) names[k++] = builtin_name(i);
    for (size_t i = 0; i < NAGG; i++) names[k++] = aggregates[i];
    for (uint32_t i = 0; comp && i < comp->nfns; i++) names[k++] = comp->fns[i].name;
    best = suggest_nearest(name, strlen(name), names, k);
    if (best) snprintf(buf, cap, "; did you mean '%s'?", best);
    mem_free(names);
    return buf;
}

static stype check_call(ctx *c, ast_expr *e) {
    for (ast_expr *a = e->args; a; a = a->next) check_expr(c, a);
    int nargs = 0;
    int bi = builtin_lookup(e->name, &nargs);
    if (bi >= 0) {
        e->fn_index = bi;
        if (e->nargs != nargs) {
            ERR(c, CEP_DIAG_TYPE, e->sp.start, "function '%s' takes %d argument%s, not %d", e->name,
                nargs, nargs == 1 ? "" : "s", e->nargs);
            return T_ANY;
        }
        if (bi == BI_EXISTS && e->args->kind != EX_FIELD && e->args->kind != EX_STEPREF) {
            ERR(c, CEP_DIAG_TYPE, e->args->sp.start, "exists() needs a field");
        }
        switch (bi) {
        case BI_EXISTS:
        case BI_CONTAINS:
        case BI_STARTS_WITH: return T_BOOL;
        case BI_LEN: return T_INT;
        case BI_LOWER:
        case BI_UPPER: return T_STRING;
        default: return T_NUM;
        }
    }
    const cep_compiler *comp = c->comp;
    for (uint32_t i = 0; comp && i < comp->nfns; i++) {
        if (strcmp(comp->fns[i].name, e->name) != 0) continue;
        e->fn_index = -1 - (int)i;
        if (comp->fns[i].nargs >= 0 && comp->fns[i].nargs != e->nargs)
            ERR(c, CEP_DIAG_TYPE, e->sp.start, "function '%s' takes %d argument%s, not %d", e->name,
                comp->fns[i].nargs, comp->fns[i].nargs == 1 ? "" : "s", e->nargs);
        if (e->nargs > 16)
            ERR(c, CEP_DIAG_LIMIT, e->sp.start, "a function call takes at most 16 arguments");
        return T_ANY;
    }
    char hint[160];
    ERR(c, CEP_DIAG_NAME, e->name_sp.start, "unknown function '%s'%s", e->name,
        function_hint(c, e->name, hint, sizeof hint));
    return T_ANY;
}

/* In emit, `a.user-id` is a.user minus a bare field id, an error: say
 * which field was meant (the warning 'hyphen' says it in conditions).
 * 1 when the error was given. */
static int emit_hyphen(ctx *c, const ast_expr *e) {
    const ast_expr *l = e->a, *r = e->b;
    if (c->current >= 0 || e->op != OP_SUB || l->kind != EX_STEPREF || l->has_index || r->kind != EX_FIELD ||
        r->npath != 1 || l->sp.end + 1 != r->sp.start || strchr(l->name, '`'))
        return 0;
    const char *dot = strrchr(l->name, '.');
    int pre = dot ? (int)(dot - l->name) + 1 : 0;
    ERR(c, CEP_DIAG_NAME, r->sp.start,
        "a bare field in emit has no event: write STEP.FIELD; a field named %s-%s is written %s.%.*s`%s-%s`",
        l->name + pre, r->name, l->step, pre, l->name, l->name + pre, r->name);
    return 1;
}

static stype check_expr(ctx *c, ast_expr *e) {
    switch (e->kind) {
    case EX_NULL: return T_NULL;
    case EX_BOOL: return T_BOOL;
    case EX_INT: return T_INT;
    case EX_DOUBLE: return T_DOUBLE;
    case EX_STRING: return T_STRING;
    case EX_FIELD:
        if (e->npath >= 2 && e->head && c->current >= 0 && find_step(c, e->head) < 0) {
            /* A path whose first name is one slip from a step's is far
             * more often a misspelled step reference than a field: say so,
             * and how to write the field if it is one. */
            char hint[160];
            if (*step_hint(c, e->head, hint, sizeof hint)) {
                ERR(c, CEP_DIAG_NAME, e->step_sp.start,
                    "unknown step '%s'%s (for the event's own field, write `%s`.%s)", e->head, hint, e->head,
                    strchr(e->name, '.') ? strchr(e->name, '.') + 1 : e->name);
                return T_ANY;
            }
        }
        if (e->npath >= 2 && e->head && (find_step(c, e->head) >= 0 || c->current < 0)) {
            /* a.payload.amount: step a's payload.amount (language.md, Field
             * paths). In emit there is no event: the head must be a step. */
            fpath fp;
            char *rest = NULL;
            if (fpath_parse(e->name, strlen(e->name), &fp) < 0 || !(rest = fpath_text(&fp, 1))) {
                c->oom = 1;
                return T_ANY;
            }
            mem_free(e->name);
            e->name = rest;
            e->step = e->head;
            e->head = NULL;
            e->kind = EX_STEPREF;
            return check_expr(c, e);
        }
        if (c->current < 0) {
            ERR(c, CEP_DIAG_NAME, e->sp.start, "a bare field in emit has no event: write STEP.FIELD");
            return T_ANY;
        }
        e->slot = add_field(c, e->name, e->sp.start);
        return T_ANY;
    case EX_STEPREF:
        e->step_index = resolve_step_ref(c, e);
        e->slot = add_field(c, e->name, e->sp.start);
        return T_ANY;
    case EX_AGG:
        e->step_index = resolve_step_ref(c, e);
        if (e->op == AGG_COUNT) return T_INT;
        e->slot = add_field(c, e->name, e->sp.start);
        return e->op == AGG_SUM ? T_NUM : T_ANY;
    case EX_CALL: return check_call(c, e);
    case EX_UNARY: {
        stype t = check_expr(c, e->a);
        if (e->op == OP_NOT) {
            want_bool(c, e->a, OP_NOT, t);
            return T_BOOL;
        }
        want_number(c, e->a, OP_NEG, t);
        return t == T_NULL ? T_NULL : numeric(t) ? t : T_ANY;
    }
    case EX_BINARY: {
        stype a = check_expr(c, e->a);
        if (emit_hyphen(c, e)) return T_ANY;
        stype b = check_expr(c, e->b);
        if (e->op == OP_AND || e->op == OP_OR) {
            want_bool(c, e->a, e->op, a);
            want_bool(c, e->b, e->op, b);
            return T_BOOL;
        }
        if (e->op >= OP_EQ && e->op <= OP_GE) return T_BOOL;
        want_number(c, e->a, e->op, a);
        want_number(c, e->b, e->op, b);
        if (e->op == OP_DIV) return T_DOUBLE;
        if (a == T_INT && b == T_INT) return T_NUM; /* overflow becomes double */
        return numeric(a) && numeric(b) ? T_NUM : T_ANY;
    }
    case EX_MATCH: {
        stype t = check_expr(c, e->a);
        if (t != T_ANY && t != T_STRING && t != T_NULL)
            ERR(c, CEP_DIAG_TYPE, e->a->sp.start, "operator '%s' needs a string, not %s", expr_op_text(e->op),
                stype_name(t));
        int flags_ok = 1;
        for (const char *f = e->flags ? e->flags : ""; *f; f++)
            if (!regex_flag_ok(*f)) {
                /* Habits of other regex dialects: an upper-case flag, and
                 * JavaScript's g (=~ searches the whole string anyway). */
                char hint[80] = "";
                if (*f >= 'A' && *f <= 'Z' && regex_flag_ok((char)(*f - 'A' + 'a')))
                    snprintf(hint, sizeof hint, "; did you mean '%c'?", *f - 'A' + 'a');
                else if (*f == 'g')
                    snprintf(hint, sizeof hint, "; g is not needed: =~ finds a match anywhere in the string");
                ERR(c, CEP_DIAG_REGEX, e->flags_sp.start + (uint32_t)(f - e->flags),
                    "unknown regex flag '%c' (the flags are i, m, s, x, u)%s", *f, hint);
                flags_ok = 0;
            }
        /* Compiled here only to report PCRE2's error with every other one;
         * the compiler builds the kept copy. */
        char msg[256];
        size_t off;
        regex *re = flags_ok ? regex_compile(e->regex, strlen(e->regex), e->flags, msg, sizeof msg, &off) : NULL;
        if (re) {
            regex_free_all(re);
        } else if (flags_ok && off == (size_t)-1) {
            c->oom = 1;
        } else if (flags_ok) {
            ERR(c, CEP_DIAG_REGEX, e->regex_sp.start + (uint32_t)off, "invalid regex: %s", msg);
        }
        return T_BOOL;
    }
    case EX_IN:
        check_expr(c, e->a);
        for (ast_expr *a = e->args; a; a = a->next) check_expr(c, a);
        return T_BOOL;
    }
    return T_ANY;
}

static void check_condition(ctx *c, ast_expr *e) {
    stype t = check_expr(c, e);
    if (t != T_ANY && t != T_BOOL)
        ERR(c, CEP_DIAG_TYPE, e->sp.start, "a condition must be a boolean, not %s", stype_name(t));
}

/* ---- structure ---------------------------------------------------------------- */

static const char *conn_name(conn_kind k) {
    switch (k) {
    case CONN_NEXT: return "next";
    case CONN_FOLLOWED_BY: return "followedBy";
    case CONN_FOLLOWED_BY_ANY: return "followedByAny";
    case CONN_NOT_NEXT: return "notNext";
    case CONN_NOT_FOLLOWED_BY: return "notFollowedBy";
    default: return "begin";
    }
}

static const char *mod_name(mod_kind k) {
    switch (k) {
    case MOD_GREEDY: return "greedy";
    case MOD_CONSECUTIVE: return "consecutive";
    case MOD_ALLOW_COMBINATIONS: return "allowCombinations";
    default: return "until";
    }
}

static int q_looping(const ast_quant *q) { return q->kind == Q_PLUS || q->kind == Q_STAR || q->kind == Q_AT_LEAST; }
static int q_repeats(const ast_quant *q) { return q_looping(q) || q->kind == Q_TIMES || q->kind == Q_RANGE; }
static int q_optional(const ast_quant *q) {
    return q->kind == Q_OPTIONAL || q->kind == Q_STAR || q->optional ||
           ((q->kind == Q_RANGE || q->kind == Q_AT_LEAST) && q->min == 0);
}
static int has_mod(const ast_step *s, mod_kind k) {
    for (const ast_mod *m = s->mods; m; m = m->next)
        if (m->kind == k) return 1;
    return 0;
}

/* Quantifier bounds and modifiers: Flink's Pattern API rules. */
static void check_quantifier(ctx *c, const ast_step *s) {
    const ast_quant *q = &s->quant;
    if ((q->kind == Q_TIMES && q->min == 0) || (q->kind == Q_RANGE && q->max == 0))
        ERR(c, CEP_DIAG_RANGE, q->sp.start, "a step must be matched at least once: use ? for an optional step");
    else if (q->optional && q->min == 0)
        /* {0,m} and {0,} are optional already: Flink's times(0, m) applies
         * optional() and a second optional() throws "Optional already
         * applied!" (Quantifier.optional). */
        ERR(c, CEP_DIAG_RANGE, q->sp.start, "a quantifier from 0 is optional already: drop the '?'");
    else if (q->kind == Q_RANGE && q->min > q->max)
        ERR(c, CEP_DIAG_RANGE, q->sp.start, "quantifier lower bound %lld exceeds upper bound %lld",
            (long long)q->min, (long long)q->max);
    else if (q_repeats(q) && (q->min > 10000 || (q->kind == Q_RANGE && q->max > 10000)))
        ERR(c, CEP_DIAG_LIMIT, q->sp.start, "quantifier bounds above 10000 are not supported");
    int seen[4] = {0};
    for (const ast_mod *m = s->mods; m; m = m->next) {
        if (seen[m->kind]++) {
            ERR(c, CEP_DIAG_STRUCTURE, m->sp.start, "duplicate modifier '%s'", mod_name(m->kind));
            continue;
        }
        switch (m->kind) {
        case MOD_GREEDY:
            if (s->is_group)
                ERR(c, CEP_DIAG_STRUCTURE, m->sp.start, "'greedy' does not apply to a group");
            else if (!q_repeats(q))
                ERR(c, CEP_DIAG_STRUCTURE, m->sp.start, "'greedy' needs a repeated step (+, *, {n}, {n,} or {n,m})");
            else if (has_mod(s, MOD_ALLOW_COMBINATIONS))
                ERR(c, CEP_DIAG_STRUCTURE, m->sp.start, "'greedy' cannot be combined with allowCombinations");
            break;
        case MOD_CONSECUTIVE:
        case MOD_ALLOW_COMBINATIONS:
            if (!q_repeats(q))
                ERR(c, CEP_DIAG_STRUCTURE, m->sp.start, "'%s' needs a repeated step (+, *, {n}, {n,} or {n,m})",
                    mod_name(m->kind));
            else if (m->kind == MOD_ALLOW_COMBINATIONS && has_mod(s, MOD_CONSECUTIVE))
                ERR(c, CEP_DIAG_STRUCTURE, m->sp.start, "'allowCombinations' cannot be combined with consecutive");
            break;
        case MOD_UNTIL:
            if (!q_looping(q))
                ERR(c, CEP_DIAG_STRUCTURE, m->sp.start, "'until' needs a looping step (+, * or {n,})");
            break;
        }
    }
}

/* Structural rules of sequences (Flink's, plus language.md's). */
static void check_sequence(ctx *c, ast_step *first, int top) {
    for (ast_step *s = first; s; s = s->next) {
        int negated = is_negated(s);
        if (s == first && top && s->conn != CONN_BEGIN) {
            if (negated)
                ERR(c, CEP_DIAG_STRUCTURE, s->conn_sp.start, "a pattern cannot start with %s",
                    conn_name(s->conn));
            else
                ERR(c, CEP_DIAG_SYNTAX, s->conn_sp.start, "'%s' cannot follow 'begin'", conn_name(s->conn));
        }
        if (negated && s->is_group)
            ERR(c, CEP_DIAG_STRUCTURE, s->sp.start, "a group cannot be negated");
        else if (negated && s->quant.kind != Q_ONE)
            ERR(c, CEP_DIAG_STRUCTURE, s->quant.sp.start, "a negated step cannot have a quantifier");
        else if (negated && s->mods)
            ERR(c, CEP_DIAG_STRUCTURE, s->mods->sp.start, "a negated step cannot have modifiers");
        if (s->next && s->conn == CONN_NOT_NEXT && s->next->quant.kind != Q_ONE)
            ERR(c, CEP_DIAG_STRUCTURE, s->next->quant.sp.start,
                "a step directly after notNext cannot be optional or looping");
        if (s->next && (s->next->conn == CONN_NOT_NEXT || s->next->conn == CONN_NOT_FOLLOWED_BY) &&
            q_optional(&s->quant))
            ERR(c, CEP_DIAG_STRUCTURE, s->quant.sp.start, "a step directly before %s cannot be optional",
                conn_name(s->next->conn));
        if (s->next && has_mod(s, MOD_GREEDY) && q_optional(&s->next->quant))
            ERR(c, CEP_DIAG_STRUCTURE, s->next->quant.sp.start, "an optional step cannot follow a greedy one");
        if (!s->next && s->conn == CONN_NOT_FOLLOWED_BY && !top)
            ERR(c, CEP_DIAG_STRUCTURE, s->conn_sp.start, "a group cannot end with notFollowedBy");
        if (top && !s->next && s->conn == CONN_NOT_FOLLOWED_BY && !c->pat->has_within && !s->has_gap)
            ERR(c, CEP_DIAG_STRUCTURE, s->conn_sp.start,
                "a pattern cannot end with notFollowedBy without a within clause");
        if (s->has_gap && s->is_group)
            ERR(c, CEP_DIAG_STRUCTURE, s->gap_sp.start, "a gap applies to a step, not a group");
        else if (s->has_gap && s->gap_ms <= 0)
            ERR(c, CEP_DIAG_RANGE, s->gap_sp.start, "a gap must be positive");
        if (!negated) check_quantifier(c, s);
        if (s->is_group) check_sequence(c, s->body, 0);
    }
}

static void check_conditions(ctx *c) {
    for (size_t i = 0; i < c->steps.n; i++) {
        ast_step *s = c->steps.v[i];
        c->current = (int)i;
        if (s->where) check_condition(c, s->where);
        for (ast_mod *m = s->mods; m; m = m->next)
            if (m->cond) check_condition(c, m->cond);
    }
    c->current = -1;
}

static void check_pattern(ctx *c, ast_pattern *p) {
    c->pat = p;
    if (check_collect_steps(p->steps, &c->steps) < 0) {
        c->oom = 1;
        return;
    }
    name_clear(&c->stepnames);
    for (size_t i = 0; i < c->steps.n; i++)
        if (name_get(&c->stepnames, c->steps.v[i]->name) != UINT32_MAX)
            ERR(c, CEP_DIAG_NAME, c->steps.v[i]->name_sp.start, "duplicate step name '%s'",
                c->steps.v[i]->name);
        else if (name_put(&c->stepnames, c->steps.v[i]->name, (uint32_t)i) < 0)
            c->oom = 1;
    for (ast_name *k = p->keys; k; k = k->next) add_field(c, k->name, k->sp.start);
    check_sequence(c, p->steps, 1);
    check_conditions(c);
    if (p->has_within && p->within_ms <= 0)
        ERR(c, CEP_DIAG_RANGE, p->within_sp.start, "within must be positive");
    if (p->has_skip && (p->skip == SKIP_TO_FIRST || p->skip == SKIP_TO_LAST)) {
        int i = find_step(c, p->skip_step);
        char hint[160];
        if (i < 0)
            ERR(c, CEP_DIAG_NAME, p->skip_step_sp.start, "skip target '%s' is not a step of pattern '%s'%s",
                p->skip_step, p->name, step_hint(c, p->skip_step, hint, sizeof hint));
        else if (is_negated(c->steps.v[i]))
            ERR(c, CEP_DIAG_NAME, p->skip_step_sp.start, "step '%s' is negated and accepts no events",
                p->skip_step);
    }
    c->current = -1;
    for (ast_emit *em = p->emits; em; em = em->next) {
        for (ast_emit *prev = p->emits; prev != em; prev = prev->next)
            if (strcmp(prev->name, em->name) == 0) {
                ERR(c, CEP_DIAG_NAME, em->name_sp.start, "duplicate emit name '%s'", em->name);
                break;
            }
        check_expr(c, em->value);
    }
}

int check_patterns(ast_pattern *pats, const cep_compiler *comp, cep_program *prog, cep_diag *d) {
    ctx c = {.prog = prog, .comp = comp, .d = d, .current = -1};
    for (uint32_t f = 0; f < prog->nfields && !c.oom; f++) /* (none so far; kept general) */
        if (name_put(&c.fields, prog->fields[f], f) < 0) c.oom = 1;
    c.capfields = prog->nfields;
    for (ast_pattern *p = pats; p && !c.oom; p = p->next) {
        if (name_get(&c.pats, p->name) != UINT32_MAX)
            ERR(&c, CEP_DIAG_NAME, p->name_sp.start, "duplicate pattern name '%s'", p->name);
        else if (name_put(&c.pats, p->name, c.pat_index) < 0)
            c.oom = 1;
        check_pattern(&c, p);
        c.pat_index++;
    }
    mem_free(c.steps.v);
    name_free(&c.fields);
    name_free(&c.pats);
    name_free(&c.stepnames);
    if (c.oom || diag_oom(d)) return CEP_ENOMEM;
    return cep_diag_count(d) ? CEP_EPATTERN : CEP_OK;
}
