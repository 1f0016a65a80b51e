/* linereader.c — JSON lines for `cepheus run` (see linereader.h). A line
 * longer than the block is gathered in `line` up to the limit, so that it
 * is skipped to its newline without ever being held whole. */
#include "config.h"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "linereader.h"
#include "stop.h"

/* Is there input (or its end) to read now? Waits up to ms (-1: no end); 1
 * yes, 0 not yet, -1 a stop was asked for. */
static int input_ready(line_reader *lr, int ms) {
    /* poll(2) passes over negative descriptors: no stop pipe, no wake. */
    struct pollfd pfd[3] = {{fileno(lr->f), POLLIN, 0}, {stop_fd(), POLLIN, 0},
                            {lr->wake ? lr->wake_fd : -1, POLLIN, 0}};
    if (stop_signal) return -1;
    int pr = poll(pfd, 3, ms);
    if (stop_signal) return -1;
    if (pr > 0 && pfd[1].revents) stop_drain(); /* SIGHUP or SIGUSR1: the idle hook takes it */
    if (lr->wake) lr->wake(lr->idle_ud, pr > 0 && pfd[2].revents);
    if (pr < 0) return errno == EINTR ? 0 : 1; /* let read(2) say what is wrong */
    return pfd[0].revents ? 1 : 0;
}

/* Read more input after buf[end]: the bytes read, 0 at the end, -1 on an
 * error (lr->err set), a stop (lr->stopped set) or a halt (lr->halted set). */
static ssize_t fill_block(line_reader *lr) {
    /* A regular file is always ready, so a run from files never waits and
     * never calls the hook here: its output goes out in large blocks. */
    int ready = input_ready(lr, 0);
    while (ready == 0) {
        int ms = lr->wait_ms, want = lr->idle ? lr->idle(lr->idle_ud) : LR_WAIT;
        if (want == LR_HALT) {
            lr->halted = 1;
            return -1;
        }
        if (want >= 0 && (ms < 0 || want < ms)) ms = want;
        ready = input_ready(lr, ms);
    }
    if (ready < 0) {
        lr->stopped = 1;
        return -1;
    }
    /* read(2), not fread: it returns what a pipe has now, so a line is
     * matched as soon as it arrives, not when a block fills. */
    ssize_t got;
    do got = read(fileno(lr->f), lr->buf + lr->end, READ_BLOCK - lr->end);
    while (got < 0 && errno == EINTR && !stop_signal);
    if (got < 0) {
        if (stop_signal) lr->stopped = 1;
        else lr->err = errno;
        return -1;
    }
    lr->end += (size_t)got;
    return got;
}

ssize_t read_line_more(line_reader *lr, const char **line, size_t max, size_t *len, int *toolong) {
    *toolong = 0;
    for (;;) {
        char *s = lr->buf + lr->pos;
        size_t avail = lr->end - lr->pos;
        char *nl = avail ? memchr(s, '\n', avail) : NULL;
        if (nl) {
            size_t take = (size_t)(nl - s);
            lr->pos += take + 1;
            *line = s;
            *len = take;
            if (take > max) *len = max, *toolong = 1;
            return (ssize_t)take + 1;
        }
        if (avail == READ_BLOCK) break; /* longer than the block */
        /* Move the start of the line to the front and read on after it. */
        if (lr->pos) {
            memmove(lr->buf, s, avail);
            lr->pos = 0;
            lr->end = avail;
        }
        ssize_t got = fill_block(lr);
        if (got < 0) return -1;
        if (got == 0) {
            if (!avail) return 0;
            /* The last line has no newline. */
            lr->pos = lr->end;
            *line = lr->buf;
            *len = avail;
            if (avail > max) *len = max, *toolong = 1;
            return (ssize_t)avail;
        }
    }
    /* A line longer than the block: keep at most max bytes of it in
     * lr->line, reading block after block up to its newline. */
    size_t used = 0, consumed = 0;
    for (;;) {
        if (lr->pos == lr->end) {
            lr->pos = lr->end = 0;
            ssize_t got = fill_block(lr);
            if (got < 0) return -1;
            if (got == 0) break;
        }
        char *s = lr->buf + lr->pos;
        char *nl = memchr(s, '\n', lr->end - lr->pos);
        size_t take = nl ? (size_t)(nl - s) : lr->end - lr->pos;
        size_t keep = take;
        if (keep > max - used) {
            keep = max - used;
            *toolong = 1;
        }
        if (used + keep > lr->cap) {
            size_t ncap = lr->cap ? lr->cap : 256;
            while (ncap < used + keep) ncap *= 2;
            char *nb = realloc(lr->line, ncap);
            if (!nb) return -1;
            lr->line = nb;
            lr->cap = ncap;
        }
        memcpy(lr->line + used, s, keep);
        used += keep;
        lr->pos += take + (nl != NULL);
        consumed += take + (nl != NULL);
        if (nl) break;
    }
    *line = lr->line;
    *len = used;
    return (ssize_t)consumed;
}
