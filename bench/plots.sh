#!/bin/sh
# plots.sh — draws the charts of docs/performance.md from the TSV that
# `make bench` writes (cepbench --tsv): events/second against keys, pattern
# length, window and (W8) number of rules, and peak RSS against keys. Usage: plots.sh RESULTS OUTDIR
set -eu
tsv=${1:?usage: plots.sh RESULTS.tsv OUTDIR}
out=${2:?usage: plots.sh RESULTS.tsv OUTDIR}
command -v gnuplot >/dev/null || { echo "plots.sh: gnuplot is needed: apt-get install gnuplot-nox" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Columns: work config keys events windows events/s ns/event RSS_MB B/pm
# ev/pm alloc/ev peak_pm matches.
series() { # series FILE WORK CONFIG XCOL YCOL: rows of one workload line
    awk -F'\t' -v w="$2" -v c="$3" -v x="$4" -v y="$5" \
        '$1 == w && $2 == c { print $x, $y }' "$tsv" | sort -n >"$tmp/$1"
}

for s in "W1 click->purchase:w1" "W1 click->purchase base:w1b" "W2 b{3,} then large:w2" \
         "W3 L=3:w3" "W3 L=3 never:w3n" "W5 abandoned cart:w5" "W7 100 patterns:w7" \
         "CLI W1 jsonl->jsonl:cli"; do
    name=${s%:*}; file=${s##*:}
    series "k_$file" "${name%% *}" "${name#* }" 3 6
    series "r_$file" "${name%% *}" "${name#* }" 3 8
done
w6=$(awk -F'\t' '$1 == "W6" { print $2; exit }' "$tsv")
series k_w6 W6 "$w6" 3 6
series r_w6 W6 "$w6" 3 8

# Pattern length and window: at the smallest key count, where every run
# spans many windows (the steady state).
kmin=$(awk -F'\t' '$1 == "W3" { print $3 }' "$tsv" | sort -n | head -n 1)
for v in "::c" " never::n" " base::b" " never base::nb"; do
    suf=${v%%::*}; f=${v##*::}
    awk -F'\t' -v k="$kmin" -v s="$suf" '$1 == "W3" && $3 == k {
        c = $2; sub(/^L=/, "", c); L = c + 0; rest = c; sub(/^[0-9]+/, "", rest);
        if (rest == s) print L, $6 }' "$tsv" | sort -n >"$tmp/l_$f"
done
# Only key counts whose 8T run spans at least two windows: with fewer, no
# partial match ever expires and the window cannot show.
w4keys=$(awk -F'\t' '$1 == "W4" && $2 ~ /^8T/ && $5 >= 2 { print $3 }' "$tsv" | sort -nu)
for k in $w4keys; do
    for v in "::c" " never::n"; do
        suf=${v%%::*}; f=${v##*::}
        awk -F'\t' -v k="$k" -v s="$suf" '$1 == "W4" && $3 == k {
            c = $2; m = c + 0; rest = c; sub(/^[0-9]+T/, "", rest);
            if (rest == s) print m, $6 }' "$tsv" | sort -n >"$tmp/w_${f}_$k"
    done
done

# W8: events/second against the number of rules (config "dense 100 rules",
# "sparse 1000 rules CLI", ...).
for v in "dense::d" "sparse::s" "dense CLI::dc" "sparse CLI::sc"; do
    kind=${v%%::*}; f=${v##*::}
    awk -F'\t' -v want="$kind" '$1 == "W8" {
        n = split($2, a, " "); if (n < 3 || a[3] != "rules") next;
        k = a[1]; if (n >= 4) k = k " " a[4];
        if (k == want) print a[2], $6 }' "$tsv" | sort -n >"$tmp/n_$f"
done

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown)
common="set terminal pngcairo size 900,560 font 'DejaVu Sans,11'; set grid; set key outside right top;"
# Drop series whose data file is empty: gnuplot refuses to plot them.
plotcmd() { # plotcmd PREFIX "file:title" ...
    pre=$1; shift
    cmd=""
    i=0
    for s in "$@"; do
        f=${s%%:*}; t=${s#*:}
        [ -s "$tmp/$pre$f" ] || continue
        i=$((i + 1))
        dt=1; [ $i -gt 8 ] && dt=2 # gnuplot has 8 colours: dash the rest
        cmd="$cmd${cmd:+, }'$tmp/$pre$f' using 1:2 with linespoints lw 2 dt $dt title '$t'"
    done
    echo "$cmd"
}

# (A chart whose workloads the run left out is not drawn.)
kplot=$(plotcmd k_ w1:"W1 click→purchase" w1b:"W1 hand-written baseline" w2:"W2 card testing" \
    w3:"W3 sequence L=3" w3n:"W3 L=3 never completing" w5:"W5 abandoned cart" \
    w6:"W6 followedByAny b+" w7:"W7 100 patterns" cli:"CLI W1, JSON in and out")
[ -z "$kplot" ] || gnuplot <<EOF
$common
set output '$out/perf_keys.png'
set title "Events/second against number of keys (one core, $cpu)"
set logscale x; set logscale y
set format y '%.0s%c'
set xlabel 'keys'; set ylabel 'events/second'
set xtics ('1k' 1000, '10k' 10000, '100k' 100000, '1M' 1000000)
set xrange [600:1.6e6]
plot $kplot
EOF
rplot=$(plotcmd r_ w1:"W1 click→purchase" w1b:"W1 hand-written baseline" w2:"W2 card testing" \
    w3:"W3 sequence L=3" w3n:"W3 L=3 never completing" w5:"W5 abandoned cart" \
    w6:"W6 followedByAny b+" w7:"W7 100 patterns" cli:"CLI W1 (whole process)")
[ -z "$rplot" ] || gnuplot <<EOF
$common
set output '$out/perf_rss.png'
set title "Peak RSS against number of keys"
set logscale x; set logscale y
set xlabel 'keys'; set ylabel 'peak RSS (MB)'
set xtics ('1k' 1000, '10k' 10000, '100k' 100000, '1M' 1000000)
set xrange [600:1.6e6]
plot $rplot
EOF
lplot=$(plotcmd l_ c:"Cepheus" n:"Cepheus, last step never occurs" b:"hand-written baseline" \
    nb:"baseline, never occurs")
[ -z "$lplot" ] || gnuplot <<EOF
$common
set output '$out/perf_length.png'
set title "W3 sequence: events/second against pattern length ($kmin keys)"
set logscale y
set format y '%.0s%c'
set xlabel 'pattern length L'; set ylabel 'events/second'
set xtics (3, 6, 12, 24)
set xrange [2:26]
plot $lplot
EOF
wargs=""
for k in $w4keys; do
    wargs="$wargs c_$k:\"completing, $k keys\" n_$k:\"never completing, $k keys\""
done
eval "wplot=\$(plotcmd w_ $wargs)"
[ -z "$wplot" ] || gnuplot <<EOF
$common
set output '$out/perf_window.png'
set title "W4 sequence L=3: events/second against window (T = 60 s)"
set logscale y
set format y '%.0s%c'
set xlabel 'window'; set ylabel 'events/second'
set xtics ('T' 1, '2T' 2, '4T' 4, '8T' 8)
set logscale x 2
set xrange [0.8:10]
plot $wplot
EOF
nplot=$(plotcmd n_ d:"dense, C API" s:"sparse, C API" dc:"dense, cepheus run" sc:"sparse, cepheus run")
[ -z "$nplot" ] || gnuplot <<EOF
$common
set output '$out/perf_rules.png'
set title "W8: events/second against number of rules (10,000 cards)"
set logscale x; set logscale y
set format y '%.0s%c'
set xlabel 'rules'; set ylabel 'events/second'
set xtics ('1' 1, '10' 10, '100' 100, '1k' 1000, '10k' 10000)
set xrange [0.7:15000]
plot $nplot
EOF
echo "plots.sh: wrote $out/perf_keys.png $out/perf_rss.png $out/perf_length.png $out/perf_window.png $out/perf_rules.png"
