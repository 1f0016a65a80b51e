#!/bin/sh
# run.sh — `make check-oom`: build the library with the fault-injecting
# allocator and ASan/LSan in a build directory of its own, then run the
# allocation-failure loop (tests/oom/oom_test.c).
#   run.sh SRCDIR BUILDDIR
set -eu
src=$1
bld=$2
mkdir -p "$bld"
cd "$bld"
[ -f Makefile ] || "$src/configure" -q --enable-sanitizers --enable-fault-injection >/dev/null
make -s dsl/parser.h >/dev/null
make -s -j"$(nproc 2>/dev/null || echo 2)" tests/oom/oom_test >/dev/null
# The loop asks LSan itself after every N; no report at exit is needed.
ASAN_OPTIONS=detect_leaks=1 ./tests/oom/oom_test

# The same for the command-line tool, driven through CEP_FAIL_AT.
sh "$src/tests/oom/cli.sh" "$src" "$bld"
