/* check_main.c — the unit-test program: every Check suite of the pipeline,
 * run in one SRunner so that `make check` reports one total. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>

#include "suites.h"

int main(void) {
    SRunner *sr = srunner_create(lexer_suite());
    srunner_add_suite(sr, parser_suite());
    srunner_add_suite(sr, check_suite());
    srunner_add_suite(sr, expr_suite());
    srunner_add_suite(sr, json_suite());
    srunner_add_suite(sr, json_diff_suite());
    srunner_add_suite(sr, pool_suite());
    srunner_add_suite(sr, engine_suite());
    srunner_add_suite(sr, snapshot_suite());
    srunner_add_suite(sr, api_suite());
    srunner_add_suite(sr, rules_suite());
    srunner_add_suite(sr, budget_suite());
    srunner_add_suite(sr, json_utf8_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    int run = srunner_ntests_run(sr);
    srunner_free(sr);
    printf("unit: %d passed, %d failed\n", run - failed, failed);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
