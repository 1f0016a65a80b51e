/* linereader.h — the input side of `cepheus run`: JSON lines read in blocks
 * of 64 KiB with read(2), handed out where they lie (no copy). Before it would
 * wait for input, the reader calls an idle hook (run.c writes pending
 * output there), and a SIGINT or SIGTERM (cli/stop.c) ends the wait. */
#ifndef CEP_LINEREADER_H
#define CEP_LINEREADER_H

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* 64 KiB, not more: a block is read ahead of the lines that use it, and
 * the engine's work between (2 us a line on W8 dense) evicts a large one
 * from the caches before its last lines are parsed. */
#define READ_BLOCK (1 << 16)
#define LR_WAIT (-1)
#define LR_HALT (-2)

typedef struct line_reader {
    FILE *f;
    char *buf;
    size_t pos, end;
    char *line;        /* a line longer than the block */
    size_t cap;
    int err;           /* errno of a failed read */
    int stopped;       /* a stop signal ended a wait */
    int halted;        /* the idle hook stopped the reading (LR_HALT) */
    /* Called when no input is ready, before waiting, and again every
     * wait_ms milliseconds of waiting (wait_ms < 0: wait without end).
     * It returns how long the wait may last before it is called again
     * (milliseconds; LR_WAIT: wait_ms decides), or LR_HALT to stop
     * reading: the read then fails with halted set. */
    int (*idle)(void *ud);
    void *idle_ud;
    int wait_ms;
    /* Asked (with idle_ud) each time the reader looks for input, whether
     * or not it then waits: woken is 1 when wake_fd became readable
     * (--metrics: a scrape asks for the counters). NULL: none. */
    void (*wake)(void *ud, int woken);
    int wake_fd;
} line_reader;

/* Read the next line: *line points to at most max bytes of it (not
 * NUL-terminated, without the newline; valid until the next call), *len
 * their number, *toolong 1 when the line had more. Returns the bytes
 * consumed (newline included), 0 at end of input, -1 on a read error
 * (lr->err is set), when memory runs out, when a stop signal came while
 * waiting (lr->stopped is set) or when the idle hook halted it (lr->halted). */
ssize_t read_line_more(line_reader *lr, const char **line, size_t max, size_t *len, int *toolong);
static inline ssize_t read_line(line_reader *lr, const char **line, size_t max, size_t *len, int *toolong) {
    /* The common case, a whole line in the block, inline in the reading
     * loop; read_line_more reads on. */
    char *s = lr->buf + lr->pos;
    size_t avail = lr->end - lr->pos;
    char *nl = avail ? memchr(s, '\n', avail) : NULL;
    if (!nl) return read_line_more(lr, line, max, len, toolong);
    size_t take = (size_t)(nl - s);
    lr->pos += take + 1;
#ifdef __GNUC__
    /* The next line, on its way to the cache while the engine runs this one
     * (which evicts the block between two lines; docs/performance.md). */
    __builtin_prefetch(nl + 1);
    __builtin_prefetch(nl + 65);
#endif
    *line = s;
    *len = take;
    *toolong = 0;
    if (take > max) *len = max, *toolong = 1;
    return (ssize_t)take + 1;
}

#endif
