#!/usr/bin/python3
"""bench.py — events/second of Engine.push_many on the click-to-purchase
pattern with dict events (issue 7's W1 benchmark), plus Engine.push one at a
time for comparison.

    PYTHONPATH=<build>/bindings/python/lib /usr/bin/python3 bench.py [N]

N events (default 1000000) are generated in memory first (not timed): 1000
users viewing, clicking and buying 50 items, time increasing in ms, one
event in ten up to 5 s out of order; the engine runs with max_delay 5000.
"""
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# This directory holds the package's sources; unless the extension was built
# in place here, import the built package from PYTHONPATH instead.
if not any(f.startswith("_cepheus") and f.endswith(".so")
           for f in os.listdir(os.path.join(HERE, "cepheus"))):
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
import cepheus  # noqa: E402
CEP = os.path.join(HERE, "..", "..", "examples", "click_to_purchase", "click_to_purchase.cep")


def generate(n, seed=1):
    rnd = random.Random(seed)
    users = ["u%d" % i for i in range(1000)]
    items = ["i%d" % i for i in range(50)]
    devices = ["mobile", "desktop", "tablet"]
    last_click = {}
    ts = 1700000000000
    out = []
    for _ in range(n):
        ts += rnd.randrange(0, 40)
        u = rnd.choice(users)
        r = rnd.random()
        if r < 0.6:
            typ, item = "view", rnd.choice(items)
        elif r < 0.85:
            typ, item = "click", rnd.choice(items)
            last_click[u] = item
        else:
            typ = "purchase"
            item = last_click.get(u) if rnd.random() < 0.7 and u in last_click else rnd.choice(items)
        t = ts - rnd.randrange(0, 5000) if rnd.random() < 0.1 else ts
        out.append({"ts": t, "user_id": u, "type": typ, "item": item,
                    "device": rnd.choice(devices)})
    return out


def bench(label, fn, n):
    t0 = time.perf_counter()
    nmatch = fn()
    dt = time.perf_counter() - t0
    print("%-28s %9d events  %6.3f s  %10.0f events/s  (%d matches)"
          % (label, n, dt, n / dt, nmatch))
    return n / dt


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    prog = cepheus.compile_file(CEP)
    events = generate(n)

    def many():
        eng = cepheus.Engine(prog, max_delay=5000)
        return len(eng.push_many(events)) + len(eng.finish())

    def one_by_one():
        eng = cepheus.Engine(prog, max_delay=5000)
        push = eng.push
        k = 0
        for e in events:
            k += len(push(e))
        return k + len(eng.finish())

    many()  # warm up (allocator, caches)
    rate = max(bench("push_many", many, n) for _ in range(3))
    bench("push (one call per event)", one_by_one, n)
    print("push_many: %.2f M events/s" % (rate / 1e6))


if __name__ == "__main__":
    main()
