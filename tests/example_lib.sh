# example_lib.sh — sourced by tests/example_*.sh: the set-up and checks every
# example test shares. Before sourcing, set `name` (the test's name, used in
# messages and the final count) and `exdir` (the example's directory under
# examples/). Afterwards: SRC and B (source and build trees), ex (the example
# in the source tree), a temporary working directory that is the current
# one and goes away at exit, ok/ko/same to count checks, finish to report.
: "${top_srcdir:=.}" "${top_builddir:=.}"
SRC=$(cd "$top_srcdir" && pwd) && B=$(cd "$top_builddir" && pwd) || exit 1
ex="$SRC/examples/$exdir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }
same() { if diff -u "$2" "$3"; then ok; else ko "$1 differs from $(basename "$2")"; fi; }

# The fraud examples' summary, and their chart when gnuplot is installed.
fraud_summary() {
    sh "$SRC/examples/fraud/summary.sh" alerts.jsonl > summary.txt || ko "summary.sh failed"
    same "summary" "$ex/expected_summary.txt" summary.txt
    if command -v gnuplot >/dev/null 2>&1; then
        sh "$SRC/examples/fraud/summary.sh" alerts.jsonl alerts.png > /dev/null &&
            [ "$(od -An -tx1 -N4 alerts.png | tr -d ' ')" = 89504e47 ] && ok ||
            ko "no PNG chart from gnuplot"
    fi
}

finish() {
    echo "$name: $pass passed, $fail failed"
    [ "$fail" = 0 ]
    exit
}
