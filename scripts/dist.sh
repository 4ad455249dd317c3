#!/usr/bin/env bash
# Builds piaoju's release artifacts into dist/, from a clean checkout, with only the package
# registries (no toolchain download):
#   dist/piaoju-VERSION-x86_64-linux-gnu.tar.gz   the C SDK (one folder piaoju-VERSION/)
#   dist/piaoju_VERSION_amd64.deb                  the same files under /usr
#   dist/piaoju-VERSION-cp39-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl, and the sdist
#   dist/SHA256SUMS
# Every ELF file is linked against glibc 2.17 by zig (PyPI's `ziglang`, driven by
# `cargo-zigbuild zig cc`, both installed into .venv), so it loads on CentOS 7 and later, Kylin
# V10, UOS 20. The builds use the workspace's target directory (CARGO_TARGET_DIR or target/).
# Checked by scripts/test-dist.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
. packaging/layout.sh

triple=x86_64-unknown-linux-gnu
glibc=2.17
target_dir=${CARGO_TARGET_DIR:-$root/target}
out=$root/dist
started=$SECONDS
phase() { echo "== dist: $1 ($((SECONDS - started)) s)"; }

phase "tools"
need() { command -v "$1" >/dev/null 2>&1; }
if ! need objdump || ! need strip || ! need ld || ! need objcopy || ! need ar || ! need nm || ! need readelf ||
  ! need dpkg-deb; then
  (apt-get update -qq && apt-get install -y -qq binutils dpkg) >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Pinned: the zig that links (and so the glibc stubs it links against) is part of the build.
.venv/bin/python -m pip install --quiet "ziglang==0.17.1" "cargo-zigbuild==0.24.1" "maturin>=1.9.4,<2"
zig_exe=$(.venv/bin/python -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')

# The C compiler and linker for the target: `cargo-zigbuild zig cc` (which adapts rustc's linker
# arguments for zig) targeting glibc 2.17. Given to cargo and maturin alike, through the target's
# RUSTFLAGS (with an explicit --target they reach the target's crates only, so build scripts and
# proc-macros stay as the host builds them) and the cc crate's CC_<target>: both builds then
# share their artifacts instead of rebuilding each other's.
zig_dir=$target_dir/zig-glibc-$glibc
mkdir -p "$zig_dir"
for tool in cc c++; do
  cat > "$zig_dir/$tool.new" <<EOF
#!/bin/sh
CARGO_ZIGBUILD_ZIG_PATH='$zig_exe' exec '$root/.venv/bin/cargo-zigbuild' zig $tool -- -g -fno-sanitize=all -target x86_64-linux-gnu.$glibc "\$@"
EOF
  chmod +x "$zig_dir/$tool.new"
  # Rewritten only when it changes: the path and content are part of cargo's fingerprints.
  if cmp -s "$zig_dir/$tool.new" "$zig_dir/$tool"; then rm "$zig_dir/$tool.new"; else mv "$zig_dir/$tool.new" "$zig_dir/$tool"; fi
done
export CARGO_ENCODED_RUSTFLAGS="-Clinker=$zig_dir/cc"
export CC_x86_64_unknown_linux_gnu=$zig_dir/cc CXX_x86_64_unknown_linux_gnu=$zig_dir/c++

phase "cargo build (C library, command, sandbox for the tests)"
cargo build --release --locked --target "$triple" -p piaoju-ffi -p piaoju-cli -p piaoju-sandbox
built=$target_dir/$triple/release

phase "maturin build (wheel, sdist)"
rm -rf "$out"
mkdir -p "$out"
.venv/bin/maturin build --release --locked --strip --target "$triple" --compatibility manylinux2014 \
  -m python/Cargo.toml --out "$out"
.venv/bin/maturin sdist -m python/Cargo.toml --out "$out"

phase "C SDK"
version=$(piaoju_version "$root")
static_libs=$(piaoju_static_libs "$triple")
[ -n "$static_libs" ] || { echo "rustc printed no native-static-libs" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Stripped copies: the shared library keeps its dynamic symbols (only pj_*); the static one is one
# object whose only global symbols are the pj_* functions (packaging/layout.sh), with its symbol
# table (a linker needs it) and without debug information.
strip --strip-unneeded -o "$work/libpiaoju.so" "$built/libpiaoju.so"
piaoju_static_archive "$built/libpiaoju.a" "$work/libpiaoju.a" --strip-debug
strip -o "$work/piaoju" "$built/piaoju"

# share/doc/piaoju: README, CHANGELOG, the guides (docs/, where the README's links lead), the
# project's licences, the licences of every crate linked in (from cargo metadata) and the Rust
# standard library's copyright notices (from the toolchain).
docs() {
  local dir=$1 std
  mkdir -p "$dir/docs"
  install -m 0644 README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE "$dir/"
  install -m 0644 docs/*.md "$dir/docs/"
  python3 scripts/third_party_licenses.py --out "$dir/THIRD-PARTY-LICENSES.txt" \
    --package piaoju-ffi --package piaoju-cli >/dev/null
  std=$(rustc --print sysroot)/share/doc/rust/COPYRIGHT-library.html
  [ -f "$std" ] || { echo "the Rust toolchain has no $std" >&2; return 1; }
  install -m 0644 "$std" "$dir/RUST-STD-COPYRIGHT.html"
}

# Wrappers for other languages (bindings/, when it exists) go to share/piaoju/bindings.
bindings() {
  if [ -d bindings ]; then
    mkdir -p "$1/share/piaoju"
    cp -R bindings "$1/share/piaoju/bindings"
  fi
}

sdk=$work/piaoju-$version
# shellcheck disable=SC2016  # ${pcfiledir} is pkg-config's, not the shell's
piaoju_lay_out "$sdk" lib '${pcfiledir}/../..' .. "$work/libpiaoju.so" "$work/libpiaoju.a" "$version" "$static_libs"
install -D -m 0755 "$work/piaoju" "$sdk/bin/piaoju"
docs "$sdk/share/doc/piaoju"
bindings "$sdk"
# Reproducible: sorted names, fixed owner, the last commit's time.
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -C "$work" -cf - "piaoju-$version" |
  gzip -n -9 > "$out/piaoju-$version-x86_64-linux-gnu.tar.gz"

phase "Debian package"
deb=$work/deb
piaoju_lay_out "$deb/usr" lib/x86_64-linux-gnu /usr ../.. "$work/libpiaoju.so" "$work/libpiaoju.a" "$version" "$static_libs"
install -D -m 0755 "$work/piaoju" "$deb/usr/bin/piaoju"
docs "$deb/usr/share/doc/piaoju"
bindings "$deb/usr"
{
  echo "piaoju $version: Copyright (c) the piaoju developers."
  echo "Licensed under the MIT licence or the Apache License 2.0, at your option:"
  echo "LICENSE-MIT (below) and LICENSE-APACHE in this folder (also /usr/share/common-licenses/Apache-2.0)."
  echo "The crates linked into it and their licences: THIRD-PARTY-LICENSES.txt in this folder."
  echo
  cat LICENSE-MIT
} > "$deb/usr/share/doc/piaoju/copyright"
mkdir -p "$deb/DEBIAN"
homepage=$(sed -n 's/^repository = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
sed -e "s|@VERSION@|$version|" -e "s|@HOMEPAGE@|$homepage|" \
  -e "s|@INSTALLED_SIZE@|$(du -sk "$deb/usr" | cut -f1)|" packaging/deb/control.in > "$deb/DEBIAN/control"
install -m 0644 packaging/deb/triggers "$deb/DEBIAN/triggers"
(cd "$deb" && find usr -type f | LC_ALL=C sort | xargs md5sum > DEBIAN/md5sums)
find "$deb" -type d -exec chmod 0755 {} +
SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group -Zxz --build "$deb" "$out/piaoju_${version}_amd64.deb" >/dev/null

(cd "$out" && sha256sum -- * > SHA256SUMS)
phase "done"
ls -l "$out"
