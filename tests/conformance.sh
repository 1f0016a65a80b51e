#!/bin/sh
# conformance.sh — runs every case file of tests/conformance through the
# conformance runner (make check; `CEP_CONFORMANCE_ONLY=LINE` runs one case),
# then again with CEP_COMPACT=0: patterns the engine keeps compactly
# (runtime/tecs.c) must give the same output in the flat form.
: "${top_srcdir:=.}" "${top_builddir:=.}"
"$top_builddir/tests/conformance/runner" "$top_srcdir"/tests/conformance/*.test || exit 1
CEP_COMPACT=0 exec "$top_builddir/tests/conformance/runner" "$top_srcdir"/tests/conformance/*.test
