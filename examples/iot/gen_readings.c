/* gen_readings.c — writes sensor readings for the iot example as JSON
 * Lines: `gen_readings [SENSORS [SEED]]` (default 12 sensors, seed
 * 20240306). Each sensor sends a temperature every 30 s for two hours
 * (jittering by a few tenths of a degree), humidity every minute and a
 * battery level now and then. Now and then a heater, a fire door or the sun
 * makes a temperature climb for several readings in a row. 1 reading in 10
 * arrives up to 10 s late (reordered by --max-delay 10000); about 1 in 150
 * arrives minutes late (a flaky link): those are late events. A few lines
 * are malformed. */
#include "../common/gen.h"

#define START_MS 1709683200000LL /* 2024-03-06T00:00:00Z */
#define MAX_SKEW_MS 10000        /* run with --max-delay 10000 */
#define SEC_MS 1000LL

/* Delivery delay: mostly on time, sometimes reordered, rarely late. */
static int64_t delay(void)
{
    if (gen_below(150) == 0)
        return gen_range(60 * SEC_MS, 300 * SEC_MS);
    return gen_skew(10, MAX_SKEW_MS);
}

int main(int argc, char **argv)
{
    unsigned long long n;
    if (gen_args(argc, argv, &n, 12, 20240306) < 0)
        return 2;
    for (unsigned s = 1; s <= n; s++) {
        int tenths = (int)gen_range(180, 240); /* 18.0 to 24.0 degrees */
        int base = tenths;
        int climbing = 0;
        int64_t t0 = START_MS + gen_range(0, 30 * SEC_MS);
        for (int64_t t = t0; t < START_MS + 2 * 3600 * SEC_MS; t += 30 * SEC_MS) {
            int64_t ts = t + gen_range(-500, 500);
            if (climbing > 0) { /* 0.4 to 1.5 degrees up per reading */
                tenths += (int)gen_range(4, 15);
                climbing--;
            } else {
                if (gen_below(60) == 0)
                    climbing = (int)gen_range(2, 8);
                /* jitter, and a slow pull back to the sensor's normal */
                tenths += (int)gen_range(-2, 2) + (tenths > base + 3 ? -3 : 0);
            }
            gen_emit(ts, delay(),
                     "{\"ts\":%" PRId64 ",\"sensor\":\"s%02u\",\"metric\":\"temperature\","
                     "\"value\":%d.%d}", ts, s, tenths / 10, tenths % 10);
            if ((t - t0) % (60 * SEC_MS) == 0)
                gen_emit(ts + 200, delay(),
                         "{\"ts\":%" PRId64 ",\"sensor\":\"s%02u\",\"metric\":\"humidity\","
                         "\"value\":%u}", ts + 200, s, 35 + gen_below(20));
            if (gen_below(40) == 0)
                gen_emit(ts + 300, delay(),
                         "{\"ts\":%" PRId64 ",\"sensor\":\"s%02u\",\"metric\":\"battery\","
                         "\"value\":%u}", ts + 300, s, 60 + gen_below(40));
        }
    }
    return gen_write(5);
}
