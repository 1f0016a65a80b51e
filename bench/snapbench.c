/* snapbench.c — what writing a snapshot costs (the forked checkpoint
 * writer's whole work, docs/performance.md "The checkpoint writer's
 * time"): push the first N lines of an event file into one engine of a
 * pattern file, then time cep_engine_snapshot R times, into OUT (a file)
 * or nowhere. Prints bytes, CPU and wall seconds of each.
 *   cc -O2 -Iinclude -o snapbench bench/snapbench.c -Lbuild/.libs -lcepheus -ljemalloc
 *   LD_LIBRARY_PATH=build/.libs ./snapbench PATTERNS EVENTS N R [OUT] */
#define _GNU_SOURCE
#include "cepheus.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double cpu(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + (double)r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static double wall(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

typedef struct sink {
    FILE *f;
    unsigned long n;
} sink;

static int to_sink(void *ud, const void *b, size_t n) {
    sink *s = ud;
    s->n += n;
    return s->f && fwrite(b, 1, n, s->f) != n ? -1 : 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: snapbench PATTERNS EVENTS N R [OUT]\n");
        return 2;
    }
    static char text[1 << 16];
    FILE *pf = fopen(argv[1], "r"), *f = fopen(argv[2], "r");
    if (!pf || !f) return 1;
    size_t tl = fread(text, 1, sizeof text, pf);
    fclose(pf);
    cep_compiler *c = NULL;
    cep_program *p = NULL;
    cep_engine *e = NULL;
    cep_diag *d = NULL;
    if (cep_compiler_new(&c) != CEP_OK || cep_compile(c, text, tl, argv[1], &p, &d) != CEP_OK ||
        cep_engine_new(p, &e) != CEP_OK)
        return 1;
    cep_engine_set_drop_raw(e, 1); /* as `cepheus run` does when every pattern emits */
    long n = atol(argv[3]), i = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t l;
    while (i < n && (l = getline(&line, &cap, f)) > 0) {
        cep_engine_push_json(e, line, (size_t)l - 1);
        i++;
    }
    fclose(f);
    for (int r = 0; r < atoi(argv[4]); r++) {
        sink s = {argc > 5 ? fopen(argv[5], "wb") : NULL, 0};
        double c0 = cpu(), w0 = wall();
        int rc = cep_engine_snapshot(e, to_sink, &s);
        if (s.f) fclose(s.f);
        printf("snapshot of %ld events: %s, %lu bytes, cpu %.3f s, wall %.3f s\n", i, cep_strerror(rc), s.n,
               cpu() - c0, wall() - w0);
    }
    free(line);
    cep_engine_free(e);
    cep_program_free(p);
    cep_diag_free(d);
    cep_compiler_free(c);
    return 0;
}
