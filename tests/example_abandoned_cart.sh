#!/bin/sh
# example_abandoned_cart.sh — runs examples/abandoned_cart as its README
# says and compares the matches and the malformed-line reports with the
# expected files there.
name=example_abandoned_cart
exdir=abandoned_cart
. "${top_srcdir:-.}/tests/example_lib.sh"

"$B/examples/abandoned_cart/gen_carts" > carts.jsonl || ko "gen_carts failed"
"$B/cepheus" run --max-delay 10000 "$ex/abandoned_cart.cep" carts.jsonl \
    > abandoned.jsonl 2> stderr.txt
st=$?; [ "$st" = 0 ] && ok || ko "cepheus run: status $st"
same "matches" "$ex/expected.jsonl" abandoned.jsonl
same "stderr" "$ex/expected_stderr.txt" stderr.txt

finish
