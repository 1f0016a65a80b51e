#!/bin/sh
# outputs.sh — where `cepheus run` writes and when it is told things: an
# output that is an input or another output is refused before anything is
# opened; a closed standard output is exit 4 with one message; a failed
# output is reported once; --checkpoint makes its directory at start-up;
# strict {"$watermark": N} integers; SIGHUP during the first compile, and
# a reload while processing-time input is idle (issue 22); --output-form
# positions (issue 23). make check.
: "${top_srcdir:=.}" "${top_builddir:=.}"
CEP="$(cd "$top_builddir" && pwd)/cepheus"
FIX="$(cd "$top_srcdir/tests/cli" && pwd)"
[ -x "$CEP" ] || { echo "outputs.sh: $CEP is not built; skipping"; exit 77; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-outputs.XXXXXX") || exit 1
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
TRY="Try 'cepheus --help' for more information."
cp "$FIX/good.cep" "$FIX/events.jsonl" .
MATCH='{"pattern":"p","key":"u1","start":1,"end":3,"events":{"a":[{"ts":1,"user":"u1","type":"a"}],"b":[{"ts":3,"user":"u1","type":"b"}]}}'

# check NAME STATUS STDERR: the last run's exit status and whole stderr.
check() {
    if [ "$st" != "$2" ]; then bad "$1" "exit $st, expected $2"
    elif [ "$(cat err)" != "$3" ]; then bad "$1" "stderr: expected '$3'"
    else ok; fi
}

# ---- an output that is an input or another output (exit 2) ----------------------
cp events.jsonl in.jsonl
"$CEP" run --output in.jsonl good.cep in.jsonl > /dev/null 2> err; st=$?
check "--output is the input" 2 "cepheus: --output 'in.jsonl' is also the input 'in.jsonl': an output must not be one of the inputs
$TRY"
if cmp -s in.jsonl events.jsonl; then ok; else bad "--output is the input: input kept" "in.jsonl changed"; fi
"$CEP" run --late ./in.jsonl good.cep events.jsonl "$TMP/in.jsonl" > /dev/null 2> err; st=$?
check "--late is an input by another path" 2 "cepheus: --late './in.jsonl' is also the input '$TMP/in.jsonl': an output must not be one of the inputs
$TRY"
"$CEP" run --errors good.cep good.cep events.jsonl > /dev/null 2> err; st=$?
check "--errors is the pattern file" 2 "cepheus: --errors 'good.cep' is also the pattern file 'good.cep': an output must not be one of the inputs
$TRY"
cp "$FIX/good.cep" . # (before the check, it was emptied)
"$CEP" run --output new.jsonl --timeouts ./new.jsonl good.cep events.jsonl > /dev/null 2> err; st=$?
check "two outputs, one new file" 2 "cepheus: --output 'new.jsonl' and --timeouts './new.jsonl' are the same file: their lines would mix
$TRY"
[ -e new.jsonl ] && bad "two outputs: nothing created" "new.jsonl exists" || ok
: > old.jsonl
"$CEP" run --late old.jsonl --errors "$TMP/old.jsonl" good.cep events.jsonl > /dev/null 2> err; st=$?
check "two outputs, one existing file" 2 "cepheus: --late 'old.jsonl' and --errors '$TMP/old.jsonl' are the same file: their lines would mix
$TRY"
"$CEP" run good.cep - < in.jsonl >> in.jsonl 2> err; st=$?
check "standard output is standard input" 2 "cepheus: standard output is also standard input: an output must not be one of the inputs
$TRY"
# Devices may repeat: /dev/null as two outputs is fine.
"$CEP" run --late /dev/null --timeouts /dev/null --errors /dev/null good.cep events.jsonl > out 2> err; st=$?
if [ $st = 0 ] && [ "$(cat out)" = "$MATCH" ]; then ok; else bad "/dev/null twice" "exit $st"; fi

# ---- a closed standard output: exit 4, one message -----------------------------------
# More output than a pipe holds, so the writes meet the closed pipe whatever
# the timing.
i=0
while [ $i -lt 3000 ]; do
    echo "{\"ts\":$((2 * i + 1)),\"user\":\"u$i\",\"type\":\"a\"}"
    echo "{\"ts\":$((2 * i + 2)),\"user\":\"u$i\",\"type\":\"b\"}"
    i=$((i + 1))
done > many.jsonl
{ "$CEP" run good.cep many.jsonl 2> err; echo $? > rc; } | head -n 1 > first
st=$(cat rc)
check "closed standard output" 4 "cepheus: cannot write '<stdout>': Broken pipe"
if [ "$(cat first)" = '{"pattern":"p","key":"u0","start":1,"end":2,"events":{"a":[{"ts":1,"user":"u0","type":"a"}],"b":[{"ts":2,"user":"u0","type":"b"}]}}' ]; then ok
else bad "closed standard output: first line" "$(cat first)"; fi

# ---- a failed output is reported once ----------------------------------------------
if [ -w /dev/full ]; then
    printf '%s\n' '{"ts":10,"user":"u1","type":"a"}' '{"ts":5,"user":"u1","type":"b"}' > late.jsonl
    "$CEP" run --quiet --late /dev/full good.cep late.jsonl > /dev/null 2> err; st=$?
    check "--late /dev/full" 4 "cepheus: cannot write '/dev/full': No space left on device"
    "$CEP" run --timeouts /dev/full "$FIX/timeouts.cep" "$FIX/timeouts.jsonl" > /dev/null 2> err; st=$?
    check "--timeouts /dev/full" 4 "cepheus: cannot write '/dev/full': No space left on device"
    # More rejected lines than one 64 KiB block: the failed write comes
    # while reading (it was reported there and again at the end).
    i=0
    while [ $i -lt 2000 ]; do echo "garbage $i"; i=$((i + 1)); done > garbage.jsonl
    "$CEP" run --quiet --errors /dev/full good.cep garbage.jsonl > /dev/null 2> err; st=$?
    grep -v '^garbage.jsonl:[0-9]*: error: ' err > err2; mv err2 err
    check "--errors /dev/full" 4 "cepheus: cannot write '/dev/full': No space left on device"
    "$CEP" run good.cep events.jsonl > /dev/full 2> err; st=$?
    check "standard output /dev/full" 4 "cepheus: cannot write '<stdout>': No space left on device"
    "$CEP" run --checkpoint ck --checkpoint-every 1 --output /dev/full good.cep events.jsonl 2> err; st=$?
    check "--output /dev/full at a checkpoint" 4 "cepheus: cannot write '/dev/full': No space left on device"
fi

# ---- the checkpoint directory, at start-up ------------------------------------------
"$CEP" run --checkpoint newck --output o.jsonl good.cep events.jsonl > /dev/null 2> err; st=$?
if [ $st = 0 ] && [ -d newck ] && [ "$(cat o.jsonl)" = "$MATCH" ]; then ok; else bad "--checkpoint makes its directory" "exit $st"; fi
"$CEP" run --checkpoint no/such/ck --output o2.jsonl good.cep events.jsonl > /dev/null 2> err; st=$?
check "--checkpoint in a missing directory" 4 "cepheus: cannot create the checkpoint directory 'no/such/ck': No such file or directory"
[ -e o2.jsonl ] && bad "--checkpoint in a missing directory: no output" "o2.jsonl was written" || ok
: > plain
"$CEP" run --checkpoint plain --output o2.jsonl good.cep events.jsonl > /dev/null 2> err; st=$?
check "--checkpoint a file" 4 "cepheus: cannot use 'plain' as the checkpoint directory: Not a directory"

# ---- {"$watermark": N} is a JSON integer ----------------------------------------------
for w in '-' '0005' '00' '-01' '1.5' '+5' '5 5'; do
    printf '{"$watermark": %s}\n' "$w" > wm.jsonl
    "$CEP" run --strict good.cep wm.jsonl > /dev/null 2> err; st=$?
    check "watermark '$w'" 3 'wm.jsonl:1: error: invalid watermark: expected {"$watermark": MS or "RFC 3339 time"}'
done
printf '%s\n' '{"ts":1,"user":"u1","type":"a"}' '{"$watermark": 0}' '{"$watermark": -0}' '{"$watermark": -7}' \
    '{"$watermark": 2}' '{"ts":3,"user":"u1","type":"b"}' > wm.jsonl
"$CEP" run --strict good.cep wm.jsonl > out 2> err; st=$?
if [ $st = 0 ] && [ "$(cat out)" = "$MATCH" ]; then ok; else bad "watermarks 0, -0, -7, 2" "exit $st"; fi

# ---- SIGHUP -------------------------------------------------------------------------
if command -v mkfifo > /dev/null 2>&1; then
    # During the first compile: the pattern file is a FIFO, so the tool
    # waits in it; the SIGHUP that comes then is honoured at the first line
    # (a reload) instead of killing the process. The events come through a
    # FIFO too, after the pattern path holds a plain file for the reload.
    mkfifo pat.fifo ev.fifo
    "$CEP" run pat.fifo ev.fifo > out 2> err &
    pid=$!
    # Until it waits in the FIFO (Linux names that wait in wchan; else 10 s).
    n=0
    while [ $n -lt 100 ] && [ "$(cat /proc/$pid/wchan 2> /dev/null)" != wait_for_partner ]; do
        sleep 0.1
        n=$((n + 1))
    done
    kill -HUP $pid
    timeout 10 sh -c 'cat good.cep > pat.fifo'
    rm -f pat.fifo
    cp good.cep pat.fifo
    timeout 10 sh -c 'cat events.jsonl > ev.fifo'
    wait $pid; st=$?
    if [ $st = 0 ] && [ "$(cat out)" = "$MATCH" ] &&
        grep -qx "cepheus: reloaded pat.fifo: 1 patterns; kept p" err; then ok
    else bad "SIGHUP during the first compile" "exit $st: $(cat out)"; fi

    # Processing time, input idle: the reload happens without a line.
    mkfifo in.fifo
    printf 'pattern p key k begin a where t == "a"\n' > pp.cep
    "$CEP" run --time processing pp.cep in.fifo > out 2> err &
    pid=$!
    exec 3> in.fifo
    printf '%s\n' '{"k":1,"t":"a"}' >&3
    sleep 0.3
    printf 'pattern p key k begin a where t == "a"\npattern q key k begin b where t == "b"\n' > pp.cep
    kill -HUP $pid
    n=0
    while [ $n -lt 40 ] && ! grep -q "reloaded" err; do sleep 0.1; n=$((n + 1)); done
    if grep -qx "cepheus: reloaded pp.cep: 2 patterns; kept p; new: q" err; then ok
    else bad "reload while processing-time input is idle" "no reload within 4 s"; fi
    printf '%s\n' '{"k":1,"t":"b"}' >&3
    exec 3>&-
    wait $pid; st=$?
    if [ $st = 0 ] && [ "$(wc -l < out)" = 2 ] && grep -q '^{"pattern":"q","key":1,' out; then ok
    else bad "reload while idle: the new pattern runs" "exit $st: $(cat out)"; fi
fi

# ---- --output-form positions (issue 23): each event as its line number ----------
# Lines of all inputs are counted in order, blank and rejected ones too.
cat > any.cep <<'EOF'
pattern q
  key user
  begin a where type == "a"
  followedByAny b where type == "b"
  within 10ms
EOF
printf '%s\n' '{"ts":1,"user":"u1","type":"a"}' '' '{"ts":2,"user":"u1","type":"a"}' 'not json' > p1.jsonl
printf '%s\n' '{"ts":3,"user":"u2","type":"a"}' '{"ts":4,"user":"u1","type":"b"}' '{"ts":5,"user":"u1","type":"b"}' > p2.jsonl
POS='{"pattern":"q","key":"u1","start":1,"end":4,"events":{"a":[1],"b":[6]}}
{"pattern":"q","key":"u1","start":2,"end":4,"events":{"a":[3],"b":[6]}}
{"pattern":"q","key":"u1","start":1,"end":5,"events":{"a":[1],"b":[7]}}
{"pattern":"q","key":"u1","start":2,"end":5,"events":{"a":[3],"b":[7]}}'
"$CEP" run -q --output-form positions --timeouts to.jsonl any.cep p1.jsonl p2.jsonl > out 2> err; st=$?
if [ $st = 0 ] && [ "$(cat out)" = "$POS" ]; then ok; else bad "--output-form positions" "exit $st: $(cat out)"; fi
if [ "$(cat to.jsonl)" = '{"pattern":"q","key":"u1","start":1,"timeout":true,"events":{"a":[1],"b":[]}}
{"pattern":"q","key":"u1","start":2,"timeout":true,"events":{"a":[3],"b":[]}}
{"pattern":"q","key":"u2","start":3,"timeout":true,"events":{"a":[5],"b":[]}}' ]; then ok
else bad "--output-form positions: timeouts" "$(cat to.jsonl)"; fi
if [ "$(cat err)" = "p1.jsonl:4: error: invalid JSON: lexical error: invalid string in json text." ]; then ok
else bad "--output-form positions: a rejected line" "$(cat err)"; fi
# The same matches as with the whole events, in the same order.
"$CEP" run -q any.cep p1.jsonl p2.jsonl 2> /dev/null | sed 's/"events":.*//' > full
sed 's/"events":.*//' out > short
if cmp -s full short; then ok; else bad "--output-form positions: same matches as events" "differ"; fi
"$CEP" run -q --output-form positions --threads 2 any.cep p1.jsonl p2.jsonl > out 2> /dev/null; st=$?
if [ $st = 0 ] && [ "$(sort out)" = "$(printf '%s\n' "$POS" | sort)" ]; then ok
else bad "--output-form positions --threads 2" "exit $st: $(cat out)"; fi
"$CEP" run --output-form ids any.cep p2.jsonl > /dev/null 2> err; st=$?
check "--output-form ids" 2 "cepheus: invalid --output-form 'ids': expected events or positions
$TRY"
"$CEP" run --output-form positions --checkpoint ck -o o.jsonl any.cep p2.jsonl > /dev/null 2> err; st=$?
check "--output-form positions --checkpoint" 2 "cepheus: --output-form positions cannot be used with --checkpoint or --restore: a checkpoint does not keep the positions of the events it holds
$TRY"

# ---- the events' text: not kept where no output prints it ------------------------
# Every pattern emits fields, so matches print no events; with --timeouts
# (or --late) the text is kept and printed as read (spacing, fields no
# pattern reads), also under --threads.
printf 'pattern p key u begin a where t == "a" followedBy b where t == "b" within 10ms emit at = a.ts\n' > emit.cep
printf '{"ts":1, "u":"x","t":"a","note":"not read"}\n{"ts":5,"u":"y","t":"a"}\n{"ts":8,"u":"y","t":"b"}\n{"ts":30,"u":"z","t":"c"}\n' > emit.jsonl
for th in "" "--threads 2"; do
    "$CEP" run -q $th --timeouts to.jsonl emit.cep emit.jsonl > out 2> err; st=$?
    check "emit with --timeouts $th" 0 ""
    if [ "$(cat out)" = '{"pattern":"p","key":"y","start":5,"end":8,"fields":{"at":5}}' ]; then ok
    else bad "emit with --timeouts $th: matches" "$(cat out)"; fi
    if [ "$(cat to.jsonl)" = '{"pattern":"p","key":"x","start":1,"timeout":true,"events":{"a":[{"ts":1, "u":"x","t":"a","note":"not read"}],"b":[]}}' ]; then ok
    else bad "emit with --timeouts $th: the event's text" "$(cat to.jsonl)"; fi
done
# --late needs no stored text: a late event is printed from the line read,
# as read, also when the events before it wait in the reorder buffer
# (--max-delay) and under --threads. A checkpoint holds the text with
# --late as with --timeouts (a reload or restore parses buffered events
# again from it: tests/cli.sh, "reload under --late"), not without them.
printf '{"ts":10, "u":"x","t":"a","note":"kept?"}\n{"ts":20,"u":"y","t":"a"}\n{ "t":"b" , "u":"x","ts":5 }\n{"ts":22,"u":"y","t":"b"}\n' > late.jsonl
for th in "" "--threads 2"; do
    "$CEP" run -q $th --max-delay 3 --late l.jsonl emit.cep late.jsonl > out 2> err; st=$?
    check "emit with --late $th" 0 ""
    if [ "$(cat out)" = '{"pattern":"p","key":"y","start":20,"end":22,"fields":{"at":20}}' ]; then ok
    else bad "emit with --late $th: matches" "$(cat out)"; fi
    if [ "$(cat l.jsonl)" = '{ "t":"b" , "u":"x","ts":5 }' ]; then ok
    else bad "emit with --late $th: the late event's text" "$(cat l.jsonl)"; fi
done
for o in --late:1 --timeouts:1 none:0; do
    want=${o#*:} o=${o%:*}
    rm -rf ck
    # shellcheck disable=SC2046
    "$CEP" run -q $([ $o = none ] || echo "$o o2.jsonl") --output o.jsonl --checkpoint ck --checkpoint-every 1 emit.cep late.jsonl > /dev/null 2> err
    n=$(grep -c 'kept?' ck/checkpoint)
    if [ "$n" = "$want" ]; then ok
    else bad "emit with $o: the text in the checkpoint" "$n copies"; fi
done
# ... so that a restore with a new pattern reading a new field ("n")
# parses the buffered events again: q matches with --late.
printf 'pattern p key u begin a where t == "a" followedBy b where t == "b" within 1m emit at = a.ts\n' > rp1.cep
{ cat rp1.cep; printf 'pattern q key u begin a where t == "a" and n > 5 followedBy b where t == "b" within 1m emit n = a.n\n'; } > rp2.cep
printf '{"ts":1000,"u":1,"t":"a","n":10}\n{"ts":3000,"u":1,"t":"b"}\n' > rp.jsonl
rm -rf ck
"$CEP" run -q -Wnone --late l.jsonl --max-delay 5s -o o.jsonl --checkpoint ck --checkpoint-every 1 --checkpoint-min-pause 0 rp1.cep rp.jsonl > /dev/null 2> err
"$CEP" run -q -Wnone --late l.jsonl --max-delay 5s -o o.jsonl --checkpoint ck --restore ck rp2.cep rp.jsonl > /dev/null 2> err
if [ "$(grep -c '"q"' o.jsonl)" = 1 ]; then ok
else bad "restore under --late: the buffered event's new field" "$(cat o.jsonl err)"; fi
# Matches of a pattern without emit print their events' text exactly as
# read: spacing, key order, escapes, fields no pattern reads, lines of
# another shape between lines of one (the reader predicts keys from the
# lines before); also with a pattern that emits in the same file.
printf 'pattern q key u begin a where t == "a" followedBy b where t == "b" within 10ms\n' > whole.cep
printf '{"ts":1,"u":"x","t":"a"}\n{"ts":2,"u":"x","t":"a"}\n{"u":"x", "ts":3,"t":"b","extra":[1,{"k":"v"}]}\n{"ts":4,"u":"x","t":"b"}\n{"ts" : 5 ,"u":"x","t":"a"}\n{"ts":6,"u":"x","t":"\\u0062"}\n{"ts":7,"u":"x","t":"a"}\n{"ts":8,"u":"x","t":"b"}\n' > whole.jsonl
WHOLE='{"pattern":"q","key":"x","start":1,"end":3,"events":{"a":[{"ts":1,"u":"x","t":"a"}],"b":[{"u":"x", "ts":3,"t":"b","extra":[1,{"k":"v"}]}]}}
{"pattern":"q","key":"x","start":2,"end":3,"events":{"a":[{"ts":2,"u":"x","t":"a"}],"b":[{"u":"x", "ts":3,"t":"b","extra":[1,{"k":"v"}]}]}}
{"pattern":"q","key":"x","start":5,"end":6,"events":{"a":[{"ts" : 5 ,"u":"x","t":"a"}],"b":[{"ts":6,"u":"x","t":"\u0062"}]}}
{"pattern":"q","key":"x","start":7,"end":8,"events":{"a":[{"ts":7,"u":"x","t":"a"}],"b":[{"ts":8,"u":"x","t":"b"}]}}'
"$CEP" run -q whole.cep whole.jsonl > out 2> err; st=$?
check "events printed whole" 0 ""
if [ "$(cat out)" = "$WHOLE" ]; then ok; else bad "events printed whole: their text" "$(cat out)"; fi
cat emit.cep whole.cep > both.cep
"$CEP" run -q --late l.jsonl both.cep whole.jsonl > out 2> err; st=$?
check "events printed whole, another pattern emits" 0 ""
if [ "$(grep '"q"' out)" = "$WHOLE" ]; then ok; else bad "events printed whole, another pattern emits: their text" "$(cat out)"; fi

echo "outputs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
