#!/bin/sh
# layers.sh — the house rules a compiler does not check (HACKING.md): the
# include graph against the layer rules (tests/layers.py) and no function
# over 150 lines (tests/funclen.py). Breaking either fails `make check`.
top_srcdir=${top_srcdir:-.}
pass=0 failed=0
for check in layers.py funclen.py; do
    if python3 "$top_srcdir/tests/$check" "$top_srcdir"; then
        pass=$((pass + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "layers: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
