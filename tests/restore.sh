#!/bin/sh
# restore.sh — `cepheus run --restore` refuses what it cannot use and then
# leaves every output byte for byte as it was (issue 22: a refused restore
# used to cut or zero-extend them first); the checkpoint header has its own
# CRC; --errors is restored like the other outputs; a changed pattern file
# keeps the state of its unchanged patterns (docs/state.md); a checkpoint
# written before key groups restores. Every refusal is made with one engine
# and with --threads 2 (a pool): same message, outputs untouched. make check.
: "${top_srcdir:=.}" "${top_builddir:=.}"
CEP="$(cd "$top_builddir" && pwd)/cepheus"
V1="$(cd "$top_srcdir/tests/cli" && pwd)/checkpoint_v1.bin"
[ -x "$CEP" ] || { echo "restore.sh: $CEP is not built; skipping"; exit 77; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-restore.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
cd "$TMP" || exit 1
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL: $1: $2"
    [ -s err ] && sed 's/^/  stderr: /' err | head -n 5
}

# x: an "a" then a "b" of one key; y: any "c"; w: an "e" then an "f".
cat > a.cep <<'P'
pattern x key k begin a where t == "a" followedBy b where t == "b"
pattern y key k begin c where t == "c"
pattern w key k begin e where t == "e" followedBy f where t == "f"
P
# Lines 1-4 come before the checkpoint (every 4 lines), 5-7 after it; a
# malformed line and a bad watermark go to --errors.
printf '%s\n' '{"ts":1,"k":1,"t":"a"}' 'not json' '{"ts":3,"k":1,"t":"e"}' \
    '{"$watermark": 0005}' '{"ts":4,"k":1,"t":"b"}' '{"ts":5,"k":1,"t":"f"}' '{"ts":6,"k":1,"t":"c"}' > ev.jsonl
OUTS="--output out.jsonl --late late.jsonl --timeouts to.jsonl --errors errs.jsonl"

# fresh: a run that leaves its checkpoint after line 4 (the outputs then
# have more than the checkpoint recorded, as after a crash).
fresh() {
    rm -rf ck out.jsonl late.jsonl to.jsonl errs.jsonl
    cp a.cep p.cep
    "$CEP" run --checkpoint ck --checkpoint-every 4 $OUTS p.cep ev.jsonl > /dev/null 2> err
    cat out.jsonl late.jsonl to.jsonl errs.jsonl ck/checkpoint > before
}
# refused NAME MESSAGE: the last restore exited 3 with MESSAGE, and every
# output and the checkpoint are byte for byte as before it.
refused() {
    if [ "$st" != 3 ]; then bad "$1" "exit $st, expected 3"; return; fi
    if [ "$(cat err)" != "cepheus: $2" ]; then bad "$1" "message: expected 'cepheus: $2'"; return; fi
    cat out.jsonl late.jsonl to.jsonl errs.jsonl ck/checkpoint > after 2> /dev/null
    if ! cmp -s before after; then bad "$1" "the outputs changed"; return; fi
    ok
}
# The end-of-run summary counts the checkpoints (issue 18: taken, last and
# worst pause, the last one's time and size); --quiet leaves it out.
fresh
grep -Eq '^cepheus: [0-9,]+ checkpoints?; pause last [0-9.]+ ms, worst [0-9.]+ ms; the last written in [0-9.]+ s, [0-9,]+ bytes$' err &&
    ok || bad "summary" "no line on the checkpoints"
"$CEP" run --quiet --checkpoint ck2 --checkpoint-every 4 --output q.jsonl a.cep ev.jsonl > /dev/null 2> err
grep -q checkpoint err && bad "--quiet" "a line on the checkpoints" || ok

# MODE: "" (one engine) or "--threads 2" (a pool): a checkpoint is checked
# and refused alike in both.
MODE=
restore() {
    # shellcheck disable=SC2086
    "$CEP" run -Wnone $MODE --checkpoint ck --restore ck $OUTS "$@" > /dev/null 2> err
    st=$?
}

# ---- the reference: no crash ------------------------------------------------
"$CEP" run $OUTS a.cep ev.jsonl > /dev/null 2> /dev/null
for f in out late to errs; do mv $f.jsonl ref-$f.jsonl; done

# ---- --errors is part of the checkpoint ----------------------------------------
# The restore cuts every output back to the checkpoint and does lines 5-7
# again: each output, --errors included, equals the uninterrupted run's.
fresh
restore p.cep ev.jsonl
same=1
for f in out late to errs; do cmp -s ref-$f.jsonl $f.jsonl || same=0; done
if [ "$st" = 0 ] && [ $same = 1 ]; then ok; else bad "restore: every output as uninterrupted" "exit $st; errs: $(cat errs.jsonl)"; fi

# ---- a checkpoint of the cepheus before key groups --------------------------------
# tests/cli/checkpoint_v1.bin is what the cepheus before key groups wrote
# in fresh()'s run (checkpoint format 2 around a snapshot of version 1:
# keys of x and w with partial matches, after line 4). It restores, with
# one engine and with --threads 2, and the outputs end as uninterrupted.
for threads in "" "--threads 2"; do
    fresh
    cp "$V1" ck/checkpoint || { bad "format 1 snapshot" "no $V1"; continue; }
    # shellcheck disable=SC2086
    restore $threads p.cep ev.jsonl
    same=1
    for f in out late to errs; do cmp -s ref-$f.jsonl $f.jsonl || same=0; done
    if [ "$st" = 0 ] && [ $same = 1 ]; then ok; else
        bad "format 1 snapshot restores${threads:+ with $threads}" "exit $st; out: $(cat out.jsonl)"
    fi
done

# ---- refused restores change nothing, with one engine and with threads -------------
# changed NAME OFFSET BYTE: the good checkpoint with BYTE (printf format)
# written at OFFSET, then restored.
changed() {
    cp good ck/checkpoint
    printf "$3" | dd of=ck/checkpoint bs=1 seek="$2" conv=notrunc 2> /dev/null
    cat out.jsonl late.jsonl to.jsonl errs.jsonl ck/checkpoint > before
    restore p.cep ev.jsonl
}
refusals() {
    m=${MODE:+ ($MODE)}
    fresh
    cp ck/checkpoint good
    printf 'pattern q key k begin a where t == "a"\n' > p.cep
    restore p.cep ev.jsonl
    refused "other patterns$m" "cannot restore the checkpoint in 'ck': p.cep has changed since it was made (new: q; removed: x, y, w): no pattern is unchanged, so no state can be kept; nothing was restored"
    cp a.cep p.cep

    head -c 300 good > ck/checkpoint
    cat out.jsonl late.jsonl to.jsonl errs.jsonl ck/checkpoint > before
    restore p.cep ev.jsonl
    refused "truncated checkpoint$m" "'ck/checkpoint' is truncated (300 bytes, its header says $(wc -c < good | tr -d ' '))"
    head -c 100 good > ck/checkpoint
    cat out.jsonl late.jsonl to.jsonl errs.jsonl ck/checkpoint > before
    restore p.cep ev.jsonl
    refused "checkpoint cut in its header$m" "'ck/checkpoint' is truncated (100 bytes, shorter than its header)"
    : > ck/checkpoint
    cat out.jsonl late.jsonl to.jsonl errs.jsonl ck/checkpoint > before
    restore p.cep ev.jsonl
    refused "empty checkpoint$m" "'ck/checkpoint' is not a cepheus checkpoint"
    { cat good; printf 'x'; } > ck/checkpoint
    cat out.jsonl late.jsonl to.jsonl errs.jsonl ck/checkpoint > before
    restore p.cep ev.jsonl
    refused "a byte after the end$m" "'ck/checkpoint' is damaged: 1 bytes after its end"

    # The header: magic 8 bytes, 13 u64 fields (input file, offset, line,
    # read, malformed, outputs, four output lengths, text and snapshot
    # lengths, 0), the text's CRC, its own CRC. A byte changed anywhere in
    # it is refused.
    for off in 8 16 24 32 40 48 56 64 72 80 88 96 104 108 115; do
        changed "header byte $off" $off '\001'
        refused "header byte $off changed$m" "'ck/checkpoint' is damaged: the checksum of its header does not match"
    done
    changed "magic" 0 'X'
    refused "another file's magic$m" "'ck/checkpoint' is not a cepheus checkpoint"
    # A newer format (version byte '3'), and format 1 (before the header
    # had a CRC): refused, not misread.
    changed "newer format" 7 '3'
    refused "newer checkpoint format$m" "'ck/checkpoint' has a checkpoint format this cepheus does not know (version byte 0x33)"
    changed "format 1" 7 '1'
    refused "format 1$m" "'ck/checkpoint' was written by an older cepheus (checkpoint format 1), which this one does not restore; remove it to start from the beginning"
    # A byte of the pattern text, and of the snapshot (its CRC-32C); the
    # snapshot's own version (after its 8-byte magic) set to a newer one.
    changed "text" 120 'Z'
    refused "pattern text changed$m" "'ck/checkpoint' is damaged: the checksum of its pattern text does not match"
    size=$(wc -c < good)
    changed "snapshot" $((size - 20)) 'Z'
    refused "snapshot changed$m" "cannot restore the checkpoint in 'ck': snapshot is corrupted"
    changed "snapshot version" $((120 + $(wc -c < a.cep) + 8)) '\003'
    refused "newer snapshot version$m" "cannot restore the checkpoint in 'ck': not a Cepheus snapshot, or an unsupported version"
    cp good ck/checkpoint
}
refusals
MODE="--threads 2"
refusals
MODE=

# Files that do not fit the checkpoint.
cat out.jsonl late.jsonl to.jsonl errs.jsonl ck/checkpoint > before
head -n 2 ev.jsonl > short.jsonl
restore p.cep short.jsonl
refused "input shorter than the offset" "the checkpoint in 'ck' is for other input files: it had read $(head -n 4 ev.jsonl | wc -c | tr -d ' ') bytes of 'short.jsonl', which has $(wc -c < short.jsonl | tr -d ' ')"
cp errs.jsonl keep.jsonl
: > errs.jsonl
cat out.jsonl late.jsonl to.jsonl errs.jsonl ck/checkpoint > before
restore p.cep ev.jsonl
refused "output shorter than recorded" "--errors 'errs.jsonl' has 0 bytes, fewer than the $(wc -c < ref-errs.jsonl | tr -d ' ') the checkpoint in 'ck' recorded: it is not the output of the checkpointed run"
cp keep.jsonl errs.jsonl
"$CEP" run -Wnone --checkpoint ck --restore ck --output out.jsonl --errors errs.jsonl p.cep ev.jsonl > /dev/null 2> err
st=$?
cat out.jsonl late.jsonl to.jsonl errs.jsonl ck/checkpoint > after
if [ $st = 0 ]; then ok; else bad "fewer outputs than the checkpoint had" "exit $st"; fi
rm -rf ck
"$CEP" run --checkpoint ck --checkpoint-every 4 --output out.jsonl p.cep ev.jsonl > /dev/null 2> /dev/null
cat out.jsonl late.jsonl to.jsonl errs.jsonl ck/checkpoint > before
"$CEP" run -Wnone --checkpoint ck --restore ck --output out.jsonl --late l2.jsonl p.cep ev.jsonl > /dev/null 2> err
st=$?
refused "an output the checkpoint did not have" "the checkpoint in 'ck' was made without --late: 'l2.jsonl' would miss what came before it; restore with the outputs the checkpointed run had"

# ---- the pattern file changed since the checkpoint ----------------------------------
# x is the same (laid out differently), y changed, w is gone, z is new. x's
# partial match (a at 1) survives the restore and completes with b at 4; w's
# (e at 3) is dropped, so f at 5 matches nothing.
fresh
cat > p.cep <<'P'
pattern x
  key k
  begin a where t == "a"
  followedBy b where t == "b"
pattern y key k begin c where t == "c" next d where t == "d"
pattern z key k begin f where t == "f"
P
restore p.cep ev.jsonl
want='{"pattern":"x","key":1,"start":1,"end":4,"events":{"a":[{"ts":1,"k":1,"t":"a"}],"b":[{"ts":4,"k":1,"t":"b"}]}}
{"pattern":"z","key":1,"start":5,"end":5,"events":{"f":[{"ts":5,"k":1,"t":"f"}]}}'
msg="cepheus: p.cep has changed since the checkpoint in 'ck' was made: kept x; changed, started empty: y; new: z; removed: w"
if [ $st != 0 ]; then bad "changed patterns: restore" "exit $st"
elif [ "$(cat out.jsonl)" != "$want" ]; then bad "changed patterns: matches" "got: $(cat out.jsonl)"
elif ! grep -qxF "$msg" err; then bad "changed patterns: message" "expected '$msg'"
elif ! cmp -s ref-errs.jsonl errs.jsonl; then bad "changed patterns: --errors" "$(cat errs.jsonl)"
else ok; fi
# The next checkpoint records the new patterns: restoring again keeps all.
"$CEP" run -Wnone --checkpoint ck --checkpoint-every 1 --restore ck $OUTS p.cep ev.jsonl > /dev/null 2> err
restore p.cep ev.jsonl
if [ $st = 0 ] && ! grep -q "has changed" err && [ "$(cat out.jsonl)" = "$want" ]; then ok
else bad "changed patterns: the next checkpoint has them" "exit $st: $(cat out.jsonl)"; fi

# --restore of a directory with no checkpoint, not the --checkpoint one (a
# misspelt savepoint): refused, the outputs untouched (it started over and
# rewrote them). --checkpoint ck --restore ck/ is one directory: the first
# run starts from the beginning (it locked ck twice: "in use by another
# cepheus run").
for MODE in "" "--threads 2"; do
    fresh
    # shellcheck disable=SC2086
    "$CEP" run -Wnone $MODE --restore sp-misspelt $OUTS p.cep ev.jsonl > /dev/null 2> err
    st=$?
    refused "no checkpoint to restore ($MODE)" "no checkpoint in 'sp-misspelt' to restore; nothing was changed (a run with --checkpoint DIR --restore DIR starts from the beginning while DIR has none)"
    rm -rf ck2
    # shellcheck disable=SC2086
    "$CEP" run -Wnone $MODE --checkpoint ck2 --restore ck2/ $OUTS p.cep ev.jsonl > /dev/null 2> err
    st=$?
    if [ $st = 0 ] && ! grep -q "in use" err && [ -s out.jsonl ]; then ok
    else bad "--checkpoint ck2 --restore ck2/: one directory ($MODE)" "exit $st"; fi
done

echo "restore: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
