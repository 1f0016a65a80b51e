#!/bin/sh
# layers.sh — the include graph against the layer rules (tests/layers.py,
# HACKING.md): a new reach across layers fails `make check`.
top_srcdir=${top_srcdir:-.}
if python3 "$top_srcdir/tests/layers.py" "$top_srcdir"; then
    echo "layers: 1 passed, 0 failed"
else
    echo "layers: 0 passed, 1 failed"
    exit 1
fi
