/* test_lexer.c — the scanner (dsl/lexer.l) seen through ast_parse: every
 * kind of token, escapes, durations, comments, regex literals, spans, and
 * the exact text of every lexical error. */
#include "config.h"
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "mem.h"
#include "suites.h"

static const char *parse(const char *src) { return parse_text(src, strlen(src)); }

#define WHERE(cond) "pattern p begin a where " cond
#define DUMP_WHERE(e) "(pattern p (begin a (where " e ")))"

START_TEST(keywords_and_names) {
    ck_assert_str_eq(parse("pattern p key k1, _K2 begin a where x1 == true "
                           "and y != false or z == null"),
                     "(pattern p (key k1 _K2) (begin a (where (or (and (== x1 "
                     "true) (!= y false)) (== z null)))))");
    /* A keyword glued to more letters is a name. */
    ck_assert_str_eq(parse(WHERE("patterns == nullx or within_ == 1")),
                     DUMP_WHERE("(or (== patterns nullx) (== within_ 1))"));
    /* Keywords are case-sensitive. */
    ck_assert_str_eq(parse(WHERE("Pattern == NULL")),
                     DUMP_WHERE("(== Pattern NULL)"));
}
END_TEST

START_TEST(integers) {
    ck_assert_str_eq(
        parse(WHERE("x in (0, 42, 9223372036854775807, -9223372036854775808, 007)")),
        DUMP_WHERE("(in x 0 42 9223372036854775807 -9223372036854775808 7)"));
}
END_TEST

START_TEST(decimals) {
    ck_assert_str_eq(parse(WHERE("x in (1.5, 1e3, 2.5e-3, 1E+2, 0.1, 12.25e1, -0.5)")),
                     DUMP_WHERE("(in x 1.5 1000.0 0.0025 100.0 0.1 122.5 -0.5)"));
}
END_TEST

START_TEST(durations) {
    ck_assert_str_eq(parse(WHERE("x in (250ms, 10s, 5m, 2h, 1d, 0ms)")
                           " within 9223372036854775807ms"),
                     "(pattern p (begin a (where (in x 250 10000 300000 7200000 "
                     "86400000 0))) (within 9223372036854775807))");
    ck_assert_str_eq(parse("pattern p begin a within 106751991167d"),
                     "(pattern p (begin a) (within 9223372036828800000))");
}
END_TEST

START_TEST(string_escapes) {
    ck_assert_str_eq(
        parse(WHERE("s == \"q\\\"b\\\\s\\nn\\tt\\rr\\/s\\u00e9\\ud83d\\ude00\\u0000#\"")),
        DUMP_WHERE("(== s \"q\\\"b\\\\s\\nn\\tt\\rr/s\xc3\xa9\xf0\x9f\x98\x80\\x00#\")"));
    ck_assert_str_eq(parse(WHERE("s == \"\" and t == \"\\u20AC\\b\\f\"")),
                     DUMP_WHERE("(and (== s \"\") (== t \"\xe2\x82\xac\\x08\\x0c\"))"));
}
END_TEST

START_TEST(string_decoded_bytes) {
    /* The decoded value keeps NUL bytes and records its length. */
    const char *src = WHERE("s == \"a\\u0000b\"");
    ast_pattern *p = NULL;
    ck_assert_int_eq(ast_parse(src, strlen(src), NULL, &p), 0);
    const ast_expr *lit = p->steps->where->b;
    ck_assert_int_eq(lit->kind, EX_STRING);
    ck_assert_uint_eq(lit->slen, 3);
    ck_assert_mem_eq(lit->str, "a\0b", 3);
    ast_pattern_free(p);
}
END_TEST

START_TEST(comments) {
    ck_assert_str_eq(parse("# head\npattern p # after name\nbegin a # after step\n"
                           "where x == \"#no\" # trailing, no newline"),
                     DUMP_WHERE("(== x \"#no\")"));
    ck_assert_str_eq(parse("#only a comment\npattern p begin a#\n#"),
                     "(pattern p (begin a))");
}
END_TEST

START_TEST(operators) {
    ck_assert_str_eq(parse(WHERE("a == 1 and b != 2 and c < 3 and d <= 4 and e > 5 "
                                 "and f >= 6 and g == 1 + 2 - 3 * 4 / 5 % 6")),
                     DUMP_WHERE("(and (and (and (and (and (and (== a 1) (!= b 2)) "
                                "(< c 3)) (<= d 4)) (> e 5)) (>= f 6)) (== g (- (+ 1 "
                                "2) (% (/ (* 3 4) 5) 6))))"));
    /* No spaces needed around operators. */
    ck_assert_str_eq(parse(WHERE("a<=b+-1")), DUMP_WHERE("(<= a (+ b -1))"));
}
END_TEST

START_TEST(regex_literals) {
    ck_assert_str_eq(parse(WHERE("s =~ /a\\/b[0-9]+/ix and t!~/x/ and u =~\n"
                                 "  /(?i)q/ and v =~ //")),
                     DUMP_WHERE("(and (and (and (=~ s /a\\/b[0-9]+/ix) (!~ t /x/)) "
                                "(=~ u /(?i)q/)) (=~ v //))"));
    /* Inside a regex, # and quotes are plain characters. */
    ck_assert_str_eq(parse(WHERE("s =~ /#\"x/")), DUMP_WHERE("(=~ s /#\"x/)"));
}
END_TEST

START_TEST(regex_spans) {
    /* The regex text keeps \/ so PCRE2's offsets map onto the source. */
    const char *src = "pattern p begin a where s =~ /a\\/b/im";
    ast_pattern *p = NULL;
    ck_assert_int_eq(ast_parse(src, strlen(src), NULL, &p), 0);
    const ast_expr *m = p->steps->where;
    ck_assert_int_eq(m->kind, EX_MATCH);
    ck_assert_int_eq(m->op, OP_MATCH);
    ck_assert_str_eq(m->regex, "a\\/b");
    ck_assert_str_eq(m->flags, "im");
    ck_assert_uint_eq(m->regex_sp.start, 30);
    ck_assert_uint_eq(m->regex_sp.end, 34);
    ck_assert_mem_eq(src + m->regex_sp.start, "a\\/b", 4);
    ck_assert_uint_eq(m->flags_sp.start, 35);
    ck_assert_uint_eq(m->flags_sp.end, 37);
    ck_assert_uint_eq(m->sp.start, 24);
    ck_assert_uint_eq(m->sp.end, 37);
    ast_pattern_free(p);
}
END_TEST

START_TEST(token_spans) {
    const char *src = "pattern  p\n  begin abc where x == \"s\" within 10m";
    ast_pattern *p = NULL;
    ck_assert_int_eq(ast_parse(src, strlen(src), NULL, &p), 0);
    ck_assert_uint_eq(p->name_sp.start, 9);
    ck_assert_uint_eq(p->name_sp.end, 10);
    ck_assert_uint_eq(p->steps->name_sp.start, 19);
    ck_assert_uint_eq(p->steps->name_sp.end, 22);
    const ast_expr *w = p->steps->where;
    ck_assert_uint_eq(w->a->sp.start, 29);
    ck_assert_uint_eq(w->a->sp.end, 30);
    ck_assert_uint_eq(w->b->sp.start, 34);
    ck_assert_uint_eq(w->b->sp.end, 37);
    ck_assert_uint_eq(p->within_sp.start, 45);
    ck_assert_uint_eq(p->within_sp.end, 48);
    ck_assert_uint_eq(p->sp.start, 0);
    ck_assert_uint_eq(p->sp.end, 48);
    ast_pattern_free(p);
}
END_TEST

/* ---- lexical errors ----------------------------------------------------- */

START_TEST(err_unterminated_string) {
    ck_assert_str_eq(parse("pattern p begin a where x == \"abc\npattern q begin b"),
                     "t.cep:1:30: error: unterminated string\n"
                     "pattern p begin a where x == \"abc\n"
                     "                             ^\n");
    /* An escaped quote does not close it; nor does the end of input. */
    ck_assert_str_eq(parse("pattern p begin a where x == \"ab\\\""),
                     "t.cep:1:30: error: unterminated string\n"
                     "pattern p begin a where x == \"ab\\\"\n"
                     "                             ^\n");
}
END_TEST

START_TEST(err_unterminated_regex) {
    ck_assert_str_eq(parse("pattern p begin a where x =~ /ab\\/c\npattern q begin b"),
                     "t.cep:1:30: error: unterminated regex\n"
                     "pattern p begin a where x =~ /ab\\/c\n"
                     "                             ^\n");
}
END_TEST

START_TEST(err_integer_overflow) {
    ck_assert_str_eq(parse(WHERE("x == 99999999999999999999")),
                     "t.cep:1:30: error: integer literal out of range\n"
                     "pattern p begin a where x == 99999999999999999999\n"
                     "                             ^\n");
    /* 2^63 fits only negated. */
    ck_assert_str_eq(parse(WHERE("x == 9223372036854775808")),
                     "t.cep:1:30: error: integer literal out of range\n"
                     "pattern p begin a where x == 9223372036854775808\n"
                     "                             ^\n");
    ck_assert_str_eq(parse("pattern p begin a{9223372036854775808}"),
                     "t.cep:1:19: error: integer literal out of range\n"
                     "pattern p begin a{9223372036854775808}\n"
                     "                  ^\n");
}
END_TEST

START_TEST(err_duration_overflow) {
    ck_assert_str_eq(parse("pattern p begin a within 106751991167301d"),
                     "t.cep:1:26: error: duration out of range\n"
                     "pattern p begin a within 106751991167301d\n"
                     "                         ^\n");
    ck_assert_str_eq(parse("pattern p begin a within 99999999999999999999ms"),
                     "t.cep:1:26: error: duration out of range\n"
                     "pattern p begin a within 99999999999999999999ms\n"
                     "                         ^\n");
}
END_TEST

START_TEST(err_unexpected_character) {
    ck_assert_str_eq(parse(WHERE("x @ 1")),
                     "t.cep:1:27: error: unexpected character '@'\n"
                     "pattern p begin a where x @ 1\n"
                     "                          ^\n");
    /* A run of junk is reported once. */
    ck_assert_str_eq(parse(WHERE("x == @@@ 1")),
                     "t.cep:1:30: error: unexpected character '@'\n"
                     "pattern p begin a where x == @@@ 1\n"
                     "                             ^\n");
    ck_assert_str_eq(parse(WHERE("x == \x01")),
                     "t.cep:1:30: error: unexpected byte 0x01\n"
                     "pattern p begin a where x == \x01\n"
                     "                             ^\n");
    /* A UTF-8 character is shown whole and counts as one column. */
    ck_assert_str_eq(parse(WHERE("\xc3\xa9 \xe2\x82\xac")),
                     "t.cep:1:25: error: unexpected character '\xc3\xa9'\n"
                     "pattern p begin a where \xc3\xa9 \xe2\x82\xac\n"
                     "                        ^\n"
                     "t.cep:1:27: error: unexpected character '\xe2\x82\xac'\n"
                     "pattern p begin a where \xc3\xa9 \xe2\x82\xac\n"
                     "                          ^\n");
    /* A NUL byte is an error and does not end the text. */
    ck_assert_str_eq(parse_text("pattern p\0 begin a", 18),
                     "t.cep:1:10: error: unexpected byte 0x00\n"
                     "pattern p  begin a\n"
                     "         ^\n");
}
END_TEST

START_TEST(err_string_escapes) {
    ck_assert_str_eq(parse(WHERE("x == \"a\\qb\"")),
                     "t.cep:1:32: error: invalid escape '\\q' in string\n"
                     "pattern p begin a where x == \"a\\qb\"\n"
                     "                               ^\n");
    ck_assert_str_eq(parse(WHERE("x == \"\\u12\" or y == \"\\ud800x\" or z == \"\\udc00\"")),
                     "t.cep:1:31: error: invalid \\u escape in string\n"
                     "pattern p begin a where x == \"\\u12\" or y == \"\\ud800x\" or z == \"\\udc00\"\n"
                     "                              ^\n"
                     "t.cep:1:46: error: invalid \\u escape in string\n"
                     "pattern p begin a where x == \"\\u12\" or y == \"\\ud800x\" or z == \"\\udc00\"\n"
                     "                                             ^\n"
                     "t.cep:1:64: error: invalid \\u escape in string\n"
                     "pattern p begin a where x == \"\\u12\" or y == \"\\ud800x\" or z == \"\\udc00\"\n"
                     "                                                               ^\n");
}
END_TEST

START_TEST(err_digits_then_letters) {
    /* `10x` is an integer and a name, not a duration. */
    ck_assert_str_eq(parse("pattern p begin a within 10x"),
                     "t.cep:1:26: error: syntax error, unexpected integer, expecting a duration: an integer and one "
                     "of ms, s, m, h, d \u2014 e.g. 10m\n"
                     "pattern p begin a within 10x\n"
                     "                         ^\n");
}
END_TEST

START_TEST(err_lexical_then_next_pattern) {
    /* A lexical error is reported once (no extra syntax error), and the
     * next pattern is still read. */
    const char *src = "pattern p begin a where x == @\npattern q begin b where y =~ 3";
    cep_diag *d = diag_new(NULL, src, strlen(src));
    ast_pattern *p = NULL;
    ck_assert_int_eq(ast_parse(src, strlen(src), d, &p), -1);
    ck_assert_int_eq(diag_finish(d), 0);
    ck_assert_uint_eq(cep_diag_count(d), 2);
    ck_assert_int_eq(cep_diag_code(d, 0), CEP_DIAG_LEX);
    ck_assert_int_eq(cep_diag_code(d, 1), CEP_DIAG_SYNTAX);
    ck_assert_str_eq(cep_diag_message(d, 1),
                     "syntax error, unexpected integer, expecting a regex: /text/flags, e.g. /^ab+c/i");
    ck_assert_int_eq(cep_diag_line(d, 1), 2);
    ck_assert_int_eq(cep_diag_column(d, 1), 30);
    ast_pattern_free(p);
    cep_diag_free(d);
}
END_TEST

Suite *lexer_suite(void) {
    Suite *s = suite_create("lexer");
    TCase *tc = tcase_create("tokens");
    tcase_add_test(tc, keywords_and_names);
    tcase_add_test(tc, integers);
    tcase_add_test(tc, decimals);
    tcase_add_test(tc, durations);
    tcase_add_test(tc, string_escapes);
    tcase_add_test(tc, string_decoded_bytes);
    tcase_add_test(tc, comments);
    tcase_add_test(tc, operators);
    tcase_add_test(tc, regex_literals);
    tcase_add_test(tc, regex_spans);
    tcase_add_test(tc, token_spans);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, err_unterminated_string);
    tcase_add_test(tc, err_unterminated_regex);
    tcase_add_test(tc, err_integer_overflow);
    tcase_add_test(tc, err_duration_overflow);
    tcase_add_test(tc, err_unexpected_character);
    tcase_add_test(tc, err_string_escapes);
    tcase_add_test(tc, err_digits_then_letters);
    tcase_add_test(tc, err_lexical_then_next_pattern);
    suite_add_tcase(s, tc);
    return s;
}
