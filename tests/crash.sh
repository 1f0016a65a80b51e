#!/bin/sh
# crash.sh — exactly-once across crashes: run `cepheus run --checkpoint` on
# generated events (with a malformed line now and then, for --errors), kill
# -9 it at random moments, restart it with --restore each time, and require
# every output, --errors included, to equal an uninterrupted run's, byte for
# byte. `make check` runs a short form; CRASH_EVENTS, CRASH_KILLS,
# CRASH_KEYS (users; default the example's 12) and CRASH_EVERY make it
# longer (`make check-crash`: 3M events over 1M keys, 20 kills).
# CRASH_THREADS="2 3 1 0" runs the restarts with --threads 2, 3, 1, none,
# 2, ... in turn (tests/crash_threads.sh): each restart restores the
# checkpoint of another number of threads. The matches and timeouts of
# a pool come in another order across keys, so they must be the same
# lines per key, in the same order (as tests/threads.sh); the late events
# and --errors stay byte for byte.
: "${top_srcdir:=.}" "${top_builddir:=.}"
EVENTS=${CRASH_EVENTS:-200000}
KILLS=${CRASH_KILLS:-5}
EVERY=${CRASH_EVERY:-5000}
CEP="$(cd "$top_builddir" && pwd)/cepheus"
GEN="$(cd "$top_builddir" && pwd)/examples/click_to_purchase/gen_events"
PAT="$(cd "$top_srcdir" && pwd)/examples/click_to_purchase/click_to_purchase.cep"
[ -x "$CEP" ] && [ -x "$GEN" ] || { echo "crash.sh: tools not built; skipping"; exit 77; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-crash.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM

if [ -n "${CRASH_KEYS:-}" ]; then
    # Many keys (make check-crash): click_to_purchase's fields over
    # CRASH_KEYS users, an event per user a minute on average, in order.
    awk -v n="$EVENTS" -v u="$CRASH_KEYS" 'BEGIN { srand(18); t0 = 1700000000000
        for (i = 0; i < n; i++) {
            k = int(rand() * u) + 1; ty = rand() < 0.7 ? "click" : "purchase"
            printf "{\"ts\":%.0f,\"user_id\":\"u%d\",\"type\":\"%s\",\"item\":\"i%d\"}\n", t0 + int(i * 60000 / u), k, ty, int(rand() * 8)
        } }'
else
    "$GEN" "$EVENTS"
fi | awk 'NR % 997 == 0 { print "not json " NR } { print }' > "$TMP/events.jsonl"
# Some events are split over two files, so a restart must also find its file.
head -n $((EVENTS / 2)) "$TMP/events.jsonl" > "$TMP/a.jsonl"
tail -n +$((EVENTS / 2 + 1)) "$TMP/events.jsonl" > "$TMP/b.jsonl"
set -- --max-delay 5000 --timeouts "$TMP/timeouts.jsonl" --late "$TMP/late.jsonl" \
    --errors "$TMP/errors.jsonl" --output "$TMP/out.jsonl" "$PAT" "$TMP/a.jsonl" "$TMP/b.jsonl"

THREADS=${CRASH_THREADS:-}
# The threads of run number $1 (counting from 1): "--threads N" or nothing.
threads_of() {
    [ -n "$THREADS" ] || return 0
    set -- "$1" $THREADS
    i=$(( ($1 - 1) % ($# - 1) + 2 ))
    eval "t=\${$i}"
    [ "$t" = 0 ] || printf -- '--threads %s' "$t"
}
# Every other run checkpoints without a rest: with the default rest
# (auto) checkpoints are fewer, each run gets further before its kill,
# and the input could run out before the kills asked for.
rest_of() {
    [ $(($1 % 2)) = 0 ] && printf -- '--checkpoint-min-pause 0'
    return 0
}
# Lines grouped by key, each key's lines in their order.
by_key() {
    sed -E 's/^(.*"key":(.*),"start".*)$/\2	\1/' "$1" | LC_ALL=C sort -s -t '	' -k1,1
}

"$CEP" run "$@" 2> /dev/null || { echo "crash: 0 passed, 1 failed (reference run failed)"; exit 1; }
for f in out timeouts late errors; do mv "$TMP/$f.jsonl" "$TMP/ref-$f.jsonl"; done

mkdir "$TMP/ck"
kills=0
runs=0
seed=$$
# Each kill comes after the run wrote a checkpoint of its own, so every
# restart resumes from one (a fixed pause may end before the first: the
# tool needs more than 100 ms to start and write one on a busy machine).
stamp() { cksum "$TMP/ck/checkpoint" 2> /dev/null; }
while :; do
    runs=$((runs + 1))
    before=$(stamp)
    # shellcheck disable=SC2046 # (the threads and rest options are two words or none)
    "$CEP" run $(threads_of "$runs") $(rest_of "$runs") --checkpoint "$TMP/ck" --checkpoint-every "$EVERY" --restore "$TMP/ck" "$@" \
        2> "$TMP/stderr" &
    pid=$!
    if [ "$kills" -lt "$KILLS" ]; then
        waited=0
        while [ "$(stamp)" = "$before" ] && kill -0 "$pid" 2> /dev/null && [ $waited -lt "${CRASH_WAIT:-3000}" ]; do
            sleep 0.01
            waited=$((waited + 1))
        done
        # Then a pseudo-random pause of 0..90 ms, and kill -9 if still running.
        seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
        ms=$(( seed % 90 ))
        sleep "$(printf '0.%03d' "$ms")"
        if kill -9 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            kills=$((kills + 1))
            continue
        fi
    fi
    wait "$pid" || { echo "crash: 0 passed, 1 failed (run $runs exited $?)"; grep -v ': error: ' "$TMP/stderr"; exit 1; }
    break
done

failed=0
for f in out timeouts late errors; do
    if [ -n "$THREADS" ] && { [ $f = out ] || [ $f = timeouts ]; }; then
        by_key "$TMP/ref-$f.jsonl" > "$TMP/ref-key"
        by_key "$TMP/$f.jsonl" > "$TMP/key"
        same=$(cmp -s "$TMP/ref-key" "$TMP/key" && echo y)
    else
        same=$(cmp -s "$TMP/ref-$f.jsonl" "$TMP/$f.jsonl" && echo y)
    fi
    if [ "$same" != y ]; then
        echo "crash: $f.jsonl differs from the uninterrupted run after $kills kills"
        failed=1
    fi
done
echo "crash: survived $kills kills (each after a checkpoint of its run) in $runs runs over $EVENTS events${CRASH_KEYS:+ of $CRASH_KEYS keys}${THREADS:+ (threads in turn: $THREADS)} with identical output"
echo "crash: $((1 - failed)) passed, $failed failed"
exit "$failed"
