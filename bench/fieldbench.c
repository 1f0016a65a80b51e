/* fieldbench.c — `make bench-fields`: what a nested field read costs next
 * to a flat one. The same event values, read by cep_event_parse_json (the
 * JSON fast path) and by cep_engine_push_json (reader, condition, engine),
 * laid out flat ({"a":..}), one level down ({"p":{"a":..}}) and two
 * ({"p":{"q":{"a":..}}}), with a program that reads four of them or none.
 * A field read's cost is the time over the program that reads none,
 * divided by the four fields. Public API only, so that the same file
 * builds against an older library (its nested runs then say "n/a").
 * Prints ns/line, CPU time, best of --reps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cepheus.h"

#define NLINES 20000

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int lean; /* lines of the four fields and ts only */

/* Line i in layout depth (0: flat). Four read fields, six others (none
 * when lean, so that reading the fields is most of a line's cost). */
static int make_line(char *out, size_t cap, int depth, int i) {
    char fields[512];
    snprintf(fields, sizeof fields, "\"a\":%d,\"b\":\"user-%d\",\"c\":%d.25,\"d\":%s", i % 1000, i % 97, i % 50,
             i % 3 ? "true" : "false");
    const char *open = depth == 0 ? "" : depth == 1 ? "\"p\":{" : "\"p\":{\"q\":{";
    const char *close = depth == 0 ? "" : depth == 1 ? "}" : "}}";
    if (lean) return snprintf(out, cap, "{\"ts\":%d,%s%s%s}", 1700000000 + i, open, fields, close);
    return snprintf(out, cap,
                    "{\"ts\":%d,\"type\":\"click\",\"user\":\"u%d\",\"page\":\"/item/%d\",%s%s%s,"
                    "\"ua\":\"Mozilla/5.0 (X11; Linux x86_64)\",\"ip\":\"10.0.%d.%d\",\"ref\":null}",
                    1700000000 + i, i % 1000, i % 5000, open, fields, close, i % 256, i % 199);
}

static const char *prefix(int depth) { return depth == 0 ? "" : depth == 1 ? "p." : "p.q."; }

typedef struct run {
    double parse_ns, push_ns; /* per line; < 0: could not compile */
} run;

static run measure(int depth, int reads, char **lines, size_t *lens, int reps) {
    char pat[512];
    const char *x = prefix(depth);
    if (reads)
        snprintf(pat, sizeof pat,
                 "pattern p begin e where %sa > 2000 or %sb == \"none\" or %sc < 0 or %sd == null\n", x, x, x, x);
    else
        snprintf(pat, sizeof pat, "pattern p begin e where ts < 0\n");
    run r = {-1, -1};
    cep_program *prog = NULL;
    if (cep_compile(NULL, pat, strlen(pat), "bench", &prog, NULL) != CEP_OK) return r;
    cep_event *ev;
    if (cep_event_new(prog, &ev) != CEP_OK) abort();
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now_ns();
        for (int i = 0; i < NLINES; i++)
            if (cep_event_parse_json(ev, lines[i], lens[i], "ts") != CEP_OK) abort();
        double t = (now_ns() - t0) / NLINES;
        if (r.parse_ns < 0 || t < r.parse_ns) r.parse_ns = t;
        cep_engine *e;
        if (cep_engine_new(prog, &e) != CEP_OK) abort();
        t0 = now_ns();
        for (int i = 0; i < NLINES; i++)
            if (cep_engine_push_json(e, lines[i], lens[i]) != CEP_OK) abort();
        t = (now_ns() - t0) / NLINES;
        if (r.push_ns < 0 || t < r.push_ns) r.push_ns = t;
        cep_engine_free(e);
    }
    cep_event_free(ev);
    cep_program_free(prog);
    return r;
}

/* --only LEAN DEPTH READS: one configuration, once, for counting
 * instructions under valgrind --tool=callgrind (timings on a shared
 * machine are noisy; instruction counts are not). */
static int only(int lean_, int depth, int reads) {
    lean = lean_;
    static char *lines[NLINES];
    static size_t lens[NLINES];
    for (int i = 0; i < NLINES; i++) {
        char buf[1024];
        int n = make_line(buf, sizeof buf, depth, i);
        if (!(lines[i] = malloc((size_t)n + 1))) abort();
        memcpy(lines[i], buf, (size_t)n + 1);
        lens[i] = (size_t)n;
    }
    run r = measure(depth, reads, lines, lens, 1);
    for (int i = 0; i < NLINES; i++) free(lines[i]);
    return r.parse_ns < 0;
}

int main(int argc, char **argv) {
    int reps = 15;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        if (!strcmp(argv[i], "--only") && i + 3 < argc) return only(atoi(argv[i + 1]), atoi(argv[i + 2]), atoi(argv[i + 3]));
    }
    for (lean = 0; lean < 2; lean++) {
    printf("# fieldbench: %d %s lines, best of %d, ns/line (CPU time)\n", NLINES,
           lean ? "lean (ts and the 4 fields)" : "event-like (10 fields)", reps);
    printf("%-8s %12s %12s %12s %12s %14s %14s\n", "layout", "parse-none", "parse-4", "push-none", "push-4",
           "ns/read(parse)", "ns/read(push)");
    double per_parse[3] = {0}, per_push[3] = {0};
    for (int depth = 0; depth < 3; depth++) {
        char **lines = malloc(NLINES * sizeof *lines);
        size_t *lens = malloc(NLINES * sizeof *lens);
        if (!lines || !lens) abort();
        for (int i = 0; i < NLINES; i++) {
            char buf[1024];
            int n = make_line(buf, sizeof buf, depth, i);
            lines[i] = malloc((size_t)n + 1);
            if (!lines[i]) abort();
            memcpy(lines[i], buf, (size_t)n + 1);
            lens[i] = (size_t)n;
        }
        run none = measure(depth, 0, lines, lens, reps), four = measure(depth, 1, lines, lens, reps);
        const char *name = depth == 0 ? "flat" : depth == 1 ? "nested1" : "nested2";
        if (four.parse_ns < 0) {
            printf("%-8s %12.1f %12s %12.1f %12s %14s %14s\n", name, none.parse_ns, "n/a", none.push_ns, "n/a", "n/a",
                   "n/a");
        } else {
            per_parse[depth] = (four.parse_ns - none.parse_ns) / 4;
            per_push[depth] = (four.push_ns - none.push_ns) / 4;
            printf("%-8s %12.1f %12.1f %12.1f %12.1f %14.1f %14.1f\n", name, none.parse_ns, four.parse_ns,
                   none.push_ns, four.push_ns, per_parse[depth], per_push[depth]);
        }
        for (int i = 0; i < NLINES; i++) free(lines[i]);
        free(lines);
        free(lens);
    }
    if (per_parse[0] > 0 && per_parse[1] > 0)
        printf("# nested1/flat per field read: parse %.2fx, push %.2fx; nested2/flat: parse %.2fx, push %.2fx\n",
               per_parse[1] / per_parse[0], per_push[1] / per_push[0], per_parse[2] / per_parse[0],
               per_push[2] / per_push[0]);
    }
    return 0;
}
