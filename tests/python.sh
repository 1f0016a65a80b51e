#!/bin/sh
# python.sh — builds the Python bindings (bindings/python) into the build tree
# and runs their pytest suite with Debian's interpreter; skipped (77) when
# /usr/bin/python3, setuptools, pytest or the Python headers are missing.
: "${top_srcdir:=.}" "${top_builddir:=.}"
PY=/usr/bin/python3
skip() { echo "python: 0 passed, 0 failed (skipped: $1)"; exit 77; }
fail() { echo "$1"; echo "python: 0 passed, 1 failed"; exit 1; }

[ -x "$PY" ] || skip "no $PY"
"$PY" -c 'import setuptools' 2>/dev/null || skip "no python3-setuptools"
"$PY" -c 'import pytest' 2>/dev/null || skip "no python3-pytest"
"$PY" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
    skip "no python3-dev"
# The extension would need libasan preloaded into the interpreter.
grep -q '^SAN_CFLAGS = -fsanitize' "$top_builddir/Makefile" 2>/dev/null && skip "sanitizer build"

build=$(cd "$top_builddir" && pwd)
src=$(cd "$top_srcdir" && pwd)
out="$build/bindings/python"
mkdir -p "$out"
(cd "$src/bindings/python" && CEPHEUS_BUILD_DIR="$build" "$PY" setup.py -q build --force \
    --build-base "$out/build" --build-lib "$out/lib") > "$out/build.log" 2>&1 || {
    cat "$out/build.log"; fail "building the extension failed"; }

# Nothing written into the (maybe read-only) source tree: no .pyc, no cache.
PYTHONDONTWRITEBYTECODE=1
PYTHONPATH="$out/lib"
CEPHEUS_BUILD_DIR="$build"
CEPHEUS_SRC_DIR="$src"
export PYTHONDONTWRITEBYTECODE PYTHONPATH CEPHEUS_BUILD_DIR CEPHEUS_SRC_DIR

"$PY" -m pytest -q -p no:cacheprovider --rootdir="$src/bindings/python" \
    "$src/bindings/python/tests" > "$out/pytest.log" 2>&1
status=$?
cat "$out/pytest.log"
summary=$(tail -n 1 "$out/pytest.log")
passed=$(echo "$summary" | sed -nE 's/(.*[^0-9])?([0-9]+) passed.*/\2/p')
failed=$(echo "$summary" | sed -nE 's/(.*[^0-9])?([0-9]+) failed.*/\2/p')
errors=$(echo "$summary" | sed -nE 's/(.*[^0-9])?([0-9]+) errors?.*/\2/p')
passed=${passed:-0}
failed=$(( ${failed:-0} + ${errors:-0} ))
[ "$status" != 0 ] && [ "$failed" = 0 ] && failed=1
echo "python: $passed passed, $failed failed"
[ "$status" = 0 ]
