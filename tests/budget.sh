#!/bin/sh
# budget.sh — `cepheus run --max-memory` bounds the process, measured as
# peak RSS (issue 22, findings 6 and 8):
#   buffer   --max-delay far beyond the stream: every event would wait in
#            the out-of-order buffer (438 MB at 10M before); under the
#            budget the buffer runs early, every match is still found
#   fanout   followedByAny b+ allowCombinations over 1 a and 200 b: each b
#            more than doubles the partial matches (18.7 MB at 2M before,
#            checked only after each event)
#   shift    the events' size moves to another block size halfway: the
#            blocks of the first size must serve the second (28.1 MB at 8M
#            before, when they stayed idle with the first size; now 21.0)
# The limit is the RSS of the same run without the buffer or the fan-out
# (the same input in order with no delay; one event), plus the budget and
# its allowed eighth, plus 2 MiB for the allocator. RSS is not checked in a
# sanitizer build (ASan keeps freed memory in quarantine), the rest is.
# Prints `budget: N passed, M failed`.
: "${top_srcdir:=.}" "${top_builddir:=.}"
CEP="$(cd "$top_builddir" && pwd)/cepheus"
[ -x "$CEP" ] || { echo "budget.sh: $CEP is not built; skipping"; exit 77; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-budget.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
passed=0
failed=0
measure_rss=yes
[ -x /usr/bin/time ] || { measure_rss=no; echo "budget: /usr/bin/time missing (apt-get install time): RSS not measured"; }
grep -q '^SAN_CFLAGS = -fsanitize' "$top_builddir/Makefile" 2>/dev/null && measure_rss=no

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $1: $2"; }

# run NAME ARGS...: cepheus run ARGS with a 60 s limit; sets st and kb.
run() {
    name=$1
    shift
    if [ $measure_rss = yes ]; then
        /usr/bin/time -f '%M' -o "$TMP/rss" timeout 60 "$CEP" run "$@" > "$TMP/out" 2> "$TMP/err"
        st=$?
        kb=$(tail -n 1 "$TMP/rss")
    else
        timeout 60 "$CEP" run "$@" > "$TMP/out" 2> "$TMP/err"
        st=$?
        kb=0
    fi
}
stat_of() { sed -n "s/^$1: //p" "$TMP/err"; }

cat > "$TMP/next.cep" <<'P'
pattern p
  key k
  begin a where t == "a"
  next b where t == "b"
P
cat > "$TMP/fan.cep" <<'P'
pattern p
  begin a where t == "a"
  followedByAny b+ where t == "b" allowCombinations
  followedBy c where t == "c"
P
echo '{"ts":1,"t":"x","k":1}' > "$TMP/one.jsonl"
awk 'BEGIN { s = "xxxxxxxx"; l = s; for (j = 0; j < 4; j++) l = l l; for (i = 0; i < 200000; i++)
    printf "{\"ts\":%d,\"k\":%d,\"t\":\"%s\",\"pad\":\"%s\"}\n", i, i % 1001, (i % 2) ? "b" : "a", i < 100000 ? s : l }' \
    > "$TMP/shift.jsonl"
awk 'BEGIN { for (i = 0; i < 200000; i++)
    printf "{\"ts\":%d,\"k\":%d,\"t\":\"%s\",\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}\n", i, i % 1001, (i % 2) ? "b" : "a" }' \
    > "$TMP/inorder.jsonl"
awk 'BEGIN { print "{\"ts\":0,\"t\":\"a\"}"; for (i = 1; i <= 200; i++) printf "{\"ts\":%d,\"t\":\"b\"}\n", i }' \
    > "$TMP/fan.jsonl"

# within NAME BASE_KB BUDGET_KB: the peak RSS is within the bound.
within() {
    [ $measure_rss = yes ] || return 0
    limit=$(($2 + $3 + $3 / 8 + 2048))
    echo "budget: $1: peak RSS ${kb} KiB (without: $2 KiB, limit ${limit} KiB)"
    [ "$kb" -le "$limit" ]
}

run "one event" "$TMP/fan.cep" "$TMP/one.jsonl"
one=$kb
run "no delay" --stats "$TMP/next.cep" "$TMP/inorder.jsonl"
nodelay=$kb
matches=$(stat_of matches)

run "buffer" --stats --max-delay 1000000000 --max-memory 4M "$TMP/next.cep" "$TMP/inorder.jsonl"
if [ $st = 0 ] && within buffer $nodelay 4096 && [ "$(stat_of matches)" = "$matches" ] &&
   [ "$(stat_of 'dropped for memory')" = 0 ] && [ "$(stat_of 'late events')" = 0 ] &&
   [ "$(stat_of 'buffered events run early for memory')" -gt 150000 ]; then ok
else bad "buffer, --max-memory 4M" "exit $st, ${kb} KiB, matches $(stat_of matches) of $matches, $(grep memory "$TMP/err" | tr '\n' ' ')"; fi

run "shift, no delay" --stats "$TMP/next.cep" "$TMP/shift.jsonl"
shift_nodelay=$kb
matches=$(stat_of matches)
run "shift" --stats --max-delay 1000000000 --max-memory 8M "$TMP/next.cep" "$TMP/shift.jsonl"
if [ $st = 0 ] && within shift $shift_nodelay 8192 && [ "$(stat_of matches)" = "$matches" ] &&
   [ "$(stat_of 'dropped for memory')" = 0 ]; then ok
else bad "shift, --max-memory 8M" "exit $st, ${kb} KiB, matches $(stat_of matches) of $matches"; fi

# --on-limit fail: the first push over the budget stops the run (exit 6).
run "buffer, fail" --max-delay 1000000000 --max-memory 1M --on-limit fail "$TMP/next.cep" "$TMP/inorder.jsonl"
if [ $st = 6 ] && grep -q "inorder.jsonl:[0-9]*: the engine's state reached its memory limit of 1048576 bytes" "$TMP/err"; then ok
else bad "buffer, --on-limit fail" "exit $st, $(cat "$TMP/err")"; fi

run "fanout" --stats --max-memory 2M "$TMP/fan.cep" "$TMP/fan.jsonl"
if [ $st = 0 ] && within fanout $one 2048 && [ "$(stat_of 'dropped for memory')" -gt 0 ]; then ok
else bad "fanout, --max-memory 2M" "exit $st, ${kb} KiB, $(grep memory "$TMP/err" | tr '\n' ' ')"; fi

echo "budget: $passed passed, $failed failed"
[ $failed = 0 ]
