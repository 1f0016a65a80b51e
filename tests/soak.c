/* soak.c — a long run over a rotating population of keys: new keys keep
 * arriving, old ones go quiet. Samples the process's resident memory every
 * million events; after warm-up it must stay flat (`make soak`: 50M events;
 * `make check` runs a short form). Prints the samples and "soak: N passed,
 * M failed". Usage: soak [EVENTS] [KEYS_ACTIVE] */
#include <cepheus.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t matches;
static int on_match(void *ud, const cep_match *m) {
    (void)ud;
    (void)m;
    matches++;
    return 0;
}

int main(int argc, char **argv) {
    long long events = argc > 1 ? atoll(argv[1]) : 50000000LL;
    long long active = argc > 2 ? atoll(argv[2]) : 20000;
    /* A click waits up to 2 minutes for a purchase of the same item; a
     * second pattern without a window is bounded by the state TTL. */
    const char *src = "pattern buy key user begin click where type == 1\n"
                      "  followedBy purchase where type == 2 and item == click.item within 2m\n"
                      "pattern again key user begin first where type == 1 followedBy second where type == 1\n"
                      "  and item == first.item\n";
    cep_program *p = NULL;
    cep_diag *d = NULL;
    if (cep_compile(NULL, src, strlen(src), "soak", &p, &d) != CEP_OK) {
        fputs(cep_diag_render(d), stderr);
        return 1;
    }
    cep_diag_free(d);
    cep_engine *e = NULL;
    cep_event *ev = NULL;
    if (cep_engine_new(p, &e) != CEP_OK || cep_event_new(p, &ev) != CEP_OK) return 1;
    cep_engine_set_state_ttl(e, 5 * 60 * 1000);
    cep_engine_on_match(e, on_match, NULL);
    int s_user = cep_program_field_slot(p, "user"), s_type = cep_program_field_slot(p, "type"),
        s_item = cep_program_field_slot(p, "item");
    long samples[64];
    int ns = 0;
    long long step = events / 50 > 0 ? events / 50 : 1;
    printf("events\trss_kib\tpartial_matches\tkeys\tmatches\n");
    for (long long i = 0; i < events; i++) {
        /* Keys slide: every 10 events the window of active keys moves one
         * key on, so each key is busy for a while and then never seen again. */
        long long user = i / 10 + (long long)(next() % (uint64_t)active);
        cep_event_clear(ev);
        cep_event_set_time(ev, i); /* one event per millisecond */
        cep_event_set_int(ev, s_user, user);
        cep_event_set_int(ev, s_type, next() % 3 == 0 ? 2 : 1);
        cep_event_set_int(ev, s_item, (int64_t)(next() % 20));
        if (cep_engine_push(e, ev) != CEP_OK) return 1;
        if ((i + 1) % step == 0) {
            cep_stats st;
            cep_engine_stats(e, &st);
            long rss = rss_kib();
            if (ns < 64) samples[ns++] = rss;
            printf("%lld\t%ld\t%llu\t%llu\t%llu\n", i + 1, rss, (unsigned long long)st.partial_matches,
                   (unsigned long long)st.keys, (unsigned long long)matches);
            fflush(stdout);
        }
    }
    cep_engine_finish(e);
    /* Flat after warm-up: the last sample within 25% of the one at 40%. */
    int ok = ns >= 10 && samples[ns - 1] <= samples[ns * 2 / 5] * 5 / 4;
    printf("soak: rss %ld KiB at 40%%, %ld KiB at the end, %llu matches\n", ns ? samples[ns * 2 / 5] : 0,
           ns ? samples[ns - 1] : 0, (unsigned long long)matches);
    printf("soak: %d passed, %d failed\n", ok, !ok);
    cep_event_free(ev);
    cep_engine_free(e);
    cep_program_free(p);
    return ok ? 0 : 1;
}
