#!/usr/bin/python3
"""click_to_purchase.py — the click-to-purchase example run from Python: reads
JSON Lines events, runs click_to_purchase.cep with the cepheus module and
prints one JSON object per match, as `cepheus run --max-delay 5000` does.

    gen_events 2000 | /usr/bin/python3 click_to_purchase.py
    /usr/bin/python3 click_to_purchase.py events.jsonl
    /usr/bin/python3 click_to_purchase.py --gen path/to/gen_events 2000
"""
import json
import os
import subprocess
import sys

import cepheus

HERE = os.path.dirname(os.path.abspath(__file__))


def read_events(argv):
    if argv[:1] == ["--gen"]:
        out = subprocess.run(argv[1:], check=True, capture_output=True, text=True).stdout
        return [json.loads(line) for line in out.splitlines()]
    f = open(argv[0]) if argv else sys.stdin
    with f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv):
    program = cepheus.compile_file(os.path.join(HERE, "click_to_purchase.cep"))
    events = read_events(argv)
    with cepheus.Engine(program, max_delay=5000) as engine:
        matches = engine.push_many(events) + engine.finish()
        stats = engine.stats
    for m in matches:
        out = {"pattern": m.pattern, "key": m.key, "start": m.start, "end": m.end,
               "fields": m.fields}
        print(json.dumps(out, separators=(",", ":"), ensure_ascii=False))
    print("%d events, %d matches" % (stats["events"], stats["matches"]), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
