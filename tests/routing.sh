#!/bin/sh
# routing.sh — a rule set matches, rule by rule, as each rule alone
# (tests/routing.py; nfa/route.c).
: "${top_srcdir:=.}" "${top_builddir:=.}"
CEP="$(cd "$top_builddir" && pwd)/cepheus"
[ -x "$CEP" ] || { echo "routing.sh: $CEP is not built; skipping"; exit 77; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-routing.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
python3 "$top_srcdir/tests/routing.py" "$CEP" "$TMP"
