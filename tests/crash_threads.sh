#!/bin/sh
# crash_threads.sh — tests/crash.sh with --threads: kill -9 at random
# moments, each restart restoring with another number of threads (2, 3,
# 1, one engine, 4, ...), so checkpoints move from N threads to M and
# between a pool and one engine under crashes. Run by `make check`;
# `make check-crash` runs it long.
: "${top_srcdir:=.}"
CRASH_THREADS=${CRASH_THREADS:-"2 3 1 0 4"}
CRASH_EVENTS=${CRASH_EVENTS:-300000}
export CRASH_THREADS CRASH_EVENTS
exec "${SHELL:-/bin/sh}" "$top_srcdir/tests/crash.sh"
