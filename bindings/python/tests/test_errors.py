# test_errors.py — PatternError with rendered diagnostics, and bad events
# raising TypeError/ValueError that name the field (never a crash).
import pytest

import cepheus

PROG = 'pattern p key k begin a where t == "a" emit v = a.v'


def test_pattern_error_text_and_diagnostics():
    text = 'pattern p\n  begin a where x ==\n'
    with pytest.raises(cepheus.PatternError) as info:
        cepheus.compile(text, name="rules.cep")
    err = info.value
    assert isinstance(err, ValueError)
    msg = str(err)
    lines = msg.splitlines()
    assert lines[0].startswith("rules.cep:2:")
    assert "error:" in lines[0]
    assert lines[1] == "  begin a where x =="
    assert lines[2].strip() == "^"
    assert len(err.diagnostics) == 1
    d = err.diagnostics[0]
    assert (d.line, d.code) == (2, 1)
    assert lines[2].index("^") == d.column - 1
    assert isinstance(d.message, str) and d.message in msg
    code, line, column, message = d  # a named tuple
    assert line == 2


def test_pattern_error_lists_every_error():
    text = 'pattern p begin a where nosuch[0].x == 1\npattern q begin b where t ==\n'
    with pytest.raises(cepheus.PatternError) as info:
        cepheus.compile(text)
    assert len(info.value.diagnostics) >= 2
    assert str(info.value).startswith("<string>:1:")


def test_compile_bad_argument_types():
    with pytest.raises(TypeError):
        cepheus.compile(42)
    with pytest.raises(TypeError):
        cepheus.compile("pattern p begin a where t == 1", name=3)


@pytest.fixture
def eng():
    return cepheus.Engine(cepheus.compile(PROG))


@pytest.mark.parametrize("bad", [[1], {"x": 1}, object(), b"bytes", 1 + 2j])
def test_unsupported_value_type_names_field(eng, bad):
    with pytest.raises(TypeError, match="field 'v'"):
        eng.push({"ts": 1, "t": "a", "v": bad})


def test_event_not_a_dict(eng):
    with pytest.raises(TypeError, match="must be a dict"):
        eng.push([("ts", 1)])
    with pytest.raises(TypeError, match="event 1: an event must be a dict"):
        eng.push_many([{"ts": 1}, 5])


def test_missing_and_bad_time(eng):
    with pytest.raises(ValueError, match="field 'ts'.*missing"):
        eng.push({"t": "a"})
    for bad in ("yesterday", "2023-11-14T22:13:20", 1.5, True, None, [1], 2**70):
        with pytest.raises(ValueError, match="field 'ts'"):
            eng.push({"ts": bad, "t": "a"})
    assert eng.stats["events"] == 0


@pytest.mark.parametrize("bad, why", [
    ("yesterday", r"event time 'yesterday' is not an RFC 3339 time with a zone"),
    ("2023-11-14T22:13:20", r"event time '2023-11-14T22:13:20' is not an RFC 3339 time with a zone"),
    (2**70, r"event time 1180591620717411303424 is out of range \(64-bit milliseconds\)"),
    (1.5, r"event time 1\.5 is not whole milliseconds"),
    ([1], r"event time must be int milliseconds, an RFC 3339 string or a datetime, not list"),
    (True, r"event time must be int milliseconds, an RFC 3339 string or a datetime, not bool"),
])
def test_bad_time_says_what_is_wrong(eng, bad, why):
    # A str that is not RFC 3339 is not "not str": the message shows the
    # value and what it lacks (it said "... RFC 3339 string, not str").
    with pytest.raises(ValueError, match="^field 'ts': " + why):
        eng.push({"ts": bad, "t": "a"})
    with pytest.raises(ValueError, match="^event 1: field 'ts': " + why):
        eng.push_many([{"ts": 1, "t": "x"}, {"ts": bad, "t": "a"}])


def test_lone_surrogate_is_value_error(eng):
    with pytest.raises(ValueError, match="field 't'"):
        eng.push({"ts": 1, "t": "\udc80"})


@pytest.mark.parametrize("bad", ["\ud800", "\udfff", "a\ud800b", "\ud800A",
                                 "\ud83d\ude00"])  # a pair as two code points too
def test_surrogate_code_points_are_value_errors(eng, bad):
    # A str may hold surrogate code points; they are not characters and
    # have no UTF-8, as the JSON reader refuses "\ud800" (docs/python.md).
    with pytest.raises(ValueError, match="field 't'.*UTF-8"):
        eng.push({"ts": 1, "t": bad})
    with pytest.raises(ValueError, match="field 'ts'"):
        eng.push({"ts": bad, "t": "a"})
    assert eng.stats["events"] == 0


def test_astral_character_is_one_string(eng):
    # U+1F600 written as the character: four UTF-8 bytes, the string the
    # JSON reader makes of "\ud83d\ude00".
    prog = cepheus.compile('pattern p begin a where t == "\U0001F600" emit t = a.t')
    e = cepheus.Engine(prog)
    out = e.push({"ts": 1, "t": "\U0001F600"}) + e.finish()
    assert [m.fields["t"] for m in out] == ["\U0001F600"]


def test_bad_event_in_batch_pushes_the_ones_before(eng):
    evs = [{"ts": i, "t": "a", "k": i} for i in range(5)] + [{"ts": 9, "t": {}}]
    with pytest.raises(TypeError, match="event 5: field 't'"):
        eng.push_many(evs)
    assert eng.stats["events"] == 5
    # The matches of the events before the bad one are not lost.
    assert len(eng.push_many([])) == 5


def test_bad_event_after_a_chunk(eng):
    n = cepheus.CHUNK + 10
    evs = [{"ts": i, "t": "x"} for i in range(n)] + [{"t": "x"}]
    with pytest.raises(ValueError, match="event %d: field 'ts'" % n):
        eng.push_many(evs)
    assert eng.stats["events"] == n


def test_generator_raising(eng):
    def gen():
        yield {"ts": 1, "t": "a"}
        raise OSError("disk")

    with pytest.raises(OSError, match="disk"):
        eng.push_many(gen())
    assert eng.stats["events"] == 1


def test_not_iterable(eng):
    with pytest.raises(TypeError):
        eng.push_many(5)


def test_engine_arguments():
    p = cepheus.compile(PROG)
    with pytest.raises(TypeError):
        cepheus.Engine("not a program")
    with pytest.raises(ValueError):
        cepheus.Engine(p, max_delay=-1)
    with pytest.raises(TypeError):
        cepheus.Engine(p, on_match=5)
    with pytest.raises(TypeError):
        cepheus.Engine(p, time_field=5)
    with pytest.raises(ValueError):
        cepheus.Engine(p).advance_watermark("soon")
    with pytest.raises(TypeError):
        cepheus.Program()
    e = cepheus.Engine(p)
    e.close()
    with pytest.raises(RuntimeError, match="twice"):
        e.__init__(p)


def test_uninitialised_engine_does_not_crash():
    e = cepheus.Engine.__new__(cepheus.Engine)
    with pytest.raises(ValueError, match="closed"):
        e.push({"ts": 1})
    assert e.stats["events"] == 0
    assert e.late == [] and e.timeouts == []
