# test_ownership.py — matches hold the very dicts pushed, kept alive by the
# engine through event tags; reference counts return to where they started.
import gc
import sys

import cepheus

PROG = """
pattern ab
  key k
  begin a where t == "a"
  followedBy b where t == "b"
  within 1s
"""


def make(i, t, k=None):
    return {"ts": i, "t": t, "k": i % 7 if k is None else k, "payload": [i]}


def test_matches_return_the_same_objects_after_caller_drops_them():
    eng = cepheus.Engine(cepheus.compile(PROG), max_delay=5)
    a = make(1, "a", k=0)
    ident = id(a)
    eng.push(a)
    del a  # only the engine holds it now
    gc.collect()
    ms = eng.push(make(3, "b", k=0)) + eng.finish()
    assert len(ms) == 1
    got = ms[0].events["a"][0]
    assert id(got) == ident and got["payload"] == [1]


def test_refcounts_stable_over_repeated_runs():
    p = cepheus.compile(PROG)
    events = [make(i, "a" if i % 3 else "b") for i in range(3000)]
    before = [sys.getrefcount(e) for e in events]
    for _ in range(5):
        for delay in (0, 50):
            with cepheus.Engine(p, max_delay=delay) as eng:
                ms = eng.push_many(events) + eng.finish()
                assert ms
                del ms
            # Engines closed without finish() must release what they keep.
            eng = cepheus.Engine(p, max_delay=delay)
            eng.push_many(events[:500])
            del eng
    gc.collect()
    assert [sys.getrefcount(e) for e in events] == before


def test_match_objects_keep_events_after_engine_is_gone():
    eng = cepheus.Engine(cepheus.compile(PROG))
    ms = eng.push_many([make(1, "a", k=0), make(2, "b", k=0)])
    del eng
    gc.collect()
    assert ms[0].events["b"][0]["ts"] == 2


def test_no_growth_in_a_loop():
    p = cepheus.compile(PROG)
    eng = cepheus.Engine(p, max_delay=10)

    def run(n, base):
        for i in range(n):
            ms = eng.push(make(base + i, "a" if i % 2 else "b"))
            del ms

    run(2000, 0)  # warm up: pools, caches
    gc.collect()
    blocks = sys.getallocatedblocks()
    run(10000, 10000)
    gc.collect()
    grown = sys.getallocatedblocks() - blocks
    assert grown < 200, grown


def test_late_events_are_the_same_objects():
    eng = cepheus.Engine(cepheus.compile(PROG))
    eng.push(make(100, "a"))
    late = make(1, "b")
    before = sys.getrefcount(late)
    eng.push(late)
    got = eng.late
    assert got[0] is late
    del got
    assert sys.getrefcount(late) == before


def test_cycle_through_match_is_collected():
    import weakref

    class D(dict):
        pass

    eng = cepheus.Engine(cepheus.compile(PROG))
    a = D(ts=1, t="a", k=0)
    eng.push(a)
    m = eng.push(D(ts=2, t="b", k=0))[0]
    a["match"] = m  # a -> m -> events -> a
    r = weakref.ref(a)
    del a, m
    eng.close()
    gc.collect()
    assert r() is None


def test_callbacks_reading_late_while_delivering():
    got = []
    eng = None

    def on_late(e):
        got.append((e["ts"], eng.late))

    eng = cepheus.Engine(cepheus.compile(PROG), on_late=on_late)
    eng.push(make(100, "a"))
    eng.push_many([make(1, "b"), make(2, "b")])
    assert [t for t, _ in got] == [1, 2]
