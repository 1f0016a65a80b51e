#!/bin/sh
# example_impossible_travel.sh — runs examples/fraud/impossible_travel as its README says
# (generator, matcher, summary) and compares every output with the expected
# files there. The chart is checked only when gnuplot is installed.
name=example_impossible_travel
exdir=fraud/impossible_travel
. "${top_srcdir:-.}/tests/example_lib.sh"

"$B/examples/fraud/impossible_travel/gen_logins" > logins.jsonl || ko "gen_logins failed"
"$B/examples/fraud/impossible_travel/travel" --max-delay 60000 "$ex/impossible_travel.cep" logins.jsonl > alerts.jsonl 2> stderr.txt
st=$?; [ "$st" = 0 ] && ok || ko "matcher: status $st"
same "matches" "$ex/expected.jsonl" alerts.jsonl
same "stderr" "$ex/expected_stderr.txt" stderr.txt
fraud_summary

finish
