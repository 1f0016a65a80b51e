/* gen_funnel.c — writes shop sessions for the funnel example as JSON Lines:
 * `gen_funnel [SESSIONS [SEED]]` (default 300 sessions, seed 20240301).
 * Each session views products, maybe adds one to the cart, maybe checks
 * out; with searches and scrolls in between, sessions overlapping, 1 event
 * in 10 delivered up to 10 s late, and a few malformed lines. */
#include "../common/gen.h"

#define START_MS 1709251200000LL /* 2024-03-01T00:00:00Z */
#define MAX_SKEW_MS 10000        /* run with --max-delay 10000 */
#define MIN_MS 60000LL

static const char *const noise[] = {"search", "scroll", "page_view", "newsletter_signup"};

/* One noise event somewhere in [from, to]. */
static void emit_noise(const char *sess, unsigned user, int64_t from, int64_t to)
{
    int64_t ts = gen_range(from, to);
    gen_emit(ts, gen_skew(10, MAX_SKEW_MS),
             "{\"ts\":%" PRId64 ",\"session\":\"%s\",\"user\":\"u%u\",\"type\":\"%s\"}",
             ts, sess, user, noise[gen_below(4)]);
}

int main(int argc, char **argv)
{
    unsigned long long n;
    if (gen_args(argc, argv, &n, 300, 20240301) < 0)
        return 2;
    for (unsigned long long s = 0; s < n; s++) {
        char sess[24];
        snprintf(sess, sizeof sess, "s%04llu", s + 1);
        unsigned user = 1 + gen_below(120);
        /* Sessions start over six hours, so many overlap. */
        int64_t t = START_MS + gen_range(0, 6 * 60 * MIN_MS);
        int64_t begin = t;

        /* 1 to 4 product views, a minute or two apart. */
        unsigned views = 1 + gen_below(4);
        unsigned item = 0;
        for (unsigned v = 0; v < views; v++) {
            item = 1 + gen_below(40);
            gen_emit(t, gen_skew(10, MAX_SKEW_MS),
                     "{\"ts\":%" PRId64 ",\"session\":\"%s\",\"user\":\"u%u\","
                     "\"type\":\"view\",\"item\":\"i%u\"}", t, sess, user, item);
            t += gen_range(20000, 3 * MIN_MS);
        }
        /* About 55% add the last viewed product to the cart. */
        if (gen_chance(55)) {
            t += gen_range(10000, 10 * MIN_MS);
            gen_emit(t, gen_skew(10, MAX_SKEW_MS),
                     "{\"ts\":%" PRId64 ",\"session\":\"%s\",\"user\":\"u%u\","
                     "\"type\":\"add_to_cart\",\"item\":\"i%u\",\"price\":%u}",
                     t, sess, user, item, 5 + gen_below(200));
            /* About 60% of those check out: most within minutes, some after
             * a long break (past the 1-hour window: counted as a drop). */
            if (gen_chance(60)) {
                t += gen_chance(85) ? gen_range(30000, 15 * MIN_MS)
                                    : gen_range(60 * MIN_MS, 120 * MIN_MS);
                gen_emit(t, gen_skew(10, MAX_SKEW_MS),
                         "{\"ts\":%" PRId64 ",\"session\":\"%s\",\"user\":\"u%u\","
                         "\"type\":\"checkout\",\"items\":1}", t, sess, user);
            }
        }
        /* Unrelated events during the session. */
        unsigned extra = gen_below(5);
        for (unsigned k = 0; k < extra; k++)
            emit_noise(sess, user, begin, t + MIN_MS);
    }
    return gen_write(5);
}
