#!/usr/bin/env python3
"""lint_regex.py — the regex warning's rewrites mean what the regex means:
for each regex `cepheus check` calls a plain comparison, the condition it
suggests and the regex are run by `cepheus run` against events holding
every value of a pool (strings around the literal, with a final newline,
numbers, booleans, null, a missing field) and must match the same events.

Usage: lint_regex.py CEPHEUS"""
import json, os, re, subprocess, sys, tempfile

cep = sys.argv[1]
lits = ['ab', r'a\.b', 'x-y', 'caf\u00e9']
forms = ['^%s$', '^%s', '%s', r'^%s\z', r'^%s\Z']
regexes = [(op, f % l) for l in lits for f in forms for op in ('=~', '!~')]
plain = {'ab', 'a.b', 'x-y', 'caf\u00e9'}
pool = []
for l in plain:
    pool += [l, l + '\n', 'x' + l, l + 'x', 'x' + l + 'x', l.upper(), '\n' + l]
pool += ['', 'a', 1, 2.5, True, False, None, 'missing']

with tempfile.TemporaryDirectory() as d:
    cepf = os.path.join(d, 'r.cep')
    with open(cepf, 'w') as f:
        for i, (op, r) in enumerate(regexes):
            f.write('pattern r%d begin a where s %s /%s/\n' % (i, op, r))
    chk = subprocess.run([cep, 'check', '-Wno-keyless', cepf], capture_output=True, text=True)
    sugg = {}
    for m in re.finditer(r'r\.cep:(\d+):\d+: warning: this regex is a plain comparison: write (.*?)(?: \(\$ also .*\))? \[-Wregex\]$',
                         chk.stderr, re.M):
        sugg[int(m.group(1)) - 1] = m.group(2)
    with open(cepf, 'a') as f:
        for i, c in sugg.items():
            f.write('pattern w%d begin a where %s\n' % (i, c))
    evf = os.path.join(d, 'e.jsonl')
    with open(evf, 'w') as f:
        for t, v in enumerate(pool):
            e = {'ts': t}
            if v != 'missing':
                e['s'] = v
            f.write(json.dumps(e) + '\n')
    run = subprocess.run([cep, 'run', '-q', '-Wnone', cepf, evf], capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr)
        sys.exit('lint_regex: cepheus run failed')
    got = {}
    for l in run.stdout.splitlines():
        m = json.loads(l)
        got.setdefault(m['pattern'], set()).add(m['start'])

bad = 0
for i, c in sorted(sugg.items()):
    r, w = got.get('r%d' % i, set()), got.get('w%d' % i, set())
    # A $ anchor also takes a final newline: the warning says so; those
    # values aside, the rewrite must agree.
    nl = {t for t, v in enumerate(pool) if isinstance(v, str) and v.endswith('\n')}
    dollar = regexes[i][1].endswith('$') or regexes[i][1].endswith(r'\Z')
    if (r - nl, w - nl) != (r - nl, r - nl) or (not dollar and r != w):
        bad += 1
        print('FAIL: s %s /%s/ and %s differ: %s' % (regexes[i][0], regexes[i][1], c,
              [pool[t] for t in sorted(r ^ w)]))
print('lint_regex: %d regexes, %d called plain comparisons, %d rewrites differ' % (len(regexes), len(sugg), bad))
if len(sugg) < len(regexes) // 2:
    sys.exit('lint_regex: too few suggestions')
sys.exit(1 if bad else 0)
