#!/bin/sh
# lint_never.sh — runs tests/lint_never.py: every condition the never-true
# warning flags matches no event through `cepheus run` (the warning is
# sound); skipped (77) without python3.
: "${top_srcdir:=.}" "${top_builddir:=.}"
CEP="$(cd "$top_builddir" && pwd)/cepheus"
[ -x "$CEP" ] || { echo "lint_never.sh: $CEP is not built; skipping"; exit 77; }
command -v python3 > /dev/null 2>&1 || { echo "lint_never.sh: no python3; skipping"; exit 77; }
exec python3 "$top_srcdir/tests/lint_never.py" "$CEP" 1000
