# test_pandas.py — optional pandas support: Engine.push_frame and
# cepheus.matches_frame; skipped when pandas is not installed.
import pytest

import cepheus
from conftest import CLICK_CEP

pd = pytest.importorskip("pandas")


def test_push_frame_equals_push_many(click_events):
    prog = cepheus.compile_file(CLICK_CEP)
    df = pd.DataFrame(click_events)
    eng = cepheus.Engine(prog, max_delay=5000)
    got = eng.push_frame(df) + eng.finish()
    eng = cepheus.Engine(prog, max_delay=5000)
    want = eng.push_many(click_events) + eng.finish()
    assert [(m.key, m.start, m.fields) for m in got] == [(m.key, m.start, m.fields) for m in want]


def test_push_frame_datetime_and_missing():
    prog = cepheus.compile('pattern p begin a where t == "a" emit v = a.v, ts = a.ts')
    df = pd.DataFrame({
        "ts": pd.to_datetime(["2023-11-14T22:13:20Z", "2023-11-14T22:13:21Z"]),
        "t": ["a", "a"],
        "v": [1.5, float("nan")],
    })
    ms = cepheus.Engine(prog).push_frame(df)
    assert [m.start for m in ms] == [1700000000000, 1700000001000]
    assert ms[0].fields["v"] == 1.5 and ms[1].fields["v"] is None


def test_matches_frame(click_events):
    eng = cepheus.Engine(cepheus.compile_file(CLICK_CEP), max_delay=5000)
    ms = eng.push_many(click_events) + eng.finish()
    df = cepheus.matches_frame(ms)
    assert list(df.columns) == ["pattern", "key", "start", "end", "user", "item", "waited_ms"]
    assert len(df) == len(ms)
    assert df["waited_ms"].tolist() == [m.fields["waited_ms"] for m in ms]
    assert list(cepheus.matches_frame([]).columns) == ["pattern", "key", "start", "end"]
