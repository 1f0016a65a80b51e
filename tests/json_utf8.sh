#!/bin/sh
# json_utf8.sh — runs tests/json_utf8.py: strings in event lines through
# `cepheus run` against Python's json module on strict UTF-8 (an independent
# decoder); skipped (77) without python3.
: "${top_srcdir:=.}" "${top_builddir:=.}"
CEP="$(cd "$top_builddir" && pwd)/cepheus"
[ -x "$CEP" ] || { echo "json_utf8.sh: $CEP is not built; skipping"; exit 77; }
command -v python3 > /dev/null 2>&1 || { echo "json_utf8.sh: no python3; skipping"; exit 77; }
exec python3 "$top_srcdir/tests/json_utf8.py" "$CEP" 3000
