/* test_budget.c — the memory budget (cep_engine_set_memory_limit) is a
 * bound on what the engine holds: the out-of-order buffer counts, and one
 * event's fan-out cannot pass it before the state is cut back (issue 22,
 * findings 6 and 8). stats.memory is read after every call and, for the
 * fan-out, inside the match callback, in the middle of the call. */
#include "config.h"
#include <stdio.h>
#include <string.h>

#include "cepheus.h"
#include "slab.h"
#include "suites.h"

static cep_program *compile_ok(const char *src) {
    cep_program *p = NULL;
    cep_diag *d = NULL;
    int rc = cep_compile(NULL, src, strlen(src), "test", &p, &d);
    ck_assert_msg(rc == CEP_OK, "%s", cep_diag_render(d));
    cep_diag_free(d);
    return p;
}

typedef struct watch {
    cep_engine *e;
    uint64_t matches, late, peak; /* peak: stats.memory seen in a callback */
} watch;

static int on_match(void *ud, const cep_match *m) {
    (void)m;
    watch *w = ud;
    cep_stats st;
    cep_engine_stats(w->e, &st);
    if (st.memory > w->peak) w->peak = st.memory;
    w->matches++;
    return 0;
}

static int on_late(void *ud, const cep_event *ev) {
    (void)ev;
    ((watch *)ud)->late++;
    return 0;
}

/* A max delay that never lets the watermark reach an event: without the
 * budget every event would wait in the buffer until the end (the state
 * grew to 438 MB at --max-memory 10M). With it the buffer runs early, in
 * time order: an in-order stream loses nothing, and no partial match is
 * dropped for it. */
START_TEST(buffer_within_budget) {
    cep_program *p = compile_ok("pattern p key k begin a where t == \"a\" next b where t == \"b\"\n");
    const uint64_t budget = 256 * 1024;
    for (int policy = CEP_LIMIT_DROP_OLDEST; policy <= CEP_LIMIT_FAIL; policy++) {
        cep_engine *e = NULL;
        watch w = {0};
        ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
        w.e = e;
        cep_engine_on_match(e, on_match, &w);
        cep_engine_on_late(e, on_late, &w);
        ck_assert_int_eq(cep_engine_set_max_delay(e, 1000000000), CEP_OK);
        ck_assert_int_eq(cep_engine_set_memory_limit(e, budget, policy), CEP_OK);
        char line[160];
        uint64_t peak = 0, limited = 0;
        for (int i = 0; i < 20000; i++) {
            snprintf(line, sizeof line, "{\"ts\":%d,\"k\":%d,\"t\":\"%s\",\"pad\":\"%064d\"}", i, (i / 2) % 97,
                     i % 2 ? "b" : "a", i);
            int rc = cep_engine_push_json(e, line, strlen(line));
            if (rc == CEP_ELIMIT) limited++;
            else ck_assert_int_eq(rc, CEP_OK);
            cep_stats st;
            cep_engine_stats(e, &st);
            if (st.memory > peak) peak = st.memory;
        }
        ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
        cep_stats st;
        cep_engine_stats(e, &st);
        ck_assert_uint_le(peak, budget);
        /* Inside a call, while events wait in the buffer, by an eighth at
         * most (docs/state.md, "The memory budget"). */
        ck_assert_uint_le(w.peak, budget + budget / 8);
        ck_assert_uint_gt(peak, budget / 2); /* the buffer uses the budget */
        ck_assert_uint_eq(w.matches, 10000); /* every a-b pair */
        ck_assert_uint_eq(st.mem_dropped, 0);
        ck_assert_uint_eq(w.late, 0);
        ck_assert_int_eq(limited > 0, policy == CEP_LIMIT_FAIL);
        cep_engine_free(e);
    }
    cep_program_free(p);
}
END_TEST

/* Out of order under the budget: what runs early moves the watermark, so
 * an event older than it is late (counted, reported), never matched out
 * of order; the state stays within the budget. */
START_TEST(buffer_early_makes_late) {
    cep_program *p = compile_ok("pattern p key k begin a where t == \"a\" followedBy b where t == \"b\"\n");
    const uint64_t budget = 128 * 1024;
    cep_engine *e = NULL;
    watch w = {0};
    ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
    w.e = e;
    cep_engine_on_match(e, on_match, &w);
    cep_engine_on_late(e, on_late, &w);
    ck_assert_int_eq(cep_engine_set_max_delay(e, 1000000000), CEP_OK);
    ck_assert_int_eq(cep_engine_set_memory_limit(e, budget, CEP_LIMIT_DROP_OLDEST), CEP_OK);
    char line[160];
    uint64_t peak = 0;
    unsigned x = 1;
    for (int i = 0; i < 20000; i++) {
        x = x * 1103515245u + 12345u;
        int ts = i * 10 - (int)(x >> 16) % 20000; /* up to 2000 events out of order */
        snprintf(line, sizeof line, "{\"ts\":%d,\"k\":%d,\"t\":\"%s\",\"pad\":\"%064d\"}", ts, i % 50,
                 (x >> 8) % 2 ? "b" : "a", i);
        ck_assert_int_eq(cep_engine_push_json(e, line, strlen(line)), CEP_OK);
        cep_stats st;
        cep_engine_stats(e, &st);
        if (st.memory > peak) peak = st.memory;
    }
    ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
    cep_stats st;
    cep_engine_stats(e, &st);
    ck_assert_uint_le(peak, budget);
    ck_assert_uint_le(w.peak, budget + budget / 8);
    ck_assert_uint_gt(w.late, 0);
    ck_assert_uint_eq(st.late, w.late);
    ck_assert_uint_eq(st.events + st.late, 20000);
    cep_engine_free(e);
    cep_program_free(p);
}
END_TEST

/* followedByAny b+ allowCombinations: each b can more than double a key's
 * partial matches. The budget must hold inside the call too (the match
 * callback runs after the step's new partial matches are in place), not
 * only once the call has cut the state back. */
START_TEST(fanout_within_budget) {
    cep_program *p = compile_ok("pattern p begin a where t == \"a\"\n"
                                "followedByAny b+ where t == \"b\" allowCombinations\n");
    const uint64_t budgets[] = {256 * 1024, 1024 * 1024};
    for (size_t bi = 0; bi < 2; bi++) {
        cep_engine *e = NULL;
        watch w = {0};
        ck_assert_int_eq(cep_engine_new(p, &e), CEP_OK);
        w.e = e;
        cep_engine_on_match(e, on_match, &w);
        ck_assert_int_eq(cep_engine_set_memory_limit(e, budgets[bi], CEP_LIMIT_DROP_OLDEST), CEP_OK);
        char line[64];
        uint64_t peak = 0;
        for (int i = 0; i < 120; i++) {
            snprintf(line, sizeof line, "{\"ts\":%d,\"t\":\"%s\"}", i, i ? "b" : "a");
            ck_assert_int_eq(cep_engine_push_json(e, line, strlen(line)), CEP_OK);
            cep_stats st;
            cep_engine_stats(e, &st);
            if (st.memory > peak) peak = st.memory;
        }
        cep_stats st;
        cep_engine_stats(e, &st);
        ck_assert_uint_le(peak, budgets[bi]);
        ck_assert_uint_le(w.peak, budgets[bi]);
        ck_assert_uint_gt(w.peak, budgets[bi] / 8); /* and the state is not thrown away */
        ck_assert_uint_gt(st.mem_dropped, 0);
        ck_assert_uint_gt(w.matches, 1000);
        ck_assert_int_eq(cep_engine_finish(e), CEP_OK);
        cep_engine_free(e);
    }
    cep_program_free(p);
}
END_TEST

/* The engine's allocator: blocks of one size, all freed, serve another
 * size (before, they stayed idle on their size's free list: the budget
 * counts blocks in use, so a stream whose events changed size could hold
 * twice the budget), and blocks never overlap. In sanitizer builds every
 * block goes to the heap (reserved stays 0); the checks hold there too. */
START_TEST(slab_reuses_freed_chunks) {
    slab s;
    memset(&s, 0, sizeof s);
    enum { N = 20000 };
    static void *v[N];
    for (int i = 0; i < N; i++) ck_assert_ptr_nonnull(v[i] = slab_alloc(&s, 48));
    for (int i = 0; i < N; i++) slab_free(&s, v[i], 48);
    size_t reserved = s.reserved;
    ck_assert_uint_eq(s.in_use, 0);
    for (int i = 0; i < N / 5; i++) ck_assert_ptr_nonnull(v[i] = slab_alloc(&s, 200));
    /* 4000 x 208 bytes fit in what 20000 x 48 took (15 chunks of 64 KiB,
     * one of them kept for the 48s): nothing more from the heap. */
    ck_assert_uint_le(s.reserved, reserved);
    for (int i = 0; i < N / 5; i++) slab_free(&s, v[i], 200);

    /* Random sizes, random frees: each block keeps its own bytes, and
     * what is counted in use is the sum of the live blocks' sizes. */
    static size_t len[N];
    uint64_t x = 88172645463325252u, live = 0;
    memset(v, 0, sizeof v);
    for (int op = 0; op < 100000; op++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int i = (int)(x % N);
        if (v[i]) {
            size_t k = 0;
            while (k < len[i] && ((unsigned char *)v[i])[k] == (unsigned char)i) k++;
            ck_assert_uint_eq(k, len[i]);
            slab_free(&s, v[i], len[i]);
            live -= slab_size(len[i]);
            v[i] = NULL;
        } else {
            len[i] = 1 + (size_t)(x >> 20) % ((x >> 40) % 8 ? 512 : 6000);
            ck_assert_ptr_nonnull(v[i] = slab_alloc(&s, len[i]));
            memset(v[i], (unsigned char)i, len[i]);
            live += slab_size(len[i]);
        }
        ck_assert_uint_eq(s.in_use + s.direct, live);
    }
    for (int i = 0; i < N; i++)
        if (v[i]) slab_free(&s, v[i], len[i]);
    ck_assert_uint_eq(s.in_use + s.direct, 0);
    slab_destroy(&s);
}
END_TEST

Suite *budget_suite(void) {
    Suite *s = suite_create("budget");
    TCase *tc = tcase_create("budget");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, buffer_within_budget);
    tcase_add_test(tc, buffer_early_makes_late);
    tcase_add_test(tc, fanout_within_budget);
    tcase_add_test(tc, slab_reuses_freed_chunks);
    suite_add_tcase(s, tc);
    return s;
}
