#!/bin/sh
# build.sh — set up a fresh Debian machine, build, and run something.
#   ./build.sh example        install what is missing, build, run the click-to-purchase example
#   ./build.sh test           install what is missing, build, run the whole test suite
#   ./build.sh test --sanitize   the same in a separate AddressSanitizer+UBSan build (build-asan/)
set -eu
cd "$(dirname "$0")"
top=$(pwd)

what=${1:-test}
sanitize=no
# Refuse a typo before anything is installed or built.
case "$what ${2:-}" in
"example "|"example --sanitize"|"test "|"test --sanitize") ;;
*)
    echo "usage: ./build.sh example|test [--sanitize]" >&2
    exit 2
    ;;
esac
[ "${2:-}" = "--sanitize" ] && sanitize=yes

# Debian packages the build and the tests need.
# (librdkafka-dev: `cepheus run --kafka`, docs/scaling.md.)
PKGS="gcc make autoconf automake libtool pkg-config flex bison libpcre2-dev libjemalloc-dev libyajl-dev libxxhash-dev check python3-dev python3-setuptools python3-pytest librdkafka-dev"
# The JSON libraries make bench-json compares the reader with (docs/design.md).
# (libmicrohttpd-dev: `cepheus run --metrics`, docs/operations.md; curl: its
# test scrapes with it; systemd: `systemd-analyze verify` of the unit file.)
PKGS="$PKGS libmicrohttpd-dev curl systemd"
PKGS="$PKGS g++ libjansson-dev libjson-c-dev libcjson-dev libsimdjson-dev"
missing=
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "build.sh: installing:$missing"
    SUDO=
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ -x configure ] || ./autogen.sh >/dev/null 2>&1
if [ "$sanitize" = yes ]; then
    builddir=build-asan
    flags=--enable-sanitizers
else
    builddir=build
    flags=
fi
# CI (and whoever wants it) builds the project's own code with -Werror.
[ "${CEP_WERROR:-}" = 1 ] && flags="$flags --enable-werror"
mkdir -p "$builddir"
cd "$builddir"
[ -f Makefile ] || "$top/configure" -q $flags
jobs=$(nproc 2>/dev/null || echo 2)
make -s -j"$jobs" >/dev/null

case "$what" in
example)
    make -s example
    ;;
test)
    status=0
    make -s -j"$jobs" check >/dev/null 2>&1 || status=$?
    # One line per suite, then the total: every suite is counted. The
    # suites are whatever `make check` ran: one .trs file each.
    passed=0
    failed=0
    # (not the sub-builds of check-valgrind, check-oom and fuzz)
    logs=$(find . \( -path ./valgrind-build -o -path ./oom-build -o -path ./fuzz-build \) -prune -o \
        -name '*.trs' -print | sort | sed 's/\.trs$/.log/')
    for log in $logs; do
        trs=${log%.log}.trs
        if grep -q '^:test-result: SKIP' "$trs"; then
            echo "$log: skipped"
            continue
        fi
        line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" 2>/dev/null | tail -n 1)
        if [ -z "$line" ]; then
            echo "$log: no result"
            status=1
            continue
        fi
        echo "$line"
        p=$(echo "$line" | sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\2/')
        f=$(echo "$line" | sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\3/')
        passed=$((passed + p))
        failed=$((failed + f))
    done
    if [ "$status" != 0 ]; then
        echo "--- failing logs ---"
        for log in $logs; do
            grep -qE '^:test-result: (FAIL|ERROR)' "${log%.log}.trs" 2>/dev/null && { echo "== $log"; tail -n 60 "$log"; }
        done
        [ "$failed" = 0 ] && failed=1
    fi
    echo "total: $passed passed, $failed failed"
    exit "$status"
    ;;
*)
    echo "usage: ./build.sh example|test [--sanitize]" >&2
    exit 2
    ;;
esac
