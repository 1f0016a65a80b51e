/* test_expr.c — condition semantics: every operator, null and type rules,
 * numbers mixing int and double, regexes, built-ins, step references and
 * aggregates, evaluated on compiled programs without running an engine. */
#include "config.h"
#include <math.h>
#include <string.h>

#include "bytes.h"
#include "cepheus.h"
#include "eval.h"
#include "event.h"
#include "expr.h"
#include "mem.h"
#include "nfa.h"
#include "suites.h"

/* Evaluate the `where` of the first step of "pattern p begin a where COND"
 * on an event whose slots are given as a JSON object. */
static cep_value eval_on(const char *cond, const char *json, cep_program **keep, cep_event **ev_keep,
                         eval_ctx *ctx) {
    char src[512];
    snprintf(src, sizeof src, "pattern p begin a where %s\n", cond);
    cep_diag *d = NULL;
    int rc = cep_compile(NULL, src, strlen(src), NULL, keep, &d);
    ck_assert_msg(rc == CEP_OK, "%s", cep_diag_render(d));
    cep_diag_free(d);
    ck_assert_int_eq(cep_event_new(*keep, ev_keep), CEP_OK);
    ck_assert_int_eq(cep_event_parse_json(*ev_keep, json, strlen(json), "ts"), CEP_OK);
    ck_assert_int_eq(expr_ctx_init(ctx, *keep), CEP_OK);
    ctx->row = (*ev_keep)->vals;
    const nfa_edge *edge = &(*keep)->patterns[0].edges[0];
    cep_value v = expr_eval(edge->cond, ctx);
    if (edge->negate) { /* `where not X` compiles to X with the edge negated */
        int holds = v.type == CEP_BOOL && v.u.b;
        v.type = CEP_BOOL;
        v.u.b = !holds;
    }
    return v;
}

/* 1 true, 0 false, -1 null, -2 other */
static int truth(const char *cond, const char *json) {
    cep_program *p;
    cep_event *ev;
    eval_ctx ctx;
    cep_value v = eval_on(cond, json, &p, &ev, &ctx);
    int r = v.type == CEP_BOOL ? v.u.b : v.type == CEP_NULL ? -1 : -2;
    expr_ctx_free(&ctx);
    cep_event_free(ev);
    cep_program_free(p);
    return r;
}

#define T(cond) ck_assert_msg(truth(cond, J) == 1, "expected true: %s", cond)
#define F(cond) ck_assert_msg(truth(cond, J) == 0, "expected false: %s", cond)

static const char *J = "{\"ts\":1,\"i\":7,\"d\":2.5,\"s\":\"Hello\",\"b\":true,\"z\":null,"
                       "\"big\":9223372036854775807,\"u\":\"h\\u00e9llo\"}";

START_TEST(comparisons) {
    T("i == 7"); T("i == 7.0"); F("i == 8"); T("i != 8"); T("i < 7.5"); T("i <= 7"); F("i > 7");
    T("i >= 7"); T("d > 2"); T("d < i"); T("s == \"Hello\""); T("s < \"World\""); F("s > \"World\"");
    T("b == true"); F("b == false"); T("b != false");
    /* mixed types never order; == is false and != true */
    F("s == 1"); T("s != 1"); F("s < 1"); F("s > 1"); F("b < 1");
}
END_TEST

START_TEST(null_rules) {
    /* Only `== null` / `!= null` test for null; any other comparison with a
     * null operand is false, `!=` included. */
    T("z == null"); F("z != null"); T("missing == null"); T("null == missing"); F("missing == z");
    F("missing < 1"); F("missing > 1"); F("missing == 0"); F("missing != 0"); T("i != null");
    F("null < null"); T("null == null"); F("z != z");
    F("missing + 1 > 0 or missing > 0 and missing > 0 or z");
}
END_TEST

/* and/or/not: anything but boolean true counts as false. */
START_TEST(two_valued_logic) {
    T("true or missing"); F("false or z"); F("false and z"); F("true and z"); T("not z");
    T("not missing"); T("not false"); F("not (i == 7)"); T("i == 7 and d == 2.5"); F("not b");
    T("not (missing > 1)");
}
END_TEST

START_TEST(arithmetic) {
    T("i + 1 == 8"); T("i - 10 == -3"); T("i * 2 == 14"); T("i / 2 == 3.5"); T("i % 4 == 3");
    T("d * 2 == 5"); T("-i == -7"); T("-d == -2.5"); T("1 + 2 * 3 == 7"); T("(1 + 2) * 3 == 9");
    T("i / 0 == null"); T("i % 0 == null"); T("d % 0 == null"); T("i + missing == null");
    T("s + 1 == null"); T("10m == 600000"); T("250ms == 250"); T("1d == 86400000");
    /* int overflow turns into double instead of wrapping */
    T("big + 1 > 9223372036854775000"); T("big * 2 > big");
    T("-9223372036854775808 < 0"); T("7 % -1 == 0");
}
END_TEST

START_TEST(regex_in_functions) {
    T("s =~ /^hel/i"); F("s =~ /^hel/"); T("s !~ /^hel/"); F("i =~ /7/"); F("missing !~ /x/");
    T("u =~ /^h.llo$/"); T("i in (1, 7, 9)"); F("i in (1, 2)"); T("s in (\"x\", \"Hello\")");
    T("z in (null)"); T("exists(i)"); F("exists(z)"); F("exists(missing)"); T("len(s) == 5");
    T("len(u) == 5"); T("lower(s) == \"hello\""); T("upper(s) == \"HELLO\""); T("abs(-3) == 3");
    T("abs(-2.5) == 2.5"); T("contains(s, \"ell\")"); F("contains(s, \"x\")"); T("startsWith(s, \"He\")");
    F("startsWith(s, \"he\")"); T("len(i) == null"); T("contains(i, \"x\") == null");
    T("lower(upper(lower(s))) == \"hello\"");
}
END_TEST

START_TEST(value_helpers) {
    cep_value a = {.type = CEP_INT, .u.i = 3}, b = {.type = CEP_DOUBLE, .u.d = 3.0};
    ck_assert(value_equal(a, b));
    cep_value r = value_arith(NFA_OP_DIV, a, b);
    ck_assert_int_eq(r.type, CEP_DOUBLE);
    ck_assert(r.u.d == 1.0);
    cep_value inf = {.type = CEP_DOUBLE, .u.d = 1e308};
    r = value_arith(NFA_OP_MUL, inf, inf); /* infinities are not values: null */
    ck_assert_int_eq(r.type, CEP_NULL);
}
END_TEST

/* Step references and aggregates read the partial match's chain. */
START_TEST(references_and_aggregates) {
    const char *src = "pattern p begin a followedBy b where a.x + b_x > 0 "
                      "emit f = a[0].x, l = a[-1].x, o = a[1].x, c = count(a), s = sum(a.x), "
                      "v = avg(a.x), mn = min(a.x), mx = max(a.x)\n";
    cep_program *p = NULL;
    cep_diag *d = NULL;
    ck_assert_int_eq(cep_compile(NULL, src, strlen(src), NULL, &p, &d), CEP_OK);
    cep_diag_free(d);
    cep_event *ev;
    ck_assert_int_eq(cep_event_new(p, &ev), CEP_OK);
    const char *j = "{\"ts\":5,\"x\":4}";
    ck_assert_int_eq(cep_event_parse_json(ev, j, strlen(j), "ts"), CEP_OK);
    cep_event *fa = event_freeze(ev);
    pm_lnode na = {.n = {.parent = NULL, .refs = 1, .step = 0, .loose = 1}, .ev = fa};
    eval_ctx ctx;
    ck_assert_int_eq(expr_ctx_init(&ctx, p), CEP_OK);
    ctx.chain = &na.n;
    const nfa_pattern *pat = &p->patterns[0];
    cep_value v[8];
    for (int i = 0; i < 8; i++) v[i] = expr_eval(pat->emit_exprs[i], &ctx);
    ck_assert_int_eq(v[0].u.i, 4);
    ck_assert_int_eq(v[1].u.i, 4);
    ck_assert_int_eq(v[2].type, CEP_NULL);
    ck_assert_int_eq(v[3].u.i, 1);
    ck_assert_int_eq(v[4].u.i, 4);
    ck_assert(v[5].u.d == 4.0);
    ck_assert_int_eq(v[6].u.i, 4);
    ck_assert_int_eq(v[7].u.i, 4);
    /* Over no events: count and sum 0, the others null. */
    ctx.chain = NULL;
    ck_assert_int_eq(expr_eval(pat->emit_exprs[3], &ctx).u.i, 0);
    ck_assert_int_eq(expr_eval(pat->emit_exprs[4], &ctx).u.i, 0);
    ck_assert_int_eq(expr_eval(pat->emit_exprs[5], &ctx).type, CEP_NULL);
    ck_assert_int_eq(expr_eval(pat->emit_exprs[6], &ctx).type, CEP_NULL);
    /* The sums were kept on the node (nfa.h): its owner frees them. */
    ck_assert(na.n.has_agg);
    ck_assert(ctx.agg_bytes > 0);
    expr_agg_free(&ctx, &na.n);
    ck_assert(!na.n.has_agg);
    ck_assert(ctx.agg_bytes == 0);
    expr_ctx_free(&ctx);
    event_release(fa);
    cep_event_free(ev);
    cep_program_free(p);
}
END_TEST

/* The packed stored form (event.h) gives back every value exactly: each
 * code at its edges, strings short and long, raw text and tag in the tail,
 * through cep_event_value, the slot reader and a decoded row; and it is
 * small: a W1 click (user, type, item, ts) takes 55 bytes with its node. */
START_TEST(stored_values_every_code) {
    const char *src = "pattern p begin a where f0 == 0 and f1 == 0 and f2 == 0 and f3 == 0 and f4 == 0\n";
    cep_program *p = NULL;
    ck_assert_int_eq(cep_compile(NULL, src, strlen(src), NULL, &p, NULL), CEP_OK);
    int slot[5];
    for (int i = 0; i < 5; i++) {
        char name[4] = {'f', (char)('0' + i), 0};
        slot[i] = cep_program_field_slot(p, name);
        ck_assert_int_ge(slot[i], 0);
    }
    cep_event *ev;
    ck_assert_int_eq(cep_event_new(p, &ev), CEP_OK);
    static char big[70000];
    memset(big, 'q', sizeof big);
    const int64_t ints[] = {0, -1, 63, -64, 64, -65, 127, -128, 128, -129, 32767, -32768, 32768, -32769,
                            INT32_MAX, INT32_MIN, (int64_t)INT32_MAX + 1, (int64_t)INT32_MIN - 1, INT64_MAX,
                            INT64_MIN, 1700000000123};
    const size_t lens[] = {0, 1, 5, 254, 255, 256, 257, 65536, sizeof big};
    const double dbls[] = {0.0, -0.0, 1.5, -3.25e300, 7.0};
    const size_t nints = sizeof ints / sizeof *ints, nlens = sizeof lens / sizeof *lens;
    for (size_t round = 0; round < nints + nlens; round++) {
        cep_value want[5];
        cep_event_clear(ev);
        cep_event_set_time(ev, 1700000000123); /* the time: an int equal to it takes no bytes */
        /* f0: an int; f1: a string; f2: a double or null; f3: a bool; f4: an int or null */
        int64_t i = ints[round % nints];
        size_t l = lens[round % nlens];
        cep_event_set_int(ev, slot[0], i);
        cep_event_set_string(ev, slot[1], big, l);
        if (round % 6 == 5) cep_event_set_null(ev, slot[2]);
        else cep_event_set_double(ev, slot[2], dbls[round % 5]);
        cep_event_set_bool(ev, slot[3], (int)(round & 1));
        if (round % 3) cep_event_set_int(ev, slot[4], ~i);
        if (round % 4 == 1) cep_event_set_raw(ev, big, l);
        if (round % 4 >= 2) cep_event_set_tag(ev, 0xF00D0000ull + round);
        for (int k = 0; k < 5; k++) want[k] = cep_event_value(ev, slot[k]);
        cep_event *f = event_freeze(ev);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(cep_event_time(f), 1700000000123);
        ck_assert_uint_eq(cep_event_tag(f), round % 4 >= 2 ? 0xF00D0000ull + round : 0);
        size_t rl = 99;
        const char *raw = cep_event_raw(f, &rl);
        if (round % 4 == 1 && l) {
            ck_assert_ptr_nonnull(raw);
            ck_assert_uint_eq(rl, l);
            ck_assert_int_eq(memcmp(raw, big, l), 0);
            ck_assert_int_eq(raw[l], '\0');
        } else {
            ck_assert_ptr_null(raw);
            ck_assert_uint_eq(rl, 0);
        }
        cep_value *buf = NULL;
        size_t cap = 0;
        const cep_value *row = event_row(f, &buf, &cap);
        ck_assert_ptr_nonnull(row);
        event_reader it = event_reader_of(f);
        for (uint32_t k = 0; k < f->nslots; k++) {
            cep_value a = cep_event_value(f, (int)k), b = event_next(&it), w = cep_event_value(ev, (int)k);
            const cep_value *all[3] = {&a, &b, &row[k]};
            for (int x = 0; x < 3; x++) {
                const cep_value *v = all[x];
                ck_assert_int_eq(v->type, w.type);
                if (w.type == CEP_INT) ck_assert(v->u.i == w.u.i);
                if (w.type == CEP_BOOL) ck_assert_int_eq(v->u.b, w.u.b);
                if (w.type == CEP_DOUBLE) ck_assert(memcmp(&v->u.d, &w.u.d, 8) == 0);
                if (w.type == CEP_STRING) {
                    ck_assert_uint_eq(v->u.s.len, w.u.s.len);
                    ck_assert_int_eq(memcmp(v->u.s.ptr, big, w.u.s.len), 0);
                    ck_assert_int_eq(v->u.s.ptr[w.u.s.len], '\0');
                }
            }
        }
        (void)want;
        /* Packed in one pass (the engine's way), when it fits: the same block. */
        _Alignas(16) unsigned char one[256];
        size_t n1 = event_pack(ev, one, sizeof one);
        if (l < 100) {
            ck_assert_uint_eq(n1, event_stored_size(f));
            ck_assert_int_eq(memcmp(one + EVENT_NODE_ROOM, f, n1 - EVENT_NODE_ROOM), 0);
        } else {
            ck_assert_uint_eq(n1, 0); /* too long for the buffer: two passes */
        }
        ck_assert_uint_eq(event_pack(f, one, sizeof one), 0); /* a stored event: two passes */
        /* A stored copy of a stored event is the same event. */
        cep_event *g = event_freeze(f);
        ck_assert_ptr_nonnull(g);
        ck_assert_uint_eq(event_stored_size(g), event_stored_size(f));
        ck_assert_int_eq(memcmp((char *)g + 24, (char *)f + 24, event_stored_size(f) - EVENT_NODE_ROOM - 24), 0);
        /* Nothing of a builder's may be done to a stored event. */
        ck_assert_int_eq(cep_event_set_int(f, slot[0], 1), CEP_EINVAL);
        ck_assert_int_eq(cep_event_set_tag(f, 1), CEP_EINVAL);
        ck_assert_int_eq(cep_event_set_time(f, 1), CEP_EINVAL);
        ck_assert_int_eq(cep_event_set_raw(f, "x", 1), CEP_EINVAL);
        ck_assert_int_eq(cep_event_parse_json(f, "{}", 2, "ts"), CEP_EINVAL);
        cep_event_clear(f);
        cep_event_free(f); /* not the caller's: nothing happens */
        ck_assert_int_eq(cep_event_value(f, slot[0]).u.i, i);
        mem_free(buf);
        event_release(g);
        event_release(f);
    }
    /* W1's click: node room 32 + header 24 + 4 codes + user_id (4) +
     * "click" (1 + 5 + NUL) + item (small: none) + ts (the time: none). */
    const char *w1 = "pattern w key user_id begin click where type == \"click\" "
                     "followedBy buy where type == \"purchase\" and item == click.item within 10m "
                     "emit waited = buy.ts - click.ts\n";
    cep_program *q = NULL;
    ck_assert_int_eq(cep_compile(NULL, w1, strlen(w1), NULL, &q, NULL), CEP_OK);
    cep_event *c;
    ck_assert_int_eq(cep_event_new(q, &c), CEP_OK);
    ck_assert_uint_eq(q->nfields, 4);
    cep_event_set_time(c, 1700000000123);
    cep_event_set_int(c, cep_program_field_slot(q, "ts"), 1700000000123);
    cep_event_set_int(c, cep_program_field_slot(q, "user_id"), 765432);
    cep_event_set_string(c, cep_program_field_slot(q, "type"), "click", 5);
    cep_event_set_int(c, cep_program_field_slot(q, "item"), 5);
    ck_assert_uint_eq(event_frozen_size(c, NULL), 55);
    /* Its raw text, when it has one, is kept as well: length, text, NUL. */
    const char *j = "{\"ts\":1700000000123,\"user_id\":765432,\"type\":\"click\",\"item\":5}";
    ck_assert_int_eq(cep_event_set_raw(c, j, strlen(j)), CEP_OK);
    ck_assert_uint_eq(event_frozen_size(c, NULL), 55 + 4 + strlen(j) + 1);
    cep_event_free(c);
    cep_program_free(q);
    cep_event_free(ev);
    cep_program_free(p);
}
END_TEST

/* A stored copy holds each string exactly, whatever its length: the short
 * copies (util/bytes.h) load and store in overlapping words. */
START_TEST(stored_strings_every_length) {
    const char *src = "pattern p begin a where s == \"x\" followedBy b where t == \"y\"\n";
    cep_program *p = NULL;
    ck_assert_int_eq(cep_compile(NULL, src, strlen(src), NULL, &p, NULL), CEP_OK);
    cep_event *ev;
    ck_assert_int_eq(cep_event_new(p, &ev), CEP_OK);
    int ss = cep_program_field_slot(p, "s"), st = cep_program_field_slot(p, "t");
    char text[41], other[41];
    for (int i = 0; i < 40; i++) {
        text[i] = (char)('a' + i % 26);
        other[i] = (char)('A' + i % 26);
    }
    for (size_t n = 0; n <= 40; n++) {
        cep_event_clear(ev);
        ck_assert_int_eq(cep_event_set_string(ev, ss, text, n), CEP_OK);
        ck_assert_int_eq(cep_event_set_string(ev, st, other, 40 - n), CEP_OK);
        cep_event *f = event_freeze(ev);
        ck_assert_ptr_nonnull(f);
        cep_value a = cep_event_value(f, ss), b = cep_event_value(f, st);
        ck_assert_uint_eq(a.u.s.len, n);
        ck_assert_uint_eq(b.u.s.len, 40 - n);
        ck_assert_int_eq(memcmp(a.u.s.ptr, text, n), 0);
        ck_assert_int_eq(memcmp(b.u.s.ptr, other, 40 - n), 0);
        ck_assert_int_eq(a.u.s.ptr[n], '\0');
        ck_assert_int_eq(b.u.s.ptr[40 - n], '\0');
        event_release(f);
    }
    /* The helpers themselves, at every length and a differing last byte. */
    for (size_t n = 0; n <= 40; n++) {
        char d[48];
        memset(d, '#', sizeof d);
        copy_bytes(d + 1, text, n);
        ck_assert_int_eq(d[0], '#');
        ck_assert_int_eq(d[n + 1], '#');
        ck_assert_int_eq(memcmp(d + 1, text, n), 0);
        ck_assert(same_bytes(d + 1, text, n));
        if (n) {
            d[n] ^= 1;
            ck_assert(!same_bytes(d + 1, text, n));
        }
    }
    cep_event_free(ev);
    cep_program_free(p);
}
END_TEST

static int one_fn(void *ud, int argc, const cep_value *argv, cep_value *out) {
    (void)ud, (void)argc, (void)argv;
    out->type = CEP_INT;
    out->u.i = 1;
    return CEP_OK;
}

/* A program keeps one copy of equal subtrees (compile.c packs them):
 * patterns that test the same condition share its node, and the
 * scaffolding the compiler built is gone. A user function's nodes are
 * never shared: it may count its calls. */
START_TEST(packed_nodes_shared) {
    static const char src[] =
        "pattern p key k begin a where t == \"x\" and n >= 5 followedBy b where t == \"y\" and n > a.n within 1m\n"
        "pattern q key k begin a where t == \"x\" and n >= 5 followedBy b where t == \"y\" and n > a.n within 1m\n"
        "pattern r key k begin a where t == \"x\" and n >= 6 followedBy b where f(n) == 1\n"
        "pattern s key k begin a where t == \"x\" and n >= 6 followedBy b where f(n) == 1\n";
    cep_compiler *c = NULL;
    ck_assert_int_eq(cep_compiler_new(&c), CEP_OK);
    ck_assert_int_eq(cep_compiler_add_function(c, "f", 1, one_fn, NULL), CEP_OK);
    cep_program *prog = NULL;
    ck_assert_int_eq(cep_compile(c, src, sizeof src - 1, NULL, &prog, NULL), CEP_OK);
    const nfa_pattern *p = &prog->patterns[0], *q = &prog->patterns[1], *r = &prog->patterns[2],
                      *s = &prog->patterns[3];
    ck_assert_uint_eq(p->nedges, q->nedges);
    for (uint32_t i = 0; i < p->nedges; i++) ck_assert_ptr_eq(p->edges[i].cond, q->edges[i].cond);
    const expr *and = p->states[p->start].gate; /* the whole condition reads only the event */
    ck_assert_ptr_nonnull(and);
    ck_assert_ptr_eq(and, q->states[q->start].gate);
    ck_assert_int_eq(and->kind, XK_BINARY);
    const expr *g = and->a;
    ck_assert_int_eq(g->kind, XK_SLOT_CMP);
    ck_assert_int_eq(g->k.type, CEP_STRING);
    ck_assert_uint_eq(g->k.u.s.len, 1);
    ck_assert_int_eq(g->k.u.s.ptr[0], 'x');
    ck_assert_int_eq(g->k.u.s.ptr[1], '\0');
    /* `t == "x"` is one node in all four patterns; `n >= 6` in r and s. */
    const nfa_edge *ra = &r->edges[r->states[r->start].first_edge], *sa = &s->edges[s->states[s->start].first_edge];
    const expr *rs = ra->cond, *ss = sa->cond;
    ck_assert_ptr_eq(rs, ss);
    ck_assert_ptr_ne(rs, and);
    ck_assert_int_eq(rs->kind, XK_BINARY);
    ck_assert_ptr_eq(rs->a, g);
    /* b's `f(n) == 1`: equal text, two nodes. */
    const nfa_state *rb = &r->states[ra->target], *sb = &s->states[sa->target];
    ck_assert_ptr_nonnull(r->edges[rb->first_edge].cond);
    ck_assert_ptr_ne(r->edges[rb->first_edge].cond, s->edges[sb->first_edge].cond);
    /* The block holds nodes, argument arrays and strings, and nothing else:
     * every node a pattern reaches lies in it. */
    const char *lo = (const char *)prog->exprs;
    ck_assert_ptr_nonnull(lo);
    ck_assert((const char *)g >= lo && (const char *)rs >= lo);
    cep_program_free(prog);
    cep_compiler_free(c);
}
END_TEST

Suite *expr_suite(void) {
    Suite *s = suite_create("expr");
    TCase *tc = tcase_create("expr");
    tcase_add_test(tc, comparisons);
    tcase_add_test(tc, stored_strings_every_length);
    tcase_add_test(tc, null_rules);
    tcase_add_test(tc, two_valued_logic);
    tcase_add_test(tc, arithmetic);
    tcase_add_test(tc, regex_in_functions);
    tcase_add_test(tc, value_helpers);
    tcase_add_test(tc, references_and_aggregates);
    tcase_add_test(tc, packed_nodes_shared);
    tcase_add_test(tc, stored_values_every_code);
    suite_add_tcase(s, tc);
    return s;
}
