# test_hostile.py — hostile pattern files through the bindings (issue 22):
# a long flat expression evaluated on a thread with a small stack, a
# chain past the limit, /dev/zero as a pattern file.
import os
import subprocess
import sys
import time

import pytest

import cepheus

# Runs in a child: a stack overflow would kill the test runner itself.
SMALL_STACK = r'''
import threading, cepheus
out = []
def work():
    for n in (400, 499):
        text = "pattern p begin a where x == " + "+".join(["1"] * n)
        prog = cepheus.compile(text)
        eng = cepheus.Engine(prog)
        ms = eng.push({"ts": 1, "x": n}) + eng.push({"ts": 2, "x": 1}) + eng.finish()
        out.append((n, [m.start for m in ms]))
threading.stack_size(256 * 1024)
t = threading.Thread(target=work)
t.start()
t.join()
print(out)
'''


def test_long_chain_on_a_256k_stack_thread():
    r = subprocess.run([sys.executable, "-c", SMALL_STACK], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[(400, [1]), (499, [1])]\n"


def test_chain_past_the_limit_is_a_pattern_error():
    text = "pattern p begin a where x == " + "+".join(["1"] * 30000)
    with pytest.raises(cepheus.PatternError) as info:
        cepheus.compile(text, name="c.cep")
    d = info.value.diagnostics
    assert len(d) == 1
    assert d[0].message.startswith("expression too deep: more than 500 levels of operators")
    assert (d[0].line, d[0].column) == (1, 1030)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_compile_file_dev_zero_fails_fast():
    start = time.monotonic()
    with pytest.raises(cepheus.PatternError) as info:
        cepheus.compile_file("/dev/zero")
    assert time.monotonic() - start < 10
    assert "the limit is 2097152" in str(info.value)


def test_many_errors_on_one_long_line_stay_small():
    # 3000 errors on one 140 KB line: the message shows 50, each with a
    # 120-byte window of the line; 1000 diagnostics are kept.
    src = " ".join("pattern p%d key k begin a where nofn(x) == 1" % i for i in range(3000))
    with pytest.raises(cepheus.PatternError) as e:
        cepheus.compile(src)
    text = str(e.value)
    assert len(text) < 20000
    assert text.splitlines()[-1] == "<string>: error: too many errors: 2950 more not shown (3000 in all)"
    assert len(e.value.diagnostics) == 1000
    assert e.value.diagnostics[0].message == "unknown function 'nofn'"
