#!/bin/sh
# example_funnel.sh — runs examples/funnel as its README says (generator,
# cepheus run with --timeouts, the summary) and compares every output with
# the expected files there.
name=example_funnel
exdir=funnel
. "${top_srcdir:-.}/tests/example_lib.sh"

"$B/examples/funnel/gen_funnel" > funnel.jsonl || ko "gen_funnel failed"
"$B/cepheus" run --max-delay 10000 --timeouts dropped.jsonl \
    "$ex/funnel.cep" funnel.jsonl > reached.jsonl 2> stderr.txt
st=$?; [ "$st" = 0 ] && ok || ko "cepheus run: status $st"
same "matches" "$ex/expected_reached.jsonl" reached.jsonl
same "timeouts" "$ex/expected_dropped.jsonl" dropped.jsonl
same "stderr" "$ex/expected_stderr.txt" stderr.txt
awk -f "$ex/summary.awk" reached.jsonl dropped.jsonl > summary.txt || ko "summary.awk failed"
same "summary" "$ex/expected_summary.txt" summary.txt

finish
