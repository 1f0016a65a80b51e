#!/bin/sh
# ckpt_cost.sh — what checkpoints cost a run (issue 18): W1 as JSON Lines
# (click then purchase of the same item within 10 minutes, 70% clicks),
# EVENTS events over USERS users, run without checkpoints and with
# --checkpoint-every EVERY, alternately ROUNDS times; prints wall and CPU
# seconds of each (with its writers), minor page faults (with its writers),
# the 1-minute load at its end, and the checkpointed run's --stats
# checkpoint lines (the run's own CPU and faults, without its writers).
# With OTHER (another build directory, e.g. of main), each round runs both
# builds in turn (labels A and B): an A/B comparison in one session.
# A build with --checkpoint-log also prints the pauses of the checkpoints
# taken with at most CKPT_COST_PMS live partial matches (default 1000000:
# issue 18's target is worded at 1M) and of those above, the one nearest
# to that count and the one at the most partial matches (the peak), with
# the RSS then.
#   bench/ckpt_cost.sh BUILDDIR [EVENTS USERS EVERY ROUNDS [OTHER]]
B=${1:?usage: ckpt_cost.sh BUILDDIR [EVENTS USERS EVERY ROUNDS [OTHER]]}
N=${2:-3000000} U=${3:-1000000} EVERY=${4:-100000} ROUNDS=${5:-1}
CEP="$(cd "$B" && pwd)/cepheus"
CEP_A=$CEP CEP_B=
[ -n "${6:-}" ] && CEP_B="$(cd "$6" && pwd)/cepheus"
T=$(mktemp -d "${TMPDIR:-/tmp}/ckcost.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
cat > "$T/w1.cep" <<'P'
pattern click_to_purchase
  key user_id
  begin click where type == "click"
  followedBy purchase where type == "purchase" and item == click.item
  within 10m
  skip pastLastEvent
  emit user = click.user_id, item = click.item, waited_ms = purchase.ts - click.ts
P
# Each user gets an event a minute on average (as cepbench's W1).
awk -v n="$N" -v u="$U" 'BEGIN { srand(18); t0 = 1700000000000
    for (i = 0; i < n; i++) {
        k = int(rand() * u) + 1; ty = rand() < 0.7 ? "click" : "purchase"
        printf "{\"ts\":%.0f,\"user_id\":%d,\"type\":\"%s\",\"item\":%d}\n", t0 + int(i * 60000 / u), k, ty, int(rand() * 8)
    } }' > "$T/ev.jsonl"
one() { # LABEL ARGS...
    label=$1; shift
    rm -rf "$T/ck" "$T/out.jsonl"
    /usr/bin/time -f "%e %U %S %M %R" -o "$T/time" "$CEP" run -q --stats "$@" --output "$T/out.jsonl" "$T/w1.cep" "$T/ev.jsonl" 2> "$T/stats"
    read -r wall usr sys rss minflt < "$T/time"
    printf '%-11s wall %6.2f s  cpu %6.2f s  maxrss %5d MB  minor faults %s  matches %s  load %s\n' "$label" "$wall" \
        "$(echo "$usr + $sys" | bc)" $((rss / 1024)) "$minflt" "$(wc -l < "$T/out.jsonl")" "$(cut -d' ' -f1 /proc/loadavg)"
    grep -E "^(checkpoint|last checkpoint|run's own)" "$T/stats" | sed 's/^/       /'
    [ -s "$T/cklog" ] && pauses_by_state < "$T/cklog"
    rm -f "$T/cklog"
}
# The --checkpoint-log lines: pause p50 / worst (wall and CPU) at <= PMS
# live partial matches and above, and the checkpoint at the peak.
pauses_by_state() {
    awk -v lim="${CKPT_COST_PMS:-1000000}" -F'[:,]' '
        function num(k,  i) { for (i = 1; i < NF; i++) if ($i == "\"" k "\"") return $(i + 1) + 0; return -1 }
        function p50(a, n,  i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
                                       return n ? a[int((n + 1) / 2)] : 0 }
        function worst(a, n,  i, m) { m = 0; for (i = 1; i <= n; i++) if (a[i] > m) m = a[i]; return m }
        /"kind":"checkpoint"/ { pm = num("partial_matches"); w = num("pause_ms"); c = num("pause_cpu_ms")
            if (pm <= lim) { lw[++nl] = w; lc[nl] = c } else { hw[++nh] = w; hc[nh] = c }
            if (pm > peak) { peak = pm; pw = w; pc = c; prss = num("rss_bytes") }
            d = pm > lim ? pm - lim : lim - pm
            if (nn == 0 || d < nd) { nn = 1; nd = d; npm = pm; nw = w; nc = c; nrss = num("rss_bytes") } }
        END { printf "       pauses at <= %d partial matches: %d, wall p50 / worst %.1f / %.1f ms, cpu p50 / worst %.1f / %.1f ms\n", lim, nl, p50(lw, nl), worst(lw, nl), p50(lc, nl), worst(lc, nl)
              printf "       pauses above: %d, wall p50 / worst %.1f / %.1f ms, cpu p50 / worst %.1f / %.1f ms\n", nh, p50(hw, nh), worst(hw, nh), p50(hc, nh), worst(hc, nh)
              printf "       nearest %d, at %d partial matches, RSS %d MB: pause %.1f ms wall, %.1f ms cpu\n", lim, npm, nrss / 1048576, nw, nc
              printf "       at the peak, %d partial matches, RSS %d MB: pause %.1f ms wall, %.1f ms cpu\n", peak, prss / 1048576, pw, pc }'
}
# --checkpoint-log where the build has it (main's may not).
cklog() { "$CEP" run --help 2>/dev/null | grep -q -- --checkpoint-log && echo "--checkpoint-log $T/cklog"; }
round() { # LABEL-SUFFIX
    [ -z "$CKPT_COST_SKIP_PLAIN" ] && one "plain$1"
    one "ckpt$1" --checkpoint "$T/ck" --checkpoint-every "$EVERY" $(cklog)
    # CKPT_COST_ARGS: a third run with these options too (of build A only),
    # e.g. "--checkpoint-min-pause 2s".
    [ -n "$CKPT_COST_ARGS" ] && [ "$CEP" = "$CEP_A" ] &&
        one "ckpt+args$1" --checkpoint "$T/ck" --checkpoint-every "$EVERY" $(cklog) $CKPT_COST_ARGS
    [ -n "$CKPT_COST_ENV" ] && env $CKPT_COST_ENV sh -c 'true' && {
        export $CKPT_COST_ENV
        one "ckpt+env$1" --checkpoint "$T/ck" --checkpoint-every "$EVERY" $(cklog)
        unset ${CKPT_COST_ENV%%=*}
    }
}
r=0
while [ $r -lt "$ROUNDS" ]; do
    if [ -n "$CEP_B" ]; then
        CEP=$CEP_A; round " A"
        CEP=$CEP_B; round " B"
    else
        round ""
    fi
    r=$((r + 1))
done
