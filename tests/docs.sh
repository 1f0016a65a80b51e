#!/bin/sh
# docs.sh — runs every example of docs/language.md through the built
# `cepheus` and compares with the output the page shows, so the reference
# cannot drift from the code. Run by `make check`; extra arguments name
# other Markdown files to check instead.
#
# An example is an HTML comment, then fenced blocks whose info string
# names their role (a second word is the file name, shown in messages):
#
#   <!-- example -->                  cepheus run P.cep E.jsonl
#   <!-- example: OPTIONS -->         same, with run options (see below)
#   <!-- example: check -->           cepheus check P.cep (no events block)
#   <!-- example: explain [--dot] --> cepheus explain P.cep (no events block)
#   ```cep [NAME.cep]```   the patterns          (default example.cep)
#   ```jsonl [NAME.jsonl]``` the events          (default events.jsonl)
#   ```output```           what the command prints, exactly
#
# Prose may stand between the blocks. Run options are passed on as written,
# except: `--timeouts` and `--late` (without a file) send those outputs to
# files that are shown after a line `# timeouts:` / `# late:`; `stderr`
# shows standard error after a line `# stderr:` (otherwise standard error
# must be empty). A non-zero exit status adds a last line `# exit: N`.
# DOCS_KEEP=DIR keeps each example's files (and its `actual` output) there.

: "${top_srcdir:=.}"
: "${top_builddir:=.}"

CEP="$(cd "$top_builddir" && pwd)/cepheus"
if [ ! -x "$CEP" ]; then
    echo "docs.sh: $CEP is not built; skipping"
    exit 77
fi
[ $# -gt 0 ] || set -- "$top_srcdir/docs/language.md"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cepheus-docs.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM

passed=0
failed=0
for doc in "$@"; do
    name=$(basename "$doc")
    # Split the page into one directory per example: opts, line, the
    # blocks under their file names, and `expected`.
    rm -rf "$TMP/x"
    mkdir "$TMP/x" || exit 1
    awk -v dir="$TMP/x" -v doc="$name" '
    function fail(msg) { printf "%s:%d: %s\n", doc, FNR, msg > "/dev/stderr"; bad = 1 }
    function finish_example() {
        if (!n) return
        if (!have["cep"]) fail("example at line " start " has no cep block")
        if (!have["output"]) fail("example at line " start " has no output block")
        if (mode == "run" && !have["jsonl"]) fail("example at line " start " has no jsonl block")
        if (mode != "run" && have["jsonl"]) fail("example at line " start ": a " mode " example takes no events")
    }
    /^<!-- example(:.*)? -->[ \t]*$/ {
        if (n && inblock) fail("example inside a code block")
        finish_example()
        n++; start = FNR; delete have
        opts = $0
        sub(/^<!-- example:?[ \t]*/, "", opts); sub(/[ \t]*-->[ \t]*$/, "", opts)
        mode = "run"
        if (opts ~ /^check( |$)/) mode = "check"
        if (opts ~ /^explain( |$)/) mode = "explain"
        d = dir "/" sprintf("%03d", n)
        system("mkdir \"" d "\"")
        printf "%s\n", opts > (d "/opts"); close(d "/opts")
        printf "%d\n", FNR > (d "/line"); close(d "/line")
        next
    }
    /^```/ {
        if (!inblock) {
            inblock = 1
            info = substr($0, 4)
            split(info, w, /[ \t]+/)
            role = ""
            if (n && (w[1] == "cep" || w[1] == "jsonl" || w[1] == "output") && !have[w[1]]) {
                role = w[1]
                have[role] = 1
                file = (role == "cep") ? (w[2] != "" ? w[2] : "example.cep") : \
                       (role == "jsonl") ? (w[2] != "" ? w[2] : "events.jsonl") : "expected"
                out = d "/" file
                printf "" > out
                if (role == "cep") { printf "%s\n", file > (d "/cepname"); close(d "/cepname") }
                if (role == "jsonl") { printf "%s\n", file > (d "/jsonlname"); close(d "/jsonlname") }
            }
        } else {
            inblock = 0
            if (role != "") close(out)
            role = ""
        }
        next
    }
    inblock && role != "" { print > out }
    END { finish_example(); exit bad }
    ' "$doc" || { echo "docs: $name: malformed example"; failed=$((failed + 1)); continue; }

    for d in "$TMP"/x/*/; do
        [ -d "$d" ] || continue
        line=$(cat "$d/line")
        opts=$(cat "$d/opts")
        cepf=$(cat "$d/cepname")
        evf=
        [ -f "$d/jsonlname" ] && evf=$(cat "$d/jsonlname")
        # Build the command line from the options.
        set -- run
        show_timeouts=0 show_late=0 show_stderr=0
        prev=
        for o in $opts; do
            case "$o" in
            check|explain) set -- "$o" ;;
            stderr) show_stderr=1 ;;
            --timeouts) show_timeouts=1; set -- "$@" --timeouts timeouts.out ;;
            --late) show_late=1; set -- "$@" --late late.out ;;
            *) set -- "$@" "$o" ;;
            esac
        done
        cmd=$1
        shift
        (
            cd "$d" || exit 1
            # -Wnone: run's examples show matching; warnings have check examples.
            if [ "$cmd" = run ]; then
                "$CEP" run -Wnone "$@" "$cepf" "$evf" >actual 2>stderr
            else
                "$CEP" "$cmd" "$@" "$cepf" >actual 2>stderr
            fi
            status=$?
            if [ "$cmd" = check ]; then
                # check reports on standard error: that is its output.
                cat stderr >>actual
                : >stderr
            fi
            if [ $show_timeouts = 1 ]; then
                echo "# timeouts:" >>actual
                cat timeouts.out >>actual 2>/dev/null
            fi
            if [ $show_late = 1 ]; then
                echo "# late:" >>actual
                cat late.out >>actual 2>/dev/null
            fi
            if [ $show_stderr = 1 ]; then
                echo "# stderr:" >>actual
                cat stderr >>actual
                : >stderr
            fi
            [ $status = 0 ] || echo "# exit: $status" >>actual
            if [ -s stderr ]; then
                echo "# unexpected stderr:" >>actual
                cat stderr >>actual
            fi
        )
        if cmp -s "$d/expected" "$d/actual"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            echo "$name:$line: FAIL (cepheus $cmd $opts)"
            diff -u "$d/expected" "$d/actual" | sed -n '3,$p'
        fi
    done
    if [ -n "$DOCS_KEEP" ]; then
        mkdir -p "$DOCS_KEEP/$name" && cp -R "$TMP"/x/. "$DOCS_KEEP/$name/"
    fi
done

echo "docs: $passed passed, $failed failed"
[ $failed = 0 ] || exit 1
exit 0
