/* test_rules.c — the rule author's API: cep_lint's warnings (severity,
 * codes and their names, rendering one as an error) and cep_format (layout,
 * idempotence, refusals). The golden files of every warning and the CLI are
 * in tests/authoring.sh. */
#include "config.h"
#include <string.h>

#include "cepheus.h"
#include "suites.h"

START_TEST(lint_warning_fields) {
    const char *src = "pattern p\n  begin a where x == 1\n  next b where x == 2\n  within 1m\n";
    cep_diag *d = NULL;
    ck_assert_int_eq(cep_lint(NULL, src, strlen(src), "w.cep", &d), CEP_OK);
    ck_assert_uint_eq(cep_diag_count(d), 1);
    ck_assert_int_eq(cep_diag_severity(d, 0), CEP_SEVERITY_WARNING);
    ck_assert_int_eq(cep_diag_code(d, 0), CEP_DIAG_W_KEYLESS);
    ck_assert_str_eq(cep_diag_code_name(cep_diag_code(d, 0)), "keyless");
    ck_assert_int_eq(cep_diag_line(d, 0), 1);
    ck_assert_int_eq(cep_diag_column(d, 0), 9);
    ck_assert_str_eq(cep_diag_render(d),
                     "w.cep:1:9: warning: pattern 'p' has no key: all events are one stream and are "
                     "matched with each other; add `key FIELD` to match per user, account, device... "
                     "[-Wkeyless]\npattern p\n        ^\n");
    char *one = cep_diag_render_one(d, 0, 1);
    ck_assert_ptr_nonnull(one);
    ck_assert_int_eq(strncmp(one, "w.cep:1:9: error: pattern 'p' has no key", 40), 0);
    cep_free(one);
    ck_assert_ptr_null(cep_diag_render_one(d, 1, 0));
    ck_assert_int_eq(cep_diag_severity(d, 5), CEP_SEVERITY_ERROR);
    cep_diag_free(d);
    /* cep_compile reports errors only. */
    cep_program *p = NULL;
    ck_assert_int_eq(cep_compile(NULL, src, strlen(src), "w.cep", &p, &d), CEP_OK);
    ck_assert_uint_eq(cep_diag_count(d), 0);
    cep_program_free(p);
    cep_diag_free(d);
}
END_TEST

START_TEST(lint_errors_and_arguments) {
    const char *src = "pattern p key k begin a where zz[0].x > 1 within 1m\n";
    cep_diag *d = NULL;
    ck_assert_int_eq(cep_lint(NULL, src, strlen(src), NULL, &d), CEP_EPATTERN);
    ck_assert_uint_eq(cep_diag_count(d), 1);
    ck_assert_int_eq(cep_diag_severity(d, 0), CEP_SEVERITY_ERROR);
    ck_assert_int_eq(cep_diag_code(d, 0), CEP_DIAG_NAME);
    cep_diag_free(d);
    ck_assert_int_eq(cep_lint(NULL, src, strlen(src), NULL, NULL), CEP_EINVAL);
    ck_assert_int_eq(cep_lint(NULL, NULL, 3, NULL, &d), CEP_EINVAL);
    ck_assert_ptr_null(d);
    ck_assert_str_eq(cep_diag_code_name(CEP_DIAG_SYNTAX), "");
    ck_assert_str_eq(cep_diag_code_name(CEP_DIAG_W_SKIP_TARGET), "skip-target");
}
END_TEST

/* cep_compile_lint: cep_compile's program and cep_lint's warnings from one
 * compile; on errors, cep_lint's errors and no program. */
START_TEST(compile_lint_both) {
    const char *src = "pattern p\n  begin a where x == 1\n  next b where x == 2\n  within 1m\n";
    cep_program *p = NULL;
    cep_diag *d = NULL, *l = NULL;
    ck_assert_int_eq(cep_compile_lint(NULL, src, strlen(src), "w.cep", &p, &d), CEP_OK);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(cep_lint(NULL, src, strlen(src), "w.cep", &l), CEP_OK);
    ck_assert_uint_eq(cep_diag_count(d), 1);
    ck_assert_str_eq(cep_diag_render(d), cep_diag_render(l));
    ck_assert_uint_eq(cep_program_pattern_count(p), 1);
    cep_program_free(p);
    cep_diag_free(d);
    cep_diag_free(l);
    const char *bad = "pattern p key k begin a where zz[0].x > 1 within 1m\n";
    ck_assert_int_eq(cep_compile_lint(NULL, bad, strlen(bad), NULL, &p, &d), CEP_EPATTERN);
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(cep_diag_count(d), 1);
    ck_assert_int_eq(cep_diag_code(d, 0), CEP_DIAG_NAME);
    cep_diag_free(d);
    ck_assert_int_eq(cep_compile_lint(NULL, src, strlen(src), NULL, NULL, &d), CEP_EINVAL);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(cep_compile_lint(NULL, src, strlen(src), NULL, &p, NULL), CEP_EINVAL);
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(lint_each_kind) {
    static const struct { const char *src; int code; } cases[] = {
        {"pattern p key k begin a followedBy b", CEP_DIAG_W_UNBOUNDED},
        {"pattern p key k begin a followedByAny b where x == 1 within 1m", -1},
        {"pattern p key k begin a next b{2,} allowCombinations", CEP_DIAG_W_COMBINATIONS},
        {"pattern p key k begin a where n > 1 and n <= 1 within 1m", CEP_DIAG_W_NEVER_TRUE},
        {"pattern p key k begin a where n >= 1 and n <= 1 within 1m", -1},
        {"pattern p key k begin a where s == \"x\" followedByAny b where s == \"x\" within 1m",
         CEP_DIAG_W_SAME_CONDITION},
        {"pattern p key k begin a where s =~ /(x*)*y/ within 1m", CEP_DIAG_W_REGEX},
        {"pattern p key k begin a where s =~ /^x[yz]/ within 1m", -1},
        {"pattern p key k begin a next b? where n < 0 and n > 0 next c within 1m skip toLast b",
         CEP_DIAG_W_SKIP_TARGET},
        {"pattern p key k begin a where user-id == 1 within 1m", CEP_DIAG_W_HYPHEN},
        {"pattern p key k begin a next b where user - id == 1 and `user-id` == 2 and ts-a.ts > 1 within 1m", -1},
        /* a.ts in a's own condition: no event yet, null */
        {"pattern p key k begin a where ts-a.ts > 1 within 1m", CEP_DIAG_W_NEVER_TRUE},
        {"pattern p key k begin a where len(s) == \"3\" within 1m", CEP_DIAG_W_NEVER_TRUE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cep_diag *d = NULL;
        ck_assert_int_eq(cep_lint(NULL, cases[i].src, strlen(cases[i].src), NULL, &d), CEP_OK);
        int found = 0;
        for (size_t j = 0; j < cep_diag_count(d); j++) found |= cep_diag_code(d, j) == cases[i].code;
        ck_assert_msg(cases[i].code < 0 ? cep_diag_count(d) == 0 : found, "case %zu: %s", i,
                      cep_diag_render(d));
        cep_diag_free(d);
    }
}
END_TEST

static char *format(const char *src, int *rc) {
    char *out = NULL;
    cep_diag *d = NULL;
    *rc = cep_format(src, strlen(src), "f.cep", &out, &d);
    ck_assert_int_eq(*rc == CEP_OK, out != NULL);
    ck_assert_int_eq(*rc == CEP_OK, cep_diag_count(d) == 0);
    cep_diag_free(d);
    return out;
}

START_TEST(format_layout) {
    const char *src = "# head\npattern p key a,b begin x where n>1 # n\n"
                      "followedBy y+ where s=~/a b/ consecutive within 1m emit v=x.n,w=-count(y)\n";
    int rc;
    char *out = format(src, &rc);
    ck_assert_int_eq(rc, CEP_OK);
    ck_assert_str_eq(out, "# head\n"
                          "pattern p\n"
                          "  key a, b\n"
                          "  begin x where n > 1  # n\n"
                          "  followedBy y+ where s =~ /a b/ consecutive\n"
                          "  within 1m\n"
                          "  emit v = x.n,\n"
                          "       w = -count(y)\n");
    char *again = format(out, &rc);
    ck_assert_str_eq(again, out);
    cep_free(again);
    cep_free(out);
}
END_TEST

START_TEST(format_refusals) {
    int rc;
    char *out = NULL;
    cep_diag *d = NULL;
    ck_assert_ptr_null(format("pattern p begin (", &rc));
    ck_assert_int_eq(rc, CEP_EPATTERN);
    ck_assert_ptr_null(format("", &rc));
    ck_assert_int_eq(rc, CEP_EPATTERN);
    ck_assert_int_eq(cep_format("pattern p begin a\0", 18, NULL, &out, &d), CEP_EPATTERN);
    ck_assert_ptr_null(out);
    ck_assert_uint_ge(cep_diag_count(d), 1);
    cep_diag_free(d);
    ck_assert_int_eq(cep_format("x", 1, NULL, NULL, NULL), CEP_EINVAL);
    ck_assert_int_eq(cep_format(NULL, 1, NULL, &out, NULL), CEP_EINVAL);
}
END_TEST

Suite *rules_suite(void) {
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, lint_warning_fields);
    tcase_add_test(tc, lint_errors_and_arguments);
    tcase_add_test(tc, lint_each_kind);
    tcase_add_test(tc, compile_lint_both);
    tcase_add_test(tc, format_layout);
    tcase_add_test(tc, format_refusals);
    suite_add_tcase(s, tc);
    return s;
}
