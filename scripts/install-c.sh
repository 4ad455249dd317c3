#!/usr/bin/env bash
# Build libpiaoju and install the libraries, the header and a pkg-config file.
#   scripts/install-c.sh [--prefix DIR] [--debug]
# Default prefix /usr/local; then: gcc app.c $(pkg-config --cflags --libs piaoju)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=/usr/local
profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --debug) profile=debug; shift ;;
    *) echo "usage: $0 [--prefix DIR] [--debug]" >&2; exit 2 ;;
  esac
done
cd "$root"
if [ "$profile" = release ]; then cargo build --release -p piaoju-ffi; else cargo build -p piaoju-ffi; fi
target=${CARGO_TARGET_DIR:-$root/target}/$profile
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$target/libpiaoju.so" "$prefix/lib/libpiaoju.so"
install -m 0644 "$target/libpiaoju.a" "$prefix/lib/libpiaoju.a"
install -m 0644 include/piaoju.h "$prefix/include/piaoju.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" ffi/piaoju.pc.in > "$prefix/lib/pkgconfig/piaoju.pc"
echo "installed piaoju $version into $prefix"
