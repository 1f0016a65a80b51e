#!/usr/bin/env python3
"""funclen.py — no function of the library or the tool is over 150 lines
(HACKING.md). A function's length counts from the line of its name to its
closing brace. Comments and strings are blanked first, so braces in them do
not count. Prints each offender as FILE:LINE: NAME is N lines (limit 150).

Usage: funclen.py SRCDIR [LIMIT]
"""
import os
import re
import sys

FOLDERS = ("util", "dsl", "nfa", "runtime", "cli", "bindings")
# bison's and flex's output: a tarball carries them beside the sources.
GENERATED = {"dsl/parser.c", "dsl/lexer.c"}
TOKEN = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def blank(m):
    # Keep the newlines, so line numbers stay right.
    return re.sub(r'[^\n]', ' ', m.group(0))


def functions(text):
    """(name, first line, length) of each function defined at file level."""
    code = TOKEN.sub(blank, text)
    code = re.sub(r'^\s*#.*$', '', code, flags=re.M)  # preprocessor lines
    depth = 0
    start = None
    for i, ch in enumerate(code):
        if ch == '{':
            if depth == 0:
                head = code[max(0, code.rfind(';', 0, i), code.rfind('}', 0, i)) + 1:i]
                m = re.search(r'([A-Za-z_]\w*)\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*(?:__attribute__\s*\(\(.*?\)\)\s*)?$',
                              head, re.S)
                if m and '=' not in head[:m.start()]:
                    start = (m.group(1), code.count('\n', 0, i - len(head) + m.start(1)) + 1)
            depth += 1
        elif ch == '}':
            depth -= 1
            if depth == 0 and start:
                end = code.count('\n', 0, i) + 1
                yield start[0], start[1], end - start[1] + 1
                start = None


def main():
    top = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 150
    bad = 0
    for folder in FOLDERS:
        for dp, _, files in os.walk(os.path.join(top, folder)):
            for f in sorted(files):
                if not f.endswith('.c'):
                    continue
                path = os.path.join(dp, f)
                if os.path.relpath(path, top) in GENERATED:
                    continue
                with open(path, encoding='utf-8', errors='replace') as fh:
                    text = fh.read()
                for name, line, n in functions(text):
                    if n > limit:
                        print(f"{os.path.relpath(path, top)}:{line}: {name} is {n} lines (limit {limit})")
                        bad += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
