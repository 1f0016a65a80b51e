# test_threads.py — the GIL is released while an engine works on a batch:
# engines on several threads give the same results as one thread.
import threading

import cepheus
from conftest import CLICK_CEP


def test_two_threads_two_engines(click_events):
    prog = cepheus.compile_file(CLICK_CEP)
    events = click_events * 1  # shared, read-only

    def run():
        eng = cepheus.Engine(prog, max_delay=5000)
        return [(m.key, m.start, m.end) for m in eng.push_many(events) + eng.finish()]

    want = run()
    results = [None] * 4
    errors = []

    def worker(i):
        try:
            for _ in range(5):
                r = run()
                assert r == want
            results[i] = r
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == want for r in results)


def test_one_engine_used_from_two_threads_is_refused_not_crashed(click_events):
    prog = cepheus.compile_file(CLICK_CEP)
    eng = cepheus.Engine(prog, max_delay=5000)
    errors = []
    big = [dict(e, ts=e["ts"] + 10**7 * k) for k in range(20) for e in click_events]

    def worker():
        try:
            eng.push_many(big)
        except RuntimeError as e:
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Either both ran one after the other or one was refused as "in use".
    assert all("in use" in str(e) for e in errors)
