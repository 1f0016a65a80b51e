#!/bin/sh
# example_iot.sh — runs examples/iot as its README says (late readings to
# --late) and compares matches, late events and malformed-line reports
# with the expected files there.
name=example_iot
exdir=iot
. "${top_srcdir:-.}/tests/example_lib.sh"

"$B/examples/iot/gen_readings" > readings.jsonl || ko "gen_readings failed"
"$B/cepheus" run --max-delay 10000 --late late.jsonl "$ex/iot.cep" readings.jsonl \
    > rising.jsonl 2> stderr.txt
st=$?; [ "$st" = 0 ] && ok || ko "cepheus run: status $st"
same "matches" "$ex/expected.jsonl" rising.jsonl
same "late events" "$ex/expected_late.jsonl" late.jsonl
same "stderr" "$ex/expected_stderr.txt" stderr.txt

finish
