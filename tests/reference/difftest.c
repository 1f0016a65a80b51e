/* difftest.c — randomized differential test: random small patterns and
 * event streams go through the engine (public C API) and through the
 * reference matcher (refmatch.c); the outputs must be identical. A failing
 * seed is minimized and printed as a conformance case, ready to paste.
 * Identical means: per key, the same matches in the same order (matches the
 * reference groups as engine-ordered ties compared as sets), and across
 * keys an order consistent with the moments the reference releases them.
 * Only the public API (cepheus.h) is used.
 *
 *   difftest [-n SEEDS] [-s FIRST_SEED] [-v] [-k] [-g 0|1]
 *     -k keep going after a failure; -g which greedy variant the reference
 *     follows (refmatch.h)
 *   difftest -1 SEED          one seed, verbose
 *   difftest -c SEED          print one seed's case (not minimized) as a conformance case
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cepheus.h"
#include "refmatch.h"

/* ---- random numbers ------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd64(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int rnd(int n) { return (int)(rnd64() % (uint64_t)n); }
static int chance(int pct) { return rnd(100) < pct; }

/* ---- test cases ------------------------------------------------------------ */

typedef struct tcase {
    rpattern p;
    revent ev[R_MAXEV];
    int n;
} tcase;

static int is_neg(const rstep *s) { return s->conn == RK_NOTNEXT || s->conn == RK_NOTFB; }
static int loops(const rstep *s) { return s->max < 0 || s->max > 1; }

static int cond_refs_ok(const rpattern *p, int s, const rcond *c)
{
    if (c->kind != RC_VGT && c->kind != RC_TEQ_VGT) return 1;
    if (c->ref < 0 || c->ref >= p->n || is_neg(&p->st[c->ref])) return 0;
    return c->ref < s || (c->ref == s && loops(&p->st[s]));
}

/* The rules the generator keeps to (the language's own, plus limits to what
 * the reference models: see refmatch.c). */
static int legal(const rpattern *p)
{
    int nneg = 0, nnorm = 0;
    if (p->n < 1 || p->st[0].conn != RK_BEGIN) return 0;
    for (int s = 0; s < p->n; s++) {
        const rstep *st = &p->st[s];
        if (s > 0 && st->conn == RK_BEGIN) return 0;
        if (is_neg(st)) {
            nneg++;
            if (s == 0 || s == p->n - 1) return 0;
            if (is_neg(&p->st[s - 1]) || is_neg(&p->st[s + 1])) return 0;
            if (st->cond.kind != RC_TEQ || st->q != RQ_ONE) return 0;
            const rstep *nx = &p->st[s + 1];
            if (st->conn == RK_NOTNEXT && nx->q != RQ_ONE) return 0;
            if (nx->min < 1) return 0;
            continue;
        }
        nnorm++;
        if (!cond_refs_ok(p, s, &st->cond)) return 0;
        if (st->greedy && !(st->q == RQ_PLUS || st->q == RQ_STAR || st->q == RQ_ATLEAST ||
                            st->q == RQ_RANGE))
            return 0;
        if (st->inner != RI_RELAXED && !loops(st)) return 0;
        if (st->has_until && !(st->q == RQ_PLUS || st->q == RQ_STAR || st->q == RQ_ATLEAST))
            return 0;
        /* the language's rules (as Flink's Pattern API) */
        if (st->greedy && st->inner == RI_ANY) return 0;
        if (st->min == 0 && s > 0) {
            int prev = s - 1;
            if (is_neg(&p->st[prev])) prev--;
            if (prev >= 0 && p->st[prev].greedy) return 0;
        }
        if (st->min == 0 && s + 1 < p->n && is_neg(&p->st[s + 1])) return 0;
    }
    if (nneg > 1 || nnorm < 1) return 0;
    if (nneg && p->st[0].min < 1) return 0;
    if ((p->skip == RS_TOFIRST || p->skip == RS_TOLAST) &&
        (p->skip_step < 0 || p->skip_step >= p->n || is_neg(&p->st[p->skip_step])))
        return 0;
    return 1;
}

static char rtype(void) { return (char)('a' + rnd(3)); }

static rcond gen_cond(int s, int can_self, int nprev_normal)
{
    rcond c;
    memset(&c, 0, sizeof c);
    int r = rnd(100);
    c.t = rtype();
    do c.t2 = rtype(); while (c.t2 == c.t);
    if (r < 45) c.kind = RC_TEQ;
    else if (r < 55) c.kind = RC_TNE;
    else if (r < 65) c.kind = RC_TIN;
    else if (r < 70) c.kind = RC_TRUE;
    else if (r < 77) { c.kind = RC_VLT; c.n = 1 + rnd(3); }
    else c.kind = rnd(2) ? RC_VGT : RC_TEQ_VGT;
    if (c.kind == RC_VGT || c.kind == RC_TEQ_VGT) {
        /* refer to this looping step or an earlier step, chosen by the caller */
        if (!can_self && nprev_normal == 0) c.kind = RC_TEQ;
        else c.ref = can_self && (nprev_normal == 0 || rnd(2)) ? s : -1 - rnd(nprev_normal);
    }
    return c;
}

static void gen_quant(rstep *st)
{
    int r = rnd(100);
    st->q = RQ_ONE; st->min = 1; st->max = 1;
    if (r < 40) return;
    if (r < 52) { st->q = RQ_OPT; st->min = 0; st->max = 1; }
    else if (r < 66) { st->q = RQ_PLUS; st->min = 1; st->max = -1; }
    else if (r < 76) { st->q = RQ_STAR; st->min = 0; st->max = -1; }
    else if (r < 84) { st->q = RQ_TIMES; st->min = st->max = 1 + rnd(3); }
    else if (r < 91) { st->q = RQ_ATLEAST; st->min = 1 + rnd(2); st->max = -1; }
    else { st->q = RQ_RANGE; st->min = 1 + rnd(2); st->max = st->min + 1 + rnd(2); }
}

static void gen_pattern(rpattern *p)
{
    for (;;) {
        memset(p, 0, sizeof *p);
        int nnorm = 2 + rnd(3);
        int negpos = chance(30) ? 1 + rnd(nnorm - 1) : -1; /* before normal step negpos */
        int idx[R_MAXSTEPS], nidx = 0;
        for (int i = 0; i < nnorm; i++) {
            if (i == negpos) {
                rstep *ng = &p->st[p->n++];
                ng->conn = chance(50) ? RK_NOTNEXT : RK_NOTFB;
                ng->q = RQ_ONE; ng->min = ng->max = 1;
                ng->cond.kind = RC_TEQ;
                ng->cond.t = rtype();
            }
            int s = p->n++;
            rstep *st = &p->st[s];
            st->conn = i == 0 ? RK_BEGIN : (rconn)(RK_NEXT + rnd(3));
            gen_quant(st);
            if (loops(st)) {
                int r = rnd(100);
                st->inner = r < 60 ? RI_RELAXED : r < 80 ? RI_STRICT : RI_ANY;
                if ((st->q == RQ_PLUS || st->q == RQ_STAR || st->q == RQ_ATLEAST ||
                     st->q == RQ_RANGE) && chance(25))
                    st->greedy = 1;
                if ((st->q == RQ_PLUS || st->q == RQ_STAR || st->q == RQ_ATLEAST) && chance(12)) {
                    st->has_until = 1;
                    st->until.kind = RC_TEQ;
                    st->until.t = rtype();
                }
            }
            st->cond = gen_cond(s, loops(st), nidx);
            if (st->cond.ref < 0 && (st->cond.kind == RC_VGT || st->cond.kind == RC_TEQ_VGT))
                st->cond.ref = idx[-1 - st->cond.ref];
            idx[nidx++] = s;
        }
        if (chance(30)) { p->has_within = 1; p->within = 3 + rnd(8); }
        int r = rnd(100);
        p->skip = r < 40 ? RS_NOSKIP : r < 55 ? RS_TONEXT : r < 70 ? RS_PASTLAST
                : r < 85 ? RS_TOFIRST : RS_TOLAST;
        p->skip_step = idx[rnd(nidx)];
        p->keyed = chance(50);
        if (legal(p)) return;
    }
}

static void gen_case(tcase *tc)
{
    gen_pattern(&tc->p);
    tc->n = 5 + rnd(8);
    int64_t ts = 1 + rnd(3);
    for (int i = 0; i < tc->n; i++) {
        tc->ev[i].ts = ts;
        ts += 1 + rnd(3);
        tc->ev[i].key = tc->p.keyed ? rnd(2) : 0;
        tc->ev[i].t = rtype();
        tc->ev[i].v = rnd(4);
    }
}

static int event_json(const tcase *tc, int i, char *b, int cap)
{
    const revent *e = &tc->ev[i];
    if (tc->p.keyed)
        return snprintf(b, (size_t)cap, "{\"ts\":%lld,\"k\":\"%c\",\"t\":\"%c\",\"v\":%d}",
                        (long long)e->ts, e->key ? 'y' : 'x', e->t, e->v);
    return snprintf(b, (size_t)cap, "{\"ts\":%lld,\"t\":\"%c\",\"v\":%d}", (long long)e->ts, e->t,
                    e->v);
}

/* ---- running the engine ------------------------------------------------- */

typedef struct emres {
    rmatch *m;
    int n, cap;
    const tcase *tc;
    int bad;          /* an event in a match that is not ours */
} emres;

static int find_event(const tcase *tc, int64_t ts)
{
    for (int i = 0; i < tc->n; i++)
        if (tc->ev[i].ts == ts) return i;
    return -1;
}

static int on_match(void *ud, const cep_match *m)
{
    emres *r = ud;
    rmatch x;
    memset(&x, 0, sizeof x);
    if (cep_match_key_count(m) > 0) {
        cep_value k = cep_match_key(m, 0);
        x.key = k.type == CEP_STRING && k.u.s.len == 1 && k.u.s.ptr[0] == 'y';
    }
    size_t ns = cep_match_step_count(m);
    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < cep_match_event_count(m, s); i++) {
            int e = find_event(r->tc, cep_event_time(cep_match_event(m, s, i)));
            if (e < 0 || x.n >= R_MAXT) { r->bad = 1; continue; }
            /* insert in time order */
            int j = x.n++;
            while (j > 0 && x.ev[j - 1] > e) { x.ev[j] = x.ev[j - 1]; x.step[j] = x.step[j - 1]; j--; }
            x.ev[j] = e;
            x.step[j] = (int)s;
        }
    if (r->n == r->cap) {
        int nc = r->cap ? 2 * r->cap : 32;
        rmatch *nm = realloc(r->m, (size_t)nc * sizeof *nm);
        if (!nm) { r->bad = 1; return 0; }
        r->m = nm;
        r->cap = nc;
    }
    r->m[r->n++] = x;
    return 0;
}

/* 0 ok; 1 the pattern does not compile (text in *err); -1 engine error. */
static int run_engine(const tcase *tc, emres *out, char *err, int errcap)
{
    char text[4096];
    ref_render_pattern(&tc->p, text, sizeof text);
    cep_program *prog = NULL;
    cep_diag *diag = NULL;
    memset(out, 0, sizeof *out);
    out->tc = tc;
    if (cep_compile(NULL, text, strlen(text), "<test>", &prog, &diag) != CEP_OK) {
        snprintf(err, (size_t)errcap, "%s", diag ? cep_diag_render(diag) : "compile failed");
        cep_diag_free(diag);
        return 1;
    }
    cep_diag_free(diag);
    cep_engine *eng = NULL;
    int rc = cep_engine_new(prog, &eng);
    if (rc == CEP_OK) {
        cep_engine_on_match(eng, on_match, out);
        for (int i = 0; i < tc->n && rc == CEP_OK; i++) {
            char line[256];
            int len = event_json(tc, i, line, sizeof line);
            rc = cep_engine_push_json(eng, line, (size_t)len);
        }
        if (rc == CEP_OK) rc = cep_engine_finish(eng);
        if (rc != CEP_OK) snprintf(err, (size_t)errcap, "engine: %s", cep_strerror(rc));
    }
    cep_engine_free(eng);
    cep_program_free(prog);
    return rc == CEP_OK && !out->bad ? 0 : -1;
}

/* ---- comparing ------------------------------------------------------------ */

#define R_MAXMATCH 200000

static int same_match(const rmatch *a, const rmatch *b)
{
    if (a->key != b->key || a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (a->ev[i] != b->ev[i] || a->step[i] != b->step[i]) return 0;
    return 1;
}

/* The oracle for ties the skip strategy leaves to the engine: take the one
 * the engine emitted at that place, if it is a candidate at all. */
static int choose_like_engine(void *ud, const rout *sofar, const rmatch *c, int nc)
{
    const emres *em = ud;
    int key = c[0].key, seen = 0;
    for (int i = 0; i < sofar->n; i++) seen += sofar->m[i].key == key;
    for (int i = 0; i < em->n; i++) {
        if (em->m[i].key != key) continue;
        if (seen-- > 0) continue;
        for (int j = 0; j < nc; j++)
            if (same_match(&em->m[i], &c[j])) return j;
        return 0;
    }
    return 0;
}

static int pos_lt(rpos a, rpos b) { return a.major < b.major || (a.major == b.major && a.minor < b.minor); }

/* 0: same output. Else a reason in why. */
static int compare(const emres *em, const rout *ro, char *why, int cap)
{
    static int used[R_MAXMATCH];
    static rpos epos[R_MAXMATCH];
    static int eidx[R_MAXMATCH];
    static int gi[R_MAXMATCH];
    if (em->n > R_MAXMATCH || ro->n > R_MAXMATCH) {
        snprintf(why, (size_t)cap, "too many matches");
        return 1;
    }
    memset(used, 0, sizeof used);
    for (int key = 0; key < 2; key++) {
        int ei = 0; /* engine matches of this key, walked in order */
        int ne = 0;
        for (int i = 0; i < em->n; i++)
            if (em->m[i].key == key) eidx[ne++] = i;
        int ri = 0;
        while (ri < ro->n) {
            if (ro->m[ri].key != key) { ri++; continue; }
            int g = ro->m[ri].group, ng = 0;
            while (ri < ro->n && (ro->m[ri].key != key || ro->m[ri].group == g)) {
                if (ro->m[ri].key == key) gi[ng++] = ri;
                ri++;
            }
            /* the next ng engine matches of this key, in any order */
            for (int j = 0; j < ng; j++) {
                if (ei + j >= ne) {
                    snprintf(why, (size_t)cap, "key %d: engine has fewer matches", key);
                    return 1;
                }
                const rmatch *x = &em->m[eidx[ei + j]];
                int found = 0;
                for (int t = 0; t < ng && !found; t++)
                    if (!used[gi[t]] && same_match(x, &ro->m[gi[t]])) {
                        used[gi[t]] = 1;
                        epos[eidx[ei + j]] = ro->m[gi[t]].pos;
                        found = 1;
                    }
                if (!found) {
                    snprintf(why, (size_t)cap, "key %d: engine match %d differs", key, ei + j + 1);
                    return 1;
                }
            }
            ei += ng;
        }
        if (ei != ne) {
            snprintf(why, (size_t)cap, "key %d: engine has more matches", key);
            return 1;
        }
    }
    /* Across keys: the order the matches were released in. */
    for (int i = 0; i < em->n; i++)
        for (int j = i + 1; j < em->n; j++)
            if (em->m[i].key != em->m[j].key && pos_lt(epos[j], epos[i])) {
                snprintf(why, (size_t)cap, "order across keys: engine match %d before %d", i + 1,
                         j + 1);
                return 1;
            }
    return 0;
}

/* ---- one case ----------------------------------------------------------- */

enum { R_PASS, R_FAIL, R_SKIP };

static int check_case(const tcase *tc, char *why, int cap, rout *ro_out, emres *em_out)
{
    emres em;
    char err[2048] = "";
    int rc = run_engine(tc, &em, err, sizeof err);
    if (rc == 1) {
        snprintf(why, (size_t)cap, "does not compile:\n%s", err);
        free(em.m);
        return R_SKIP;
    }
    rout ro;
    if (ref_run(&tc->p, tc->ev, tc->n, choose_like_engine, &em, &ro) != 0) {
        snprintf(why, (size_t)cap, "reference limit");
        free(em.m);
        ref_out_free(&ro);
        return R_SKIP;
    }
    int res = R_PASS;
    if (rc != 0) {
        snprintf(why, (size_t)cap, "%s", err[0] ? err : "engine error");
        res = R_FAIL;
    } else if (compare(&em, &ro, why, cap)) {
        res = R_FAIL;
    }
    if (ro_out) *ro_out = ro; else ref_out_free(&ro);
    if (em_out) *em_out = em; else free(em.m);
    return res;
}

/* ---- minimizing ------------------------------------------------------------ */

static int still_fails(const tcase *tc)
{
    char why[512];
    if (!legal(&tc->p)) return 0;
    return check_case(tc, why, sizeof why, NULL, NULL) == R_FAIL;
}

static void fix_refs_after_removal(rpattern *p, int s)
{
    for (int i = 0; i < p->n; i++) {
        rcond *c = &p->st[i].cond;
        if (c->kind == RC_VGT || c->kind == RC_TEQ_VGT) {
            if (c->ref == s) { c->kind = c->kind == RC_VGT ? RC_TRUE : RC_TEQ; }
            else if (c->ref > s) c->ref--;
        }
    }
    if (p->skip == RS_TOFIRST || p->skip == RS_TOLAST) {
        if (p->skip_step == s) p->skip = RS_NOSKIP;
        else if (p->skip_step > s) p->skip_step--;
    }
}

static int remove_step(tcase *tc, int s)
{
    rpattern *p = &tc->p;
    if (p->n <= 1) return 0;
    memmove(&p->st[s], &p->st[s + 1], sizeof(rstep) * (size_t)(p->n - s - 1));
    p->n--;
    if (s == 0 && p->n > 0) {
        if (is_neg(&p->st[0])) return 0;
        p->st[0].conn = RK_BEGIN;
    }
    fix_refs_after_removal(p, s);
    return 1;
}

static void minimize(tcase *tc)
{
    int progress = 1;
    while (progress) {
        progress = 0;
        for (int i = 0; i < tc->n; i++) {
            tcase t = *tc;
            memmove(&t.ev[i], &t.ev[i + 1], sizeof(revent) * (size_t)(t.n - i - 1));
            t.n--;
            if (still_fails(&t)) { *tc = t; progress = 1; i--; }
        }
        for (int s = 0; s < tc->p.n; s++) {
            tcase t = *tc;
            if (remove_step(&t, s) && still_fails(&t)) { *tc = t; progress = 1; s--; }
        }
        /* simpler forms of what is left */
        for (int s = 0; s < tc->p.n; s++) {
            rstep *st = &tc->p.st[s];
            tcase t;
#define TRY(edit) do { t = *tc; rstep *x = &t.p.st[s]; (void)x; edit; \
        if (still_fails(&t)) { *tc = t; progress = 1; } } while (0)
            if (st->greedy) TRY(x->greedy = 0);
            if (st->has_until) TRY(x->has_until = 0);
            if (st->inner != RI_RELAXED) TRY(x->inner = RI_RELAXED);
            if (st->q != RQ_ONE) TRY(x->q = RQ_ONE; x->min = x->max = 1; x->greedy = 0;
                                     x->has_until = 0; x->inner = RI_RELAXED);
            if (st->conn == RK_FBA || st->conn == RK_NEXT) TRY(x->conn = RK_FB);
            if (st->cond.kind != RC_TEQ && st->cond.kind != RC_TRUE && !is_neg(st))
                TRY(x->cond.kind = RC_TEQ);
#undef TRY
        }
        if (tc->p.has_within) {
            tcase t = *tc;
            t.p.has_within = 0;
            if (still_fails(&t)) { *tc = t; progress = 1; }
        }
        if (tc->p.skip != RS_NOSKIP) {
            tcase t = *tc;
            t.p.skip = RS_NOSKIP;
            if (still_fails(&t)) { *tc = t; progress = 1; }
        }
        if (tc->p.keyed) {
            tcase t = *tc;
            t.p.keyed = 0;
            for (int i = 0; i < t.n; i++) t.ev[i].key = 0;
            if (still_fails(&t)) { *tc = t; progress = 1; }
        }
    }
}

/* ---- printing a conformance case -------------------------------------- */

static void print_match(const tcase *tc, const rmatch *m, FILE *f)
{
    char name[16], ev[256];
    fprintf(f, "{\"pattern\":\"p\",\"key\":");
    if (tc->p.keyed) fprintf(f, "\"%c\"", m->key ? 'y' : 'x');
    else fprintf(f, "null");
    fprintf(f, ",\"start\":%lld,\"end\":%lld,\"events\":{", (long long)tc->ev[m->ev[0]].ts,
            (long long)tc->ev[m->ev[m->n - 1]].ts);
    for (int s = 0; s < tc->p.n; s++) {
        ref_step_name(&tc->p, s, name, sizeof name);
        fprintf(f, "%s\"%s\":[", s ? "," : "", name);
        int first = 1;
        for (int i = 0; i < m->n; i++)
            if (m->step[i] == s) {
                event_json(tc, m->ev[i], ev, sizeof ev);
                fprintf(f, "%s%s", first ? "" : ",", ev);
                first = 0;
            }
        fprintf(f, "]");
    }
    fprintf(f, "}}\n");
}

static void print_case(const tcase *tc, unsigned long long seed, const char *why, FILE *f)
{
    char text[4096], ev[256];
    rout ro;
    emres em;
    char w2[512] = "";
    check_case(tc, w2, sizeof w2, &ro, &em);
    int ties = 0;
    for (int i = 1; i < ro.n; i++)
        if (ro.m[i].group == ro.m[i - 1].group && ro.m[i].key == ro.m[i - 1].key) ties = 1;
    ref_render_pattern(&tc->p, text, sizeof text);
    fprintf(f, "# Differential test, seed %llu%s: %s\n", seed, *why ? " (minimized)" : "",
            *w2 ? w2 : "the reference and the engine agree");

    fprintf(f, "# Expected output from the reference matcher (tests/reference/refmatch.c).\n");
    fprintf(f, "# The engine gave:\n");
    for (int i = 0; i < em.n; i++) {
        fprintf(f, "#   ");
        print_match(tc, &em.m[i], f);
    }
    if (em.n == 0) fprintf(f, "#   (nothing)\n");
    if (ties) fprintf(f, "%% unordered\n");
    fputs(text, f);
    fprintf(f, "---\n");
    for (int i = 0; i < tc->n; i++) {
        event_json(tc, i, ev, sizeof ev);
        fprintf(f, "%s\n", ev);
    }
    fprintf(f, "---\n");
    for (int i = 0; i < ro.n; i++) print_match(tc, &ro.m[i], f);
    ref_out_free(&ro);
    free(em.m);
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    unsigned long long first = 1, count = 300;
    int verbose = 0, keep_going = 0, one = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) count = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc) first = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-1") && i + 1 < argc) {
            first = strtoull(argv[++i], NULL, 10);
            count = 1;
            one = verbose = 1;
        } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
            /* print one seed's case as it is, in conformance format */
            tcase tc;
            unsigned long long seed = strtoull(argv[++i], NULL, 10);
            rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
            gen_case(&tc);
            print_case(&tc, seed, "", stdout);
            return 0;
        } else if (!strcmp(argv[i], "-v")) verbose = 1;
        else if (!strcmp(argv[i], "-k")) keep_going = 1;
        else if (!strcmp(argv[i], "-g") && i + 1 < argc) ref_greedy_variant = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: difftest [-n SEEDS] [-s FIRST] [-v] [-k] [-g 0|1] | -1 SEED | -c SEED\n");
            return 2;
        }
    }
    unsigned long long pass = 0, fail = 0, skip = 0, matches = 0;
    for (unsigned long long seed = first; seed < first + count; seed++) {
        tcase tc;
        rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
        gen_case(&tc);
        char why[2048];
        rout ro;
        int r = check_case(&tc, why, sizeof why, &ro, NULL);
        if (r != R_SKIP) {
            matches += (unsigned long long)ro.n;
            ref_out_free(&ro);
        }
        if (one) {
            char text[4096];
            ref_render_pattern(&tc.p, text, sizeof text);
            printf("%s", text);
        }
        if (r == R_PASS) { pass++; continue; }
        if (r == R_SKIP) {
            skip++;
            if (verbose) printf("seed %llu skipped: %s\n", seed, why);
            continue;
        }
        fail++;
        printf("seed %llu FAILED: %s\n", seed, why);
        tcase orig = tc;
        minimize(&tc);
        print_case(&tc, seed, why, stdout);
        if (verbose) {
            printf("# original case:\n");
            print_case(&orig, seed, why, stdout);
        }
        printf("\n");
        fflush(stdout);
        if (!keep_going) break;
    }
    printf("difftest: %llu seeds from %llu: %llu passed, %llu failed, %llu skipped, %llu matches "
           "compared\n", pass + fail + skip, first, pass, fail, skip, matches);
    return fail ? 1 : 0;
}
