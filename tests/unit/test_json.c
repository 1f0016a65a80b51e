/* test_json.c — unit tests of the event reader: RFC 3339 times
 * (util/timefmt.c) and JSON objects into event rows (runtime/json.c),
 * on a program compiled from a small pattern. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cepheus.h"
#include "suites.h"
#include "timefmt.h"

/* ---- timefmt ------------------------------------------------------------ */

static int64_t tparse(const char *s) {
    int64_t ms = -4242;
    ck_assert_msg(timefmt_parse(s, strlen(s), &ms) == 0, "rejected: %s", s);
    return ms;
}

static void tbad(const char *s) {
    int64_t ms = -4242;
    ck_assert_msg(timefmt_parse(s, strlen(s), &ms) == -1, "accepted: %s", s);
    ck_assert_int_eq(ms, -4242);
}

START_TEST(time_valid) {
    ck_assert_int_eq(tparse("1970-01-01T00:00:00Z"), 0);
    ck_assert_int_eq(tparse("2023-11-14T22:13:20Z"), INT64_C(1700000000000));
    ck_assert_int_eq(tparse("2023-11-14t22:13:20z"), INT64_C(1700000000000));
    ck_assert_int_eq(tparse("2023-11-14 22:13:20Z"), INT64_C(1700000000000));
    ck_assert_int_eq(tparse("1969-12-31T23:59:59Z"), -1000);
    ck_assert_int_eq(tparse("0000-01-01T00:00:00Z"), INT64_C(-62167219200000));
    ck_assert_int_eq(tparse("9999-12-31T23:59:59.999Z"), INT64_C(253402300799999));
}
END_TEST

START_TEST(time_fraction) {
    ck_assert_int_eq(tparse("1970-01-01T00:00:00.5Z"), 500);
    ck_assert_int_eq(tparse("1970-01-01T00:00:00.05Z"), 50);
    ck_assert_int_eq(tparse("1970-01-01T00:00:00.123Z"), 123);
    /* Truncated, not rounded. */
    ck_assert_int_eq(tparse("1970-01-01T00:00:00.1239999999Z"), 123);
    ck_assert_int_eq(tparse("1969-12-31T23:59:59.9Z"), -100);
    tbad("1970-01-01T00:00:00.Z");
    tbad("1970-01-01T00:00:00,5Z");
}
END_TEST

START_TEST(time_offsets) {
    ck_assert_int_eq(tparse("1970-01-01T01:00:00+01:00"), 0);
    ck_assert_int_eq(tparse("1969-12-31T18:30:00-05:30"), 0);
    ck_assert_int_eq(tparse("2023-11-14T22:13:20-05:30"), INT64_C(1700019800000));
    ck_assert_int_eq(tparse("1970-01-01T00:00:00+00:00"), 0);
    ck_assert_int_eq(tparse("1970-01-01T00:00:00-00:00"), 0);
    tbad("1970-01-01T00:00:00");       /* the offset is required */
    tbad("1970-01-01T00:00:00+0100");
    tbad("1970-01-01T00:00:00+01");
    tbad("1970-01-01T00:00:00+24:00");
    tbad("1970-01-01T00:00:00+01:60");
}
END_TEST

START_TEST(time_leap_years) {
    ck_assert_int_eq(tparse("2024-02-29T00:00:00Z"), INT64_C(1709164800000));
    ck_assert_int_eq(tparse("2000-02-29T00:00:00Z"), INT64_C(951782400000));
    ck_assert_int_eq(tparse("2024-03-01T00:00:00Z") - tparse("2024-02-28T00:00:00Z"),
                     2 * 86400000);
    tbad("2023-02-29T00:00:00Z");
    tbad("1900-02-29T00:00:00Z");
    tbad("2024-02-30T00:00:00Z");
    tbad("2023-04-31T00:00:00Z");
    ck_assert_int_eq(tparse("2023-12-31T00:00:00Z") + 86400000,
                     tparse("2024-01-01T00:00:00Z"));
}
END_TEST

START_TEST(time_ranges) {
    /* A leap second counts as the next minute's first second. */
    ck_assert_int_eq(tparse("2016-12-31T23:59:60Z"), tparse("2017-01-01T00:00:00Z"));
    tbad("2023-00-10T00:00:00Z");
    tbad("2023-13-10T00:00:00Z");
    tbad("2023-01-00T00:00:00Z");
    tbad("2023-01-32T00:00:00Z");
    tbad("2023-01-10T24:00:00Z");
    tbad("2023-01-10T23:60:00Z");
    tbad("2023-01-10T23:59:61Z");
    tbad("");
    tbad("2023-1-10T00:00:00Z");
    tbad("20231110T000000Z");
    tbad("2023-11-10");
    tbad("2023-11-10X00:00:00Z");
    tbad("2023-11-10T00:00:00Z ");
    tbad(" 2023-11-10T00:00:00Z");
    tbad("+2023-11-10T00:00:00Z");
    /* Length-delimited: a valid prefix with more bytes after is invalid. */
    int64_t ms;
    ck_assert_int_eq(timefmt_parse("1970-01-01T00:00:00Zjunk", 20, &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(timefmt_parse("1970-01-01T00:00:00Z", 19, &ms), -1);
}
END_TEST

/* ---- JSON events ------------------------------------------------------- */

/* Reads fields i, d, s, b, n, ab and ts; everything else is ignored. */
static const char pattern_text[] =
    "pattern p\n"
    "  begin a where i != null and d != null and s != null\n"
    "    and b != null and n != null and ab != null and ts != null\n"
    "  followedBy c where i == 0\n";

static cep_program *prog;
static cep_event *ev;
static int si, sd, ss, sb, sn, sab, sts;

static void setup(void) {
    cep_diag *diag = NULL;
    int rc = cep_compile(NULL, pattern_text, strlen(pattern_text), "t.cep",
                         &prog, &diag);
    ck_assert_msg(rc == CEP_OK, "compile: %s", cep_diag_render(diag));
    cep_diag_free(diag);
    ck_assert_int_eq(cep_event_new(prog, &ev), CEP_OK);
    si = cep_program_field_slot(prog, "i");
    sd = cep_program_field_slot(prog, "d");
    ss = cep_program_field_slot(prog, "s");
    sb = cep_program_field_slot(prog, "b");
    sn = cep_program_field_slot(prog, "n");
    sab = cep_program_field_slot(prog, "ab");
    sts = cep_program_field_slot(prog, "ts");
    ck_assert(si >= 0 && sd >= 0 && ss >= 0 && sb >= 0 && sn >= 0 && sab >= 0 &&
              sts >= 0);
}

static void teardown(void) {
    cep_event_free(ev);
    cep_program_free(prog);
    ev = NULL;
    prog = NULL;
}

/* Parse a C string literal's bytes (NULs included). */
#define PARSE(lit) cep_event_parse_json(ev, (lit), sizeof(lit) - 1, "ts")

static void assert_error(int rc, int want, const char *msg) {
    ck_assert_int_eq(rc, want);
    if (msg) ck_assert_str_eq(cep_event_error(ev), msg);
}

START_TEST(json_scalars) {
    ck_assert_int_eq(PARSE("{\"ts\":5,\"i\":-12,\"d\":2.5,\"s\":\"x\\ty\","
                           "\"b\":true,\"n\":null,\"other\":[1]}"),
                     CEP_OK);
    ck_assert_int_eq(cep_event_time(ev), 5);
    cep_value v = cep_event_value(ev, si);
    ck_assert_int_eq(v.type, CEP_INT);
    ck_assert_int_eq(v.u.i, -12);
    v = cep_event_value(ev, sd);
    ck_assert_int_eq(v.type, CEP_DOUBLE);
    ck_assert(v.u.d == 2.5);
    v = cep_event_value(ev, ss);
    ck_assert_int_eq(v.type, CEP_STRING);
    ck_assert_int_eq(v.u.s.len, 3);
    ck_assert(memcmp(v.u.s.ptr, "x\ty", 3) == 0);
    v = cep_event_value(ev, sb);
    ck_assert_int_eq(v.type, CEP_BOOL);
    ck_assert_int_eq(v.u.b, 1);
    ck_assert_int_eq(cep_event_value(ev, sn).type, CEP_NULL);
    ck_assert_int_eq(cep_event_value(ev, sab).type, CEP_NULL); /* absent */
    ck_assert_int_eq(cep_event_value(ev, sts).type, CEP_INT);

    /* The raw text is kept, trimmed of surrounding whitespace. */
    ck_assert_int_eq(PARSE(" \t{\"ts\":1, \"b\":false}\r\n"), CEP_OK);
    size_t len;
    const char *raw = cep_event_raw(ev, &len);
    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(len, 19);
    ck_assert(memcmp(raw, "{\"ts\":1, \"b\":false}", 19) == 0);
    ck_assert_int_eq(cep_event_value(ev, sb).u.b, 0);
    /* A new parse forgets the fields of the last one. */
    ck_assert_int_eq(cep_event_value(ev, si).type, CEP_NULL);
}
END_TEST

START_TEST(json_numbers) {
    ck_assert_int_eq(PARSE("{\"ts\":1,\"i\":9223372036854775807,"
                           "\"d\":-9223372036854775808}"),
                     CEP_OK);
    ck_assert_int_eq(cep_event_value(ev, si).type, CEP_INT);
    ck_assert_int_eq(cep_event_value(ev, si).u.i, INT64_MAX);
    ck_assert_int_eq(cep_event_value(ev, sd).type, CEP_INT);
    ck_assert_int_eq(cep_event_value(ev, sd).u.i, INT64_MIN);

    /* Integers beyond int64 become doubles. */
    ck_assert_int_eq(PARSE("{\"ts\":1,\"i\":9223372036854775808,"
                           "\"d\":-99999999999999999999}"),
                     CEP_OK);
    ck_assert_int_eq(cep_event_value(ev, si).type, CEP_DOUBLE);
    ck_assert(cep_event_value(ev, si).u.d == 9223372036854775808.0);
    ck_assert_int_eq(cep_event_value(ev, sd).type, CEP_DOUBLE);
    ck_assert(cep_event_value(ev, sd).u.d == -1e20);

    /* Fraction or exponent: double, even when integral. */
    ck_assert_int_eq(PARSE("{\"ts\":1,\"i\":1.0,\"d\":1e2}"), CEP_OK);
    ck_assert_int_eq(cep_event_value(ev, si).type, CEP_DOUBLE);
    ck_assert_int_eq(cep_event_value(ev, sd).type, CEP_DOUBLE);
    ck_assert(cep_event_value(ev, sd).u.d == 100.0);

    /* Underflow is 0, overflow an error. */
    ck_assert_int_eq(PARSE("{\"ts\":1,\"d\":1e-400}"), CEP_OK);
    ck_assert(cep_event_value(ev, sd).u.d == 0.0);
    assert_error(PARSE("{\"ts\":1,\"d\":1e400}"), CEP_ERANGE,
                 "number out of range in field 'd'");
    assert_error(PARSE("{\"ts\":1,\"i\":-1e400}"), CEP_ERANGE,
                 "number out of range in field 'i'");
    /* ...only in fields the program reads. */
    ck_assert_int_eq(PARSE("{\"ts\":1,\"zz\":1e400}"), CEP_OK);
}
END_TEST

START_TEST(json_nested) {
    /* Objects and arrays as values read as null (not looked into). */
    ck_assert_int_eq(PARSE("{\"ts\":1,\"i\":{\"i\":5},\"s\":[\"x\"],\"b\":true}"),
                     CEP_OK);
    ck_assert_int_eq(cep_event_value(ev, si).type, CEP_NULL);
    ck_assert_int_eq(cep_event_value(ev, ss).type, CEP_NULL);
    ck_assert_int_eq(cep_event_value(ev, sb).type, CEP_BOOL);
    /* Keys inside nested objects are not top-level fields. */
    ck_assert_int_eq(PARSE("{\"x\":{\"ts\":1},\"ts\":2}"), CEP_OK);
    ck_assert_int_eq(cep_event_time(ev), 2);
    assert_error(PARSE("{\"x\":{\"ts\":1}}"), CEP_ETIME,
                 "missing time field 'ts'");
}
END_TEST

START_TEST(json_duplicates) {
    ck_assert_int_eq(PARSE("{\"ts\":1,\"i\":1,\"i\":\"two\"}"), CEP_OK);
    cep_value v = cep_event_value(ev, si);
    ck_assert_int_eq(v.type, CEP_STRING);
    ck_assert_int_eq(v.u.s.len, 3);
    ck_assert_int_eq(PARSE("{\"ts\":1,\"i\":1,\"i\":[2]}"), CEP_OK);
    ck_assert_int_eq(cep_event_value(ev, si).type, CEP_NULL);
    ck_assert_int_eq(PARSE("{\"ts\":\"bad\",\"ts\":7}"), CEP_OK);
    ck_assert_int_eq(cep_event_time(ev), 7);
    assert_error(PARSE("{\"ts\":7,\"ts\":\"bad\"}"), CEP_ETIME, NULL);
}
END_TEST

START_TEST(json_keys) {
    /* Keys are compared after escape decoding. */
    ck_assert_int_eq(PARSE("{\"ts\":1,\"a\\u0062\":3}"), CEP_OK);
    ck_assert_int_eq(cep_event_value(ev, sab).u.i, 3);
    /* A key with a NUL byte is not the field "a". */
    ck_assert_int_eq(PARSE("{\"ts\":1,\"ab\\u0000\":3}"), CEP_OK);
    ck_assert_int_eq(cep_event_value(ev, sab).type, CEP_NULL);
    /* Strings keep NUL bytes and their length. */
    ck_assert_int_eq(PARSE("{\"ts\":1,\"s\":\"a\\u0000b\"}"), CEP_OK);
    cep_value v = cep_event_value(ev, ss);
    ck_assert_int_eq(v.u.s.len, 3);
    ck_assert(memcmp(v.u.s.ptr, "a\0b", 3) == 0);
}
END_TEST

START_TEST(json_not_object) {
    assert_error(PARSE("[1,2]"), CEP_ENOTOBJECT, "event is an array, not a JSON object");
    assert_error(PARSE("42"), CEP_ENOTOBJECT, "event is a number, not a JSON object");
    assert_error(PARSE("\"x\""), CEP_ENOTOBJECT, "event is a string, not a JSON object");
    assert_error(PARSE("true"), CEP_ENOTOBJECT, "event is a boolean, not a JSON object");
    assert_error(PARSE("null"), CEP_ENOTOBJECT, "event is null, not a JSON object");
    /* Invalid JSON is reported as such even when it is not an object. */
    assert_error(PARSE("[1,"), CEP_EJSON, "invalid JSON: parse error: premature EOF");
}
END_TEST

START_TEST(json_invalid) {
    assert_error(PARSE("{\"ts\":1,}"), CEP_EJSON,
                 "invalid JSON: parse error: invalid object key (must be a string)");
    assert_error(PARSE("{\"ts\":1 \"i\":2}"), CEP_EJSON,
                 "invalid JSON: parse error: after key and value, inside map, I expect ',' or '}'");
    assert_error(PARSE("{ts:1}"), CEP_EJSON, "invalid JSON: lexical error: invalid string in json text.");
    assert_error(PARSE("{\"ts\":@}"), CEP_EJSON, "invalid JSON: lexical error: invalid char in json text.");
    assert_error(PARSE("{\"ts\":1} {\"ts\":2}"), CEP_EJSON,
                 "invalid JSON: parse error: trailing garbage");
    assert_error(PARSE("{\"ts\":1}x"), CEP_EJSON, NULL);
    assert_error(PARSE(""), CEP_EJSON, "invalid JSON: parse error: premature EOF");
    assert_error(PARSE("   "), CEP_EJSON, NULL);
    assert_error(PARSE("{\"ts\":1 /* c */}"), CEP_EJSON, NULL); /* no comments */
    /* The message is one line. */
    ck_assert_ptr_null(strchr(cep_event_error(ev), '\n'));
}
END_TEST

START_TEST(json_truncated) {
    assert_error(PARSE("{\"ts\":1,\"s\":\"abc"), CEP_EJSON,
                 "invalid JSON: parse error: premature EOF");
    assert_error(PARSE("{\"ts\":1,\"i\":12"), CEP_EJSON, NULL);
    assert_error(PARSE("{\"ts\":1,\"i\""), CEP_EJSON, NULL);
    assert_error(PARSE("{"), CEP_EJSON, NULL);
}
END_TEST

START_TEST(json_utf8) {
    ck_assert_int_eq(PARSE("{\"ts\":1,\"s\":\"\xc3\xa9\xe2\x82\xac\"}"), CEP_OK);
    ck_assert_int_eq(cep_event_value(ev, ss).u.s.len, 5);
    assert_error(PARSE("{\"ts\":1,\"s\":\"\xff\"}"), CEP_EJSON,
                 "invalid JSON: lexical error: invalid bytes in UTF8 string.");
    assert_error(PARSE("{\"ts\":1,\"s\":\"\xc3(\"}"), CEP_EJSON, NULL);
    assert_error(PARSE("{\"ts\":1,\"\xff\":1}"), CEP_EJSON, NULL);
}
END_TEST

START_TEST(json_nul_bytes) {
    /* The text is length-delimited: a NUL is a byte like any other. */
    assert_error(PARSE("{\"ts\":1}\0"), CEP_EJSON, NULL);
    assert_error(PARSE("{\"ts\":1,\"s\":\"a\0b\"}"), CEP_EJSON, NULL);
    assert_error(PARSE("\0{\"ts\":1}"), CEP_EJSON, NULL);
    /* Bytes after len are not read. */
    ck_assert_int_eq(cep_event_parse_json(ev, "{\"ts\":1}garbage", 8, "ts"), CEP_OK);
}
END_TEST

START_TEST(json_time) {
    ck_assert_int_eq(PARSE("{\"ts\":1700000000000}"), CEP_OK);
    ck_assert_int_eq(cep_event_time(ev), INT64_C(1700000000000));
    ck_assert_int_eq(PARSE("{\"ts\":-5}"), CEP_OK);
    ck_assert_int_eq(cep_event_time(ev), -5);
    ck_assert_int_eq(PARSE("{\"ts\":\"2023-11-14T22:13:20.250Z\"}"), CEP_OK);
    ck_assert_int_eq(cep_event_time(ev), INT64_C(1700000000250));
    /* The time field is also an ordinary field when the program reads it. */
    ck_assert_int_eq(cep_event_value(ev, sts).type, CEP_STRING);
    /* Integral doubles are accepted. */
    ck_assert_int_eq(PARSE("{\"ts\":1.7e12}"), CEP_OK);
    ck_assert_int_eq(cep_event_time(ev), INT64_C(1700000000000));
    ck_assert_int_eq(PARSE("{\"ts\":5.0}"), CEP_OK);
    ck_assert_int_eq(cep_event_time(ev), 5);
    /* Another time field name. */
    ck_assert_int_eq(cep_event_parse_json(ev, "{\"when\":9}", 10, "when"), CEP_OK);
    ck_assert_int_eq(cep_event_time(ev), 9);
}
END_TEST

START_TEST(json_time_errors) {
    const char *bad = "time field 'ts' is not integer milliseconds or an RFC 3339 string";
    assert_error(PARSE("{\"i\":1}"), CEP_ETIME, "missing time field 'ts'");
    assert_error(PARSE("{}"), CEP_ETIME, "missing time field 'ts'");
    assert_error(PARSE("{\"ts\":true}"), CEP_ETIME, bad);
    assert_error(PARSE("{\"ts\":null}"), CEP_ETIME, bad);
    assert_error(PARSE("{\"ts\":1.5}"), CEP_ETIME, bad);
    assert_error(PARSE("{\"ts\":1e30}"), CEP_ETIME, bad);
    assert_error(PARSE("{\"ts\":99999999999999999999}"), CEP_ETIME, bad);
    assert_error(PARSE("{\"ts\":\"yesterday\"}"), CEP_ETIME, bad);
    /* Near misses of RFC 3339 say what is missing. */
    assert_error(PARSE("{\"ts\":\"2023-11-14T22:13:20\"}"), CEP_ETIME,
                 "time field 'ts' is not integer milliseconds or an RFC 3339 string (it has no zone: add Z or +HH:MM)");
    assert_error(PARSE("{\"ts\":\"2023-11-14 22:13:20.123456\"}"), CEP_ETIME,
                 "time field 'ts' is not integer milliseconds or an RFC 3339 string (it has no zone: add Z or +HH:MM)");
    assert_error(PARSE("{\"ts\":\"2023-11-14T22:13:20+0100\"}"), CEP_ETIME,
                 "time field 'ts' is not integer milliseconds or an RFC 3339 string (its zone needs a colon: +HH:MM)");
    assert_error(PARSE("{\"ts\":\"2023-11-14T22:13:20.5-0530\"}"), CEP_ETIME,
                 "time field 'ts' is not integer milliseconds or an RFC 3339 string (its zone needs a colon: +HH:MM)");
    assert_error(PARSE("{\"ts\":\"2023-11-14\"}"), CEP_ETIME, bad);
    assert_error(PARSE("{\"ts\":\"+0100\"}"), CEP_ETIME, bad);
    assert_error(PARSE("{\"ts\":\"2023-13-14T22:13:20\"}"), CEP_ETIME, bad);
    assert_error(PARSE("{\"ts\":[1]}"), CEP_ETIME, bad);
    assert_error(PARSE("{\"ts\":{\"ms\":1}}"), CEP_ETIME, bad);
    assert_error(cep_event_parse_json(ev, "{\"ts\":1}", 8, "time"), CEP_ETIME,
                 "missing time field 'time'");
}
END_TEST

/* Text with `depth` nested arrays as the value of field x (the top-level
 * object is level 1). */
static char *nested(int depth, size_t *len) {
    static char buf[512];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{\"ts\":1,\"x\":");
    for (int i = 1; i < depth; i++) buf[n++] = '[';
    for (int i = 1; i < depth; i++) buf[n++] = ']';
    buf[n++] = '}';
    buf[n] = '\0';
    *len = n;
    return buf;
}

START_TEST(json_depth) {
    size_t len;
    char *t = nested(64, &len);
    ck_assert_int_eq(cep_event_parse_json(ev, t, len, "ts"), CEP_OK);
    t = nested(65, &len);
    assert_error(cep_event_parse_json(ev, t, len, "ts"), CEP_ETOODEEP,
                 "JSON nesting deeper than 64 levels");
    t = nested(200, &len);
    ck_assert_int_eq(cep_event_parse_json(ev, t, len, "ts"), CEP_ETOODEEP);
    /* The event is usable again after an error. */
    ck_assert_int_eq(PARSE("{\"ts\":3}"), CEP_OK);
    ck_assert_int_eq(cep_event_time(ev), 3);
}
END_TEST

START_TEST(json_large) {
    /* Long strings with escapes make yajl's buffers grow; the arena follows. */
    size_t cap = 1 << 20;
    char *t = malloc(cap);
    ck_assert_ptr_nonnull(t);
    for (size_t target = 100; target < cap - 64; target *= 4) {
        size_t n = (size_t)sprintf(t, "{\"ts\":1,\"s\":\"");
        size_t chars = 0;
        while (n < target) {
            t[n++] = '\\';
            t[n++] = 'n';
            chars++;
        }
        n += (size_t)sprintf(t + n, "\",\"i\":7}");
        ck_assert_int_eq(cep_event_parse_json(ev, t, n, "ts"), CEP_OK);
        ck_assert_int_eq(cep_event_value(ev, ss).u.s.len, chars);
        ck_assert_int_eq(cep_event_value(ev, si).u.i, 7);
        ck_assert_int_eq(cep_event_parse_json(ev, t, n - 3, "ts"), CEP_EJSON);
    }
    free(t);
}
END_TEST

START_TEST(json_args) {
    ck_assert_int_eq(cep_event_parse_json(NULL, "{}", 2, "ts"), CEP_EINVAL);
    ck_assert_int_eq(cep_event_parse_json(ev, NULL, 2, "ts"), CEP_EINVAL);
    /* time_field NULL means the default, "ts". */
    ck_assert_int_eq(cep_event_parse_json(ev, "{\"ts\":4}", 8, NULL), CEP_OK);
    ck_assert_int_eq(cep_event_time(ev), 4);
}
END_TEST

Suite *json_suite(void) {
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("timefmt");
    tcase_add_test(tc, time_valid);
    tcase_add_test(tc, time_fraction);
    tcase_add_test(tc, time_offsets);
    tcase_add_test(tc, time_leap_years);
    tcase_add_test(tc, time_ranges);
    suite_add_tcase(s, tc);

    tc = tcase_create("events");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, json_scalars);
    tcase_add_test(tc, json_numbers);
    tcase_add_test(tc, json_nested);
    tcase_add_test(tc, json_duplicates);
    tcase_add_test(tc, json_keys);
    tcase_add_test(tc, json_not_object);
    tcase_add_test(tc, json_invalid);
    tcase_add_test(tc, json_truncated);
    tcase_add_test(tc, json_utf8);
    tcase_add_test(tc, json_nul_bytes);
    tcase_add_test(tc, json_time);
    tcase_add_test(tc, json_time_errors);
    tcase_add_test(tc, json_depth);
    tcase_add_test(tc, json_large);
    tcase_add_test(tc, json_args);
    suite_add_tcase(s, tc);
    return s;
}
