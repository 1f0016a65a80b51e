/* run.c — `cepheus run`: options, reading JSON lines (files, stdin or a
 * pipe, with watermark lines), pushing them through an engine, writing
 * matches, late events, timeouts and rejected lines; checkpoints and
 * restores, SIGHUP reloads, processing-time ticks. */
#include "config.h"
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* getline, getopt_long */
#endif

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cepheus.h"
#include "checkpoint.h"
#include "cli.h"
#include "jsonout.h"
#include "linereader.h"
#include "metrics.h"
#include "output.h"
#include "progress.h"
#include "runopts.h"
#include "samefile.h"
#include "stop.h"
#include "suggest.h"
#include "summary.h"
#ifdef CEP_HAVE_KAFKA
#include "kafka.h"
#endif

/* What one engine's callbacks write to (with --threads, one per engine of
 * the pool):
 * blocks of whole lines for each output file. */
typedef struct sink {
    const cep_program *prog;
    out_buf out, late, timeouts;
    int oom;             /* a line could not be formatted: out of memory */
    cep_engine *eng;     /* the engine whose callbacks these are */
    summary *sum;        /* counts late events (only one engine delivers them) */
    uint64_t *by_pattern; /* --metrics: matches by pattern index */
    int form;            /* JOUT_EVENTS, or JOUT_POSITIONS (--output-form positions) */
} sink;

typedef struct run_ctx {
    const cep_program *prog;
    cep_program **owned;       /* the program cmd_run frees (a reload swaps it) */
    const char *pattern_file;
    out_file out, late, timeouts, errors; /* f NULL: not wanted (out: stdout) */
    sink main;           /* the single engine's callbacks */
    sink *shards;        /* --threads: each pool engine's callbacks */
    unsigned nshards;
    out_buf rejected;    /* --errors lines, from the reading loop */
    int oom;
    char *text;          /* the pattern file's text that runs: checkpoints keep it */
    size_t text_len;
    ckpt_bg ckpt;        /* the checkpoint being written in the background */
    summary sum;         /* what the end-of-run summary reports */
    progress status;     /* --progress */
    metrics *mx;         /* --metrics, or NULL */
    uint64_t malformed_by[MAL_N];
    int ckpt_on;         /* --checkpoint */
    int ckpt_failed;     /* the failure of a checkpoint a scrape collected */
    int form;            /* --output-form: JOUT_EVENTS or JOUT_POSITIONS */
    cep_event *row;      /* positions: the line parsed here, tagged with its number */
    const char *row_err; /* positions: why the last line did not parse, else NULL */
} run_ctx;

/* The engine, or with --threads the pool of engines (runtime/pool.c):
 * run_events drives either the same way. */
typedef struct runner {
    cep_engine *e;
    cep_pool *p;
} runner;

static int rn_push_json(runner *x, const char *t, size_t n) {
    return x->p ? cep_pool_push_json(x->p, t, n) : cep_engine_push_json(x->e, t, n);
}
static int rn_advance(runner *x, int64_t ms) {
    return x->p ? cep_pool_advance_watermark(x->p, ms) : cep_engine_advance_watermark(x->e, ms);
}
static int rn_tick(runner *x) { return x->p ? cep_pool_tick(x->p) : cep_engine_tick(x->e); }
static int rn_finish(runner *x) { return x->p ? cep_pool_finish(x->p) : cep_engine_finish(x->e); }
static const char *rn_error(const runner *x) { return x->p ? cep_pool_error(x->p) : cep_engine_error(x->e); }
static void rn_stats(runner *x, cep_stats *st) {
    if (x->p) cep_pool_stats(x->p, st);
    else cep_engine_stats(x->e, st);
}

/* Append a match (or a timed-out partial match) as one JSON line to o. */
static int write_match(sink *s, out_buf *o, const cep_match *m) {
    jbuf_match_as(&o->b, s->prog, m, s->form);
    if (o->b.oom) {
        s->oom = 1;
        return 1;
    }
    return out_line_done(o) != 0;
}

static int on_match(void *ud, const cep_match *m) {
    sink *s = ud;
    if (s->by_pattern) s->by_pattern[cep_match_pattern_index(m)]++;
    return write_match(s, &s->out, m);
}

static int on_timeout(void *ud, const cep_match *m) {
    sink *s = ud;
    return write_match(s, &s->timeouts, m);
}

static int on_late(void *ud, const cep_event *ev) {
    sink *s = ud;
    if (s->sum && s->eng) {
        cep_stats st;
        cep_engine_stats(s->eng, &st);
        summary_late(s->sum, ev, st.watermark);
    }
    if (!s->late.file->f) return 0;
    size_t len;
    const char *raw = cep_event_raw(ev, &len);
    if (!raw) return 0; /* every event read here has its text */
    jbuf_put(&s->late.b, raw, len);
    jbuf_put(&s->late.b, "\n", 1);
    if (s->late.b.oom) {
        s->oom = 1;
        return 1;
    }
    return out_line_done(&s->late) != 0;
}

static void sink_init(sink *s, run_ctx *r) {
    memset(s, 0, sizeof *s);
    s->prog = r->prog;
    s->out.file = &r->out;
    s->late.file = &r->late;
    s->timeouts.file = &r->timeouts;
    s->sum = &r->sum;
    s->form = r->form;
    if (r->mx) s->by_pattern = calloc(cep_program_pattern_count(r->prog), sizeof *s->by_pattern);
}

/* Write what the sink still holds; 0, or -1 when a write failed. */
static int sink_flush(sink *s) {
    int a = out_flush(&s->out), b = out_flush(&s->late), c = out_flush(&s->timeouts);
    return a | b | c;
}

static void sink_free(sink *s) {
    out_buf_free(&s->out);
    out_buf_free(&s->late);
    out_buf_free(&s->timeouts);
    free(s->by_pattern);
}

/* The output that failed to be written, if any. */
static const out_file *failed_output(run_ctx *r) {
    out_file *f[] = {&r->out, &r->late, &r->timeouts, &r->errors};
    for (int i = 0; i < 4; i++) {
        pthread_mutex_lock(&f[i]->lock); /* shards may be writing */
        int err = f[i]->err;
        pthread_mutex_unlock(&f[i]->lock);
        if (err) return f[i];
    }
    return NULL;
}

/* Report the output that failed to be written (once: its message is not
 * repeated when it is closed) and return EXIT_OUTPUT. */
static int output_failed(run_ctx *r) {
    out_file *f = (out_file *)failed_output(r);
    if (!f) return fail(EXIT_OUTPUT, "cannot write the output: %s", strerror(EIO));
    if (f->reported) return EXIT_OUTPUT;
    f->reported = 1;
    return fail(EXIT_OUTPUT, "cannot write '%s': %s", f->name, strerror(f->err));
}

/* Did a callback run out of memory formatting a line? */
static int sinks_oom(const run_ctx *r) {
    int oom = r->main.oom;
    for (unsigned i = 0; i < r->nshards; i++) oom |= r->shards[i].oom;
    return oom;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

/* Close (and so flush) an output file; EXIT_OUTPUT when it or an earlier
 * write failed. Its writers' blocks must have been written already. */
static int close_output(out_file *o) {
    FILE *f = o->f;
    if (!f) return EXIT_OK;
    int bad = ferror(f) || o->err, told = o->reported;
    int err = o->err ? o->err : errno;
    if (f == stdout) {
        if (fflush(f) != 0 && !bad) bad = 1, err = errno;
    } else if (fclose(f) != 0 && !bad) {
        bad = 1, err = errno;
    }
    o->f = NULL;
    if (bad && told) return EXIT_OUTPUT; /* already said */
    if (bad) return fail(EXIT_OUTPUT, "cannot write '%s': %s", o->name, strerror(err ? err : EIO));
    return EXIT_OK;
}

typedef struct input {
    FILE *f;
    const char *name;    /* as shown in messages */
} input;

static int is_malformed(int rc) {
    return rc == CEP_EJSON || rc == CEP_ENOTOBJECT || rc == CEP_ETIME ||
           rc == CEP_ERANGE || rc == CEP_ETOODEEP;
}


/* SIGHUP asks for the pattern file to be read again; the run loop does it
 * between two lines, so no event sees half a change. */
static volatile sig_atomic_t reload_requested;

static void on_sighup(int sig) {
    (void)sig;
    reload_requested = 1;
    stop_wake(); /* a reader about to wait wakes: the reload is not held until more input */
}

/* SIGUSR1 asks for a savepoint, likewise taken between two lines. */
static volatile sig_atomic_t savepoint_requested;

static void on_sigusr1(int sig) {
    (void)sig;
    savepoint_requested = 1;
    stop_wake();
}

/* --metrics: each pattern of the new program keeps its count under its
 * name (from[i]: the old index of the new pattern i, or -1). */
static void recount_by_pattern(sink *s, const cep_program *np, const long *from) {
    s->prog = np;
    if (!s->by_pattern) return;
    uint64_t *nb = calloc(cep_program_pattern_count(np), sizeof *nb);
    for (size_t i = 0; nb && from && i < cep_program_pattern_count(np); i++)
        if (from[i] >= 0) nb[i] = s->by_pattern[from[i]];
    free(s->by_pattern);
    s->by_pattern = nb;
}

static unsigned run_warn_skip(const run_opts *o);

/* Compile the pattern file again, with the start's -W options, and switch
 * the engine (with --threads, every engine of the pool) to it, keeping the
 * state of unchanged patterns. A file with errors is reported and the
 * running patterns go on untouched. */
static void reload_patterns(cep_engine *e, cep_pool *pool, run_ctx *r, const run_opts *o) {
    reload_requested = 0;
    cep_program *np;
    char *text = NULL;
    size_t len = 0;
    if (compile_file_warn(r->pattern_file, &np, &text, &len, &o->warn, run_warn_skip(o)) != EXIT_OK) {
        fprintf(stderr, "cepheus: %s not reloaded; the running patterns go on\n", r->pattern_file);
        cep_program_free(np); /* set when a warning counted as an error */
        free(text);
        return;
    }
    int rc = pool ? cep_pool_replace_program(pool, np) : cep_engine_replace_program(e, np);
    if (rc != CEP_OK && !pool && cep_engine_program(e) == np) {
        /* Out of memory half-way: the engine runs np, its partial matches
         * lost; np is in use and becomes the run's program. */
        fprintf(stderr, "cepheus: reloaded %s, but out of memory half-way: every partial match was lost\n",
                r->pattern_file);
    } else if (rc != CEP_OK) {
        fprintf(stderr, "cepheus: %s not reloaded: %s\n", r->pattern_file, cep_strerror(rc));
        cep_program_free(np);
        free(text);
        return;
    }
    size_t kept = 0;
    char *desc = rc == CEP_OK ? checkpoint_describe_change(*r->owned, np, &kept) : NULL;
    fprintf(stderr, "cepheus: reloaded %s: %zu patterns%s%s\n", r->pattern_file, cep_program_pattern_count(np),
            desc ? "; " : "", desc ? desc : "");
    free(desc);
    /* The pool's engines are at rest (the switch synced them). */
    long *from = checkpoint_name_map(*r->owned, np);
    recount_by_pattern(&r->main, np, from);
    for (unsigned i = 0; i < r->nshards; i++) recount_by_pattern(&r->shards[i], np, from);
    free(from);
    cep_program_free(*r->owned);
    free(r->text);
    r->text = text;
    r->text_len = len;
    *r->owned = np;
    r->prog = np;
    summary_reprogram(&r->sum, np);
    cep_event_free(r->row); /* made again for the new program's fields */
    r->row = NULL;
}

/* Hand the outputs to the kernel and record the position (after a crash,
 * --restore truncates the outputs back to these lengths), then let a child
 * make them durable and write the checkpoint while the run goes on. */
static int take_checkpoint(runner *x, run_ctx *r, const run_opts *o, ckpt_pos *pos, int savepoint) {
    checkpoint_pause_begin(&r->ckpt);
    /* With --threads: every engine has run what was pushed and is at the
     * pool's watermark (cep_pool_sync), and its lines are written. */
    if (x->p) cep_pool_sync(x->p);
    int a = sink_flush(&r->main), b = out_flush(&r->rejected);
    for (unsigned i = 0; i < r->nshards; i++) a |= sink_flush(&r->shards[i]);
    if (a != 0 || b != 0) return output_failed(r);
    out_file *outs[] = {&r->out, &r->late, &r->timeouts, &r->errors};
    uint64_t *lens[] = {&pos->out_len, &pos->late_len, &pos->timeouts_len, &pos->errors_len};
    int fds[4] = {-1, -1, -1, -1};
    pos->outputs = 0;
    for (int i = 0; i < 4; i++) {
        FILE *f = outs[i]->f;
        *lens[i] = 0;
        if (!f) continue;
        pos->outputs |= 1u << i; /* CKPT_OUT, CKPT_LATE, CKPT_TIMEOUTS, CKPT_ERRORS */
        off_t n;
        errno = 0;
        if (fflush(f) != 0 || (n = ftello(f)) < 0) {
            outs[i]->err = errno ? errno : EIO;
            return output_failed(r);
        }
        /* The child fsyncs what grew since the last checkpoint; an output
         * unchanged since (--late, --errors, most of the time) is durable. */
        fds[i] = (uint64_t)n != outs[i]->synced ? fileno(f) : -1;
        outs[i]->synced = (uint64_t)n;
        *lens[i] = (uint64_t)n;
    }
    ckpt_src src = {x->e, x->p};
    int st = savepoint ? savepoint_start(&r->ckpt, o->savepoint_dir, pos, r->text, r->text_len, &src, fds, 4)
                       : checkpoint_start(&r->ckpt, o->checkpoint_dir, pos, r->text, r->text_len, &src, fds, 4);
    if (r->ckpt.log) { /* --checkpoint-log: the state the fork copied */
        cep_stats cs;
        rn_stats(x, &cs);
        checkpoint_record(&r->ckpt, cs.partial_matches, cs.keys, cs.memory);
    }
    return st;
}

/* How often processing time moves on while no line arrives. */
#define TICK_MS 50
/* How often a checkpoint or savepoint held by a writer still at work asks
 * again while the reader waits for input. */
#define HELD_POLL_MS 50

/* --metrics: copy the counters for the scrape that asked (with --threads
 * the pool's engines are synced first, once per scrape). */
static void publish_metrics(runner *x, run_ctx *r, uint64_t read) {
    metrics_snap s;
    memset(&s, 0, sizeof s);
    rn_stats(x, &s.st);
    s.records = read;
    memcpy(s.malformed, r->malformed_by, sizeof s.malformed);
    s.ckpt_on = r->ckpt_on;
    if (r->ckpt.pid) {
        /* Collect a finished writer now, so its checkpoint counts; a
         * failure stops the run at its next checkpoint (ckpt_failed). */
        int st = checkpoint_reap(&r->ckpt, 0);
        if (st != CKPT_BUSY && st != EXIT_OK) {
            r->ckpt_failed = st;
            metrics_health(r->mx, HEALTH_FAILED, "failed: a checkpoint could not be written (see standard error)");
        }
    }
    s.ckpt_done = r->ckpt.taken;
    /* (a failed checkpoint stops the run: this is 0 or 1, the last moment) */
    s.ckpt_failed = r->ckpt.starts - r->ckpt.taken - (r->ckpt.pid ? 1 : 0);
    s.ckpt_seconds = r->ckpt.last_duration;
    s.ckpt_bytes = r->ckpt.last_size;
    s.ckpt_pause = r->ckpt.last_pause;
    s.ckpt_pause_max = r->ckpt.worst_pause;
    size_t np = cep_program_pattern_count(r->prog);
    const char **names = calloc(np ? np : 1, sizeof *names);
    uint64_t *counts = calloc(np ? np : 1, sizeof *counts);
    if (names && counts && r->main.by_pattern) {
        for (size_t i = 0; i < np; i++) {
            names[i] = cep_program_pattern_name(r->prog, i);
            counts[i] = r->main.by_pattern[i];
            for (unsigned k = 0; k < r->nshards; k++)
                if (r->shards[k].by_pattern) counts[i] += r->shards[k].by_pattern[i];
        }
        s.npatterns = np;
        s.pattern_names = names;
        s.pattern_matches = counts;
    }
    metrics_publish(r->mx, &s);
    free(names);
    free(counts);
}

/* One rejected line as a JSON object on the --errors file. */
#define ERROR_TEXT_MAX 1024
static int write_rejected(run_ctx *r, const char *file, unsigned long lineno,
                          const char *reason, const char *text, size_t len, int cut) {
    if (!r->errors.f) return 0;
    char num[64];
    jbuf *b = &r->rejected.b;
    jbuf_puts(b, "{\"file\":");
    jbuf_string(b, file, strlen(file));
    snprintf(num, sizeof num, ",\"line\":%lu,\"reason\":", lineno);
    jbuf_puts(b, num);
    jbuf_string(b, reason, strlen(reason));
    jbuf_puts(b, ",\"text\":");
    jbuf_string(b, text, len < ERROR_TEXT_MAX ? len : ERROR_TEXT_MAX);
    if (cut || len > ERROR_TEXT_MAX) jbuf_puts(b, ",\"truncated\":true");
    jbuf_puts(b, "}\n");
    if (b->oom) {
        r->oom = 1;
        return 1;
    }
    return out_line_done(&r->rejected) != 0;
}

/* Why a push, watermark or finish failed (rc), as an exit status: a
 * callback's failed write or lack of memory first. where: "FILE:LINE" or
 * "at end of input". */
static int run_failure(run_ctx *r, int rc, const char *where, const char *why) {
    if (rc == CEP_ECALLBACK && failed_output(r)) return output_failed(r);
    if (rc == CEP_ENOMEM || r->oom || sinks_oom(r)) return fail(EXIT_INTERNAL, "out of memory");
    if (rc == CEP_ELIMIT) return fail(EXIT_LIMIT, "%s: %s", where, why);
    return fail(EXIT_INTERNAL, "%s: %s", where, cep_strerror(rc));
}

/* Write every line already decided: the shards' blocks (after they have
 * run what was pushed), the main engine's, the --errors lines, and the
 * stdio buffers under them. A failed write is recorded in its out_file
 * and reported when the run ends. */
static void flush_pending(run_ctx *r, runner *x) {
    if (x->p) cep_pool_sync(x->p);
    sink_flush(&r->main);
    for (unsigned i = 0; i < r->nshards; i++) sink_flush(&r->shards[i]);
    out_flush(&r->rejected);
    out_file *f[] = {&r->out, &r->late, &r->timeouts, &r->errors};
    for (int i = 0; i < 4; i++)
        if (f[i]->f && fflush(f[i]->f) != 0 && !f[i]->err) f[i]->err = errno ? errno : EIO;
}

struct reading;

/* What the reader's idle hook and the reading loop share for the timed
 * jobs: flushing, processing-time ticks, the status line. */
typedef struct timed {
    run_ctx *r;
    runner *x;
    const run_opts *o;
    double next_flush;
    const uint64_t *read;
    /* Where the reading loop is (a savepoint asked for while it waits). */
    const int *file;
    const uint64_t *offset, *malformed;
    const unsigned long *lineno;
    struct reading *rd;  /* the reading loop (a checkpoint held while it waits) */
} timed;

/* SIGUSR1: a savepoint at the position reached, unless a writer is still
 * at work (then it is asked again at the next line or wait). One that
 * cannot be started is reported; the run goes on. */
static void maybe_savepoint(timed *t) {
    run_ctx *r = t->r;
    if (!t->o->savepoint_dir) {
        savepoint_requested = 0;
        fprintf(stderr, "cepheus: SIGUSR1: no savepoint: no --savepoint-dir was given\n");
        return;
    }
    int st = checkpoint_reap(&r->ckpt, 0);
    if (st == CKPT_BUSY) return;
    if (st != EXIT_OK && !r->ckpt_failed) r->ckpt_failed = st;
    savepoint_requested = 0;
    ckpt_pos pos = {.file = (uint32_t)*t->file, .offset = *t->offset, .lineno = *t->lineno,
                    .read = *t->read, .malformed = *t->malformed};
    flush_pending(r, t->x);
    /* (An output that cannot be written is reported once and ends the
     * run with exit 4 where the run checks its outputs.) */
    if (take_checkpoint(t->x, r, t->o, &pos, 1) != EXIT_OK && !failed_output(r))
        fprintf(stderr, "cepheus: no savepoint written; the run goes on\n");
}

static void show_progress(timed *t, double now) {
    cep_stats st;
    rn_stats(t->x, &st);
    progress_print(&t->r->status, now, *t->read, &st, stderr);
}

static int idle_checkpoint(struct reading *rd);

/* Before the reader waits for input (and every wait_ms while it waits, or
 * sooner when a held checkpoint asks for it). */
static int on_idle(void *ud) {
    timed *t = ud;
    /* A SIGHUP interrupts the wait: the reload is done now, not at the
     * next line, which may be long in coming. */
    if (reload_requested) reload_patterns(t->x->e, t->x->p, t->r, t->o);
    if (savepoint_requested) maybe_savepoint(t);
    if (t->o->processing_time) rn_tick(t->x);
    flush_pending(t->r, t->x);
    double now = cli_now();
    t->next_flush = now + t->o->flush_ms / 1000.0;
    if (progress_due(&t->r->status, now)) show_progress(t, now);
    int ms = idle_checkpoint(t->rd);
    if (ms != LR_HALT && savepoint_requested && (ms == LR_WAIT || ms > HELD_POLL_MS)) ms = HELD_POLL_MS;
    return ms;
}

/* --metrics: the reader looked for input; a scrape that asked gets the
 * counters (between two blocks of input, never per event). */
static void on_wake(void *ud, int woken) {
    timed *t = ud;
    if (woken || metrics_wanted(t->r->mx)) publish_metrics(t->x, t->r, *t->read);
}

/* Every few hundred lines of a steady stream: output at least every
 * --flush-interval, the status line every second. */
static void on_lines(timed *t) {
    double now = cli_now();
    if (now >= t->next_flush) {
        flush_pending(t->r, t->x);
        t->next_flush = now + t->o->flush_ms / 1000.0;
    }
    if (progress_due(&t->r->status, now)) show_progress(t, now);
}

/* Parse a line with the summary's row (so that the fields it has are
 * counted) and push that row. */
static int push_counted(runner *x, summary *sum, const char *line, size_t len, int processing_time) {
    int rc = summary_parse(sum, line, len, processing_time);
    if (rc != CEP_OK) return rc;
    return x->p ? cep_pool_push(x->p, sum->row) : cep_engine_push(x->e, sum->row);
}

/* --output-form positions: the line is parsed here rather than in the
 * engine, so that its number in the input rides along as the event's tag. */
static int push_at(runner *x, run_ctx *r, const run_opts *o, const char *line, size_t len, int counted,
                   uint64_t at) {
    cep_event *row;
    int rc;
    r->row_err = NULL;
    if (counted) {
        rc = summary_parse(&r->sum, line, len, o->processing_time);
        row = r->sum.row;
    } else {
        if (!r->row && (rc = cep_event_new(r->prog, &r->row)) != CEP_OK) return rc;
        row = r->row;
        cep_event_clear(row);
        rc = cep_event_parse_json(row, line, len, o->processing_time ? "" : o->time_field);
    }
    if (rc != CEP_OK) {
        r->row_err = cep_event_error(row);
        return rc;
    }
    cep_event_set_tag(row, at);
    return x->p ? cep_pool_push(x->p, row) : cep_engine_push(x->e, row);
}

/* The reading loop's state, shared by its pieces. */
typedef struct reading {
    runner *x;
    run_ctx *r;
    const run_opts *o;
    const input *in;
    uint64_t read, malformed, since; /* since: events since the last checkpoint */
    uint64_t at;         /* lines read from all inputs: an event's position */
    size_t max_line;
    unsigned batch;      /* lines since the timed jobs last ran */
    /* --checkpoint-interval: the clock is read every 256 lines. A due
     * checkpoint waits for a writer still at work: asked again every 1024
     * lines (due_for counts them). */
    double next_ckpt;    /* 0: no interval */
    int ckpt_due;
    uint64_t due_for;
    uint64_t ckpt_at;    /* at when the last checkpoint was taken */
    int halt;            /* why an idle checkpoint stopped the reading */
    timed t;
    char toolong_reason[96];
} reading;

/* A line that is not an event: counted, reported (the first few of each
 * reason), written to --errors. EXIT_OK to go on, or the status to stop
 * with. */
static int reject_line(reading *rd, int i, unsigned long lineno, const char *line, size_t len, int rc,
                       int toolong, int kind, int counted) {
    run_ctx *r = rd->r;
    const char *name = rd->in[i].name;
    const char *why = toolong ? rd->toolong_reason
                      : kind < 0 ? "invalid watermark: expected {\"$watermark\": MS or \"RFC 3339 time\"}"
                      : r->row_err ? r->row_err
                      : counted  ? cep_event_error(r->sum.row)
                                 : rn_error(rd->x);
    char stopmsg[600];
    rd->malformed++;
    int notice;
    if (summary_reject(&r->sum, rc, why, &notice) || rd->o->strict) {
        progress_end(&r->status, stderr);
        fprintf(stderr, "%s:%lu: error: %s\n", name, lineno, why);
    } else if (notice) {
        progress_end(&r->status, stderr);
        fprintf(stderr, "%s:%lu: error: %s (%d lines so far; further ones are counted, not printed%s)\n", name,
                lineno, why, SUMMARY_PRINTED_PER_REASON + 1, r->errors.f ? "" : "; --errors FILE keeps them all");
    }
    r->malformed_by[metrics_reason(rc, toolong, kind)]++;
    if (write_rejected(r, name, lineno, why, line, len, toolong))
        return r->oom ? fail(EXIT_INTERNAL, "out of memory") : output_failed(r);
    if (rd->o->strict) return EXIT_INPUT;
    const char *all = summary_all_rejected(&r->sum, stopmsg, sizeof stopmsg);
    if (all) return fail(EXIT_INPUT, "%s", all);
    return EXIT_OK;
}

/* One non-blank line: an event, a watermark, or a rejected line. An
 * over-long line is malformed input, like bad JSON; a watermark line moves
 * event time on without an event. While a field the patterns read has
 * had no value in any event, lines are parsed here, so that the summary
 * can say so. */
static int take_line(reading *rd, int i, unsigned long lineno, const char *line, size_t len, int toolong) {
    run_ctx *r = rd->r;
    runner *x = rd->x;
    int64_t wm = 0;
    int kind = toolong ? 0 : cli_watermark_check(line, len, &wm);
    int counted = !toolong && kind == 0 && r->sum.fields_pending;
    int rc = toolong ? CEP_ERANGE
             : kind > 0 ? rn_advance(x, wm)
             : kind < 0 ? CEP_ETIME
             : rd->o->positions ? push_at(x, r, rd->o, line, len, counted, rd->at)
             : counted  ? push_counted(x, &r->sum, line, len, rd->o->processing_time)
                        : rn_push_json(x, line, len);
    if (rc == CEP_OK) {
        if (kind > 0) r->sum.watermark_lines = 1;
        if (kind == 0 && !counted) summary_event(&r->sum);
        summary_accept(&r->sum);
        return EXIT_OK;
    }
    if (is_malformed(rc)) return reject_line(rd, i, lineno, line, len, rc, toolong, kind, counted);
    char where[512];
    snprintf(where, sizeof where, "%s:%lu", rd->in[i].name, lineno);
    return run_failure(r, rc, where, rn_error(x));
}

/* The due checkpoint at the position given, unless the previous writer is
 * still at work or the rest after it is not over: then *held is the
 * seconds to wait before asking again (HELD_POLL_MS for a writer at work). */
static int checkpoint_now(reading *rd, int i, uint64_t offset, unsigned long lineno, double *held) {
    const run_opts *o = rd->o;
    *held = 0;
    int st = checkpoint_reap(&rd->r->ckpt, 0);
    if (st == EXIT_OK) st = rd->r->ckpt_failed;
    if (st == CKPT_BUSY) {
        *held = HELD_POLL_MS / 1000.0;
        return EXIT_OK;
    }
    if (st != EXIT_OK) return st;
    /* --checkpoint-min-pause: the writer's copy-on-write costs the run
     * while it lives; a rest after each keeps that share of the run down
     * (auto, the default: as long as the last writer took, so it lives at
     * most half the time). */
    const ckpt_bg *bg = &rd->r->ckpt;
    double rest = o->min_pause_ms == MIN_PAUSE_AUTO ? bg->last_duration : (double)o->min_pause_ms / 1000.0;
    double now = cli_now();
    if (bg->taken && now < bg->ended + rest) {
        *held = bg->ended + rest - now;
        return EXIT_OK;
    }
    rd->since = rd->due_for = 0;
    rd->ckpt_due = 0;
    rd->ckpt_at = rd->at;
    ckpt_pos pos = {.file = (uint32_t)i, .offset = offset, .lineno = lineno, .read = rd->read,
                    .malformed = rd->malformed};
    st = take_checkpoint(rd->x, rd->r, o, &pos, 0);
    if (rd->next_ckpt) rd->next_ckpt = cli_now() + (double)o->checkpoint_ms / 1000.0;
    return st;
}

/* After a line (its rejection already in --errors, so the position
 * recorded is past it and a restore does not see it again): a checkpoint
 * when one is due. While it is held (checkpoint_now), it is asked again
 * every 1024 lines, or when the reader waits for input (idle_checkpoint). */
static int checkpoint_if_due(reading *rd, int i, uint64_t offset, unsigned long lineno) {
    const run_opts *o = rd->o;
    if (!o->checkpoint_dir) return EXIT_OK;
    if (!rd->ckpt_due && o->checkpoint_every && ++rd->since >= (uint64_t)o->checkpoint_every) rd->ckpt_due = 1;
    if (!rd->ckpt_due || rd->due_for++ % 1024 != 0) return EXIT_OK;
    double held;
    return checkpoint_now(rd, i, offset, lineno, &held);
}

/* The reader is about to wait for input: a checkpoint due (by count, or by
 * --checkpoint-interval for lines read since the last) is taken now at the
 * position reached, or, while it is held, the wait is cut short to take it
 * when the writer is done and the rest is over: a stream that stops does
 * not leave its last lines uncheckpointed until more input comes. Returns
 * the longest wait in ms (LR_WAIT: no limit), or LR_HALT when the
 * checkpoint failed (rd->halt: the status). */
static int idle_checkpoint(reading *rd) {
    const run_opts *o = rd->o;
    if (!o->checkpoint_dir || rd->at == rd->ckpt_at) return LR_WAIT;
    double now = cli_now(), held = 0;
    if (!rd->ckpt_due && rd->next_ckpt && now >= rd->next_ckpt) rd->ckpt_due = 1;
    if (!rd->ckpt_due) held = rd->next_ckpt ? rd->next_ckpt - now : -1;
    else if ((rd->halt = checkpoint_now(rd, *rd->t.file, *rd->t.offset, *rd->t.lineno, &held)) != EXIT_OK)
        return LR_HALT;
    if (held < 0 || (held == 0 && !rd->ckpt_due)) return LR_WAIT;
    /* (a rest of days is waited for a minute at a time) */
    return held > 60.0 ? 60000 : (int)(held * 1000.0) + 1;
}

/* SIGHUP between two lines: the patterns are read again. */
static void reload_if_asked(reading *rd) {
    if (reload_requested) reload_patterns(rd->x->e, rd->x->p, rd->r, rd->o);
}

/* Read input i from *lineno / *offset (advanced as lines are taken) until
 * its end, an error or a stop signal. */
static int read_input(reading *rd, line_reader *lr, int i, unsigned long *lineno, uint64_t *offset) {
    int status = EXIT_OK;
    ssize_t n = 0;
    const char *line;
    size_t len;
    int toolong;
    errno = 0;
    lr->f = rd->in[i].f;
    lr->pos = lr->end = 0;
    lr->err = 0;
    while (!stop_signal && (n = read_line(lr, &line, rd->max_line, &len, &toolong)) > 0) {
        reload_if_asked(rd);
        ++*lineno;
        rd->at++;
        *offset += (uint64_t)n;
        if (++rd->batch == 256) {
            rd->batch = 0;
            on_lines(&rd->t);
            if (rd->next_ckpt && !rd->ckpt_due && cli_now() >= rd->next_ckpt) rd->ckpt_due = 1;
        }
        /* A byte order mark opening a file (Windows tools write one) is not
         * part of its first line. */
        if (*lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) line += 3, len -= 3;
        if (!toolong && is_blank(line, len)) continue;
        rd->read++;
        if ((status = take_line(rd, i, *lineno, line, len, toolong)) != EXIT_OK) return status;
        if ((status = checkpoint_if_due(rd, i, *offset, *lineno)) != EXIT_OK) return status;
        if (savepoint_requested) maybe_savepoint(&rd->t);
    }
    if (lr->halted) return rd->halt;
    if (stop_signal) return EXIT_OK;
    if (n < 0 && !lr->err) return fail(EXIT_INTERNAL, "out of memory");
    if (lr->err) return fail(EXIT_USAGE, "cannot read '%s': %s", rd->in[i].name, strerror(lr->err));
    return EXIT_OK;
}

/* An orderly stop (SIGINT, SIGTERM) while input i was read: what is
 * decided is written, partial and held-back matches are not forced out (a
 * restore from the final checkpoint continues them). */
static int stop_in_order(reading *rd, int i, unsigned long lineno, uint64_t offset) {
    const run_opts *o = rd->o;
    int sig = stop_signal;
    int status = EXIT_OK;
    flush_pending(rd->r, rd->x);
    if (o->checkpoint_dir) {
        /* The one being written first, then the final one, whole. */
        status = checkpoint_reap(&rd->r->ckpt, 1);
        ckpt_pos pos = {.file = (uint32_t)i, .offset = offset, .lineno = lineno, .read = rd->read,
                        .malformed = rd->malformed};
        if (status == EXIT_OK) status = take_checkpoint(rd->x, rd->r, o, &pos, 0);
        if (status == EXIT_OK) status = checkpoint_reap(&rd->r->ckpt, 1);
    }
    if (status != EXIT_OK) return status;
    fprintf(stderr, "cepheus: stopped by %s at %s:%lu%s\n", stop_name(sig), rd->in[i].name, lineno,
            o->checkpoint_dir ? "; checkpoint taken, --restore continues from there" : "");
    return 128 + sig;
}

/* --stats: the run's figures on stderr. */
static void print_stats(const reading *rd, const cep_stats *st, double t0) {
    double dt = cli_now() - t0;
    fprintf(stderr,
            "events read: %" PRIu64 "\n"
            "events processed: %" PRIu64 "\n"
            "matches: %" PRIu64 "\n"
            "late events: %" PRIu64 "\n"
            "late events matched within the allowed lateness: %" PRIu64 "\n"
            "timeouts: %" PRIu64 "\n"
            "dropped partial matches: %" PRIu64 "\n"
            "expired by state TTL: %" PRIu64 "\n"
            "dropped for memory: %" PRIu64 "\n"
            "buffered events run early for memory: %" PRIu64 "\n"
            "state bytes at the end: %" PRIu64 "\n"
            "malformed lines: %" PRIu64 "\n"
            "peak partial matches: %" PRIu64 "\n"
            "regex errors: %" PRIu64 "\n"
            "elapsed seconds: %.3f\n"
            "events/second: %.0f\n",
            rd->read, st->events, st->matches, st->late, st->stragglers, st->timeouts, st->dropped,
            st->ttl_dropped, st->mem_dropped, st->mem_released, st->memory, rd->malformed,
            st->peak_partial_matches, st->regex_errors, dt, dt > 0 ? (double)rd->read / dt : 0.0);
    if (!rd->o->checkpoint_dir && !rd->o->savepoint_dir) return;
    const ckpt_bg *c = &rd->r->ckpt;
    uint64_t n = c->starts + c->sp_starts;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru); /* the run alone: the writers are children */
    fprintf(stderr, "run's own cpu seconds: %.3f\n"
            "run's own page faults (minor): %ld\n",
            (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                ru.ru_stime.tv_usec / 1e6, ru.ru_minflt);
    fprintf(stderr,
            "checkpoints: %" PRIu64 "\n"
            "savepoints: %" PRIu64 "\n"
            "checkpoint pause ms (last, mean, p50, worst): %.3f %.3f %.3f %.3f\n"
            "checkpoint pause cpu ms (mean, worst): %.3f %.3f\n"
            "last checkpoint: %.3f s to write, %" PRIu64 " bytes\n",
            c->taken, c->sp_taken, c->last_pause * 1e3, n ? c->pause_sum * 1e3 / (double)n : 0.0,
            checkpoint_pause_p50(c) * 1e3, c->worst_pause * 1e3, n ? c->pause_cpu_sum * 1e3 / (double)n : 0.0,
            c->worst_pause_cpu * 1e3, c->last_duration, c->last_size);
    if (c->sp_taken)
        fprintf(stderr, "last savepoint: %.3f s to write, %" PRIu64 " bytes\n", c->sp_last_duration, c->sp_last_size);
}

/* The end-of-run summary's line on checkpoints (issue 18: taken, last and
 * worst pause, the last one's time and size), when any was written;
 * --stats prints the full figures instead. */
static void print_checkpoints(const ckpt_bg *c, FILE *f) {
    if (!c->taken && !c->sp_taken) return;
    char a[32], b[32], z[32];
    if (c->taken)
        fprintf(f, "cepheus: %s checkpoint%s", summary_count(c->taken, a, sizeof a), c->taken == 1 ? "" : "s");
    if (c->sp_taken)
        fprintf(f, "%s%s savepoint%s", c->taken ? " and " : "cepheus: ", summary_count(c->sp_taken, b, sizeof b),
                c->sp_taken == 1 ? "" : "s");
    fprintf(f, "; pause last %.1f ms, worst %.1f ms", c->last_pause * 1e3, c->worst_pause * 1e3);
    if (c->taken)
        fprintf(f, "; the last written in %.2f s, %s bytes", c->last_duration, summary_count(c->last_size, z, sizeof z));
    if (c->sp_taken)
        fprintf(f, "; the last savepoint in %.2f s, %s bytes", c->sp_last_duration,
                summary_count(c->sp_last_size, z, sizeof z));
    fputc('\n', f);
}

static int run_events(runner *x, run_ctx *r, const run_opts *o, input *in,
                      int nin, const ckpt_pos *from) {
    int status = EXIT_OK;
    double t0 = cli_now();
    reading rd = {.x = x, .r = r, .o = o, .in = in, .read = from->read, .malformed = from->malformed,
                  .max_line = o->max_line > 0 ? (size_t)o->max_line : (size_t)-1 - 1};
    snprintf(rd.toolong_reason, sizeof rd.toolong_reason, "line longer than %zu bytes (--max-line-bytes)",
             rd.max_line);
    int i;
    unsigned long lineno = 0;
    uint64_t offset = 0;
    rd.t = (timed){r, x, o, t0 + o->flush_ms / 1000.0, &rd.read, &i, &offset, &rd.malformed, &lineno, &rd};
    rd.next_ckpt = o->checkpoint_ms ? t0 + (double)o->checkpoint_ms / 1000.0 : 0;
    line_reader lr = {.buf = malloc(READ_BLOCK), .idle = on_idle, .idle_ud = &rd.t, .wait_ms = -1};
    if (!lr.buf) return fail(EXIT_INTERNAL, "out of memory");
    if (r->mx) {
        lr.wake = on_wake;
        lr.wake_fd = metrics_wake_fd(r->mx);
    }
    /* Waiting, wake up for the clock of processing time and the status line. */
    if (o->processing_time) lr.wait_ms = TICK_MS;
    else if (r->status.on) lr.wait_ms = 1000;
    progress_init(&r->status, r->status.on, t0);
    int stopped_at = -1; /* the input being read when a stop signal came */
    for (i = (int)from->file; i < nin && status == EXIT_OK; i++) {
        lineno = 0;
        offset = 0;
        if (i == (int)from->file && from->offset) {
            if (fseeko(in[i].f, (off_t)from->offset, SEEK_SET) != 0) {
                status = fail(EXIT_USAGE, "cannot seek in '%s': %s", in[i].name, strerror(errno));
                break;
            }
            lineno = (unsigned long)from->lineno;
            offset = from->offset;
        }
        status = read_input(&rd, &lr, i, &lineno, &offset);
        if (status == EXIT_OK && stop_signal) {
            stopped_at = i;
            break;
        }
    }
    free(lr.line);
    free(lr.buf);
    progress_end(&r->status, stderr);

    if (stopped_at >= 0) {
        status = stop_in_order(&rd, stopped_at, lineno, offset);
    } else if (status == EXIT_OK) {
        int rc = rn_finish(x);
        if (rc != CEP_OK) status = run_failure(r, rc, "at end of input", rn_error(x));
    }
    /* The last checkpoint is complete (or failed) before the run ends. */
    int ck = checkpoint_reap(&r->ckpt, 1);
    if (ck == EXIT_OK) ck = r->ckpt_failed;
    if (status == EXIT_OK) status = ck;

    cep_stats st;
    rn_stats(x, &st);
    if (!o->quiet) summary_print(&r->sum, &st, stderr);
    if (o->stats) print_stats(&rd, &st, t0);
    return status;
}

/* Open an output file named on the command line (nothing when path is
 * NULL, so *f keeps its default). Resuming (keep set), it is opened without
 * being emptied: cut_output cuts it back once every output is open. */
static int open_output(const char *path, int keep, FILE **f, const char **name) {
    if (!path) return EXIT_OK;
    *name = path;
    *f = fopen(path, keep ? "r+b" : "wb");
    if (!*f && keep && errno == ENOENT) *f = fopen(path, "wb"); /* checked: its length is 0 */
    if (!*f) return fail(EXIT_OUTPUT, "cannot write '%s': %s", path, strerror(errno));
    return EXIT_OK;
}

/* Cut a file opened by open_output back to len bytes (a regular file: a
 * device or a pipe has no length) and write on at its end. */
static int cut_output(const char *path, FILE *f, uint64_t len) {
    struct stat st;
    if (!path || !f) return EXIT_OK;
    if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) return EXIT_OK;
    if (ftruncate(fileno(f), (off_t)len) != 0 || fseeko(f, 0, SEEK_END) != 0)
        return fail(EXIT_OUTPUT, "cannot cut '%s' back to the checkpoint: %s", path, strerror(errno));
    return EXIT_OK;
}

/* No output may be an input (the pattern file included) or another
 * output (samefile.c). */
static int outputs_distinct(const run_opts *o, const char *pattern_file, const input *in, int nin) {
    named_file *ins = calloc((size_t)nin + 1, sizeof *ins);
    if (!ins) return fail(EXIT_INTERNAL, "out of memory");
    ins[0] = (named_file){"the pattern file", pattern_file, -1};
    for (int i = 0; i < nin; i++)
        ins[i + 1] = in[i].f == stdin ? (named_file){"standard input", NULL, 0}
                                      : (named_file){"the input", in[i].name, -1};
    named_file outs[5];
    int n = 0;
    if (o->output) outs[n++] = (named_file){"--output", o->output, -1};
    else outs[n++] = (named_file){"standard output", NULL, 1};
    if (o->late) outs[n++] = (named_file){"--late", o->late, -1};
    if (o->timeouts) outs[n++] = (named_file){"--timeouts", o->timeouts, -1};
    if (o->errors) outs[n++] = (named_file){"--errors", o->errors, -1};
    if (o->checkpoint_log) outs[n++] = (named_file){"--checkpoint-log", o->checkpoint_log, -1};
    int status = check_outputs_distinct(ins, nin + 1, outs, n);
    free(ins);
    return status;
}

/* Options and callbacks of one engine (the only one, or a shard's), sink
 * receiving what its callbacks write. With --threads the memory budget is
 * shared out among the pool's engines. */
static int configure_engine(cep_engine *e, const run_opts *o, sink *s, unsigned nshards) {
    s->eng = e;
    int rc = cep_engine_set_max_delay(e, o->max_delay);
    if (rc == CEP_OK) rc = cep_engine_set_state_ttl(e, o->state_ttl);
    if (rc == CEP_OK) rc = cep_engine_set_allowed_lateness(e, o->lateness);
    if (rc == CEP_OK && o->max_memory) {
        uint64_t share = (uint64_t)o->max_memory / nshards;
        rc = cep_engine_set_memory_limit(e, share ? share : 1, o->limit_fail ? CEP_LIMIT_FAIL : CEP_LIMIT_DROP_OLDEST);
    }
    if (rc == CEP_OK && o->processing_time) rc = cep_engine_set_time_mode(e, CEP_TIME_PROCESSING);
    if (rc == CEP_OK)
        rc = cep_engine_set_max_partial_matches(e, (uint64_t)o->max_pms,
                                                o->limit_fail ? CEP_LIMIT_FAIL : CEP_LIMIT_DROP_OLDEST);
    if (rc == CEP_OK) rc = cep_engine_set_time_field(e, o->time_field);
    /* The events' text is printed only with events: late ones, timeouts'
     * and matches of patterns without emit (the engine keeps it for those).
     * (A late event is printed from the row pushed, not a stored copy;
     * --late keeps the text as it did before. The reorder buffer keeps
     * its events' text in any case: a reload or a restore with changed
     * patterns parses them again, engine_keep_event_text.) */
    if (rc == CEP_OK) rc = cep_engine_set_drop_raw(e, !o->late && !o->timeouts);
    if (rc != CEP_OK) return rc;
    cep_engine_on_match(e, on_match, s);
    cep_engine_on_late(e, on_late, s);
    if (o->timeouts) cep_engine_on_timeout(e, on_timeout, s);
    return CEP_OK;
}

typedef struct shard_setup {
    const run_opts *o;
    run_ctx *r;
} shard_setup;

static int configure_shard(void *ud, cep_engine *e, unsigned index) {
    shard_setup *su = ud;
    return configure_engine(e, su->o, &su->r->shards[index], su->r->nshards);
}

/* The single engine's (checkpoint_restore may make two: see there). */
static int configure_single(void *ud, cep_engine *e) {
    shard_setup *su = ud;
    return configure_engine(e, su->o, &su->r->main, 1);
}

/* Warnings a run option makes moot: --state-ttl bounds how long partial
 * matches live, a partial-match or memory limit how many there are. */
static unsigned run_warn_skip(const run_opts *o) {
    unsigned skip = 0;
    if (o->state_ttl > 0) skip |= 1u << (CEP_DIAG_W_UNBOUNDED - CEP_DIAG_W_UNBOUNDED);
    if (o->max_pms > 0 || o->max_memory > 0) skip |= 1u << (CEP_DIAG_W_COMBINATIONS - CEP_DIAG_W_UNBOUNDED);
    return skip;
}

/* Kafka mode (cli/kafka.c): the patterns run on a consumer group's
 * partitions, results go to topics. */
static int run_kafka(const run_opts *o) {
#ifdef CEP_HAVE_KAFKA
    const run_kafka_opts *k = &o->kafka;
    cep_program *prog;
    char *text = NULL;
    size_t len = 0;
    int st = compile_file_warn(o->pattern_file, &prog, &text, &len, &o->warn, run_warn_skip(o));
    free(text);
    if (st != EXIT_OK) {
        cep_program_free(prog);
        return st;
    }
    kafka_opts ko = {.brokers = k->brokers, .topic = k->topic, .group = k->group, .output_topic = k->out_topic,
                     .late_topic = k->late_topic, .timeouts_topic = k->timeouts_topic,
                     .state_topic = k->state_topic, .instance_id = k->instance, .config = k->conf,
                     .nconfig = k->nconf, .txn_events = k->txn_events, .txn_ms = k->txn_ms,
                     .stats_ms = o->stats ? 5000 : 0, .time_field = o->time_field,
                     .max_delay = o->max_delay, .lateness = o->lateness, .state_ttl = o->state_ttl,
                     .max_pms = o->max_pms, .limit_fail = o->limit_fail};
    if (o->metrics && (st = metrics_start(o->metrics, &ko.metrics)) != EXIT_OK) {
        cep_program_free(prog);
        return st;
    }
    st = kafka_run(prog, &ko);
    metrics_stop(ko.metrics);
    cep_program_free(prog);
    return st;
#else
    (void)o; /* run_options refused Kafka options in this build */
    return EXIT_USAGE;
#endif
}

/* A run over files or standard input, from start-up to teardown. */
typedef struct run_job {
    const run_opts *o;
    run_ctx r;
    runner x;
    cep_program *prog;
    cep_engine *e;       /* the single engine (x.e), freed at the end */
    input *in;
    int nin;
    ckpt ck;             /* the checkpoint restored from */
    ckpt_pos from;       /* where reading starts */
    char *note;          /* how the patterns changed since the checkpoint */
    int resume;          /* a checkpoint was found */
} run_job;

static int job_init(run_job *j, const run_opts *o) {
    memset(j, 0, sizeof *j);
    j->o = o;
    j->nin = o->ninputs > 0 ? o->ninputs : 1;
    out_file_init(&j->r.out, stdout, "<stdout>");
    out_file_init(&j->r.late, NULL, NULL);
    out_file_init(&j->r.timeouts, NULL, NULL);
    out_file_init(&j->r.errors, NULL, NULL);
    j->r.rejected.file = &j->r.errors;
    j->in = calloc((size_t)j->nin, sizeof *j->in);
    if (!j->in) return fail(EXIT_INTERNAL, "out of memory");
    return EXIT_OK;
}

static void install_signals(void) {
    /* SIGHUP reloads the patterns. Set up before the first compile: a
     * SIGHUP then (a supervisor that signals as soon as it has started us)
     * is honoured at the first line instead of killing the process. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sighup;
    sa.sa_flags = SA_RESTART; /* a read in progress goes on */
    sigaction(SIGHUP, &sa, NULL);
    /* SIGUSR1 asks for a savepoint (without --savepoint-dir it says it
     * cannot rather than ending the run, SIGUSR1's default). */
    sa.sa_handler = on_sigusr1;
    sigaction(SIGUSR1, &sa, NULL);
    /* A closed standard output (`| head -1`) is an output error, exit 4
     * with one message, as for any output: not a silent death by SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    /* SIGINT and SIGTERM stop the run in order (cli/stop.c). */
    stop_install();
}

/* The patterns, the summary, the status line and the metrics endpoint. */
static int job_load(run_job *j) {
    const run_opts *o = j->o;
    run_ctx *r = &j->r;
    int status = compile_file_warn(o->pattern_file, &j->prog, &r->text, &r->text_len, &o->warn, run_warn_skip(o));
    if (status != EXIT_OK) return status;
    if (summary_init(&r->sum, j->prog, o->time_field, o->max_delay, o->lateness) != 0)
        return fail(EXIT_INTERNAL, "out of memory");
    r->sum.strict = o->strict;
    /* The status line: asked for, or by default on a terminal. */
    r->status.on = o->progress > 0 || (o->progress < 0 && !o->quiet && isatty(2));
    /* Before the inputs are opened: opening a FIFO waits for its writer;
     * and before the sink, which counts matches by pattern for it. */
    r->ckpt_on = o->checkpoint_dir != NULL;
    if (o->metrics) {
        if ((status = metrics_start(o->metrics, &r->mx)) != EXIT_OK) return status;
        metrics_health(r->mx, o->restore_dir ? HEALTH_RESTORING : HEALTH_RUNNING, NULL);
    }
    r->prog = j->prog;
    r->owned = &j->prog;
    r->form = o->positions ? JOUT_POSITIONS : JOUT_EVENTS;
    sink_init(&r->main, r);
    r->pattern_file = o->pattern_file;
    return EXIT_OK;
}

/* Open every input first, so a misspelt name fails before any output. */
static int open_inputs(run_job *j) {
    if (j->o->ninputs == 0) {
        j->in[0] = (input){stdin, "<stdin>"};
        return EXIT_OK;
    }
    for (int i = 0; i < j->nin; i++) {
        const char *name = j->o->inputs[i];
        if (strcmp(name, "-") == 0) {
            j->in[i] = (input){stdin, "<stdin>"};
            continue;
        }
        j->in[i].name = name;
        j->in[i].f = fopen(name, "rb");
        if (!j->in[i].f) return fail(EXIT_USAGE, "cannot read '%s': %s", name, strerror(errno));
    }
    return outputs_distinct(j->o, j->o->pattern_file, j->in, j->nin);
}

/* The checkpoint directories: writable, locked, and the checkpoint to
 * resume from, if there is one, read and checked. */
/* Do two paths name one directory (ck, ck/, ./ck)? Both must exist. */
static int same_dir(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

static int prepare_checkpoints(run_job *j) {
    const run_opts *o = j->o;
    char err[1024];
    int status;
    /* A checkpoint directory that cannot be written is found now, not at
     * the first checkpoint, after thousands of matches. */
    if (o->checkpoint_dir && checkpoint_prepare_dir(o->checkpoint_dir, err, sizeof err) < 0)
        return fail(EXIT_OUTPUT, "%s", err);
    if (o->savepoint_dir && checkpoint_prepare_dir(o->savepoint_dir, err, sizeof err) < 0)
        return fail(EXIT_OUTPUT, "--savepoint-dir: %s", err);
    /* One run per checkpoint directory; a killed run's writer is gone
     * before the checkpoint is read. (A --restore directory that does not
     * exist holds no checkpoint: the run starts from the beginning.) */
    struct stat rst;
    if (o->restore_dir && (stat(o->restore_dir, &rst) == 0 || errno != ENOENT) &&
        (status = checkpoint_lock(o->restore_dir)) != EXIT_OK)
        return status;
    int one_dir = o->checkpoint_dir && o->restore_dir && same_dir(o->checkpoint_dir, o->restore_dir);
    if (o->checkpoint_dir && !one_dir && (status = checkpoint_lock(o->checkpoint_dir)) != EXIT_OK)
        return status;
    if (!o->restore_dir) return EXIT_OK;
    /* A checkpoint, if there is one, says where to resume. Everything about
     * it is checked (header, files, snapshot, patterns) before any output
     * is touched: a refused restore leaves them as they were. */
    int resume = checkpoint_read(o->restore_dir, &j->ck, err, sizeof err);
    if (resume > 0) {
        j->from = j->ck.pos;
        const input *at = &j->in[j->from.file < (uint32_t)j->nin ? j->from.file : 0];
        const char *paths[4] = {o->output, o->late, o->timeouts, o->errors};
        if (checkpoint_check_files(&j->ck, o->restore_dir, at->f, at->name, j->nin, paths, err, sizeof err) < 0)
            resume = -1;
    }
    if (resume < 0) return fail(resume == -2 ? EXIT_INTERNAL : EXIT_INPUT, "%s", err);
    /* No checkpoint: a first run of `--checkpoint D --restore D` starts
     * from the beginning; a --restore of another directory (a savepoint's,
     * misspelt) would start over too and rewrite the outputs: refused. */
    if (!resume && !one_dir)
        return fail(EXIT_INPUT, "no checkpoint in '%s' to restore; nothing was changed (a run with --checkpoint "
                    "DIR --restore DIR starts from the beginning while DIR has none)", o->restore_dir);
    j->resume = resume;
    return EXIT_OK;
}

/* The engine (restored from the checkpoint when resuming), or the pool. */
static int start_engine(run_job *j) {
    const run_opts *o = j->o;
    run_ctx *r = &j->r;
    shard_setup su = {o, r};
    int rc;
    if (o->threads) {
        /* Each of the pool's engines with its own blocks of output. */
        unsigned ne = cep_pool_engine_count((unsigned)o->threads);
        r->shards = calloc(ne, sizeof *r->shards);
        if (!r->shards) return fail(EXIT_INTERNAL, "out of memory");
        for (unsigned i = 0; i < ne; i++) sink_init(&r->shards[i], r);
        r->nshards = ne;
        if (!j->resume) {
            rc = cep_pool_new(j->prog, (unsigned)o->threads, configure_shard, &su, &j->x.p);
        } else {
            /* A checkpoint of any number of threads, or of one engine. */
            char err[1024];
            int got = checkpoint_restore_pool(&j->ck, o->restore_dir, o->pattern_file, j->prog,
                                              (unsigned)o->threads, configure_shard, &su, &j->x.p, &j->note, err,
                                              sizeof err);
            if (got < 0) return fail(got == -2 ? EXIT_INTERNAL : EXIT_INPUT, "%s", err);
            rc = CEP_OK;
        }
    } else if (j->resume) {
        char err[1024];
        int got = checkpoint_restore(&j->ck, o->restore_dir, o->pattern_file, j->prog, configure_single, &su,
                                     &j->e, &j->note, err, sizeof err);
        if (got < 0) return fail(got == -2 ? EXIT_INTERNAL : EXIT_INPUT, "%s", err);
        j->x.e = j->e;
        rc = CEP_OK;
    } else {
        rc = cep_engine_new(j->prog, &j->e);
        if (rc == CEP_OK) rc = configure_engine(j->e, o, &r->main, 1);
        j->x.e = j->e;
    }
    if (rc != CEP_OK) return fail(EXIT_INTERNAL, "cannot start the engine: %s", cep_strerror(rc));
    return EXIT_OK;
}

/* Resuming, every output is opened, then each is cut back to the length
 * the checkpoint recorded: whatever was written after it is written
 * again, exactly once. */
static int open_outputs(run_job *j) {
    const run_opts *o = j->o;
    run_ctx *r = &j->r;
    int status = EXIT_OK;
    out_file *outs[4] = {&r->out, &r->late, &r->timeouts, &r->errors};
    const char *paths[4] = {o->output, o->late, o->timeouts, o->errors};
    const uint64_t lens[4] = {j->from.out_len, j->from.late_len, j->from.timeouts_len, j->from.errors_len};
    for (int i = 0; i < 4 && status == EXIT_OK; i++)
        status = open_output(paths[i], j->resume, &outs[i]->f, &outs[i]->name);
    for (int i = 0; i < 4 && status == EXIT_OK && j->resume; i++)
        status = cut_output(paths[i], outs[i]->f, lens[i]);
    if (status != EXIT_OK) return status;
    /* Appended to: a restored run goes on with the history of the one before. */
    if (o->checkpoint_log && !(r->ckpt.log = fopen(o->checkpoint_log, "a")))
        return fail(EXIT_OUTPUT, "cannot write '%s': %s", o->checkpoint_log, strerror(errno));
    if (j->note)
        fprintf(stderr, "cepheus: %s has changed since the checkpoint in '%s' was made: %s\n", o->pattern_file,
                o->restore_dir, j->note);
    /* Matches are small and many: write them in large blocks. Static
     * buffers, since stdout keeps its buffer until the process exits. */
    static char outbuf[1 << 20], latebuf[1 << 16], timeoutbuf[1 << 16];
    setvbuf(r->out.f, outbuf, _IOFBF, sizeof outbuf);
    if (r->late.f) setvbuf(r->late.f, latebuf, _IOFBF, sizeof latebuf);
    if (r->timeouts.f) setvbuf(r->timeouts.f, timeoutbuf, _IOFBF, sizeof timeoutbuf);
    /* Processing time, or --flush-interval 0: a match is written when it happens. */
    if (o->processing_time || o->flush_ms == 0) r->out.live = r->late.live = r->timeouts.live = r->errors.live = 1;
    return EXIT_OK;
}

/* Everything written is flushed (even after an input error: those matches
 * are real) and everything freed; an output error wins over the status
 * only when that was OK. */
static int job_end(run_job *j, int status) {
    run_ctx *r = &j->r;
    /* The shards stop first: then their blocks are theirs no more. */
    cep_pool_free(j->x.p);
    sink_flush(&r->main);
    for (unsigned i = 0; i < r->nshards; i++) sink_flush(&r->shards[i]);
    out_flush(&r->rejected);
    int s[4];
    s[0] = close_output(&r->out); /* in this order: their messages too */
    s[1] = close_output(&r->late);
    s[2] = close_output(&r->timeouts);
    s[3] = close_output(&r->errors);
    for (int i = 0; i < 4 && status == EXIT_OK; i++) status = s[i];
    /* After the outputs' own messages; a failed run says only why. */
    if (!j->o->quiet && !j->o->stats && (status == EXIT_OK || status > 128)) print_checkpoints(&r->ckpt, stderr);
    for (int i = 0; j->in && i < j->nin; i++)
        if (j->in[i].f && j->in[i].f != stdin) fclose(j->in[i].f);
    free(j->in);
    cep_engine_free(j->e);
    cep_program_free(j->prog);
    sink_free(&r->main);
    for (unsigned i = 0; i < r->nshards; i++) sink_free(&r->shards[i]);
    free(r->shards);
    out_buf_free(&r->rejected);
    out_file_destroy(&r->out);
    out_file_destroy(&r->late);
    out_file_destroy(&r->timeouts);
    out_file_destroy(&r->errors);
    checkpoint_free(&j->ck);
    if (r->ckpt.log) fclose(r->ckpt.log);
    free(j->note);
    free(r->text);
    summary_free(&r->sum);
    cep_event_free(r->row);
    metrics_stop(r->mx);
    return status;
}

int cmd_run(int argc, char **argv) {
    run_opts o;
    int status = run_options(argc, argv, &o);
    if (status != EXIT_OK) return status == RUN_HELP ? EXIT_OK : status;
    if (o.kafka.brokers) return run_kafka(&o);
    run_job j;
    status = job_init(&j, &o);
    if (status == EXIT_OK) {
        install_signals();
        status = job_load(&j);
    }
    if (status == EXIT_OK) status = open_inputs(&j);
    if (status == EXIT_OK) status = prepare_checkpoints(&j);
    if (status == EXIT_OK) status = start_engine(&j);
    if (status == EXIT_OK) status = open_outputs(&j);
    if (status == EXIT_OK) {
        metrics_health(j.r.mx, HEALTH_RUNNING, NULL);
        status = run_events(&j.x, &j.r, &o, j.in, j.nin, &j.from);
    }
    return job_end(&j, status);
}
