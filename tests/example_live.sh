#!/bin/sh
# example_live.sh — runs examples/live as its README says: gen_live writes
# 600 events at 200 a second into a pipe and `cepheus run` reads them as
# they come. The alerts must be the expected ones, and the first must be
# out while the generator is still writing (it runs 3 s; before issue 16
# nothing came out until the pipe closed).
name=example_live
exdir=live
. "${top_srcdir:-.}/tests/example_lib.sh"

( "$B/examples/live/gen_live" 200 600; touch gen.done ) |
    "$B/cepheus" run "$ex/live.cep" > alerts.jsonl 2> stderr.txt &
pid=$!
i=0
while [ ! -s alerts.jsonl ] && [ ! -e gen.done ] && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
if [ -s alerts.jsonl ] && [ ! -e gen.done ]; then ok; else ko "no alert while the generator was running"; fi
wait $pid
st=$?; [ "$st" = 0 ] && ok || ko "cepheus run: status $st"
same "alerts" "$ex/expected.jsonl" alerts.jsonl
same "stderr" /dev/null stderr.txt

finish
