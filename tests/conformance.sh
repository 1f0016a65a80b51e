#!/bin/sh
# conformance.sh — runs every case file of tests/conformance through the
# conformance runner (make check; `CEP_CONFORMANCE_ONLY=LINE` runs one case).
: "${top_srcdir:=.}" "${top_builddir:=.}"
exec "$top_builddir/tests/conformance/runner" "$top_srcdir"/tests/conformance/*.test
