#!/usr/bin/env python3
"""lint_never.py — the never-true warning is sound: random conjunctions of
comparisons and `in` lists over one or two fields, every one the warning
flags is run by `cepheus run` against events holding every value of a pool
(numbers around the literals, strings, booleans, null, a missing field) and
must match none of them. Also prints how many were flagged: a warning that
flags nothing would pass trivially, so at least MIN must be flagged.

Usage: lint_never.py CEPHEUS [N]"""
import json, random, re, subprocess, sys, tempfile, os

cep = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
rnd = random.Random(21)
LITS = ['0', '1', '2', '3', '5', '5.5', '"a"', '"b"', '"m"', 'null', 'true']
OPS = ['==', '!=', '<', '<=', '>', '>=', 'in']
POOL = [-1, 0, 0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 5.25, 5.5, 6, "a", "b", "c", "m", "n", "", True, False, None]
# Operands whose kind the syntax tells (a number, a string, a boolean, or
# null): a comparison with a literal of another kind never holds.
TYPED = ['len(%s)', 'abs(%s)', '%s + 1', '-%s', 'upper(%s)', 'lower(%s)', 'exists(%s)', 'contains(%s, "a")',
         'startsWith(%s, "m")', '(%s > 2)', 'not %s']


def conjunct(field):
    op = rnd.choice(OPS)
    if op == 'in':
        return '%s in (%s)' % (field, ', '.join(rnd.sample(LITS, rnd.randint(1, 3))))
    lit = rnd.choice(LITS)
    if op not in ('==', '!=') and lit == 'null':
        lit = '1'
    return '%s %s %s' % (field, op, lit) if rnd.random() < 0.8 else '%s %s %s' % (lit, {'<': '>', '>': '<', '<=': '>=', '>=': '<='}.get(op, op), field)


conds = []
for i in range(n):
    fields = ['x'] if rnd.random() < 0.7 else ['x', 'y']
    conds.append(' and '.join(conjunct(rnd.choice(TYPED) % rnd.choice(fields) if rnd.random() < 0.2
                                       else rnd.choice(fields)) for _ in range(rnd.randint(2, 4))))

with tempfile.TemporaryDirectory() as d:
    cepf = os.path.join(d, 'p.cep')
    with open(cepf, 'w') as f:
        for i, c in enumerate(conds):
            f.write('pattern p%d begin a where %s\n' % (i, c))  # pattern i on line i+1
    # `cepheus check` shows at most 50 warnings a file (cli/rules.c): the
    # conditions are checked 50 at a time, each chunk a file of its own.
    flagged = set()
    chunkf = os.path.join(d, 'p.cep.chunk')
    for start in range(0, n, 50):
        with open(chunkf, 'w') as f:
            for i in range(start, min(n, start + 50)):
                f.write('pattern p%d begin a where %s\n' % (i, conds[i]))
        chk = subprocess.run([cep, 'check', '-Wno-keyless', chunkf], capture_output=True, text=True)
        if chk.returncode != 0:
            print(chk.stderr)
            sys.exit('lint_never: cepheus check failed')
        flagged |= {start + int(m.group(1)) - 1 for m in
                    re.finditer(r'^.*p\.cep\.chunk:(\d+):\d+: warning: .*\[-Wnever-true\]$', chk.stderr, re.M)}
    evf = os.path.join(d, 'e.jsonl')
    with open(evf, 'w') as f:
        t = 0
        for x in POOL + ['missing']:
            for y in POOL + ['missing']:
                e = {'ts': t}
                if x != 'missing': e['x'] = x
                if y != 'missing': e['y'] = y
                f.write(json.dumps(e) + '\n')
                t += 1
    run = subprocess.run([cep, 'run', '-q', '-Wnone', cepf, evf], capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr)
        sys.exit('lint_never: cepheus run failed')
    matched = {int(json.loads(l)['pattern'][1:]) for l in run.stdout.splitlines()}

bad = sorted(flagged & matched)
for i in bad:
    print('FAIL: flagged as never true but matched: %s' % conds[i])
MIN = n // 10
print('lint_never: %d conditions, %d flagged never-true, %d of those matched an event, '
      '%d never matched the pool' % (n, len(flagged), len(bad), n - len(matched)))
if len(flagged) < MIN:
    sys.exit('lint_never: fewer than %d flagged' % MIN)
sys.exit(1 if bad else 0)
