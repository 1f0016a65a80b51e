#!/bin/sh
# metrics.sh — `cepheus run --metrics`: /metrics and /healthz scraped with
# curl while the run reads a FIFO that stays open, the counters exactly what
# was fed (1,000 events, 500 matches, three malformed lines), with one engine,
# with --threads 2 and with checkpoints; 503 while restoring; bad addresses
# and a port in use refused with exit 2; a connection that never sends its
# request does not hold up a scrape and is closed; the systemd unit of
# docs/operations.md passes `systemd-analyze verify`. Run by `make check`.

: "${top_srcdir:=.}"
: "${top_builddir:=.}"

CEP="$(cd "$top_builddir" && pwd)/cepheus"
SRC="$(cd "$top_srcdir" && pwd)"
if ! command -v curl >/dev/null 2>&1; then
    echo "metrics.sh: curl is missing (build.sh installs it)"
    exit 1
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-metrics.XXXXXX") || exit 1
pids=
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

passed=0
failed=0
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); echo "FAIL: $*"; }

cat > "$TMP/pat.cep" <<'EOF'
# Per user: an "a" event, then at once a "b" event.
pattern pair
  key user
  begin a where type == "a"
  next b where type == "b"

pattern never
  key user
  begin z where type == "z"
EOF
# 500 users, an "a" then a "b" each: 1,000 events, 500 matches; then three
# malformed lines (bad JSON, not an object, no time).
i=0
while [ $i -lt 500 ]; do
    echo "{\"ts\":$((2 * i)),\"user\":\"u$i\",\"type\":\"a\"}"
    echo "{\"ts\":$((2 * i + 1)),\"user\":\"u$i\",\"type\":\"b\"}"
    i=$((i + 1))
done > "$TMP/events.jsonl"
printf '{bad\n[1]\n{"user":"x"}\n' >> "$TMP/events.jsonl"

# The exposition expected after all of it, without the process_* lines
# (they vary) and with the checkpoint lines cut to their names.
cat > "$TMP/expected" <<'EOF'
# HELP cepheus_input_records_total Input lines (not blank) or Kafka messages read, malformed ones included.
# TYPE cepheus_input_records_total counter
cepheus_input_records_total 1003
# HELP cepheus_events_total Events the engines accepted for matching.
# TYPE cepheus_events_total counter
cepheus_events_total 1000
# HELP cepheus_matches_total Matches written, by pattern.
# TYPE cepheus_matches_total counter
cepheus_matches_total{pattern="pair"} 500
cepheus_matches_total{pattern="never"} 0
# HELP cepheus_timeouts_total Partial matches whose within window or gap closed.
# TYPE cepheus_timeouts_total counter
cepheus_timeouts_total 0
# HELP cepheus_late_events_total Events older than the watermark (less the allowed lateness): not matched.
# TYPE cepheus_late_events_total counter
cepheus_late_events_total 0
# HELP cepheus_late_events_matched_total Events behind the watermark but within the allowed lateness: matched.
# TYPE cepheus_late_events_matched_total counter
cepheus_late_events_matched_total 0
# HELP cepheus_malformed_lines_total Input lines or messages rejected, by reason.
# TYPE cepheus_malformed_lines_total counter
cepheus_malformed_lines_total{reason="json"} 1
cepheus_malformed_lines_total{reason="not_object"} 1
cepheus_malformed_lines_total{reason="time"} 1
cepheus_malformed_lines_total{reason="range"} 0
cepheus_malformed_lines_total{reason="too_deep"} 0
cepheus_malformed_lines_total{reason="too_long"} 0
cepheus_malformed_lines_total{reason="watermark"} 0
# HELP cepheus_dropped_partial_matches_total Partial matches dropped, by cause: --max-partial-matches, --state-ttl, --max-memory.
# TYPE cepheus_dropped_partial_matches_total counter
cepheus_dropped_partial_matches_total{cause="limit"} 0
cepheus_dropped_partial_matches_total{cause="ttl"} 0
cepheus_dropped_partial_matches_total{cause="memory"} 0
# HELP cepheus_buffered_events_run_early_total Buffered events run before the watermark reached them, to keep within --max-memory.
# TYPE cepheus_buffered_events_run_early_total counter
cepheus_buffered_events_run_early_total 0
# HELP cepheus_regex_errors_total Regular-expression matches stopped by PCRE2's limits (counted as no match).
# TYPE cepheus_regex_errors_total counter
cepheus_regex_errors_total 0
# HELP cepheus_partial_matches Partial matches alive now.
# TYPE cepheus_partial_matches gauge
cepheus_partial_matches 0
# HELP cepheus_keys (pattern, key) states holding something now.
# TYPE cepheus_keys gauge
cepheus_keys 0
# HELP cepheus_state_bytes Bytes of matching state now (approximate).
# TYPE cepheus_state_bytes gauge
cepheus_state_bytes N
# HELP cepheus_buffered_events Events waiting for the watermark (--max-delay).
# TYPE cepheus_buffered_events gauge
cepheus_buffered_events 0
# HELP cepheus_watermark_lag_seconds How far the watermark trails the newest event time seen (Kafka: the largest of the partitions').
# TYPE cepheus_watermark_lag_seconds gauge
cepheus_watermark_lag_seconds 0
# HELP cepheus_watermark_seconds The event-time watermark, Unix seconds.
# TYPE cepheus_watermark_seconds gauge
cepheus_watermark_seconds 0.999
EOF
cat > "$TMP/expected_process" <<'EOF'
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
# HELP process_start_time_seconds Start time of the process since the Unix epoch in seconds.
# TYPE process_start_time_seconds gauge
EOF

# start NAME ARGS...: `cepheus run --metrics 127.0.0.1:0 ARGS... $TMP/in`
# in the background; sets $pid and $port (read from its message).
start() {
    sname=$1
    shift
    rm -f "$TMP/in" "$TMP/err"
    mkfifo "$TMP/in" || exit 1
    "$CEP" run --metrics 127.0.0.1:0 "$@" "$TMP/in" 2>"$TMP/err" &
    pid=$!
    pids="$pids $pid"
    port=
    n=0
    while [ -z "$port" ] && [ $n -lt 100 ]; do
        port=$(sed -n 's|^cepheus: metrics at http://127\.0\.0\.1:\([0-9]*\)/metrics and /healthz$|\1|p' "$TMP/err" 2>/dev/null)
        [ -n "$port" ] || sleep 0.1
        n=$((n + 1))
    done
    [ -n "$port" ] || { ko "$sname: no metrics address: $(cat "$TMP/err")"; return 1; }
}

# scrape PATH: the body to $TMP/body, the status code on stdout.
scrape() {
    curl -s -m 10 -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$port$1"
}

# feed NAME EXTRA_EXPECTED [UNTIL]: write the events into the FIFO (kept
# open), scrape until every event is counted (and the line UNTIL is there),
# compare, then close and wait. With --checkpoint, 100 lines at a time, 0.3 s
# apart: a checkpoint's writer (a child) is done before the next is due.
# wait_metric REGEX TRIES: scrape /metrics (into $TMP/body) every 0.1 s
# until a line matches REGEX, at most TRIES times.
wait_metric() {
    _n=0
    while [ "$_n" -lt "$2" ]; do
        scrape /metrics >/dev/null
        grep -q "$1" "$TMP/body" && return 0
        sleep 0.1
        _n=$((_n + 1))
    done
    return 1
}

feed() {
    name=$1
    exec 3>"$TMP/in"
    if [ -n "${3:-}" ]; then
        # Each chunk's checkpoint is written before the next chunk comes
        # (a writer still at work when the next is due postpones it, and
        # on a loaded machine that would merge two into one).
        for k in 1 2 3 4 5 6 7 8 9; do
            sed -n "$((k * 100 - 99)),$((k * 100))p" "$TMP/events.jsonl" >&3
            wait_metric "^cepheus_checkpoints_total $k\$" 300
        done
        sed -n '901,$p' "$TMP/events.jsonl" >&3
    else
        cat "$TMP/events.jsonl" >&3
    fi
    n=0
    while [ $n -lt 100 ]; do
        code=$(scrape /metrics)
        grep -q '^cepheus_input_records_total 1003$' "$TMP/body" &&
            { [ -z "${3:-}" ] || grep -q "^$3\$" "$TMP/body"; } && break
        sleep 0.1
        n=$((n + 1))
    done
    if [ "$code" != 200 ]; then ko "$name: /metrics status $code"; fi
    # Every metric has its HELP and TYPE, each once.
    awk '/^# HELP / { h[$3]++ } /^# TYPE / { t[$3]++ } !/^#/ { m = $1; sub(/[{].*/, "", m); u[m] = 1 }
         END { bad = 0
               for (m in u) if (h[m] != 1 || t[m] != 1) { print "not one HELP and one TYPE: " m; bad = 1 }
               exit bad }' "$TMP/body" >"$TMP/help" 2>&1 || ko "$name: $(cat "$TMP/help")"
    grep '^process_' "$TMP/body" | grep -Eq '^process_resident_memory_bytes [1-9][0-9]*$' ||
        ko "$name: no resident memory"
    cp "$TMP/body" "$TMP/metrics"
    # The state's bytes include each engine's key table and arrays (the
    # memory budget's measure, docs/state.md): a number, not a fixed one.
    grep -Ev '^(# [A-Z]+ )?process_' "$TMP/body" | grep -v '^cepheus_checkpoint' |
        sed -E 's/^cepheus_state_bytes [0-9]+$/cepheus_state_bytes N/' > "$TMP/got"
    grep '^# [A-Z]* process_' "$TMP/body" | cmp -s - "$TMP/expected_process" || ko "$name: process_* HELP/TYPE"
    if cmp -s "$TMP/got" "$TMP/expected$2"; then ok; else
        ko "$name: metrics differ:"
        diff "$TMP/expected$2" "$TMP/got"
    fi
    code=$(scrape /healthz)
    [ "$code" = 200 ] && [ "$(cat "$TMP/body")" = ok ] && ok || ko "$name: /healthz $code $(cat "$TMP/body")"
    exec 3>&-
    wait "$pid"
    st=$?
    [ "$st" = 0 ] && ok || ko "$name: exit status $st: $(cat "$TMP/err")"
}

# One engine.
if start "one engine" -o "$TMP/out" "$TMP/pat.cep"; then
    code=$(scrape /nowhere)
    [ "$code" = 404 ] && ok || ko "404: $code"
    feed "one engine" ""
    [ "$(wc -l < "$TMP/out")" -eq 500 ] && ok || ko "one engine: $(wc -l < "$TMP/out") matches written"
fi

# --threads 2: the totals over the pool's engines.
if start "threads" --threads 2 -o "$TMP/out" "$TMP/pat.cep"; then
    feed "threads" ""
fi

# A budget the out-of-order buffer cannot keep within: the events it runs
# early are counted (cepheus_buffered_events_run_early_total).
if start "run early" --max-delay 1000000000 --max-memory 16K -o "$TMP/out" "$TMP/pat.cep"; then
    exec 3>"$TMP/in"
    cat "$TMP/events.jsonl" >&3
    wait_metric '^cepheus_input_records_total 1003$' 100
    early=$(sed -n 's/^cepheus_buffered_events_run_early_total //p' "$TMP/body")
    [ "${early:-0}" -gt 500 ] && ok || ko "run early: cepheus_buffered_events_run_early_total '$early'"
    exec 3>&-
    wait "$pid"
fi

# Checkpoints every 100 lines: 10 of them, each with a duration, a size
# and a pause (the fork of its writer).
cp "$TMP/expected" "$TMP/expected_ckpt"
cat >> "$TMP/expected_ckpt" <<'EOF'
# HELP cepheus_checkpoints_total Checkpoints written (Kafka: transactions committed with state).
# TYPE cepheus_checkpoints_total counter
# HELP cepheus_checkpoints_failed_total Checkpoints that failed (Kafka: transactions aborted).
# TYPE cepheus_checkpoints_failed_total counter
# HELP cepheus_checkpoint_duration_seconds Duration of the last checkpoint (0: none yet).
# TYPE cepheus_checkpoint_duration_seconds gauge
# HELP cepheus_checkpoint_size_bytes Size of the last checkpoint (0: none yet).
# TYPE cepheus_checkpoint_size_bytes gauge
# HELP cepheus_checkpoint_pause_seconds How long matching stopped to start the last checkpoint (0: none yet).
# TYPE cepheus_checkpoint_pause_seconds gauge
# HELP cepheus_checkpoint_pause_max_seconds The longest a checkpoint or savepoint stopped matching so far (0: none yet).
# TYPE cepheus_checkpoint_pause_max_seconds gauge
EOF
mkdir -p "$TMP/ck"
if start "checkpoints" --checkpoint "$TMP/ck" --checkpoint-every 100 -o "$TMP/out" "$TMP/pat.cep"; then
    feed "checkpoints" "_ckpt" "cepheus_checkpoints_total 10"
    grep -q '^cepheus_checkpoints_total 10$' "$TMP/metrics" && grep -q '^cepheus_checkpoints_failed_total 0$' "$TMP/metrics" &&
        grep -Eq '^cepheus_checkpoint_duration_seconds [0-9.e-]+$' "$TMP/metrics" &&
        grep -Eq '^cepheus_checkpoint_pause_seconds [0-9.e-]+$' "$TMP/metrics" &&
        grep -Eq '^cepheus_checkpoint_pause_max_seconds [0-9.e-]+$' "$TMP/metrics" &&
        grep -Eq "^cepheus_checkpoint_size_bytes $(wc -c < "$TMP/ck/checkpoint")$" "$TMP/metrics" && ok ||
        ko "checkpoint metrics: $(grep checkpoint "$TMP/metrics")"
fi

# 503 while restoring: with --restore the engine is restored after the
# inputs are open, and opening the FIFO waits for its writer.
rm -rf "$TMP/ck2" && mkdir -p "$TMP/ck2"
if start "restoring" --restore "$TMP/ck2" --checkpoint "$TMP/ck2" -o "$TMP/out" "$TMP/pat.cep"; then
    code=$(scrape /healthz)
    [ "$code" = 503 ] && [ "$(cat "$TMP/body")" = restoring ] && ok || ko "restoring: /healthz $code $(cat "$TMP/body")"
    # /metrics answers at once meanwhile (the run loop is not there yet).
    code=$(scrape /metrics)
    [ "$code" = 200 ] && grep -q '^cepheus_events_total 0$' "$TMP/body" && ok || ko "restoring: /metrics $code"
    exec 3>"$TMP/in"
    exec 3>&-
    wait "$pid"
fi

# A client that connects and never sends its request holds up no scrape,
# and is closed after the connection timeout (5 s).
if start "stalled" -o "$TMP/out" "$TMP/pat.cep"; then
    python3 - "$port" >"$TMP/stall" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metrics HTTP/1.1\r\n")  # never finished
s.settimeout(15)
t = time.time()
try:
    got = s.recv(100)
except Exception as e:
    got = repr(e).encode()
print("closed after %.0f s: %r" % (time.time() - t, got))
EOF
    stall=$!
    sleep 0.3
    code=$(scrape /healthz)
    [ "$code" = 200 ] && ok || ko "stalled: another client's /healthz: $code"
    wait "$stall"
    grep -Eq "^closed after [4-7] s: b''$" "$TMP/stall" && ok || ko "stalled: $(cat "$TMP/stall")"
    exec 3>"$TMP/in"
    exec 3>&-
    wait "$pid"
fi

# refused NAME ADDRESS MESSAGE: exit 2 with that message, before any input.
refused() {
    "$CEP" run --metrics "$2" "$TMP/pat.cep" /dev/null >/dev/null 2>"$TMP/err2"
    st=$?
    if [ "$st" = 2 ] && [ "$(cat "$TMP/err2")" = "$3" ]; then ok; else
        ko "$1: status $st: $(cat "$TMP/err2")"
    fi
}
refused "no port" 127.0.0.1 \
    "cepheus: invalid --metrics '127.0.0.1': expected ADDRESS:PORT (127.0.0.1:9464, [::1]:9464, localhost:9464, 0.0.0.0:9464)"
refused "port too large" 127.0.0.1:65536 \
    "cepheus: invalid --metrics '127.0.0.1:65536': expected ADDRESS:PORT (127.0.0.1:9464, [::1]:9464, localhost:9464, 0.0.0.0:9464)"
refused "bare IPv6" ::1:9464 \
    "cepheus: invalid --metrics '::1:9464': expected ADDRESS:PORT (127.0.0.1:9464, [::1]:9464, localhost:9464, 0.0.0.0:9464)"
refused "not an address of this host" 192.0.2.1:9464 \
    "cepheus: --metrics '192.0.2.1:9464': cannot listen: Cannot assign requested address"
if start "port in use" -o "$TMP/out" "$TMP/pat.cep"; then
    refused "port in use" "127.0.0.1:$port" "cepheus: --metrics '127.0.0.1:$port': cannot listen: Address already in use"
    exec 3>"$TMP/in"
    exec 3>&-
    wait "$pid"
fi

# The unit file of docs/operations.md.
if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir -p "$TMP/unit"
    sed "s|/usr/local/bin/cepheus|$CEP|" "$SRC/docs/cepheus.service" > "$TMP/unit/cepheus.service"
    # Quiet and 0: a warning (an unknown setting, a bad value) fails too.
    if systemd-analyze verify "$TMP/unit/cepheus.service" >"$TMP/verify" 2>&1 && [ ! -s "$TMP/verify" ]; then ok; else
        ko "systemd-analyze verify: $(cat "$TMP/verify")"
    fi
else
    echo "metrics.sh: systemd-analyze is not installed (Debian: systemd): the unit file is not verified"
fi

echo "metrics: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
