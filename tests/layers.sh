#!/bin/sh
# layers.sh — the house rules a compiler does not check (HACKING.md): the
# include graph against the layer rules (tests/layers.py) and no function
# over 150 lines (tests/funclen.py), and no symbol but cep_* exported by
# libcepheus.so. Breaking any fails `make check`.
top_srcdir=${top_srcdir:-.}
pass=0 failed=0
for check in layers.py funclen.py; do
    if python3 "$top_srcdir/tests/$check" "$top_srcdir"; then
        pass=$((pass + 1))
    else
        failed=$((failed + 1))
    fi
done
# Only the public API leaves the shared library: every internal function,
# whatever its name, stays inside it and cannot collide with a program's
# (the static library is not built: configure.ac, LT_INIT).
so=${top_builddir:-.}/.libs/libcepheus.so
if [ -f "$so" ] && command -v nm >/dev/null 2>&1; then
    leaked=$(nm -D --defined-only "$so" | awk 'NF == 3 && $3 !~ /^cep_/ {print $3}')
    if [ -z "$leaked" ]; then
        pass=$((pass + 1))
    else
        echo "layers: libcepheus.so exports names without cep_: $leaked"
        failed=$((failed + 1))
    fi
fi
echo "layers: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
