/* difftest.c — randomized differential test: random small patterns and
 * event streams go through the engine (public C API) and through the
 * reference matcher (refmatch.c); the outputs must be identical. A failing
 * seed is minimized and printed as a conformance case, ready to paste.
 * Identical means: per key, the same matches in the same order (matches the
 * reference groups as engine-ordered ties compared as sets), and across
 * keys an order consistent with the moments the reference releases them.
 * Only the public API (cepheus.h) is used. The generator covers: steps
 * with every quantifier (and {n}?, {n,}?, {n,m}?), contiguity, greedy,
 * until, iterative conditions, one middle negation, a trailing
 * notFollowedBy with within or a gap, per-step gaps, {n} groups (nested,
 * with consecutive / allowCombinations), within, every skip strategy,
 * keys, two patterns in one file, emit with count/sum/max/min,
 * out-of-order input under --max-delay, timeouts (compared like matches),
 * one seed in four on a pool of 2 threads against one engine, and one
 * seed in eight a followedByAny-heavy case at CORE's densities
 * (gen_dense_case), and in one case in four conditions `t == "X" and v OP
 * N` that the routing index decides by thresholds, with some v written
 * as doubles. A case with a compact pattern (one dense seed in two is in
 * the form the engine keeps compactly, runtime/tecs.c) is also run with
 * CEP_COMPACT=0 (every pattern flat): the outputs must be the same, in
 * the same order. Not
 * generated: looping or optional groups ((..)+, (..)*, (..)?, (..){n,m}),
 * negation or step references inside groups, until on groups, allowed
 * lateness (stragglers).
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

#define DT_MAXPAT 4         /* patterns in one file at most */

typedef struct tcase {
    rpattern p;             /* the pattern the minimizer works on */
    rpattern px[DT_MAXPAT - 1]; /* more patterns in the same file (np of them in all) */
    int np;
    revent ev[R_MAXEV];     /* in time order */
    int n;
    int64_t max_delay;      /* > 0: events arrive out of order (arr) */
    int arr[R_MAXEV];       /* arrival order: indices into ev */
    int threads;            /* also run a pool of 2 threads, compared with one engine */
} tcase;

static const rpattern *pat_of(const tcase *tc, int i) { return i ? &tc->px[i - 1] : &tc->p; }

static int is_neg(const rstep *s) { return s->conn == RK_NOTNEXT || s->conn == RK_NOTFB; }
static int loops(const rstep *s) { return s->max < 0 || s->max > 1; }

static int cond_refs_ok(const rpattern *p, int s, const rcond *c)
{
    if (c->kind != RC_VGT && c->kind != RC_TEQ_VGT) return 1;
    if (c->ref < 0 || c->ref >= p->n || is_neg(&p->st[c->ref])) return 0;
    return c->ref < s || (c->ref == s && loops(&p->st[s]));
}

static int in_group(const rpattern *p, int s)
{
    for (int g = 0; g < p->ngroups; g++)
        if (s >= p->grp[g].first && s <= p->grp[g].last) return 1;
    return 0;
}

/* Groups as the reference unrolls them (refmatch.h): {n} only, no
 * negation in or next to them, no greedy or until or references inside,
 * no references or skip target into them, no gap on a group's head. */
static int groups_ok(const rpattern *p)
{
    for (int g = 0; g < p->ngroups; g++) {
        const rgroup *gr = &p->grp[g];
        if (gr->first < 0 || gr->last >= p->n || gr->first > gr->last) return 0;
        if (gr->times < 1 || gr->times > 3) return 0;
        if (gr->times == 1 && gr->inner != RI_RELAXED) return 0;
        if (gr->first > 0 && is_neg(&p->st[gr->first - 1])) return 0;
        if (gr->last + 1 < p->n && is_neg(&p->st[gr->last + 1])) return 0;
        if (p->st[gr->first].gap) return 0;
        for (int s = gr->first; s <= gr->last; s++) {
            const rstep *st = &p->st[s];
            if (is_neg(st) || st->greedy || st->has_until || st->opt) return 0;
            if (!(st->q == RQ_ONE || st->q == RQ_OPT || st->q == RQ_PLUS || st->q == RQ_TIMES)) return 0;
            if (st->cond.kind == RC_VGT || st->cond.kind == RC_TEQ_VGT) return 0;
        }
    }
    if (p->ngroups == 2) {
        const rgroup *a = &p->grp[0], *b = &p->grp[1];
        int nested = b->first >= a->first && b->last <= a->last && (b->first != a->first || b->last != a->last);
        int apart = b->first > a->last || b->last < a->first;
        if (!nested && !apart) return 0;
    }
    for (int s = 0; s < p->n; s++) {
        const rcond *c = &p->st[s].cond;
        if ((c->kind == RC_VGT || c->kind == RC_TEQ_VGT) && in_group(p, c->ref)) return 0;
    }
    if ((p->skip == RS_TOFIRST || p->skip == RS_TOLAST) && in_group(p, p->skip_step)) return 0;
    return 1;
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
        if (st->opt && !(st->q == RQ_TIMES || st->q == RQ_ATLEAST || st->q == RQ_RANGE)) return 0;
        if (st->opt && st->min < 1) return 0;
        if (st->gap < 0 || (st->gap > 0 && s == 0)) return 0;
        if (is_neg(st)) {
            if (s == 0) return 0;
            if (st->cond.kind != RC_TEQ || st->q != RQ_ONE || st->opt) return 0;
            if (is_neg(&p->st[s - 1]) || ref_optional(&p->st[s - 1])) return 0;
            if (s == p->n - 1) {
                /* a trailing notFollowedBy, with a window */
                if (st->conn != RK_NOTFB || (!p->has_within && st->gap <= 0)) return 0;
                continue;
            }
            nneg++;
            if (st->gap > 0) return 0;
            if (is_neg(&p->st[s + 1])) return 0;
            const rstep *nx = &p->st[s + 1];
            if (st->conn == RK_NOTNEXT && nx->q != RQ_ONE) return 0;
            if (ref_optional(nx)) return 0;
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
        if (ref_optional(st) && s > 0) {
            int prev = s - 1;
            if (is_neg(&p->st[prev])) prev--;
            if (prev >= 0 && p->st[prev].greedy) return 0;
        }
        if (ref_optional(st) && s + 1 < p->n && is_neg(&p->st[s + 1])) return 0;
    }
    if (nneg > 1 || nnorm < 1) return 0;
    if (nneg && ref_optional(&p->st[0])) return 0;
    if (!groups_ok(p)) return 0;
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
    /* optional times: {n}?, {n,}?, {n,m}? */
    if ((st->q == RQ_TIMES || st->q == RQ_ATLEAST || st->q == RQ_RANGE) && chance(30)) st->opt = 1;
}

/* Make steps f..l a group (times n), and fit them to groups_ok. */
static void make_group(rpattern *p, int f, int l, int times)
{
    rgroup *gr = &p->grp[p->ngroups++];
    gr->first = f;
    gr->last = l;
    gr->times = times;
    int r = rnd(100);
    gr->inner = times == 1 ? RI_RELAXED : r < 50 ? RI_RELAXED : r < 75 ? RI_STRICT : RI_ANY;
    p->st[f].gap = 0;
    for (int s = f; s <= l; s++) {
        rstep *st = &p->st[s];
        st->greedy = st->has_until = st->opt = 0;
        if (!(st->q == RQ_ONE || st->q == RQ_OPT || st->q == RQ_PLUS || st->q == RQ_TIMES)) {
            st->q = RQ_PLUS;
            st->min = 1;
            st->max = -1;
        }
        if (st->cond.kind == RC_VGT || st->cond.kind == RC_TEQ_VGT) st->cond.kind = RC_TEQ;
    }
    for (int s = 0; s < p->n; s++) {
        rcond *c = &p->st[s].cond;
        if ((c->kind == RC_VGT || c->kind == RC_TEQ_VGT) && c->ref >= f && c->ref <= l) c->kind = RC_TEQ;
    }
}

/* A group over 1 to 3 normal steps, sometimes with another inside it. */
static void gen_groups(rpattern *p)
{
    int f = rnd(p->n), len = 1 + rnd(3), l = f + len - 1;
    if (l >= p->n) return;
    for (int s = f; s <= l; s++)
        if (is_neg(&p->st[s])) return;
    if ((f > 0 && is_neg(&p->st[f - 1])) || (l + 1 < p->n && is_neg(&p->st[l + 1]))) return;
    make_group(p, f, l, 1 + rnd(3));
    if (len >= 2 && chance(35)) {
        int f2 = f + rnd(len), l2 = f2 + rnd(l - f2 + 1);
        if (f2 == f && l2 == l) return;
        make_group(p, f2, l2, 2 + rnd(2));
    }
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
            if (i > 0 && chance(20)) st->gap = 1 + rnd(6); /* per-step gap */
            idx[nidx++] = s;
        }
        if (chance(30)) { p->has_within = 1; p->within = 3 + rnd(8); }
        if (chance(30)) gen_groups(p);
        if (chance(20)) { /* a trailing notFollowedBy, with a gap or the pattern's within */
            rstep *ng = &p->st[p->n++];
            ng->conn = RK_NOTFB;
            ng->q = RQ_ONE; ng->min = ng->max = 1;
            ng->cond.kind = RC_TEQ;
            ng->cond.t = rtype();
            if (!p->has_within || chance(40)) ng->gap = 1 + rnd(6);
        }
        int r = rnd(100);
        p->skip = r < 40 ? RS_NOSKIP : r < 55 ? RS_TONEXT : r < 70 ? RS_PASTLAST
                : r < 85 ? RS_TOFIRST : RS_TOLAST;
        p->skip_step = idx[rnd(nidx)];
        if ((p->skip == RS_TOFIRST || p->skip == RS_TOLAST) && in_group(p, p->skip_step)) p->skip = RS_PASTLAST;
        p->keyed = chance(50);
        if (legal(p)) return;
    }
}

/* Every step one event, relaxed contiguity, no group (a shape the routing
 * index takes: nfa/route.c). */
static void flatten_steps(rpattern *p)
{
    p->ngroups = 0;
    for (int s = 0; s < p->n; s++) {
        rstep *st = &p->st[s];
        st->q = RQ_ONE;
        st->min = st->max = 1;
        st->opt = st->greedy = st->has_until = 0;
        st->inner = RI_RELAXED;
        if (st->conn == RK_NEXT) st->conn = RK_FB;
        if (st->conn == RK_NOTNEXT) st->conn = RK_NOTFB;
    }
}

static void gen_case(tcase *tc)
{
    memset(tc, 0, sizeof *tc);
    gen_pattern(&tc->p);
    tc->np = 1;
    if (chance(20)) { /* several patterns in one file */
        gen_pattern(&tc->px[0]);
        tc->px[0].id = 1;
        tc->np = 2;
    }
    tc->p.emit = chance(25);
    if (tc->np > 1) tc->px[0].emit = chance(25);
    int keyed = tc->p.keyed || (tc->np > 1 && tc->px[0].keyed);
    tc->n = 5 + rnd(8);
    int64_t ts = 1 + rnd(3);
    for (int i = 0; i < tc->n; i++) {
        tc->ev[i].ts = ts;
        ts += 1 + rnd(3);
        tc->ev[i].key = keyed ? rnd(2) : 0;
        tc->ev[i].t = rtype();
        tc->ev[i].v = rnd(4);
    }
    for (int i = 0; i < tc->n; i++) tc->arr[i] = i;
    if (chance(25)) { /* out of order, with --max-delay: some come late */
        tc->max_delay = 1 + rnd(4);
        for (int i = 0; i + 1 < tc->n; i++)
            if (chance(35)) {
                int j = i + 1 + rnd(tc->n - i - 1 < 3 ? tc->n - i - 1 : 3);
                int t = tc->arr[i];
                tc->arr[i] = tc->arr[j];
                tc->arr[j] = t;
            }
    }
    tc->threads = chance(25);
    /* Rule sets: up to DT_MAXPAT patterns over one stream (the engine
     * groups patterns keyed alike, routes events by their gates: runtime/
     * keys.c, nfa/route.c). Drawn last, so that the cases of one or two
     * patterns stay what they were. */
    if (tc->np == 2 && chance(50)) {
        int extra = 1 + rnd(DT_MAXPAT - 2);
        for (int k = 1; k <= extra; k++) {
            gen_pattern(&tc->px[k]);
            tc->px[k].id = k + 1;
            tc->px[k].emit = chance(25);
            tc->np++;
        }
    }
    /* Thresholds (nfa/route.c, runtime/visit.c): one case in four turns
     * most conditions that read only the event into `t == "X" and v OP N`
     * (N an int or a half; gates the index decides alone) and writes some
     * events' v as a double (2.0). Drawn last, so that the other cases
     * stay what they were. */
    if (chance(25)) {
        for (int i = 0; i < tc->np; i++) {
            rpattern *p = i ? &tc->px[i - 1] : &tc->p;
            if (chance(60)) { /* one event a step, relaxed: most such patterns are routed */
                rpattern was = *p;
                flatten_steps(p);
                if (!legal(p)) *p = was;
            }
            for (int s = 0; s < p->n; s++) {
                rcond *c = &p->st[s].cond;
                if (is_neg(&p->st[s]) || c->kind == RC_VGT || c->kind == RC_TEQ_VGT || !chance(70)) continue;
                c->kind = RC_TEQ_VCMP;
                c->op = rnd(5);
                c->n = rnd(8);
            }
        }
        int emits = 0; /* (a sum of doubles is a double: emit's check wants ints) */
        for (int i = 0; i < tc->np; i++) emits |= pat_of(tc, i)->emit;
        for (int i = 0; i < tc->n; i++) tc->ev[i].dbl = !emits && chance(30);
    }
}

/* followedByAny-heavy, as CORE's stock query (issue 23): 3 to 5 steps
 * mostly joined by followedByAny, conditions mostly on the current event
 * only (sometimes one that looks back), within W over 40 events one time
 * unit apart, W from 5 to 40: the four densities of the STEP 200 to 25
 * benchmark, at small scale (up to thousands of matches a case). */
/* About how many partial matches a window holds (each step's condition
 * taken as independent): C(W, k) prefixes of k events, each passing its
 * step's condition; a loop takes any subset of the m events it accepts
 * with allowCombinations (2^m), a run otherwise (m^2). */
static double dense_load(const rpattern *p)
{
    double total = 0, prefix = 1;
    for (int k = 0; k < p->n; k++) {
        const rstep *st = &p->st[k];
        double sel = st->cond.kind == RC_TEQ ? 1.0 / 3 : st->cond.kind == RC_TIN ? 2.0 / 3
                   : st->cond.kind == RC_TRUE ? 1 : st->cond.kind == RC_VLT ? st->cond.n / 4.0 : 1.0 / 6;
        double choose = 1;
        for (int i = 0; i <= k; i++) choose = choose * (double)(p->within - i) / (i + 1);
        prefix *= sel;
        if (st->q != RQ_ONE) {
            double m = sel * (double)p->within; /* events of the window the loop can take */
            prefix *= st->inner == RI_ANY ? (double)(1u << (m < 20 ? (unsigned)m : 20)) : m * m;
        }
        total += choose * prefix;
    }
    return total;
}

static void gen_dense_pattern(rpattern *p)
{
    static const int64_t windows[] = {5, 10, 20, 40};
    for (;;) {
        memset(p, 0, sizeof *p);
        p->n = 3 + rnd(3);
        for (int s = 0; s < p->n; s++) {
            rstep *st = &p->st[s];
            st->conn = s == 0 ? RK_BEGIN : chance(85) ? RK_FBA : (rconn)(RK_NEXT + rnd(2));
            st->q = RQ_ONE; st->min = st->max = 1;
            if (chance(12)) {
                st->q = RQ_PLUS; st->max = -1;
                st->inner = chance(60) ? RI_ANY : RI_RELAXED;
            }
            int r = rnd(100);
            memset(&st->cond, 0, sizeof st->cond);
            st->cond.t = rtype();
            do st->cond.t2 = rtype(); while (st->cond.t2 == st->cond.t);
            if (r < 60) st->cond.kind = RC_TEQ;
            else if (r < 72) st->cond.kind = RC_TIN;
            else if (r < 80) st->cond.kind = RC_TRUE;
            else if (r < 90) { st->cond.kind = RC_VLT; st->cond.n = 1 + rnd(3); }
            else if (s > 0) { st->cond.kind = RC_TEQ_VGT; st->cond.ref = rnd(s); }
            else st->cond.kind = RC_TEQ;
        }
        p->has_within = 1;
        p->within = windows[rnd(4)];
        if (dense_load(p) > 3000) continue; /* keep make check fast */
        int r = rnd(100);
        p->skip = r < 70 ? RS_NOSKIP : r < 78 ? RS_TONEXT : r < 86 ? RS_PASTLAST : r < 93 ? RS_TOFIRST : RS_TOLAST;
        p->skip_step = rnd(p->n);
        p->keyed = chance(30);
        if (legal(p)) return;
    }
}

/* What the engine keeps compactly (nfa_pattern.compact): followedByAny
 * between single steps, conditions on the event only, skip noSkip. */
static void make_compact(rpattern *p)
{
    for (int s = 0; s < p->n; s++) {
        rstep *st = &p->st[s];
        if (s) st->conn = RK_FBA;
        st->q = RQ_ONE;
        st->min = st->max = 1;
        st->inner = 0;
        if (st->cond.kind == RC_TRUE || st->cond.kind == RC_TEQ_VGT) st->cond.kind = RC_TEQ;
    }
    p->skip = RS_NOSKIP;
}

static void gen_dense_case(tcase *tc, int compact)
{
    memset(tc, 0, sizeof *tc);
    do {
        gen_dense_pattern(&tc->p);
        if (compact) make_compact(&tc->p);
    } while (compact && dense_load(&tc->p) > 3000);
    tc->np = 1;
    tc->p.emit = chance(25);
    tc->n = R_MAXEV;
    for (int i = 0; i < tc->n; i++) {
        tc->ev[i].ts = i + 1;
        tc->ev[i].key = tc->p.keyed ? rnd(2) : 0;
        tc->ev[i].t = rtype();
        tc->ev[i].v = rnd(4);
        tc->arr[i] = i;
    }
    if (chance(15)) { /* out of order, with --max-delay */
        tc->max_delay = 1 + rnd(3);
        for (int i = 0; i + 1 < tc->n; i++)
            if (chance(25)) {
                int t = tc->arr[i];
                tc->arr[i] = tc->arr[i + 1];
                tc->arr[i + 1] = t;
            }
    }
    tc->threads = chance(25);
}

/* One seed in eight is a followedByAny-heavy case (one in sixteen compact). */
static void gen_seed_case(tcase *tc, unsigned long long seed)
{
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    if (seed % 8 == 5) gen_dense_case(tc, seed % 16 == 13);
    else gen_case(tc);
}

static int has_thresholds(const tcase *tc)
{
    for (int i = 0; i < tc->np; i++)
        for (int s = 0; s < pat_of(tc, i)->n; s++)
            if (pat_of(tc, i)->st[s].cond.kind == RC_TEQ_VCMP) return 1;
    return 0;
}

static int any_keyed(const tcase *tc)
{
    for (int i = 0; i < tc->np; i++)
        if (pat_of(tc, i)->keyed) return 1;
    return 0;
}

static int event_json(const tcase *tc, int i, char *b, int cap)
{
    const revent *e = &tc->ev[i];
    if (any_keyed(tc))
        return snprintf(b, (size_t)cap, "{\"ts\":%lld,\"k\":\"%c\",\"t\":\"%c\",\"v\":%d%s}",
                        (long long)e->ts, e->key ? 'y' : 'x', e->t, e->v, e->dbl ? ".0" : "");
    return snprintf(b, (size_t)cap, "{\"ts\":%lld,\"t\":\"%c\",\"v\":%d%s}", (long long)e->ts, e->t,
                    e->v, e->dbl ? ".0" : "");
}

/* The emit clause of a pattern with emit: aggregates over the first
 * looping step (else the first step) and the last normal step. */
static void emit_steps(const rpattern *p, int *a, int *b)
{
    *a = 0;
    *b = 0;
    for (int s = 0; s < p->n; s++)
        if (!is_neg(&p->st[s])) {
            *b = s;
            if (*a == 0 && !loops(&p->st[0]) && loops(&p->st[s])) *a = s;
        }
}

static void render(const tcase *tc, char *text, int cap)
{
    int n = 0;
    for (int i = 0; i < tc->np && n < cap; i++) {
        const rpattern *p = pat_of(tc, i);
        ref_render_pattern(p, text + n, cap - n);
        n += (int)strlen(text + n);
        if (p->emit && n < cap) {
            int a, b;
            char na[16], nb[16];
            emit_steps(p, &a, &b);
            ref_step_name(p, a, na, sizeof na);
            ref_step_name(p, b, nb, sizeof nb);
            n += snprintf(text + n, (size_t)(cap - n),
                          "  emit n = count(%s), t = sum(%s.v), hi = max(%s.v), lo = min(%s.v)\n", na,
                          na, nb, nb);
        }
    }
}

/* The events the engine does not call late, in time order, and their
 * indices in tc->ev (the reference sees only these). */
static int on_time(const tcase *tc, revent *out, int *map)
{
    int late[R_MAXEV] = {0}, n = 0;
    int64_t max = INT64_MIN;
    for (int i = 0; i < tc->n; i++) {
        const revent *e = &tc->ev[tc->arr[i]];
        if (max != INT64_MIN && e->ts < max - tc->max_delay) late[tc->arr[i]] = 1;
        if (e->ts > max) max = e->ts;
    }
    for (int i = 0; i < tc->n; i++)
        if (!late[i]) {
            out[n] = tc->ev[i];
            map[n++] = i;
        }
    return n;
}

/* ---- running the engine ------------------------------------------------- */

typedef struct emres {
    rmatch *m;
    int n, cap;
    const tcase *tc;
    int bad;          /* an event in a match that is not ours, or wrong emit values */
    char badwhy[160];
} emres;

static int find_event(const tcase *tc, int64_t ts)
{
    for (int i = 0; i < tc->n; i++)
        if (tc->ev[i].ts == ts) return i;
    return -1;
}

/* The emit values against the events the match reports. */
static void check_emit(emres *r, const rmatch *x, const cep_match *m)
{
    const rpattern *p = pat_of(r->tc, x->pat);
    int a, b;
    emit_steps(p, &a, &b);
    long long cnt = 0, sum = 0, hi = 0, lo = 0;
    int nb = 0;
    for (int i = 0; i < x->n; i++) {
        int v = r->tc->ev[x->ev[i]].v;
        if (x->step[i] == a) { cnt++; sum += v; }
        if (x->step[i] == b) {
            if (!nb || v > hi) hi = v;
            if (!nb || v < lo) lo = v;
            nb++;
        }
    }
    const long long want[4] = {cnt, sum, hi, lo};
    if (cep_match_field_count(m) != 4) {
        r->bad = 1;
        snprintf(r->badwhy, sizeof r->badwhy, "emit: %zu fields", cep_match_field_count(m));
        return;
    }
    for (size_t f = 0; f < 4; f++) {
        cep_value v = cep_match_field(m, f);
        int isnull = f >= 2 && !nb;
        int ok = isnull ? v.type == CEP_NULL : v.type == CEP_INT && v.u.i == want[f];
        if (!ok) {
            r->bad = 1;
            snprintf(r->badwhy, sizeof r->badwhy, "emit field %s wrong", cep_match_field_name(m, f));
        }
    }
}

static int collect(emres *r, const cep_match *m)
{
    rmatch x;
    memset(&x, 0, sizeof x);
    x.pat = (int)cep_match_pattern_index(m);
    x.timeout = cep_match_is_timeout(m);
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
    if (!x.timeout && x.pat < r->tc->np && pat_of(r->tc, x.pat)->emit) check_emit(r, &x, m);
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

static int on_match(void *ud, const cep_match *m) { return collect(ud, m); }

static int configure(cep_engine *eng, const tcase *tc, emres *out)
{
    cep_engine_on_match(eng, on_match, out);
    cep_engine_on_timeout(eng, on_match, out);
    return tc->max_delay ? cep_engine_set_max_delay(eng, tc->max_delay) : CEP_OK;
}

static int case_compact; /* the last case checked has a compact pattern (compared flat too) */

/* Does the program keep a pattern compactly (runtime/tecs.c)? */
static int any_compact(const cep_program *prog)
{
    char *text = NULL;
    if (cep_program_explain(prog, 0, &text) != CEP_OK) return 0;
    int yes = strstr(text, "partial matches: compact") != NULL;
    cep_free(text);
    return yes;
}

/* 0 ok; 1 the pattern does not compile (text in *err); -1 engine error.
 * flat: with CEP_COMPACT=0 (every pattern in the flat form); *compact:
 * whether some pattern is compact. */
static int run_engine_as(const tcase *tc, emres *out, char *err, int errcap, int flat, int *compact)
{
    char text[8192];
    render(tc, text, sizeof text);
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
    if (compact) *compact = any_compact(prog);
    cep_engine *eng = NULL;
    if (flat) setenv("CEP_COMPACT", "0", 1);
    int rc = cep_engine_new(prog, &eng);
    if (flat) unsetenv("CEP_COMPACT");
    if (rc == CEP_OK) rc = configure(eng, tc, out);
    if (rc == CEP_OK) {
        for (int i = 0; i < tc->n && rc == CEP_OK; i++) {
            char line[256];
            int len = event_json(tc, tc->arr[i], line, sizeof line);
            rc = cep_engine_push_json(eng, line, (size_t)len);
        }
        if (rc == CEP_OK) rc = cep_engine_finish(eng);
        if (rc != CEP_OK) snprintf(err, (size_t)errcap, "engine: %s", cep_strerror(rc));
    }
    if (out->bad && out->badwhy[0]) snprintf(err, (size_t)errcap, "%s", out->badwhy);
    cep_engine_free(eng);
    cep_program_free(prog);
    return rc == CEP_OK && !out->bad ? 0 : -1;
}

/* ---- a pool of 2 threads against one engine ------------------------------ */

typedef struct poolrun {
    const tcase *tc;
    emres per[8];     /* per engine of the pool (each key is one engine's) */
} poolrun;

static int pool_configure(void *ud, cep_engine *e, unsigned index)
{
    poolrun *pr = ud;
    if (index >= 8) return CEP_EINVAL;
    pr->per[index].tc = pr->tc;
    return configure(e, pr->tc, &pr->per[index]);
}

static int same_match(const rmatch *a, const rmatch *b);

/* 0: every (pattern, key) has exactly one engine's outputs, in its order. */
static int compare_pool(const tcase *tc, const emres *one, char *why, int cap)
{
    char text[8192];
    render(tc, text, sizeof text);
    cep_program *prog = NULL;
    cep_diag *diag = NULL;
    if (cep_compile(NULL, text, strlen(text), "<test>", &prog, &diag) != CEP_OK) {
        cep_diag_free(diag);
        return 0;
    }
    cep_diag_free(diag);
    poolrun pr;
    memset(&pr, 0, sizeof pr);
    pr.tc = tc;
    cep_pool *pool = NULL;
    int rc = cep_pool_new(prog, 2, pool_configure, &pr, &pool), res = 0;
    for (int i = 0; i < tc->n && rc == CEP_OK; i++) {
        char line[256];
        int len = event_json(tc, tc->arr[i], line, sizeof line);
        rc = cep_pool_push_json(pool, line, (size_t)len);
    }
    if (rc == CEP_OK) rc = cep_pool_finish(pool);
    cep_pool_free(pool);
    if (rc != CEP_OK) {
        snprintf(why, (size_t)cap, "pool: %s", cep_strerror(rc));
        res = 1;
    }
    for (int pk = 0; pk < 2 * tc->np && !res; pk++) {
        int n1 = 0, owner = -1, k = 0;
        for (int i = 0; i < one->n; i++) n1 += one->m[i].pat * 2 + one->m[i].key == pk;
        for (int e = 0; e < 8; e++)
            for (int i = 0; i < pr.per[e].n; i++)
                if (pr.per[e].m[i].pat * 2 + pr.per[e].m[i].key == pk) {
                    if (owner >= 0 && owner != e) {
                        snprintf(why, (size_t)cap, "pool: pattern %d key %d in two engines", pk / 2, pk % 2);
                        res = 1;
                    }
                    owner = e;
                }
        if (res) break;
        for (int i = 0; i < one->n && !res; i++) {
            if (one->m[i].pat * 2 + one->m[i].key != pk) continue;
            const emres *pe = owner >= 0 ? &pr.per[owner] : NULL;
            while (pe && k < pe->n && pe->m[k].pat * 2 + pe->m[k].key != pk) k++;
            if (!pe || k >= pe->n || !same_match(&pe->m[k], &one->m[i])) {
                snprintf(why, (size_t)cap, "pool of 2 threads: pattern %d key %d differs from one engine",
                         pk / 2, pk % 2);
                res = 1;
            }
            k++;
        }
        if (!res && owner >= 0) {
            int n2 = 0;
            for (int i = 0; i < pr.per[owner].n; i++) n2 += pr.per[owner].m[i].pat * 2 + pr.per[owner].m[i].key == pk;
            if (n2 != n1) {
                snprintf(why, (size_t)cap, "pool of 2 threads: pattern %d key %d has %d outputs, one engine %d",
                         pk / 2, pk % 2, n2, n1);
                res = 1;
            }
        }
    }
    for (int e = 0; e < 8; e++) free(pr.per[e].m);
    cep_program_free(prog);
    return res;
}

/* ---- comparing ------------------------------------------------------------ */

#define R_MAXMATCH 200000

static int same_match(const rmatch *a, const rmatch *b)
{
    if (a->key != b->key || a->n != b->n || a->pat != b->pat || a->timeout != b->timeout) return 0;
    for (int i = 0; i < a->n; i++)
        if (a->ev[i] != b->ev[i] || a->step[i] != b->step[i]) return 0;
    return 1;
}

static int cur_pat;        /* the pattern the reference runs (choose_like_engine) */
static const int *cur_map; /* its event indices to tc->ev's */

/* The oracle for ties the skip strategy leaves to the engine: take the one
 * the engine emitted at that place, if it is a candidate at all. */
static int choose_like_engine(void *ud, const rout *sofar, const rmatch *c, int nc)
{
    const emres *em = ud;
    int key = c[0].key, seen = 0;
    for (int i = 0; i < sofar->n; i++) seen += sofar->m[i].key == key;
    for (int i = 0; i < em->n; i++) {
        if (em->m[i].key != key || em->m[i].pat != cur_pat) continue;
        if (seen-- > 0) continue;
        for (int j = 0; j < nc; j++) {
            rmatch x = c[j];
            x.pat = cur_pat;
            for (int t = 0; t < x.n; t++) x.ev[t] = cur_map[x.ev[t]];
            if (same_match(&em->m[i], &x)) return j;
        }
        return 0;
    }
    return 0;
}

static int pos_lt(rpos a, rpos b) { return a.major < b.major || (a.major == b.major && a.minor < b.minor); }

/* 0: same output. Else a reason in why. Outputs are compared per
 * (pattern, key): in order, a group of the reference as a set. */
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
    for (int pk = 0; pk < 2 * DT_MAXPAT; pk++) {
        int ei = 0; /* engine outputs of this pattern and key, walked in order */
        int ne = 0;
#define PK(m) ((m).pat * 2 + (m).key)
        for (int i = 0; i < em->n; i++)
            if (PK(em->m[i]) == pk) eidx[ne++] = i;
        int ri = 0;
        while (ri < ro->n) {
            if (PK(ro->m[ri]) != pk) { ri++; continue; }
            int g = ro->m[ri].group, ng = 0;
            while (ri < ro->n && (PK(ro->m[ri]) != pk || ro->m[ri].group == g)) {
                if (PK(ro->m[ri]) == pk) gi[ng++] = ri;
                ri++;
            }
            /* the next ng engine outputs of this key, in any order */
            for (int j = 0; j < ng; j++) {
                if (ei + j >= ne) {
                    snprintf(why, (size_t)cap, "pattern %d key %d: engine has fewer outputs", pk / 2, pk % 2);
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
                    snprintf(why, (size_t)cap, "pattern %d key %d: engine output %d differs", pk / 2, pk % 2,
                             ei + j + 1);
                    return 1;
                }
            }
            ei += ng;
        }
        if (ei != ne) {
            snprintf(why, (size_t)cap, "pattern %d key %d: engine has more outputs", pk / 2, pk % 2);
            return 1;
        }
    }
    /* Across keys and patterns: the order the outputs were released in. */
    for (int i = 0; i < em->n; i++)
        for (int j = i + 1; j < em->n; j++)
            if (PK(em->m[i]) != PK(em->m[j]) && pos_lt(epos[j], epos[i])) {
                snprintf(why, (size_t)cap, "order across keys: engine output %d before %d", i + 1,
                         j + 1);
                return 1;
            }
#undef PK
    return 0;
}

/* The reference over both patterns (outputs in event indices of tc->ev). */
static int run_reference(const tcase *tc, emres *em, rout *ro)
{
    revent ev[R_MAXEV];
    int map[R_MAXEV];
    int n = on_time(tc, ev, map);
    memset(ro, 0, sizeof *ro);
    for (int i = 0; i < tc->np; i++) {
        rout one;
        cur_pat = i;
        cur_map = map;
        if (ref_run(pat_of(tc, i), ev, n, choose_like_engine, em, &one) != 0) {
            ref_out_free(&one);
            return -1;
        }
        for (int j = 0; j < one.n; j++) {
            rmatch m = one.m[j];
            for (int t = 0; t < m.n; t++) m.ev[t] = map[m.ev[t]];
            if (ro->n == ro->cap) {
                int nc = ro->cap ? 2 * ro->cap : 32;
                rmatch *nm = realloc(ro->m, (size_t)nc * sizeof *nm);
                if (!nm) { ref_out_free(&one); return -1; }
                ro->m = nm;
                ro->cap = nc;
            }
            ro->m[ro->n++] = m;
        }
        ref_out_free(&one);
    }
    return 0;
}

/* ---- one case ----------------------------------------------------------- */

enum { R_PASS, R_FAIL, R_SKIP };

/* A compact pattern's outputs against the flat form's, exactly, in order. */
static int compare_flat(const tcase *tc, const emres *one, char *why, int cap)
{
    emres fl;
    char err[2048] = "";
    int rc = run_engine_as(tc, &fl, err, sizeof err, 1, NULL), res = 0;
    if (rc != 0) {
        snprintf(why, (size_t)cap, "flat form: %s", err[0] ? err : "engine error");
        res = 1;
    }
    for (int i = 0; i < one->n && i < fl.n && !res; i++)
        if (!same_match(&one->m[i], &fl.m[i])) {
            snprintf(why, (size_t)cap, "compact form: output %d differs from the flat form's", i + 1);
            res = 1;
        }
    if (!res && one->n != fl.n) {
        snprintf(why, (size_t)cap, "compact form: %d outputs, flat form %d", one->n, fl.n);
        res = 1;
    }
    free(fl.m);
    return res;
}

static int check_case(const tcase *tc, char *why, int cap, rout *ro_out, emres *em_out)
{
    emres em;
    char err[2048] = "";
    int compact = 0;
    int rc = run_engine_as(tc, &em, err, sizeof err, 0, &compact);
    if (rc == 1) {
        snprintf(why, (size_t)cap, "does not compile:\n%s", err);
        free(em.m);
        return R_SKIP;
    }
    rout ro;
    if (run_reference(tc, &em, &ro) != 0) {
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
    } else if (tc->threads && compare_pool(tc, &em, why, cap)) {
        res = R_FAIL;
    } else if (compact && compare_flat(tc, &em, why, cap)) {
        res = R_FAIL;
    }
    case_compact = compact;
    if (ro_out) *ro_out = ro; else ref_out_free(&ro);
    if (em_out) *em_out = em; else free(em.m);
    return res;
}

/* ---- minimizing ------------------------------------------------------------ */

static int still_fails(const tcase *tc)
{
    char why[512];
    for (int i = 0; i < tc->np; i++)
        if (!legal(pat_of(tc, i))) return 0;
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
    if (p->n <= 1 || in_group(p, s)) return 0;
    for (int g = 0; g < p->ngroups; g++)
        if (p->grp[g].first > s) { p->grp[g].first--; p->grp[g].last--; }
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
            int k = 0;
            for (int j = 0; j < t.n; j++)
                if (t.arr[j] != i) t.arr[k++] = t.arr[j] > i ? t.arr[j] - 1 : t.arr[j];
            t.n--;
            if (still_fails(&t)) { *tc = t; progress = 1; i--; }
        }
        {
            tcase t;
#define TRYC(edit) do { t = *tc; edit; if (still_fails(&t)) { *tc = t; progress = 1; } } while (0)
            if (tc->np > 2) TRYC(t.np = 2);
            if (tc->np > 1) TRYC(t.np = 1);
            if (tc->np > 1) TRYC(t.p = t.px[0]; t.p.id = 0; t.np = 1);
            if (tc->max_delay) TRYC(t.max_delay = 0; for (int j = 0; j < t.n; j++) t.arr[j] = j);
            if (tc->threads) TRYC(t.threads = 0);
            if (tc->p.emit) TRYC(t.p.emit = 0);
            if (tc->p.ngroups) TRYC(t.p.ngroups = 0);
            if (tc->p.ngroups == 2) TRYC(t.p.ngroups = 1);
#undef TRYC
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
            if (st->gap) TRY(x->gap = 0);
            if (st->opt) TRY(x->opt = 0);
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
    const rpattern *p = pat_of(tc, m->pat);
    if (m->timeout) fprintf(f, "timeout: ");
    if (p->id) fprintf(f, "{\"pattern\":\"p%d\",\"key\":", p->id);
    else fprintf(f, "{\"pattern\":\"p\",\"key\":");
    if (p->keyed) fprintf(f, "\"%c\"", m->key ? 'y' : 'x');
    else fprintf(f, "null");
    fprintf(f, ",\"start\":%lld", (long long)tc->ev[m->ev[0]].ts);
    if (m->timeout) fprintf(f, ",\"timeout\":true");
    else fprintf(f, ",\"end\":%lld", (long long)tc->ev[m->ev[m->n - 1]].ts);
    if (p->emit && !m->timeout) {
        /* what the emit clause computes (render) */
        int a, b, nb = 0;
        long long cnt = 0, sum = 0, hi = 0, lo = 0;
        emit_steps(p, &a, &b);
        for (int i = 0; i < m->n; i++) {
            int v = tc->ev[m->ev[i]].v;
            if (m->step[i] == a) { cnt++; sum += v; }
            if (m->step[i] == b) {
                if (!nb || v > hi) hi = v;
                if (!nb || v < lo) lo = v;
                nb++;
            }
        }
        if (nb) fprintf(f, ",\"fields\":{\"n\":%lld,\"t\":%lld,\"hi\":%lld,\"lo\":%lld}}\n", cnt, sum, hi, lo);
        else fprintf(f, ",\"fields\":{\"n\":%lld,\"t\":%lld,\"hi\":null,\"lo\":null}}\n", cnt, sum);
        return;
    }
    fprintf(f, ",\"events\":{");
    for (int s = 0; s < p->n; s++) {
        ref_step_name(p, s, name, sizeof name);
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
    char text[8192], ev[256];
    rout ro;
    emres em;
    char w2[512] = "";
    check_case(tc, w2, sizeof w2, &ro, &em);
    int ties = 0;
    for (int i = 1; i < ro.n; i++)
        if (ro.m[i].group == ro.m[i - 1].group && ro.m[i].key == ro.m[i - 1].key &&
            ro.m[i].pat == ro.m[i - 1].pat)
            ties = 1;
    render(tc, text, sizeof text);
    fprintf(f, "# Differential test, seed %llu%s: %s\n", seed, *why ? " (minimized)" : "",
            *w2 ? w2 : "the reference and the engine agree");
    if (tc->threads) fprintf(f, "# (also run on a pool of 2 threads)\n");
    fprintf(f, "# Expected output from the reference matcher (tests/reference/refmatch.c).\n");
    fprintf(f, "# The engine gave:\n");
    for (int i = 0; i < em.n; i++) {
        fprintf(f, "#   ");
        print_match(tc, &em.m[i], f);
    }
    if (em.n == 0) fprintf(f, "#   (nothing)\n");
    fprintf(f, "%% timeouts\n");
    if (tc->max_delay) fprintf(f, "%% max-delay %lld\n", (long long)tc->max_delay);
    if (ties) fprintf(f, "%% unordered\n");
    fputs(text, f);
    fprintf(f, "---\n");
    for (int i = 0; i < tc->n; i++) {
        event_json(tc, tc->arr[i], ev, sizeof ev);
        fprintf(f, "%s\n", ev);
    }
    fprintf(f, "---\n");
    /* in the order the reference releases them */
    int done[R_MAXMATCH > 4096 ? 4096 : R_MAXMATCH] = {0};
    for (int k = 0; k < ro.n && k < 4096; k++) {
        int best = -1;
        for (int i = 0; i < ro.n && i < 4096; i++)
            if (!done[i] && (best < 0 || pos_lt(ro.m[i].pos, ro.m[best].pos))) best = i;
        done[best] = 1;
        print_match(tc, &ro.m[best], f);
    }
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
            gen_seed_case(&tc, seed);
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
    unsigned long long pass = 0, fail = 0, skip = 0, matches = 0, sets = 0, thr = 0, compact_cases = 0;
    for (unsigned long long seed = first; seed < first + count; seed++) {
        tcase tc;
        gen_seed_case(&tc, seed);
        char why[2048];
        rout ro;
        int r = check_case(&tc, why, sizeof why, &ro, NULL);
        compact_cases += case_compact;
        if (r != R_SKIP && tc.np > 2) sets++;
        if (r != R_SKIP && has_thresholds(&tc)) thr++;
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
           "compared, %llu files of 3 to %d patterns, %llu with thresholds, %llu compact\n", pass + fail + skip,
           first, pass, fail, skip, matches, sets, DT_MAXPAT, thr, compact_cases);
    return fail ? 1 : 0;
}
