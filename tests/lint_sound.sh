#!/bin/sh
# lint_sound.sh — the warnings claim only what the engine does:
# tests/lint_never.py (every condition never-true flags matches no event)
# and tests/lint_regex.py (every rewrite the regex warning suggests matches
# the same events as the regex), both through `cepheus run`; skipped (77)
# without python3.
: "${top_srcdir:=.}" "${top_builddir:=.}"
CEP="$(cd "$top_builddir" && pwd)/cepheus"
[ -x "$CEP" ] || { echo "lint_sound.sh: $CEP is not built; skipping"; exit 77; }
command -v python3 > /dev/null 2>&1 || { echo "lint_sound.sh: no python3; skipping"; exit 77; }
passed=0 failed=0
# (the "N passed, N failed" line is what build.sh adds up)
if python3 "$top_srcdir/tests/lint_never.py" "$CEP" 1000; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
if python3 "$top_srcdir/tests/lint_regex.py" "$CEP"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
echo "lint_sound: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
