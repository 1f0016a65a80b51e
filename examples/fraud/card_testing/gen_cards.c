/* gen_cards.c — writes card authorisations for the card_testing example as
 * JSON Lines: `gen_cards [CARDS [SEED]]` (default 400 cards, seed 20240303).
 * Amounts are integer cents. Most cards shop normally (coffees under 5.00
 * included); a few are tested by fraudsters with tiny amounts at several
 * merchants, then charged a large amount (sometimes too slowly to be
 * caught); a few are hit by bursts of declined attempts. Refunds and balance checks are noise; 1 event in 10
 * arrives up to 30 s late; a few lines are malformed. */
#include "../../common/gen.h"

#define START_MS 1709424000000LL /* 2024-03-03T00:00:00Z */
#define MAX_SKEW_MS 30000        /* run with --max-delay 30000 */
#define MIN_MS 60000LL
#define DAY_MS (24 * 60 * MIN_MS)

static void auth(int64_t ts, unsigned card, unsigned cents, unsigned merchant,
                 const char *status)
{
    gen_emit(ts, gen_skew(10, MAX_SKEW_MS),
             "{\"ts\":%" PRId64 ",\"card\":\"c%04u\",\"type\":\"auth\","
             "\"amount_cents\":%u,\"merchant\":\"m%u\",\"status\":\"%s\"}",
             ts, card, cents, merchant, status);
}

int main(int argc, char **argv)
{
    unsigned long long n;
    if (gen_args(argc, argv, &n, 400, 20240303) < 0)
        return 2;
    for (unsigned card = 1; card <= n; card++) {
        /* Normal use: a few purchases over the day, some of them coffees. */
        unsigned buys = 1 + gen_below(6);
        for (unsigned k = 0; k < buys; k++) {
            int64_t t = START_MS + gen_range(0, DAY_MS);
            unsigned cents = gen_chance(30) ? gen_range(250, 499)
                                            : gen_range(500, gen_chance(10) ? 90000 : 12000);
            auth(t, card, cents, 1 + gen_below(60), gen_chance(97) ? "approved" : "declined");
            /* A coffee run: sometimes two more small ones close together. */
            if (cents < 500 && gen_chance(20))
                for (unsigned c = 0; c < 2; c++) {
                    t += gen_range(MIN_MS, 4 * MIN_MS);
                    auth(t, card, gen_range(250, 499), 1 + gen_below(60), "approved");
                }
        }
        if (gen_chance(8)) {
            int64_t t = START_MS + gen_range(0, DAY_MS);
            gen_emit(t, gen_skew(10, MAX_SKEW_MS),
                     "{\"ts\":%" PRId64 ",\"card\":\"c%04u\",\"type\":\"refund\","
                     "\"amount_cents\":%u}", t, card, 100 * (5 + gen_below(80)));
        }
        if (gen_chance(10)) {
            int64_t t = START_MS + gen_range(0, DAY_MS);
            gen_emit(t, gen_skew(10, MAX_SKEW_MS),
                     "{\"ts\":%" PRId64 ",\"card\":\"c%04u\",\"type\":\"balance_inquiry\"}",
                     t, card);
        }
        /* Card testing: 3 to 7 probes of 0.50 to 1.99 at different merchants,
         * seconds apart, then a large charge a few minutes later (one time
         * in four after 12 to 20 minutes: too slow for the rule). */
        if (gen_chance(4)) {
            int64_t t = START_MS + gen_range(0, DAY_MS);
            unsigned probes = 3 + gen_below(5);
            if (gen_chance(15))
                probes = 2; /* gives up early: not enough probes */
            for (unsigned p = 0; p < probes; p++) {
                auth(t, card, gen_range(50, 199), 100 + gen_below(20),
                     gen_chance(80) ? "approved" : "declined");
                t += gen_range(5000, 45000);
            }
            t += gen_chance(75) ? gen_range(MIN_MS, 6 * MIN_MS)
                                : gen_range(12 * MIN_MS, 20 * MIN_MS);
            auth(t, card, gen_range(40000, 250000), 1 + gen_below(60), "approved");
        }
        /* A burst of declines: someone guessing the expiry date or CVV. */
        if (gen_chance(2)) {
            int64_t t = START_MS + gen_range(0, DAY_MS);
            unsigned tries = 4 + gen_below(5);
            for (unsigned p = 0; p < tries; p++) {
                auth(t, card, gen_range(1000, 30000), 200 + gen_below(5), "declined");
                t += gen_range(3000, 20000);
            }
        }
    }
    return gen_write(4);
}
