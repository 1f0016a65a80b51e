#!/bin/sh
# summary.sh — the short report after a fraud example: alerts per rule, the
# keys (cards, accounts) with the most alerts, and, when gnuplot is
# installed and a PNG name is given, a chart of alerts per hour and rule.
# Usage: sh summary.sh ALERTS.jsonl [CHART.png]
# ALERTS.jsonl holds matches as `cepheus run` writes them (one JSON object
# per line with "pattern", "key" and "start").
set -eu
alerts=$1
png=${2:-}
export LC_ALL=C   # the same sort order everywhere

# "pattern", "key", "start" and "end" are the first members of every match
# line; keys are strings in these examples. An alert's time is its end: the
# event that completed it.
fields() {
    sed -n 's/^{"pattern":"\([^"]*\)","key":"\([^"]*\)","start":[0-9]*,"end":\([0-9]*\),.*/\1 \2 \3/p' "$alerts"
}

echo "alerts: $(fields | wc -l | tr -d ' ')"
echo "by rule:"
fields | awk '{ n[$1]++ } END { for (r in n) printf "  %-22s %5d\n", r, n[r] }' | sort
echo "top keys:"
fields | awk '{ n[$2]++ } END { for (k in n) printf "%d %s\n", n[k], k }' |
    sort -k1,1nr -k2,2 | head -n 5 |
    awk '{ printf "  %-22s %5d\n", $2, $1 }'

[ -n "$png" ] || exit 0
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "gnuplot not installed: no chart" >&2
    exit 0
fi
# One column per rule: alerts in each hour (UTC) of the first alert.
dat=$(mktemp)
trap 'rm -f "$dat"' EXIT
fields | awk '
    { h = int($3 / 3600000); rule[$1] = 1; n[$1, h]++
      if (min == "" || h < min) min = h; if (max == "" || h > max) max = h }
    END {
        nr = 0
        for (r in rule) names[++nr] = r
        # Sort the rule names (a tiny insertion sort: awk has no sort).
        for (i = 2; i <= nr; i++)
            for (j = i; j > 1 && names[j] < names[j - 1]; j--) {
                t = names[j]; names[j] = names[j - 1]; names[j - 1] = t }
        printf "hour"
        for (i = 1; i <= nr; i++) printf " %s", names[i]
        printf "\n"
        for (h = min; h <= max; h++) {
            printf "%d", h * 3600
            for (i = 1; i <= nr; i++) printf " %d", n[names[i], h]
            printf "\n"
        }
    }' > "$dat"
cols=$(head -n 1 "$dat" | awk '{ print NF }')
# x range: whole hours around the alerts; y tics of 1 unless counts are big.
range=$(awk 'NR == 2 { lo = $1 } NR > 1 { hi = $1 + 3600
    t = 0; for (i = 2; i <= NF; i++) t += $i; if (t > top) top = t }
    END { printf "%d %d %d", lo, hi, top }' "$dat")
set -- $range
gnuplot <<GP
set terminal pngcairo size 900,420 font ",10"
set output "$png"
set termoption noenhanced
set title "Alerts per hour, by rule"
set xdata time
set timefmt "%s"
set format x "%b %d\n%H:%M"
set xrange ["$1":"$2"]
set xlabel "time of the alert (its last event), UTC"
set ylabel "alerts"
set yrange [0:$3 + 1]
$( [ "$3" -le 10 ] && echo "set ytics 1" )
set grid ytics
set key outside right top
set style fill solid 0.8 border -1
set boxwidth 3000
# Stacked: draw the running total of columns 2..c, the largest first.
plot for [c=$cols:2:-1] "$dat" using (\$1 + 1800):(sum [i=2:c] column(i)) with boxes title columnheader(c)
GP
echo "chart: $png"
