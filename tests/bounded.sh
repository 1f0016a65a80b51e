#!/bin/sh
# bounded.sh — bounded resources: streams N events (BOUNDED_EVENTS, default
# 100000 for make check; `make check-long` runs 10 million) through
# `cepheus run` and checks peak RSS and time stay bounded:
#   garbage   every kind of malformed line (random bytes, cut JSON, arrays,
#             bad times), each skipped and counted
#   keys      N distinct keys, each starting a partial match that its
#             `within` window closes: live state stays ~window-sized
#   collide   N distinct keys that all collide under a naive string hash
#             (Java's hashCode: "Aa" and "BB" hash alike, so every string of
#             such blocks does); keys go through seeded XXH3, so they spread
# Prints `bounded: N passed, M failed`.
: "${top_srcdir:=.}" "${top_builddir:=.}"
CEP="$(cd "$top_builddir" && pwd)/cepheus"
[ -x "$CEP" ] || { echo "bounded.sh: $CEP is not built; skipping"; exit 77; }
N=${BOUNDED_EVENTS:-100000}
MAX_RSS_KB=${BOUNDED_MAX_RSS_KB:-262144}       # 256 MiB
MAX_SECONDS=${BOUNDED_MAX_SECONDS:-$(( N / 2000 + 30 ))}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-bounded.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
passed=0
failed=0
have_time=no
[ -x /usr/bin/time ] && have_time=yes

cat > "$TMP/p.cep" <<'P'
pattern p
  key k
  begin a where t == "a"
  followedBy b where t == "b" and n > a.n
  within 1s
P

# measure NAME GENERATOR-AWK-PROGRAM: runs awk | cepheus, checks bounds.
measure() {
    name=$1
    start=$(date +%s)
    if [ $have_time = yes ]; then
        awk -v n="$N" "$2" | /usr/bin/time -f '%M' -o "$TMP/rss" \
            "$CEP" run --stats --max-line-bytes 65536 "$TMP/p.cep" > "$TMP/out" 2> "$TMP/err"
        st=$?
        kb=$(tail -n 1 "$TMP/rss")
    else
        awk -v n="$N" "$2" | "$CEP" run --stats --max-line-bytes 65536 "$TMP/p.cep" \
            > "$TMP/out" 2> "$TMP/err"
        st=$?
        kb=0
    fi
    secs=$(( $(date +%s) - start ))
    read_=$(sed -n 's/^events read: //p' "$TMP/err")
    bad_=$(sed -n 's/^malformed lines: //p' "$TMP/err")
    peak=$(sed -n 's/^peak partial matches: //p' "$TMP/err")
    echo "bounded: $name: $N events, ${secs}s, peak RSS ${kb} KiB, read $read_, malformed $bad_, peak partial matches $peak"
    why=
    [ $st = 0 ] || why="exit $st"
    [ -z "$why" ] && [ "$kb" -gt "$MAX_RSS_KB" ] && why="peak RSS ${kb} KiB > ${MAX_RSS_KB}"
    [ -z "$why" ] && [ "$secs" -gt "$MAX_SECONDS" ] && why="${secs}s > ${MAX_SECONDS}s"
    [ -z "$why" ] && [ -n "$3" ] && ! eval "$3" && why="check failed: $3"
    if [ -z "$why" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name: $why"; fi
}

# Garbage: seven kinds of bad line in turn, one in 7 a random-bytes line.
measure garbage '
BEGIN {
    srand(1)
    for (i = 0; i < n; i++) {
        k = i % 7
        if (k == 0) { s = ""; m = int(rand() * 200); for (j = 0; j < m; j++) { c = int(rand() * 254) + 1; if (c == 10) c = 11; s = s sprintf("%c", c) } print s }
        else if (k == 1) print "{\"ts\":" i ",\"k\":\"x"
        else if (k == 2) print "[" i "]"
        else if (k == 3) print "{\"ts\":\"not a time\",\"k\":1}"
        else if (k == 4) print "{\"k\":1,\"t\":\"a\"}"
        else if (k == 5) print "{\"ts\":" i ",\"n\":1e999}"
        else print "{\"ts\":" i ",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"
    }
}' '[ "$bad_" -ge $((N * 6 / 7 - 1)) ]'

# Distinct keys: one per event, each opening a 1 s window; events 1 ms apart.
measure keys '
BEGIN { for (i = 0; i < n; i++) printf "{\"ts\":%d,\"k\":\"user-%d\",\"t\":\"a\",\"n\":%d}\n", i, i, i % 100 }
' '[ "$bad_" = 0 ] && [ "$peak" -le 1001 ]'

# Colliding keys: 20 blocks of "Aa" or "BB" (the bits of i): all of them
# have one Java hashCode.
measure collide '
BEGIN {
    for (i = 0; i < n; i++) {
        s = ""; v = i
        for (j = 0; j < 24; j++) { s = s ((v % 2) ? "BB" : "Aa"); v = int(v / 2) }
        printf "{\"ts\":%d,\"k\":\"%s\",\"t\":\"a\",\"n\":1}\n", i, s
    }
}' '[ "$bad_" = 0 ] && [ "$peak" -le 1001 ]'

[ $have_time = yes ] || echo "bounded: /usr/bin/time missing (apt-get install time): RSS not measured"
echo "bounded: $passed passed, $failed failed"
[ $failed = 0 ]
