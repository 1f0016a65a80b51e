/* refmatch.c — the reference matcher of the differential test: it simulates
 * every run of a pattern over a finite event list by brute force, straight
 * from Flink CEP's rules, then applies the after-match skip strategy.
 * Written without the engine's code; slow and simple on purpose.
 *
 * The model. A run (partial match) is the list of events it took and where
 * it waits: "W(s,k)" = waiting for the k-th event of step s, or "NN(s)" =
 * right after the step before the notNext s. Per event, a run may:
 *   - TAKE the event at W(s,k) when step s's condition holds (and its
 *     `until` does not); it then waits at W(s,k+1), or after step s when s
 *     has taken its maximum;
 *   - IGNORE the event at W(s,k) under the contiguity that applies there:
 *     the step's connector for k = 1 (next: never, followedBy: when the
 *     event does not satisfy the step, followedByAny: always), the loop's
 *     own for k > 1 (consecutive: never, default: when it does not satisfy,
 *     allowCombinations: always). A run that ignores at an optional place
 *     (k > min) is *committed*: it must take its next event at that place
 *     and can no longer skip the rest of the step (Flink's NFACompiler makes
 *     a twin "ignore state" without the PROCEED edge for exactly this:
 *     createSingletonState / createLooping);
 *   - SKIP the rest of step s (k > min, not committed) for free and do any
 *     of the above at the next step, on the same event (Flink's PROCEED).
 *     `greedy` (with a step after it) comes in the two forms Flink's
 *     NFACompiler has had (ref_greedy_variant):
 *       1 (default; updateWithGreedyCondition): skipping is free, but at the
 *         place after the loop nothing at all (take, ignore, skip,
 *         negation) happens on an event that satisfies the loop's
 *         condition — unless the loop was left because its `until` held;
 *       0 (getGreedyCondition): skipping is allowed only when the event
 *         does not satisfy the loop and satisfies a following step's
 *         condition, or when the loop could neither take nor ignore it; a
 *         committed greedy run may skip too.
 *     At the end of a pattern greedy changes nothing (language.md: Fine
 *     points).
 * A run is dropped as a whole, with every branch it would make on the
 * event, when the event satisfies a negation the run is exposed to at that
 * moment: notNext x when the run can reach NN (its preceding step done);
 * notFollowedBy x when it can reach step N after x or waits at a committed
 * place of N{n,m} (NFACompiler.addStopStates on the first state and on
 * createSingletonState's ignore states), and — as Flink attaches the stop
 * edge to the states of the step P before x too (addStopStateToLooping) —
 * when it waits at W(P,k) with k >= 2 (not on the committed twin of a
 * {n,m} place of P). Matches completed on that same event are still emitted
 * (NFA.doProcess adds final states to the potential matches before
 * discarding the path).
 * A match completes when a run takes an event after which the remaining
 * steps can all be skipped on that event. Every event is offered to a fresh
 * run that has taken nothing; such a run never ignores (a run starts at the
 * event it first takes). With `within W` a run started at time s dies when
 * time reaches s + W (an event at s + W cannot extend it).
 * Output (Flink's NFA.processMatchesAccordingToSkipStrategy): with noSkip
 * every completed match is emitted at once, earliest start first. With
 * another strategy completed matches are held while a run that started
 * strictly earlier is alive, released earliest start first, and each
 * released match prunes runs and held matches: toNext those started at or
 * before its first event, pastLastEvent at or before its last event,
 * toFirst X / toLast X strictly before the first / last event of X (none
 * when X took nothing). Windows close one deadline at a time, in time
 * order over all keys, before an event at or after the deadline; each
 * closing releases what it frees. At the end of input every window closes,
 * then the runs of patterns without `within` are dropped, releasing the
 * rest. Matches of one key with the same start released together come out
 * in an order Flink leaves open: with noSkip they form a group compared as
 * a set, otherwise the caller's choose function picks (difftest.c follows
 * the engine where it can).
 * Also modelled: {n}? (the first place of the step may be skipped); a
 * per-step gap (language.md §10): past the gap of the step whose place it
 * is, measured from the run's last event, a place is dead on every path
 * (no take, ignore, skip or stop there), and a run waiting there times
 * out; a trailing notFollowedBy is a place of its own (PENDING: the
 * negation kills the run, else it waits), where the run completes when its
 * window closes — the sink of a greedy loop before it; timeouts, reported
 * before the matches of the same closing; at the end of input each key's
 * windows close together (Flink's final watermark, one advanceTime); and
 * {n} groups, unrolled (see unroll()). */
#include "refmatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_WAIT, ST_NN, ST_FINAL, ST_PENDING };

typedef struct astate {
    int kind;      /* ST_* */
    int s, k;      /* W(s,k); NN: s is the notNext step */
    int committed;
    int alt;       /* greedy variant 1: the unmodified copy of a greedy loop's
                      sink, entered when the loop's `until` holds */
} astate;

typedef struct rrun {
    int n;
    int ev[R_MAXT];
    int step[R_MAXT];
    int fresh;     /* has taken nothing yet: the run offered every event */
    astate at;
    int start;     /* index of the first event */
} rrun;

typedef struct runs {
    rrun *r;
    int n, cap;
} runs;

typedef struct ctx {
    const rpattern *p;
    const revent *ev;
    int nev;
    int oom;
} ctx;

/* ---- conditions -------------------------------------------------------- */

static int last_of(const rrun *r, int step)
{
    for (int i = r->n - 1; i >= 0; i--)
        if (r->step[i] == step) return r->ev[i];
    return -1;
}

/* A step reference with no event yet is null, and null > x is false. */
static int cond_eval(const ctx *c, const rcond *cd, const rrun *r, int e)
{
    const revent *x = &c->ev[e];
    int li;
    switch (cd->kind) {
    case RC_TRUE: return 1;
    case RC_TEQ: return x->t == cd->t;
    case RC_TNE: return x->t != cd->t;
    case RC_TIN: return x->t == cd->t || x->t == cd->t2;
    case RC_VLT: return x->v < cd->n;
    case RC_TEQ_VCMP:
        if (x->t != cd->t) return 0;
        switch (cd->op) {
        case 0: return 2 * x->v < cd->n;
        case 1: return 2 * x->v <= cd->n;
        case 2: return 2 * x->v > cd->n;
        case 3: return 2 * x->v >= cd->n;
        default: return 2 * x->v == cd->n;
        }
    case RC_TEQ_VGT:
        if (x->t != cd->t) return 0;
        /* fall through */
    case RC_VGT:
        li = last_of(r, cd->ref);
        return li >= 0 && x->v > c->ev[li].v;
    }
    return 0;
}

/* ---- the places a run can wait at ------------------------------------- */

static int is_neg(const rstep *s) { return s->conn == RK_NOTNEXT || s->conn == RK_NOTFB; }

int ref_optional(const rstep *s) { return s->min == 0 || s->opt; }

/* Where a run goes once step s is done. A trailing notFollowedBy is a place
 * of its own (PENDING): the run waits there until its window closes, and
 * then it is a match. */
static astate after(const ctx *c, int s)
{
    astate a = {ST_FINAL, 0, 0, 0, 0};
    int t = s + 1;
    if (t >= c->p->n) return a;
    if (c->p->st[t].conn == RK_NOTNEXT) {
        a.kind = ST_NN;
        a.s = t;
        return a;
    }
    if (c->p->st[t].conn == RK_NOTFB) {
        if (t == c->p->n - 1) {
            a.kind = ST_PENDING;
            a.s = t;
            return a;
        }
        t++;
    }
    a.kind = ST_WAIT;
    a.s = t;
    a.k = 1;
    return a;
}

static int take_ok(const ctx *c, const rrun *r, int s, int e)
{
    const rstep *st = &c->p->st[s];
    if (!cond_eval(c, &st->cond, r, e)) return 0;
    return !(st->has_until && cond_eval(c, &st->until, r, e));
}

/* -1: no ignoring at W(s,k); else whether the event may be ignored. */
static int ignore_ok(const ctx *c, const rrun *r, int s, int k, int e)
{
    const rstep *st = &c->p->st[s];
    rinner g;
    if (k == 1)
        g = st->conn == RK_NEXT ? RI_STRICT : st->conn == RK_FBA ? RI_ANY : RI_RELAXED;
    else
        g = st->inner;
    if (g == RI_STRICT) return -1;
    int ok = g == RI_ANY ? 1 : !cond_eval(c, &st->cond, r, e);
    /* `until` bounds the loop's own ignoring, not the connector's. */
    if (k > 1 && st->has_until && cond_eval(c, &st->until, r, e)) ok = 0;
    return ok;
}

/* {n}? can skip its first place; any step the places past its minimum. */
static int optional_at(const rstep *st, int k) { return k > st->min || (st->opt && k == 1); }

/* The next normal step after s, or -1. */
static int next_normal(const ctx *c, int s)
{
    for (int t = s + 1; t < c->p->n; t++)
        if (!is_neg(&c->p->st[t])) return t;
    return -1;
}

/* A following step would take the event: the first non-optional step after
 * s and the optional ones before it. */
static int following_take(const ctx *c, const rrun *r, int s, int e)
{
    for (int t = s + 1; t < c->p->n; t++) {
        const rstep *st = &c->p->st[t];
        if (is_neg(st)) continue;
        if (take_ok(c, r, t, e)) return 1;
        if (!ref_optional(st)) return 0;
    }
    return 0;
}

/* May a run at W(s,k) skip the rest of step s on event e? */
static int skip_ok(const ctx *c, const rrun *r, const astate *a, int e)
{
    const rstep *st = &c->p->st[a->s];
    if (!optional_at(st, a->k)) return 0;
    int greedy = st->greedy && next_normal(c, a->s) >= 0;
    if (ref_greedy_variant == 1) return !a->committed;
    if (a->committed && !greedy) return 0;
    if (!greedy) return 1;
    int tk = take_ok(c, r, a->s, e);
    int ig = ignore_ok(c, r, a->s, a->k, e);
    if (!tk && following_take(c, r, a->s, e)) return 1;
    return !(tk || ig == 1);
}

/* Is a run at W(s,k) dropped when e satisfies a neighbouring notFollowedBy? */
static int nfb_kills(const ctx *c, const rrun *r, const astate *a, int e)
{
    const rpattern *p = c->p;
    int s = a->s;
    /* N after x: its first place, and the committed twins of its {n,m}
     * places (addStopStates on createSingletonState's ignore state). */
    if (s >= 1 && p->st[s - 1].conn == RK_NOTFB &&
        (a->k == 1 || (a->committed && p->st[s].max > 0)) &&
        cond_eval(c, &p->st[s - 1].cond, r, e))
        return 1;
    if (a->k >= 2 && s + 1 < p->n && p->st[s + 1].conn == RK_NOTFB &&
        (!a->committed || p->st[s].max < 0) && cond_eval(c, &p->st[s + 1].cond, r, e))
        return 1;
    return 0;
}

/* ---- one run, one event ------------------------------------------------ */

typedef struct edge {
    int take;     /* 1 take, 0 ignore */
    astate from;
} edge;

#define MAXVISIT 64

typedef struct walk {
    astate seen[MAXVISIT];
    int nseen;
    edge ed[MAXVISIT];
    int ned;
    int killed;
    int final;    /* reached the end by skipping */
    int just_took; /* the run's last event is this one: no gap has passed */
} walk;

static int same(const astate *a, const astate *b)
{
    return a->kind == b->kind && a->s == b->s && a->k == b->k && a->committed == b->committed &&
           a->alt == b->alt;
}

int ref_greedy_variant = 1;

/* The gap that holds at place a: its step's (W, and PENDING for a trailing
 * notFollowedBy with a gap), none at a notNext. */
static int64_t place_gap(const ctx *c, const astate *a)
{
    if (a->kind == ST_WAIT || a->kind == ST_PENDING) return c->p->st[a->s].gap;
    return 0;
}

/* Variant 1: the greedy step g whose sink place a is (the place a run goes
 * to when g is done), or -1. */
static int greedy_source(const ctx *c, const astate *a)
{
    int g;
    if (a->kind == ST_WAIT && a->k == 1) {
        g = a->s - 1;
        if (g >= 0 && c->p->st[g].conn == RK_NOTFB) g--;
    } else if (a->kind == ST_NN || a->kind == ST_PENDING) {
        g = a->s - 1; /* a trailing notFollowedBy's place is a greedy loop's sink too */
    } else {
        return -1;
    }
    if (g < 0 || is_neg(&c->p->st[g]) || !c->p->st[g].greedy) return -1;
    return g;
}

/* Everything run r can do with event e from place a (collect = 0: only
 * whether the end can be reached by skipping). */
static void explore(const ctx *c, const rrun *r, astate a, int e, walk *w, int collect)
{
    for (int i = 0; i < w->nseen; i++)
        if (same(&w->seen[i], &a)) return;
    if (w->nseen >= MAXVISIT) return;
    w->seen[w->nseen++] = a;
    if (ref_greedy_variant == 1 && !a.alt) {
        /* updateWithGreedyCondition: every edge of the sink also needs the
         * event not to satisfy the greedy loop. */
        int g = greedy_source(c, &a);
        if (g >= 0 && cond_eval(c, &c->p->st[g].cond, r, e)) return;
    }
    if (a.kind == ST_FINAL) {
        w->final = 1;
        return;
    }
    /* Past the gap of the step whose place this is (measured from the
     * run's last event), the place is dead: nothing is taken, ignored,
     * skipped or stopped there (language.md §10: on every path). */
    if (!r->fresh && !w->just_took && place_gap(c, &a) > 0 && c->ev[e].ts - c->ev[r->ev[r->n - 1]].ts >= place_gap(c, &a))
        return;
    if (a.kind == ST_PENDING) {
        if (cond_eval(c, &c->p->st[a.s].cond, r, e)) {
            w->killed = 1;
            return;
        }
        if (collect && !r->fresh) w->ed[w->ned++] = (edge){0, a};
        return;
    }
    if (a.kind == ST_NN) {
        if (cond_eval(c, &c->p->st[a.s].cond, r, e)) {
            w->killed = 1;
            return;
        }
        explore(c, r, after(c, a.s), e, w, collect);
        return;
    }
    if (collect) {
        if (nfb_kills(c, r, &a, e)) w->killed = 1;
        if (take_ok(c, r, a.s, e)) w->ed[w->ned++] = (edge){1, a};
        if (!r->fresh && ignore_ok(c, r, a.s, a.k, e) == 1) w->ed[w->ned++] = (edge){0, a};
    }
    if (skip_ok(c, r, &a, e)) {
        astate nx = after(c, a.s);
        const rstep *st = &c->p->st[a.s];
        /* Variant 1: a greedy loop whose `until` holds leaves to an
         * unmodified copy of its sink. */
        if (ref_greedy_variant == 1 && st->greedy && st->has_until && nx.kind != ST_FINAL &&
            cond_eval(c, &st->until, r, e))
            nx.alt = 1;
        explore(c, r, nx, e, w, collect);
    }
}

static int push_run(ctx *c, runs *rs, const rrun *r)
{
    if (rs->n == rs->cap) {
        int nc = rs->cap ? rs->cap * 2 : 64;
        if (nc > 2000000) { c->oom = 1; return -1; }
        rrun *nr = realloc(rs->r, (size_t)nc * sizeof *nr);
        if (!nr) { c->oom = 1; return -1; }
        rs->r = nr;
        rs->cap = nc;
    }
    rs->r[rs->n++] = *r;
    return 0;
}

/* Feed event e to run r: new runs go to out, completed matches to done. */
static void feed(ctx *c, const rrun *r, int e, runs *out, runs *done)
{
    walk w;
    memset(&w, 0, sizeof w);
    explore(c, r, r->at, e, &w, 1);
    runs mine = {0};
    for (int i = 0; i < w.ned; i++) {
        const edge *ed = &w.ed[i];
        const rstep *st = &c->p->st[ed->from.s];
        if (!ed->take) {
            rrun n = *r;
            n.at = ed->from;
            n.at.committed = optional_at(st, ed->from.k);
            push_run(c, &mine, &n);
            continue;
        }
        rrun n = *r;
        if (n.n >= R_MAXT) { c->oom = 1; continue; }
        if (n.fresh) n.start = e;
        n.fresh = 0;
        n.ev[n.n] = e;
        n.step[n.n] = ed->from.s;
        n.n++;
        if (st->max >= 0 && ed->from.k == st->max) {
            n.at = after(c, ed->from.s);
        } else {
            n.at = ed->from;
            n.at.k++;
            n.at.committed = 0;
            n.at.alt = 0;
        }
        if (n.at.kind == ST_FINAL) {
            push_run(c, done, &n);
            continue;
        }
        walk f;
        memset(&f, 0, sizeof f);
        f.just_took = 1;
        explore(c, r, n.at, e, &f, 0); /* conditions see the run before e */
        if (f.final) push_run(c, done, &n);
        push_run(c, &mine, &n);
    }
    if (!w.killed)
        for (int i = 0; i < mine.n; i++) push_run(c, out, &mine.r[i]);
    free(mine.r);
}

/* ---- output and skip strategies --------------------------------------- */

typedef struct keystate {
    runs live;
    runs held;
} keystate;

static int out_push(rout *o, const rmatch *m)
{
    if (o->n == o->cap) {
        int nc = o->cap ? o->cap * 2 : 32;
        rmatch *nm = realloc(o->m, (size_t)nc * sizeof *nm);
        if (!nm) { o->oom = 1; return -1; }
        o->m = nm;
        o->cap = nc;
    }
    o->m[o->n++] = *m;
    return 0;
}

static const int *step_map; /* unrolled groups: flat step -> the pattern's */

static void to_match(const rrun *r, int key, rpos pos, int group, rmatch *m)
{
    memset(m, 0, sizeof *m);
    m->key = key;
    m->n = r->n;
    memcpy(m->ev, r->ev, sizeof(int) * (size_t)r->n);
    for (int i = 0; i < r->n; i++) m->step[i] = step_map ? step_map[r->step[i]] : r->step[i];
    m->pos = pos;
    m->group = group;
}

/* Events are numbered in time order with distinct times, so comparing
 * indices compares (time, arrival). Returns the pruning bound or -1, and
 * whether pruning includes the bound. */
static int prune_bound(const rpattern *p, const rrun *m, int *inclusive)
{
    int b = -1;
    *inclusive = 0;
    switch (p->skip) {
    case RS_NOSKIP: return -1;
    case RS_TONEXT: *inclusive = 1; return m->ev[0];
    case RS_PASTLAST: *inclusive = 1; return m->ev[m->n - 1];
    case RS_TOFIRST:
        for (int i = 0; i < m->n; i++)
            if (m->step[i] == p->skip_step) return m->ev[i];
        return -1;
    case RS_TOLAST:
        for (int i = 0; i < m->n; i++)
            if (m->step[i] == p->skip_step) b = m->ev[i];
        return b;
    }
    return -1;
}

static void prune(runs *rs, int bound, int inclusive)
{
    int j = 0;
    for (int i = 0; i < rs->n; i++) {
        int st = rs->r[i].start;
        if (st < bound || (inclusive && st == bound)) continue;
        rs->r[j++] = rs->r[i];
    }
    rs->n = j;
}

static int group_counter;

/* Release what may be released from key ks (all = drop the live runs). */
static void release(ctx *c, keystate *ks, int key, rpos pos, ref_choose_fn choose, void *ud,
                    rout *o)
{
    const rpattern *p = c->p;
    if (p->skip == RS_NOSKIP) {
        while (ks->held.n > 0) {
            int best = 0;
            for (int i = 1; i < ks->held.n; i++)
                if (ks->held.r[i].start < ks->held.r[best].start) best = i;
            int st = ks->held.r[best].start;
            int g = ++group_counter;
            int j = 0;
            for (int i = 0; i < ks->held.n; i++) {
                if (ks->held.r[i].start == st) {
                    rmatch m;
                    to_match(&ks->held.r[i], key, pos, g, &m);
                    out_push(o, &m);
                } else {
                    ks->held.r[j++] = ks->held.r[i];
                }
            }
            ks->held.n = j;
        }
        return;
    }
    while (ks->held.n > 0) {
        int st = ks->held.r[0].start;
        for (int i = 1; i < ks->held.n; i++)
            if (ks->held.r[i].start < st) st = ks->held.r[i].start;
        int blocked = 0;
        for (int i = 0; i < ks->live.n; i++)
            if (ks->live.r[i].start < st) blocked = 1;
        if (blocked) break;
        /* Candidates with the earliest start: Flink's queue picks any. */
        rmatch *cands = malloc(sizeof *cands * (size_t)ks->held.n);
        int *ci = malloc(sizeof *ci * (size_t)ks->held.n), nc = 0;
        if (!cands || !ci) {
            free(cands);
            free(ci);
            c->oom = 1;
            return;
        }
        for (int i = 0; i < ks->held.n; i++)
            if (ks->held.r[i].start == st) {
                to_match(&ks->held.r[i], key, pos, ++group_counter, &cands[nc]);
                ci[nc++] = i;
            }
        int pick = nc > 1 && choose ? choose(ud, o, cands, nc) : 0;
        if (pick < 0 || pick >= nc) pick = 0;
        rrun m = ks->held.r[ci[pick]];
        ks->held.r[ci[pick]] = ks->held.r[--ks->held.n];
        int incl;
        int b = prune_bound(p, &m, &incl);
        if (b >= 0) {
            prune(&ks->live, b, incl);
            prune(&ks->held, b, incl);
        }
        out_push(o, &cands[pick]);
        free(cands);
        free(ci);
    }
}

/* When run r's window closes: `within` from its first event, and the gap
 * of the place it waits at from its last event; INT64_MAX: never. */
static int64_t deadline(const ctx *c, const rrun *r)
{
    int64_t d = INT64_MAX;
    if (c->p->has_within) d = c->ev[r->start].ts + c->p->within;
    int64_t g = place_gap(c, &r->at);
    if (g > 0 && c->ev[r->ev[r->n - 1]].ts + g < d) d = c->ev[r->ev[r->n - 1]].ts + g;
    return d;
}

/* The runs of ks whose window closed at time t go (Flink's
 * NFA.advanceTime): those waiting in a trailing notFollowedBy complete
 * (held, then released by the skip strategy), the others time out, all
 * of them first, as one group (their order is the engine's). 1 if any. */
static int expire(ctx *c, keystate *ks, int key, int64_t t, rpos pos, rout *o)
{
    int j = 0, any = 0, g = 0;
    for (int i = 0; i < ks->live.n; i++) {
        rrun *r = &ks->live.r[i];
        if (deadline(c, r) > t) {
            ks->live.r[j++] = *r;
            continue;
        }
        any = 1;
        if (r->at.kind == ST_PENDING) {
            push_run(c, &ks->held, r);
            continue;
        }
        if (!g) g = ++group_counter;
        rmatch m;
        to_match(r, key, pos, g, &m);
        m.timeout = 1;
        out_push(o, &m);
    }
    ks->live.n = j;
    return any;
}

/* Close the windows that end at or before t one deadline at a time, in time
 * order over all keys (a window that closes at t is closed for an event at
 * t), releasing what each closing frees. */
static void advance_time(ctx *c, keystate *ks, int64_t t, long major, ref_choose_fn choose,
                         void *ud, rout *o)
{
    for (;;) {
        int64_t next = INT64_MAX;
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < ks[k].live.n; j++)
                if (deadline(c, &ks[k].live.r[j]) < next) next = deadline(c, &ks[k].live.r[j]);
        if (next == INT64_MAX || next > t) return;
        for (int k = 0; k < 2; k++) {
            rpos pos = {major, (long)next};
            if (expire(c, &ks[k], k, next, pos, o)) release(c, &ks[k], k, pos, choose, ud, o);
        }
    }
}

static int run_flat(const rpattern *p, const revent *ev, int n, ref_choose_fn choose, void *ud,
                    rout *o)
{
    ctx c = {p, ev, n, 0};
    keystate ks[2];
    memset(ks, 0, sizeof ks);
    memset(o, 0, sizeof *o);
    group_counter = 0;
    for (int i = 0; i < n; i++) {
        advance_time(&c, ks, ev[i].ts, 2L * i, choose, ud, o);
        int k = p->keyed ? ev[i].key : 0;
        runs next = {0};
        for (int j = 0; j < ks[k].live.n; j++) feed(&c, &ks[k].live.r[j], i, &next, &ks[k].held);
        rrun fresh;
        memset(&fresh, 0, sizeof fresh);
        fresh.fresh = 1;
        fresh.at = (astate){ST_WAIT, 0, 1, 0, 0};
        feed(&c, &fresh, i, &next, &ks[k].held);
        free(ks[k].live.r);
        ks[k].live = next;
        release(&c, &ks[k], k, (rpos){2L * i + 1, 0}, choose, ud, o);
        if (c.oom) break;
    }
    /* End of input: time jumps to +inf in one step (Flink's final
     * watermark): each key's windows all close together, in one
     * advanceTime (the timeouts first), keys in the order of their first
     * deadline; then what is left (no window) is dropped. */
    for (int k = 0; k < 2; k++) {
        int64_t first = INT64_MAX;
        for (int j = 0; j < ks[k].live.n; j++)
            if (deadline(&c, &ks[k].live.r[j]) < first) first = deadline(&c, &ks[k].live.r[j]);
        if (first == INT64_MAX) continue;
        rpos pos = {2L * n + 2, (long)first};
        if (expire(&c, &ks[k], k, INT64_MAX - 1, pos, o)) release(&c, &ks[k], k, pos, choose, ud, o);
    }
    for (int k = 0; k < 2; k++) {
        ks[k].live.n = 0;
        release(&c, &ks[k], k, (rpos){2L * n + 4, 0}, choose, ud, o);
        free(ks[k].live.r);
        free(ks[k].held.r);
    }
    for (int i = 0; i < o->n; i++) o->m[i].pat = p->id;
    return c.oom || o->oom ? -1 : 0;
}

void ref_out_free(rout *o)
{
    free(o->m);
    memset(o, 0, sizeof *o);
}

/* ---- pattern text -------------------------------------------------------- */

void ref_step_name(const rpattern *p, int s, char *buf, int cap)
{
    snprintf(buf, (size_t)cap, "%s%d", is_neg(&p->st[s]) ? "n" : "s", s);
}

static int put_cond(const rpattern *p, const rcond *cd, char *b, int cap)
{
    char ref[16];
    ref_step_name(p, cd->ref, ref, sizeof ref);
    switch (cd->kind) {
    case RC_TRUE: return snprintf(b, (size_t)cap, "true");
    case RC_TEQ: return snprintf(b, (size_t)cap, "t == \"%c\"", cd->t);
    case RC_TNE: return snprintf(b, (size_t)cap, "t != \"%c\"", cd->t);
    case RC_TIN: return snprintf(b, (size_t)cap, "t in (\"%c\", \"%c\")", cd->t, cd->t2);
    case RC_VLT: return snprintf(b, (size_t)cap, "v < %d", cd->n);
    case RC_VGT: return snprintf(b, (size_t)cap, "v > %s.v", ref);
    case RC_TEQ_VGT: return snprintf(b, (size_t)cap, "t == \"%c\" and v > %s.v", cd->t, ref);
    case RC_TEQ_VCMP: {
        static const char *const ops[] = {"<", "<=", ">", ">=", "=="};
        return snprintf(b, (size_t)cap, "t == \"%c\" and v %s %d%s", cd->t, ops[cd->op % 5], cd->n / 2,
                        cd->n % 2 ? ".5" : "");
    }
    }
    return 0;
}

void ref_render_pattern(const rpattern *p, char *buf, int cap)
{
    static const char *conn[] = {"begin", "next", "followedBy", "followedByAny", "notNext",
                                 "notFollowedBy"};
    int n = p->id ? snprintf(buf, (size_t)cap, "pattern p%d\n", p->id) : snprintf(buf, (size_t)cap, "pattern p\n");
    if (p->keyed) n += snprintf(buf + n, (size_t)(cap - n), "  key k\n");
    for (int s = 0; s < p->n && n < cap; s++) {
        const rstep *st = &p->st[s];
        char name[16], q[24] = "";
        ref_step_name(p, s, name, sizeof name);
        switch (st->q) {
        case RQ_ONE: break;
        case RQ_OPT: strcpy(q, "?"); break;
        case RQ_PLUS: strcpy(q, "+"); break;
        case RQ_STAR: strcpy(q, "*"); break;
        case RQ_TIMES: snprintf(q, sizeof q, "{%d}", st->min); break;
        case RQ_ATLEAST: snprintf(q, sizeof q, "{%d,}", st->min); break;
        case RQ_RANGE: snprintf(q, sizeof q, "{%d,%d}", st->min, st->max); break;
        }
        if (st->opt) strcat(q, "?");
        char gap[32] = "";
        if (st->gap > 0) snprintf(gap, sizeof gap, "within %lldms ", (long long)st->gap);
        char open[8] = "";
        for (int g = 0; g < p->ngroups; g++)
            if (p->grp[g].first == s) strcat(open, "(");
        n += snprintf(buf + n, (size_t)(cap - n), "  %s %s%s%s%s where ", conn[st->conn], gap, open, name, q);
        n += put_cond(p, &st->cond, buf + n, cap - n);
        if (st->inner == RI_STRICT) n += snprintf(buf + n, (size_t)(cap - n), " consecutive");
        if (st->inner == RI_ANY) n += snprintf(buf + n, (size_t)(cap - n), " allowCombinations");
        if (st->greedy) n += snprintf(buf + n, (size_t)(cap - n), " greedy");
        if (st->has_until) {
            n += snprintf(buf + n, (size_t)(cap - n), " until ");
            n += put_cond(p, &st->until, buf + n, cap - n);
        }
        /* groups that end here, the inner one first */
        for (int pass = 0; pass < 2; pass++)
            for (int g = 0; g < p->ngroups; g++) {
                const rgroup *gr = &p->grp[g];
                if (gr->last != s) continue;
                int inner = 0;
                for (int h = 0; h < p->ngroups; h++)
                    if (h != g && p->grp[h].last == s && p->grp[h].first < gr->first) inner = 1;
                if (inner != (pass == 0)) continue;
                n += snprintf(buf + n, (size_t)(cap - n), ")");
                if (gr->times > 1) n += snprintf(buf + n, (size_t)(cap - n), "{%d}", gr->times);
                if (gr->inner == RI_STRICT) n += snprintf(buf + n, (size_t)(cap - n), " consecutive");
                if (gr->inner == RI_ANY) n += snprintf(buf + n, (size_t)(cap - n), " allowCombinations");
            }
        n += snprintf(buf + n, (size_t)(cap - n), "\n");
    }
    if (p->has_within && n < cap)
        n += snprintf(buf + n, (size_t)(cap - n), "  within %lldms\n", (long long)p->within);
    if (p->skip != RS_NOSKIP && n < cap) {
        static const char *sk[] = {"noSkip", "toNext", "pastLastEvent", "toFirst", "toLast"};
        char name[16] = "";
        if (p->skip == RS_TOFIRST || p->skip == RS_TOLAST)
            ref_step_name(p, p->skip_step, name, sizeof name);
        snprintf(buf + n, (size_t)(cap - n), "  skip %s%s%s\n", sk[p->skip], *name ? " " : "",
                 name);
    }
}

/* ---- groups: unrolled ------------------------------------------------------ */

static rconn loop_conn(rinner g) { return g == RI_STRICT ? RK_NEXT : g == RI_ANY ? RK_FBA : RK_FB; }

/* Steps a..b of p into f, the first one joined by head (-1: its own
 * connector); groups not in `done` that lie in a..b are unrolled. map:
 * flat step -> step of p. */
static int unroll(const rpattern *p, int a, int b, int head, int done, rpattern *f, int *map)
{
    for (int i = a; i <= b;) {
        int g = -1;
        for (int k = 0; k < p->ngroups; k++)
            if (!(done >> k & 1) && p->grp[k].first == i && p->grp[k].last <= b &&
                (g < 0 || p->grp[k].last > p->grp[g].last))
                g = k; /* the outermost group starting here */
        int h = i == a ? head : -1;
        if (g >= 0) {
            /* A group that begins an enclosing group: Flink's NFACompiler
             * takes the ignore condition of a group's head from the
             * innermost group only (headOfGroup, currentGroupPattern), and
             * that group, made by Pattern.begin(group), skips till next:
             * the enclosing group's connector and loop contiguity do not
             * reach its first step. */
            int nested_head = 0;
            for (int k = 0; k < p->ngroups; k++)
                if ((done >> k & 1) && p->grp[k].first == i) nested_head = 1;
            for (int t = 0; t < p->grp[g].times; t++) {
                int hc = t == 0 ? (nested_head ? (int)RK_FB : h) : (int)loop_conn(p->grp[g].inner);
                if (unroll(p, i, p->grp[g].last, hc, done | 1 << g, f, map) < 0) return -1;
            }
            i = p->grp[g].last + 1;
            continue;
        }
        if (f->n >= R_MAXSTEPS) return -1;
        f->st[f->n] = p->st[i];
        if (h >= 0) f->st[f->n].conn = (rconn)h;
        /* The head of a group loops with the group's contiguity, not its
         * own (Flink's NFACompiler.getInnerIgnoreCondition: headOfGroup),
         * the innermost group's when several start here. */
        int in = -1;
        for (int k = 0; k < p->ngroups; k++)
            if (p->grp[k].first == i && (in < 0 || p->grp[k].last < p->grp[in].last)) in = k;
        if (in >= 0) f->st[f->n].inner = p->grp[in].inner;
        map[f->n++] = i;
        i++;
    }
    return 0;
}

int ref_run(const rpattern *p, const revent *ev, int n, ref_choose_fn choose, void *ud, rout *o)
{
    if (!p->ngroups) return run_flat(p, ev, n, choose, ud, o);
    rpattern f = *p;
    int map[R_MAXSTEPS];
    f.n = 0;
    f.ngroups = 0;
    memset(o, 0, sizeof *o);
    if (unroll(p, 0, p->n - 1, -1, 0, &f, map) < 0) return -1;
    /* references to steps outside groups: their one copy */
    for (int s = 0; s < f.n; s++) {
        rcond *c = &f.st[s].cond;
        if (c->kind == RC_VGT || c->kind == RC_TEQ_VGT)
            for (int j = 0; j < f.n; j++)
                if (map[j] == c->ref) { c->ref = j; break; }
    }
    if (p->skip == RS_TOFIRST || p->skip == RS_TOLAST)
        for (int j = 0; j < f.n; j++)
            if (map[j] == p->skip_step) { f.skip_step = j; break; }
    step_map = map;
    int rc = run_flat(&f, ev, n, choose, ud, o);
    step_map = NULL;
    return rc;
}
