#!/bin/sh
# metrics_scrape.sh CEPHEUS [KEYS] [run options...]: the time of a /metrics
# scrape while `cepheus run --metrics` holds KEYS keys (default 1000000),
# each with a partial match, reading a FIFO kept open; 20 scrapes of
# /metrics and 20 of /healthz (which needs no copy from the run loop), timed
# by curl (docs/operations.md). Needs python3 and curl.
set -eu
CEP=$1
KEYS=${2:-1000000}
shift
[ $# -gt 0 ] && shift
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-scrape.XXXXXX")
pid=
trap 'exec 3>&- 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
cat > "$TMP/p.cep" <<'PAT'
pattern pair
  key user
  begin a where type == "a"
  followedBy b where type == "b"
PAT
python3 -c "
import sys
w = sys.stdout.write
for i in range($KEYS):
    w('{\"ts\":%d,\"user\":%d,\"type\":\"a\"}\n' % (i, i))
" > "$TMP/a.jsonl"
mkfifo "$TMP/in"
"$CEP" run --metrics 127.0.0.1:0 "$@" -o /dev/null "$TMP/p.cep" "$TMP/in" 2>"$TMP/err" &
pid=$!
port=
while [ -z "$port" ]; do
    sleep 0.1
    port=$(sed -n 's|^cepheus: metrics at http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' "$TMP/err")
done
exec 3>"$TMP/in"
cat "$TMP/a.jsonl" >&3
until curl -s "http://127.0.0.1:$port/metrics" | grep -q "^cepheus_events_total $KEYS\$"; do sleep 0.2; done
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^cepheus_(keys|partial_matches|state_bytes) |^process_resident'
for path in /metrics /healthz; do
    for i in $(seq 20); do
        curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$path"
    done | sort -n | awk -v p="$path" '{ a[NR] = $1 }
        END { printf "%s: %d scrapes, seconds: min %s, median %s, max %s\n", p, NR, a[1], a[int((NR + 1) / 2)], a[NR] }'
done
exec 3>&-
wait "$pid"
pid=
