/* test_engine.c — the engine through the public C API: events built in C,
 * matches and late events through callbacks, options, stats, errors. */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cepheus.h"
#include "engine.h" /* branch_order_survives_relabel looks at labels */
#include "hash.h"
#include "suites.h"

typedef struct collected {
    char text[4096];
    int matches, late, stop_after;
} collected;

static int on_match(void *ud, const cep_match *m) {
    collected *c = ud;
    char line[512];
    int n = snprintf(line, sizeof line, "%s[%lld..%lld]", cep_match_pattern(m),
                     (long long)cep_match_start(m), (long long)cep_match_end(m));
    for (size_t k = 0; k < cep_match_key_count(m); k++) {
        cep_value v = cep_match_key(m, k);
        if (v.type == CEP_STRING) n += snprintf(line + n, sizeof line - n, " key=%.*s", (int)v.u.s.len, v.u.s.ptr);
    }
    for (size_t s = 0; s < cep_match_step_count(m); s++)
        for (size_t i = 0; i < cep_match_event_count(m, s); i++)
            n += snprintf(line + n, sizeof line - n, " %s@%lld", cep_match_step_name(m, s),
                          (long long)cep_event_time(cep_match_event(m, s, i)));
    for (size_t f = 0; f < cep_match_field_count(m); f++) {
        cep_value v = cep_match_field(m, f);
        n += snprintf(line + n, sizeof line - n, " %s=%lld", cep_match_field_name(m, f),
                      v.type == CEP_INT ? (long long)v.u.i : -1LL);
    }
    strncat(c->text, line, sizeof c->text - strlen(c->text) - 2);
    strcat(c->text, ";");
    c->matches++;
    return c->stop_after && c->matches >= c->stop_after;
}

static int on_late(void *ud, const cep_event *ev) {
    collected *c = ud;
    char line[64];
    snprintf(line, sizeof line, "late@%lld;", (long long)cep_event_time(ev));
    strncat(c->text, line, sizeof c->text - strlen(c->text) - 1);
    c->late++;
    return 0;
}

static cep_program *compile_ok(const char *src) {
    cep_program *p = NULL;
    cep_diag *d = NULL;
    int rc = cep_compile(NULL, src, strlen(src), "test", &p, &d);
    ck_assert_msg(rc == CEP_OK, "%s", cep_diag_render(d));
    cep_diag_free(d);
    return p;
}

static const char *CLICK = "pattern c key user begin click where type == \"click\"\n"
                           "followedBy buy where type == \"buy\" and item == click.item within 10s\n";

/* Push (time, user, type, item) rows built with the setters. */
static void push_row(cep_engine *e, cep_event *ev, const cep_program *p, int64_t ts, const char *user,
                     const char *type, const char *item) {
    cep_event_clear(ev);
    ck_assert_int_eq(cep_event_set_time(ev, ts), CEP_OK);
    cep_event_set_string(ev, cep_program_field_slot(p, "user"), user, strlen(user));
    cep_event_set_string(ev, cep_program_field_slot(p, "type"), type, strlen(type));
    cep_event_set_string(ev, cep_program_field_slot(p, "item"), item, strlen(item));
    ck_assert_int_eq(cep_engine_push(e, ev), CEP_OK);
}

START_TEST(rows_from_c) {
    cep_program *p = compile_ok(CLICK);
    cep_engine *e = NULL;
    cep_event *ev = NULL;
    collected c = {0};
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    ck_assert_int_eq(cep_event_new(p, &ev), CEP_OK);
    cep_engine_on_match(e, on_match, &c);
    push_row(e, ev, p, 1000, "u1", "click", "i1");
    push_row(e, ev, p, 2000, "u2", "click", "i2");
    push_row(e, ev, p, 3000, "u1", "buy", "i9"); /* other item: ignored */
    push_row(e, ev, p, 4000, "u1", "buy", "i1");
    push_row(e, ev, p, 12000, "u2", "buy", "i2"); /* exactly 10 s later: outside */
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    ck_assert_str_eq(c.text, "c[1000..4000] key=u1 click@1000 buy@4000;");
    cep_stats st;
    cep_engine_stats(e, &st);
    ck_assert_uint_eq(st.events, 5);
    ck_assert_uint_eq(st.matches, 1);
    ck_assert_uint_eq(st.partial_matches, 0);
    ck_assert_uint_eq(st.keys, 0);
    ck_assert_uint_eq(st.peak_partial_matches, 2);
    ck_assert_int_eq(cep_engine_push(e, ev), CEP_EFINISHED);
    ck_assert_int_eq(cep_engine_finish(e), CEP_EFINISHED);
    cep_event_free(ev);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

START_TEST(json_out_of_order_and_late) {
    cep_program *p = compile_ok(CLICK);
    cep_engine *e = NULL;
    collected c = {0};
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    ck_assert_int_eq(cep_engine_set_max_delay(e, 2000), CEP_OK);
    cep_engine_on_match(e, on_match, &c);
    cep_engine_on_late(e, on_late, &c);
    const char *lines[] = {
        "{\"ts\":5000,\"user\":\"u\",\"type\":\"buy\",\"item\":\"x\"}",
        "{\"ts\":4000,\"user\":\"u\",\"type\":\"click\",\"item\":\"x\"}", /* 1 s late: reordered */
        "{\"ts\":9000,\"user\":\"u\",\"type\":\"noise\"}",
        "{\"ts\":6000,\"user\":\"u\",\"type\":\"click\",\"item\":\"y\"}", /* below watermark 7000 */
    };
    for (size_t i = 0; i < 4; i++) ck_assert_int_eq(cep_engine_push_json(e, lines[i], strlen(lines[i])), CEP_OK);
    ck_assert_str_eq(c.text, "c[4000..5000] key=u click@4000 buy@5000;late@6000;");
    cep_stats st;
    cep_engine_stats(e, &st);
    ck_assert_uint_eq(st.late, 1);
    ck_assert_int_eq(st.watermark, 7000);
    ck_assert_int_eq(cep_engine_set_max_delay(e, 1), CEP_EINVAL); /* too late to change */
    ck_assert_int_eq(cep_engine_push_json(e, "[1]", 3), CEP_ENOTOBJECT);
    ck_assert_int_eq(cep_engine_push_json(e, "{\"user\":1}", 10), CEP_ETIME);
    ck_assert_ptr_nonnull(strstr(cep_engine_error(e), "ts"));
    ck_assert_int_eq(cep_engine_push_json(e, "{", 1), CEP_EJSON);
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

/* a waits for a b with the same x, skip pastLastEvent: an engine whose
 * matches go to c. */
static void hold_back_engine(cep_program **p, cep_engine **e, collected *c) {
    *p = compile_ok("pattern p begin a where t == \"a\" followedBy b where t == \"b\" and x == a.x "
                    "skip pastLastEvent\n");
    *e = NULL;
    ck_assert_int_eq(cep_engine_new(*p, e), CEP_OK);
    cep_engine_on_match(*e, on_match, c);
}

START_TEST(skip_past_last_and_hold_back) {
    /* a1 waits for a b with the same x; a2 completes first but is held back
     * until a1 resolves; a1's match then prunes a2's (pastLastEvent). */
    cep_program *p;
    cep_engine *e;
    collected c = {0};
    hold_back_engine(&p, &e, &c);
    const char *lines[] = {"{\"ts\":1,\"t\":\"a\",\"x\":1}", "{\"ts\":2,\"t\":\"a\",\"x\":2}",
                           "{\"ts\":3,\"t\":\"b\",\"x\":2}", "{\"ts\":4,\"t\":\"b\",\"x\":1}"};
    for (size_t i = 0; i < 3; i++) ck_assert_int_eq(cep_engine_push_json(e, lines[i], strlen(lines[i])), CEP_OK);
    ck_assert_str_eq(c.text, ""); /* held back */
    ck_assert_int_eq(cep_engine_push_json(e, lines[3], strlen(lines[3])), CEP_OK);
    ck_assert_str_eq(c.text, "p[1..4] a@1 b@4;");
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    ck_assert_str_eq(c.text, "p[1..4] a@1 b@4;");
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

/* A key's held matches live in a block that exists only while it holds
 * some (engine.h: key_held): the key state itself stays small. */
START_TEST(held_block_only_while_held) {
    _Static_assert(sizeof(void *) != 8 || sizeof(key_state) <= 96, "a key state grew (docs/design.md, Keys)");
    cep_program *p;
    cep_engine *e;
    collected c = {0};
    hold_back_engine(&p, &e, &c);
    const char *lines[] = {"{\"ts\":1,\"t\":\"a\",\"x\":1}", "{\"ts\":2,\"t\":\"a\",\"x\":2}",
                           "{\"ts\":3,\"t\":\"a\",\"x\":3}", "{\"ts\":4,\"t\":\"b\",\"x\":2}",
                           "{\"ts\":5,\"t\":\"b\",\"x\":1}"};
    for (size_t i = 0; i < 3; i++) ck_assert_int_eq(cep_engine_push_json(e, lines[i], strlen(lines[i])), CEP_OK);
    const key_state *ks = e->keyset.first;
    ck_assert_ptr_nonnull(ks);
    ck_assert_uint_eq(ks->npms, 3);
    ck_assert_ptr_null(ks->held);
    ck_assert_int_eq(cep_engine_push_json(e, lines[3], strlen(lines[3])), CEP_OK);
    ck_assert_ptr_nonnull(ks->held); /* a2's match waits for a1 */
    ck_assert_uint_eq(ks->held->n, 1);
    ck_assert_int_eq(cep_engine_push_json(e, lines[4], strlen(lines[4])), CEP_OK);
    ck_assert_str_eq(c.text, "p[1..5] a@1 b@5;"); /* a2's pruned: it started before b@5 */
    ck_assert_ptr_null(e->keyset.first); /* nothing left: the key state went, its block too */
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

START_TEST(held_until_finish_and_watermark) {
    const char *src = "pattern p begin a where t == \"a\" followedBy b where t == \"b\" and x == a.x "
                      "within 100ms skip pastLastEvent\n";
    cep_program *p = compile_ok(src);
    cep_engine *e = NULL;
    collected c = {0};
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    cep_engine_on_match(e, on_match, &c);
    const char *lines[] = {"{\"ts\":1,\"t\":\"a\",\"x\":1}", "{\"ts\":2,\"t\":\"a\",\"x\":2}",
                           "{\"ts\":3,\"t\":\"b\",\"x\":2}"};
    for (size_t i = 0; i < 3; i++) ck_assert_int_eq(cep_engine_push_json(e, lines[i], strlen(lines[i])), CEP_OK);
    ck_assert_int_eq(cep_engine_advance_watermark(e, 100), CEP_OK);
    ck_assert_str_eq(c.text, ""); /* a1's window is [1, 101) */
    ck_assert_int_eq(cep_engine_advance_watermark(e, 50), CEP_OK); /* never goes back */
    ck_assert_int_eq(cep_engine_advance_watermark(e, 101), CEP_OK);
    ck_assert_str_eq(c.text, "p[2..3] a@2 b@3;");
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

START_TEST(emit_and_stop) {
    cep_program *p = compile_ok("pattern p begin a where t == 1 next b where t == 2 emit gap = b.ts - a.ts\n");
    cep_engine *e = NULL;
    collected c = {.stop_after = 1};
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    cep_engine_on_match(e, on_match, &c);
    const char *lines[] = {"{\"ts\":10,\"t\":1}", "{\"ts\":13,\"t\":2}", "{\"ts\":20,\"t\":1}",
                           "{\"ts\":21,\"t\":3}", "{\"ts\":22,\"t\":2}"};
    ck_assert_int_eq(cep_engine_push_json(e, lines[0], strlen(lines[0])), CEP_OK);
    ck_assert_int_eq(cep_engine_push_json(e, lines[1], strlen(lines[1])), CEP_ECALLBACK);
    for (size_t i = 2; i < 5; i++) ck_assert_int_eq(cep_engine_push_json(e, lines[i], strlen(lines[i])), CEP_OK);
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    ck_assert_str_eq(c.text, "p[10..13] a@10 b@13 gap=3;");
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

/* Each event's raw text in a match, "-" when it has none. */
static int on_match_raw(void *ud, const cep_match *m) {
    collected *c = ud;
    for (size_t s = 0; s < cep_match_step_count(m); s++)
        for (size_t i = 0; i < cep_match_event_count(m, s); i++) {
            size_t len;
            const char *raw = cep_event_raw(cep_match_event(m, s, i), &len);
            strncat(c->text, raw ? raw : "-", sizeof c->text - strlen(c->text) - 2);
            strcat(c->text, ";");
        }
    c->matches++;
    return 0;
}

/* Run lines through src with cep_engine_set_drop_raw(on): the matches'
 * raw texts in c, the engine's memory after the first line in *mem. */
static void run_raw(const char *src, int on, collected *c, uint64_t *mem) {
    cep_program *p = compile_ok(src);
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    ck_assert_int_eq(cep_engine_set_drop_raw(e, on), CEP_OK);
    cep_engine_on_match(e, on_match_raw, c);
    const char *lines[] = {"{\"ts\":10,\"t\":1,\"note\":\"a fairly long text that only printing needs\"}",
                           "{\"ts\":13,\"t\":2}"};
    ck_assert_int_eq(cep_engine_push_json(e, lines[0], strlen(lines[0])), CEP_OK);
    cep_stats st;
    cep_engine_stats(e, &st);
    *mem = st.memory;
    ck_assert_int_eq(cep_engine_push_json(e, lines[1], strlen(lines[1])), CEP_OK);
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    cep_engine_free(e);
    cep_program_free(p);
}

START_TEST(drop_raw_only_with_emit) {
    const char *emits = "pattern p begin a where t == 1 followedBy b where t == 2 emit gap = b.ts - a.ts\n";
    const char *prints = "pattern p begin a where t == 1 followedBy b where t == 2\n";
    collected kept = {0}, dropped = {0}, printed = {0}, printed0 = {0};
    uint64_t mkept, mdropped, mprinted, mprinted0;
    run_raw(emits, 0, &kept, &mkept);
    run_raw(emits, 1, &dropped, &mdropped);
    run_raw(prints, 1, &printed, &mprinted);
    run_raw(prints, 0, &printed0, &mprinted0);
    ck_assert_str_eq(kept.text, "{\"ts\":10,\"t\":1,\"note\":\"a fairly long text that only printing needs\"};"
                                "{\"ts\":13,\"t\":2};");
    /* Every event a match holds is a stored copy: none has its text. */
    ck_assert_str_eq(dropped.text, "-;-;");
    ck_assert_str_eq(printed.text, kept.text); /* a pattern that prints events keeps it */
    ck_assert_uint_lt(mdropped, mkept);
    ck_assert_uint_eq(mprinted, mprinted0); /* (another program: compared with itself) */
    ck_assert_int_eq(cep_engine_set_drop_raw(NULL, 1), CEP_EINVAL);
    cep_program *p = compile_ok(emits);
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    ck_assert_int_eq(cep_engine_set_drop_raw(e, 2), CEP_EINVAL);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

/* Events buffered under a program whose patterns all emit, then a switch
 * to one that prints events: the buffered copies keep their text (they
 * were copied under the new program's needs, not the old one's). */
START_TEST(drop_raw_follows_program_switch) {
    cep_program *a = compile_ok("pattern p begin a where t == 1 followedBy b where t == 2 emit gap = b.ts - a.ts\n");
    cep_program *b = compile_ok("pattern p begin a where t == 1 followedBy b where t == 2\n");
    cep_engine *e = NULL;
    collected c = {0};
    ck_assert_int_eq(cep_engine_new(a, &e), CEP_OK);
    ck_assert_int_eq(cep_engine_set_max_delay(e, 100), CEP_OK);
    cep_engine_on_match(e, on_match_raw, &c);
    const char *l0 = "{\"ts\":10,\"t\":1}", *l1 = "{\"ts\":13,\"t\":2}";
    ck_assert_int_eq(cep_engine_push_json(e, l0, strlen(l0)), CEP_OK); /* buffered, with its text */
    ck_assert_int_eq(cep_engine_set_drop_raw(e, 1), CEP_OK);
    ck_assert_int_eq(cep_engine_replace_program(e, b), CEP_OK);
    ck_assert_int_eq(cep_engine_push_json(e, l1, strlen(l1)), CEP_OK);
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    ck_assert_str_eq(c.text, "{\"ts\":10,\"t\":1};{\"ts\":13,\"t\":2};");
    cep_engine_free(e);
    cep_program_free(a);
    cep_program_free(b);
}
END_TEST

/* Each event's text, by its length (a row's lent text has no NUL). */
static void put_raw(collected *c, const char *tag, const cep_event *ev) {
    size_t len, at = strlen(c->text);
    const char *raw = cep_event_raw(ev, &len);
    int n = raw ? snprintf(c->text + at, sizeof c->text - at, "%s%.*s;", tag, (int)len, raw)
                : snprintf(c->text + at, sizeof c->text - at, "%s-;", tag);
    ck_assert(n > 0 && (size_t)n < sizeof c->text - at);
}

static int raw_match(void *ud, const cep_match *m) {
    for (size_t s = 0; s < cep_match_step_count(m); s++)
        for (size_t i = 0; i < cep_match_event_count(m, s); i++)
            put_raw(ud, cep_match_is_timeout(m) ? "T" : "M", cep_match_event(m, s, i));
    return 0;
}

static int raw_late(void *ud, const cep_event *ev) {
    put_raw(ud, "L", ev);
    return 0;
}

/* cep_engine_push_json lends the caller's line to its row (json.c,
 * json_parse_lent): what the engine keeps past the call (partial matches,
 * buffered events, held matches, snapshots) is its own copy, and a late
 * event's text is the line's while the callback runs. The line's buffer is
 * overwritten after every push. Also with every pattern emitting and
 * cep_engine_set_drop_raw: the late event still has its text, and so do
 * the events that waited in the reorder buffer. */
START_TEST(push_json_lent_line) {
    static const char *lines[] = {
        "{\"ts\":10,\"k\":1,\"t\":1,\"pad\":\"first line, long enough to need a block\"}",
        "{\"ts\":20,\"k\":2,\"t\":1}",
        "{\"ts\":300, \"k\":1, \"t\":2}",
        "{\"ts\":150,\"k\":1,\"t\":2,\"late\":true}", /* behind the watermark (200) */
        "{\"ts\":600,\"k\":3,\"t\":9}",
    };
    for (int emit = 0; emit < 2; emit++) {
        cep_program *p = compile_ok(emit ? "pattern p key k begin a where t == 1 followedBy b where t == 2 within 5s "
                                           "emit x = a.ts\n"
                                         : "pattern p key k begin a where t == 1 followedBy b where t == 2 within 5s\n");
        cep_engine *e = NULL, *e2 = NULL;
        collected c = {0}, c2 = {0};
        ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
        ck_assert_int_eq(cep_engine_set_max_delay(e, 100), CEP_OK);
        ck_assert_int_eq(cep_engine_set_drop_raw(e, emit), CEP_OK);
        cep_engine_on_match(e, raw_match, &c);
        cep_engine_on_timeout(e, raw_match, &c);
        cep_engine_on_late(e, raw_late, &c);
        char buf[256];
        snap_buf snap = {0};
        for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
            size_t n = strlen(lines[i]);
            memcpy(buf, lines[i], n);
            ck_assert_int_eq(cep_engine_push_json(e, buf, n), CEP_OK);
            memset(buf, 'X', sizeof buf); /* the caller reuses its buffer */
            if (i == 2) ck_assert_int_eq(cep_engine_snapshot(e, to_buf, &snap), CEP_OK);
        }
        ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
        /* The snapshot (taken with lines 0-2 held) restores the same. */
        ck_assert_int_eq(cep_engine_new(p, &e2), CEP_OK);
        ck_assert_int_eq(cep_engine_set_max_delay(e2, 100), CEP_OK);
        ck_assert_int_eq(cep_engine_set_drop_raw(e2, emit), CEP_OK);
        ck_assert_int_eq(cep_engine_restore(e2, snap.p, snap.n), CEP_OK);
        cep_engine_on_match(e2, raw_match, &c2);
        cep_engine_on_timeout(e2, raw_match, &c2);
        cep_engine_on_late(e2, raw_late, &c2);
        for (size_t i = 3; i < sizeof lines / sizeof *lines; i++) {
            size_t n = strlen(lines[i]);
            memcpy(buf, lines[i], n);
            ck_assert_int_eq(cep_engine_push_json(e2, buf, n), CEP_OK);
            memset(buf, 'X', sizeof buf);
        }
        ck_assert_int_eq(cep_engine_finish(e2), CEP_OK);
        /* (With emit and drop_raw as without: every event here waits in
         * the reorder buffer, whose copies keep their text for a reload to
         * parse again: engine_keep_event_text.) */
        char want[1024];
        snprintf(want, sizeof want, "L%s;M%s;M%s;T%s;", lines[3], lines[0], lines[2], lines[1]);
        ck_assert_str_eq(c.text, want);
        ck_assert_str_eq(c2.text, want);
        free(snap.p);
        cep_engine_free(e);
        cep_engine_free(e2);
        cep_program_free(p);
    }
}
END_TEST

START_TEST(api_edges) {
    ck_assert_str_eq(cep_strerror(CEP_OK), "success");
    ck_assert_str_eq(cep_strerror(CEP_ENOMEM), "out of memory");
    ck_assert_str_eq(cep_strerror(12345), "unknown error");
    cep_engine_free(NULL);
    cep_program_free(NULL);
    cep_event_free(NULL);
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(NULL, &e), CEP_EINVAL);
    cep_program *p = compile_ok(CLICK);
    cep_event *ev = NULL;
    ck_assert_int_eq(cep_event_new(p, &ev), CEP_OK);
    ck_assert_int_eq(cep_event_set_int(ev, 99, 1), CEP_EINVAL);
    ck_assert_int_eq(cep_event_set_int(ev, -1, 1), CEP_EINVAL);
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    ck_assert_int_eq(cep_engine_push(e, ev), CEP_ETIME); /* no time set */
    ck_assert_int_eq(cep_engine_set_time_field(e, "when"), CEP_OK);
    const char *j = "{\"when\":\"2023-11-14T22:13:20.5Z\",\"user\":\"u\"}";
    ck_assert_int_eq(cep_engine_push_json(e, j, strlen(j)), CEP_OK);
    cep_stats st;
    cep_engine_stats(e, &st);
    ck_assert_int_eq(st.watermark, 1700000000500LL);
    cep_engine_free(e);
    cep_event_free(ev);
    cep_program_free(p);
}
END_TEST

typedef struct tag_log {
    int keeps, drops;
    uint64_t kept_sum;
} tag_log;

static void on_tag(void *ud, uint64_t tag, int keep) {
    tag_log *t = ud;
    if (keep) {
        t->keeps++;
        t->kept_sum += tag;
    } else {
        t->drops++;
        t->kept_sum -= tag;
    }
}

static int tag_of_match(void *ud, const cep_match *m) {
    uint64_t *sum = ud;
    for (size_t s = 0; s < cep_match_step_count(m); s++)
        for (size_t i = 0; i < cep_match_event_count(m, s); i++) *sum += cep_event_tag(cep_match_event(m, s, i));
    return 0;
}

/* Tags ride along into stored copies; every keep gets exactly one drop, also
 * when the engine is freed with partial matches and buffered events left. */
START_TEST(tags_keep_and_drop) {
    cep_program *p = compile_ok(CLICK);
    for (int finish = 0; finish < 2; finish++) {
        cep_engine *e = NULL;
        cep_event *ev = NULL;
        tag_log t = {0};
        uint64_t matched = 0;
        ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
        ck_assert_int_eq(cep_engine_set_max_delay(e, 500), CEP_OK);
        ck_assert_int_eq(cep_event_new(p, &ev), CEP_OK);
        cep_engine_on_tag(e, on_tag, &t);
        cep_engine_on_match(e, tag_of_match, &matched);
        const char *users[] = {"a", "b", "a", "c", "a"};
        const char *types[] = {"click", "click", "buy", "noise", "click"};
        for (int i = 0; i < 5; i++) {
            cep_event_clear(ev);
            cep_event_set_time(ev, 1000 * (i + 1));
            cep_event_set_string(ev, cep_program_field_slot(p, "user"), users[i], 1);
            cep_event_set_string(ev, cep_program_field_slot(p, "type"), types[i], strlen(types[i]));
            cep_event_set_string(ev, cep_program_field_slot(p, "item"), "i", 1);
            ck_assert_int_eq(cep_event_set_tag(ev, (uint64_t)(i + 1)), CEP_OK);
            ck_assert_int_eq(cep_engine_push(e, ev), CEP_OK);
        }
        ck_assert_uint_eq(matched, 1 + 3); /* click a@1000 (tag 1) + buy a@3000 (tag 3) */
        if (finish) ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
        cep_engine_free(e);
        ck_assert_int_gt(t.keeps, 0);
        ck_assert_int_eq(t.keeps, t.drops);
        ck_assert_uint_eq(t.kept_sum, 0);
        cep_event_free(ev);
    }
    cep_program_free(p);
}
END_TEST

/* A match's events are stored events: pushed back into another engine (its
 * out-of-order buffer too) or a pool, they match as the rows they were made
 * from, tags and raw text included. */
typedef struct forward {
    cep_engine *to;
    cep_pool *pool;
    collected *log;
    uint64_t tags;
    int raws;
} forward;

/* Log the match, then: with f->to set, push each of its events on into
 * f->to and f->pool; else sum their tags and count their raw texts. */
static int forward_match(void *ud, const cep_match *m) {
    forward *f = ud;
    on_match(f->log, m);
    for (size_t s = 0; s < cep_match_step_count(m); s++)
        for (size_t i = 0; i < cep_match_event_count(m, s); i++) {
            const cep_event *ev = cep_match_event(m, s, i);
            if (f->to) {
                ck_assert_int_eq(cep_engine_push(f->to, ev), CEP_OK);
                ck_assert_int_eq(cep_pool_push(f->pool, ev), CEP_OK);
                continue;
            }
            size_t len = 0;
            const char *raw = cep_event_raw(ev, &len);
            f->tags += cep_event_tag(ev);
            if (raw && len == 4 && !memcmp(raw, "row", 4)) f->raws++;
        }
    return 0;
}

static int pool_collect(void *ud, cep_engine *e, unsigned index) {
    (void)index;
    cep_engine_on_match(e, on_match, ud);
    return cep_engine_set_max_delay(e, 5000); /* match 2's click comes after match 1's buy */
}

START_TEST(stored_events_pushed_back) {
    cep_program *p = compile_ok(CLICK);
    cep_engine *a = NULL, *b = NULL;
    cep_pool *pool = NULL;
    cep_event *ev = NULL;
    collected ca = {0}, cb = {0}, cp = {0};
    forward f = {0}, sums = {0};
    ck_assert_int_eq(cep_engine_new(p, &a), CEP_OK);
    ck_assert_int_eq(cep_engine_new(p, &b), CEP_OK);
    ck_assert_int_eq(cep_engine_set_max_delay(b, 5000), CEP_OK); /* buffered: stored copies of the views */
    ck_assert_int_eq(cep_pool_new(p, 1, pool_collect, &cp, &pool), CEP_OK);
    f.to = b;
    f.pool = pool;
    f.log = &ca;
    sums.log = &cb;
    cep_engine_on_match(a, forward_match, &f);
    cep_engine_on_match(b, forward_match, &sums);
    ck_assert_int_eq(cep_event_new(p, &ev), CEP_OK);
    const char *users[] = {"alice", "bob", "alice", "bob", "carol"};
    const char *types[] = {"click", "click", "buy", "buy", "click"};
    const char *items[] = {"i1", "a-much-longer-item-name", "i1", "a-much-longer-item-name", "i9"};
    for (int i = 0; i < 5; i++) {
        cep_event_clear(ev);
        cep_event_set_time(ev, 1000 * (i + 1));
        cep_event_set_string(ev, cep_program_field_slot(p, "user"), users[i], strlen(users[i]));
        cep_event_set_string(ev, cep_program_field_slot(p, "type"), types[i], strlen(types[i]));
        cep_event_set_string(ev, cep_program_field_slot(p, "item"), items[i], strlen(items[i]));
        cep_event_set_tag(ev, (uint64_t)1 << (8 * i));
        cep_event_set_raw(ev, "row", 4);
        ck_assert_int_eq(cep_engine_push(a, ev), CEP_OK);
    }
    ck_assert_int_eq(cep_engine_finish(a), CEP_OK);
    ck_assert_int_eq(cep_engine_finish(b), CEP_OK);
    ck_assert_int_eq(cep_pool_finish(pool), CEP_OK);
    ck_assert_int_eq(ca.matches, 2);
    ck_assert_str_eq(ca.text, "c[1000..3000] key=alice click@1000 buy@3000;c[2000..4000] key=bob click@2000 buy@4000;");
    ck_assert_str_eq(cb.text, ca.text);
    ck_assert_str_eq(cp.text, ca.text);
    ck_assert_uint_eq(sums.tags, 0x01000000 + 0x010000 + 0x0100 + 0x01);
    ck_assert_int_eq(sums.raws, 4);
    cep_pool_free(pool);
    cep_engine_free(b);
    cep_engine_free(a);
    cep_event_free(ev);
    cep_program_free(p);
}
END_TEST

/* Partial matches share their prefixes: for `a followedBy b+` over one a and
 * n b's there are n matches of average length n/2, but the engine keeps one
 * node per accepted event. Everything is freed at the end. */
/* After cep_engine_finish: nothing left of the stream. */
static void assert_no_state(const cep_engine *e) {
    cep_stats st;
    cep_engine_stats(e, &st);
    ck_assert_uint_eq(st.nodes, 0);
    ck_assert_uint_eq(st.stored_events, 0);
    ck_assert_uint_eq(st.partial_matches, 0);
    ck_assert_uint_eq(st.keys, 0);
}

START_TEST(shared_prefixes) {
    cep_program *p = compile_ok("pattern p begin a where t == \"a\" followedBy b+ where t == \"b\"\n");
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    char line[64];
    snprintf(line, sizeof line, "{\"ts\":0,\"t\":\"a\"}");
    ck_assert_int_eq(cep_engine_push_json(e, line, strlen(line)), CEP_OK);
    const int n = 2000;
    for (int i = 1; i <= n; i++) {
        snprintf(line, sizeof line, "{\"ts\":%d,\"t\":\"b\"}", i);
        ck_assert_int_eq(cep_engine_push_json(e, line, strlen(line)), CEP_OK);
    }
    cep_stats st;
    cep_engine_stats(e, &st);
    ck_assert_uint_eq(st.matches, (uint64_t)n);      /* a b1, a b1 b2, ... */
    ck_assert_uint_le(st.nodes, (uint64_t)n + 1);    /* not n * n / 2 */
    ck_assert_uint_le(st.stored_events, (uint64_t)n + 1);
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    assert_no_state(e);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

static int on_timeout_mark(void *ud, const cep_match *m) {
    collected *c = ud;
    strcat(c->text, "T");
    return on_match(ud, m);
}

typedef struct bytes {
    char *v;
    size_t n;
} bytes;

static int keep_bytes(void *ud, const void *buf, size_t len) {
    bytes *b = ud;
    b->v = realloc(b->v, b->n + len);
    memcpy(b->v + b->n, buf, len);
    b->n += len;
    return 0;
}

/* Snapshot e, free it, and restore the bytes into a new engine of p with
 * c's callbacks (and the allowed lateness, when >= 0): the engine that goes
 * on. */
static cep_engine *reborn(cep_engine *e, const cep_program *p, collected *c, int64_t lateness) {
    bytes b = {0};
    ck_assert_int_eq(cep_engine_snapshot(e, keep_bytes, &b), CEP_OK);
    cep_engine_free(e);
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    if (lateness >= 0) ck_assert_int_eq(cep_engine_set_allowed_lateness(e, lateness), CEP_OK);
    cep_engine_on_match(e, on_match, c);
    cep_engine_on_timeout(e, on_timeout_mark, c);
    ck_assert_int_eq(cep_engine_restore(e, b.v, b.n), CEP_OK);
    free(b.v);
    return e;
}

/* A key's first partial match in a key group is made in the key state's
 * own block (keys.c, engine_key_fresh), and a key whose one partial match
 * times out goes at once (engine.c, expire_lone). Here (u1, p) takes a
 * second partial match in the same bucket (its array leaves the block);
 * the first completes, so the key's first timer entry (at 10) finds
 * nothing due and the second (at 12) expires the other alone; (u1, q)
 * expires alone. The same output whole, and cut after each event with a
 * snapshot restored into a new engine. */
START_TEST(first_partial_match_paths) {
    cep_program *p = compile_ok("pattern p key user begin a where t == \"a\" followedBy b where t == \"b\" and v > a.v within 10ms\n"
                                "pattern q key user begin a where t == \"b\" followedBy c where t == \"c\" within 10ms\n");
    static const char *lines[] = {
        "{\"ts\":0,\"user\":\"u1\",\"t\":\"a\",\"v\":1}", "{\"ts\":2,\"user\":\"u1\",\"t\":\"a\",\"v\":5}",
        "{\"ts\":4,\"user\":\"u1\",\"t\":\"b\",\"v\":3}", "{\"ts\":20,\"user\":\"u2\",\"t\":\"z\",\"v\":0}",
    };
    const char *want = "p[0..4] key=u1 a@0 b@4;Tp[2..2] key=u1 a@2;Tq[4..4] key=u1 a@4;";
    for (int cut = -1; cut < 4; cut++) {
        collected c = {0};
        cep_engine *e = NULL;
        ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
        cep_engine_on_match(e, on_match, &c);
        cep_engine_on_timeout(e, on_timeout_mark, &c);
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(cep_engine_push_json(e, lines[i], strlen(lines[i])), CEP_OK);
            if (i == cut) e = reborn(e, p, &c, -1);
        }
        ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
        ck_assert_msg(!strcmp(c.text, want), "cut %d: %s", cut, c.text);
        assert_no_state(e);
        cep_stats st;
        cep_engine_stats(e, &st);
        ck_assert_uint_eq(st.timeouts, 2);
        cep_engine_free(e);
    }
    cep_program_free(p);
}
END_TEST

/* followedByAny with a loop branches on every event; the limit bounds the
 * partial matches per key, drops the oldest and counts them. */
START_TEST(partial_match_limit) {
    cep_program *p = compile_ok("pattern p key k begin a where t == \"a\" followedByAny b+ where t == \"b\" allowCombinations "
                                "followedBy c where t == \"c\"\n");
    for (int policy = CEP_LIMIT_DROP_OLDEST; policy <= CEP_LIMIT_FAIL; policy++) {
        cep_engine *e = NULL;
        ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
        ck_assert_int_eq(cep_engine_set_max_partial_matches(e, 50, policy), CEP_OK);
        char line[80];
        int limited = 0;
        for (int i = 0; i < 40; i++) {
            snprintf(line, sizeof line, "{\"ts\":%d,\"k\":1,\"t\":\"%s\"}", i, i % 10 == 0 ? "a" : "b");
            int rc = cep_engine_push_json(e, line, strlen(line));
            if (rc == CEP_ELIMIT) limited++;
            else ck_assert_int_eq(rc, CEP_OK);
            cep_stats st;
            cep_engine_stats(e, &st);
            ck_assert_uint_le(st.partial_matches, 50);
        }
        cep_stats st;
        cep_engine_stats(e, &st);
        ck_assert_uint_gt(st.dropped, 0);
        ck_assert_int_eq(limited > 0, policy == CEP_LIMIT_FAIL);
        ck_assert_int_eq(cep_engine_set_max_partial_matches(e, 5, 0), CEP_EINVAL); /* started */
        cep_engine_free(e);
    }
    cep_program_free(p);
}
END_TEST

/* A key idle longer than the state TTL loses its partial matches. */
START_TEST(state_ttl) {
    cep_program *p = compile_ok("pattern p key k begin a where t == \"a\" followedBy b where t == \"b\"\n");
    for (int ttl = 0; ttl <= 100; ttl += 100) {
        cep_engine *e = NULL;
        collected c = {0};
        ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
        ck_assert_int_eq(cep_engine_set_state_ttl(e, ttl), CEP_OK);
        cep_engine_on_match(e, on_match, &c);
        const char *lines[] = {"{\"ts\":0,\"k\":\"x\",\"t\":\"a\"}", "{\"ts\":99,\"k\":\"y\",\"t\":\"z\"}",
                               "{\"ts\":200,\"k\":\"y\",\"t\":\"z\"}", "{\"ts\":250,\"k\":\"x\",\"t\":\"b\"}"};
        for (size_t i = 0; i < 4; i++) ck_assert_int_eq(cep_engine_push_json(e, lines[i], strlen(lines[i])), CEP_OK);
        ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
        cep_stats st;
        cep_engine_stats(e, &st);
        ck_assert_uint_eq(st.ttl_dropped, ttl ? 1 : 0);
        ck_assert_uint_eq(st.matches, ttl ? 0 : 1);
        ck_assert_int_eq(cep_engine_set_state_ttl(e, 5), CEP_EINVAL); /* started */
        cep_engine_free(e);
    }
    cep_program_free(p);
}
END_TEST

/* Processing time with an injected clock: events are stamped on arrival,
 * and a tick closes windows while no event comes — no sleeping. */
static int64_t fake_now;
static int64_t fake_clock(void *ud) {
    (void)ud;
    return fake_now;
}

START_TEST(processing_time) {
    cep_program *p = compile_ok("pattern p key k begin a where t == \"a\" followedBy b where t == \"b\" within 100ms\n"
                                "pattern q key k begin a where t == \"a\" notFollowedBy n where t == \"n\" within 50ms\n");
    cep_engine *e = NULL;
    collected c = {0}, to = {0};
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    ck_assert_int_eq(cep_engine_set_time_mode(e, CEP_TIME_PROCESSING), CEP_OK);
    ck_assert_int_eq(cep_engine_set_time_mode(e, 7), CEP_EINVAL);
    cep_engine_set_clock(e, fake_clock, NULL);
    cep_engine_on_match(e, on_match, &c);
    cep_engine_on_timeout(e, on_match, &to);
    fake_now = 1000;
    const char *a = "{\"k\":1,\"t\":\"a\"}"; /* no time field: the clock stamps it */
    ck_assert_int_eq(cep_engine_push_json(e, a, strlen(a)), CEP_OK);
    fake_now = 1049;
    ck_assert_int_eq(cep_engine_tick(e), CEP_OK);
    ck_assert_str_eq(c.text, "");
    fake_now = 1050; /* q's window [1000, 1050) has closed without an n */
    ck_assert_int_eq(cep_engine_tick(e), CEP_OK);
    ck_assert_str_eq(c.text, "q[1000..1000] a@1000;");
    fake_now = 1100; /* p's window closes: a timeout, with no event arriving */
    ck_assert_int_eq(cep_engine_tick(e), CEP_OK);
    ck_assert_str_eq(to.text, "p[1000..1000] a@1000;");
    fake_now = 900; /* a clock going back is held at its last time */
    const char *b = "{\"k\":1,\"t\":\"b\",\"ts\":5}";
    ck_assert_int_eq(cep_engine_push_json(e, b, strlen(b)), CEP_OK);
    cep_stats st;
    cep_engine_stats(e, &st);
    ck_assert_int_eq(st.watermark, 1100);
    ck_assert_uint_eq(st.late, 0);
    /* A watermark moved past the clock: later events are stamped there,
     * never late (processing time has no late events). */
    ck_assert_int_eq(cep_engine_advance_watermark(e, 5000), CEP_OK);
    c.text[0] = '\0';
    ck_assert_int_eq(cep_engine_push_json(e, a, strlen(a)), CEP_OK);
    ck_assert_int_eq(cep_engine_push_json(e, b, strlen(b)), CEP_OK);
    cep_engine_stats(e, &st);
    ck_assert_uint_eq(st.late, 0);
    ck_assert_str_eq(c.text, "p[5000..5000] a@5000 b@5000;");
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

/* The memory budget bounds the state however many keys arrive. */
START_TEST(memory_limit) {
    cep_program *p = compile_ok("pattern p key k begin a where t == \"a\" followedBy b where t == \"b\"\n");
    for (int policy = CEP_LIMIT_DROP_OLDEST; policy <= CEP_LIMIT_FAIL; policy++) {
        cep_engine *e = NULL;
        ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
        ck_assert_int_eq(cep_engine_set_memory_limit(e, 64 * 1024, policy), CEP_OK);
        char line[96];
        int limited = 0;
        uint64_t peak = 0;
        for (int i = 0; i < 20000; i++) {
            snprintf(line, sizeof line, "{\"ts\":%d,\"k\":%d,\"t\":\"a\"}", i, i);
            int rc = cep_engine_push_json(e, line, strlen(line));
            if (rc == CEP_ELIMIT) limited++;
            else ck_assert_int_eq(rc, CEP_OK);
            cep_stats st;
            cep_engine_stats(e, &st);
            if (st.memory > peak) peak = st.memory;
        }
        cep_stats st;
        cep_engine_stats(e, &st);
        ck_assert_uint_le(peak, 64 * 1024);
        ck_assert_uint_gt(peak, 48 * 1024); /* the budget is used, not just respected */
        ck_assert_uint_gt(st.mem_dropped, 15000);
        ck_assert_uint_gt(st.partial_matches, 100); /* the newest keys are kept */
        ck_assert_int_eq(limited > 0, policy == CEP_LIMIT_FAIL);
        cep_engine_free(e);
    }
    cep_program_free(p);
}
END_TEST

/* Allowed lateness: a click 30 ms behind the watermark is still matched
 * when the lateness allows 50 ms; one 100 ms behind is late either way. */
START_TEST(allowed_lateness) {
    cep_program *p = compile_ok("pattern p key k begin a where t == \"a\" followedBy b where t == \"b\" within 100ms\n");
    for (int lateness = 0; lateness <= 50; lateness += 50) {
        cep_engine *e = NULL;
        collected c = {0};
        ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
        ck_assert_int_eq(cep_engine_set_allowed_lateness(e, lateness), CEP_OK);
        cep_engine_on_match(e, on_match, &c);
        cep_engine_on_late(e, on_late, &c);
        const char *lines[] = {"{\"ts\":130,\"k\":\"y\",\"t\":\"z\"}", "{\"ts\":100,\"k\":\"x\",\"t\":\"a\"}",
                               "{\"ts\":150,\"k\":\"x\",\"t\":\"b\"}", "{\"ts\":50,\"k\":\"x\",\"t\":\"a\"}"};
        for (size_t i = 0; i < 4; i++) ck_assert_int_eq(cep_engine_push_json(e, lines[i], strlen(lines[i])), CEP_OK);
        ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
        cep_stats st;
        cep_engine_stats(e, &st);
        if (lateness) {
            ck_assert_str_eq(c.text, "p[100..150] key=x a@100 b@150;late@50;");
            ck_assert_uint_eq(st.stragglers, 1);
            ck_assert_uint_eq(st.late, 1);
        } else {
            ck_assert_str_eq(c.text, "late@100;late@50;");
            ck_assert_uint_eq(st.late, 2);
        }
        cep_engine_free(e);
    }
    cep_program_free(p);
}
END_TEST

/* Matches summed into a count and an order-dependent checksum. */
typedef struct digest {
    uint64_t n, h;
} digest;

static int on_digest(void *ud, const cep_match *m) {
    digest *d = ud;
    cep_value k = cep_match_key(m, 0);
    d->n++;
    d->h = d->h * 1000003u ^ (uint64_t)k.u.i ^ ((uint64_t)cep_match_start(m) << 20) ^ (uint64_t)cep_match_end(m);
    return 0;
}

/* Timer lanes keep their entries in chunks of 4096 (engine.h, lane_at):
 * 20,000 windows (13,000 at once), armed out of order within the allowed
 * delay, popped, then cleared and sorted again across chunks by a
 * restore, fire as they do in one engine never restored: the same
 * timeouts in the same order. */
static void lane_run(const cep_program *p, int cut, digest *d) {
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    ck_assert_int_eq(cep_engine_set_max_delay(e, 50), CEP_OK);
    cep_engine_on_timeout(e, on_digest, d);
    char line[96];
    for (int i = 0; i < 30000; i++) {
        if (i == cut) { /* snapshot, then go on in a new engine restored from it */
            snap_buf b = {0};
            ck_assert_int_eq(cep_engine_snapshot(e, to_buf, &b), CEP_OK);
            cep_engine_free(e);
            ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
            ck_assert_int_eq(cep_engine_set_max_delay(e, 50), CEP_OK);
            cep_engine_on_timeout(e, on_digest, d);
            ck_assert_int_eq(cep_engine_restore(e, b.p, b.n), CEP_OK);
            free(b.p);
        }
        /* Times go back by up to 40 ms (the buffer sorts them); every
         * third key comes back with a b, so dead entries pile up. */
        int ts = 10 * i - (i * 7919) % 41, k = i % 3 == 2 ? i - 2 : i;
        snprintf(line, sizeof line, "{\"ts\":%d,\"k\":%d,\"t\":\"%s\"}", ts, k, i % 3 == 2 ? "b" : "a");
        ck_assert_int_eq(cep_engine_push_json(e, line, strlen(line)), CEP_OK);
    }
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    cep_engine_free(e);
}

/* Key map slots are 8 bytes: 8 bits of the hash and the distance from
 * the home slot beside the pointer (engine.h, keyslot); a distance of 255
 * or more is found again from the key. 300 keys aimed at one home slot
 * (found by trying keys with the map's seed) make runs past that: every
 * key is found, after each removal in a scattered order, and the map
 * empties. */
START_TEST(keymap_long_runs) {
    keymap m = {.seed = 12345};
    enum { N = 300 };
    key_state *ks[N];
    char removed[N] = {0};
    uint32_t n = 0;
    for (uint32_t i = 0; n < N; i++) {
        char k[16];
        int len = snprintf(k, sizeof k, "k%u", i);
        uint64_t h = hash_bytes(k, (size_t)len, m.seed);
        if (h & 1023) continue; /* the same home in a map of up to 1,024 slots */
        ks[n] = calloc(1, sizeof(key_state) + (size_t)len);
        ck_assert_ptr_nonnull(ks[n]);
        ks[n]->key_len = (uint32_t)len;
        memcpy(ks[n]->key, k, (size_t)len);
        ck_assert_int_eq(keymap_insert(&m, ks[n], h), 0);
        n++;
    }
    ck_assert_uint_eq(m.count, N);
    ck_assert_uint_le(m.cap, 1024);
    for (uint32_t step = 0; step < N; step++) {
        uint32_t gone = (step * 7) % N; /* 7 and 300 share no factor: each once */
        for (uint32_t j = 0; j < N; j++) {
            key_state *x = ks[j];
            key_state *f = keymap_find(&m, hash_bytes(x->key, x->key_len, m.seed), x->key, x->key_len);
            ck_assert_ptr_eq(f, removed[j] ? NULL : x);
        }
        keymap_remove(&m, ks[gone]);
        removed[gone] = 1;
    }
    ck_assert_uint_eq(m.count, 0);
    for (size_t i = 0; i < m.cap; i++) ck_assert(!m.slots[i]);
    for (uint32_t j = 0; j < N; j++) free(ks[j]);
    keymap_free(&m);
}
END_TEST

START_TEST(timer_lane_chunks) {
    cep_program *p = compile_ok("pattern p key k begin a where t == \"a\" followedBy b where t == \"b\" within 200s\n");
    digest whole = {0}, cut = {0};
    lane_run(p, -1, &whole);
    lane_run(p, 17000, &cut);
    ck_assert_uint_eq(whole.n, 10000); /* the keys with no b (10,000 others matched) */
    ck_assert_uint_eq(cut.n, whole.n);
    ck_assert_uint_eq(cut.h, whole.h);
    cep_program_free(p);
}
END_TEST

/* Timer entries the engine holds, in every lane. */
static size_t timer_entries(const cep_engine *e) {
    size_t n = 0;
    for (uint32_t i = 0; i < e->timers.nlanes; i++) n += e->timers.lanes[i].hi - e->timers.lanes[i].lo;
    return n;
}

/* A pattern without gap windows keeps one `within` entry per key, not one
 * per window (timers.c): k1's four windows hold one entry, which fires for
 * a window that has matched (at 100) and is armed again, out of order, in
 * the re-arm lane for the next (160). A straggler starts a window (70)
 * before one already armed elsewhere (k2's at 80): it takes an entry of
 * its own, since k1's pending one may end after it. Every window closes
 * at its own time: the same timeouts in the same order as one entry per
 * window gave, whole and cut by a snapshot after each event. */
START_TEST(timer_one_per_key) {
    cep_program *p = compile_ok("pattern p key k begin a where t == \"a\" followedBy b where t == \"b\" and v == a.v within 100ms\n");
    static const char *lines[] = {
        "{\"ts\":0,\"k\":\"k1\",\"t\":\"a\",\"v\":1}",  "{\"ts\":30,\"k\":\"k1\",\"t\":\"a\",\"v\":4}",
        "{\"ts\":60,\"k\":\"k1\",\"t\":\"a\",\"v\":2}", "{\"ts\":65,\"k\":\"k1\",\"t\":\"b\",\"v\":1}",
        "{\"ts\":80,\"k\":\"k2\",\"t\":\"a\",\"v\":9}", "{\"ts\":70,\"k\":\"k1\",\"t\":\"a\",\"v\":3}",
        "{\"ts\":1000,\"k\":\"k3\",\"t\":\"z\",\"v\":0}",
    };
    enum { N = sizeof lines / sizeof *lines };
    const char *want = "p[0..65] key=k1 a@0 b@65;Tp[30..30] key=k1 a@30;Tp[60..60] key=k1 a@60;"
                       "Tp[70..70] key=k1 a@70;Tp[80..80] key=k2 a@80;";
    /* Entries after each event (uncut run): k1 one for its three windows,
     * then the straggler's own, then k2's. */
    static const size_t entries[N] = {1, 1, 1, 1, 2, 3, 0};
    for (int cut = -1; cut < N; cut++) {
        collected c = {0};
        cep_engine *e = NULL;
        ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
        ck_assert_int_eq(cep_engine_set_allowed_lateness(e, 50), CEP_OK);
        cep_engine_on_match(e, on_match, &c);
        cep_engine_on_timeout(e, on_timeout_mark, &c);
        for (int i = 0; i < N; i++) {
            ck_assert_int_eq(cep_engine_push_json(e, lines[i], strlen(lines[i])), CEP_OK);
            if (cut < 0) ck_assert_uint_eq(timer_entries(e), entries[i]);
            if (i == cut) e = reborn(e, p, &c, 50);
        }
        ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
        ck_assert_msg(!strcmp(c.text, want), "cut %d: %s", cut, c.text);
        assert_no_state(e);
        cep_engine_free(e);
    }
    cep_program_free(p);
}
END_TEST

/* Stragglers on a key that always holds partial matches: each takes an
 * entry of its own, and when one fires the key's next window end is armed
 * again beside the key's pending entry. Two entries of one key due at the
 * same deadline must be armed again once, not once each: else every
 * straggler left the key one more entry for as long as it held partial
 * matches (here 40 stragglers, 40 entries more). */
START_TEST(timer_stragglers_rearm_once) {
    cep_program *p = compile_ok("pattern p key k begin a where t == \"a\" followedBy b where t == \"b\" within 100ms\n");
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    ck_assert_int_eq(cep_engine_set_allowed_lateness(e, 50), CEP_OK);
    size_t most = 0;
    for (int64_t ts = 0; ts < 4000; ts += 10) {
        char line[96];
        int n = snprintf(line, sizeof line, "{\"ts\":%lld,\"k\":\"k1\",\"t\":\"a\"}", (long long)ts);
        ck_assert_int_eq(cep_engine_push_json(e, line, (size_t)n), CEP_OK);
        if (ts % 100 == 50) { /* a straggler, 30 ms late */
            n = snprintf(line, sizeof line, "{\"ts\":%lld,\"k\":\"k1\",\"t\":\"a\"}", (long long)ts - 30);
            ck_assert_int_eq(cep_engine_push_json(e, line, (size_t)n), CEP_OK);
        }
        if (timer_entries(e) > most) most = timer_entries(e);
    }
    ck_assert_msg(most <= 4, "%zu timer entries for one key", most);
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    assert_no_state(e);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

/* Key blocks of grouped patterns (two rules on one key) freed with their
 * partial match are kept for the next key of their size (keys.c): they
 * must count as free, class by class, for keys of every length (the
 * slab's 8-byte classes, and past 256 bytes where none is kept), so
 * stats.memory is the same each round and 0 when no key is left. */
START_TEST(kept_key_blocks_counted_free) {
    cep_program *p = compile_ok("pattern p key k begin a where t == 1 followedBy b where t == 2 within 10ms\n"
                                "pattern q key k begin a where t == 1 followedBy b where t == 3 within 20ms\n");
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    uint64_t peak[3] = {0}, after[3] = {0};
    int64_t ts = 0;
    for (int round = 0; round < 3; round++) {
        for (int len = 1; len <= 300; len++)
            for (int copy = 0; copy < 3; copy++) { /* (more than one block of a class kept) */
                char key[320], line[400];
                memset(key, 'a' + copy, (size_t)len);
                key[len] = 0;
                int n = snprintf(line, sizeof line, "{\"ts\":%lld,\"k\":\"%s\",\"t\":1}", (long long)ts, key);
                ck_assert_int_eq(cep_engine_push_json(e, line, (size_t)n), CEP_OK);
            }
        cep_stats st;
        cep_engine_stats(e, &st);
        peak[round] = st.memory;
        ck_assert_uint_eq(st.keys, 1800); /* (a key state per rule) */
        ts += 1000; /* every window closes: all keys go (their blocks kept or given back) */
        char line[64];
        int n = snprintf(line, sizeof line, "{\"ts\":%lld,\"k\":\"z\",\"t\":9}", (long long)ts);
        ck_assert_int_eq(cep_engine_push_json(e, line, (size_t)n), CEP_OK);
        ck_assert_int_eq(cep_engine_advance_watermark(e, ts + 100), CEP_OK);
        cep_engine_stats(e, &st);
        ck_assert_uint_eq(st.keys, 0);
        after[round] = st.memory;
        ts += 1000;
    }
    ck_assert_uint_eq(peak[2], peak[1]); /* (round 0: the arrays of expiry not made yet) */
    ck_assert_uint_eq(after[1], after[0]);
    ck_assert_uint_eq(after[2], after[0]);
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    cep_stats st;
    cep_engine_stats(e, &st);
    ck_assert_uint_eq(st.memory, 0);
    assert_no_state(e);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

/* Kept key blocks go back to their chunks before the slab grows: keys of
 * eight sizes that all go, then stored events of another size, reserve
 * about what the events alone do (a chunk held by a kept block
 * is not taken by another size: 10.2 MB against 8.5 before the slab's
 * reclaim hook, and 7.4 for the events alone). */
static uint64_t reserved_after(int keys, int events) {
    cep_program *p = compile_ok("pattern p key k begin a where t == 1 followedBy b where t == 2 within 1s\n"
                                "pattern q key k begin a where t == 1 followedBy b where t == 3 within 1s\n"
                                "pattern r begin a where t == 5 followedBy b where t == 6 within 100s\n");
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    char line[512];
    long long ts = 0;
    unsigned r = 1;
    for (int i = 0; i < keys * 4; i++) {
        char key[100];
        int len = 20 + (i % 8) * 8, n;
        r = r * 1103515245u + 12345u;
        n = snprintf(key, sizeof key, "%u", (r >> 8) % (unsigned)keys);
        memset(key + n, 'x', (size_t)(len - n));
        key[len] = 0;
        n = snprintf(line, sizeof line, "{\"ts\":%lld,\"k\":\"%s\",\"t\":1}", ts, key);
        ck_assert_int_eq(cep_engine_push_json(e, line, (size_t)n), CEP_OK);
        if (i % 4 == 0) ts++;
    }
    ts += 10000;
    ck_assert_int_eq(cep_engine_advance_watermark(e, ts), CEP_OK);
    for (int i = 0; i < events; i++) {
        int n = snprintf(line, sizeof line, "{\"ts\":%lld,\"t\":5,\"pad\":\"%0*d\"}", ts, 100 + i % 3, 0);
        ck_assert_int_eq(cep_engine_push_json(e, line, (size_t)n), CEP_OK);
    }
    cep_stats st;
    cep_engine_stats(e, &st);
    ck_assert_uint_le(st.keys, 1); /* (r's, keyless) */
    cep_engine_free(e);
    cep_program_free(p);
    return st.memory + st.pool_idle;
}

START_TEST(kept_key_blocks_reclaimed) {
    uint64_t events = reserved_after(0, 30000), both = reserved_after(50000, 30000);
    /* (The keys' other leftovers, node slabs and tables, cost ~1.0 MB here;
     * the chunks kept blocks held cost 1.7 MB more.) */
    ck_assert_msg(both <= events + 1536 * 1024, "%llu bytes reserved, %llu for the events alone",
                  (unsigned long long)both, (unsigned long long)events);
}
END_TEST

/* A key waiting in many states keeps its buckets in an array whose room,
 * a power of two, the key state holds as its log (key_bcap): 1, 2, 4, 8,
 * 16. A 12-step chain over a staircase of events (1; 1 2; 1 2 3; ...)
 * leaves one key's partial matches in up to 11 states at once; they
 * move, complete and are counted as the chain's rule says (simulated
 * here), whole and through a snapshot taken at the widest point. */
START_TEST(key_many_buckets) {
    char src[1024];
    int n = snprintf(src, sizeof src, "pattern p key k begin s1 where t == 1\n");
    for (int j = 2; j <= 12; j++) n += snprintf(src + n, sizeof src - (size_t)n, "followedBy s%d where t == %d\n", j, j);
    cep_program *p = compile_ok(src);
    for (int cut = 0; cut < 2; cut++) {
        digest d = {0};
        cep_engine *e = NULL;
        ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
        cep_engine_on_match(e, on_digest, &d);
        uint64_t waiting[14] = {0}, done = 0; /* waiting[j]: partial matches waiting for t == j */
        int64_t ts = 0, widest = 0;
        for (int r = 1; r <= 12; r++)
            for (int t = r; t >= 1; t--) { /* (from the top: a partial match takes one step an event) */
                char line[96];
                snprintf(line, sizeof line, "{\"ts\":%lld,\"k\":7,\"t\":%d}", (long long)ts++, t);
                ck_assert_int_eq(cep_engine_push_json(e, line, strlen(line)), CEP_OK);
                if (t == 12) done += waiting[12];
                else waiting[t + 1] += waiting[t];
                waiting[t] = 0;
                if (t == 1) waiting[2]++;
                uint64_t live = 0;
                int64_t states = 0;
                for (int j = 2; j <= 12; j++) {
                    live += waiting[j];
                    states += waiting[j] > 0;
                }
                cep_stats st;
                cep_engine_stats(e, &st);
                ck_assert_uint_eq(st.partial_matches, live);
                ck_assert_uint_eq(st.matches, done);
                if (states > widest) widest = states;
                if (cut && r == 11 && t == 1) { /* the widest point: a snapshot, restored */
                    snap_buf b = {0};
                    ck_assert_int_eq(cep_engine_snapshot(e, to_buf, &b), CEP_OK);
                    cep_engine_free(e);
                    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
                    cep_engine_on_match(e, on_digest, &d);
                    ck_assert_int_eq(cep_engine_restore(e, b.p, b.n), CEP_OK);
                    free(b.p);
                }
            }
        ck_assert_int_ge(widest, 9); /* more than 8 buckets: room for 16 */
        ck_assert_uint_eq(d.n, done);
        ck_assert_uint_gt(done, 0);
        ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
        assert_no_state(e);
        cep_engine_free(e);
    }
    cep_program_free(p);
}
END_TEST

/* cep_engine_push_many gives what single pushes give, in the same order,
 * also with enough keys (60k) that it fetches key states ahead; and it
 * stops at the first bad row, saying how many went in. */
typedef struct order {
    int64_t b[256];
    int n;
} order;

static int on_order(void *ud, const cep_match *m) {
    order *o = ud;
    if (o->n < 256) o->b[o->n++] = cep_event_time(cep_match_event(m, 1, 0));
    return 0;
}

/* One partial match branching on every event: `a followedByAny b` keeps
 * the a waiting and branches off (a, b_i) for each b, each branching taking
 * a label bit, so 100 b's run out of 64 bits and the key is relabelled on
 * the way. The c then completes every (a, b_i) in one step, same start:
 * they must come out in branch order, b_1 first (language.md, Output
 * order, rule 4). A broken relabelling scrambles or repeats them. The
 * pattern is one the engine keeps compactly (tecs.c), which has no
 * labels: this is the flat form's test (CEP_COMPACT=0), then the compact
 * form must give the same order. */
START_TEST(branch_order_survives_relabel) {
    cep_program *p = compile_ok("pattern r key k begin a where t == 1\n"
                                "followedByAny b where t == 2 followedByAny c where t == 3\n");
    cep_engine *e = NULL;
    cep_event *ev = NULL;
    int compact = _i; /* (the loop of tcase_add_loop_test) */
    if (!compact) setenv("CEP_COMPACT", "0", 1);
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    unsetenv("CEP_COMPACT");
    ck_assert_int_eq(cep_event_new(p, &ev), CEP_OK);
    order o = {.n = 0};
    cep_engine_on_match(e, on_order, &o);
    int sk = cep_program_field_slot(p, "k"), st = cep_program_field_slot(p, "t");
    enum { NB = 100 };
    for (int i = 0; i < NB + 2; i++) {
        cep_event_clear(ev);
        cep_event_set_time(ev, i);
        cep_event_set_int(ev, sk, 7);
        cep_event_set_int(ev, st, i == 0 ? 1 : i <= NB ? 2 : 3);
        ck_assert_int_eq(cep_engine_push(e, ev), CEP_OK);
    }
    /* Inside: the key's partial matches are strictly in label order in
     * their buckets (ties would mean lost order), within 64 bits. */
    const key_state *ks = e->keyset.first;
    ck_assert_ptr_nonnull(ks);
    ck_assert_uint_le(ks->max_used, 64);
    size_t seen = 0;
    const bucket *bv = key_buckets(ks);
    for (uint32_t i = 0; i < ks->nb; i++)
        for (uint32_t j = bv[i].lo; j + 1 < bv[i].hi; j++, seen++)
            ck_assert_msg(pm_less(&bv[i].v[j], &bv[i].v[j + 1]), "partial matches %u and %u tie", j, j + 1);
    if (compact) ck_assert_ptr_nonnull(key_tecs(ks));
    else ck_assert_uint_ge(seen, NB - 1); /* the 100 (a, b_i) wait in one bucket */
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    ck_assert_int_eq(o.n, NB);
    for (int i = 0; i < NB; i++) ck_assert_int_eq(o.b[i], i + 1);
    cep_event_free(ev);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

START_TEST(push_many_as_push) {
    cep_program *p = compile_ok("pattern c key user begin click where type == 1\n"
                                "followedBy buy where type == 2 and item == click.item within 10s\n"
                                "skip pastLastEvent\n");
    int su = cep_program_field_slot(p, "user"), st = cep_program_field_slot(p, "type"),
        si = cep_program_field_slot(p, "item");
    enum { N = 200000, CH = 100 };
    static cep_event *rows[CH];
    for (int j = 0; j < CH; j++) ck_assert_int_eq(cep_event_new(p, &rows[j]), CEP_OK);
    digest d[2] = {{0, 0}, {0, 0}};
    for (int mode = 0; mode < 2; mode++) {
        cep_engine *e = NULL;
        ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
        cep_engine_on_match(e, on_digest, &d[mode]);
        uint64_t r = 12345;
        for (int i = 0; i < N; i += CH) {
            for (int j = 0; j < CH; j++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                cep_event_clear(rows[j]);
                cep_event_set_time(rows[j], (int64_t)(i + j) / 50);
                cep_event_set_int(rows[j], su, (int64_t)((r >> 33) % 60000));
                cep_event_set_int(rows[j], st, (int64_t)((r >> 20) % 10 < 7 ? 1 : 2));
                cep_event_set_int(rows[j], si, (int64_t)((r >> 8) % 4));
            }
            if (mode == 0) {
                for (int j = 0; j < CH; j++) ck_assert_int_eq(cep_engine_push(e, rows[j]), CEP_OK);
            } else {
                size_t pushed = 0;
                ck_assert_int_eq(cep_engine_push_many(e, (const cep_event *const *)rows, CH, &pushed), CEP_OK);
                ck_assert_uint_eq(pushed, CH);
            }
        }
        ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
        cep_engine_free(e);
    }
    ck_assert_uint_gt(d[0].n, 1000);
    ck_assert_uint_eq(d[0].n, d[1].n);
    ck_assert_uint_eq(d[0].h, d[1].h);

    /* The third row has no time: two go in, its error comes back. */
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    for (int j = 0; j < 4; j++) {
        cep_event_clear(rows[j]);
        if (j != 2) cep_event_set_time(rows[j], j);
    }
    size_t pushed = 99;
    ck_assert_int_eq(cep_engine_push_many(e, (const cep_event *const *)rows, 4, &pushed), CEP_ETIME);
    ck_assert_uint_eq(pushed, 2);
    ck_assert_int_eq(cep_engine_push_many(e, NULL, 0, &pushed), CEP_OK);
    ck_assert_uint_eq(pushed, 0);
    ck_assert_int_eq(cep_engine_push_many(NULL, (const cep_event *const *)rows, 1, NULL), CEP_EINVAL);
    cep_engine_stats(e, &(cep_stats){0});
    cep_engine_free(e);
    for (int j = 0; j < CH; j++) cep_event_free(rows[j]);
    cep_program_free(p);
}
END_TEST

/* An event handed out by one engine's match, pushed into another: the
 * second keeps a copy of its own (not the first engine's block), so the
 * first can be freed and the second's counters stay true. Also what the
 * builder-only calls do on such an event. */
static cep_engine *chained;
static int push_on(void *ud, const cep_match *m) {
    (void)ud;
    const cep_event *ev = cep_match_event(m, 0, 0);
    ck_assert_str_eq(cep_event_error(ev), "");
    cep_event_free((cep_event *)ev); /* the engine's: nothing happens */
    ck_assert_int_eq(cep_engine_push(chained, ev), CEP_OK);
    return 0;
}

START_TEST(match_event_pushed_elsewhere) {
    cep_program *p = compile_ok("pattern p begin a where t == \"a\" followedBy b where t == \"b\"\n");
    cep_engine *a = NULL;
    ck_assert_int_eq(cep_engine_new(p, &a), CEP_OK);
    ck_assert_int_eq(cep_engine_new(p, &chained), CEP_OK);
    collected c = {0};
    cep_engine_on_match(a, push_on, NULL);
    cep_engine_on_match(chained, on_match, &c);
    const char *l1 = "{\"ts\":1,\"t\":\"a\"}", *l2 = "{\"ts\":2,\"t\":\"b\"}", *l3 = "{\"ts\":3,\"t\":\"b\"}";
    ck_assert_int_eq(cep_engine_push_json(a, l1, strlen(l1)), CEP_OK);
    ck_assert_int_eq(cep_engine_push_json(a, l2, strlen(l2)), CEP_OK);
    cep_stats st;
    cep_engine_stats(chained, &st);
    ck_assert_uint_eq(st.stored_events, 1); /* its own copy of a@1 */
    ck_assert_uint_eq(st.partial_matches, 1);
    ck_assert_int_eq(cep_engine_finish(a), CEP_OK);
    cep_engine_free(a); /* the copy must not live in a's memory */
    ck_assert_int_eq(cep_engine_push_json(chained, l3, strlen(l3)), CEP_OK);
    ck_assert_int_eq(cep_engine_finish(chained), CEP_OK);
    ck_assert_str_eq(c.text, "p[1..3] a@1 b@3;");
    cep_engine_stats(chained, &st);
    ck_assert_uint_eq(st.stored_events, 0);
    ck_assert_uint_eq(st.stored_bytes, 0);
    cep_engine_free(chained);
    chained = NULL;
    cep_program_free(p);
}
END_TEST

/* push_many's count after a failure: an event refused before going in
 * does not count, one matched before the call failed does. */
static int stop_at_match(void *ud, const cep_match *m) {
    (void)ud;
    (void)m;
    return 1;
}

START_TEST(push_many_counts_what_went_in) {
    cep_program *p = compile_ok("pattern p begin a where t == \"a\" followedBy b where t == \"b\"\n");
    int st_t = cep_program_field_slot(p, "t");
    cep_event *rows[3];
    for (int j = 0; j < 3; j++) {
        ck_assert_int_eq(cep_event_new(p, &rows[j]), CEP_OK);
        cep_event_set_time(rows[j], j + 1);
        cep_event_set_string(rows[j], st_t, j == 0 ? "a" : "b", 1);
    }
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    cep_engine_on_match(e, stop_at_match, NULL);
    size_t pushed = 99;
    ck_assert_int_eq(cep_engine_push_many(e, (const cep_event *const *)rows, 3, &pushed), CEP_ECALLBACK);
    ck_assert_uint_eq(pushed, 2); /* the b that matched went in */
    cep_stats st;
    cep_engine_stats(e, &st);
    ck_assert_uint_eq(st.events, 2);
    const cep_event *with_null[2] = {rows[2], NULL};
    ck_assert_int_eq(cep_engine_push_many(e, with_null, 2, &pushed), CEP_EINVAL);
    ck_assert_uint_eq(pushed, 1);
    cep_engine_free(e);
    for (int j = 0; j < 3; j++) cep_event_free(rows[j]);
    cep_program_free(p);
}
END_TEST

/* Allowed lateness next to INT64_MIN: no overflow, and an event within
 * the lateness is a straggler, as the pool's router decides. */
START_TEST(lateness_at_int64_min) {
    cep_program *p = compile_ok("pattern p begin a where t == \"a\" followedBy b where t == \"b\"\n");
    int st_t = cep_program_field_slot(p, "t");
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    ck_assert_int_eq(cep_engine_set_allowed_lateness(e, 100), CEP_OK);
    cep_event *ev = NULL;
    ck_assert_int_eq(cep_event_new(p, &ev), CEP_OK);
    cep_event_set_time(ev, INT64_MIN + 5);
    cep_event_set_string(ev, st_t, "a", 1);
    ck_assert_int_eq(cep_engine_push(e, ev), CEP_OK);
    cep_event_set_time(ev, INT64_MIN + 1);
    ck_assert_int_eq(cep_engine_push(e, ev), CEP_OK);
    cep_stats st;
    cep_engine_stats(e, &st);
    ck_assert_uint_eq(st.late, 0);
    ck_assert_uint_eq(st.stragglers, 1);
    ck_assert_uint_eq(st.partial_matches, 2);
    cep_event_free(ev);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

/* cep_event_set_time alone makes the time field readable: a condition on
 * ts sees the event time (issue 16: it saw null, 0 matches), and the
 * caller's row is given back as it was. */
START_TEST(time_field_reads_event_time) {
    cep_program *p = compile_ok("pattern p begin a where ts > 5 next b where ts - a.ts == 3\n"
                                "  emit first = a.ts, gap = b.ts - a.ts\n");
    cep_engine *e;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    collected c = {0};
    cep_engine_on_match(e, on_match, &c);
    cep_event *ev;
    ck_assert_int_eq(cep_event_new(p, &ev), CEP_OK);
    int slot = cep_program_field_slot(p, CEP_DEFAULT_TIME_FIELD);
    ck_assert_int_ge(slot, 0);
    int64_t times[] = {4, 6, 9};
    for (size_t i = 0; i < 3; i++) {
        cep_event_clear(ev);
        ck_assert_int_eq(cep_event_set_time(ev, times[i]), CEP_OK);
        ck_assert_int_eq(cep_engine_push(e, ev), CEP_OK);
        ck_assert_int_eq(cep_event_value(ev, slot).type, CEP_NULL); /* put back */
    }
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    ck_assert_str_eq(c.text, "p[6..9] a@6 b@9 first=6 gap=3;");
    cep_event_free(ev);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

/* A nested time field (a path) with the C API and JSON. */
START_TEST(time_field_path) {
    cep_program *p = compile_ok("pattern p begin a next b where meta.t - a.meta.t == 2 and `x-y` == 1\n");
    cep_engine *e;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    ck_assert_int_eq(cep_engine_set_time_field(e, "meta..t"), CEP_EINVAL);
    ck_assert_int_eq(cep_engine_set_time_field(e, "meta.`t`"), CEP_OK);
    collected c = {0};
    cep_engine_on_match(e, on_match, &c);
    const char *lines[] = {"{\"meta\":{\"t\":\"1970-01-01T00:00:00.010Z\"}}", "{\"meta\":{\"t\":12},\"x-y\":1}"};
    for (size_t i = 0; i < 2; i++) ck_assert_int_eq(cep_engine_push_json(e, lines[i], strlen(lines[i])), CEP_OK);
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    ck_assert_str_eq(c.text, "p[10..12] a@10 b@12;");
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

/* Gates the routing index decides by thresholds (nfa/route.c,
 * runtime/visit.c) against values JSON cannot carry: NaN passes no
 * comparison (as value_compare says), infinities order as numbers. */
START_TEST(thresholds_nan_and_infinity) {
    cep_program *p = compile_ok("pattern ge begin e where type == \"a\" and v >= 2\n"
                                "pattern lt begin e where type == \"a\" and v < 2.5\n"
                                "pattern eq begin e where type == \"a\" and v == 2\n");
    collected c = {0};
    cep_engine *e = NULL;
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    cep_engine_on_match(e, on_match, &c);
    cep_event *ev = NULL;
    ck_assert_int_eq(cep_event_new(p, &ev), CEP_OK);
    const double v[] = {NAN, INFINITY, -INFINITY, 2.0};
    for (int i = 0; i < 4; i++) {
        cep_event_clear(ev);
        cep_event_set_time(ev, i + 1);
        cep_event_set_string(ev, cep_program_field_slot(p, "type"), "a", 1);
        cep_event_set_double(ev, cep_program_field_slot(p, "v"), v[i]);
        ck_assert_int_eq(cep_engine_push(e, ev), CEP_OK);
    }
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    ck_assert_str_eq(c.text, "ge[2..2] e@2;lt[3..3] e@3;ge[4..4] e@4;lt[4..4] e@4;eq[4..4] e@4;");
    cep_stats st;
    cep_engine_stats(e, &st);
    ck_assert_uint_eq(st.matches, 5);
    cep_event_free(ev);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

Suite *engine_suite(void) {
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_add_test(tc, rows_from_c);
    tcase_add_test(tc, time_field_reads_event_time);
    tcase_add_test(tc, time_field_path);
    tcase_add_test(tc, json_out_of_order_and_late);
    tcase_add_test(tc, skip_past_last_and_hold_back);
    tcase_add_test(tc, held_block_only_while_held);
    tcase_add_test(tc, held_until_finish_and_watermark);
    tcase_add_test(tc, emit_and_stop);
    tcase_add_test(tc, api_edges);
    tcase_add_test(tc, tags_keep_and_drop);
    tcase_add_test(tc, stored_events_pushed_back);
    tcase_add_test(tc, shared_prefixes);
    tcase_add_test(tc, partial_match_limit);
    tcase_add_test(tc, state_ttl);
    tcase_add_test(tc, processing_time);
    tcase_add_test(tc, memory_limit);
    tcase_add_test(tc, allowed_lateness);
    tcase_add_test(tc, push_many_as_push);
    tcase_add_loop_test(tc, branch_order_survives_relabel, 0, 2);
    tcase_add_test(tc, match_event_pushed_elsewhere);
    tcase_add_test(tc, push_many_counts_what_went_in);
    tcase_add_test(tc, lateness_at_int64_min);
    tcase_add_test(tc, thresholds_nan_and_infinity);
    tcase_add_test(tc, timer_lane_chunks);
    tcase_add_test(tc, timer_one_per_key);
    tcase_add_test(tc, timer_stragglers_rearm_once);
    tcase_add_test(tc, key_many_buckets);
    tcase_add_test(tc, kept_key_blocks_counted_free);
    tcase_add_test(tc, kept_key_blocks_reclaimed);
    tcase_add_test(tc, keymap_long_runs);
    tcase_add_test(tc, first_partial_match_paths);
    tcase_add_test(tc, drop_raw_only_with_emit);
    tcase_add_test(tc, drop_raw_follows_program_switch);
    tcase_add_test(tc, push_json_lent_line);
    suite_add_tcase(s, tc);
    return s;
}
