#!/bin/sh
# savepoint.sh — SIGUSR1 writes a savepoint into --savepoint-dir while the
# run goes on, and --restore continues from it as from a checkpoint;
# --checkpoint-interval takes checkpoints by the clock (docs/state.md,
# issue 18). make check.
: "${top_srcdir:=.}" "${top_builddir:=.}"
CEP="$(cd "$top_builddir" && pwd)/cepheus"
[ -x "$CEP" ] || { echo "savepoint.sh: $CEP is not built; skipping"; exit 77; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-savepoint.XXXXXX") || exit 1
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
cd "$TMP" || exit 1
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL: $1: $2"
    [ -s err ] && sed 's/^/  stderr: /' err | head -n 5
}
# wait_for FILE TEXT: up to 20 s for TEXT to appear in FILE.
wait_for() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 400 ] && return 1
        sleep 0.05
    done
}

# x: an "a" then a "b" of one key (a partial match spans the savepoint).
cat > p.cep <<'P'
pattern x key k begin a where t == "a" followedBy b where t == "b" within 1h
P
printf '%s\n' '{"ts":1,"k":1,"t":"a"}' '{"ts":2,"k":2,"t":"a"}' '{"ts":3,"k":1,"t":"b"}' \
    '{"ts":4,"k":3,"t":"a"}' > first.jsonl
printf '%s\n' '{"ts":5,"k":2,"t":"b"}' '{"ts":6,"k":3,"t":"b"}' '{"ts":7,"k":4,"t":"a"}' > second.jsonl
cat first.jsonl second.jsonl > ev.jsonl
"$CEP" run -q --output ref.jsonl --timeouts ref-to.jsonl p.cep ev.jsonl 2> err || bad reference "exit $?"

# ---- SIGUSR1 while the run waits for input -----------------------------------
# The input is a FIFO: the first four lines, a savepoint, the rest.
mkfifo in.fifo
"$CEP" run --savepoint-dir sp --checkpoint-log splog.jsonl --output out.jsonl --timeouts to.jsonl p.cep in.fifo > /dev/null 2> err &
pid=$!
exec 3> in.fifo
cat first.jsonl >&3
wait_for out.jsonl '"k":1' || bad "first match" "not written while waiting"
kill -USR1 $pid
if wait_for err 'savepoint written:'; then ok; else bad "savepoint" "no 'savepoint written' on standard error"; fi
cat second.jsonl >&3
exec 3>&-
wait $pid
st=$?
pid=
[ "$st" = 0 ] && ok || bad "run with a savepoint" "exit $st"
cmp -s out.jsonl ref.jsonl && ok || bad "run with a savepoint" "its output differs from a plain run's"
set -- sp/savepoint-*
if [ $# = 1 ] && [ -d "$1" ] && [ -f "$1/checkpoint" ]; then ok; else bad "savepoint dir" "expected one savepoint directory, got: $*"; fi
sp=$1
case "$sp" in
    sp/savepoint-????????T??????Z-4) ok ;;
    *) bad "savepoint name" "'$sp' is not savepoint-TIME-4 (4 events read)" ;;
esac
[ -z "$(ls -d sp/*.tmp 2>/dev/null)" ] && ok || bad "savepoint dir" "a .tmp directory was left"
grep -q "cepheus: savepoint written: $sp\$" err && ok || bad "savepoint message" "does not name $sp"
grep -q "^{\"kind\":\"savepoint\",.*,\"ok\":true,.*,\"path\":\"$sp\"}\$" splog.jsonl &&
    ok || bad "--checkpoint-log savepoint" "no line naming $sp: $(cat splog.jsonl)"
# The end-of-run summary gives the savepoint's own time and size (not 0).
grep -Eq '^cepheus: 1 savepoint; pause last [0-9.]+ ms, worst [0-9.]+ ms; the last savepoint in [0-9.]+ s, [1-9][0-9,]* bytes$' err &&
    ok || bad "summary" "no line on the savepoint, or 0 bytes"

# ---- a run restores from the savepoint as from a checkpoint -------------------
# The output has all of the first run's lines; the restore cuts it back to
# the savepoint and continues from line 5 of a regular file of the same lines.
cp out.jsonl r.jsonl
cp to.jsonl r-to.jsonl
"$CEP" run -q --restore "$sp" --output r.jsonl --timeouts r-to.jsonl p.cep ev.jsonl > /dev/null 2> err
st=$?
[ "$st" = 0 ] && ok || bad "restore from a savepoint" "exit $st"
cmp -s r.jsonl ref.jsonl && ok || bad "restore from a savepoint" "matches differ from a plain run's"
cmp -s r-to.jsonl ref-to.jsonl && ok || bad "restore from a savepoint" "timeouts differ from a plain run's"
# A damaged savepoint is refused like a damaged checkpoint (exit 3), output untouched.
cp -r "$sp" damaged
printf 'X' | dd of=damaged/checkpoint bs=1 seek=20 conv=notrunc 2> /dev/null
cp out.jsonl d.jsonl
"$CEP" run -q --restore damaged --output d.jsonl p.cep ev.jsonl > /dev/null 2> err
st=$?
if [ "$st" = 3 ] && cmp -s d.jsonl out.jsonl && grep -q "damaged" err; then ok; else bad "damaged savepoint" "exit $st"; fi

# ---- SIGUSR1 without --savepoint-dir: said, and the run goes on ---------------
"$CEP" run -q --output o2.jsonl p.cep in.fifo > /dev/null 2> err &
pid=$!
exec 3> in.fifo
cat first.jsonl >&3
wait_for o2.jsonl '"k":1' || bad "first match" "not written while waiting"
kill -USR1 $pid
wait_for err 'SIGUSR1' || bad "SIGUSR1 without --savepoint-dir" "nothing said"
cat second.jsonl >&3
exec 3>&-
wait $pid
st=$?
pid=
[ "$st" = 0 ] && cmp -s o2.jsonl ref.jsonl && ok || bad "SIGUSR1 without --savepoint-dir" "exit $st or output differs"
[ "$(cat err)" = "cepheus: SIGUSR1: no savepoint: no --savepoint-dir was given" ] && ok ||
    bad "SIGUSR1 without --savepoint-dir" "message: $(cat err)"

# ---- --checkpoint-interval -------------------------------------------------------
# 600 lines; the FIFO holds back lines 301-600 for 4 s: the checkpoint is
# taken at line 300 when 3 s have passed, while the run waits for input,
# none by the event count (only the interval was given).
i=0
: > many.jsonl
while [ $i -lt 600 ]; do
    echo "{\"ts\":$i,\"k\":$((i % 7)),\"t\":\"$([ $((i % 3)) = 0 ] && echo a || echo b)\"}" >> many.jsonl
    i=$((i + 1))
done
head -n 300 many.jsonl > m1.jsonl
tail -n 300 many.jsonl > m2.jsonl
"$CEP" run -q --output mref.jsonl p.cep many.jsonl 2> err
rm -rf ck
"$CEP" run -q --stats --checkpoint ck --checkpoint-interval 3s --output m.jsonl p.cep in.fifo > /dev/null 2> err &
pid=$!
exec 3> in.fifo
cat m1.jsonl >&3
sleep 4
cat m2.jsonl >&3
exec 3>&-
wait $pid
st=$?
pid=
[ "$st" = 0 ] && cmp -s m.jsonl mref.jsonl && ok || bad "--checkpoint-interval" "exit $st or output differs"
grep -q '^checkpoints: 1$' err && ok || bad "--checkpoint-interval" "expected one checkpoint: $(grep '^checkpoints' err)"
# Restore from it: the rest of the file is read again, the output is the same.
cp m.jsonl m-r.jsonl
"$CEP" run -q --restore ck --output m-r.jsonl p.cep many.jsonl > /dev/null 2> err
cmp -s m-r.jsonl mref.jsonl && ok || bad "--checkpoint-interval restore" "output differs"
# Its position: line 300 (the header's third u64, lineno, at byte 24).
lineno=$(od -An -t u8 -j 24 -N 8 ck/checkpoint | tr -d ' ')
[ "$lineno" = 300 ] && ok || bad "--checkpoint-interval" "checkpoint at line $lineno, expected 300"
# No checkpoint by count when only the interval is given, none by time in 1h.
rm -rf ck
"$CEP" run -q --stats --checkpoint ck --checkpoint-interval 1h --checkpoint-every 100 --output m.jsonl p.cep many.jsonl > /dev/null 2> err
# (by count: the first at line 100; the next ones as the writer is free)
grep -q '^checkpoints: [1-6]$' err && ok || bad "both given" "expected checkpoints by count: $(grep '^checkpoints' err)"
rm -rf ck
"$CEP" run -q --stats --checkpoint ck --checkpoint-interval 1h --output m.jsonl p.cep many.jsonl > /dev/null 2> err
grep -q '^checkpoints: 0$' err && ok || bad "interval alone" "expected no checkpoint: $(grep '^checkpoints' err)"

# ---- --checkpoint-min-pause ----------------------------------------------------------
# A checkpoint every 100 of 3,000 lines; the FIFO holds back lines
# 301-3000 for 1 s, long enough for the first writer to be done (a due
# checkpoint asks a busy writer again 1,024 lines later): without a pause
# at least one more checkpoint follows, with a pause of 1h none does (the
# one at line 100 stays); with auto (the default: a rest as long as the
# last writer took, here milliseconds) more follow too.
i=0
: > long.jsonl
while [ $i -lt 3000 ]; do
    echo "{\"ts\":$i,\"k\":$((i % 7)),\"t\":\"$([ $((i % 3)) = 0 ] && echo a || echo b)\"}"
    i=$((i + 1))
done > long.jsonl
head -n 300 long.jsonl > l1.jsonl
tail -n +301 long.jsonl > l2.jsonl
"$CEP" run -q --output lref.jsonl p.cep long.jsonl 2> err
feed() { # ARGS...: a run reading long.jsonl's lines through the FIFO
    rm -rf ck
    "$CEP" run -q --stats --checkpoint ck --checkpoint-every 100 "$@" --output l.jsonl p.cep in.fifo > /dev/null 2> err &
    pid=$!
    exec 3> in.fifo
    cat l1.jsonl >&3
    sleep 1
    cat l2.jsonl >&3
    exec 3>&-
    wait $pid
    st=$?
    pid=
}
feed --checkpoint-min-pause 0
[ "$st" = 0 ] && grep -q '^checkpoints: [2-9]$' err && ok ||
    bad "no min pause" "exit $st, expected more checkpoints: $(grep '^checkpoints' err)"
feed
[ "$st" = 0 ] && grep -q '^checkpoints: [2-9]$' err && ok ||
    bad "min pause default" "exit $st, expected more checkpoints: $(grep '^checkpoints' err)"
feed --checkpoint-min-pause auto
[ "$st" = 0 ] && grep -q '^checkpoints: [2-9]$' err && ok ||
    bad "min pause auto" "exit $st, expected more checkpoints: $(grep '^checkpoints' err)"
feed --checkpoint-min-pause 1h
[ "$st" = 0 ] && cmp -s l.jsonl lref.jsonl && ok || bad "--checkpoint-min-pause" "exit $st or output differs"
grep -q '^checkpoints: 1$' err && ok || bad "--checkpoint-min-pause" "expected one checkpoint: $(grep '^checkpoints' err)"
lineno=$(od -An -t u8 -j 24 -N 8 ck/checkpoint | tr -d ' ')
[ "$lineno" = 100 ] && ok || bad "--checkpoint-min-pause" "checkpoint at line $lineno, expected 100"
cp l.jsonl l-r.jsonl
"$CEP" run -q --restore ck --output l-r.jsonl p.cep long.jsonl > /dev/null 2> err
cmp -s l-r.jsonl lref.jsonl && ok || bad "--checkpoint-min-pause restore" "output differs"

# A stream that stops while a checkpoint is held (the writer of the one at
# line 100 at work, then the rest after it): the checkpoint of line 300 is
# taken while the run waits, without another line, within the rest (the
# default auto, or 1 s); the run then goes on as usual.
# ck_line: the line of the checkpoint in place (empty: none yet).
ck_line() { od -An -t u8 -j 24 -N 8 ck/checkpoint 2>/dev/null | tr -d ' '; }
stops() { # NAME same|sorted ARGS... (sorted: a pool writes keys in another order)
    name=$1 order=$2
    shift 2
    rm -rf ck
    "$CEP" run -q --stats --checkpoint ck --checkpoint-every 100 "$@" --output l.jsonl p.cep in.fifo > /dev/null 2> err &
    pid=$!
    exec 3> in.fifo
    cat l1.jsonl >&3
    i=0
    while [ "$(ck_line)" != 300 ] && [ $i -lt 200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    [ "$(ck_line)" = 300 ] && ok || bad "$name" "no checkpoint of line 300 while waiting (at: $(ck_line))"
    cat l2.jsonl >&3
    exec 3>&-
    wait $pid
    st=$?
    pid=
    if [ "$order" = sorted ]; then same=$([ "$(sort l.jsonl)" = "$(sort lref.jsonl)" ] && echo y)
    else same=$(cmp -s l.jsonl lref.jsonl && echo y); fi
    [ "$st" = 0 ] && [ "$same" = y ] && ok || bad "$name" "exit $st or output differs"
}
stops "held, default rest" same
stops "held, rest 1s" same --checkpoint-min-pause 1s
stops "held, --checkpoint-interval" same --checkpoint-interval 500ms --checkpoint-every 1000
stops "held, --threads 2" sorted --threads 2 --checkpoint-min-pause 1s

# ---- --checkpoint-log ----------------------------------------------------------------
# A line per checkpoint, appended: position, pause, state at the fork, time
# to write and size (what --stats sums up); a restored run appends to it.
rm -rf ck cklog.jsonl
head -n 2500 long.jsonl > part.jsonl
"$CEP" run -q --stats --checkpoint ck --checkpoint-every 1000 --checkpoint-min-pause 0 --checkpoint-log cklog.jsonl \
    --output l.jsonl p.cep part.jsonl > /dev/null 2> err
n=$(sed -n 's/^checkpoints: //p' err)
[ "$(wc -l < cklog.jsonl)" = "$n" ] && [ "$n" -ge 1 ] && ok || bad "--checkpoint-log" "$n checkpoints, log: $(cat cklog.jsonl)"
grep -Eq '^[{]"kind":"checkpoint","time":"[0-9T:.-]+Z","events":1000,"pause_ms":[0-9.]+,"pause_cpu_ms":[0-9.]+,"fork_ms":[0-9.]+,"partial_matches":[0-9]+,"keys":[0-9]+,"state_bytes":[1-9][0-9]*,"rss_bytes":[1-9][0-9]*,"ok":true,"write_seconds":[0-9.]+,"bytes":[1-9][0-9]*[}]$' cklog.jsonl &&
    ok || bad "--checkpoint-log" "first line: $(head -n 1 cklog.jsonl)"
"$CEP" run -q --restore ck --checkpoint ck --checkpoint-every 500 --checkpoint-log cklog.jsonl --output l.jsonl p.cep long.jsonl > /dev/null 2> err
[ "$(wc -l < cklog.jsonl)" -gt "$n" ] && cmp -s l.jsonl lref.jsonl && ok || bad "--checkpoint-log restored" "not appended, or output differs"

# ---- usage errors ----------------------------------------------------------------
usage() { # NAME EXPECTED-MESSAGE ARGS...
    name=$1 msg=$2
    shift 2
    "$CEP" run "$@" > /dev/null 2> err
    st=$?
    if [ "$st" = 2 ] && [ "$(head -n 1 err)" = "cepheus: $msg" ]; then ok; else bad "$name" "exit $st: $(head -n 1 err)"; fi
}
usage "interval 0" "invalid --checkpoint-interval '0': expected a positive duration: milliseconds, or an integer followed by ms, s, m, h or d (e.g. 10s)" \
    --checkpoint ck --checkpoint-interval 0 --output o p.cep ev.jsonl
usage "interval unit" "invalid --checkpoint-interval '10x': expected a positive duration: milliseconds, or an integer followed by ms, s, m, h or d (e.g. 10s)" \
    --checkpoint ck --checkpoint-interval 10x --output o p.cep ev.jsonl
usage "interval alone" "--checkpoint-every and --checkpoint-interval need --checkpoint DIR" \
    --checkpoint-interval 10s --output o p.cep ev.jsonl
usage "min pause alone" "--checkpoint-min-pause needs --checkpoint DIR" \
    --checkpoint-min-pause 1s --output o p.cep ev.jsonl
usage "min pause unit" "invalid --checkpoint-min-pause '1x': expected auto or a duration: milliseconds, or an integer followed by ms, s, m, h or d (e.g. 2s)" \
    --checkpoint ck --checkpoint-min-pause 1x --output o p.cep ev.jsonl
usage "log alone" "--checkpoint-log needs --checkpoint DIR or --savepoint-dir DIR" \
    --checkpoint-log l --output o p.cep ev.jsonl
usage "savepoint stdin" "--savepoint-dir needs event files, not standard input" \
    --savepoint-dir sp --output o p.cep
usage "savepoint output" "--savepoint-dir needs --output FILE" --savepoint-dir sp p.cep ev.jsonl
# ---- under --threads: the savepoint holds the pool's state -------------------
# Taken with 2 threads, restored with 3 and with one engine; a pool writes
# keys in another order, so the lines are compared sorted.
rm -rf spt
mkfifo in2.fifo
"$CEP" run -q --threads 2 --savepoint-dir spt --output tout.jsonl p.cep in2.fifo > /dev/null 2> err &
pid=$!
exec 3> in2.fifo
cat first.jsonl >&3
wait_for tout.jsonl '"k":1' || bad "threads: first match" "not written while waiting"
kill -USR1 $pid
if wait_for err 'savepoint written:'; then ok; else bad "threads: savepoint" "no 'savepoint written'"; fi
cat second.jsonl >&3
exec 3>&-
wait $pid
st=$?
pid=
[ "$st" = 0 ] && ok || bad "threads: run with a savepoint" "exit $st"
set -- spt/savepoint-*
for n in 3 0; do
    cp tout.jsonl t$n.jsonl
    if [ "$n" = 0 ]; then threads=; else threads="--threads $n"; fi
    # shellcheck disable=SC2086
    "$CEP" run -q $threads --restore "$1" --output t$n.jsonl p.cep ev.jsonl > /dev/null 2> err
    st=$?
    if [ "$st" = 0 ] && [ "$(sort t$n.jsonl)" = "$(sort ref.jsonl)" ]; then ok; else
        bad "threads: restore with ${threads:-one engine}" "exit $st, or matches differ from a plain run's"
    fi
done

echo "savepoint.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
