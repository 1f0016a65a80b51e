#!/bin/sh
# example_funnel.sh — runs examples/funnel as its README says (generator,
# cepheus run with --timeouts, the summary) and compares every output with
# the expected files there.
: "${top_srcdir:=.}" "${top_builddir:=.}"
SRC=$(cd "$top_srcdir" && pwd) && B=$(cd "$top_builddir" && pwd) || exit 1
ex="$SRC/examples/funnel"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/example_funnel.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }
same() { if diff -u "$2" "$3"; then ok; else ko "$1 differs from $(basename "$2")"; fi; }

"$B/examples/funnel/gen_funnel" > funnel.jsonl || ko "gen_funnel failed"
"$B/cepheus" run --max-delay 10000 --timeouts dropped.jsonl \
    "$ex/funnel.cep" funnel.jsonl > reached.jsonl 2> stderr.txt
st=$?; [ "$st" = 0 ] && ok || ko "cepheus run: status $st"
same "matches" "$ex/expected_reached.jsonl" reached.jsonl
same "timeouts" "$ex/expected_dropped.jsonl" dropped.jsonl
same "stderr" "$ex/expected_stderr.txt" stderr.txt
awk -f "$ex/summary.awk" reached.jsonl dropped.jsonl > summary.txt || ko "summary.awk failed"
same "summary" "$ex/expected_summary.txt" summary.txt

echo "example_funnel: $pass passed, $fail failed"
[ "$fail" = 0 ]
