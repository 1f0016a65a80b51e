#!/bin/sh
# example_abandoned_cart.sh — runs examples/abandoned_cart as its README
# says and compares the matches and the malformed-line reports with the
# expected files there.
: "${top_srcdir:=.}" "${top_builddir:=.}"
SRC=$(cd "$top_srcdir" && pwd) && B=$(cd "$top_builddir" && pwd) || exit 1
ex="$SRC/examples/abandoned_cart"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/example_abandoned_cart.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }
same() { if diff -u "$2" "$3"; then ok; else ko "$1 differs from $(basename "$2")"; fi; }

"$B/examples/abandoned_cart/gen_carts" > carts.jsonl || ko "gen_carts failed"
"$B/cepheus" run --max-delay 10000 "$ex/abandoned_cart.cep" carts.jsonl \
    > abandoned.jsonl 2> stderr.txt
st=$?; [ "$st" = 0 ] && ok || ko "cepheus run: status $st"
same "matches" "$ex/expected.jsonl" abandoned.jsonl
same "stderr" "$ex/expected_stderr.txt" stderr.txt

echo "example_abandoned_cart: $pass passed, $fail failed"
[ "$fail" = 0 ]
