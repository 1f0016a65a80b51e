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
}
round() { # LABEL-SUFFIX
    [ -z "$CKPT_COST_SKIP_PLAIN" ] && one "plain$1"
    one "ckpt$1" --checkpoint "$T/ck" --checkpoint-every "$EVERY"
    # CKPT_COST_ARGS: a third run with these options too (of build A only),
    # e.g. "--checkpoint-min-pause 2s".
    [ -n "$CKPT_COST_ARGS" ] && [ "$CEP" = "$CEP_A" ] &&
        one "ckpt+args$1" --checkpoint "$T/ck" --checkpoint-every "$EVERY" $CKPT_COST_ARGS
    [ -n "$CKPT_COST_ENV" ] && env $CKPT_COST_ENV sh -c 'true' && {
        export $CKPT_COST_ENV
        one "ckpt+env$1" --checkpoint "$T/ck" --checkpoint-every "$EVERY"
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
