# test_api.py — the Python API of issue 7: compile, Program, Engine, Match,
# callbacks, late events, timeouts, stats, context manager.
import datetime

import pytest

import cepheus

SIMPLE = """
pattern ab
  key k
  begin a where t == "a"
  followedBy b where t == "b"
  emit x = a.v, y = b.v
"""


def ev(ts, t, k="k1", **kw):
    d = {"ts": ts, "t": t, "k": k}
    d.update(kw)
    return d


def test_compile_program_attributes():
    p = cepheus.compile(SIMPLE, name="simple.cep")
    assert isinstance(p, cepheus.Program)
    assert p.patterns == ("ab",)
    assert set(p.fields) == {"k", "t", "v"}
    assert p.fields[0] == "k"  # key fields come first
    assert p.name == "simple.cep"
    assert "ab" in repr(p)


def test_compile_bytes_and_default_name():
    p = cepheus.compile(SIMPLE.encode())
    assert p.name == "<string>"


def test_compile_file(tmp_path):
    f = tmp_path / "x.cep"
    f.write_text(SIMPLE)
    p = cepheus.compile_file(f)
    assert p.patterns == ("ab",)
    assert p.name == str(f)


def test_push_returns_matches():
    eng = cepheus.Engine(cepheus.compile(SIMPLE))
    assert eng.push(ev(1, "a", v=10)) == []
    ms = eng.push(ev(2, "b", v=20))
    assert len(ms) == 1
    m = ms[0]
    assert isinstance(m, cepheus.Match)
    assert m.pattern == "ab"
    assert m.key == "k1"
    assert (m.start, m.end) == (1, 2)
    assert m.fields == {"x": 10, "y": 20}
    assert list(m.events) == ["a", "b"]
    assert m.events["a"][0]["v"] == 10
    assert m.timeout is False
    assert "ab" in repr(m)
    assert eng.finish() == []


def test_key_none_and_tuple():
    p = cepheus.compile('pattern p begin a where t == "a"')
    eng = cepheus.Engine(p)
    assert eng.push(ev(1, "a"))[0].key is None
    p2 = cepheus.compile('pattern p key k, j begin a where t == "a"')
    eng = cepheus.Engine(p2)
    assert eng.push(ev(1, "a", j=7))[0].key == ("k1", 7)


def test_value_types_round_trip():
    p = cepheus.compile('pattern p begin a where t == "a" emit i = a.i, f = a.f, s = a.s, '
                        'b = a.b, n = a.n')
    eng = cepheus.Engine(p)
    m = eng.push(ev(1, "a", i=-5, f=2.5, s="h\u00e9llo \U0001F600", b=True, n=None))[0]
    assert m.fields == {"i": -5, "f": 2.5, "s": "h\u00e9llo \U0001F600", "b": True, "n": None}
    assert type(m.fields["b"]) is bool
    # Beyond int64 becomes a float, as in the JSON reader.
    m = eng.push(ev(2, "a", i=2**70))[0]
    assert m.fields["i"] == float(2**70)
    # Missing fields are null.
    m = eng.push({"ts": 3, "t": "a"})[0]
    assert m.fields["i"] is None


def test_push_many_list_tuple_generator():
    p = cepheus.compile(SIMPLE)
    evs = [ev(2 * i, "a", v=i) for i in range(3000)]
    evs = [e for i, a in enumerate(evs) for e in (a, ev(2 * i + 1, "b", v=-i))]
    for conv in (list, tuple, iter, lambda x: (e for e in x)):
        eng = cepheus.Engine(p)
        ms = eng.push_many(conv(evs))
        assert len(ms) == 3000
        assert [m.fields["x"] for m in ms] == list(range(3000))
        assert eng.finish() == []


def test_push_many_empty():
    eng = cepheus.Engine(cepheus.compile(SIMPLE))
    assert eng.push_many([]) == []
    assert eng.push_many(iter(())) == []


def test_rfc3339_time_and_parse_time():
    p = cepheus.compile(SIMPLE)
    eng = cepheus.Engine(p)
    eng.push({"ts": "2023-11-14T22:13:20Z", "t": "a", "k": 1})
    m = eng.push({"ts": "2023-11-14T22:13:20.5+00:00", "t": "b", "k": 1})[0]
    assert (m.start, m.end) == (1700000000000, 1700000000500)
    assert cepheus.parse_time("1970-01-01T00:00:01Z") == 1000
    assert eng.push({"ts": 1700000000600.0, "t": "a", "k": 1}) == []


def test_custom_time_field():
    eng = cepheus.Engine(cepheus.compile(SIMPLE), time_field="when")
    assert eng.time_field == "when"
    eng.push({"when": 1, "t": "a"})
    assert len(eng.push({"when": 2, "t": "b"})) == 1


@pytest.mark.parametrize("given, ms", [
    (5000, 5000), ("5000", 5000), ("500ms", 500), ("5s", 5000), ("10m", 600000), ("1h", 3600000),
    ("2d", 172800000), (datetime.timedelta(seconds=1.5), 1500),
    # The largest timedelta, 8.6e16 ms (its microseconds overflowed 64 bits)
    (datetime.timedelta.max, 86399999999999999)])
def test_max_delay_as_the_cli_takes_it(given, ms):
    # --max-delay 5s works on the command line: max_delay="5s" here too.
    assert cepheus.Engine(cepheus.compile(SIMPLE), max_delay=given).max_delay == ms


@pytest.mark.parametrize("given, exc, msg", [
    ("5 s", ValueError, "max_delay '5 s' is not a duration"), ("5x", ValueError, "is not a duration"),
    ("", ValueError, "is not a duration"), (-1, ValueError, "max_delay must be >= 0"),
    (datetime.timedelta(seconds=-1), ValueError, "max_delay must be >= 0"),
    (1.5, TypeError, "max_delay must be int milliseconds, a duration string"),
    (True, TypeError, "not bool")])
def test_max_delay_refused(given, exc, msg):
    with pytest.raises(exc, match=msg):
        cepheus.Engine(cepheus.compile(SIMPLE), max_delay=given)


def test_max_delay_reorders_and_finish_flushes():
    eng = cepheus.Engine(cepheus.compile(SIMPLE), max_delay=10)
    assert eng.max_delay == 10
    assert eng.push(ev(5, "b")) == []
    assert eng.push(ev(3, "a")) == []  # earlier, within max_delay: reordered
    ms = eng.finish()
    assert [(m.start, m.end) for m in ms] == [(3, 5)]


def test_advance_watermark_releases():
    eng = cepheus.Engine(cepheus.compile(SIMPLE), max_delay=1000)
    eng.push(ev(1, "a"))
    eng.push(ev(2, "b"))
    assert eng.advance_watermark(1) == []  # b (at 2) is still buffered
    ms = eng.advance_watermark(100)
    assert [(m.start, m.end) for m in ms] == [(1, 2)]
    assert eng.advance_watermark(50) == []  # never goes back
    assert eng.advance_watermark("2023-11-14T22:13:20Z") == []


def test_late_events_list_and_callback():
    p = cepheus.compile(SIMPLE)
    eng = cepheus.Engine(p)
    eng.push(ev(100, "a"))
    late = ev(50, "b")
    eng.push(late)
    got = eng.late
    assert got == [late] and got[0] is late
    assert eng.late == []  # since the last read
    seen = []
    eng = cepheus.Engine(p, on_late=seen.append)
    eng.push(ev(100, "a"))
    eng.push_many([ev(10, "b"), ev(20, "b")])
    assert [e["ts"] for e in seen] == [10, 20]
    assert eng.late == []
    assert eng.stats["late"] == 2


def test_on_match_callback():
    seen = []
    eng = cepheus.Engine(cepheus.compile(SIMPLE), on_match=seen.append)
    assert eng.push(ev(1, "a")) == []
    assert eng.push(ev(2, "b")) == []
    assert len(seen) == 1 and seen[0].end == 2


def test_callback_exception_propagates_and_keeps_rest():
    calls = []

    def cb(m):
        calls.append(m)
        if len(calls) == 1:
            raise KeyError("boom")

    p = cepheus.compile('pattern p begin a where t == "a"')
    eng = cepheus.Engine(p, on_match=cb)
    with pytest.raises(KeyError):
        eng.push_many([ev(1, "a"), ev(2, "a")])
    assert len(calls) == 1
    # The undelivered match comes with the next call.
    eng.push(ev(3, "a"))
    assert [m.start for m in calls] == [1, 2, 3]


def test_reentrant_call_from_callback_is_refused():
    errors = []
    eng = None

    def cb(m):
        try:
            eng.push(ev(9, "a"))
        except RuntimeError as e:
            errors.append(e)

    eng = cepheus.Engine(cepheus.compile('pattern p begin a where t == "a"'), on_match=cb)
    eng.push(ev(1, "a"))
    assert len(errors) == 1 and "in use" in str(errors[0])
    assert eng.stats["events"] == 1  # stats readable from anywhere


def test_timeouts():
    p = cepheus.compile('pattern p key k begin a where t == "a" '
                        'followedBy b where t == "b" within 10ms')
    eng = cepheus.Engine(p, timeouts=True)
    a = ev(1, "a")
    eng.push(a)
    eng.push(ev(100, "x"))
    t = eng.timeouts
    assert len(t) == 1 and t[0].timeout and t[0].events["a"][0] is a
    assert t[0].events["b"] == [] and t[0].fields == {}
    assert eng.timeouts == []
    seen = []
    eng = cepheus.Engine(p, on_timeout=seen.append)
    eng.push(ev(1, "a"))
    eng.finish()
    assert len(seen) == 1
    # Not asked for: nothing is collected.
    eng = cepheus.Engine(p)
    eng.push(ev(1, "a"))
    eng.push(ev(100, "x"))
    assert eng.timeouts == []
    assert eng.stats["timeouts"] == 1


def test_stats():
    eng = cepheus.Engine(cepheus.compile(SIMPLE))
    s = eng.stats
    assert s["events"] == 0 and s["watermark"] is None
    eng.push_many([ev(1, "a"), ev(2, "b"), ev(3, "a")])
    s = eng.stats
    assert s["events"] == 3 and s["matches"] == 1
    assert s["partial_matches"] == 1 and s["keys"] == 1
    assert set(s) >= {"late", "buffered", "peak_partial_matches", "timeouts"}
    assert s["watermark"] == 3


def test_context_manager_closes():
    p = cepheus.compile(SIMPLE)
    with cepheus.Engine(p) as eng:
        eng.push(ev(1, "a"))
        assert eng.push(ev(2, "b"))[0].end == 2
    assert eng.closed
    with pytest.raises(ValueError, match="closed"):
        eng.push(ev(2, "b"))
    eng.close()  # twice is fine


def test_finish_twice_and_push_after_finish():
    eng = cepheus.Engine(cepheus.compile(SIMPLE))
    eng.finish()
    with pytest.raises(RuntimeError, match="finished"):
        eng.finish()
    with pytest.raises(RuntimeError, match="finished"):
        eng.push(ev(1, "a"))


def test_many_engines_share_a_program():
    p = cepheus.compile(SIMPLE)
    engines = [cepheus.Engine(p) for _ in range(5)]
    for e in engines:
        e.push(ev(1, "a"))
    assert all(len(e.push(ev(2, "b"))) == 1 for e in engines)
    del p
    assert engines[0].program.patterns == ("ab",)


def test_positional_engine_arguments():
    seen = []
    eng = cepheus.Engine(cepheus.compile(SIMPLE), 0, "ts", seen.append, None)
    eng.push(ev(1, "a"))
    eng.push(ev(2, "b"))
    assert len(seen) == 1


def test_nested_fields_and_backquotes():
    # Issue 16: paths read into nested dicts, as the JSON readers do.
    p = cepheus.compile(
        "pattern p key user.id begin a where payload.amount > 10 and `risk-score` > 0.5\n"
        "  next b where payload.amount > a.payload.amount\n"
        "  emit uid = a.user.id, d = b.payload.amount - a.payload.amount, k = a.`key`\n")
    assert "payload.amount" in p.fields and "risk-score" in p.fields
    eng = cepheus.Engine(p)
    assert eng.push({"ts": 1, "user": {"id": "u"}, "payload": {"amount": 20},
                     "risk-score": 0.9, "key": "K"}) == []
    # A level that is not a dict, or a missing one, reads as null.
    assert eng.push({"ts": 2, "user": {"id": "v"}, "payload": 5}) == []
    assert eng.push({"ts": 3, "user": {"id": "u"}, "payload": {"amount": 15}}) == []
    assert eng.push({"ts": 4, "user": {"id": "u"}, "payload": {"amount": 30}, "risk-score": 0.9}) == []
    ms = eng.push({"ts": 5, "user": {"id": "u"}, "payload": {"amount": 31}})
    assert [(m.key, m.fields) for m in ms] == [("u", {"uid": "u", "d": 1, "k": None})]


def test_time_field_is_a_number_and_a_path():
    # The time field reads as milliseconds, whether int, RFC 3339 or datetime.
    import datetime
    p = cepheus.compile("pattern p begin a next b where meta.t - a.meta.t == 1500\n"
                        "  emit t0 = a.meta.t\n")
    eng = cepheus.Engine(p, time_field="meta.t")
    utc = datetime.timezone.utc
    assert eng.push({"meta": {"t": datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=utc)}}) == []
    ms = eng.push({"meta": {"t": "2023-11-14T22:13:21.5Z"}})
    assert [(m.start, m.end, m.fields) for m in ms] == [
        (1700000000000, 1700000001500, {"t0": 1700000000000})]
    # A naive datetime is UTC; an offset is honoured; times before 1970 too.
    eng = cepheus.Engine(cepheus.compile("pattern p begin a emit t = a.ts\n"))
    tz = datetime.timezone(datetime.timedelta(hours=2))
    got = [eng.push({"ts": d})[0].fields["t"] for d in (
        datetime.datetime(1969, 12, 31, 23, 59, 59, 999000),
        datetime.datetime(1970, 1, 1, 0, 0, 1, 500),
        datetime.datetime(1970, 1, 1, 2, 0, 2, tzinfo=tz))]
    assert got == [-1, 1000, 2000]
    with pytest.raises(ValueError):
        cepheus.Engine(p, time_field="meta..t")


def test_object_read_whole_is_none_when_a_path_goes_through_it():
    # As in the JSON reader: payload (a dict) reads as null, payload.amount
    # is read through it; a dict where no path goes through stays an error.
    p = cepheus.compile("pattern p begin a where payload == null and payload.amount > 1\n"
                        "  emit n = a.payload.amount\n")
    eng = cepheus.Engine(p)
    assert [m.fields for m in eng.push({"ts": 1, "payload": {"amount": 2}})] == [{"n": 2}]
    with pytest.raises(TypeError, match="field 'payload.amount'"):
        eng.push({"ts": 2, "payload": {"amount": {"x": 1}}})
