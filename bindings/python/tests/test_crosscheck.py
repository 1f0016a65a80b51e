# test_crosscheck.py — the Python engine and `cepheus run` agree on the
# click-to-purchase example: same matches, keys, times, emit fields, events.
import json
import re
import subprocess

import cepheus
from conftest import CLICK_CEP


def run_tool(tool, cep_path, lines):
    out = subprocess.run([tool, "run", "--max-delay", "5000", cep_path],
                         input="\n".join(lines) + "\n", capture_output=True, text=True,
                         check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def run_python(prog, events, **kw):
    eng = cepheus.Engine(prog, max_delay=5000, **kw)
    return eng.push_many(events) + eng.finish()


def test_fields_equal_cli(cepheus_tool, click_lines, click_events):
    expected = run_tool(cepheus_tool, CLICK_CEP, click_lines)
    got = run_python(cepheus.compile_file(CLICK_CEP), click_events)
    assert len(got) == len(expected) == 81
    for m, e in zip(got, expected):
        assert (m.pattern, m.key, m.start, m.end) == (e["pattern"], e["key"], e["start"], e["end"])
        assert m.fields == e["fields"]


def test_events_equal_cli(tmp_path, cepheus_tool, click_text, click_lines, click_events):
    # Without emit, the tool prints the events of each step as read.
    # The emit clause ends the file: cut from it to the end.
    no_emit = re.sub(r"\n\s*emit\b.*", "\n", click_text, flags=re.S)
    assert "emit user" not in no_emit and "waited_ms" not in no_emit
    cep = tmp_path / "no_emit.cep"
    cep.write_text(no_emit)
    expected = run_tool(cepheus_tool, str(cep), click_lines)
    got = run_python(cepheus.compile(no_emit), click_events)
    assert len(got) == len(expected) == 81
    for m, e in zip(got, expected):
        assert (m.pattern, m.key, m.start, m.end) == (e["pattern"], e["key"], e["start"], e["end"])
        assert m.events == e["events"]


def test_push_one_by_one_equals_batch(click_events):
    prog = cepheus.compile_file(CLICK_CEP)
    eng = cepheus.Engine(prog, max_delay=5000)
    one = [m for e in click_events for m in eng.push(e)] + eng.finish()
    batch = run_python(prog, click_events)
    assert [(m.key, m.start, m.end, m.fields) for m in one] == \
           [(m.key, m.start, m.end, m.fields) for m in batch]


def test_example_script_runs(click_lines):
    import os
    import sys

    from conftest import EXAMPLE, build_tool

    gen = build_tool("examples", "click_to_purchase", "gen_events")
    script = os.path.join(EXAMPLE, "click_to_purchase.py")
    out = subprocess.run([sys.executable, script, "--gen", gen, "2000"], capture_output=True,
                         text=True, check=True).stdout
    with open(os.path.join(EXAMPLE, "expected.jsonl")) as f:
        expected = [json.loads(line) for line in f]
    got = [json.loads(line) for line in out.splitlines()]
    assert got == expected
