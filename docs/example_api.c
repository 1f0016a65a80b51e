/* example_api.c — a complete small client of the Cepheus C API (docs/api.md):
 * compile patterns from a string, register a C function, build events with
 * cep_event_set_*, print matches from the callback, then show how a compile
 * error is reported.
 *
 * Build against an installed library:
 *   cc example_api.c $(pkg-config --cflags --libs libcepheus)
 * or against a build tree:
 *   cc -I include docs/example_api.c -L BUILD/.libs -lcepheus
 *   LD_LIBRARY_PATH=BUILD/.libs ./a.out
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cepheus.h>

static const char patterns[] =
    "# A large payment, then one more than twice as large from another\n"
    "# country on the same card, within one hour.\n"
    "pattern card_jump\n"
    "  key card\n"
    "  begin a where amount > 100\n"
    "  followedBy b where amount > a.amount * 2 and country != a.country\n"
    "  within 1h\n"
    "  emit first = a.amount, second = b.amount,\n"
    "       growth = pct(b.amount, a.amount)\n";

/* A user function: 100 * x / y, null (an error) when y is 0 or an
 * argument is not a number. */
static int pct(void *ud, int argc, const cep_value *argv, cep_value *out) {
    (void)ud;
    (void)argc; /* registered with exactly 2 arguments */
    double v[2];
    for (int i = 0; i < 2; i++) {
        if (argv[i].type == CEP_INT) v[i] = (double)argv[i].u.i;
        else if (argv[i].type == CEP_DOUBLE) v[i] = argv[i].u.d;
        else return CEP_EINVAL;
    }
    if (v[1] == 0) return CEP_EINVAL;
    out->type = CEP_DOUBLE;
    out->u.d = 100.0 * v[0] / v[1];
    return CEP_OK;
}

static void print_value(cep_value v) {
    switch (v.type) {
    case CEP_NULL: printf("null"); break;
    case CEP_BOOL: printf(v.u.b ? "true" : "false"); break;
    case CEP_INT: printf("%" PRId64, v.u.i); break;
    case CEP_DOUBLE: printf("%g", v.u.d); break;
    case CEP_STRING: printf("\"%.*s\"", (int)v.u.s.len, v.u.s.ptr); break;
    }
}

/* Everything reached from m is borrowed for the duration of the call. */
static int on_match(void *ud, const cep_match *m) {
    (void)ud;
    printf("match %s key=", cep_match_pattern(m));
    print_value(cep_match_key(m, 0));
    printf(" start=%" PRId64 " end=%" PRId64, cep_match_start(m),
           cep_match_end(m));
    for (size_t i = 0; i < cep_match_field_count(m); i++) {
        printf(" %s=", cep_match_field_name(m, i));
        print_value(cep_match_field(m, i));
    }
    printf("\n");
    return 0; /* non-zero would make the push return CEP_ECALLBACK */
}

struct payment {
    int64_t time;
    const char *card, *country;
    int64_t amount;
};

int main(void) {
    cep_compiler *comp = NULL;
    cep_program *prog = NULL;
    cep_diag *diag = NULL;
    cep_engine *eng = NULL;
    cep_event *ev = NULL;
    int rc, status = 1;

    /* 1. Compile. The compiler carries user functions; it may be freed
     *    once the programs are compiled. */
    if ((rc = cep_compiler_new(&comp)) != CEP_OK ||
        (rc = cep_compiler_add_function(comp, "pct", 2, pct, NULL)) != CEP_OK)
        goto fail;
    rc = cep_compile(comp, patterns, strlen(patterns), "<patterns>", &prog,
                     &diag);
    if (rc == CEP_EPATTERN) fputs(cep_diag_render(diag), stderr);
    if (rc != CEP_OK) goto fail;
    cep_diag_free(diag);
    diag = NULL;
    cep_compiler_free(comp);
    comp = NULL;

    /* 2. Slots of the fields the program reads. */
    int s_card = cep_program_field_slot(prog, "card");
    int s_amount = cep_program_field_slot(prog, "amount");
    int s_country = cep_program_field_slot(prog, "country");
    printf("fields:");
    for (size_t i = 0; i < cep_program_field_count(prog); i++)
        printf(" %zu=%s", i, cep_program_field_name(prog, i));
    printf("\n");

    /* 3. An engine holds all mutable state; one event row is reused. */
    if ((rc = cep_engine_new(prog, &eng)) != CEP_OK ||
        (rc = cep_event_new(prog, &ev)) != CEP_OK)
        goto fail;
    cep_engine_on_match(eng, on_match, NULL);

    static const struct payment in[] = {
        {1000, "c1", "FR", 150},
        {2000, "c2", "FR", 500},
        {3000, "c1", "FR", 900},  /* same country: no match */
        {4000, "c1", "US", 400},  /* 400 > 2 * 150 */
        {5000, "c2", "DE", 1200}, /* 1200 > 2 * 500 */
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        cep_event_clear(ev);
        cep_event_set_time(ev, in[i].time);
        cep_event_set_string(ev, s_card, in[i].card, strlen(in[i].card));
        cep_event_set_string(ev, s_country, in[i].country,
                             strlen(in[i].country));
        cep_event_set_int(ev, s_amount, in[i].amount);
        if ((rc = cep_engine_push(eng, ev)) != CEP_OK) {
            fprintf(stderr, "push: %s (%s)\n", cep_strerror(rc),
                    cep_engine_error(eng));
            goto fail;
        }
    }
    /* 4. End of input: flushes everything still pending. */
    if ((rc = cep_engine_finish(eng)) != CEP_OK) goto fail;

    cep_stats st;
    cep_engine_stats(eng, &st);
    printf("events=%" PRIu64 " matches=%" PRIu64 " late=%" PRIu64 "\n",
           st.events, st.matches, st.late);

    /* 5. A pattern with errors: every error is listed, in source order. */
    static const char bad[] =
        "pattern p\n"
        "  begin a where amount > 10\n"
        "  followedBy b where amount > c[0].amount and country =~ /[a-z/\n";
    cep_program *none = NULL;
    rc = cep_compile(NULL, bad, strlen(bad), "bad.cep", &none, &diag);
    printf("cep_compile: %d (%s), %zu errors\n", rc, cep_strerror(rc),
           cep_diag_count(diag));
    for (size_t i = 0; i < cep_diag_count(diag); i++)
        printf("  code %d at %d:%d\n", cep_diag_code(diag, i),
               cep_diag_line(diag, i), cep_diag_column(diag, i));
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
    cep_compiler_free(comp);
    return status;
}
