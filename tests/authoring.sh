#!/bin/sh
# authoring.sh — the rule author's tools: `cepheus test` on every example's
# test file (and what a broken rule makes it print), the examples of
# docs/testing.md, `cepheus fmt` on every pattern file of the repository,
# and the warnings' golden files (tests/warnings/). Run by `make check`.
: "${top_srcdir:=.}" "${top_builddir:=.}"
SRC=$(cd "$top_srcdir" && pwd) && B=$(cd "$top_builddir" && pwd) || exit 1
CEP="$B/cepheus"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/authoring.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }
# same NAME EXPECTED-FILE ACTUAL-FILE
same() { if diff -u "$2" "$3"; then ok; else ko "$1"; fi; }

# ---- every example's test file passes -----------------------------------
# Each example directory has a test file, beside a pattern file of the same
# name. impossible_travel's rule calls distance_km, a function registered
# from C: its module (built by make) is loaded as a user would.
n=0
for d in $(cd "$SRC" && find examples -name '*.cep' | sed 's|/[^/]*$||' | sort -u); do
    set -- "$SRC/$d"/*.test
    [ -f "$1" ] && ok || ko "$d has no .test file"
done
for t in $(cd "$SRC" && find examples -name '*.test' | sort); do
    n=$((n + 1))
    load=
    case $t in */impossible_travel/*) load="--load $B/examples/fraud/impossible_travel/distance.so" ;; esac
    if "$CEP" test $load "$SRC/${t%.test}.cep" "$SRC/$t" > "$tmp/out" 2>&1; then ok
    else cat "$tmp/out"; ko "cepheus test $t"; fi
done
[ "$n" -ge 9 ] && ok || ko "only $n example test files found"

# ---- breaking a rule makes its test file fail, readably ------------------
# click_to_purchase with `within 10h` instead of `within 10m`: the case on
# the window's end now matches instead of timing out.
mkdir "$tmp/broken" && cp "$SRC/examples/click_to_purchase/click_to_purchase.test" "$tmp/broken/" &&
    sed 's/within 10m/within 10h/' "$SRC/examples/click_to_purchase/click_to_purchase.cep" \
        > "$tmp/broken/click_to_purchase.cep" || exit 1
(cd "$tmp/broken" && "$CEP" test click_to_purchase.cep click_to_purchase.test > out; echo "exit $?" >> out)
cat > "$tmp/expected" <<'EOF'
click_to_purchase.test:20: case ten minutes is too late: the window is half-open
  matches (- expected, + got):
  + click_to_purchase click=1 purchase=2
  timeouts (- expected, + got):
  - click_to_purchase click=1
5 passed, 1 failed
exit 1
EOF
same "a broken within: cepheus test output" "$tmp/expected" "$tmp/broken/out"

# Every example's test file notices a widened window: each `within` made
# 999 days long, its test must fail (exit 1) with a case report.
for t in $(cd "$SRC" && find examples -name '*.test' | sort); do
    c=${t%.test}.cep
    load=
    case $t in */impossible_travel/*) load="--load $B/examples/fraud/impossible_travel/distance.so" ;; esac
    rm -rf "$tmp/wide" && mkdir "$tmp/wide" && cp "$SRC/$t" "$tmp/wide/" &&
        sed -E 's/within ([0-9]+)(ms|s|m|h|d)/within 999\1d/' "$SRC/$c" > "$tmp/wide/${c##*/}" || exit 1
    "$CEP" test $load "$tmp/wide/${c##*/}" "$tmp/wide/${t##*/}" > "$tmp/out" 2>&1
    st=$?
    [ "$st" = 1 ] && grep -q ': case ' "$tmp/out" && ok || { cat "$tmp/out"; ko "a widened window passes $t"; }
done

# ---- the command's own behaviour ------------------------------------------
cd "$tmp" || exit 1
cat > r.cep <<'EOF'
pattern ab
  key k
  begin a where t == "a"
  followedBy b+ where t == "b"
  within 1s
EOF
mkdir sub && printf '%s\n' '{"ts":0,"k":1,"t":"a"}' '{"ts":5,"k":1,"t":"b"}' '' '{"ts":6,"k":1,"t":"b"}' > sub/ev.jsonl
cat > sub/r.test <<'EOF'
options --id-field n
case events from a file, positions as ids
events ev.jsonl
expect
ab a=1 b=2
ab b=2,3 a=1

case a JSON line that is not an event
events
{"ts": 1, "k": 1, "t": "a"}
[1]
expect

case watermarks, and the late event by JSON
options --max-delay 100
events
{"n": "x", "ts": 1000, "k": 2, "t": "a"}
{"$watermark": 2000}
{"n": "y", "ts": 1500, "k": 2, "t": "b"}
expect
expect late
{"t": "b"}
EOF
"$CEP" test r.cep sub/r.test > out 2>&1; echo "exit $?" >> out
cat > expected <<'EOF'
sub/r.test:8: case a JSON line that is not an event
  error: sub/r.test:11: bad event: event is an array, not a JSON object
2 passed, 1 failed
exit 1
EOF
same "cepheus test: file events, errors, watermarks" expected out
"$CEP" test --only "watermarks, and the late event by JSON" --only nope r.cep sub/r.test > out 2>&1
echo "exit $?" >> out
printf '%s\n' "cepheus: no case named 'nope'" "1 passed, 1 failed" "exit 1" > expected
same "cepheus test --only" expected out
printf '%s\n' 'case x' 'events' '{"ts":1}' 'case y' 'expect' 'ab a=' 'options --bogus 1' 'stray' > bad.test
"$CEP" test r.cep bad.test > out 2>&1; echo "exit $?" >> out
cat > expected <<'EOF'
bad.test:7: error: unknown test option '--bogus'
bad.test:8: error: a line outside 'events' or 'expect': 'stray'
bad.test:1: error: case 'x' has no 'expect' section (an empty one expects no match)
exit 2
EOF
same "cepheus test: malformed test file" expected out
w() { "$@" > "$tmp/out" 2>&1; echo "# exit: $?" >> "$tmp/out"; }
# A newcomer's slips: misspelt sections, two cases of one name, an empty
# file, a missing event file, the arguments swapped, --only misspelt, an
# expectation naming a pattern the file lacks or an id no event has.
printf '%s\n' 'cas one' 'case one' 'event' 'events' '{"ts":1,"k":1,"t":"a"}' 'expects' \
    'case one' 'events nothere.jsonl' 'expect' > slips.test
: > empty.test
w "$CEP" test r.cep slips.test
cat > expected <<'EOF'
slips.test:1: error: expected 'case NAME' or 'options', not 'cas one' (did you mean 'case'?)
slips.test:3: error: a line outside 'events' or 'expect': 'event' (did you mean 'events'?)
slips.test:6: error: 'expects' is neither an event (a JSON object) nor a section (did you mean 'expect'?)
slips.test:8: error: cannot read 'nothere.jsonl': No such file or directory
slips.test:2: error: case 'one' has no 'expect' section (an empty one expects no match)
slips.test:7: error: a second case named 'one' (the first is at line 2)
# exit: 2
EOF
same "cepheus test: a newcomer's slips" expected "$tmp/out"
w "$CEP" test r.cep empty.test
printf '%s\n' "empty.test:1: error: no case in the file ('case NAME' starts one)" "# exit: 2" > expected
same "cepheus test: an empty test file" expected "$tmp/out"
w "$CEP" test sub/r.test r.cep
printf '%s\n' "cepheus: test: 'sub/r.test' is a test file; the pattern file comes first: cepheus test PATTERNS.cep TESTS..." \
    "Try 'cepheus --help' for more information." "# exit: 2" > expected
same "cepheus test: arguments swapped" expected "$tmp/out"
w "$CEP" test --only "watermarks and the late event" r.cep sub/r.test
printf '%s\n' "cepheus: no case named 'watermarks and the late event' (did you mean 'watermarks, and the late event by JSON'?)" \
    "0 passed, 1 failed" "# exit: 1" > expected
same "cepheus test: --only misspelt" expected "$tmp/out"
printf '%s\n' 'case names' 'events' '{"id":"a1","ts":1,"k":1,"t":"a"}' '{"id":"b1","ts":2,"k":1,"t":"b"}' \
    'expect' 'abb a=a1 b=b1' 'ab a=a1 b=b2' > names.test
w "$CEP" test r.cep names.test
cat > expected <<'EOF'
names.test:1: case names
  matches (- expected, + got):
  - abb a=a1 b=b1
  - ab a=a1 b=b2
  + ab a=a1 b=b1
  note: names.test:6: the pattern file has no pattern 'abb' (did you mean 'ab'?)
  note: names.test:7: no event of the case has id 'b2'
0 passed, 1 failed
# exit: 1
EOF
same "cepheus test: notes on names no match can have" expected "$tmp/out"

# ---- docs/testing.md: every `<!-- run: CMD -->` and its output block ------
mkdir "$tmp/doc" && cd "$tmp/doc" || exit 1
awk -v dir="$tmp/doc" '
/^<!-- run: .* -->$/ { cmd = $0; sub(/^<!-- run: /, "", cmd); sub(/ -->$/, "", cmd); next }
/^```/ && !inb { inb = 1; split(substr($0, 4), w, " "); out = "";
    if ((w[1] == "cep" || w[1] == "test") && w[2] != "") out = dir "/" w[2]
    if (w[1] == "output" && cmd != "") { k++; out = dir "/expected." k; print cmd > (dir "/cmd." k); close(dir "/cmd." k); cmd = "" }
    next }
/^```/ && inb { inb = 0; if (out != "") close(out); out = ""; next }
inb && out != "" { print > out }
' "$SRC/docs/testing.md"
k=1
while [ -f "cmd.$k" ]; do
    cmd=$(sed 's/^cepheus /"$CEP" /' "cmd.$k")
    eval "$cmd" > "actual.$k" 2>&1
    st=$?
    [ "$st" = 0 ] || echo "# exit: $st" >> "actual.$k"
    same "docs/testing.md: $(cat "cmd.$k")" "expected.$k" "actual.$k"
    k=$((k + 1))
done
[ "$k" -ge 4 ] && ok || ko "docs/testing.md: only $((k - 1)) examples found"

# ---- warnings: one golden file per warning (tests/warnings/NAME.cep) ------
cd "$SRC/tests/warnings" || exit 1
for f in *.cep; do
    "$CEP" check "$f" > "$tmp/out" 2>&1
    echo "# exit: $?" >> "$tmp/out"
    same "warnings of $f" "${f%.cep}.expected" "$tmp/out"
done
# -W options: off, into errors (all or one), none; and the start of run.
w() { "$@" > "$tmp/out" 2>&1; echo "# exit: $?" >> "$tmp/out"; }
w "$CEP" check -Wno-never-true -Wno-skip-target skip_target.cep
printf '# exit: 0\n' > "$tmp/expected"
same "check -Wno-NAME" "$tmp/expected" "$tmp/out"
w "$CEP" check -Werror keyless.cep
{ sed -n '1s/: warning: /: error: /p;2,3p' keyless.expected; echo "# exit: 1"; } > "$tmp/expected"
same "check -Werror" "$tmp/expected" "$tmp/out"
w "$CEP" check -Wnone -Werror=skip-target skip_target.cep
{ sed -n '4s/: warning: /: error: /p;5,6p' skip_target.expected; echo "# exit: 1"; } > "$tmp/expected"
same "check -Wnone -Werror=NAME" "$tmp/expected" "$tmp/out"
# The regex warning's subject is what the engine gives up on: a run of it
# counts a regex error, and the event does not match.
printf 'pattern p\n  key k\n  begin a where s =~ /^id:(\\d+)*[a-z]$/\n  within 1m\n' > "$tmp/rx.cep"
"$CEP" check "$tmp/rx.cep" 2>&1 | grep -q 'subject "id:" + "0" x 32 + "!" PCRE2 gives up' && ok || ko "regex warning's subject"
printf '{"ts":0,"k":1,"s":"id:%s!"}\n{"ts":1,"k":1,"s":"id:1x"}\n' 00000000000000000000000000000000 |
    "$CEP" run -s -Wnone "$tmp/rx.cep" > "$tmp/out" 2> "$tmp/err"
[ "$(grep -c '"pattern":"p"' "$tmp/out")" = 1 ] && grep -q '^regex errors: 1$' "$tmp/err" && ok ||
    { cat "$tmp/out" "$tmp/err"; ko "the regex warning's subject at run time"; }

# The file is read once: a pipe works (warnings come from the same text).
w "$CEP" check /dev/stdin < keyless.cep
sed 's|^keyless.cep:|/dev/stdin:|' keyless.expected > "$tmp/expected"
same "check reads a pipe once" "$tmp/expected" "$tmp/out"
w "$CEP" check -Wbogus keyless.cep
head -1 "$tmp/out" | grep -q "^cepheus: unknown warning option '-Wbogus'" && tail -1 "$tmp/out" | grep -q '^# exit: 2$' &&
    ok || ko "check -Wbogus"
echo '{"ts":1,"type":"a"}' > "$tmp/ev.jsonl"
w "$CEP" run keyless.cep "$tmp/ev.jsonl"
sed '$d' keyless.expected > "$tmp/expected"; echo "# exit: 0" >> "$tmp/expected"
same "run: warnings at the start" "$tmp/expected" "$tmp/out"
w "$CEP" run -Werror keyless.cep "$tmp/ev.jsonl"
tail -1 "$tmp/out" | grep -q '^# exit: 1$' && ok || ko "run -Werror"
# --state-ttl bounds what -Wunbounded warns about; --max-partial-matches
# what -Wcombinations warns about.
w "$CEP" run --quiet --state-ttl 1000 --max-partial-matches 10 combinations.cep "$tmp/ev.jsonl"
printf '# exit: 0\n' > "$tmp/expected"
same "run: warnings its options make moot" "$tmp/expected" "$tmp/out"

# ---- fmt: the canonical layout (tests/fmt/messy.cep) ----------------------
cd "$SRC/tests/fmt" || exit 1
"$CEP" fmt messy.cep > "$tmp/out" 2>&1 || ko "fmt messy.cep failed"
same "fmt messy.cep" messy.expected "$tmp/out"
"$CEP" fmt --check messy.expected > "$tmp/out" 2>&1 && [ ! -s "$tmp/out" ] && ok || ko "fmt --check on a formatted file"
w "$CEP" fmt --check messy.cep messy.expected
printf '%s\n' "messy.cep: not formatted (run cepheus fmt -w)" "# exit: 1" > "$tmp/expected"
same "fmt --check on a file that is not formatted" "$tmp/expected" "$tmp/out"
cp messy.cep "$tmp/w.cep" && "$CEP" fmt -w "$tmp/w.cep" && cmp -s "$tmp/w.cep" messy.expected && ok ||
    ko "fmt -w"
printf 'pattern p begin a where (\n' > "$tmp/bad.cep"
w "$CEP" fmt "$tmp/bad.cep"
tail -1 "$tmp/out" | grep -q '^# exit: 1$' && grep -q 'error: syntax error' "$tmp/out" && ok || ko "fmt on a syntax error"

# Every pattern file of the repository: fmt(fmt(x)) == fmt(x), comments
# kept in order, and the same program (explain) or the same errors.
cd "$SRC" || exit 1
n=0
for f in $(find . -name '*.cep' -not -path './build*' -not -path './*-build/*' | sort); do
    if ! "$CEP" fmt "$f" > "$tmp/f1.cep" 2> "$tmp/err"; then
        # Only files that do not parse may be refused.
        if "$CEP" check "$f" 2>&1 | grep -q 'error: syntax error\|error: unterminated\|error: unexpected'; then ok
        else cat "$tmp/err"; ko "fmt refused $f"; fi
        continue
    fi
    n=$((n + 1))
    "$CEP" fmt "$tmp/f1.cep" > "$tmp/f2.cep" 2>&1
    same "fmt is idempotent on $f" "$tmp/f1.cep" "$tmp/f2.cep"
    grep -o '#.*' "$f" | sed 's/[[:space:]]*$//' > "$tmp/c0"
    grep -o '#.*' "$tmp/f1.cep" > "$tmp/c1"
    same "fmt keeps the comments of $f" "$tmp/c0" "$tmp/c1"
    if "$CEP" explain "$f" > "$tmp/e0" 2>/dev/null; then
        "$CEP" explain "$tmp/f1.cep" > "$tmp/e1" 2>&1
        same "fmt keeps the program of $f" "$tmp/e0" "$tmp/e1"
    else
        "$CEP" check "$f" 2>&1 | sed -n 's/^[^ ]*:[0-9]*:[0-9]*: error: //p' > "$tmp/e0"
        "$CEP" check "$tmp/f1.cep" 2>&1 | sed -n 's/^[^ ]*:[0-9]*:[0-9]*: error: //p' > "$tmp/e1"
        same "fmt keeps the errors of $f" "$tmp/e0" "$tmp/e1"
    fi
done
[ "$n" -ge 20 ] && ok || ko "fmt: only $n pattern files formatted"
# The examples are in the canonical layout: a user who copies one and runs
# fmt --check in CI starts from a formatted file.
"$CEP" fmt --check $(find examples -name '*.cep' | sort) > "$tmp/out" 2>&1 && ok ||
    { cat "$tmp/out"; ko "fmt --check on the examples"; }

# ---- --load: functions registered from C (docs/testing.md) -----------------
mod="$B/examples/fraud/impossible_travel/distance.so"
it="$SRC/examples/fraud/impossible_travel/impossible_travel.cep"
"$CEP" check -v --load "$mod" "$it" > "$tmp/out" 2>&1
printf '%s: ok\n' "$it" > "$tmp/expected"
same "check --load" "$tmp/expected" "$tmp/out"
"$CEP" explain --load "$mod" "$it" > /dev/null 2>&1 && ok || ko "explain --load"
printf '%s\n' '{"ts":0,"account":"a","type":"login","city":"London","lat":51.5074,"lon":-0.1278}' \
    '{"ts":600000,"account":"a","type":"login","city":"New York","lat":40.7128,"lon":-74.0060}' |
    "$CEP" run -q --load "$mod" "$it" > "$tmp/out" 2>&1
grep -q '"from":"London","to":"New York",.*"minutes":10,' "$tmp/out" && [ "$(wc -l < "$tmp/out")" = 1 ] && ok ||
    { cat "$tmp/out"; ko "run --load"; }
# Without the module: the unknown function, exit 1.
"$CEP" check "$it" > "$tmp/out" 2>&1
[ $? = 1 ] && grep -q "error: unknown function 'distance_km'" "$tmp/out" &&
    [ "$(tail -n 1 "$tmp/out")" = "note: a function registered from C is loaded into the tool with --load MODULE (docs/testing.md)" ] &&
    [ "$(grep -c '^note:' "$tmp/out")" = 1 ] && ok || { cat "$tmp/out"; ko "check without --load"; }
# A module that is not there, or that has no cep_plugin_register: exit 2.
"$CEP" test --load "$tmp/none.so" "$it" x.test > "$tmp/out" 2>&1
[ $? = 2 ] && grep -q "^cepheus: cannot load '$tmp/none.so': " "$tmp/out" && ok || { cat "$tmp/out"; ko "--load of a missing file"; }
lib=$(find "$B/.libs" -name 'libcepheus.so*' | head -n 1)
"$CEP" check --load "$lib" "$it" > "$tmp/out" 2>&1
[ $? = 2 ] && ok || ko "--load of a library that is no module: exit status"
printf "cepheus: cannot load '%s': it has no function cep_plugin_register\n" "$lib" > "$tmp/expected"
same "--load of a library that is no module" "$tmp/expected" "$tmp/out"

echo "authoring: $pass passed, $fail failed"
[ "$fail" = 0 ]
