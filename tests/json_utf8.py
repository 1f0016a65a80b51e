#!/usr/bin/env python3
"""json_utf8.py — strings in event lines against an independent decoder:
Python's json module on text first decoded as strict UTF-8 (Python's codec
refuses overlong forms, encoded surrogates and code points past U+10FFFF),
with any surrogate code point left after json.loads (Python pairs
"\\ud83d\\ude00" and keeps an unpaired "\\ud800" as a lone code point)
counted as an error. Random strings near every edge of UTF-8 and of the
surrogate escapes go through `cepheus run` as a value, as a key and inside
a skipped nested value; a line is accepted exactly when the reference
accepts it, and an accepted value comes out as the reference decodes it.

usage: json_utf8.py CEPHEUS [N]   (prints `json_utf8: N passed, M failed`)"""
import json
import os
import random
import subprocess
import sys
import tempfile

EDGES = [0x0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xD800, 0xDBFF, 0xDC00, 0xDFFF,
         0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF, 0x110000, 0x1FFFFF, 0x3FFFFFF]


def encode_any(c, overlong):
    """c in UTF-8's bit layout, also where UTF-8 forbids it."""
    k = 1 if c < 0x80 else 2 if c < 0x800 else 3 if c < 0x10000 else 4 if c < 0x200000 else 5
    if overlong and k < 4:
        k += 1
    if k == 1:
        return bytes([c])
    out = []
    for _ in range(k - 1):
        out.append(0x80 | (c & 0x3F))
        c >>= 6
    lead = {2: 0xC0, 3: 0xE0, 4: 0xF0, 5: 0xF8}[k]
    return bytes([lead | c] + out[::-1])


def random_string(r):
    s = b""
    for _ in range(r.randrange(6)):
        k = r.randrange(10)
        if k == 0:
            s += bytes([r.choice(b"abc xyz019~!#")])
        elif k == 1:
            s += bytes([0x80 + r.randrange(128)])
        elif k == 2:
            c = r.choice(EDGES) + r.randrange(-2, 3)
            c = 0x78 if c < 0x20 or c in (0x22, 0x5C) else c
            s += encode_any(c, r.randrange(8) == 0)
        elif k == 3:
            s += encode_any(0x80 + r.randrange(0x10FF80), False)
        elif k == 4:
            s = s[:-1]
        elif k == 5:
            s += r.choice([b"\\n", b'\\"', b"\\\\", b"\\/", b"\\b", b"\\f", b"\\r", b"\\t"])
        else:
            u = 0xD700 + r.randrange(0x1000) if r.randrange(3) else (r.choice(EDGES) + r.randrange(-2, 3)) & 0xFFFF
            s += (b"\\u%04x" if r.randrange(2) else b"\\u%04X") % u
    return s


def has_surrogate(v):
    if isinstance(v, str):
        return any(0xD800 <= ord(ch) <= 0xDFFF for ch in v)
    if isinstance(v, dict):
        return any(has_surrogate(k) or has_surrogate(x) for k, x in v.items())
    if isinstance(v, list):
        return any(has_surrogate(x) for x in v)
    return False


def reference(line):
    """The decoded object, or None when the line must be refused."""
    try:
        obj = json.loads(line.decode("utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError):
        return None
    return None if has_surrogate(obj) else obj


def main():
    cep = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    r = random.Random(20261207)
    lines = []
    for i in range(n):
        s = random_string(r)
        ts = b"%d" % (i * 3 + 1)
        lines.append(b'{"ts":' + ts + b',"t":"a","s":"' + s + b'"}')
        lines.append(b'{"ts":' + ts + b',"t":"a","' + s + b'":1}')
        lines.append(b'{"ts":' + ts + b',"t":"a","o":[1,{"k":"' + s + b'"}]}')
    with tempfile.TemporaryDirectory() as d:
        pat = os.path.join(d, "p.cep")
        with open(pat, "w") as f:
            f.write('pattern p\n  begin a where t == "a"\n  emit s = a.s\n')
        inp = os.path.join(d, "in.jsonl")
        with open(inp, "wb") as f:
            f.write(b"\n".join(lines) + b"\n")
        errs = os.path.join(d, "errs.jsonl")
        out = subprocess.run([cep, "run", "--errors", errs, pat, inp], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, check=False)
        if out.returncode != 0:
            print("json_utf8: cepheus exited %d" % out.returncode)
            return 1
        matches = [json.loads(x) for x in out.stdout.decode("utf-8").splitlines()]
        with open(errs, "rb") as f:
            rejected = {json.loads(x)["line"] for x in f.read().decode("utf-8").splitlines()}
    passed = failed = valid = 0
    it = iter(matches)
    for no, line in enumerate(lines, 1):
        ref = reference(line)
        why = None
        if ref is None:
            if no not in rejected:
                why = "accepted, the reference refuses it"
        elif no in rejected:
            why = "refused, the reference accepts it"
        else:
            valid += 1
            m = next(it, None)
            want = ref.get("s")
            if m is None or m["start"] != ref["ts"] or m["fields"]["s"] != want:
                why = "value %r, the reference reads %r" % (m and m["fields"]["s"], want)
        if why:
            failed += 1
            if failed <= 10:
                print("FAIL: line %d %r: %s" % (no, line, why))
        else:
            passed += 1
    # Both sides must be exercised.
    if not (len(lines) // 5 < valid < len(lines) - len(lines) // 5):
        failed += 1
        print("FAIL: %d of %d lines valid: the generator is off" % (valid, len(lines)))
    print("json_utf8: %d passed, %d failed (%d lines valid)" % (passed, failed, valid))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
