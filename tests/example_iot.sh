#!/bin/sh
# example_iot.sh — runs examples/iot as its README says (late readings to
# --late) and compares matches, late events and malformed-line reports
# with the expected files there.
: "${top_srcdir:=.}" "${top_builddir:=.}"
SRC=$(cd "$top_srcdir" && pwd) && B=$(cd "$top_builddir" && pwd) || exit 1
ex="$SRC/examples/iot"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/example_iot.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }
same() { if diff -u "$2" "$3"; then ok; else ko "$1 differs from $(basename "$2")"; fi; }

"$B/examples/iot/gen_readings" > readings.jsonl || ko "gen_readings failed"
"$B/cepheus" run --max-delay 10000 --late late.jsonl "$ex/iot.cep" readings.jsonl \
    > rising.jsonl 2> stderr.txt
st=$?; [ "$st" = 0 ] && ok || ko "cepheus run: status $st"
same "matches" "$ex/expected.jsonl" rising.jsonl
same "late events" "$ex/expected_late.jsonl" late.jsonl
same "stderr" "$ex/expected_stderr.txt" stderr.txt

echo "example_iot: $pass passed, $fail failed"
[ "$fail" = 0 ]
