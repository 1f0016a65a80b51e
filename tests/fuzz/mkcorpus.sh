#!/bin/sh
# mkcorpus.sh — (re)build the fuzzers' seed corpora under tests/fuzz/corpus/
# from the conformance cases, the CLI test files and the examples:
#   fuzz_compile/   each case's pattern text, each .cep file
#   fuzz_json/      each event line
#   fuzz_pipeline/  each case as `% options`, pattern, `---`, events
#   fuzz_snapshot/  payloads of real snapshots of random streams, made by
#                   fuzz_snapshot.c built with -DSNAPSHOT_SEEDS against the
#                   library of a configured, built tree given as CEP_BUILD
#                   (skipped without it); regress_* files there are kept
# Files are named by the SHA-1 of their content, as libFuzzer names its own.
# Usage: [CEP_BUILD=BUILDDIR] tests/fuzz/mkcorpus.sh
#        (from anywhere; rewrites the corpus)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/tests/fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/fuzz_compile" "$tmp/fuzz_json" "$tmp/fuzz_pipeline"

# Split each .test file into cases (blank-line separated; see
# tests/conformance/README.md) and write the three kinds of seed.
for f in "$top"/tests/conformance/*.test; do
    awk -v dir="$tmp" -v base="$(basename "$f" .test)" '
    function flush(   i, sect, pat, ev, opts, line, n) {
        if (nl == 0) return
        sect = 0; pat = ""; ev = ""; opts = ""
        for (i = 1; i <= nl; i++) {
            line = L[i]
            if (sect == 0 && line ~ /^%/) { opts = opts line "\n"; continue }
            if (sect == 0 && line ~ /^#/ && pat == "") continue
            if (line ~ /^---/) { sect++; continue }
            if (sect == 0) pat = pat line "\n"
            else if (sect == 1) {
                ev = ev line "\n"
                if (line !~ /^!watermark/) {
                    n = dir "/fuzz_json/" base "_" cases "_" i
                    printf "%s", line > n; close(n)
                }
            }
        }
        nl = 0
        if (pat == "") return
        cases++
        n = dir "/fuzz_compile/" base "_" cases
        printf "%s", pat > n; close(n)
        n = dir "/fuzz_pipeline/" base "_" cases
        printf "%s%s---\n%s", opts, pat, ev > n; close(n)
    }
    /^[ \t]*$/ { flush(); next }
    { L[++nl] = $0 }
    END { flush() }' "$f"
done

# Pattern files and event files of the CLI tests and the examples.
i=0
for f in "$top"/tests/cli/*.cep "$top"/examples/*/*.cep "$top"/docs/img/*.cep; do
    [ -f "$f" ] || continue
    i=$((i + 1))
    cp "$f" "$tmp/fuzz_compile/file_$i"
done
for f in "$top"/tests/cli/*.jsonl "$top"/examples/*/expected.jsonl; do
    [ -f "$f" ] || continue
    i=$((i + 1))
    head -n 20 "$f" | awk -v p="$tmp/fuzz_json/file_${i}_" '{ n = p NR; printf "%s", $0 > n; close(n) }'
done
ex=$top/examples/click_to_purchase
{
    echo "% max-delay 5000"
    cat "$ex/click_to_purchase.cep"
    echo "---"
    cat "$top/tests/cli/events.jsonl"
} > "$tmp/fuzz_pipeline/click_to_purchase"

# Hostile families (issue 22, docs/errors.md), within the fuzzers' 16 KiB
# inputs: nested looping groups (exponential compile before), long flat
# chains and deep nesting (stack overflow before), optional steps walked
# back for notFollowedBy (cubic before), and a long run read by aggregates
# (quadratic before).
for d in 8 12 30; do
    awk -v d=$d 'BEGIN { printf "pattern p begin "; for (i = 0; i < d; i++) printf "("; printf "a next b"; for (i = 0; i < d; i++) printf ")+"; print "" }' \
        > "$tmp/fuzz_compile/hostile_nested_groups_$d"
done
awk 'BEGIN { printf "pattern p begin "; for (i = 0; i < 6; i++) printf "("; printf "a? notFollowedBy n followedBy b*"; for (i = 0; i < 6; i++) printf ")* greedy"; print " followedBy c" }' \
    > "$tmp/fuzz_compile/hostile_nested_optional_groups"
awk 'BEGIN { printf "pattern p begin a where x == 1"; for (i = 1; i < 600; i++) printf "+1"; print "" }' > "$tmp/fuzz_compile/hostile_sum_600"
awk 'BEGIN { printf "pattern p begin a where x == 1"; for (i = 1; i < 499; i++) printf "+1"; print "" }' > "$tmp/fuzz_compile/hostile_sum_499"
awk 'BEGIN { printf "pattern p begin a where x"; for (i = 1; i < 2000; i++) printf " or x"; print "" }' > "$tmp/fuzz_compile/hostile_or_2000"
awk 'BEGIN { printf "pattern p begin a where "; for (i = 0; i < 600; i++) printf "len("; printf "x"; for (i = 0; i < 600; i++) printf ")"; print " == 1" }' > "$tmp/fuzz_compile/hostile_calls_600"
awk 'BEGIN { printf "pattern p begin a where "; for (i = 0; i < 1500; i++) printf "not "; print "x" }' > "$tmp/fuzz_compile/hostile_nots_1500"
awk 'BEGIN { print "pattern p begin s0"; for (i = 1; i < 700; i++) printf " followedBy s%d?\n", i; print " notFollowedBy n followedBy z" }' > "$tmp/fuzz_compile/hostile_optional_steps"
awk 'BEGIN { print "pattern p begin a{0,10000} next b{10000}" }' > "$tmp/fuzz_compile/hostile_states"
{
    echo "pattern p"
    echo "  begin a where t == \"a\""
    echo "  next b+ where t == \"b\" and (count(b) == 0 or v >= avg(b.v) - 10) consecutive"
    echo "  next c where t == \"c\""
    echo "  emit n = count(b), s = sum(b.v), lo = min(b.v), hi = max(b.v)"
    echo "---"
    echo '{"ts":0,"t":"a"}'
    awk 'BEGIN { for (i = 1; i <= 600; i++) printf "{\"ts\":%d,\"t\":\"b\",\"v\":%d}\n", i, i % 17 }'
    echo '{"ts":601,"t":"c"}'
} > "$tmp/fuzz_pipeline/hostile_aggregate_run"

# Rename by content hash (drops duplicates) into the corpus directory.
for t in fuzz_compile fuzz_json fuzz_pipeline; do
    rm -rf "${out:?}/$t"
    mkdir -p "$out/$t"
    for f in "$tmp/$t"/*; do
        h=$(sha1sum < "$f" | cut -c1-40)
        cp "$f" "$out/$t/$h"
    done
    echo "mkcorpus: $t: $(ls "$out/$t" | wc -l) seeds"
done

# Snapshot payloads: the generator shares the fuzz target's program, so the
# seeds restore under its fingerprint.
if [ -n "${CEP_BUILD:-}" ]; then
    lib=$CEP_BUILD/.libs/libcepcore.a
    [ -f "$lib" ] || { echo "mkcorpus: $lib missing: make libcepcore.la in $CEP_BUILD" >&2; exit 1; }
    mkdir -p "$tmp/fuzz_snapshot"
    # jemalloc only if that build uses it (config.h says).
    jl=
    grep -q 'define CEP_USE_JEMALLOC 1' "$CEP_BUILD/config.h" 2>/dev/null && jl=-ljemalloc
    # shellcheck disable=SC2046
    ${CC:-cc} -O1 -DSNAPSHOT_SEEDS -I"$top/include" -I"$top/util" -o "$tmp/snapseeds" \
        "$top/tests/fuzz/fuzz_snapshot.c" "$lib" $(pkg-config --libs libpcre2-8 yajl libxxhash) $jl -lm
    "$tmp/snapseeds" "$tmp/fuzz_snapshot"
    find "$out/fuzz_snapshot" -type f ! -name 'regress_*' -delete 2>/dev/null || true
    mkdir -p "$out/fuzz_snapshot"
    for f in "$tmp/fuzz_snapshot"/*; do
        h=$(sha1sum < "$f" | cut -c1-40)
        cp "$f" "$out/fuzz_snapshot/$h"
    done
    echo "mkcorpus: fuzz_snapshot: $(ls "$out/fuzz_snapshot" | wc -l) seeds"
else
    echo "mkcorpus: fuzz_snapshot: kept as is (set CEP_BUILD to remake)"
fi
