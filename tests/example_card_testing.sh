#!/bin/sh
# example_card_testing.sh — runs examples/fraud/card_testing as its README says
# (generator, matcher, summary) and compares every output with the expected
# files there. The chart is checked only when gnuplot is installed.
: "${top_srcdir:=.}" "${top_builddir:=.}"
SRC=$(cd "$top_srcdir" && pwd) && B=$(cd "$top_builddir" && pwd) || exit 1
ex="$SRC/examples/fraud/card_testing"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/example_card_testing.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }
same() { if diff -u "$2" "$3"; then ok; else ko "$1 differs from $(basename "$2")"; fi; }

"$B/examples/fraud/card_testing/gen_cards" > cards.jsonl || ko "gen_cards failed"
"$B/cepheus" run --max-delay 30000 "$ex/card_testing.cep" cards.jsonl > alerts.jsonl 2> stderr.txt
st=$?; [ "$st" = 0 ] && ok || ko "matcher: status $st"
same "matches" "$ex/expected.jsonl" alerts.jsonl
same "stderr" "$ex/expected_stderr.txt" stderr.txt
sh "$SRC/examples/fraud/summary.sh" alerts.jsonl > summary.txt || ko "summary.sh failed"
same "summary" "$ex/expected_summary.txt" summary.txt
if command -v gnuplot >/dev/null 2>&1; then
    sh "$SRC/examples/fraud/summary.sh" alerts.jsonl alerts.png > /dev/null &&
        [ "$(od -An -tx1 -N4 alerts.png | tr -d ' ')" = 89504e47 ] && ok ||
        ko "no PNG chart from gnuplot"
fi

echo "example_card_testing: $pass passed, $fail failed"
[ "$fail" = 0 ]
