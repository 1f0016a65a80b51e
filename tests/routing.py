#!/usr/bin/env python3
"""routing.py — a rule set gives, pattern by pattern, the matches each rule
gives alone (nfa/route.c: an event reaches only the patterns it can concern).

Writes a mix of rules — routed by an equality, an `in` list or an `or` of
equalities on `type` or on the integer `kind`, or by `kind` where both are
tested (the field with more values), and rules that see every
event (strict contiguity, a gate-less waiting step, notFollowedBy, no key)
— and events, some with `kind` as a double (3.0 equals 3) or missing, runs
`cepheus run` over the whole set and over each rule alone, and requires each
pattern's lines of the first run to equal the second's, in order. Alone,
each condition is written `(X) or false`, which the index cannot use: the
rule is run through every event, as without the index.
Prints `routing: N passed, N failed`.

Usage: routing.py CEPHEUS TMPDIR
"""
import os
import random
import re
import subprocess
import sys

cep, tmp = sys.argv[1], sys.argv[2]
r = random.Random(17)


def rule(i):
    t1, t2 = f"t{r.randrange(12)}", f"t{r.randrange(12)}"
    x = r.randrange(100)
    kind = i % 14
    key = "" if kind == 8 else "  key card\n"
    head = f"pattern r{i}\n{key}"
    if kind == 0:  # the W8 shape
        body = (f'  begin a where type == "{t1}" and amount >= {x}\n'
                f'  followedBy b where type == "{t2}" and amount > a.amount\n')
    elif kind == 1:  # an `in` list
        body = (f'  begin a where type in ("{t1}", "{t2}")\n'
                f'  followedBy b where type == "{t2}" and amount < a.amount\n')
    elif kind == 2:  # an `or` of equalities
        body = (f'  begin a where (type == "{t1}" or type == "{t2}") and amount > {x}\n'
                f'  followedBy b where type == "{t1}"\n')
    elif kind == 3:  # an integer field; events carry 3 and 3.0
        body = (f'  begin a where kind == {r.randrange(5)}\n'
                f'  followedBy b where kind == {r.randrange(5)} and amount > a.amount\n')
    elif kind == 4:  # strict contiguity: every event of the key matters
        body = f'  begin a where type == "{t1}"\n  next b where type == "{t2}"\n'
    elif kind == 5:  # a waiting step without a gate
        body = f'  begin a where type == "{t1}"\n  followedBy b where amount > a.amount\n'
    elif kind == 6:  # notFollowedBy
        body = (f'  begin a where type == "{t1}"\n  notFollowedBy n where type == "{t2}"\n'
                f'  followedBy b where type == "t0"\n')
    elif kind == 7:  # a loop
        body = f'  begin a+ where type == "{t1}"\n  followedBy b where type == "{t2}"\n'
    elif kind == 8:  # no key
        body = f'  begin a where type == "{t1}"\n  followedBy b where type == "{t2}"\n'
    elif kind == 9:  # two equalities: routed by kind, which has more values than type
        body = (f'  begin a where type == "{t1}" and kind == {r.randrange(5)}\n'
                f'  followedBy b where type == "{t1}" and kind == {r.randrange(5)}\n')
    elif kind == 10:  # a trailing notFollowedBy: its start has no gate, it is routed
        body = (f'  begin a where type == "{t1}" and amount > {x}\n'
                f'  notFollowedBy n where type == "{t2}"\n')
    elif kind == 11:  # W7's loop: routed by its gates, and reached by every
        # event of a key with a partial match in the loop's proceeding state
        body = (f'  begin a where type == "{t1}"\n  followedBy b+ where type == "{t2}"\n'
                f'  followedBy c where type == "t{r.randrange(12)}"\n')
    elif kind == 12:  # a bounded loop, then strict contiguity
        body = (f'  begin a where type == "{t1}" and amount > {x}\n'
                f'  followedBy b{{1,3}} where type == "{t2}"\n  next c where type == "{t1}"\n')
    else:  # a loop whose step joins an earlier one, then an optional step
        body = (f'  begin a where type == "{t1}"\n  followedBy b+ where type == "{t2}" and amount > a.amount\n'
                f'  followedBy c? where type == "t{r.randrange(12)}"\n  followedBy d where type == "{t1}"\n')
    skip = r.choice(["", "  skip pastLastEvent\n", "  skip toNext\n"])
    return head + body + "  within 2s\n" + skip


rules = [rule(i) for i in range(98)]
with open(os.path.join(tmp, "all.cep"), "w") as f:
    f.write("\n".join(rules))
with open(os.path.join(tmp, "ev.jsonl"), "w") as f:
    ts = 1000
    for i in range(4000):
        ts += r.randrange(0, 40)
        kind = r.randrange(5)
        k = r.choice([str(kind), f"{kind}.0", None]) if r.random() < 0.3 else str(kind)
        kf = f',"kind":{k}' if k is not None else ""
        f.write(f'{{"ts":{ts},"card":"c{r.randrange(6)}","type":"t{r.randrange(14)}",'
                f'"amount":{r.randrange(100)}{kf}}}\n')


def run(pat):
    """The matches, then the timeouts (each file in its own order)."""
    to = os.path.join(tmp, "timeouts.jsonl")
    out = subprocess.run([cep, "run", "--timeouts", to, pat, os.path.join(tmp, "ev.jsonl")],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"routing: cepheus run {pat} failed: {out.stderr}")
    with open(to) as f:
        return out.stdout.splitlines() + ["--- timeouts"] + f.read().splitlines()


whole = run(os.path.join(tmp, "all.cep"))
passed = failed = total = 0
for i, text in enumerate(rules):
    p = os.path.join(tmp, f"r{i}.cep")
    with open(p, "w") as f:
        # `(X) or false` holds when X does, but is no equality the index
        # can use: the rule alone runs through every event, unrouted.
        f.write(re.sub(r"where (.*)$", r"where (\1) or false", text, flags=re.M))
    alone = run(p)
    mine = [l for l in whole if l.startswith(f'{{"pattern":"r{i}",') or l.startswith("---")]
    total += len(alone) - 1
    if mine == alone:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: r{i}: {len(mine)} lines in the set, {len(alone)} alone\n{text}")
if total < 200:
    failed += 1
    print(f"FAIL: only {total} matches and timeouts: the test compares too little")
print(f"routing: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
