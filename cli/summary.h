/* summary.h — nothing lost without a word: what `cepheus run` counts while
 * it runs (late events and how far behind, rejected lines by reason, the
 * fields a pattern reads that no event had) and the short summary it
 * prints on stderr at the end of a run or at an orderly stop. */
#ifndef CEP_SUMMARY_H
#define CEP_SUMMARY_H

#include <stdint.h>
#include <stdio.h>
#include "cepheus.h"

/* Rejected lines of one reason are printed this many times, then counted. */
#define SUMMARY_PRINTED_PER_REASON 5
/* When this many lines in a row from the start are all rejected for one
 * reason, the run stops (exit 3): the input or an option is wrong. */
#define SUMMARY_ALL_REJECTED 10000
#define SUMMARY_REASONS 16
/* The field names of the first events, kept while a field the patterns
 * read has had no value, for "did you mean" in the summary. */
#define SUMMARY_NAME_EVENTS 1000
#define SUMMARY_NAMES 256

typedef struct summary {
    const cep_program *prog;
    const char *time_field;
    int64_t max_delay, lateness;
    /* Late events (written by the late callback: with --threads, engine
     * 0's thread; read after the engines have stopped). */
    uint64_t late;
    int64_t max_behind;            /* watermark minus event time, at most */
    /* Lines. */
    uint64_t lines, accepted, rejected;
    struct { char *text; uint64_t n; int time_field; } reasons[SUMMARY_REASONS];
    unsigned nreasons;
    uint64_t other_reasons;        /* rejected for a reason past the table */
    /* Fields a pattern reads: events in which each had a value. */
    uint64_t events, *field_seen;
    size_t nfields, fields_pending; /* slots with no value in any event yet */
    cep_event *row;                 /* the parse of a line while some are pending */
    char *names[SUMMARY_NAMES];     /* field names (paths) the events had */
    size_t nnames;
    uint64_t name_events;           /* events whose names were read */
    int oom;
    int gave_up;                    /* summary_all_rejected said why */
    int strict;                     /* --strict: a rejected line stopped the run */
    int watermark_lines;            /* the input moved the watermark itself */
} summary;

/* 0, or -1 when out of memory. */
int summary_init(summary *s, const cep_program *prog, const char *time_field, int64_t max_delay,
                 int64_t lateness);
void summary_free(summary *s);
/* The program changed (SIGHUP): fields are counted afresh. */
int summary_reprogram(summary *s, const cep_program *prog);

/* A late event; watermark: the engine's when it was found late. */
void summary_late(summary *s, const cep_event *ev, int64_t watermark);

/* Parse line into s->row (only while some field has had no value yet) and
 * count the fields it has. The caller pushes s->row. The parse's rc. */
int summary_parse(summary *s, const char *line, size_t len, int processing_time);
/* An event line pushed without summary_parse (every field seen): counted. */
static inline void summary_event(summary *s) { s->events++; }

/* A line accepted (an event or a watermark). */
static inline void summary_accept(summary *s) {
    s->lines++;
    s->accepted++;
}
/* A rejected line: 1 when it should be printed on stderr, 0 when it is
 * only counted. *notice is set to 1 the first time a reason goes quiet
 * (print "further ... counted" once). rc: the push's error code. */
int summary_reject(summary *s, int rc, const char *reason, int *notice);
/* The message to stop with when the first SUMMARY_ALL_REJECTED lines were
 * all rejected for one reason, else NULL. buf holds it. */
const char *summary_all_rejected(summary *s, char *buf, size_t n);

/* The end-of-run summary, when something was lost or ignored: nothing is
 * printed otherwise. st: the engine's counters. */
void summary_print(const summary *s, const cep_stats *st, FILE *f);

/* "70,058". */
const char *summary_count(uint64_t n, char *buf, size_t size);
/* A duration in the units of the language, e.g. "4.2s", "150ms". */
const char *summary_duration(int64_t ms, char *buf, size_t size);

#endif
