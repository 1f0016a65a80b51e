#!/bin/sh
# example_impossible_travel.sh — runs examples/fraud/impossible_travel as its README says
# (generator, matcher, summary) and compares every output with the expected
# files there. The chart is checked only when gnuplot is installed.
: "${top_srcdir:=.}" "${top_builddir:=.}"
SRC=$(cd "$top_srcdir" && pwd) && B=$(cd "$top_builddir" && pwd) || exit 1
ex="$SRC/examples/fraud/impossible_travel"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/example_impossible_travel.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }
same() { if diff -u "$2" "$3"; then ok; else ko "$1 differs from $(basename "$2")"; fi; }

"$B/examples/fraud/impossible_travel/gen_logins" > logins.jsonl || ko "gen_logins failed"
"$B/examples/fraud/impossible_travel/travel" --max-delay 60000 "$ex/impossible_travel.cep" logins.jsonl > alerts.jsonl 2> stderr.txt
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

echo "example_impossible_travel: $pass passed, $fail failed"
[ "$fail" = 0 ]
