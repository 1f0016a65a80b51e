# conftest.py — shared fixtures for the cepheus Python tests: the example
# pattern, generated events and the built tools (found through
# CEPHEUS_BUILD_DIR / CEPHEUS_SRC_DIR, set by tests/python.sh).
import json
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("CEPHEUS_SRC_DIR") or os.path.normpath(os.path.join(HERE, "..", "..", ".."))
BUILD = os.environ.get("CEPHEUS_BUILD_DIR")
EXAMPLE = os.path.join(SRC, "examples", "click_to_purchase")
CLICK_CEP = os.path.join(EXAMPLE, "click_to_purchase.cep")


def build_tool(*parts):
    if not BUILD:
        pytest.skip("CEPHEUS_BUILD_DIR not set")
    path = os.path.join(BUILD, *parts)
    if not os.access(path, os.X_OK):
        pytest.skip("%s not built" % path)
    return path


@pytest.fixture(scope="session")
def click_text():
    with open(CLICK_CEP) as f:
        return f.read()


@pytest.fixture(scope="session")
def click_lines():
    """2000 generated click/purchase events as JSON lines (the example's input)."""
    gen = build_tool("examples", "click_to_purchase", "gen_events")
    out = subprocess.run([gen, "2000"], check=True, capture_output=True, text=True).stdout
    return out.splitlines()


@pytest.fixture
def click_events(click_lines):
    return [json.loads(line) for line in click_lines]


@pytest.fixture(scope="session")
def cepheus_tool():
    return build_tool("cepheus")
