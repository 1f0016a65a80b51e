#!/bin/sh
# difftest.sh — the randomized differential test in make check: random
# patterns and events through the engine and the reference matcher
# (tests/reference/). DIFFTEST_SEEDS seeds (default 2000) from seed 1;
# `make check-long` runs many more from another range.
: "${top_builddir:=.}"
exec "$top_builddir/tests/reference/difftest" -n "${DIFFTEST_SEEDS:-2000}"
