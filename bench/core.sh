#!/bin/sh
# core.sh — `make bench-core`: Cepheus against CORE (PVLDB 2022), the
# automaton engine built for every-combination patterns, on CORE's stock
# query `other-q2` (issue 23; docs/performance.md). For each STEP, one
# stream of EVENTS events goes through CORE's `offline` driver and
# `cepheus run` in the same run; the match counts must agree. Prints the
# table: matches, CORE's engine time, `cepheus run` (whole process, matches
# written to a file), the ratio, and the same run with --output-form
# positions, with the bytes a match costs in each form.
#
#   bench/core.sh CEPHEUS [STEPS]     (default STEPS: 200 100 50 25)
#
# CORE_PEER  the folder with CORE's build script and workload
#            (default: ../shared/peers/core next to the source tree)
# CORE_BIN   CORE's offline binary (default: $CORE_ROOT/core/build/offline);
#            when it is missing and CORE_MIRRORS (default /work/.mirror)
#            holds the git mirrors, $CORE_PEER/build.sh builds it into
#            CORE_ROOT (default ${TMPDIR:-/tmp}/peers, about 10 minutes);
#            otherwise only the Cepheus side runs, and the table says why.
# EVENTS     events per stream (default 1000000); WORK: scratch folder.
set -eu
CEP=${1:?usage: core.sh CEPHEUS [STEPS]}
shift
STEPS=${*:-200 100 50 25}
here=$(cd "$(dirname "$0")" && pwd)
PEER=${CORE_PEER:-$here/../../shared/peers/core}
ROOT=${CORE_ROOT:-${TMPDIR:-/tmp}/peers}
BIN=${CORE_BIN:-$ROOT/core/build/offline}
MIRRORS=${CORE_MIRRORS:-/work/.mirror}
EVENTS=${EVENTS:-1000000}
WORK=${WORK:-${TMPDIR:-/tmp}/cepheus-bench-core.$$}
[ -f "$PEER/stocks_q2.cep" ] || { echo "bench-core: no CORE workload in '$PEER' (set CORE_PEER)" >&2; exit 2; }
PEER=$(cd "$PEER" && pwd)
case $CEP in /*) ;; *) CEP=$(pwd)/$CEP ;; esac

core_note=
if [ ! -x "$BIN" ]; then
    if [ -d "$MIRRORS/CORE-cer+CORE/repo" ] && [ -d "$MIRRORS/antlr+antlr4/repo" ] &&
        [ -d "$MIRRORS/odygrd+quill/repo" ] && [ -d "$MIRRORS/p-ranav+argparse/repo" ]; then
        mkdir -p "$ROOT"
        # build.sh starts by deleting its source tree: one build at a time.
        if mkdir "$ROOT/build.lock" 2> /dev/null; then
            echo "bench-core: building CORE into $ROOT (log: $ROOT/build.log)" >&2
            if ! MIRRORS="$MIRRORS" ROOT="$ROOT" bash "$PEER/build.sh" > "$ROOT/build.log" 2>&1; then
                core_note="CORE's build failed (see $ROOT/build.log)"
            fi
            rmdir "$ROOT/build.lock"
            [ -z "$core_note" ] && [ ! -x "$BIN" ] && core_note="CORE's build made no $BIN"
        else
            core_note="another CORE build is under way in $ROOT (or $ROOT/build.lock was left behind)"
        fi
    else
        core_note="no CORE binary ($BIN) and no git mirrors in $MIRRORS to build it from"
    fi
fi
[ -n "$core_note" ] && echo "bench-core: $core_note: Cepheus side only" >&2

mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT INT TERM
cd "$WORK"
# Wall seconds, CPU seconds (user + system) and peak RSS (kB) of a
# command, as "WALL CPU KB"; its standard output goes to $1, its standard
# error to $2. CPU time is the fairer measure on a loaded machine.
timed() {
    out=$1 err=$2
    shift 2
    /usr/bin/time -f "%e %U %S %M" -o t.txt "$@" > "$out" 2> "$err" || { cat "$err" >&2; return 1; }
    awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' t.txt
}
printf '| STEP | matches | CORE engine | CORE CPU | `cepheus run` | cepheus CPU | ratio (engine / wall) | ratio (CPU) | B/match | positions CPU | B/match | cepheus RSS |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
status=0
for step in $STEPS; do
    python3 "$PEER/gen_stocks.py" "$EVENTS" "$step" 7 s.csv s.jsonl
    core_s=- core_c=- core_n=-
    if [ -z "$core_note" ]; then
        # CORE writes logs/ in its working folder.
        set -- $(timed core.out core.err "$BIN" -q "$PEER/stocks_q2.core" -d "$PEER/stocks_declaration.core" -c s.csv)
        core_c=$2
        core_s=$(sed -n 's/.*engine_seconds=\([0-9.]*\).*/\1/p' core.err)
        core_n=$(grep -c '^\[' core.out || true)
        rm -f core.out
    fi
    set -- $(timed /dev/null err.txt "$CEP" run -q --time-field stock_time "$PEER/stocks_q2.cep" s.jsonl --output full.out)
    cep_s=$1 cep_c=$2 cep_kb=$3
    cep_n=$(wc -l < full.out)
    full_b=$(wc -c < full.out)
    rm -f full.out
    set -- $(timed /dev/null err.txt "$CEP" run -q --time-field stock_time --output-form positions \
        "$PEER/stocks_q2.cep" s.jsonl --output pos.out)
    pos_c=$2
    pos_n=$(wc -l < pos.out)
    pos_b=$(wc -c < pos.out)
    rm -f pos.out s.csv s.jsonl
    if [ "$pos_n" != "$cep_n" ] || { [ "$core_n" != - ] && [ "$core_n" != "$cep_n" ]; }; then
        echo "bench-core: STEP $step: match counts differ: CORE $core_n, cepheus $cep_n, positions $pos_n" >&2
        status=1
    fi
    awk -v st="$step" -v n="$cep_n" -v cs="$core_s" -v cc="$core_c" -v s="$cep_s" -v c="$cep_c" -v fb="$full_b" \
        -v pc="$pos_c" -v pb="$pos_b" -v kb="$cep_kb" 'BEGIN {
        t = cs == "-" ? "| - | - | - | - " : sprintf("| %.2f s | %.2f s | %.2f s | %.2f s | %.1f× | %.1f× ", cs, cc, s, c,
            s > 0 ? cs / s : 0, c > 0 ? cc / c : 0)
        if (cs == "-") t = sprintf("| - | - | %.2f s | %.2f s | - | - ", s, c)
        printf "| %s | %d %s| %d | %.2f s | %d | %.0f MB |\n", st, n, t, n ? fb / n : 0, pc, n ? pb / n : 0, kb / 1024 }'
done
[ -n "$core_note" ] && echo "(CORE not run: $core_note)"
exit $status
