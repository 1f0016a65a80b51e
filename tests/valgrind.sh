#!/bin/sh
# valgrind.sh — `make check-valgrind`: make check in a --disable-jemalloc
# --disable-shared build (real executables, libc malloc) with every test
# program run under valgrind --leak-check=full. Any valgrind error or leak
# fails: the programs exit 97 (which no test expects) and the logs are
# scanned. The Python suite is left out (it would trace the interpreter).
# tests/valgrind.supp hides PCRE2 JIT code (no symbols, word-wise reads).
#   valgrind.sh SRCDIR BUILDDIR
set -eu
src=$1
bld=$2
command -v valgrind >/dev/null 2>&1 || { echo "check-valgrind: apt-get install valgrind" >&2; exit 2; }
mkdir -p "$bld"
cd "$bld"
[ -f Makefile ] || "$src/configure" -q --disable-jemalloc --disable-shared CFLAGS="-g -O1" >/dev/null
make -s -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
progs="cepheus tests/unit/check_cepheus tests/conformance/runner examples/click_to_purchase/gen_events"
make -s tests/unit/check_cepheus tests/conformance/runner >/dev/null
rm -rf vglogs
mkdir -p vglogs
logs=$(pwd)/vglogs
# Swap each program for a script running the real one under valgrind.
for p in $progs; do
    if [ ! -f "$p.real" ] || [ "$p" -nt "$p.real" ]; then
        head -c 2 "$p" | grep -q '#!' && { echo "check-valgrind: $p is a script" >&2; exit 2; }
        mv "$p" "$p.real"
    fi
    cat > "$p" <<WRAP
#!/bin/sh
exec valgrind -q --suppressions="$src/tests/valgrind.supp" --leak-check=full --show-leak-kinds=definite,indirect,possible \\
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=97 \\
    --log-file="$logs/%p.log" "$(pwd)/$p.real" "\$@"
WRAP
    chmod +x "$p"
    touch -r "$p.real" "$p"
done
status=0
# CEP_VALGRIND=1 lets a test leave out what valgrind makes too slow or
# racy; each test gets 20 minutes at most, so that a hang is a failure.
CEP_VALGRIND=1 CK_FORK=no make -s check LOG_COMPILER="timeout 1200" TESTS="tests/unit/check_cepheus tests/conformance.sh tests/cli.sh \
    tests/example_click.sh tests/hostile.sh" >/dev/null 2>&1 || status=$?
for t in tests/unit/check_cepheus tests/conformance.sh tests/cli.sh tests/example_click.sh tests/hostile.sh; do
    grep -E '[0-9]+ passed, [0-9]+ failed' "$t.log" 2>/dev/null | tail -n 1 | sed "s|^|$t: |"
done
# Restore the real programs, so that a later plain `make` works here.
for p in $progs; do mv -f "$p.real" "$p"; done
bad=$(grep -l -E 'ERROR SUMMARY: [1-9]|definitely lost|indirectly lost|possibly lost|Invalid (read|write)|uninitialised' vglogs/*.log 2>/dev/null || true)
n=$(ls vglogs | wc -l)
if [ -n "$bad" ]; then
    echo "check-valgrind: errors in:"
    for f in $bad; do echo "== $f"; head -n 40 "$f"; done
    status=1
fi
echo "valgrind: $n processes traced, $(echo "$bad" | grep -c . || true) with errors"
exit $status
