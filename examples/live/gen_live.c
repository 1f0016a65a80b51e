/* gen_live.c — a live feed for the live example: `gen_live [RATE [COUNT
 * [SEED]]]` writes COUNT login events (default 1000) at RATE events a
 * second (default 100), each line flushed as it is written, as a service
 * writing to a pipe would. Event times advance by 1000/RATE ms from a fixed
 * start, so the events (not their pacing) are the same on every run. Most
 * logins succeed; now and then an attacker guesses a password: several
 * failed logins on one account, then one that works. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define START_MS 1733529600000LL /* 2024-12-07T00:00:00Z */
#define USERS 40

static uint64_t state;

/* splitmix64, as examples/common/gen.h: the same numbers everywhere. */
static uint64_t next(void) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static unsigned below(unsigned n) { return (unsigned)(next() % n); }

int main(int argc, char **argv) {
    long rate = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
    long count = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
    state = argc > 3 ? strtoull(argv[3], NULL, 10) : 20241207;
    if (rate < 1 || rate > 1000000 || count < 0) {
        fprintf(stderr, "usage: gen_live [RATE [COUNT [SEED]]]\n");
        return 2;
    }
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    int attacked = -1, failures = 0; /* an attack going on: account, failures left */
    for (long i = 0; i < count; i++) {
        int64_t ts = START_MS + i * 1000 / rate;
        unsigned user = below(USERS);
        const char *action = below(25) ? "login_ok" : "login_failed";
        if (attacked < 0 && below(60) == 0) {
            attacked = (int)user;
            failures = 3 + (int)below(4);
        }
        if (attacked >= 0 && below(2) == 0) {
            /* The attacker's next try: a failure, or at last the password. */
            user = (unsigned)attacked;
            action = failures-- > 0 ? "login_failed" : "login_ok";
            if (failures < 0) attacked = -1;
        }
        printf("{\"ts\":%" PRId64 ",\"user\":\"u%02u\",\"action\":\"%s\",\"ip\":\"10.0.%u.%u\"}\n", ts, user,
               action, user, below(250) + 1);
        if (fflush(stdout) != 0) return 1; /* the reader went away */
        /* The next event is due 1/RATE s after this one (no drift). */
        t.tv_nsec += 1000000000L / rate;
        while (t.tv_nsec >= 1000000000L) t.tv_nsec -= 1000000000L, t.tv_sec++;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
    }
    return 0;
}
