/* suites.h — the Check suites of the unit test program (check_main.c runs
 * them all); one per stage of the pipeline, each in its test_*.c file. */
#ifndef CEP_TEST_SUITES_H
#define CEP_TEST_SUITES_H

#include <check.h>
#include <stddef.h>
#include <stdio.h>

Suite *lexer_suite(void);
Suite *parser_suite(void);
Suite *check_suite(void);
Suite *expr_suite(void);
Suite *json_suite(void);
Suite *json_diff_suite(void);
Suite *pool_suite(void);
Suite *engine_suite(void);
Suite *snapshot_suite(void);
Suite *api_suite(void);
Suite *rules_suite(void);
Suite *budget_suite(void);
Suite *json_utf8_suite(void);

/* Parse len bytes as "t.cep": the AST dump when clean, else the rendered
 * errors; the text lives until the next call (test_parser.c). */
const char *parse_text(const char *src, size_t len);

/* Bytes a snapshot writes, gathered by to_buf (a cep_write_fn; test_pool.c). */
typedef struct snap_buf {
    char *p;
    size_t n, cap;
} snap_buf;
int to_buf(void *ud, const void *data, size_t len);

#endif
