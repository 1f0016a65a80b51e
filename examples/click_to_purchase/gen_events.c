/* gen_events.c — writes a synthetic click stream for the click_to_purchase
 * example: `gen_events N [SEED]` prints N JSON Lines events to stdout. It
 * depends on nothing but libc, and the same N and SEED always give the same
 * bytes (its own PRNG, so the platform's rand() cannot change the output). */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define USERS 12
#define ITEMS 25
#define RECENT 16              /* clicks remembered per user (about 16 minutes) */
#define START_MS 1700000000000LL
#define MAX_SKEW_MS 5000       /* out-of-order events are at most this late */

/* splitmix64: small, fast, and good enough for test data. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); the modulo bias is irrelevant for n this small. */
static unsigned rng_below(unsigned n)
{
    return (unsigned)(rng_next() % n);
}

typedef struct user {
    int clicked[RECENT]; /* items clicked lately, newest at [0]; 0 = none */
} user;

static int parse_count(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long long n, seed = 20231114;
    if (argc < 2 || argc > 3 || parse_count(argv[1], &n) < 0 ||
        (argc == 3 && parse_count(argv[2], &seed) < 0)) {
        fprintf(stderr, "usage: gen_events N [SEED]\n");
        return 2;
    }
    rng_state = seed;

    user users[USERS] = {{{0}}};
    static const char *devices[] = {"mobile", "desktop", "tablet"};
    int64_t clock = START_MS;

    for (unsigned long long i = 0; i < n; i++) {
        /* Gaps of 0.2 to 3 seconds: about 30 events a minute, so a run of
         * 2000 spans an hour and the 10-minute window matters. */
        clock += 200 + rng_below(2800);
        int64_t ts = clock;
        /* One event in ten arrives late by up to MAX_SKEW_MS (still within
         * the --max-delay the example runs with). */
        if (rng_below(10) == 0)
            ts -= rng_below(MAX_SKEW_MS + 1);

        unsigned u = rng_below(USERS);
        user *us = &users[u];
        unsigned roll = rng_below(100);
        const char *type;
        int item;
        if (roll < 50) {
            /* Browsing: views of any item, unrelated to the pattern. */
            type = "view";
            item = 1 + (int)rng_below(ITEMS);
        } else if (roll < 80) {
            type = "click";
            item = 1 + (int)rng_below(ITEMS);
            for (int k = RECENT - 1; k > 0; k--)
                us->clicked[k] = us->clicked[k - 1];
            us->clicked[0] = item;
        } else {
            type = "purchase";
            /* Mostly an item the user clicked lately (sometimes long ago,
             * outside the window), else an item never clicked. */
            int pick = us->clicked[rng_below(RECENT)];
            item = (rng_below(100) < 70 && pick) ? pick : 1 + (int)rng_below(ITEMS);
        }
        printf("{\"ts\":%" PRId64 ",\"user_id\":\"u%u\",\"type\":\"%s\","
               "\"item\":\"i%d\",\"device\":\"%s\"}\n",
               ts, u + 1, type, item, devices[rng_below(3)]);
    }
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
