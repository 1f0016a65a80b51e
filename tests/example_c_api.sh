#!/bin/sh
# example_c_api.sh — builds examples/c_api as a user would: installs this
# build's library, header and libcepheus.pc into a temporary staging
# directory (make install DESTDIR=...), builds the example with its own
# Makefile through pkg-config pointed there, runs it and compares its
# output with expected.txt. Nothing is written to the source tree.
: "${top_srcdir:=.}" "${top_builddir:=.}"
SRC=$(cd "$top_srcdir" && pwd) && B=$(cd "$top_builddir" && pwd) || exit 1
ex="$SRC/examples/c_api"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/example_c_api.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }
done_() { echo "example_c_api: $pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

command -v pkg-config >/dev/null 2>&1 || { echo "pkg-config not installed: skipped"; exit 77; }

# Install only what a user of the C API needs (the shared library, the
# header, the .pc file): a plain sub-make, not part of the running one.
(unset MAKEFLAGS MFLAGS MAKELEVEL
 make -C "$B" install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA \
     DESTDIR="$tmp/stage") > "$tmp/install.log" 2>&1
if [ $? = 0 ]; then ok; else cat "$tmp/install.log"; ko "make install DESTDIR"; done_; fi
pc=$(find "$tmp/stage" -name libcepheus.pc | head -n 1)
[ -n "$pc" ] && ok || { ko "libcepheus.pc not installed"; done_; }
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")

# The example's own Makefile, run in a copy (the source tree may be
# read-only, as in distcheck). PKG_CONFIG_SYSROOT_DIR prefixes the staging
# directory to the -I and -L paths the .pc file gives, which name the
# configured prefix. A sanitizer build's library needs the same flags.
mkdir "$tmp/src" && cp "$ex/Makefile" "$ex/embed.c" "$ex/fulfilled.cep" "$tmp/src/" || exit 1
san=$(sed -n 's/^SAN_CFLAGS = //p' "$B/Makefile")
(unset MAKEFLAGS MFLAGS MAKELEVEL
 PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$tmp/stage" \
     make -C "$tmp/src" CFLAGS="-O2 -Werror $san" LDFLAGS="$san") > "$tmp/build.log" 2>&1
if [ $? = 0 ]; then ok; else cat "$tmp/build.log"; ko "building the example"; done_; fi

# It must use the installed library, not the build tree's.
(cd "$tmp/src" && LD_LIBRARY_PATH="$libdir" ./embed) > "$tmp/out.txt" 2> "$tmp/err.txt"
st=$?; [ "$st" = 0 ] && ok || { cat "$tmp/err.txt"; ko "embed: status $st"; }
if diff -u "$ex/expected.txt" "$tmp/out.txt"; then ok; else ko "output differs from expected.txt"; fi

# docs/api.md §14 shows docs/example_api.c and its output: the code block
# must be the file (from its first #include), the file must build as the
# page says (-std=c11 -Wall -Wextra, no warning) against the installed
# library, and print exactly the page's "Output:" block.
doc="$SRC/docs/api.md"
sed -n '/^## 14\. Complete example/,/^Build and run/p' "$doc" | sed -n '/^```c$/,/^```$/p' | sed '1d;$d' > "$tmp/api_code.c"
sed -n '/^#include <inttypes.h>/,$p' "$SRC/docs/example_api.c" > "$tmp/api_file.c"
if [ -s "$tmp/api_code.c" ] && diff -u "$tmp/api_file.c" "$tmp/api_code.c"; then ok; else ko "api.md §14's code is not docs/example_api.c"; fi
inc=$(PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$tmp/stage" pkg-config --cflags --libs libcepheus)
if ${CC:-cc} -std=c11 -Wall -Wextra -Werror $san "$SRC/docs/example_api.c" $inc -o "$tmp/example_api" > "$tmp/api_build.log" 2>&1; then ok
else cat "$tmp/api_build.log"; ko "docs/example_api.c does not build as api.md says"; fi
sed -n '/^## 14\. Complete example/,$p' "$doc" | sed -n '/^Output:$/,$p' | sed -n '/^```$/,/^```$/p' | sed '1d;$d' > "$tmp/api_expected.txt"
(LD_LIBRARY_PATH="$libdir" "$tmp/example_api") > "$tmp/api_out.txt" 2>&1
if [ -s "$tmp/api_expected.txt" ] && diff -u "$tmp/api_expected.txt" "$tmp/api_out.txt"; then ok
else ko "docs/example_api.c's output differs from api.md §14's"; fi
done_
