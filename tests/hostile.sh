#!/bin/sh
# hostile.sh — the hostile-input matrix of docs/errors.md, row by row,
# through `cepheus run` / `cepheus check` (make check). For each row: the
# exit status, the message, what --strict does and, for rejected lines, the
# --errors record. Prints `hostile: N passed, M failed`.
: "${top_srcdir:=.}" "${top_builddir:=.}"
CEP="$(cd "$top_builddir" && pwd)/cepheus"
[ -x "$CEP" ] || { echo "hostile.sh: $CEP is not built; skipping"; exit 77; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-hostile.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
cd "$TMP" || exit 1
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL: $1: $2"
    [ -s err ] && sed 's/^/  stderr: /' err | head -n 5
}

# A keyed pattern reading t, n and k; matches an "a" then a "b" of one key.
cat > p.cep <<'P'
pattern p
  key k
  begin a where t == "a"
  followedBy b where t == "b"
P

# reject NAME LINE REASON: LINE alone is skipped and counted (exit 0, the
# reason on stderr, one --errors record), and stops --strict with exit 3.
reject() {
    name=$1
    printf '%s\n' "$2" > in.jsonl
    "$CEP" run --stats --errors errs.jsonl p.cep in.jsonl > out 2> err
    st=$?
    if [ $st != 0 ]; then bad "$name" "exit $st, expected 0"; return; fi
    if ! grep -q "^in.jsonl:1: error: $3" err; then bad "$name" "no 'in.jsonl:1: error: $3'"; return; fi
    if ! grep -q '^malformed lines: 1$' err; then bad "$name" "not counted as malformed"; return; fi
    if ! grep -q "^{\"file\":\"in.jsonl\",\"line\":1,\"reason\":\"$3" errs.jsonl; then
        bad "$name" "no --errors record: $(head -c 300 errs.jsonl)"; return; fi
    "$CEP" run --strict p.cep in.jsonl > out 2> err
    st=$?
    if [ $st != 3 ]; then bad "$name" "--strict: exit $st, expected 3"; return; fi
    ok
}

# accept NAME EXPECTED-MATCH-COUNT LINES...: every line is taken (exit 0
# under --strict too) and the matches are counted.
accept() {
    name=$1
    want=$2
    shift 2
    printf '%s\n' "$@" > in.jsonl
    "$CEP" run --strict --stats p.cep in.jsonl > out 2> err
    st=$?
    if [ $st != 0 ]; then bad "$name" "exit $st, expected 0"; return; fi
    if ! grep -q '^malformed lines: 0$' err; then bad "$name" "a line was rejected"; return; fi
    got=$(wc -l < out)
    if [ "$got" != "$want" ]; then bad "$name" "$got matches, expected $want: $(cat out)"; return; fi
    ok
}

# ---- events ---------------------------------------------------------------
reject "not JSON" 'hello world' 'invalid JSON: lexical error'
reject "truncated line" '{"ts":1,"t":"a"' 'invalid JSON: parse error: premature EOF'
reject "not an object" '[1,2]' 'event is an array, not a JSON object'
reject "NaN" '{"ts":1,"n":NaN}' 'invalid JSON: lexical error'
reject "Infinity" '{"ts":1,"n":Infinity}' 'invalid JSON: lexical error'
reject "missing time" '{"t":"a"}' "missing time field 'ts'"
reject "time is text" '{"ts":"yesterday"}' "time field 'ts' is not integer milliseconds"
reject "time is bool" '{"ts":true}' "time field 'ts' is not integer milliseconds"
reject "time has a fraction" '{"ts":1.5}' "time field 'ts' is not integer milliseconds"
reject "time beyond int64" '{"ts":1e300}' "time field 'ts' is not integer milliseconds"
reject "time is an object" '{"ts":{"ms":1}}' "time field 'ts' is not integer milliseconds"
reject "time without a zone" '{"ts":"2024-01-01T00:00:00.123456"}' "time field 'ts' is not integer milliseconds or an RFC 3339 string (it has no zone: add Z or +HH:MM)"
reject "time with +0100" '{"ts":"2024-01-01T00:00:00+0100"}' "time field 'ts' is not integer milliseconds or an RFC 3339 string (its zone needs a colon: +HH:MM)"
reject "nesting deeper than 64" "{\"ts\":1,\"x\":$(printf '%0.s[' $(seq 70))$(printf '%0.s]' $(seq 70))}" \
    'JSON nesting deeper than 64 levels'
reject "number beyond double, read field" '{"ts":1,"t":1e400}' "number out of range in field 't'"

# NUL bytes and invalid UTF-8 need printf escapes.
nul_row() {
    name=$1
    printf "$2" > in.jsonl
    "$CEP" run --errors errs.jsonl p.cep in.jsonl > out 2> err
    st=$?
    if [ $st != 0 ] || ! grep -q "in.jsonl:1: error: invalid JSON: $3" err; then
        bad "$name" "exit $st"; return; fi
    # The record shows the bytes: NUL as \u0000, bad UTF-8 as U+FFFD.
    if ! grep -q "$4" errs.jsonl; then bad "$name" "--errors text: $(cat errs.jsonl)"; return; fi
    "$CEP" run --strict p.cep in.jsonl > /dev/null 2>&1
    st=$?
    [ $st = 3 ] || { bad "$name" "--strict: exit $st"; return; }
    ok
}
nul_row "NUL inside a string" '{"ts":1,"t":"a\000b"}\n' 'lexical error: invalid character inside string' '\\u0000'
nul_row "NUL after the object" '{"ts":1,"t":"a"}\000\n' 'parse error: trailing garbage' '\\u0000'
nul_row "invalid UTF-8 in a value" '{"ts":1,"t":"\377\376"}\n' 'lexical error: invalid bytes in UTF8 string' "$(printf '\357\277\275')"
nul_row "invalid UTF-8 in a key" '{"ts":1,"\377":1}\n' 'lexical error: invalid bytes in UTF8 string' "$(printf '\357\277\275')"
# Strict UTF-8 (issue 22): overlong, an encoded surrogate (CESU-8), past
# U+10FFFF; and surrogate escapes that are not a high-low pair.
nul_row "overlong UTF-8 (C0 80)" '{"ts":1,"t":"\300\200"}\n' 'lexical error: invalid bytes in UTF8 string' "$(printf '\357\277\275')"
nul_row "encoded surrogate (ED A0 80)" '{"ts":1,"t":"\355\240\200"}\n' 'lexical error: invalid bytes in UTF8 string' "$(printf '\357\277\275')"
nul_row "past U+10FFFF (F7 BF BF BF) in a key" '{"ts":1,"\367\277\277\277":1}\n' 'lexical error: invalid bytes in UTF8 string' "$(printf '\357\277\275')"
nul_row "surrogate escapes not a pair" '{"ts":1,"t":"\\ud800\\u0041"}\n' 'lexical error: unpaired surrogate in a \\u escape' 'ud800'
nul_row "lone low surrogate escape" '{"ts":1,"t":"\\udc00"}\n' 'lexical error: unpaired surrogate in a \\u escape' 'udc00'

accept "duplicate keys: the last value wins" 1 '{"ts":1,"k":1,"t":"b","t":"a"}' '{"ts":2,"k":1,"t":"a","t":"b"}'
accept "duplicate time field: the last wins" 1 '{"ts":9,"ts":1,"k":1,"t":"a"}' '{"ts":2,"k":1,"t":"b"}'
accept "nesting up to 64 reads as null" 1 \
    "{\"ts\":1,\"k\":1,\"t\":\"a\",\"x\":$(printf '%0.s[' $(seq 60))$(printf '%0.s]' $(seq 60))}" '{"ts":2,"k":1,"t":"b"}'
accept "integer beyond int64 is a double" 1 '{"ts":1,"k":99999999999999999999,"t":"a"}' '{"ts":2,"k":1e20,"t":"b"}'
accept "number beyond double, unread field" 1 '{"ts":1,"k":1,"t":"a","z":1e400}' '{"ts":2,"k":1,"t":"b"}'
accept "integral double time" 1 '{"ts":1.0,"k":1,"t":"a"}' '{"ts":2e0,"k":1,"t":"b"}'
accept "time at int64 min" 1 '{"ts":-9223372036854775808,"k":1,"t":"a"}' '{"ts":-9223372036854775807,"k":1,"t":"b"}'
accept "time near int64 max" 1 '{"ts":9223372036854775806,"k":1,"t":"a"}' '{"ts":9223372036854775807,"k":1,"t":"b"}'
accept "RFC 3339 year 1 and 9999" 1 '{"ts":"0001-01-01T00:00:00Z","k":1,"t":"a"}' '{"ts":"9999-12-31T23:59:59.999Z","k":1,"t":"b"}'
accept "key missing: the null key" 1 '{"ts":1,"t":"a"}' '{"ts":2,"t":"b"}'
accept "key of another type: another key" 0 '{"ts":1,"k":1,"t":"a"}' '{"ts":2,"k":"1","t":"b"}'
accept "key object or array: the null key" 1 '{"ts":1,"k":{"x":1},"t":"a"}' '{"ts":2,"k":[1],"t":"b"}'
accept "CRLF line ends" 1 "$(printf '{"ts":1,"k":1,"t":"a"}\r')" "$(printf '{"ts":2,"k":1,"t":"b"}\r')"
accept "byte order mark opening the file" 1 "$(printf '\357\273\277{"ts":1,"k":1,"t":"a"}\r')" "$(printf '{"ts":2,"k":1,"t":"b"}\r')"
reject "byte order mark inside the file" "$(printf '\357\273\277\357\273\277{"ts":1}')" 'invalid JSON: lexical error'

# A time far in the future moves the watermark: what follows is late.
printf '%s\n' '{"ts":1,"k":1,"t":"a"}' '{"ts":9000000000000000,"k":2,"t":"x"}' '{"ts":2,"k":1,"t":"b"}' > in.jsonl
"$CEP" run --strict --stats --late late.jsonl p.cep in.jsonl > out 2> err
if [ $? = 0 ] && [ ! -s out ] && grep -q '^late events: 1$' err && grep -q '"ts":2' late.jsonl; then ok
else bad "time far in the future" "expected one late event and no match"; fi

# A last line without a newline is read like any other.
printf '{"ts":1,"k":1,"t":"a"}\n{"ts":2,"k":1,"t":"b"}' > in.jsonl
"$CEP" run --strict p.cep in.jsonl > out 2> err
if [ $? = 0 ] && [ "$(wc -l < out)" = 1 ]; then ok; else bad "no final newline" "$(cat out)"; fi

# Lines about the reader's 64 KiB block (cli/linereader.h): each pair
# a/b of one key matches, whatever line crosses or fills a block, CRLF
# ends, the last line without a newline; from a file and a pipe.
edge() { # edge PAD CR TS: a pair of lines of key TS, a's ~PAD bytes long
    printf '{"ts":%d,"k":%d,"t":"a","pad":"%s"}%s\n{"ts":%d,"k":%d,"t":"b"}%s\n' "$3" "$3" \
        "$(head -c "$1" /dev/zero | tr '\0' x)" "$2" "$3" "$3" "$2"
}
{ ts=0
  for pad in 65490 65491 65492 65493 65494 65495 65496 65497 65498 65502 65504 65505 65506 131030 131031 200000; do
      ts=$((ts + 1)); edge $pad '' $ts; ts=$((ts + 1)); edge $((pad + 3)) "$(printf '\r')" $ts; done
  printf '{"ts":99,"k":0,"t":"a","pad":"%s"}\n{"ts":99,"k":0,"t":"b"}' "$(head -c 70000 /dev/zero | tr '\0' x)"
} > edge.jsonl
"$CEP" run --strict p.cep edge.jsonl > out 2> err
n1=$(wc -l < out)
cat edge.jsonl | "$CEP" run --strict p.cep > out 2> err
n2=$(wc -l < out)
"$CEP" run --stats --max-line-bytes 65536 p.cep edge.jsonl > out 2> err
long=$(awk 'length($0) > 65536 { n++ } END { print n }' edge.jsonl) # (a CR counts)
first=$(awk 'length($0) > 65536 { print NR; exit }' edge.jsonl)
said=$(sed -n 's/^malformed lines: //p' err)
[ "$n1" = 33 ] && [ "$n2" = 33 ] && [ "$said" = "$long" ] &&
    grep -q "^edge.jsonl:$first: error: line longer than 65536 bytes" err && ok ||
    bad "lines about the 64 KiB block" "file $n1, pipe $n2 matches; too long: $said, not $long"

# A 100 MB line: with --max-line-bytes it is rejected without being held
# (RSS stays small); without, a valid one is parsed like any other.
big() { # big FILE: {"ts":1,"k":1,"t":"a","pad":"xxx...100 MB"}
    { printf '{"ts":1,"k":1,"t":"a","pad":"'; head -c 100000000 /dev/zero | tr '\0' x; printf '"}\n'
      printf '{"ts":2,"k":1,"t":"b"}\n'; } > "$1"
}
big big.jsonl
rss() { # rss CMD...: runs it, sets st and kb (peak RSS in KiB, 0 if unknown)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M' -o rss.txt "$@" > out 2> err
        st=$?
        kb=$(tail -n 1 rss.txt)
    else
        "$@" > out 2> err
        st=$?
        kb=0
    fi
}
rss "$CEP" run --stats --max-line-bytes 1048576 --errors errs.jsonl p.cep big.jsonl
if [ $st = 0 ] && grep -q 'big.jsonl:1: error: line longer than 1048576 bytes' err &&
   grep -q '"truncated":true' errs.jsonl && [ "$(wc -c < errs.jsonl)" -lt 2000 ] &&
   [ "$kb" -lt 65536 ] && [ ! -s out ]; then ok
else bad "100 MB line, --max-line-bytes 1 MiB" "exit $st, ${kb} KiB"; fi
rss "$CEP" run --strict --max-line-bytes 1048576 p.cep big.jsonl
[ $st = 3 ] && ok || bad "100 MB line, --max-line-bytes, --strict" "exit $st"
if [ "${CEP_VALGRIND:-0}" = 0 ]; then
    rss "$CEP" run --strict p.cep big.jsonl
    [ $st = 0 ] && [ "$(wc -l < out)" = 1 ] && ok || bad "100 MB line, no limit" "exit $st"
fi
rm -f big.jsonl
"$CEP" run --max-line-bytes x p.cep /dev/null > out 2> err
[ $? = 2 ] && grep -q "invalid --max-line-bytes 'x'" err && ok || bad "--max-line-bytes x" "not a usage error"

# ---- patterns --------------------------------------------------------------
# check_pattern NAME EXIT MESSAGE-REGEX: `cepheus check pat.cep` within 10 s.
check_pattern() {
    start=$(date +%s)
    "$CEP" check pat.cep > out 2> err
    st=$?
    secs=$(( $(date +%s) - start ))
    if [ $st != "$2" ]; then bad "$1" "exit $st, expected $2"; return; fi
    if [ -n "$3" ] && ! grep -q "$3" err; then bad "$1" "no '$3'"; return; fi
    if [ $secs -gt 10 ]; then bad "$1" "took ${secs}s"; return; fi
    ok
}
awk 'BEGIN { printf "pattern p begin "; for (i = 0; i < 5000; i++) printf "("; printf "a"; for (i = 0; i < 5000; i++) printf ")"; print "" }' > pat.cep
check_pattern "5000 nested groups" 1 'error: nesting too deep'
awk 'BEGIN { printf "pattern p begin a where "; for (i = 0; i < 5000; i++) printf "("; printf "x"; for (i = 0; i < 5000; i++) printf ")"; print " == 1" }' > pat.cep
check_pattern "5000 nested parentheses" 1 'error: nesting too deep'
awk 'BEGIN { printf "pattern p begin a where "; for (i = 0; i < 100000; i++) printf "not "; print "x == 1" }' > pat.cep
check_pattern "100000 nots" 1 'error: nesting too deep'
printf 'pattern p\n  begin a{0,1000000000} where x == 1\n  next b\n' > pat.cep
check_pattern "quantifier {0,1000000000}" 1 'quantifier bounds above 10000 are not supported'
printf 'pattern p\n  begin a{10000} where x == 1\n  next b{10000}\n' > pat.cep
check_pattern "20000 NFA states" 1 'needs more than 10000 NFA states'
awk 'BEGIN { print "pattern p begin s0 where x == 0"; for (i = 1; i < 5000; i++) printf " followedBy s%d where x == %d\n", i, i }' > pat.cep
check_pattern "5000 steps" 0 ''
# Names are hashed: near 2 MiB of distinct pattern names, step names or
# fields take a second or two of CPU, under ASan too (a scan per name took
# 12, 33 and 51 s). CPU time, not the wall clock: a loaded machine.
check_pattern_cpu() {
    if [ ! -x /usr/bin/time ]; then check_pattern "$@"; return; fi
    /usr/bin/time -f '%U %S' -o cpu.txt "$CEP" check pat.cep > out 2> err
    st=$?
    secs=$(awk '{ printf "%d", $1 + $2 }' cpu.txt)
    if [ $st != "$2" ]; then bad "$1" "exit $st, expected $2"; return; fi
    if [ -n "$3" ] && ! grep -q "$3" err; then bad "$1" "no '$3'"; return; fi
    if [ "$secs" -gt 10 ]; then bad "$1" "took ${secs}s of CPU"; return; fi
    ok
}
awk 'BEGIN { for (i = 0; i < 40000; i++) printf "pattern p%d key k begin a where x == 1 within 1m\n", i }' > pat.cep
check_pattern_cpu "40000 patterns" 0 ''
awk 'BEGIN { print "pattern p begin s0 where x == 0"; for (i = 1; i < 80000; i++) printf " next s%d where x == 1\n", i }' > pat.cep
check_pattern_cpu "80000 step names" 1 'needs more than 10000 NFA states'
awk 'BEGIN { print "pattern p begin s0 where x == 0"; for (i = 1; i < 65000; i++) printf " next s%d where g%d == 1\n", i, i }' > pat.cep
check_pattern_cpu "65000 fields" 1 'needs more than 10000 NFA states'
awk 'BEGIN { for (i = 0; i < 160000; i++) print "# filler line"; print "pattern p begin a" }' > pat.cep
check_pattern "pattern text over 2 MiB" 1 'pattern text is more than 2097152 bytes; the limit is 2097152'

# A catastrophic regex stops at PCRE2's limits: no match, counted, no hang.
printf 'pattern p\n  begin a where s =~ /^(a+)+$/\n' > pat.cep
{ printf '{"ts":1,"s":"'; head -c 30 /dev/zero | tr '\0' a; printf 'b"}\n'; } > in.jsonl
start=$(date +%s)
"$CEP" run --stats --strict pat.cep in.jsonl > out 2> err
st=$?
if [ $st = 0 ] && [ ! -s out ] && grep -q '^regex errors: [1-9]' err && [ $(( $(date +%s) - start )) -le 10 ]; then ok
else bad "catastrophic regex" "exit $st: $(grep regex err)"; fi

# followedByAny + `+` fans out exponentially: bounded by the limit.
printf 'pattern p\n  begin a where t == "a"\n  followedByAny b+ where t == "b" allowCombinations\n  followedBy c where t == "c"\n  skip noSkip\n' > pat.cep
awk 'BEGIN { print "{\"ts\":0,\"t\":\"a\"}"; for (i = 1; i <= 30; i++) printf "{\"ts\":%d,\"t\":\"b\"}\n", i }' > in.jsonl
"$CEP" run --stats --max-partial-matches 1000 pat.cep in.jsonl > out 2> err
st=$?
if [ $st = 0 ] && grep -q '^peak partial matches: 1000$' err && grep -q '^dropped partial matches: [1-9]' err; then ok
else bad "followedByAny fan-out, drop" "exit $st: $(grep partial err)"; fi
"$CEP" run --max-partial-matches 1000 --on-limit fail pat.cep in.jsonl > out 2> err
st=$?
[ $st = 6 ] && ok || bad "followedByAny fan-out, fail" "exit $st, expected 6"

echo "hostile: $passed passed, $failed failed"
[ $failed = 0 ]
