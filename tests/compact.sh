#!/bin/sh
# compact.sh — patterns the engine keeps compactly (runtime/tecs.c): which
# ones `cepheus explain` says are, and `cepheus run` giving the same bytes
# (matches, timeouts, stats) compact, flat (CEP_COMPACT=0) and with
# checkpoints (which turn keys flat mid-run). make check.
: "${top_srcdir:=.}" "${top_builddir:=.}"
CEP="$(cd "$top_builddir" && pwd)/cepheus"
[ -x "$CEP" ] || { echo "compact.sh: $CEP is not built; skipping"; exit 77; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-compact.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
cd "$TMP" || exit 1
passed=0
failed=0
check() { # NAME CONDITION...
    name=$1
    shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name"; fi
}
is_compact() { "$CEP" explain "$1" > ex 2> exerr && grep -q '^  partial matches: compact' ex; }
not_compact() { "$CEP" explain "$1" > ex 2> exerr && ! grep -q 'compact' ex; }

cat > chain.cep <<'P'
pattern q key k
  begin a where t == "a" and v > 1
  followedByAny b where t == "b"
  followedByAny c where t == "c" or v == 7
  within 40ms
  emit first = a.v, last = c.v
P
check "explain: a chain of followedByAny" is_compact chain.cep
sed 's/followedByAny c/followedBy c/' chain.cep > follow.cep
check "explain: followedBy is not" not_compact follow.cep
sed 's/where t == "b"/where t == "b" and v > a.v/' chain.cep > ref.cep
check "explain: a step reference is not" not_compact ref.cep
sed 's/within 40ms/within 40ms skip pastLastEvent/' chain.cep > skip.cep
check "explain: a skip strategy is not" not_compact skip.cep
sed 's/last = c.v/total = sum(b.v)/' chain.cep > agg.cep
check "explain: an aggregate in emit is not" not_compact agg.cep
sed 's/followedByAny b where t == "b"/followedByAny b+ where t == "b"/' chain.cep > loop.cep
check "explain: a loop is not" not_compact loop.cep

# 3000 events over 3 keys, one ms apart: a's, b's and c's with values.
awk 'BEGIN { srand(7); for (i = 1; i <= 3000; i++) {
    r = int(rand() * 10); t = r < 3 ? "a" : r < 7 ? "b" : r < 9 ? "c" : "x";
    printf "{\"ts\":%d,\"k\":%d,\"t\":\"%s\",\"v\":%d}\n", i, int(rand() * 3), t, int(rand() * 9) } }' > in.jsonl
"$CEP" run --stats --timeouts tc.jsonl chain.cep in.jsonl > mc.jsonl 2> ec || echo "run failed: $(cat ec)"
CEP_COMPACT=0 "$CEP" run --stats --timeouts tf.jsonl chain.cep in.jsonl > mf.jsonl 2> ef || echo "run failed"
grep -v 'seconds\|second:' ec > sc
grep -v 'seconds\|second:' ef > sf
check "run: the same matches" cmp -s mc.jsonl mf.jsonl
check "run: the same timeouts" cmp -s tc.jsonl tf.jsonl
check "run: the same stats" cmp -s sc sf
check "run: matches and timeouts made" test "$(wc -l < mc.jsonl)" -gt 1000 -a "$(wc -l < tc.jsonl)" -gt 1000
"$CEP" run --checkpoint ck --checkpoint-every 700 --output mk.jsonl chain.cep in.jsonl 2> /dev/null
check "run: checkpoints change nothing" cmp -s mc.jsonl mk.jsonl

echo "compact: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
