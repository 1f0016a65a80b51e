#!/bin/sh
# run.sh — `make check-oom`: build the library with the fault-injecting
# allocator and ASan/LSan in a build directory of its own, then run the
# allocation-failure loops: the library's (tests/oom/oom_test.c) and the
# command-line tool's (cli.sh), side by side on two cores.
#   run.sh SRCDIR BUILDDIR
set -eu
src=$1
bld=$2
mkdir -p "$bld"
cd "$bld"
[ -f Makefile ] || "$src/configure" -q --enable-sanitizers --enable-fault-injection >/dev/null
make -s dsl/parser.h >/dev/null
make -s -j"$(nproc 2>/dev/null || echo 2)" tests/oom/oom_test cepheus >/dev/null
# The loop counts the library's live blocks after every N and asks LSan
# once a loop; LSan's report at exit backs both.
ASAN_OPTIONS=detect_leaks=1 ./tests/oom/oom_test &
lib=$!
st=0
sh "$src/tests/oom/cli.sh" "$src" "$bld" || st=$?
wait $lib || st=$?
exit $st
