/* progress.c — the status line of `cepheus run --progress` (progress.h). */
#include "config.h"
#include <inttypes.h>
#include <time.h>
#include <unistd.h>
#include "progress.h"
#include "summary.h"

void progress_init(progress *p, int on, double now) {
    p->on = on;
    p->tty = isatty(2);
    p->next = now + 1;
    p->last = now;
    p->last_read = 0;
    p->printed = 0;
}

void progress_print(progress *p, double now, uint64_t read, const cep_stats *st, FILE *f) {
    char a[32], b[32], c[32], d[32], e[32], lag[40];
    double dt = now - p->last;
    double rate = dt > 0 ? (double)(read - p->last_read) / dt : 0;
    /* Lag: the wall clock minus the watermark (event time), as Flink's
     * currentWatermarkLag; meaningful when events carry real times. */
    if (st->watermark == INT64_MIN) {
        snprintf(lag, sizeof lag, "-");
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wall = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (st->watermark >= wall) snprintf(lag, sizeof lag, "0ms");
        else if (wall - st->watermark < 0) snprintf(lag, sizeof lag, "-"); /* overflow */
        else summary_duration(wall - st->watermark, lag, sizeof lag);
    }
    fprintf(f, "%scepheus: %s events/s, %s events, %s matches, %s late, %s partial matches, "
               "watermark lag %s, memory %.1f MiB%s",
            p->tty ? "\r" : "", summary_count((uint64_t)(rate + 0.5), a, sizeof a),
            summary_count(read, b, sizeof b), summary_count(st->matches, c, sizeof c),
            summary_count(st->late, d, sizeof d), summary_count(st->partial_matches, e, sizeof e), lag,
            st->memory / 1048576.0, p->tty ? "\033[K" : "\n");
    fflush(f);
    p->printed = p->tty;
    p->last = now;
    p->last_read = read;
    p->next = now + 1;
}

void progress_end(progress *p, FILE *f) {
    if (p->printed) fputc('\n', f);
    p->printed = 0;
}
