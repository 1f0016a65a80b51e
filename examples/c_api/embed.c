/* embed.c — the c_api example: a program that embeds libcepheus, built
 * against the installed library with pkg-config (see Makefile). It compiles
 * the pattern file fulfilled.cep (or the one named by its argument),
 * feeds it order events built in C (no JSON), receives matches, timed-out partial matches and late events in callbacks,
 * prints the engine's counters, and finally shows how a compile error is
 * reported, caret included. The events come from a fixed-seed generator, so
 * the output is the same on every machine. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cepheus.h>

/* The rules live in a file of their own, fulfilled.cep, as a program's
 * rules should: reviewed apart from the code, and tested with `cepheus test
 * fulfilled.cep fulfilled.test`. Read whole, at most 64 KiB here; returns the
 * length, or -1 with a message. */
static long read_rules(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t n = fread(buf, 1, cap, f);
    int bad = ferror(f) || n == cap; /* n == cap: too long for buf */
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: cannot read the whole file\n", path);
        return -1;
    }
    return (long)n;
}

/* ---- a tiny fixed-seed generator (splitmix64) ------------------------- */

static uint64_t rng = 20240307;

static unsigned below(unsigned n)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (unsigned)((z ^ (z >> 31)) % n);
}

/* ---- callbacks: everything reached from m or ev is borrowed ------------ */

static void print_value(cep_value v)
{
    switch (v.type) {
    case CEP_NULL: printf("null"); break;
    case CEP_BOOL: printf(v.u.b ? "true" : "false"); break;
    case CEP_INT: printf("%" PRId64, v.u.i); break;
    case CEP_DOUBLE: printf("%.1f", v.u.d); break;
    case CEP_STRING: printf("%.*s", (int)v.u.s.len, v.u.s.ptr); break;
    }
}

static int on_match(void *ud, const cep_match *m)
{
    (void)ud;
    printf("shipped  order ");
    print_value(cep_match_key(m, 0));
    for (size_t i = 0; i < cep_match_field_count(m); i++) {
        printf(" %s=", cep_match_field_name(m, i));
        print_value(cep_match_field(m, i));
    }
    printf("\n");
    return 0; /* non-zero would make the push return CEP_ECALLBACK */
}

/* A timed-out partial match has no emit fields; its steps hold the events
 * accepted so far: the last step with an event is where the order stuck. */
static int on_timeout(void *ud, const cep_match *m)
{
    (void)ud;
    const char *stage = "?";
    for (size_t s = 0; s < cep_match_step_count(m); s++)
        if (cep_match_event_count(m, s) > 0)
            stage = cep_match_step_name(m, s);
    printf("stuck    order ");
    print_value(cep_match_key(m, 0));
    printf(" after %s (placed at +%" PRId64 " min)\n", stage,
           (cep_match_start(m) - 1709769600000) / 60000);
    return 0;
}

static int slot_status; /* set in main, read by on_late */

static int on_late(void *ud, const cep_event *ev)
{
    (void)ud;
    printf("late     event at +%" PRId64 " min, status ",
           (cep_event_time(ev) - 1709769600000) / 60000);
    print_value(cep_event_value(ev, slot_status));
    printf(": older than the watermark, not matched\n");
    return 0;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *rules_path = argc > 1 ? argv[1] : "fulfilled.cep";
    static char rules[65536];
    cep_program *prog = NULL;
    cep_diag *diag = NULL;
    cep_engine *eng = NULL;
    cep_event *ev = NULL;
    int rc, status = 1;

    /* 1. Compile the rules. No user functions: no compiler needed. */
    long len = read_rules(rules_path, rules, sizeof rules);
    if (len < 0)
        return 1;
    rc = cep_compile(NULL, rules, (size_t)len, rules_path, &prog, &diag);
    if (rc == CEP_EPATTERN)
        fputs(cep_diag_render(diag), stderr);
    if (rc != CEP_OK)
        goto fail;
    cep_diag_free(diag);
    diag = NULL;

    /* 2. Slots: one per field the program reads. */
    int s_order = cep_program_field_slot(prog, "order");
    int s_customer = cep_program_field_slot(prog, "customer");
    int s_amount = cep_program_field_slot(prog, "amount");
    slot_status = cep_program_field_slot(prog, "status");
    /* `ts` (shipped.ts - placed.ts) is the event time: cep_event_set_time
     * below is all it needs. */

    /* 3. The engine: events may be 1 minute out of order. */
    if ((rc = cep_engine_new(prog, &eng)) != CEP_OK ||
        (rc = cep_engine_set_max_delay(eng, 60000)) != CEP_OK ||
        (rc = cep_event_new(prog, &ev)) != CEP_OK)
        goto fail;
    cep_engine_on_match(eng, on_match, NULL);
    cep_engine_on_timeout(eng, on_timeout, NULL);
    cep_engine_on_late(eng, on_late, NULL);

    /* 4. Orders, one step every 15 to 60 minutes of event time, about
     * three days long: one event row, cleared and refilled for each push. Orders
     * overlap; some are never paid or shipped, some are paid too little,
     * some ship after the two days; a few updates arrive hours late. */
    static const char *const customers[] = {"ada", "bob", "chen", "dara", "eli"};
    const int64_t t0 = 1709769600000; /* 2024-03-07T00:00:00Z */
    int64_t clock = t0;
    struct { int next, stage, amount; } orders[12] = {{0, 0, 0}}; /* next: id of the open order */
    for (int step = 0; step < 120; step++) {
        clock += 15 * 60000 + (int64_t)below(45) * 60000;
        int o = (int)below(12);
        const char *st;
        int amount = orders[o].amount;
        if (orders[o].stage == 0 || orders[o].stage == 3) { /* a new order */
            orders[o].stage = 1;
            orders[o].amount = amount = 10 + (int)below(190);
            st = "placed";
        } else if (orders[o].stage == 1) {
            if (below(10) == 0)
                continue; /* never paid */
            orders[o].stage = 2;
            st = "paid";
            if (below(10) == 0)
                amount -= 5; /* paid less than the order: no match */
        } else {
            if (below(4) == 0)
                continue; /* still in the warehouse */
            orders[o].stage = 3;
            st = "shipped";
        }
        int64_t ts = clock;
        if (below(25) == 0)
            ts -= 3 * 3600000; /* a scanner that synced hours late */
        char order_id[32];
        snprintf(order_id, sizeof order_id, "o%02d-%d", o + 1, step);
        if (strcmp(st, "placed") != 0) /* keep the id of the order's placing */
            snprintf(order_id, sizeof order_id, "o%02d-%d", o + 1, orders[o].next);
        else
            orders[o].next = step;
        const char *cust = customers[o % 5];
        cep_event_clear(ev);
        cep_event_set_time(ev, ts);
        cep_event_set_string(ev, s_order, order_id, strlen(order_id));
        cep_event_set_string(ev, s_customer, cust, strlen(cust));
        cep_event_set_string(ev, slot_status, st, strlen(st));
        cep_event_set_int(ev, s_amount, amount);
        if ((rc = cep_engine_push(eng, ev)) != CEP_OK) {
            fprintf(stderr, "push: %s (%s)\n", cep_strerror(rc), cep_engine_error(eng));
            goto fail;
        }
    }
    /* 5. End of input: windows close, the last timeouts come out. */
    if ((rc = cep_engine_finish(eng)) != CEP_OK)
        goto fail;

    cep_stats stats;
    cep_engine_stats(eng, &stats);
    printf("events=%" PRIu64 " matches=%" PRIu64 " timeouts=%" PRIu64
           " late=%" PRIu64 "\n", stats.events, stats.matches, stats.timeouts,
           stats.late);

    /* 6. A pattern with a mistake: the diagnostic names the file, line and
     * column, repeats the line and puts a caret under the culprit. */
    static const char bad[] =
        "pattern fulfilled\n"
        "  key order\n"
        "  begin placed where status == \"placed\"\n"
        "  followedBy paid where status == \"paid\" and amount >= placd.amount\n";
    cep_program *none = NULL;
    rc = cep_compile(NULL, bad, strlen(bad), "typo.cep", &none, &diag);
    printf("cep_compile: %s, %zu error(s)\n", cep_strerror(rc), cep_diag_count(diag));
    fputs(cep_diag_render(diag), stdout);
    status = 0;
    goto done;

fail:
    fprintf(stderr, "error: %s\n", cep_strerror(rc));
done:
    cep_diag_free(diag);
    cep_event_free(ev);
    cep_engine_free(eng); /* before the program it borrows */
    cep_program_free(prog);
    return status;
}
