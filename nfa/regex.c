/* regex.c — PCRE2 behind a small interface: compile with our allocator,
 * JIT when the platform has it, bounded matching. */
#include "config.h"
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "mem.h"
#include "regex.h"
#include "relint.h"

/* Bounds on backtracking so a hostile regex/input pair cannot hang us. */
#define MATCH_LIMIT 1000000
#define DEPTH_LIMIT 10000

struct regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
    regex *next;
};

static void *pc_alloc(size_t n, void *ud) { (void)ud; return mem_alloc(n); }
static void pc_free(void *p, void *ud) { (void)ud; mem_free(p); }

int regex_flag_ok(char c) { return c && strchr("imsxu", c) != NULL; }

regex *regex_compile(const char *pat, size_t n, const char *flags,
                     char *msg, size_t msgsz, size_t *erroff) {
    *erroff = (size_t)-1;
    if (msgsz) msg[0] = '\0';
    regex *re = mem_calloc(1, sizeof *re);
    if (!re) return NULL;
    pcre2_general_context *gctx = pcre2_general_context_create(pc_alloc, pc_free, NULL);
    pcre2_compile_context *cctx = gctx ? pcre2_compile_context_create(gctx) : NULL;
    re->mctx = gctx ? pcre2_match_context_create(gctx) : NULL;
    if (!cctx || !re->mctx) goto oom;
    /* UTF-8 by default; invalid UTF-8 subjects simply do not match. */
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    for (const char *f = flags ? flags : ""; *f; f++) {
        switch (*f) {
        case 'i': opts |= PCRE2_CASELESS; break;
        case 'm': opts |= PCRE2_MULTILINE; break;
        case 's': opts |= PCRE2_DOTALL; break;
        case 'x': opts |= PCRE2_EXTENDED; break;
        case 'u': opts |= PCRE2_UCP; break;
        }
    }
    int errcode;
    PCRE2_SIZE off;
    re->code = pcre2_compile((PCRE2_SPTR)pat, n, opts, &errcode, &off, cctx);
    if (!re->code) {
        /* PCRE2_ERROR_HEAP_FAILED is how pcre2_compile reports that our
         * allocator failed; without it an OOM read as an invalid regex. */
        if (errcode == PCRE2_ERROR_HEAPLIMIT || errcode == PCRE2_ERROR_NOMEMORY ||
            errcode == PCRE2_ERROR_HEAP_FAILED)
            goto oom;
        pcre2_get_error_message(errcode, (PCRE2_UCHAR *)msg, msgsz);
        *erroff = off;
        goto fail;
    }
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE); /* optional speed-up */
    pcre2_set_match_limit(re->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(re->mctx, DEPTH_LIMIT);
    pcre2_compile_context_free(cctx);
    pcre2_general_context_free(gctx);
    return re;
oom:
    *erroff = (size_t)-1;
fail:
    pcre2_compile_context_free(cctx);
    pcre2_general_context_free(gctx);
    pcre2_match_context_free(re->mctx);
    mem_free(re);
    return NULL;
}

int regex_match(const regex *re, const char *s, size_t n, void *md) {
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, md, re->mctx);
    if (rc >= 0) return 1; /* 0 = matched, ovector too small: still a match */
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    return -1;
}

void regex_link(regex *re, regex **list) {
    re->next = *list;
    *list = re;
}

void regex_free_all(regex *re) {
    while (re) {
        regex *next = re->next;
        pcre2_code_free(re->code);
        pcre2_match_context_free(re->mctx);
        mem_free(re);
        re = next;
    }
}

void *regex_match_data_new(void) {
    pcre2_general_context *gctx = pcre2_general_context_create(pc_alloc, pc_free, NULL);
    if (!gctx) return NULL;
    pcre2_match_data *md = pcre2_match_data_create(1, gctx);
    pcre2_general_context_free(gctx);
    return md;
}

void regex_match_data_free(void *md) { pcre2_match_data_free(md); }

/* ---- the regex warning's probe (dsl/relint.c) ----------------------------- */

typedef struct probe_ctx {
    const regex *re;
    pcre2_match_data *md;
} probe_ctx;

/* Match as regex_match does, telling a limit (the matcher gave up: 1) from
 * our allocator failing (-1). */
static int probe(void *ud, const char *s, size_t n) {
    const probe_ctx *c = ud;
    int rc = pcre2_match(c->re->code, (PCRE2_SPTR)s, n, 0, 0, c->md, c->re->mctx);
    if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc == PCRE2_ERROR_NOMEMORY) return -1;
    return rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
           rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT;
}

int regex_backtracks(const char *pat, const char *flags, int *budget, relint_found *out) {
    if ((flags && strchr(flags, 'x')) || *budget <= 0) return 0; /* x: extended syntax, not followed */
    char msg[8];
    size_t off;
    regex *re = regex_compile(pat, strlen(pat), flags, msg, sizeof msg, &off);
    if (!re) return off == (size_t)-1 ? -1 : 0;
    probe_ctx c = {re, regex_match_data_new()};
    int rc = c.md ? relint_backtracks(pat, probe, &c, budget, out) : -1;
    regex_match_data_free(c.md);
    regex_free_all(re);
    return rc;
}
