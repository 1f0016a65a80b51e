/* program.c — cep_compile (parse → check → compile) and cep_lint, the compiler object
 * that carries user functions, and read access to a compiled program. */
#include "config.h"
#include "checker.h"
#include "compile.h"
#include "diag.h"
#include "fieldpath.h"
#include "expr.h"
#include "lint.h"
#include "mem.h"
#include "names.h"
#include "nfa.h"
#include "regex.h"
#include "route.h"

#include <string.h>

/* ---- compiler ---------------------------------------------------------------- */

CEP_API int cep_compiler_new(cep_compiler **out) {
    if (!out) return CEP_EINVAL;
    *out = mem_calloc(1, sizeof **out);
    return *out ? CEP_OK : CEP_ENOMEM;
}

CEP_API void cep_compiler_free(cep_compiler *c) {
    if (!c) return;
    for (uint32_t i = 0; i < c->nfns; i++) mem_free(c->fns[i].name);
    mem_free(c->fns);
    mem_free(c);
}

static int valid_name(const char *s) {
    if (!s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) return 0;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

CEP_API int cep_compiler_add_function(cep_compiler *c, const char *name, int nargs,
                                      cep_function_fn fn, void *userdata) {
    if (!c || !fn || !valid_name(name) || nargs < -1 || nargs > 16) return CEP_EINVAL;
    if (ast_aggregate(name) != OP_NONE) return CEP_EINVAL; /* reserved */
    if (builtin_lookup(name, NULL) >= 0) return CEP_EINVAL;
    for (uint32_t i = 0; i < c->nfns; i++)
        if (strcmp(c->fns[i].name, name) == 0) return CEP_EINVAL;
    if (mem_grow((void **)&c->fns, &c->cap, c->nfns + 1, sizeof *c->fns) < 0) return CEP_ENOMEM;
    char *copy = mem_strdup(name);
    if (!copy) return CEP_ENOMEM;
    c->fns[c->nfns++] = (user_fn){copy, nargs, fn, userdata};
    return CEP_OK;
}

/* ---- program ---------------------------------------------------------------- */

static void free_pattern(nfa_pattern *p) {
    mem_free(p->name);
    for (uint32_t i = 0; p->key_names && i < p->nkeys; i++) mem_free(p->key_names[i]);
    mem_free(p->key_names);
    mem_free(p->key_slots);
    for (uint32_t i = 0; p->steps && i < p->nsteps; i++) mem_free(p->steps[i].name);
    mem_free(p->steps);
    mem_free(p->states);
    mem_free(p->edges);
    for (uint32_t i = 0; p->emit_names && i < p->nemit; i++) mem_free(p->emit_names[i]);
    mem_free(p->emit_names);
    mem_free(p->emit_exprs);
    mem_free(p->dispatch);
}

CEP_API void cep_program_free(cep_program *p) {
    if (!p) return;
    for (uint32_t i = 0; p->patterns && i < p->npatterns; i++) free_pattern(&p->patterns[i]);
    mem_free(p->patterns);
    for (uint32_t i = 0; i < p->nfields; i++) mem_free(p->fields[i]);
    mem_free(p->fields);
    mem_free(p->field_origins);
    for (uint32_t i = 0; p->field_parts && i < p->nfields; i++) mem_free(p->field_parts[i]);
    mem_free(p->field_parts);
    mem_free(p->field_nparts);
    mem_free(p->levels);
    mem_free(p->members);
    for (uint32_t i = 0; i < p->nfns; i++) mem_free(p->fns[i].name);
    mem_free(p->fns);
    mem_free(p->exprs);
    regex_free_all(p->regexes);
    nfa_route_free(p->route);
    mem_free(p);
}

static int copy_functions(cep_program *p, const cep_compiler *c) {
    if (!c || !c->nfns) return CEP_OK;
    p->fns = mem_calloc(c->nfns, sizeof *p->fns);
    if (!p->fns) return CEP_ENOMEM;
    for (uint32_t i = 0; i < c->nfns; i++) {
        p->fns[i] = c->fns[i];
        if (!(p->fns[i].name = mem_strdup(c->fns[i].name))) return CEP_ENOMEM;
        p->nfns++;
    }
    return CEP_OK;
}

/* CEP_MAX_PATTERN_BYTES (cepheus.h, 2 MiB): room for rule sets of 10,000
 * rules (1.4 MB for issue 17's W8), small enough that no text can make the
 * compiler work for long (names are hashed: no pass is quadratic in the
 * patterns, steps or fields but the route's field lookup, docs/errors.md). */

/* cep_compile, and cep_lint when w is not NULL: the checked tree's warnings
 * go to w (the analysis is dsl/lint.c). */
static int compile_text(const cep_compiler *c, const char *text, size_t len, const char *name,
                        cep_program **prog, cep_diag **diag, cep_diag *w) {
    if (prog) *prog = NULL;
    if (diag) *diag = NULL;
    if (!prog || (!text && len)) return CEP_EINVAL;
    if (len > UINT32_MAX / 2) return CEP_ERANGE; /* spans are 32-bit offsets */
    cep_diag *d = diag_new(name, text ? text : "", len);
    if (!d) return CEP_ENOMEM;
    if (len > CEP_MAX_PATTERN_BYTES) {
        /* A clear error rather than minutes in the checker's name lookups. */
        int rc = diag_add(d, CEP_DIAG_LIMIT, 0, "pattern text is %zu bytes; the limit is %u", len,
                          (unsigned)CEP_MAX_PATTERN_BYTES) < 0 || diag_finish(d) < 0
                     ? CEP_ENOMEM
                     : CEP_EPATTERN;
        if (diag) *diag = d;
        else cep_diag_free(d);
        return rc;
    }
    cep_program *p = mem_calloc(1, sizeof *p);
    ast_pattern *pats = NULL;
    int rc = p ? CEP_OK : CEP_ENOMEM;
    if (rc == CEP_OK) {
        rc = copy_functions(p, c);
    }
    if (rc == CEP_OK) {
        int prc = ast_parse(text ? text : "", len, d, &pats);
        if (diag_oom(d)) rc = CEP_ENOMEM;
        else if (!pats && prc == 0) {
            diag_add(d, CEP_DIAG_SYNTAX, len, "no pattern in the file");
        }
    }
    if (rc == CEP_OK) rc = check_patterns(pats, c, p, d);
    if (rc == CEP_OK && cep_diag_count(d)) rc = CEP_EPATTERN; /* parse errors */
    if (rc == CEP_OK && w && lint_patterns(pats, text, len, w, regex_backtracks) < 0) rc = CEP_ENOMEM;
    if (rc == CEP_OK) rc = program_index_fields(p);
    if (rc == CEP_OK) rc = nfa_compile(p, pats, d);
    ast_pattern_free(pats);
    if (diag_finish(d) < 0 && rc != CEP_OK) rc = CEP_ENOMEM;
    if (rc == CEP_OK && cep_diag_count(d)) rc = CEP_EPATTERN;
    if (rc != CEP_OK) {
        cep_program_free(p);
        p = NULL;
    }
    *prog = p;
    if (diag) *diag = d;
    else cep_diag_free(d);
    return rc;
}

int program_slot(const cep_program *p, const char *name, size_t len) {
    /* Programs read few fields; a linear scan beats hashing at this size and
     * runs once per JSON key, not per condition. */
    for (uint32_t i = 0; i < p->nfields; i++)
        if (strlen(p->fields[i]) == len && memcmp(p->fields[i], name, len) == 0) return (int)i;
    return -1;
}

CEP_API size_t cep_program_pattern_count(const cep_program *p) { return p ? p->npatterns : 0; }

CEP_API uint64_t cep_program_fingerprint(const cep_program *p) { return p ? p->fingerprint : 0; }

CEP_API const char *cep_program_pattern_name(const cep_program *p, size_t i) {
    return p && i < p->npatterns ? p->patterns[i].name : NULL;
}

CEP_API uint64_t cep_program_pattern_fingerprint(const cep_program *p, size_t i) {
    return p && i < p->npatterns ? p->patterns[i].fingerprint : 0;
}

CEP_API size_t cep_program_field_count(const cep_program *p) { return p ? p->nfields : 0; }

CEP_API const char *cep_program_field_name(const cep_program *p, size_t slot) {
    return p && slot < p->nfields ? p->fields[slot] : NULL;
}

CEP_API int cep_program_field_origin(const cep_program *p, size_t slot, size_t *pattern, int *line) {
    if (!p || slot >= p->nfields || !p->field_origins) return CEP_EINVAL;
    if (pattern) *pattern = p->field_origins[slot].pattern;
    if (line) *line = p->field_origins[slot].line;
    return CEP_OK;
}

CEP_API int cep_program_field_slot(const cep_program *p, const char *name) {
    if (!p || !name) return CEP_EINVAL;
    int s = program_slot(p, name, strlen(name));
    if (s >= 0) return s;
    /* Another spelling of the same path: `amount`, payload.`amount`. */
    fpath fp;
    if (fpath_parse(name, strlen(name), &fp) < 0) return CEP_EINVAL;
    char *t = fpath_text(&fp, 0);
    if (!t) return CEP_ENOMEM;
    s = program_slot(p, t, strlen(t));
    mem_free(t);
    return s >= 0 ? s : CEP_ENOTFOUND;
}

CEP_API int cep_compile(const cep_compiler *c, const char *text, size_t len, const char *name,
                        cep_program **prog, cep_diag **diag) {
    return compile_text(c, text, len, name, prog, diag, NULL);
}

/* cep_lint, keeping the program when prog is not NULL (cep_compile_lint):
 * one compile gives both. */
static int lint_text(const cep_compiler *c, const char *text, size_t len, const char *name,
                     cep_program **prog, cep_diag **diag) {
    if (prog) *prog = NULL;
    if (diag) *diag = NULL;
    if (!diag || (!text && len)) return CEP_EINVAL;
    if (len > UINT32_MAX / 2) return CEP_ERANGE;
    cep_diag *w = diag_new(name, text ? text : "", len), *errs = NULL;
    cep_program *p = NULL;
    if (!w) return CEP_ENOMEM;
    int rc = compile_text(c, text, len, name, &p, &errs, w);
    if (rc == CEP_OK && (diag_finish(w) < 0 || diag_oom(w))) rc = CEP_ENOMEM;
    if (rc == CEP_OK) {
        cep_diag_free(errs);
        *diag = w;
    } else {
        cep_diag_free(w);
        *diag = errs;
    }
    if (rc == CEP_OK && prog) *prog = p;
    else cep_program_free(p);
    return rc;
}

CEP_API int cep_lint(const cep_compiler *c, const char *text, size_t len, const char *name,
                     cep_diag **diag) {
    return lint_text(c, text, len, name, NULL, diag);
}

CEP_API int cep_compile_lint(const cep_compiler *c, const char *text, size_t len, const char *name,
                             cep_program **prog, cep_diag **diag) {
    if (!prog) {
        if (diag) *diag = NULL;
        return CEP_EINVAL;
    }
    return lint_text(c, text, len, name, prog, diag);
}

CEP_API size_t cep_program_field_depth(const cep_program *p, size_t slot) {
    return p && slot < p->nfields && p->field_nparts ? p->field_nparts[slot] : 0;
}

CEP_API const char *cep_program_field_part(const cep_program *p, size_t slot, size_t i) {
    if (!p || slot >= p->nfields || !p->field_parts || i >= p->field_nparts[slot]) return NULL;
    const char *s = p->field_parts[slot];
    while (i--) s += strlen(s) + 1;
    return s;
}

/* ---- the levels the JSON readers walk ---------------------------------------- */

typedef struct lvl_build {
    cep_program *p;
    size_t cap_levels, cap_members;
} lvl_build;

static const char *part_at(const cep_program *p, uint32_t slot, uint32_t depth) {
    const char *s = p->field_parts[slot];
    while (depth--) s += strlen(s) + 1;
    return s;
}

/* Level for the slots in set[0..n) (all sharing their parts before
 * depth): its members first, contiguous, then their children. Returns
 * the level's index or -1 on ENOMEM. */
static int build_level(lvl_build *b, uint32_t *set, uint32_t n, uint32_t depth) {
    cep_program *p = b->p;
    if (mem_grow((void **)&p->levels, &b->cap_levels, p->nlevels + 1, sizeof *p->levels) < 0) return -1;
    int li = (int)p->nlevels++, rc = -1;
    uint32_t first = p->nmembers;
    name_index names = {0};
    uint32_t *mof = mem_alloc((n ? n : 1) * sizeof *mof), *at = NULL, *sub = NULL;
    if (!mof) return -1;
    for (uint32_t i = 0; i < n; i++) { /* members in the order of their first slot */
        const char *name = part_at(p, set[i], depth);
        uint32_t m = name_get(&names, name);
        if (m == UINT32_MAX) {
            m = p->nmembers - first;
            if (mem_grow((void **)&p->members, &b->cap_members, p->nmembers + 1, sizeof *p->members) < 0 ||
                name_put(&names, name, m) < 0)
                goto out;
            p->members[p->nmembers++] = (field_member){name, (uint32_t)strlen(name), -1, -1};
        }
        mof[i] = m;
        if (p->field_nparts[set[i]] == depth + 1) p->members[first + m].slot = (int32_t)set[i];
    }
    uint32_t nm = p->nmembers - first;
    p->levels[li] = (field_level){first, nm};
    /* The slots under each member, in set's order: counted, then placed. */
    at = mem_calloc(nm + 1, sizeof *at);
    sub = mem_alloc((n ? n : 1) * sizeof *sub);
    if (!at || !sub) goto out;
    for (uint32_t i = 0; i < n; i++)
        if (p->field_nparts[set[i]] > depth + 1) at[mof[i] + 1]++;
    for (uint32_t m = 0; m < nm; m++) at[m + 1] += at[m];
    for (uint32_t i = 0; i < n; i++)
        if (p->field_nparts[set[i]] > depth + 1) sub[at[mof[i]]++] = set[i];
    for (uint32_t m = 0, from = 0; m < nm; from = at[m++]) { /* at[m]: the end of m's */
        if (at[m] == from) continue;
        int child = build_level(b, sub + from, at[m] - from, depth + 1);
        if (child < 0) goto out;
        p->members[first + m].child = child;
    }
    rc = li;
out:
    name_free(&names);
    mem_free(mof);
    mem_free(at);
    mem_free(sub);
    return rc;
}

int program_index_fields(cep_program *p) {
    uint32_t n = p->nfields;
    p->field_parts = mem_calloc(n ? n : 1, sizeof *p->field_parts);
    p->field_nparts = mem_calloc(n ? n : 1, sizeof *p->field_nparts);
    if (!p->field_parts || !p->field_nparts) return CEP_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        fpath fp;
        const char *name = p->fields[i];
        if (fpath_parse(name, strlen(name), &fp) < 0 || fp.n == 0) {
            /* Not reached: the checker writes names in the text form. */
            fp.n = 1;
            fp.part[0] = name;
            fp.len[0] = strlen(name);
        }
        size_t total = 0;
        for (uint32_t k = 0; k < fp.n; k++) total += fp.len[k] + 1;
        char *parts = mem_alloc(total), *o = parts;
        if (!parts) return CEP_ENOMEM;
        for (uint32_t k = 0; k < fp.n; k++) {
            memcpy(o, fp.part[k], fp.len[k]);
            o[fp.len[k]] = '\0';
            o += fp.len[k] + 1;
        }
        p->field_parts[i] = parts;
        p->field_nparts[i] = fp.n;
    }
    lvl_build b = {.p = p};
    uint32_t *set = mem_alloc((n ? n : 1) * sizeof *set);
    int rc = CEP_ENOMEM;
    if (set) {
        for (uint32_t i = 0; i < n; i++) set[i] = i;
        if (build_level(&b, set, n, 0) == 0) rc = CEP_OK;
    }
    mem_free(set);
    return rc;
}
