# guard.sh — sourced by the tests that drive `cepheus run` live (live.sh,
# many_rules.sh): a guard that fails a hanging tool instead of hanging
# the suite.
#
# guard PID: kill the tool after 120 s, so that a tool that hangs fails
# this test instead of hanging the suite. The FIFOs are opened (read-write,
# fd 3) before the tool starts, so its open never waits for a writer, and
# the tool does not inherit fd 3 (3>&-), so closing it is the end of input.
# unguard (after the tool's wait) ends the guard: PIDs are reused within
# seconds on a busy machine (7,500 in 10 s measured beside other builds),
# and a guard left sleeping killed whatever process had the PID by then,
# the tool of a later test here (exit 137) or any other.
guard() {
    (exec 3>&-; trap 'kill "$s" 2>/dev/null; exit 0' TERM; sleep 120 & s=$!; wait "$s"; kill -9 "$1") \
        >/dev/null 2>&1 &
    gpid=$!
}
unguard() { [ -n "${gpid:-}" ] && kill "$gpid" 2>/dev/null; gpid=; }
