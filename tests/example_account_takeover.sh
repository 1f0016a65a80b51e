#!/bin/sh
# example_account_takeover.sh — runs examples/fraud/account_takeover as its README says
# (generator, matcher, summary) and compares every output with the expected
# files there. The chart is checked only when gnuplot is installed.
name=example_account_takeover
exdir=fraud/account_takeover
. "${top_srcdir:-.}/tests/example_lib.sh"

"$B/examples/fraud/account_takeover/gen_banking" > banking.jsonl || ko "gen_banking failed"
"$B/cepheus" run --max-delay 20000 "$ex/account_takeover.cep" banking.jsonl > alerts.jsonl 2> stderr.txt
st=$?; [ "$st" = 0 ] && ok || ko "matcher: status $st"
same "matches" "$ex/expected.jsonl" alerts.jsonl
same "stderr" "$ex/expected_stderr.txt" stderr.txt
fraud_summary

finish
