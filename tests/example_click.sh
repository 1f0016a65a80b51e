#!/bin/sh
# example_click.sh — runs the click_to_purchase example end to end (the
# generator piped into `cepheus run`) and compares with expected.jsonl.
: "${top_srcdir:=.}" "${top_builddir:=.}"
ex="$top_srcdir/examples/click_to_purchase"
tmp="${TMPDIR:-/tmp}/example_click.$$"
trap 'rm -f "$tmp.in" "$tmp.out"' EXIT INT TERM

"$top_builddir/examples/click_to_purchase/gen_events" 2000 > "$tmp.in" || {
    echo "gen_events failed"; echo "example: 0 passed, 1 failed"; exit 1; }
"$top_builddir/cepheus" run --max-delay 5000 "$ex/click_to_purchase.cep" \
    < "$tmp.in" > "$tmp.out" || {
    echo "cepheus run failed (status $?)"; echo "example: 0 passed, 1 failed"; exit 1; }
if diff -u "$ex/expected.jsonl" "$tmp.out"; then
    echo "example: 1 passed, 0 failed"
    exit 0
fi
echo "example: 0 passed, 1 failed"
exit 1
