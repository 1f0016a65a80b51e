#!/bin/sh
# threads.sh — `cepheus run --threads N` against one engine: for the CLI
# fixtures and a generated stream, every output per key (matches, timeouts)
# must be the same lines in the same order, the late events and rejected
# lines the very same files, the messages and --stats counters the same;
# the options --threads refuses; checkpoints taken with N threads restored
# with M or with one engine, damaged ones refused; SIGHUP reloads under
# --threads. Run by `make check`.

: "${top_srcdir:=.}"
: "${top_builddir:=.}"

CEP="$(cd "$top_builddir" && pwd)/cepheus"
GEN="$(cd "$top_builddir" && pwd)/examples/click_to_purchase/gen_events"
EX="$(cd "$top_srcdir/examples/click_to_purchase" && pwd)"
FIX="$(cd "$top_srcdir/tests/cli" && pwd)"
if [ ! -x "$CEP" ] || [ ! -x "$GEN" ]; then
    echo "threads.sh: cepheus or gen_events is not built; skipping"
    exit 77
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-threads.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
cd "$FIX" || exit 1

passed=0
failed=0
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); echo "FAIL: $*"; }

# Lines grouped by key, each key's lines in their order (a stable sort on
# the key alone): what --threads must keep.
by_key() {
    sed -E 's/^(.*"key":(.*),"start".*)$/\2	\1/' "$1" | LC_ALL=C sort -s -t '	' -k1,1
}

# same NAME ARGS...: run once with one engine and with --threads 1, 2 and
# 3; outputs (-o, --timeouts, --late, --errors in $TMP) per key, stderr
# and the exit status must agree.
same() {
    name=$1
    shift
    "$CEP" run --output "$TMP/o0" --timeouts "$TMP/t0" --late "$TMP/l0" --errors "$TMP/e0" "$@" \
        >/dev/null 2>"$TMP/s0"
    st0=$?
    [ -s "$TMP/o0" ] || [ -s "$TMP/t0" ] || ko "$name: the single engine wrote nothing"
    for n in 1 2 3; do
        "$CEP" run --threads $n --output "$TMP/o$n" --timeouts "$TMP/t$n" --late "$TMP/l$n" \
            --errors "$TMP/e$n" "$@" >/dev/null 2>"$TMP/s$n"
        st=$?
        why=
        [ "$st" = "$st0" ] || why="exit status $st, not $st0"
        [ -z "$why" ] && [ "$(by_key "$TMP/o0")" != "$(by_key "$TMP/o$n")" ] && why="matches differ"
        [ -z "$why" ] && [ "$(by_key "$TMP/t0")" != "$(by_key "$TMP/t$n")" ] && why="timeouts differ"
        [ -z "$why" ] && ! cmp -s "$TMP/l0" "$TMP/l$n" && why="late events differ"
        [ -z "$why" ] && ! cmp -s "$TMP/e0" "$TMP/e$n" && why="rejected lines differ"
        # stderr: messages and --stats, less the timing lines, the peak of
        # partial matches (with shards: the sum of their peaks) and the
        # state bytes (each engine keeps its own key table and arrays).
        [ -z "$why" ] && [ "$(grep -v -e '^elapsed' -e '^events/second' -e '^peak partial' -e '^state bytes' "$TMP/s0")" != \
            "$(grep -v -e '^elapsed' -e '^events/second' -e '^peak partial' -e '^state bytes' "$TMP/s$n")" ] && why="stderr differs"
        if [ -z "$why" ]; then ok; else
            ko "$name --threads $n: $why"
            diff "$TMP/s0" "$TMP/s$n" | head -5
        fi
    done
}

same "fixture events" --stats good.cep events.jsonl
same "malformed lines" --stats good.cep malformed.jsonl
same "late events" --stats good.cep late.jsonl
same "reordering" --stats --max-delay 5 good.cep reorder.jsonl
same "rfc3339 times" --time-field when good.cep rfc3339.jsonl
same "timeouts" --stats timeouts.cep timeouts.jsonl
same "watermark lines" --stats timeouts.cep watermarks.jsonl
same "allowed lateness" --stats --allowed-lateness 50 lateness.cep lateness.jsonl

# A generated stream: many keys, out of order, late events, timeouts, and a
# second pattern with another key, so that one event goes to two shards.
"$GEN" 30000 > "$TMP/in.jsonl"
cat "$EX/click_to_purchase.cep" > "$TMP/two.cep"
cat >> "$TMP/two.cep" <<'EOF'
pattern item_views
  key item
  begin v where type == "view"
  followedBy c where type == "click"
  within 30s
EOF
same "generated stream" --stats --max-delay 2000 "$TMP/two.cep" "$TMP/in.jsonl"
same "generated, lateness and TTL" --stats --max-delay 500 --allowed-lateness 3000 --state-ttl 20000 \
    "$TMP/two.cep" "$TMP/in.jsonl"
# Every pattern keyed by one integer (user_id): the router's shortcut; and
# a stream long enough that the rings fill and engines move between threads.
same "one key, generated stream" --stats --max-delay 2000 "$EX/click_to_purchase.cep" "$TMP/in.jsonl"
"$GEN" 300000 7 > "$TMP/big.jsonl"
same "one key, 300k events" --stats --max-delay 2000 --allowed-lateness 3000 "$EX/click_to_purchase.cep" \
    "$TMP/big.jsonl"
# Several input files, read in turn.
head -n 10000 "$TMP/in.jsonl" > "$TMP/a.jsonl"
tail -n +10001 "$TMP/in.jsonl" > "$TMP/b.jsonl"
same "two input files" --max-delay 2000 "$TMP/two.cep" "$TMP/a.jsonl" "$TMP/b.jsonl"

# --strict stops at the first malformed line, as one engine does.
"$CEP" run --threads 2 --strict good.cep malformed.jsonl >"$TMP/out" 2>"$TMP/err"
st=$?
"$CEP" run --strict good.cep malformed.jsonl >"$TMP/out1" 2>"$TMP/err1"
[ "$st" = 3 ] && cmp -s "$TMP/err" "$TMP/err1" && ok || ko "--strict: status $st"

# Standard input, and stdout as the output.
"$CEP" run --threads 2 --max-delay 2000 "$TMP/two.cep" < "$TMP/in.jsonl" > "$TMP/so" 2>"$TMP/err" &&
    "$CEP" run --max-delay 2000 "$TMP/two.cep" < "$TMP/in.jsonl" > "$TMP/so1" &&
    [ "$(by_key "$TMP/so")" = "$(by_key "$TMP/so1")" ] && ok || ko "stdin to stdout"

# Processing time: the shards tick while the input is idle, so a window
# closes (the timeout is written) before the input ends.
if command -v mkfifo >/dev/null 2>&1; then
    mkfifo "$TMP/pfifo"
    "$CEP" run --threads 2 --time processing --timeouts "$TMP/pto" processing.cep "$TMP/pfifo" \
        > "$TMP/pout" 2>&1 &
    pid=$!
    exec 4> "$TMP/pfifo"
    printf '%s\n' '{"k":1,"t":"a"}' >&4
    sleep 0.6
    grep -q '^{"pattern":"p","key":1,"start":[0-9]*,"timeout":true,"events":{"a":\[{"k":1,"t":"a"}\],"b":\[\]}}$' \
        "$TMP/pto" 2>/dev/null && ok || ko "processing time: no timeout while idle"
    printf '%s\n' '{"k":2,"t":"a"}' '{"k":2,"t":"b"}' >&4
    exec 4>&-
    wait "$pid"
    st=$?
    [ "$st" = 0 ] && grep -q '"key":2,' "$TMP/pout" && ok || ko "processing time: match (status $st)"
fi

# Options --threads refuses, with their messages.
expect_usage() {
    name=$1
    msg=$2
    shift 2
    "$CEP" run "$@" >"$TMP/out" 2>"$TMP/err"
    st=$?
    if [ "$st" = 2 ] && [ "$(head -n 1 "$TMP/err")" = "$msg" ]; then ok; else
        ko "$name: status $st: $(cat "$TMP/err")"
    fi
}
expect_usage "--threads 0" "cepheus: invalid --threads '0': expected an integer from 1 to 256" \
    --threads 0 good.cep events.jsonl
expect_usage "--threads 257" "cepheus: invalid --threads '257': expected an integer from 1 to 256" \
    --threads 257 good.cep events.jsonl
expect_usage "--threads x" "cepheus: invalid --threads 'x': expected an integer from 1 to 256" \
    --threads x good.cep events.jsonl

# ---- checkpoints under --threads (tests/crash_threads.sh: under kill -9) ----
# A run stopped by SIGTERM takes a final checkpoint with 3 threads; the
# restore with 2 threads, and the one with a single engine, each end as
# one uninterrupted engine does (per key).
"$CEP" run --max-delay 2000 --output "$TMP/whole" "$TMP/two.cep" "$TMP/in.jsonl" 2>/dev/null
for n in 2 0; do
    rm -rf "$TMP/ck" "$TMP/part"
    mkfifo "$TMP/fifo$n"
    "$CEP" run --threads 3 --max-delay 2000 --checkpoint "$TMP/ck" --output "$TMP/part" "$TMP/two.cep" \
        "$TMP/fifo$n" 2>/dev/null &
    pid=$!
    exec 3> "$TMP/fifo$n"
    head -n 15000 "$TMP/in.jsonl" >&3
    sleep 0.5
    kill -TERM "$pid"
    wait "$pid"
    st=$?
    exec 3>&-
    if [ "$n" = 0 ]; then threads=; else threads="--threads $n"; fi
    # The restart reads the whole input under the FIFO's name: the
    # checkpoint's offset is into the lines the FIFO carried.
    rm "$TMP/fifo$n"
    cp "$TMP/in.jsonl" "$TMP/fifo$n"
    # shellcheck disable=SC2086
    "$CEP" run $threads --max-delay 2000 --checkpoint "$TMP/ck" --restore "$TMP/ck" --output "$TMP/part" \
        "$TMP/two.cep" "$TMP/fifo$n" 2>"$TMP/err"
    st2=$?
    if [ "$st" = 143 ] && [ "$st2" = 0 ] && [ "$(by_key "$TMP/whole")" = "$(by_key "$TMP/part")" ]; then ok; else
        ko "checkpoint with 3 threads, restore with ${threads:-one engine}: status $st then $st2: $(cat "$TMP/err")"
    fi
    rm -f "$TMP/fifo$n"
done

# A damaged or foreign checkpoint is refused under --threads as with one
# engine, and every output stays as it was.
cp "$TMP/ck/checkpoint" "$TMP/good-ck"
size=$(wc -c < "$TMP/good-ck")
printf 'x' | dd of="$TMP/ck/checkpoint" bs=1 seek=$((size - 40)) conv=notrunc 2>/dev/null
cp "$TMP/part" "$TMP/part-before"
"$CEP" run --threads 2 --max-delay 2000 --restore "$TMP/ck" --output "$TMP/part" "$TMP/two.cep" "$TMP/in.jsonl" \
    >/dev/null 2>"$TMP/err"
st=$?
[ "$st" = 3 ] && [ "$(cat "$TMP/err")" = "cepheus: cannot restore the checkpoint in '$TMP/ck': snapshot is corrupted" ] &&
    cmp -s "$TMP/part" "$TMP/part-before" && ok || ko "damaged checkpoint under --threads: status $st: $(cat "$TMP/err")"
cp "$TMP/good-ck" "$TMP/ck/checkpoint"
printf 'pattern other\n  key user\n  begin a where type == "x"\n' > "$TMP/other.cep"
"$CEP" run --threads 2 --restore "$TMP/ck" --output "$TMP/part" "$TMP/other.cep" "$TMP/in.jsonl" >/dev/null 2>"$TMP/err"
st=$?
[ "$st" = 3 ] && grep -q "^cepheus: cannot restore the checkpoint in '$TMP/ck': $TMP/other.cep has changed since it was made (.*): no pattern is unchanged, so no state can be kept; nothing was restored$" "$TMP/err" &&
    cmp -s "$TMP/part" "$TMP/part-before" && ok || ko "foreign checkpoint under --threads: status $st: $(cat "$TMP/err")"

# ---- SIGHUP under --threads: tests/cli.sh's reload, on a pool ----
cp reload_a.cep "$TMP/reload.cep"
mkfifo "$TMP/hfifo"
"$CEP" run --threads 2 "$TMP/reload.cep" "$TMP/hfifo" > "$TMP/rout" 2> "$TMP/rerr" &
pid=$!
exec 3> "$TMP/hfifo"
printf '%s\n' '{"ts":1,"k":1,"t":"a"}' '{"ts":2,"k":1,"t":"c"}' >&3
sleep 0.5
cp reload_b.cep "$TMP/reload.cep"
kill -HUP "$pid"
sleep 0.3
printf '%s\n' '{"ts":3,"k":1,"t":"b"}' '{"ts":4,"k":1,"t":"c"}' '{"ts":5,"k":1,"t":"d"}' >&3
sleep 0.5
cp reload_bad.cep "$TMP/reload.cep"
kill -HUP "$pid"
sleep 0.3
printf '%s\n' '{"ts":6,"k":1,"t":"a"}' '{"ts":7,"k":1,"t":"b"}' >&3
exec 3>&-
wait "$pid"
st=$?
expected='{"pattern":"y","key":1,"start":2,"end":2,"events":{"c":[{"ts":2,"k":1,"t":"c"}]}}
{"pattern":"x","key":1,"start":1,"end":3,"events":{"a":[{"ts":1,"k":1,"t":"a"}],"b":[{"ts":3,"k":1,"t":"b"}]}}
{"pattern":"z","key":1,"start":4,"end":5,"events":{"c":[{"ts":4,"k":1,"t":"c"}],"d":[{"ts":5,"k":1,"t":"d"}]}}
{"pattern":"x","key":1,"start":6,"end":7,"events":{"a":[{"ts":6,"k":1,"t":"a"}],"b":[{"ts":7,"k":1,"t":"b"}]}}'
if [ "$st" = 0 ] && [ "$(cat "$TMP/rout")" = "$expected" ] &&
    grep -q "^cepheus: reloaded $TMP/reload.cep: 2 patterns; kept x; new: z; removed: y$" "$TMP/rerr" &&
    grep -q "^cepheus: $TMP/reload.cep not reloaded; the running patterns go on$" "$TMP/rerr"; then ok; else
    ko "SIGHUP under --threads: status $st"
    cat "$TMP/rout" "$TMP/rerr"
fi

# A write error from a shard is reported like one engine's.
if [ -w /dev/full ]; then
    "$CEP" run --threads 2 --output /dev/full --max-delay 2000 "$TMP/two.cep" "$TMP/in.jsonl" \
        >/dev/null 2>"$TMP/err"
    st=$?
    [ "$st" = 4 ] && grep -q "^cepheus: cannot write '/dev/full': No space left on device$" "$TMP/err" && ok ||
        ko "write error: status $st: $(cat "$TMP/err")"
fi

echo "threads: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
