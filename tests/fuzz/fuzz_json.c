/* fuzz_json.c — libFuzzer target for the JSON event reader: arbitrary bytes
 * as one event line through cep_event_parse_json on a fixed program that
 * reads fields of every type, then the values read back and the same text
 * pushed through an engine; and the fast reader (runtime/json_fast.c)
 * against the yajl reader: what the fast path accepts, yajl must accept
 * with the same row (nested fields included). Built and run by `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cepheus.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char pattern[] =
    "pattern p\n"
    "  key user, region\n"
    "  begin a where t == \"a\" and n > 1 and s =~ /x+y/ and flag == true\n"
    "    and ctx.geo.lat > 0 and ctx.id != null and `risk-score` != null\n"
    "  followedBy b+ where t == \"b\" and f < a.f * 2.5 and len(s) >= 0 and sum(b.f) < 100\n"
    "  within 10s\n"
    "  emit n = a.n, s = b.s, u = lower(a.user)\n";

/* The program and the event builder live across inputs, as in a real
 * reader: the builder's parse arena is reused and regrown from line to line. */
static cep_program *prog;
static cep_event *ev, *fast;
static json_scratch scratch;

static void setup(void) {
    if (prog) return;
    cep_compile(NULL, pattern, sizeof pattern - 1, "fuzz", &prog, NULL);
    if (prog) cep_event_new(prog, &ev);
    if (prog) cep_event_new(prog, &fast);
}

/* The fast path accepted text: yajl must read the same row from it. */
static void check_same(const char *text, size_t size) {
    if (json_parse_yajl(ev, text, size, "ts") != CEP_OK) __builtin_trap();
    if (cep_event_time(ev) != cep_event_time(fast)) __builtin_trap();
    for (size_t i = 0; i < cep_program_field_count(prog); i++) {
        cep_value a = cep_event_value(ev, (int)i), b = cep_event_value(fast, (int)i);
        if (a.type != b.type) __builtin_trap();
        if (a.type == CEP_INT && a.u.i != b.u.i) __builtin_trap();
        if (a.type == CEP_BOOL && a.u.b != b.u.b) __builtin_trap();
        if (a.type == CEP_DOUBLE && memcmp(&a.u.d, &b.u.d, sizeof a.u.d) != 0) __builtin_trap();
        if (a.type == CEP_STRING &&
            (a.u.s.len != b.u.s.len || (a.u.s.len && memcmp(a.u.s.ptr, b.u.s.ptr, a.u.s.len) != 0)))
            __builtin_trap();
    }
    size_t la, lb;
    const char *ra = cep_event_raw(ev, &la), *rb = cep_event_raw(fast, &lb);
    if (la != lb || (la && memcmp(ra, rb, la) != 0)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    if (!ev || !fast) __builtin_trap(); /* the fixed pattern must compile */
    const char *text = (const char *)data;
    cep_event_clear(fast);
    if (json_fast_parse(fast, text, size, "ts", &scratch) == CEP_OK) check_same(text, size);
    int rc = cep_event_parse_json(ev, text, size, "ts");
    (void)cep_event_error(ev);
    if (rc == CEP_OK) {
        (void)cep_event_time(ev);
        for (size_t i = 0; i < cep_program_field_count(prog); i++) {
            cep_value v = cep_event_value(ev, (int)i);
            /* Touch every byte of a string so ASan checks its bounds. */
            if (v.type == CEP_STRING && v.u.s.len) {
                volatile char sink = 0;
                for (size_t k = 0; k < v.u.s.len; k++) sink ^= v.u.s.ptr[k];
                (void)sink;
            }
        }
        size_t rlen;
        (void)cep_event_raw(ev, &rlen);
    }
    /* A fresh engine per input keeps crashes reproducible from one file. */
    cep_engine *eng;
    if (cep_engine_new(prog, &eng) == CEP_OK) {
        cep_engine_set_max_delay(eng, 1000);
        (void)cep_engine_push_json(eng, text, size);
        cep_engine_finish(eng);
        cep_engine_free(eng);
    }
    /* The RFC 3339 parser on the same bytes. */
    int64_t ms;
    (void)cep_parse_time(text, size, &ms);
    return 0;
}
