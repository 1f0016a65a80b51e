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
