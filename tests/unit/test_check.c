/* test_check.c — the checker through cep_compile: names, order, structure,
 * types, regex errors, not-yet-supported constructs, and slot assignment. */
#include "config.h"
#include <stdlib.h>
#include <string.h>

#include "cepheus.h"
#include "suites.h"

/* Compile src; return the rendered diagnostics ("" when it compiles). */
static char rendered[8192];
static const char *diag_of(const char *src) {
    cep_program *p = NULL;
    cep_diag *d = NULL;
    int rc = cep_compile(NULL, src, strlen(src), "t.cep", &p, &d);
    snprintf(rendered, sizeof rendered, "%s", cep_diag_render(d));
    ck_assert_int_eq(rc == CEP_OK, rendered[0] == '\0');
    ck_assert_int_eq(rc == CEP_OK, p != NULL);
    cep_program_free(p);
    cep_diag_free(d);
    return rendered;
}

#define ASSERT_DIAG(src, expected) ck_assert_str_eq(diag_of(src), expected)

/* A program reads at most NFA_MAX_FIELDS fields (a stored event counts
 * them in 16 bits): 65,535 compile, one more is refused. */
static char *many_fields(uint32_t n) {
    char *src = malloc((size_t)n * 24 + 64), *w = src;
    ck_assert_ptr_nonnull(src);
    for (uint32_t f = 0; f < n; f += 10) {
        w += sprintf(w, "pattern p%u begin a where", f);
        for (uint32_t k = f; k < n && k < f + 10; k++) w += sprintf(w, "%s f%u == 0", k > f ? " and" : "", k);
        *w++ = '\n';
    }
    *w = '\0';
    return src;
}

START_TEST(field_limit) {
    char *src = many_fields(65535);
    ck_assert_str_eq(diag_of(src), "");
    free(src);
    src = many_fields(65536);
    ck_assert_ptr_nonnull(strstr(diag_of(src), "t.cep:6554:110: error: a program reads at most 65535 fields"));
    free(src);
}
END_TEST

START_TEST(ok_program_and_slots) {
    const char *src = "pattern p key user begin a where type == \"a\"\n"
                      "followedBy b where type == \"b\" and b_amt > a.amt within 10m\n";
    cep_program *p = NULL;
    cep_diag *d = NULL;
    ck_assert_int_eq(cep_compile(NULL, src, strlen(src), NULL, &p, &d), CEP_OK);
    ck_assert_uint_eq(cep_diag_count(d), 0);
    ck_assert_uint_eq(cep_program_pattern_count(p), 1);
    ck_assert_str_eq(cep_program_pattern_name(p, 0), "p");
    ck_assert_uint_eq(cep_program_field_count(p), 4);
    ck_assert_str_eq(cep_program_field_name(p, 0), "user");
    ck_assert_int_eq(cep_program_field_slot(p, "type"), 1);
    ck_assert_int_eq(cep_program_field_slot(p, "b_amt"), 2);
    ck_assert_int_eq(cep_program_field_slot(p, "amt"), 3);
    ck_assert_int_eq(cep_program_field_slot(p, "nope"), CEP_ENOTFOUND);
    ck_assert_ptr_null(cep_program_field_name(p, 4));
    cep_program_free(p);
    cep_diag_free(d);
}
END_TEST

START_TEST(unknown_step) {
    ASSERT_DIAG("pattern p begin a followedBy b where x[0].f > 1\n",
                "t.cep:1:38: error: unknown step 'x'\n"
                "pattern p begin a followedBy b where x[0].f > 1\n"
                "                                     ^\n");
}
END_TEST

START_TEST(later_step) {
    ASSERT_DIAG("pattern p begin a where b.f > 1 followedBy b\n",
                "t.cep:1:25: error: step 'b' comes later in the pattern; a condition can only refer to earlier steps\n"
                "pattern p begin a where b.f > 1 followedBy b\n"
                "                        ^\n");
}
END_TEST

START_TEST(skip_target) {
    ASSERT_DIAG("pattern p begin a followedBy b skip toFirst x\n",
                "t.cep:1:45: error: skip target 'x' is not a step of pattern 'p'\n"
                "pattern p begin a followedBy b skip toFirst x\n"
                "                                            ^\n");
}
END_TEST

START_TEST(starts_negated) {
    ASSERT_DIAG("pattern p begin notNext a followedBy b\n",
                "t.cep:1:17: error: a pattern cannot start with notNext\n"
                "pattern p begin notNext a followedBy b\n"
                "                ^\n");
}
END_TEST

START_TEST(ends_not_followed_by) {
    const char *out = diag_of("pattern p begin a notFollowedBy b\n");
    ck_assert_ptr_nonnull(strstr(out, "t.cep:1:19: error: a pattern cannot end with notFollowedBy without a within clause\n"));
}
END_TEST

START_TEST(after_not_next) {
    const char *out = diag_of("pattern p begin a notNext b followedBy c+\n");
    ck_assert_ptr_nonnull(strstr(out, "t.cep:1:41: error: a step directly after notNext cannot be optional or looping\n"));
}
END_TEST

START_TEST(regex_error_column) {
    ASSERT_DIAG("pattern p begin a where s =~ /ab(c/\n",
                "t.cep:1:35: error: invalid regex: missing closing parenthesis\n"
                "pattern p begin a where s =~ /ab(c/\n"
                "                                  ^\n");
}
END_TEST

START_TEST(regex_flag) {
    ASSERT_DIAG("pattern p begin a where s =~ /x/iq\n",
                "t.cep:1:34: error: unknown regex flag 'q' (the flags are i, m, s, x, u)\n"
                "pattern p begin a where s =~ /x/iq\n"
                "                                 ^\n");
}
END_TEST

START_TEST(all_errors_reported) {
    const char *out = diag_of("pattern p begin a where x[0].f > 1 followedBy a\n"
                              "pattern p begin b where \"s\" + 1 > 2\n");
    ck_assert_ptr_nonnull(strstr(out, "t.cep:1:25: error: unknown step 'x'"));
    ck_assert_ptr_nonnull(strstr(out, "t.cep:1:47: error: duplicate step name 'a'"));
    ck_assert_ptr_nonnull(strstr(out, "t.cep:2:9: error: duplicate pattern name 'p'"));
    ck_assert_ptr_nonnull(strstr(out, "t.cep:2:25: error: operator '+' needs numbers, not string"));
}
END_TEST

START_TEST(types) {
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a where 5\n"),
                                 "error: a condition must be a boolean, not int"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a where x and 3\n"),
                                 "error: operator 'and' needs booleans, not int"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a where 3 =~ /x/\n"),
                                 "error: operator '=~' needs a string, not int"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a where len(x, y) > 1\n"),
                                 "error: function 'len' takes 1 argument, not 2"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a where nope(x)\n"),
                                 "error: unknown function 'nope'"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a where -\"x\" > 1\n"),
                                 "error: operator '-' needs numbers, not string"));
    ck_assert_str_eq(diag_of("pattern p begin a where x + null == null and not (y > 1)\n"), "");
}
END_TEST

START_TEST(emit_rules) {
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a emit v = amount\n"),
                                 "error: a bare field in emit has no event: write STEP.FIELD"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a emit v = a.x, v = a.y\n"),
                                 "error: duplicate emit name 'v'"));
    ck_assert_str_eq(diag_of("pattern p begin a followedBy b emit v = b.x - a.x, n = count(a)\n"), "");
}
END_TEST

START_TEST(within_positive) {
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a followedBy b within 0s\n"),
                                 "error: within must be positive"));
}
END_TEST

/* Flink's Pattern API rules on quantifiers and modifiers. */
START_TEST(structure_rules) {
    ck_assert_str_eq(diag_of("pattern p begin a followedByAny b+ greedy consecutive until x > 1 followedBy (c next d)+ within 1m\n"), "");
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a followedBy b greedy\n"),
                                 "t.cep:1:32: error: 'greedy' needs a repeated step (+, *, {n}, {n,} or {n,m})"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a followedBy b? consecutive\n"),
                                 "error: 'consecutive' needs a repeated step"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a followedBy b{3} until x\n"),
                                 "error: 'until' needs a looping step (+, * or {n,})"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a followedBy b+ greedy allowCombinations\n"),
                                 "error: 'greedy' cannot be combined with allowCombinations"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a followedBy b+ greedy greedy\n"),
                                 "error: duplicate modifier 'greedy'"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a followedBy b{0}\n"),
                                 "error: a step must be matched at least once: use ? for an optional step"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a followedBy b{3,2}\n"),
                                 "error: quantifier lower bound 3 exceeds upper bound 2"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a followedBy b{1,1000000000}\n"),
                                 "error: quantifier bounds above 10000 are not supported"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a? notNext b followedBy c\n"),
                                 "error: a step directly before notNext cannot be optional"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a followedBy b? notFollowedBy n followedBy c\n"),
                                 "error: a step directly before notFollowedBy cannot be optional"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a+ greedy followedBy b?\n"),
                                 "error: an optional step cannot follow a greedy one"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a notNext (b next c) followedBy d\n"),
                                 "error: a group cannot be negated"));
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a followedBy within 5s (b next c)\n"),
                                 "error: a gap applies to a step, not a group"));
    ck_assert_str_eq(diag_of("pattern p begin a notFollowedBy within 5s b\n"), "");
}
END_TEST

START_TEST(negated_reference) {
    ck_assert_ptr_nonnull(strstr(diag_of("pattern p begin a notNext n followedBy b where n.x > 1\n"),
                                 "error: step 'n' is negated and accepts no events"));
}
END_TEST

static int dummy_fn(void *ud, int argc, const cep_value *argv, cep_value *out) {
    (void)ud;
    (void)argc;
    *out = argv[0];
    return CEP_OK;
}

START_TEST(user_functions) {
    cep_compiler *c = NULL;
    ck_assert_int_eq(cep_compiler_new(&c), CEP_OK);
    ck_assert_int_eq(cep_compiler_add_function(c, "ident", 1, dummy_fn, NULL), CEP_OK);
    ck_assert_int_eq(cep_compiler_add_function(c, "ident", 1, dummy_fn, NULL), CEP_EINVAL);
    ck_assert_int_eq(cep_compiler_add_function(c, "len", 1, dummy_fn, NULL), CEP_EINVAL);
    ck_assert_int_eq(cep_compiler_add_function(c, "sum", 1, dummy_fn, NULL), CEP_EINVAL);
    ck_assert_int_eq(cep_compiler_add_function(c, "9x", 1, dummy_fn, NULL), CEP_EINVAL);
    const char *src = "pattern p begin a where ident(x) == 1\n";
    cep_program *p = NULL;
    cep_diag *d = NULL;
    ck_assert_int_eq(cep_compile(c, src, strlen(src), NULL, &p, &d), CEP_OK);
    cep_program_free(p);
    cep_diag_free(d);
    const char *bad = "pattern p begin a where ident(x, 2) == 1\n";
    ck_assert_int_eq(cep_compile(c, bad, strlen(bad), NULL, &p, &d), CEP_EPATTERN);
    ck_assert_ptr_nonnull(strstr(cep_diag_render(d), "function 'ident' takes 1 argument, not 2"));
    cep_diag_free(d);
    cep_compiler_free(c);
    cep_compiler_free(NULL);
}
END_TEST

START_TEST(diag_accessors) {
    const char *src = "pattern p\n  begin a where zz[0].f > 1\n";
    cep_program *p = NULL;
    cep_diag *d = NULL;
    ck_assert_int_eq(cep_compile(NULL, src, strlen(src), NULL, &p, &d), CEP_EPATTERN);
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(cep_diag_count(d), 1);
    ck_assert_int_eq(cep_diag_code(d, 0), CEP_DIAG_NAME);
    ck_assert_int_eq(cep_diag_line(d, 0), 2);
    ck_assert_int_eq(cep_diag_column(d, 0), 17);
    ck_assert_uint_eq(cep_diag_offset(d, 0), 26);
    ck_assert_str_eq(cep_diag_message(d, 0), "unknown step 'zz'");
    ck_assert_str_eq(cep_diag_message(d, 5), "");
    ck_assert_int_eq(cep_diag_code(d, 5), 0);
    ck_assert_ptr_nonnull(strstr(cep_diag_render(d), "<string>:2:17: error: unknown step 'zz'"));
    cep_diag_free(d);
    cep_diag_free(NULL);
}
END_TEST

Suite *check_suite(void) {
    Suite *s = suite_create("check");
    TCase *tc = tcase_create("check");
    tcase_add_test(tc, ok_program_and_slots);
    tcase_add_test(tc, unknown_step);
    tcase_add_test(tc, later_step);
    tcase_add_test(tc, skip_target);
    tcase_add_test(tc, starts_negated);
    tcase_add_test(tc, ends_not_followed_by);
    tcase_add_test(tc, after_not_next);
    tcase_add_test(tc, regex_error_column);
    tcase_add_test(tc, regex_flag);
    tcase_add_test(tc, all_errors_reported);
    tcase_add_test(tc, types);
    tcase_add_test(tc, emit_rules);
    tcase_add_test(tc, within_positive);
    tcase_add_test(tc, structure_rules);
    tcase_add_test(tc, negated_reference);
    tcase_add_test(tc, user_functions);
    tcase_add_test(tc, diag_accessors);
    tcase_add_test(tc, field_limit);
    suite_add_tcase(s, tc);
    return s;
}
