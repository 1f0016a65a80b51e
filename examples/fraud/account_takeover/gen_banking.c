/* gen_banking.c — writes online-banking activity for the account_takeover
 * example as JSON Lines: `gen_banking [ACCOUNTS [SEED]]` (default 120
 * accounts, seed 20240305). Owners log in from their own one or two
 * devices and make transfers of their usual size; some forget their
 * password (reset, then log in from a known device), some reset it on a new
 * phone, some make one large legitimate transfer. A few accounts are taken
 * over: a password reset, a login from the attacker's device, and a large
 * transfer within minutes (sometimes too slowly to be caught). Statement
 * views, failed logins and logouts are noise; 1 event in 10 arrives up to
 * 20 s late; a few lines are malformed. */
#include "../../common/gen.h"

#define START_MS 1709596800000LL /* 2024-03-05T00:00:00Z */
#define MAX_SKEW_MS 20000        /* run with --max-delay 20000 */
#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)

static void event(int64_t ts, unsigned acct, const char *type, const char *device,
                  unsigned amount)
{
    if (amount)
        gen_emit(ts, gen_skew(10, MAX_SKEW_MS),
                 "{\"ts\":%" PRId64 ",\"account\":\"acc%03u\",\"type\":\"%s\","
                 "\"device\":\"%s\",\"amount\":%u,\"to\":\"FR76%08u\"}",
                 ts, acct, type, device, amount, gen_below(100000000));
    else
        gen_emit(ts, gen_skew(10, MAX_SKEW_MS),
                 "{\"ts\":%" PRId64 ",\"account\":\"acc%03u\",\"type\":\"%s\","
                 "\"device\":\"%s\"}", ts, acct, type, device);
}

/* An amount around `usual` (+-40%). */
static unsigned around(unsigned usual)
{
    return (unsigned)gen_range(usual * 6 / 10, usual * 14 / 10);
}

int main(int argc, char **argv)
{
    unsigned long long n;
    if (gen_args(argc, argv, &n, 120, 20240305) < 0)
        return 2;
    for (unsigned acct = 1; acct <= n; acct++) {
        char dev[2][32], other[32];
        unsigned ndev = 1 + gen_below(2);
        for (unsigned d = 0; d < 2; d++)
            snprintf(dev[d], sizeof dev[d], "dev-%03u-%u", acct, d + 1);
        unsigned usual = (unsigned)gen_range(20, 400);
        int64_t t = START_MS + gen_range(0, 6 * HOUR_MS);
        int64_t end = START_MS + 5 * 24 * HOUR_MS;
        while (t < end) {
            const char *my = dev[gen_below(ndev)];
            unsigned roll = gen_below(100);
            if (roll < 80) { /* an ordinary session */
                if (gen_chance(5))
                    event(t - gen_range(5000, 40000), acct, "login_failed", my, 0);
                event(t, acct, "login", my, 0);
                int64_t u = t + gen_range(20000, 3 * MIN_MS);
                if (gen_chance(50)) {
                    event(u, acct, "view_statement", my, 0);
                    u += gen_range(20000, 3 * MIN_MS);
                }
                unsigned transfers = gen_below(3);
                for (unsigned k = 0; k < transfers; k++) {
                    event(u, acct, "transfer", my, around(usual));
                    u += gen_range(20000, 4 * MIN_MS);
                }
                if (gen_chance(70))
                    event(u, acct, "logout", my, 0);
            } else if (roll < 87) { /* forgot the password */
                event(t, acct, "password_reset", my, 0);
                event(t + gen_range(2 * MIN_MS, 15 * MIN_MS), acct, "login", my, 0);
            } else if (roll < 89) { /* a new phone: reset, new device, usual use */
                snprintf(dev[ndev - 1], sizeof dev[0], "dev-%03u-new%u", acct,
                         gen_below(10));
                my = dev[ndev - 1];
                event(t, acct, "password_reset", my, 0);
                event(t + gen_range(2 * MIN_MS, 10 * MIN_MS), acct, "login", my, 0);
                event(t + gen_range(11 * MIN_MS, 20 * MIN_MS), acct, "transfer", my,
                      around(usual));
            } else if (roll < 94) { /* a large legitimate transfer: rent, a car */
                event(t, acct, "login", my, 0);
                event(t + gen_range(MIN_MS, 5 * MIN_MS), acct, "transfer", my,
                      usual * (unsigned)gen_range(5, 20));
            } else if (roll < 96) { /* takeover */
                snprintf(other, sizeof other, "dev-x%04u", gen_below(10000));
                event(t, acct, "password_reset", other, 0);
                int64_t u = t + gen_range(2 * MIN_MS, 12 * MIN_MS);
                event(u, acct, "login", other, 0);
                if (gen_chance(50)) { /* a small transfer first, to try */
                    u += gen_range(MIN_MS, 4 * MIN_MS);
                    event(u, acct, "transfer", other, around(usual) / 2 + 1);
                }
                /* One takeover in four is slow: the transfer comes after
                 * the 30 minutes the rule watches. */
                u += gen_chance(75) ? gen_range(MIN_MS, 10 * MIN_MS)
                                    : gen_range(35 * MIN_MS, 60 * MIN_MS);
                event(u, acct, "transfer", other, usual * (unsigned)gen_range(8, 30));
            }
            /* else: a quiet time */
            t += gen_range(3 * HOUR_MS, 14 * HOUR_MS);
        }
    }
    return gen_write(4);
}
