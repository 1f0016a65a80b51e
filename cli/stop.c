/* stop.c — the orderly stop of `cepheus run` on SIGINT or SIGTERM (see
 * stop.h); a self-pipe wakes a reader blocked in poll(2). */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "stop.h"

volatile sig_atomic_t stop_signal;
static int wake[2] = {-1, -1};

void stop_wake(void) {
    if (wake[1] >= 0) {
        int saved = errno;
        ssize_t w = write(wake[1], "", 1); /* full pipe: a wake is pending anyway */
        (void)w;
        errno = saved;
    }
}

void stop_drain(void) {
    char b[64];
    while (wake[0] >= 0 && read(wake[0], b, sizeof b) > 0) continue;
}

static void on_stop(int sig) {
    if (stop_signal) _exit(128 + sig); /* the second signal: at once */
    stop_signal = sig;
    stop_wake();
}

int stop_install(void) {
    int rc = 0;
    if (wake[0] < 0) {
        if (pipe(wake) != 0) {
            wake[0] = wake[1] = -1;
            rc = -1;
        } else {
            for (int i = 0; i < 2; i++) {
                fcntl(wake[i], F_SETFD, FD_CLOEXEC);
                fcntl(wake[i], F_SETFL, O_NONBLOCK);
            }
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sa.sa_flags = SA_RESTART; /* the reader's poll returns anyway: EINTR or the pipe */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return rc;
}

int stop_fd(void) { return wake[0]; }

const char *stop_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }
