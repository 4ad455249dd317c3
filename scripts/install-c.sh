#!/usr/bin/env bash
# Build libpiaoju from source and install it in the SDK's layout: lib/libpiaoju.so.VERSION with
# its links libpiaoju.so.0 and libpiaoju.so, lib/libpiaoju.a, include/piaoju.h,
# lib/pkgconfig/piaoju.pc and lib/cmake/piaoju/ (find_package(piaoju)).
#   scripts/install-c.sh [--prefix DIR] [--debug]
# Default prefix /usr/local; then: gcc app.c $(pkg-config --cflags --libs piaoju)
# Needs a Rust toolchain and binutils; the prebuilt SDK and .deb (scripts/dist.sh) do not. The
# static library is made as dist.sh makes it: one object defining only the pj_* functions.
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
. packaging/layout.sh
if [ "$profile" = release ]; then cargo build --release -p piaoju-ffi; else cargo build -p piaoju-ffi; fi
target=${CARGO_TARGET_DIR:-$root/target}/$profile
version=$(piaoju_version "$root")
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
piaoju_static_archive "$target/libpiaoju.a" "$work/libpiaoju.a"
piaoju_lay_out "$prefix" lib "$prefix" .. "$target/libpiaoju.so" "$work/libpiaoju.a" "$version" \
  "$(piaoju_static_libs "$(rustc -vV | sed -n 's/^host: //p')")"
echo "installed piaoju $version into $prefix"
