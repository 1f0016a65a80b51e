#!/bin/sh
# tests/kafka/librdkafka.sh — the librdkafka that kafka_test's mock cluster
# runs on (docs/scaling.md, "Why the tests build their own librdkafka").
# No released mock cluster applies transactions to ordinary fetches, so
# read_committed cannot be tested on one; this builds librdkafka 2.15.1 (its
# sources ship in the npm package @confluentinc/kafka-javascript 1.10.1),
# with tests/kafka/mock-transactions.patch, as a static library for the test
# program only. cepheus itself links the system librdkafka.
#   librdkafka.sh SRCDIR DEST   -> DEST/lib/librdkafka.a, DEST/include/librdkafka/
# Cached: a second call with the same version and patch does nothing.
set -eu
srcdir=$1
dest=$2
pkg=@confluentinc/kafka-javascript@1.10.1
tarball=confluentinc-kafka-javascript-1.10.1.tgz
sha=ada7d703bb1d3237e2292bfabf438d663b6160c9f1ac2a2406b5dc4257c81b66
patchf=$srcdir/tests/kafka/mock-transactions.patch
stamp="$pkg $(sha256sum "$patchf" | cut -d' ' -f1)"

if [ -f "$dest/stamp" ] && [ "$(cat "$dest/stamp")" = "$stamp" ] && [ -f "$dest/lib/librdkafka.a" ]; then
    exit 0
fi
need=
command -v npm >/dev/null 2>&1 || need="$need npm"
command -v patch >/dev/null 2>&1 || need="$need patch"
command -v python3 >/dev/null 2>&1 || need="$need python3"
if [ -n "$need" ]; then
    echo "librdkafka.sh: installing:$need" >&2
    SUDO=
    [ "$(id -u)" = 0 ] || SUDO=sudo
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        --no-install-recommends $need >/dev/null; } ||
        { echo "librdkafka.sh: cannot install$need" >&2; exit 1; }
fi

rm -rf "$dest"
mkdir -p "$dest/dl" "$dest/lib" "$dest/include/librdkafka"
echo "librdkafka.sh: building librdkafka 2.15.1 with the mock-cluster transaction patch in $dest" >&2
(cd "$dest/dl" && npm pack --silent "$pkg" >/dev/null)
got=$(sha256sum "$dest/dl/$tarball" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
    echo "librdkafka.sh: $tarball has sha256 $got, expected $sha" >&2
    exit 1
fi
tar -xzf "$dest/dl/$tarball" -C "$dest/dl" package/deps/librdkafka
src=$dest/dl/package/deps/librdkafka
(cd "$src" && patch -s -p1 < "$patchf")
# Only what the mock cluster and a plaintext client need: no TLS, SASL,
# compression libraries or HTTP.
(cd "$src" && ./configure --no-download --disable-ssl --disable-gssapi --disable-zstd --disable-curl \
    --disable-zlib --disable-lz4-ext --disable-syslog >"$dest/configure.log" 2>&1) ||
    { echo "librdkafka.sh: configure failed, see $dest/configure.log" >&2; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
make -C "$src/src" -j"$jobs" librdkafka.a >"$dest/make.log" 2>&1 ||
    { echo "librdkafka.sh: build failed, see $dest/make.log" >&2; exit 1; }
cp "$src/src/librdkafka.a" "$dest/lib/"
cp "$src/src/rdkafka.h" "$src/src/rdkafka_mock.h" "$dest/include/librdkafka/"
rm -rf "$dest/dl"
echo "$stamp" >"$dest/stamp"
