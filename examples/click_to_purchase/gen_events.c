/* gen_events.c — writes a synthetic click stream for the click_to_purchase
 * example: `gen_events N [SEED]` prints N JSON Lines events to stdout. It
 * depends on nothing but libc and ../common/gen.h (whose PRNG and argument
 * check it uses), and the same N and SEED always give the same bytes. It
 * streams its events in its own arrival order instead of gen.h's buffer, so
 * that a run of millions of events needs no memory. */
#include "../common/gen.h"

#define USERS 12
#define ITEMS 25
#define RECENT 16              /* clicks remembered per user (about 16 minutes) */
#define START_MS 1700000000000LL
#define MAX_SKEW_MS 5000       /* out-of-order events are at most this late */

typedef struct user {
    int clicked[RECENT]; /* items clicked lately, newest at [0]; 0 = none */
} user;

int main(int argc, char **argv)
{
    unsigned long long n, seed = 20231114;
    if (argc < 2 || argc > 3 || gen_parse_count(argv[1], &n) < 0 ||
        (argc == 3 && gen_parse_count(argv[2], &seed) < 0)) {
        fprintf(stderr, "usage: gen_events N [SEED]\n");
        return 2;
    }
    gen_rng_state = seed;

    user users[USERS] = {{{0}}};
    static const char *devices[] = {"mobile", "desktop", "tablet"};
    int64_t clock = START_MS;

    for (unsigned long long i = 0; i < n; i++) {
        /* Gaps of 0.2 to 3 seconds: about 30 events a minute, so a run of
         * 2000 spans an hour and the 10-minute window matters. */
        clock += 200 + gen_below(2800);
        int64_t ts = clock;
        /* One event in ten arrives late by up to MAX_SKEW_MS (still within
         * the --max-delay the example runs with). */
        if (gen_below(10) == 0)
            ts -= gen_below(MAX_SKEW_MS + 1);

        unsigned u = gen_below(USERS);
        user *us = &users[u];
        unsigned roll = gen_below(100);
        const char *type;
        int item;
        if (roll < 50) {
            /* Browsing: views of any item, unrelated to the pattern. */
            type = "view";
            item = 1 + (int)gen_below(ITEMS);
        } else if (roll < 80) {
            type = "click";
            item = 1 + (int)gen_below(ITEMS);
            for (int k = RECENT - 1; k > 0; k--)
                us->clicked[k] = us->clicked[k - 1];
            us->clicked[0] = item;
        } else {
            type = "purchase";
            /* Mostly an item the user clicked lately (sometimes long ago,
             * outside the window), else an item never clicked. */
            int pick = us->clicked[gen_below(RECENT)];
            item = (gen_below(100) < 70 && pick) ? pick : 1 + (int)gen_below(ITEMS);
        }
        printf("{\"ts\":%" PRId64 ",\"user_id\":\"u%u\",\"type\":\"%s\","
               "\"item\":\"i%d\",\"device\":\"%s\"}\n",
               ts, u + 1, type, item, devices[gen_below(3)]);
    }
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
