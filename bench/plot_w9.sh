#!/bin/sh
# plot_w9.sh — docs/img/perf_w9_live.png (docs/performance.md, W9): the cost
# of an event against the live partial matches, from the "STEP=N nomatch"
# lines of cepbench's output, one series per file.
#   plot_w9.sh OUT.png "LABEL:cepbench-output.txt" ...
set -eu
out=${1:?usage: plot_w9.sh OUT.png LABEL:FILE ...}
shift
command -v gnuplot >/dev/null || { echo "plot_w9.sh: gnuplot is needed: apt-get install gnuplot-nox" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmd=""
i=0
for s in "$@"; do
    label=${s%%:*}
    file=${s#*:}
    i=$((i + 1))
    # columns: W9 STEP=N nomatch keys events wins events/s ns/event ... "live pm mean X;"
    awk '$1 == "W9" && $3 == "nomatch" {
        for (j = 1; j < NF; j++) if ($j == "mean") { live = $(j + 1); sub(";", "", live) }
        print live, $8 }' "$file" | sort -n >"$tmp/s$i"
    cmd="$cmd${cmd:+, }'$tmp/s$i' using 1:2 with linespoints lw 2 pt 7 title '$label'"
done
gnuplot <<EOF
set terminal pngcairo size 900,560 font 'sans,11' noenhanced
set output '$out'
set title "W9 (CORE's stock query, no match): CPU ns per event against live partial matches"
set logscale x; set logscale y; set yrange [50:*]
set xlabel 'live partial matches (mean over the run)'; set ylabel 'ns per event'
set grid
set key top left
plot $cmd
EOF
echo "plot_w9.sh: wrote $out"
