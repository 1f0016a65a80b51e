#!/bin/sh
# run.sh — build the libFuzzer targets with clang (ASan + UBSan + fuzzer
# coverage) in a build directory of their own, then run each for
# FUZZ_SECONDS seconds (default 600) from its seed corpus. Used by
# `make fuzz` and `make fuzz-smoke`; needs clang and libclang-rt-14-dev.
#   run.sh SRCDIR BUILDDIR [TARGET ...]
# New inputs go to BUILDDIR/corpus/TARGET (the seeds stay untouched);
# crashes, leaks and hangs to BUILDDIR/artifacts/TARGET-*. Exit 1 if any.
set -eu
src=$1
bld=$2
shift 2
targets=${*:-fuzz_compile fuzz_json fuzz_pipeline fuzz_snapshot}
secs=${FUZZ_SECONDS:-600}
CC=${FUZZ_CC:-clang}

command -v "$CC" >/dev/null 2>&1 || {
    echo "fuzz: $CC not found: apt-get install clang libclang-rt-14-dev" >&2
    exit 2
}
mkdir -p "$bld"
cd "$bld"
# The library in a sanitizer build, instrumented for coverage; libc malloc
# (--enable-sanitizers implies it) so that ASan sees every block.
if [ ! -f Makefile ]; then
    "$src/configure" -q --enable-sanitizers CC="$CC" \
        CFLAGS="-g -O1 -fsanitize=fuzzer-no-link" >/dev/null
fi
make -s dsl/parser.h >/dev/null
make -s -j"$(nproc 2>/dev/null || echo 2)" libcepcore.la >/dev/null

flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
incs="-I$src/include -I$src/util -I$src/cli -I$src/runtime -I$bld"
libs="$bld/.libs/libcepcore.a $(pkg-config --libs libpcre2-8 yajl libxxhash) -lm"
for t in $targets; do
    extra=
    [ "$t" = fuzz_pipeline ] && extra="$src/cli/jsonout.c"
    # fuzz_snapshot computes the CRC-32C with the library's own crc32c()
    # (util/crc32c.h), which the static libcepcore.a provides.
    # shellcheck disable=SC2086
    $CC $flags $incs -o "$t" "$src/tests/fuzz/$t.c" $extra $libs
done

status=0
mkdir -p artifacts
for t in $targets; do
    mkdir -p "corpus/$t"
    echo "fuzz: $t for ${secs}s"
    # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: growth
    # beyond 2 GiB is a failure too.
    if ! ./"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=16384 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t-" "corpus/$t" "$src/tests/fuzz/corpus/$t" \
        >"$t.log" 2>&1; then
        echo "fuzz: $t FAILED (see $bld/$t.log, artifacts in $bld/artifacts)" >&2
        tail -n 40 "$t.log" >&2
        status=1
    else
        grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$t.log" | tail -n 2
    fi
done
exit $status
