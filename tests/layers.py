#!/usr/bin/env python3
"""layers.py — check the include graph against the layer rules (HACKING.md).

The pipeline is syntax -> compiler -> engine, and the programs built on the
library see only its public header:

  util/     includes util/ and include/
  dsl/      includes dsl/, util/ and include/          (syntax)
  nfa/      includes nfa/, dsl/, util/ and include/    (compiler)
  runtime/  includes runtime/, nfa/, util/, include/   (engine), and reaches
            no dsl/ header even through an nfa/ header
  cli/, bindings/, examples/, bench/cepbench.c: include/ and their own
            folder only (config.h, made by configure, is allowed everywhere)

Every violation is printed as FILE: includes HEADER (LAYER). Violations the
code had when this check was written are listed in tests/layers.baseline:
they are reported but do not fail, so the check is a ratchet — a new
violation fails, and a fixed one must leave the baseline (the check fails
until it does, so the list can only shrink).

Usage: layers.py SRCDIR [--write-baseline]
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
LIB = ("util", "dsl", "nfa", "runtime")
ALLOWED = {
    "util": {"util", "include"},
    "dsl": {"dsl", "util", "include"},
    "nfa": {"nfa", "dsl", "util", "include"},
    "runtime": {"runtime", "nfa", "util", "include"},
}
# Layers a library folder may not reach even transitively.
FORBIDDEN_REACH = {"runtime": {"dsl"}, "dsl": {"nfa", "runtime"}, "nfa": {"runtime"}}
GENERATED = {"config.h": None, "parser.h": "dsl"}


def sources(top):
    for root in LIB + ("cli", "bindings", "examples"):
        for d, _, files in os.walk(os.path.join(top, root)):
            if "/build" in d or "/lib" in d[len(top):]:
                continue
            for f in files:
                if f.endswith((".c", ".h", ".l", ".y")):
                    p = os.path.relpath(os.path.join(d, f), top)
                    if p not in ("dsl/parser.h", "dsl/parser.c", "dsl/lexer.c"):
                        yield p
    yield "bench/cepbench.c"


def layer_of(path):
    return path.split("/")[0]


def resolve(top, src, name):
    """The repository path a quoted include names, or None (generated)."""
    if name in GENERATED:
        return None
    here = os.path.dirname(src)
    cand = os.path.normpath(os.path.join(here, name))
    if os.path.exists(os.path.join(top, cand)):
        return cand
    for d in ("include",) + LIB + ("cli",):
        if os.path.exists(os.path.join(top, d, name)):
            return os.path.join(d, name)
    return "?/" + name


def includes(top, path, cache={}):
    if path not in cache:
        with open(os.path.join(top, path), encoding="utf-8", errors="replace") as f:
            cache[path] = [(n, resolve(top, path, n)) for n in INCLUDE.findall(f.read())]
    return cache[path]


def violations(top):
    out = []
    for src in sorted(set(sources(top))):
        lay = layer_of(src)
        for name, target in includes(top, src):
            if target is None:
                if GENERATED.get(name) and lay in ALLOWED and GENERATED[name] not in ALLOWED[lay]:
                    out.append(f"{src}: includes {name} ({GENERATED[name]})")
                continue
            tl = layer_of(target)
            if lay in ALLOWED:
                ok = tl in ALLOWED[lay]
            else:  # a program on the library: the public header and its own folder
                own = os.path.dirname(src)
                ok = tl == "include" or os.path.dirname(target).startswith(own.split("/")[0]) and tl not in LIB
            if not ok:
                out.append(f"{src}: includes {name} ({tl})")
        # transitive reach through allowed headers
        if lay in FORBIDDEN_REACH:
            seen, stack = set(), [t for _, t in includes(top, src) if t and not t.startswith("?")]
            while stack:
                h = stack.pop()
                if h in seen:
                    continue
                seen.add(h)
                if layer_of(h) in FORBIDDEN_REACH[lay] and layer_of(h) != lay:
                    line = f"{src}: reaches {h} ({layer_of(h)})"
                    if not any(v.startswith(f"{src}: includes {os.path.basename(h)}") for v in out):
                        out.append(line)
                    continue
                stack.extend(t for _, t in includes(top, h) if t and not t.startswith("?"))
    return out


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "."
    base_path = os.path.join(top, "tests", "layers.baseline")
    found = violations(top)
    if "--write-baseline" in sys.argv:
        with open(base_path, "w") as f:
            f.write("".join(v + "\n" for v in found))
        print(f"layers: {len(found)} violations written to {base_path}")
        return 0
    base = set()
    if os.path.exists(base_path):
        with open(base_path) as f:
            base = {l.strip() for l in f if l.strip() and not l.startswith("#")}
    new = [v for v in found if v not in base]
    gone = sorted(base - set(found))
    for v in new:
        print(f"layers: new violation: {v}")
    for v in gone:
        print(f"layers: fixed, remove it from tests/layers.baseline: {v}")
    known = len(found) - len(new)
    print(f"layers: {len(found)} violations ({known} known in the baseline, {len(new)} new, {len(gone)} fixed)")
    return 1 if new or gone else 0


if __name__ == "__main__":
    sys.exit(main())
