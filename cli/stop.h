/* stop.h — SIGINT and SIGTERM in `cepheus run`: the first asks for an
 * orderly stop (the run loop stops reading, writes what is decided, takes a
 * final checkpoint), the second exits at once. */
#ifndef CEP_STOP_H
#define CEP_STOP_H

#include <signal.h>

/* The signal that asked for a stop, 0 while none has. */
extern volatile sig_atomic_t stop_signal;

/* Install the handlers. Returns 0, or -1 when the wake-up pipe cannot be
 * made (the handlers then only set stop_signal). */
int stop_install(void);
/* A descriptor that becomes readable when a stop is asked for, or another
 * handler called stop_wake (-1: none): a wait for input polls it too, so
 * no signal is lost between a check of its flag and the wait. */
int stop_fd(void);
/* Wake a wait on stop_fd (async-signal-safe: SIGHUP's and SIGUSR1's
 * handlers call it after setting their flags). */
void stop_wake(void);
/* Empty stop_fd after a wake that was not a stop (its flag then read). */
void stop_drain(void);
/* "SIGINT", "SIGTERM". */
const char *stop_name(int sig);

#endif
