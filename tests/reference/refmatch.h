/* refmatch.h — a reference matcher for the randomized differential test
 * (tests/reference/difftest.c): small patterns and events as plain structs,
 * matched by brute-force simulation of Flink CEP's rules, independently of
 * the engine (it uses no library code at all). */
#ifndef CEP_REFMATCH_H
#define CEP_REFMATCH_H

#include <stdint.h>

#define R_MAXSTEPS 24  /* steps of a pattern, negated ones included (groups unrolled) */
#define R_MAXEV 40     /* events of one test */
#define R_MAXT R_MAXEV /* events of one match */

/* Conditions: the small language the generator produces. An event has a
 * type t ('a'..'c'), a small integer v and a key (0/1). */
typedef enum rc_kind {
    RC_TRUE,    /* true */
    RC_TEQ,     /* t == "X" */
    RC_TNE,     /* t != "X" */
    RC_TIN,     /* t in ("X", "Y") */
    RC_VLT,     /* v < N */
    RC_VGT,     /* v > S.v        (S: an earlier step, or this looping step) */
    RC_TEQ_VGT, /* t == "X" and v > S.v */
    RC_TEQ_VCMP /* t == "X" and v OP N: OP op (<, <=, >, >=, ==), N n / 2
                 * (an int, or a double when n is odd) */
} rc_kind;

typedef struct rcond {
    rc_kind kind;
    char t, t2; /* type letters */
    int ref;    /* step index for S.v */
    int n;      /* bound for RC_VLT; twice the bound for RC_TEQ_VCMP */
    int op;     /* RC_TEQ_VCMP: 0 <, 1 <=, 2 >, 3 >=, 4 == */
} rcond;

typedef enum rconn { RK_BEGIN, RK_NEXT, RK_FB, RK_FBA, RK_NOTNEXT, RK_NOTFB } rconn;
typedef enum rinner { RI_RELAXED, RI_STRICT, RI_ANY } rinner;
typedef enum rquant { RQ_ONE, RQ_OPT, RQ_PLUS, RQ_STAR, RQ_TIMES, RQ_ATLEAST, RQ_RANGE } rquant;

typedef struct rstep {
    rconn conn;
    rquant q;
    int min, max;   /* max -1: unbounded */
    rinner inner;   /* contiguity between the step's own events */
    int greedy;
    rcond cond;
    int has_until;
    rcond until;
    int opt;        /* {n}?, {n,}?, {n,m}?: the step may also take nothing */
    int64_t gap;    /* > 0: `CONNECTOR within GAPms STEP` */
} rstep;

typedef enum rskip { RS_NOSKIP, RS_TONEXT, RS_PASTLAST, RS_TOFIRST, RS_TOLAST } rskip;

/* A group `(steps first..last){times}` with its loop contiguity; its
 * connector is st[first].conn. The reference unrolls it (times copies,
 * the first step of copy k > 0 joined by the loop contiguity), which is
 * what Flink's NFACompiler builds for times(n) of a GroupPattern: only
 * {n} groups, no negation or step references inside (difftest.c). */
typedef struct rgroup {
    int first, last, times;
    rinner inner;
} rgroup;

typedef struct rpattern {
    int n;                  /* number of steps, negated ones included */
    rstep st[R_MAXSTEPS];
    int has_within;
    int64_t within;
    rskip skip;
    int skip_step;          /* toFirst / toLast target */
    int keyed;              /* `key k` clause */
    int id;                 /* rendered as pattern p<id> (p for 0) */
    int emit;               /* an `emit` clause (difftest.c) */
    int ngroups;            /* grp[1] nests in grp[0] or is apart from it */
    rgroup grp[2];
} rpattern;

typedef struct revent {
    int64_t ts;             /* strictly increasing over the whole input */
    int key;                /* 0 or 1 */
    char t;
    int v;
    int dbl;                /* v is written as a double (2.0): equal to the int */
} revent;

/* Where in the output sequence a match is released: (major, minor) compared
 * lexicographically; matches of different keys with equal positions may
 * come out in either order. */
typedef struct rpos {
    long major, minor;
} rpos;

typedef struct rmatch {
    int key;
    int n;                  /* events, in time order */
    int ev[R_MAXT];         /* event indices */
    int step[R_MAXT];       /* the step of each */
    rpos pos;
    int group;              /* same group: order among them is engine-defined */
    int timeout;            /* a timed-out partial match, not a match */
    int pat;                /* the pattern (rpattern.id) */
} rmatch;

typedef struct rout {
    rmatch *m;
    int n, cap;
    int oom;
} rout;

/* Chooses among matches of one key with the same start that a skip
 * strategy releases at the same moment (Flink leaves their order to its
 * priority queue). Returns an index into cands[0..nc). */
typedef int (*ref_choose_fn)(void *ud, const rout *sofar, const rmatch *cands, int nc);

/* Run the pattern over events ev[0..n) (in time order; timeouts too).
 * Returns 0, or -1 when out of memory or a limit was hit. */
int ref_run(const rpattern *p, const revent *ev, int n, ref_choose_fn choose, void *ud,
            rout *out);
void ref_out_free(rout *o);

/* Which of Flink's two greedy implementations to follow (see refmatch.c):
 * 1 updateWithGreedyCondition (default), 0 getGreedyCondition. */
extern int ref_greedy_variant;

/* The pattern as text in the Cepheus language (buf of size cap). */
void ref_render_pattern(const rpattern *p, char *buf, int cap);
/* 1 when the step may take nothing. */
int ref_optional(const rstep *s);
/* Step name used in the text: s0, s1, ... for steps, n1, ... for negations. */
void ref_step_name(const rpattern *p, int s, char *buf, int cap);

#endif
