/* travel.c — the impossible_travel example's own matcher: a small program
 * that embeds libcepheus, registers the user function
 * distance_km(lat1, lon1, lat2, lon2) with cep_compiler_add_function, reads
 * JSON Lines events and prints each match as one JSON line, the way
 * `cepheus run` does. This is the extension point: anything a condition
 * needs that the language lacks is a C function away.
 *
 * Usage: travel [--max-delay MS] PATTERNS.cep [EVENTS.jsonl|-]
 * Malformed lines are reported on stderr as FILE:LINE: error: REASON and
 * skipped. Exit status: 0 ok, 1 pattern errors, 2 usage, 3 I/O error. */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cepheus.h>

#include "distance.h" /* the user function, distance_km */

/* ---- printing matches as JSON ---------------------------------------- */

static void print_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* Doubles with one decimal: distances and speeds read better that way. */
static void print_value(cep_value v)
{
    switch (v.type) {
    case CEP_NULL: fputs("null", stdout); break;
    case CEP_BOOL: fputs(v.u.b ? "true" : "false", stdout); break;
    case CEP_INT: printf("%" PRId64, v.u.i); break;
    case CEP_DOUBLE: printf("%.1f", v.u.d); break;
    case CEP_STRING: print_string(v.u.s.ptr, v.u.s.len); break;
    }
}

/* Everything reached from m is borrowed for the duration of the call. */
static int on_match(void *ud, const cep_match *m)
{
    (void)ud;
    printf("{\"pattern\":");
    print_string(cep_match_pattern(m), strlen(cep_match_pattern(m)));
    printf(",\"key\":");
    if (cep_match_key_count(m) == 1)
        print_value(cep_match_key(m, 0));
    else
        fputs("null", stdout); /* these patterns have one key field */
    printf(",\"start\":%" PRId64 ",\"end\":%" PRId64 ",\"fields\":{",
           cep_match_start(m), cep_match_end(m));
    for (size_t i = 0; i < cep_match_field_count(m); i++) {
        if (i)
            putchar(',');
        print_string(cep_match_field_name(m, i), strlen(cep_match_field_name(m, i)));
        putchar(':');
        print_value(cep_match_field(m, i));
    }
    printf("}}\n");
    return 0;
}

/* ---- main -------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int usage(void)
{
    fprintf(stderr, "usage: travel [--max-delay MS] PATTERNS.cep [EVENTS.jsonl|-]\n");
    return 2;
}

int main(int argc, char **argv)
{
    long long max_delay = 0;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--max-delay") == 0) {
        char *end;
        errno = 0;
        max_delay = strtoll(argv[i + 1], &end, 10);
        if (errno || *end || end == argv[i + 1] || max_delay < 0)
            return usage();
        i += 2;
    }
    if (argc - i < 1 || argc - i > 2)
        return usage();
    const char *pattern_path = argv[i];
    const char *events_path = argc - i == 2 ? argv[i + 1] : "-";

    size_t text_len;
    char *text = read_file(pattern_path, &text_len);
    if (!text) {
        fprintf(stderr, "travel: %s: %s\n", pattern_path, strerror(errno));
        return 3;
    }
    FILE *in = strcmp(events_path, "-") == 0 ? stdin : fopen(events_path, "r");
    if (!in) {
        fprintf(stderr, "travel: %s: %s\n", events_path, strerror(errno));
        free(text);
        return 3;
    }

    cep_compiler *comp = NULL;
    cep_program *prog = NULL;
    cep_diag *diag = NULL;
    cep_engine *eng = NULL;
    int status = 3, rc;

    /* Register distance_km before compiling: the compiler checks the arity
     * of every call (4 here) and the program keeps the function pointer. */
    if ((rc = cep_compiler_new(&comp)) != CEP_OK ||
        (rc = cep_compiler_add_function(comp, "distance_km", 4, distance_km, NULL)) != CEP_OK)
        goto fail;
    rc = cep_compile(comp, text, text_len, pattern_path, &prog, &diag);
    if (rc == CEP_EPATTERN) {
        fputs(cep_diag_render(diag), stderr);
        status = 1;
        goto done;
    }
    if (rc != CEP_OK || (rc = cep_engine_new(prog, &eng)) != CEP_OK ||
        (rc = cep_engine_set_max_delay(eng, max_delay)) != CEP_OK)
        goto fail;
    cep_engine_on_match(eng, on_match, NULL);

    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    const char *name = in == stdin ? "-" : events_path;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n == 0)
            continue;
        rc = cep_engine_push_json(eng, line, (size_t)n);
        if (rc == CEP_EJSON || rc == CEP_ENOTOBJECT || rc == CEP_ETIME ||
            rc == CEP_ERANGE || rc == CEP_ETOODEEP) {
            /* A malformed line: report it and go on, as cepheus does. */
            fprintf(stderr, "%s:%lu: error: %s\n", name, lineno, cep_engine_error(eng));
            continue;
        }
        if (rc != CEP_OK)
            break;
    }
    free(line);
    if (rc == CEP_OK || rc == CEP_EJSON || rc == CEP_ENOTOBJECT || rc == CEP_ETIME ||
        rc == CEP_ERANGE || rc == CEP_ETOODEEP)
        rc = ferror(in) ? CEP_EINVAL : cep_engine_finish(eng);
    if (rc != CEP_OK)
        goto fail;
    status = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 3;
    goto done;

fail:
    fprintf(stderr, "travel: %s\n", cep_strerror(rc));
done:
    if (in != stdin)
        fclose(in);
    cep_engine_free(eng); /* before the program it borrows */
    cep_program_free(prog);
    cep_diag_free(diag);
    cep_compiler_free(comp);
    free(text);
    return status;
}
