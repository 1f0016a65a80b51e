#!/bin/sh
# cli.sh — part of `make check-oom`: `cepheus run` built on the
# fault-injecting allocator, with allocation N failing (CEP_FAIL_AT=N) and
# with N and every later one failing (CEP_FAIL_AT=N+), for every N the run
# reaches. Each run must exit 0 with the reference output or exit 5 with
# "out of memory", and ASan/LSan must stay silent (exit code 99 otherwise).
# The CLI's own buffers come from malloc and are not counted here.
#   cli.sh SRCDIR BUILDDIR
set -eu
src=$1
bld=$2
cd "$bld"
make -s -j"$(nproc 2>/dev/null || echo 2)" cepheus >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Clicks, purchases (some of the clicked item), one late event, one bad line.
i=0
while [ $i -lt 60 ]; do
    u=$((i % 5))
    echo "{\"ts\":$((1000 + i * 7000)),\"user\":\"u$u\",\"type\":\"click\",\"item\":\"i$((i % 3))\"}"
    echo "{\"ts\":$((4000 + i * 7000)),\"user\":\"u$u\",\"type\":\"purchase\",\"item\":\"i$((i % 2))\",\"price\":$i}"
    i=$((i + 1))
done >"$tmp/ev.jsonl"
echo '{"ts":5,"user":"u1","type":"click","item":"i1"}' >>"$tmp/ev.jsonl"
echo 'not json' >>"$tmp/ev.jsonl"
pat=$src/examples/click_to_purchase/click_to_purchase.cep
export ASAN_OPTIONS=detect_leaks=1:exitcode=99
export UBSAN_OPTIONS=halt_on_error=1:exitcode=99
run() {
    ./cepheus run --max-delay 2000 --timeouts "$tmp/to.jsonl" --output "$tmp/out.jsonl" \
        "$pat" "$tmp/ev.jsonl" 2>"$tmp/err"
}
# loop NAME: run `run` with each allocation failing in turn (N, then N and
# every later one) until none is left to fail; counts into fails.
fails=0
loop() {
    CEP_FAIL_AT= run || { echo "oom-cli: $1: the reference run fails"; cat "$tmp/err"; exit 1; }
    cat "$tmp/out.jsonl" "$tmp/to.jsonl" >"$tmp/ref"
    [ -s "$tmp/out.jsonl" ] || { echo "oom-cli: $1: the reference run matches nothing"; exit 1; }
    points=0 n=1 enomem=0
    while :; do
        for mode in "+" ""; do
            st=0
            CEP_FAIL_AT="$n$mode" run || st=$?
            if [ "$st" -eq 0 ]; then
                cat "$tmp/out.jsonl" "$tmp/to.jsonl" >"$tmp/got"
                if ! cmp -s "$tmp/ref" "$tmp/got"; then
                    echo "oom-cli: $1: FAIL allocation $n$mode failed silently: output differs"
                    fails=$((fails + 1))
                fi
            elif [ "$st" -eq 5 ] && grep -q "out of memory" "$tmp/err"; then
                enomem=$((enomem + 1))
            else
                echo "oom-cli: $1: FAIL allocation $n$mode: exit $st"
                sed 's/^/  /' "$tmp/err" | head -20
                fails=$((fails + 1))
            fi
            points=$((points + 1))
            # Past the last allocation even "every later one" fails nothing.
            [ "$mode" = "+" ] && [ "$st" -eq 0 ] && break 2
        done
        n=$((n + 1))
        if [ $n -gt 20000 ]; then echo "oom-cli: $1: FAIL no end of allocations"; fails=$((fails + 1)); break; fi
    done
    echo "oom-cli: $1, $((n - 1)) allocations, $points runs, $enomem exited 5 (out of memory)"
}
loop "cepheus run"

# A restore after the pattern file changed (cli/checkpoint.c compiles the
# text the checkpoint recorded, restores into it, switches programs).
cp "$pat" "$tmp/a.cep"
printf 'pattern gone key user begin c where type == "click"\n' >>"$tmp/a.cep"
cp "$pat" "$tmp/b.cep"
printf 'pattern new key user begin p where type == "purchase"\n' >>"$tmp/b.cep"
CEP_FAIL_AT= ./cepheus run --max-delay 2000 --checkpoint "$tmp/ck0" --checkpoint-every 50 \
    --timeouts "$tmp/to0.jsonl" --output "$tmp/out0.jsonl" "$tmp/a.cep" "$tmp/ev.jsonl" 2>/dev/null
run() {
    rm -rf "$tmp/ck"
    cp -r "$tmp/ck0" "$tmp/ck"
    cp "$tmp/out0.jsonl" "$tmp/out.jsonl"
    cp "$tmp/to0.jsonl" "$tmp/to.jsonl"
    ./cepheus run --max-delay 2000 --checkpoint "$tmp/ck" --restore "$tmp/ck" --timeouts "$tmp/to.jsonl" \
        --output "$tmp/out.jsonl" "$tmp/b.cep" "$tmp/ev.jsonl" 2>"$tmp/err"
}
loop "cepheus run --restore, patterns changed"
echo "oom-cli: $fails failures"
[ $fails -eq 0 ]
