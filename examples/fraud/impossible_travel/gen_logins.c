/* gen_logins.c — writes account activity for the impossible_travel example
 * as JSON Lines: `gen_logins [ACCOUNTS [SEED]]` (default 150 accounts, seed
 * 20240304). Accounts log in from around their home city (with a few km of
 * GPS and IP-geolocation noise), some travel by plane at believable speeds,
 * and a few are used from far away minutes after a login at home. Failed
 * logins, statement views and logouts are noise; 1 event in 10 arrives up
 * to 1 minute late; a few lines are malformed. */
#include "../../common/gen.h"

#define START_MS 1709510400000LL /* 2024-03-04T00:00:00Z */
#define MAX_SKEW_MS 60000        /* run with --max-delay 60000 */
#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)

typedef struct city {
    const char *name;
    double lat, lon;
} city;

static const city cities[] = {
    {"Paris", 48.8566, 2.3522},       {"London", 51.5074, -0.1278},
    {"Berlin", 52.5200, 13.4050},     {"Madrid", 40.4168, -3.7038},
    {"Rome", 41.9028, 12.4964},       {"Warsaw", 52.2297, 21.0122},
    {"New York", 40.7128, -74.0060},  {"Chicago", 41.8781, -87.6298},
    {"Sao Paulo", -23.5505, -46.6333},{"Lagos", 6.5244, 3.3792},
    {"Moscow", 55.7558, 37.6173},     {"Mumbai", 19.0760, 72.8777},
    {"Singapore", 1.3521, 103.8198},  {"Tokyo", 35.6762, 139.6503},
    {"Sydney", -33.8688, 151.2093},   {"Lyon", 45.7640, 4.8357},
};
#define NCITIES (sizeof cities / sizeof cities[0])

/* Coordinates with about +-3 km of noise, printed with 4 decimals. */
static void event(int64_t ts, unsigned acct, const char *type, const city *c)
{
    if (c) {
        double lat = c->lat + (double)gen_range(-300, 300) / 10000.0;
        double lon = c->lon + (double)gen_range(-300, 300) / 10000.0;
        gen_emit(ts, gen_skew(10, MAX_SKEW_MS),
                 "{\"ts\":%" PRId64 ",\"account\":\"a%03u\",\"type\":\"%s\","
                 "\"city\":\"%s\",\"lat\":%.4f,\"lon\":%.4f,\"ip\":\"%u.%u.%u.%u\"}",
                 ts, acct, type, c->name, lat, lon, 11 + gen_below(200),
                 gen_below(256), gen_below(256), 1 + gen_below(254));
    } else {
        gen_emit(ts, gen_skew(10, MAX_SKEW_MS),
                 "{\"ts\":%" PRId64 ",\"account\":\"a%03u\",\"type\":\"%s\"}",
                 ts, acct, type);
    }
}

int main(int argc, char **argv)
{
    unsigned long long n;
    if (gen_args(argc, argv, &n, 150, 20240304) < 0)
        return 2;
    for (unsigned acct = 1; acct <= n; acct++) {
        const city *home = &cities[gen_below(NCITIES)];
        const city *here = home;
        int64_t t = START_MS + gen_range(0, 4 * HOUR_MS);
        int64_t end = START_MS + 48 * HOUR_MS;
        int travelled = 0;
        while (t < end) {
            unsigned roll = gen_below(100);
            if (roll < 70) { /* an ordinary session */
                if (gen_chance(8)) /* mistyped password first */
                    event(t - gen_range(5000, 30000), acct, "login_failed", here);
                event(t, acct, "login", here);
                if (gen_chance(60))
                    event(t + gen_range(10000, 10 * MIN_MS), acct, "view_statement", NULL);
                event(t + gen_range(10 * MIN_MS, 20 * MIN_MS), acct, "logout", NULL);
                t += gen_range(2 * HOUR_MS, 9 * HOUR_MS);
            } else if (roll < 78) {
                if (travelled) { /* one trip is enough: a quiet time */
                    t += gen_range(HOUR_MS, 6 * HOUR_MS);
                    continue;
                }
                /* A trip: the next login is from another city, after a
                 * flight at 800 km/h at most plus two hours at airports. */
                const city *to = &cities[gen_below(NCITIES)];
                if (to == here)
                    continue;
                travelled = 1;
                double dlat = to->lat - here->lat, dlon = to->lon - here->lon;
                double approx_km = 111.0 * (dlat < 0 ? -dlat : dlat) +
                                   80.0 * (dlon < 0 ? -dlon : dlon);
                t += 2 * HOUR_MS + (int64_t)(approx_km / 800.0 * HOUR_MS) +
                     gen_range(0, 5 * HOUR_MS);
                here = to;
            } else if (roll < 79) {
                /* Account takeover: a login from far away a few minutes or
                 * hours after the owner's own login. */
                event(t, acct, "login", here);
                const city *far = &cities[gen_below(NCITIES)];
                int64_t u = t + gen_range(MIN_MS, 3 * HOUR_MS);
                event(u, acct, "login", far);
                event(u + gen_range(MIN_MS, 5 * MIN_MS), acct, "view_statement", NULL);
                t = u + gen_range(2 * HOUR_MS, 9 * HOUR_MS);
            } else if (roll < 80) {
                /* A VPN switched on and off: the same minute, two places. */
                const city *vpn = &cities[gen_below(NCITIES)];
                event(t, acct, "login", vpn);
                event(t + gen_range(0, 40000), acct, "login", here);
                t += gen_range(2 * HOUR_MS, 9 * HOUR_MS);
            } else {
                t += gen_range(HOUR_MS, 6 * HOUR_MS); /* quiet */
            }
        }
    }
    return gen_write(4);
}
