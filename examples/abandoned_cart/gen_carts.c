/* gen_carts.c — writes shop activity for the abandoned_cart example as JSON
 * Lines: `gen_carts [VISITS [SEED]]` (default 250 visits, seed 20240302).
 * In each visit a user views products, adds one to three to the cart, and
 * then checks out in time, checks out too late, removes an item first, or
 * leaves. Other users' visits overlap; 1 event in 10 arrives up to 10 s
 * late; a few lines are malformed. */
#include "../common/gen.h"

#define START_MS 1709337600000LL /* 2024-03-02T00:00:00Z */
#define MAX_SKEW_MS 10000        /* run with --max-delay 10000 */
#define MIN_MS 60000LL

static void event(int64_t ts, unsigned user, const char *type, unsigned item,
                  unsigned price)
{
    if (item)
        gen_emit(ts, gen_skew(10, MAX_SKEW_MS),
                 "{\"ts\":%" PRId64 ",\"user\":\"u%u\",\"type\":\"%s\","
                 "\"item\":\"i%u\",\"price\":%u}", ts, user, type, item, price);
    else
        gen_emit(ts, gen_skew(10, MAX_SKEW_MS),
                 "{\"ts\":%" PRId64 ",\"user\":\"u%u\",\"type\":\"%s\"}",
                 ts, user, type);
}

int main(int argc, char **argv)
{
    unsigned long long n;
    if (gen_args(argc, argv, &n, 250, 20240302) < 0)
        return 2;
    /* Each user's next visit starts after their previous one ended, so one
     * user's visits do not overlap (other users' do). */
    int64_t free_at[61] = {0};
    for (unsigned long long v = 0; v < n; v++) {
        unsigned user = 1 + gen_below(60);
        int64_t t = START_MS + gen_range(0, 8 * 60 * MIN_MS);
        if (t < free_at[user])
            t = free_at[user] + gen_range(5 * MIN_MS, 30 * MIN_MS);

        unsigned views = gen_below(4);
        for (unsigned k = 0; k < views; k++) {
            event(t, user, gen_chance(70) ? "view" : "search",
                  1 + gen_below(50), 0);
            t += gen_range(10000, 2 * MIN_MS);
        }
        unsigned items[3], prices[3], adds = 1 + gen_below(3);
        for (unsigned k = 0; k < adds; k++) {
            items[k] = 1 + gen_below(50);
            prices[k] = 3 + gen_below(150);
            event(t, user, "add_to_cart", items[k], prices[k]);
            t += gen_range(20000, 4 * MIN_MS);
        }
        unsigned roll = gen_below(100);
        if (roll < 45) { /* checks out in time */
            t += gen_range(2 * MIN_MS, 25 * MIN_MS);
            event(t, user, "checkout", 0, 0);
        } else if (roll < 55) { /* comes back after more than 30 minutes */
            t += gen_range(35 * MIN_MS, 90 * MIN_MS);
            event(t, user, "checkout", 0, 0);
        } else if (roll < 65) { /* removes the last item, checks out later */
            t += gen_range(MIN_MS, 5 * MIN_MS);
            event(t, user, "remove_from_cart", items[adds - 1], prices[adds - 1]);
            t += gen_range(MIN_MS, 40 * MIN_MS);
            event(t, user, "checkout", 0, 0);
        } else if (roll < 72) { /* removes the last item and leaves */
            t += gen_range(MIN_MS, 5 * MIN_MS);
            event(t, user, "remove_from_cart", items[adds - 1], prices[adds - 1]);
        } /* else: leaves */
        if (gen_chance(30)) { /* browsing after the cart: unrelated */
            t += gen_range(10000, 3 * MIN_MS);
            event(t, user, "view", 1 + gen_below(50), 0);
        }
        free_at[user] = t;
    }
    return gen_write(4);
}
