/* progress.h — `cepheus run --progress`: one status line a second on
 * stderr (rewritten in place on a terminal): events/s, events, matches,
 * late events, partial matches, watermark lag and state memory. */
#ifndef CEP_PROGRESS_H
#define CEP_PROGRESS_H

#include <stdint.h>
#include <stdio.h>
#include "cepheus.h"

typedef struct progress {
    int on;
    int tty;             /* stderr is a terminal: one line, rewritten */
    double next, last;   /* monotonic seconds */
    uint64_t last_read;
    int printed;         /* a line is on the terminal, not ended */
} progress;

void progress_init(progress *p, int on, double now);
/* Is a line due at now? */
static inline int progress_due(const progress *p, double now) { return p->on && now >= p->next; }
/* Print the line: read, the lines read so far; st the engine's counters. */
void progress_print(progress *p, double now, uint64_t read, const cep_stats *st, FILE *f);
/* End the line on a terminal, before other messages or at the end. */
void progress_end(progress *p, FILE *f);

#endif
