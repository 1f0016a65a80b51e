/* test_parser.c — the grammar (dsl/parser.y) through ast_parse + ast_dump:
 * connectors, quantifiers, modifiers, groups, skip, emit, expression
 * precedence, spans, error recovery across patterns, and the rendering of
 * diagnostics (dsl/diag.c). */
#include "config.h"
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "mem.h"
#include "suites.h"

/* Parse len bytes of src as "t.cep": the AST dump when it is clean, else
 * the rendered errors (shared with test_lexer.c through suites.h). */
static char out[16384];
const char *parse_text(const char *src, size_t len) {
    cep_diag *d = diag_new("t.cep", src, len);
    ck_assert_ptr_nonnull(d);
    ast_pattern *p = NULL;
    int rc = ast_parse(src, len, d, &p);
    ck_assert_int_eq(diag_finish(d), 0);
    ck_assert_int_eq(rc == 0, cep_diag_count(d) == 0);
    if (rc == 0) {
        char *s = ast_dump(p);
        ck_assert_ptr_nonnull(s);
        snprintf(out, sizeof out, "%s", s);
        mem_free(s);
    } else {
        snprintf(out, sizeof out, "%s", cep_diag_render(d));
    }
    ast_pattern_free(p);
    cep_diag_free(d);
    return out;
}

static const char *parse(const char *src) { return parse_text(src, strlen(src)); }

/* Parse a text that must be clean and hand back the tree. */
static ast_pattern *tree(const char *src) {
    ast_pattern *p = NULL;
    ck_assert_int_eq(ast_parse(src, strlen(src), NULL, &p), 0);
    ck_assert_ptr_nonnull(p);
    return p;
}

#define WHERE(cond) "pattern p begin a where " cond
#define DUMP_WHERE(e) "(pattern p (begin a (where " e ")))"

/* ---- structure ------------------------------------------------------------ */

START_TEST(connectors) {
    ck_assert_str_eq(parse("pattern p begin a next b followedBy c followedByAny d "
                           "notNext e notFollowedBy f"),
                     "(pattern p (begin a) (next b) (followedBy c) (followedByAny d) "
                     "(notNext e) (notFollowedBy f))");
}
END_TEST

START_TEST(connector_after_begin) {
    /* Accepted here so that the checker can explain why it is wrong. */
    ck_assert_str_eq(parse("pattern p begin notFollowedBy a next b"),
                     "(pattern p (notFollowedBy a) (next b))");
    ast_pattern *p = tree("pattern p begin notNext x");
    ck_assert_int_eq(p->steps->conn, CONN_NOT_NEXT);
    ck_assert_uint_eq(p->steps->conn_sp.start, 16);
    ck_assert_uint_eq(p->steps->conn_sp.end, 23);
    ast_pattern_free(p);
    p = tree("pattern p begin a followedBy b");
    ck_assert_int_eq(p->steps->conn, CONN_BEGIN);
    ck_assert_uint_eq(p->steps->conn_sp.end, 0);
    ck_assert_int_eq(p->steps->next->conn, CONN_FOLLOWED_BY);
    ck_assert_uint_eq(p->steps->next->conn_sp.start, 18);
    ck_assert_uint_eq(p->steps->next->conn_sp.end, 28);
    ast_pattern_free(p);
}
END_TEST

START_TEST(quantifiers) {
    ck_assert_str_eq(parse("pattern p begin a? next b+ next c* next d{3} next e{2,} "
                           "next f{1,5} next g{0,0}"),
                     "(pattern p (begin a ?) (next b +) (next c *) (next d {3}) "
                     "(next e {2,}) (next f {1,5}) (next g {0,0}))");
    ast_pattern *p = tree("pattern p begin a? next b { 2 , 7 } next c");
    const ast_step *s = p->steps;
    ck_assert_int_eq(s->quant.kind, Q_OPTIONAL);
    ck_assert_int_eq(s->quant.min, 0);
    ck_assert_int_eq(s->quant.max, 1);
    ck_assert_uint_eq(s->quant.sp.start, 17);
    ck_assert_uint_eq(s->quant.sp.end, 18);
    s = s->next;
    ck_assert_int_eq(s->quant.kind, Q_RANGE);
    ck_assert_int_eq(s->quant.min, 2);
    ck_assert_int_eq(s->quant.max, 7);
    ck_assert_uint_eq(s->quant.sp.start, 26);
    ck_assert_uint_eq(s->quant.sp.end, 35);
    ck_assert_uint_eq(s->sp.start, 24);
    ck_assert_uint_eq(s->sp.end, 35);
    s = s->next;
    ck_assert_int_eq(s->quant.kind, Q_ONE);
    ck_assert_int_eq(s->quant.min, 1);
    ck_assert_int_eq(s->quant.max, 1);
    ast_pattern_free(p);
    p = tree("pattern p begin a+ next b* next c{4} next d{4,}");
    ck_assert_int_eq(p->steps->quant.max, -1);
    ck_assert_int_eq(p->steps->next->quant.min, 0);
    ck_assert_int_eq(p->steps->next->quant.max, -1);
    ck_assert_int_eq(p->steps->next->next->quant.min, 4);
    ck_assert_int_eq(p->steps->next->next->quant.max, 4);
    ck_assert_int_eq(p->steps->next->next->next->quant.kind, Q_AT_LEAST);
    ck_assert_int_eq(p->steps->next->next->next->quant.max, -1);
    ast_pattern_free(p);
}
END_TEST

START_TEST(modifiers) {
    /* Any order, kept in source order; `where` comes before them. */
    ck_assert_str_eq(parse("pattern p begin a* where x consecutive until y == 1 "
                           "until z greedy allowCombinations"),
                     "(pattern p (begin a * (where x) consecutive (until (== y 1)) "
                     "(until z) greedy allowCombinations))");
    ck_assert_str_eq(parse("pattern p begin a+ until x > 1 greedy followedBy b"),
                     "(pattern p (begin a + (until (> x 1)) greedy) (followedBy b))");
    ast_pattern *p = tree("pattern p begin a+ greedy until x");
    ck_assert_int_eq(p->steps->mods->kind, MOD_GREEDY);
    ck_assert_uint_eq(p->steps->mods->sp.start, 19);
    ck_assert_uint_eq(p->steps->mods->sp.end, 25);
    ck_assert_int_eq(p->steps->mods->next->kind, MOD_UNTIL);
    ck_assert_ptr_nonnull(p->steps->mods->next->cond);
    ast_pattern_free(p);
}
END_TEST

START_TEST(groups) {
    ck_assert_str_eq(parse("pattern p begin (a next (b followedBy c)+ greedy) {2,3} "
                           "consecutive followedBy (d)"),
                     "(pattern p (begin (group (begin a) (next (group (begin b) "
                     "(followedBy c)) + greedy)) {2,3} consecutive) (followedBy "
                     "(group (begin d))))");
    ast_pattern *p = tree("pattern p begin x followedBy (a next b)?");
    const ast_step *g = p->steps->next;
    ck_assert_int_eq(g->is_group, 1);
    ck_assert_ptr_null(g->name);
    ck_assert_int_eq(g->conn, CONN_FOLLOWED_BY);
    ck_assert_int_eq(g->body->conn, CONN_BEGIN);
    ck_assert_int_eq(g->body->next->conn, CONN_NEXT);
    ck_assert_uint_eq(g->sp.start, 29);
    ck_assert_uint_eq(g->sp.end, 40);
    ast_pattern_free(p);
}
END_TEST

START_TEST(within_skip_emit) {
    ck_assert_str_eq(parse("pattern p1 begin a skip noSkip\n"
                           "pattern p2 begin a skip toNext\n"
                           "pattern p3 begin a skip pastLastEvent\n"
                           "pattern p4 begin a skip toFirst a\n"
                           "pattern p5 begin a skip toLast a"),
                     "(pattern p1 (begin a) (skip noSkip))\n"
                     "(pattern p2 (begin a) (skip toNext))\n"
                     "(pattern p3 (begin a) (skip pastLastEvent))\n"
                     "(pattern p4 (begin a) (skip toFirst a))\n"
                     "(pattern p5 (begin a) (skip toLast a))");
    ck_assert_str_eq(parse("pattern p begin a within 1h skip toLast a emit n = count(a), "
                           "s = a.x + 1, t = a[0].x, u = a[-2].x, v = len(a.s), w = now()"),
                     "(pattern p (begin a) (within 3600000) (skip toLast a) (emit "
                     "(n (count a)) (s (+ a.x 1)) (t a[0].x) (u a[-2].x) (v (call len "
                     "a.s)) (w (call now))))");
    ast_pattern *p = tree("pattern p begin a within 2s skip toFirst a emit x = 1");
    ck_assert_int_eq(p->has_within, 1);
    ck_assert_int_eq(p->within_ms, 2000);
    ck_assert_int_eq(p->has_skip, 1);
    ck_assert_int_eq(p->skip, SKIP_TO_FIRST);
    ck_assert_uint_eq(p->skip_sp.start, 33);
    ck_assert_str_eq(p->skip_step, "a");
    ck_assert_uint_eq(p->skip_step_sp.start, 41);
    ck_assert_str_eq(p->emits->name, "x");
    ck_assert_uint_eq(p->emits->name_sp.start, 48);
    ast_pattern_free(p);
    p = tree("pattern p begin a");
    ck_assert_int_eq(p->has_within, 0);
    ck_assert_int_eq(p->has_skip, 0);
    ck_assert_int_eq(p->skip, SKIP_NO_SKIP);
    ck_assert_ptr_null(p->keys);
    ck_assert_ptr_null(p->emits);
    ast_pattern_free(p);
}
END_TEST

START_TEST(several_patterns) {
    ck_assert_str_eq(parse("pattern a key u, v begin x\n\n"
                           "# second\npattern b begin y next z\npattern c begin w"),
                     "(pattern a (key u v) (begin x))\n"
                     "(pattern b (begin y) (next z))\n"
                     "(pattern c (begin w))");
}
END_TEST

/* ---- expressions ----------------------------------------------------------- */

START_TEST(precedence) {
    ck_assert_str_eq(parse(WHERE("a or b and not c == 1 + 2 * -3")),
                     DUMP_WHERE("(or a (and b (not (== c (+ 1 (* 2 -3))))))"));
    ck_assert_str_eq(parse(WHERE("not a and b or -(c + d) * (e - f) > -g")),
                     DUMP_WHERE("(or (and (not a) b) (> (* (neg (+ c d)) (- e f)) "
                                "(neg g)))"));
    ck_assert_str_eq(parse(WHERE("1 - 2 - 3 == 4 / 2 / 2 and 7 % 4 * 2 < 10")),
                     DUMP_WHERE("(and (== (- (- 1 2) 3) (/ (/ 4 2) 2)) (< (* (% 7 4) "
                                "2) 10))"));
    ck_assert_str_eq(parse(WHERE("a or b or c and d and e")),
                     DUMP_WHERE("(or (or a b) (and (and c d) e))"));
    ck_assert_str_eq(parse(WHERE("x + 1 in (1, 2) or s !~ /a/ and t =~ /b/i")),
                     DUMP_WHERE("(or (in (+ x 1) 1 2) (and (!~ s /a/) (=~ t /b/i)))"));
}
END_TEST

START_TEST(unary_minus) {
    ck_assert_str_eq(parse(WHERE("- - 1 == --x and -(9223372036854775808) < -1.5")),
                     DUMP_WHERE("(and (== 1 (neg (neg x))) (< -9223372036854775808 "
                                "-1.5))"));
    ast_pattern *p = tree(WHERE("-9223372036854775808 == x"));
    const ast_expr *lit = p->steps->where->a;
    ck_assert_int_eq(lit->kind, EX_INT);
    ck_assert_int_eq(lit->ival, INT64_MIN);
    ck_assert_uint_eq(lit->sp.start, 24);
    ck_assert_uint_eq(lit->sp.end, 44);
    ast_pattern_free(p);
}
END_TEST

START_TEST(references_calls_aggregates) {
    ck_assert_str_eq(parse(WHERE("count(a) + sum(a.x) + avg(a.x) + min(a.x) + max(a.x) "
                                 "+ f(a.x, 1, \"s\") > 0 and x in (1) and "
                                 "contains(s, \"t\")")),
                     DUMP_WHERE("(and (and (> (+ (+ (+ (+ (+ (count a) (sum a.x)) "
                                "(avg a.x)) (min a.x)) (max a.x)) (call f a.x 1 \"s\")) "
                                "0) (in x 1)) (call contains s \"t\"))"));
    ast_pattern *p = tree(WHERE("count(b) > b[-1].v and sum(b.v) > 0 and g(1, 2)"));
    const ast_expr *e = p->steps->where;     /* (and (and CMP1 CMP2) CALL) */
    const ast_expr *cnt = e->a->a->a;
    ck_assert_int_eq(cnt->kind, EX_AGG);
    ck_assert_int_eq(cnt->op, AGG_COUNT);
    ck_assert_str_eq(cnt->step, "b");
    ck_assert_ptr_null(cnt->name);
    ck_assert_uint_eq(cnt->step_sp.start, 30);
    const ast_expr *ref = e->a->a->b;
    ck_assert_int_eq(ref->kind, EX_STEPREF);
    ck_assert_int_eq(ref->has_index, 1);
    ck_assert_int_eq(ref->index, -1);
    ck_assert_str_eq(ref->step, "b");
    ck_assert_str_eq(ref->name, "v");
    ck_assert_uint_eq(ref->name_sp.start, 41);
    const ast_expr *sum = e->a->b->a;
    ck_assert_int_eq(sum->op, AGG_SUM);
    ck_assert_str_eq(sum->step, "b");
    ck_assert_str_eq(sum->name, "v");
    const ast_expr *call = e->b;
    ck_assert_int_eq(call->kind, EX_CALL);
    ck_assert_int_eq(call->nargs, 2);
    ck_assert_str_eq(call->name, "g");
    ast_pattern_free(p);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

START_TEST(err_two_patterns) {
    /* One error per pattern, both reported, the third pattern read. */
    ck_assert_str_eq(parse("pattern p begin a where x == 1 followedBy b where\n"
                           "pattern q key k1 k2 begin b\n"
                           "pattern r begin c"),
                     "t.cep:2:1: error: syntax error, unexpected 'pattern', expecting an expression\n"
                     "pattern q key k1 k2 begin b\n"
                     "^\n"
                     "t.cep:2:18: error: syntax error, unexpected name 'k2', expecting "
                     "'begin' or ',' or '.'; key fields are separated by commas: 'key k1, k2'\n"
                     "pattern q key k1 k2 begin b\n"
                     "                 ^\n");
    ck_assert_str_eq(parse("pattern p begin a where x == ) followedBy b\n"
                           "\n"
                           "pattern q\n"
                           "  begin a followedBy\n"
                           "  within 5s"),
                     "t.cep:1:30: error: syntax error, unexpected ')', expecting an expression\n"
                     "pattern p begin a where x == ) followedBy b\n"
                     "                             ^\n"
                     /* `followedBy within 5s` is a gap: the step is missing */
                     "t.cep:5:12: error: syntax error, unexpected end of file, "
                     "expecting name or '('\n"
                     "  within 5s\n"
                     "           ^\n");
}
END_TEST

START_TEST(err_two_patterns_accessors) {
    const char *src = "pattern p begin a b\npattern q begin\n";
    cep_diag *d = diag_new(NULL, src, strlen(src));
    ast_pattern *p = NULL;
    ck_assert_int_eq(ast_parse(src, strlen(src), d, &p), -1);
    ck_assert_int_eq(diag_finish(d), 0);
    ck_assert_uint_eq(cep_diag_count(d), 2);
    ck_assert_int_eq(cep_diag_code(d, 0), CEP_DIAG_SYNTAX);
    ck_assert_uint_eq(cep_diag_offset(d, 0), 18);
    ck_assert_int_eq(cep_diag_line(d, 0), 1);
    ck_assert_int_eq(cep_diag_column(d, 0), 19);
    ck_assert_str_eq(cep_diag_message(d, 0), "syntax error, unexpected name 'b'; a step comes after a connector "
                                             "(next, followedBy, followedByAny, notNext, notFollowedBy): 'followedBy b'");
    /* At the end of input after a newline: the end of the last line. */
    ck_assert_uint_eq(cep_diag_offset(d, 1), strlen(src));
    ck_assert_int_eq(cep_diag_line(d, 1), 2);
    ck_assert_int_eq(cep_diag_column(d, 1), 16);
    /* (A connector may follow `begin` too: too many to list.) */
    ck_assert_str_eq(cep_diag_message(d, 1), "syntax error, unexpected end of file");
    ck_assert_str_eq(cep_diag_render(d),
                     "<string>:1:19: error: syntax error, unexpected name 'b'; a step comes after a connector "
                     "(next, followedBy, followedByAny, notNext, notFollowedBy): 'followedBy b'\n"
                     "pattern p begin a b\n"
                     "                  ^\n"
                     "<string>:2:16: error: syntax error, unexpected end of file\n"
                     "pattern q begin\n"
                     "               ^\n");
    ast_pattern_free(p);
    cep_diag_free(d);
}
END_TEST

START_TEST(err_messages) {
    ck_assert_str_eq(parse(""),
                     "t.cep:1:1: error: syntax error, unexpected end of file, "
                     "expecting 'pattern'\n\n^\n");
    ck_assert_str_eq(parse("pattern begin a"),
                     "t.cep:1:9: error: syntax error, unexpected 'begin', expecting name\n"
                     "pattern begin a\n"
                     "        ^\n");
    ck_assert_str_eq(parse("pattern p begin a skip toFirst"),
                     "t.cep:1:31: error: syntax error, unexpected end of file, "
                     "expecting name\n"
                     "pattern p begin a skip toFirst\n"
                     "                              ^\n");
    ck_assert_str_eq(parse("pattern p begin a{,3}"),
                     "t.cep:1:19: error: syntax error, unexpected ',', expecting integer; a quantifier's "
                     "lower bound cannot be left out: '{0,3}' for none to 3, '{1,3}' for 1 to 3\n"
                     "pattern p begin a{,3}\n"
                     "                  ^\n");
    /* Comparisons do not chain. */
    ck_assert_str_eq(parse(WHERE("a == b == c")),
                     "t.cep:1:32: error: syntax error, unexpected '=='\n"
                     "pattern p begin a where a == b == c\n"
                     "                               ^\n");
    /* A tab stays a tab in the caret line so the caret lines up. */
    ck_assert_str_eq(parse("pattern p\tbegin\t()"),
                     "t.cep:1:18: error: syntax error, unexpected ')', expecting "
                     "name or '('\n"
                     "pattern p\tbegin\t()\n"
                     "         \t     \t ^\n");
}
END_TEST

START_TEST(err_aggregates) {
    ck_assert_str_eq(parse(WHERE("count(a.x) > 1 or sum(a) > 1 or max(a.x, b.x) > 1")),
                     "t.cep:1:31: error: count takes a step name: count(step); did you mean 'count(a)'?\n"
                     "pattern p begin a where count(a.x) > 1 or sum(a) > 1 or max(a.x, b.x) > 1\n"
                     "                              ^\n"
                     "t.cep:1:47: error: sum takes a step field: sum(step.field), e.g. sum(STEP.a), or "
                     "sum(a.FIELD) if a is a step\n"
                     "pattern p begin a where count(a.x) > 1 or sum(a) > 1 or max(a.x, b.x) > 1\n"
                     "                                              ^\n"
                     "t.cep:1:61: error: max takes a step field: max(step.field)\n"
                     "pattern p begin a where count(a.x) > 1 or sum(a) > 1 or max(a.x, b.x) > 1\n"
                     "                                                            ^\n");
}
END_TEST

START_TEST(err_nesting) {
    char src[8192];
    size_t n = (size_t)snprintf(src, sizeof src, "pattern p begin a where ");
    for (int i = 0; i < 1500; i++) n += (size_t)snprintf(src + n, sizeof src - n, "not ");
    snprintf(src + n, sizeof src - n, "x");
    cep_diag *d = diag_new(NULL, src, strlen(src));
    ast_pattern *p = NULL;
    ck_assert_int_eq(ast_parse(src, strlen(src), d, &p), -1);
    ck_assert_int_eq(diag_oom(d), 0);
    ck_assert_uint_eq(cep_diag_count(d), 1);
    ck_assert_int_eq(cep_diag_code(d, 0), CEP_DIAG_LIMIT);
    ck_assert_str_eq(cep_diag_message(d, 0), "nesting too deep");
    ast_pattern_free(p);
    cep_diag_free(d);
    /* Moderate nesting is fine. */
    n = (size_t)snprintf(src, sizeof src, "pattern p begin a where ");
    for (int i = 0; i < 200; i++) n += (size_t)snprintf(src + n, sizeof src - n, "(");
    n += (size_t)snprintf(src + n, sizeof src - n, "x");
    for (int i = 0; i < 200; i++) n += (size_t)snprintf(src + n, sizeof src - n, ")");
    ck_assert_str_eq(parse(src), DUMP_WHERE("x"));
}
END_TEST

/* ---- diagnostics list ---------------------------------------------------------- */

START_TEST(diag_api) {
    const char *src = "ab\n\t\xc3\xa9x\r\nlast";
    cep_diag *d = diag_new("f.cep", src, strlen(src));
    /* Added out of order: listed and rendered by offset, stable. */
    ck_assert_int_eq(diag_add(d, CEP_DIAG_TYPE, 7, "second %d", 2), 0);
    ck_assert_int_eq(diag_add(d, CEP_DIAG_NAME, 1, "first"), 0);
    ck_assert_int_eq(diag_add(d, CEP_DIAG_TYPE, 7, "third"), 0);
    ck_assert_int_eq(diag_add(d, CEP_DIAG_LIMIT, 999, "at the end"), 0);
    ck_assert_int_eq(diag_finish(d), 0);
    ck_assert_uint_eq(cep_diag_count(d), 4);
    ck_assert_str_eq(cep_diag_message(d, 0), "first");
    ck_assert_int_eq(cep_diag_code(d, 0), CEP_DIAG_NAME);
    ck_assert_int_eq(cep_diag_line(d, 0), 1);
    ck_assert_int_eq(cep_diag_column(d, 0), 2);
    ck_assert_str_eq(cep_diag_message(d, 1), "second 2");
    ck_assert_int_eq(cep_diag_line(d, 1), 2);
    ck_assert_int_eq(cep_diag_column(d, 1), 4); /* tab, é, then x */
    ck_assert_str_eq(cep_diag_message(d, 2), "third");
    ck_assert_uint_eq(cep_diag_offset(d, 3), strlen(src)); /* clamped */
    ck_assert_int_eq(cep_diag_line(d, 3), 3);
    ck_assert_int_eq(cep_diag_column(d, 3), 5);
    ck_assert_str_eq(cep_diag_render(d),
                     "f.cep:1:2: error: first\n"
                     "ab\n"
                     " ^\n"
                     "f.cep:2:4: error: second 2\n"
                     "\t\xc3\xa9x\n"
                     "\t  ^\n"
                     "f.cep:2:4: error: third\n"
                     "\t\xc3\xa9x\n"
                     "\t  ^\n"
                     "f.cep:3:5: error: at the end\n"
                     "last\n"
                     "    ^\n");
    /* Out of range: zeros and "". */
    ck_assert_int_eq(cep_diag_code(d, 4), 0);
    ck_assert_uint_eq(cep_diag_offset(d, 4), 0);
    ck_assert_int_eq(cep_diag_line(d, 4), 0);
    ck_assert_int_eq(cep_diag_column(d, 4), 0);
    ck_assert_str_eq(cep_diag_message(d, 4), "");
    cep_diag_free(d);

    /* A clean list renders as "", a NULL list is empty. */
    d = diag_new(NULL, "x", 1);
    ck_assert_int_eq(diag_finish(d), 0);
    ck_assert_str_eq(cep_diag_render(d), "");
    ck_assert_int_eq(diag_oom(d), 0);
    cep_diag_free(d);
    ck_assert_uint_eq(cep_diag_count(NULL), 0);
    ck_assert_str_eq(cep_diag_message(NULL, 0), "");
    ck_assert_str_eq(cep_diag_render(NULL), "");
    cep_diag_free(NULL);
}
END_TEST

START_TEST(ast_free_null) {
    ast_expr_free(NULL);
    ast_mod_free(NULL);
    ast_step_free(NULL);
    ast_name_free(NULL);
    ast_emit_free(NULL);
    ast_pattern_free(NULL);
    char *s = ast_dump(NULL);
    ck_assert_str_eq(s, "");
    mem_free(s);
}
END_TEST

Suite *parser_suite(void) {
    Suite *s = suite_create("parser");
    TCase *tc = tcase_create("structure");
    tcase_add_test(tc, connectors);
    tcase_add_test(tc, connector_after_begin);
    tcase_add_test(tc, quantifiers);
    tcase_add_test(tc, modifiers);
    tcase_add_test(tc, groups);
    tcase_add_test(tc, within_skip_emit);
    tcase_add_test(tc, several_patterns);
    suite_add_tcase(s, tc);
    tc = tcase_create("expressions");
    tcase_add_test(tc, precedence);
    tcase_add_test(tc, unary_minus);
    tcase_add_test(tc, references_calls_aggregates);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, err_two_patterns);
    tcase_add_test(tc, err_two_patterns_accessors);
    tcase_add_test(tc, err_messages);
    tcase_add_test(tc, err_aggregates);
    tcase_add_test(tc, err_nesting);
    suite_add_tcase(s, tc);
    tc = tcase_create("diagnostics");
    tcase_add_test(tc, diag_api);
    tcase_add_test(tc, ast_free_null);
    suite_add_tcase(s, tc);
    return s;
}
