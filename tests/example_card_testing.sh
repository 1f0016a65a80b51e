#!/bin/sh
# example_card_testing.sh — runs examples/fraud/card_testing as its README says
# (generator, matcher, summary) and compares every output with the expected
# files there. The chart is checked only when gnuplot is installed.
name=example_card_testing
exdir=fraud/card_testing
. "${top_srcdir:-.}/tests/example_lib.sh"

"$B/examples/fraud/card_testing/gen_cards" > cards.jsonl || ko "gen_cards failed"
"$B/cepheus" run --max-delay 30000 "$ex/card_testing.cep" cards.jsonl > alerts.jsonl 2> stderr.txt
st=$?; [ "$st" = 0 ] && ok || ko "matcher: status $st"
same "matches" "$ex/expected.jsonl" alerts.jsonl
same "stderr" "$ex/expected_stderr.txt" stderr.txt
fraud_summary

finish
