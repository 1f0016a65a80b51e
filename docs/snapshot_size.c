/* snapshot_size.c — measures snapshot size and speed: N keys, each holding
 * one partial match, snapshotted to memory and restored into a new engine.
 * Build and run: see docs/snapshot.md. Usage: snapshot_size [N] */
#include <cepheus.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef struct buffer {
    char *p;
    size_t n, cap;
} buffer;

static int append(void *ud, const void *bytes, size_t n) {
    buffer *b = ud;
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        if (!(b->p = realloc(b->p, b->cap))) return -1;
    }
    memcpy(b->p + b->n, bytes, n);
    b->n += n;
    return 0;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *src = "pattern p key k begin a where t == \"a\"\n"
                      "  followedBy b where t == \"b\" and v > a.v within 1h\n";
    const char *raw = "{\"ts\":1,\"k\":1,\"t\":\"a\",\"v\":5}";
    cep_program *p = NULL;
    cep_engine *e = NULL, *f = NULL;
    cep_event *ev = NULL;
    if (cep_compile(NULL, src, strlen(src), NULL, &p, NULL) != CEP_OK || cep_engine_new(p, &e) != CEP_OK ||
        cep_engine_new(p, &f) != CEP_OK || cep_event_new(p, &ev) != CEP_OK)
        return 1;
    int k = cep_program_field_slot(p, "k"), t = cep_program_field_slot(p, "t"),
        v = cep_program_field_slot(p, "v");
    for (long i = 0; i < n; i++) {
        cep_event_clear(ev);
        cep_event_set_time(ev, i);
        cep_event_set_int(ev, k, i);
        cep_event_set_string(ev, t, "a", 1);
        cep_event_set_int(ev, v, i % 100);
        cep_event_set_raw(ev, raw, strlen(raw));
        cep_engine_push(e, ev);
    }
    cep_stats st;
    cep_engine_stats(e, &st);
    buffer b = {0};
    double t0 = now();
    int rc = cep_engine_snapshot(e, append, &b);
    double t1 = now();
    if (rc == CEP_OK) rc = cep_engine_restore(f, b.p, b.n);
    double t2 = now();
    printf("partial matches %llu, snapshot %zu bytes (%.1f per partial match), "
           "written in %.3f s, restored in %.3f s: %s\n",
           (unsigned long long)st.partial_matches, b.n, (double)b.n / (double)st.partial_matches, t1 - t0,
           t2 - t1, cep_strerror(rc));
    free(b.p);
    cep_event_free(ev);
    cep_engine_free(e);
    cep_engine_free(f);
    cep_program_free(p);
    return rc == CEP_OK ? 0 : 1;
}
