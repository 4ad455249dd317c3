# The installed layout of piaoju's C library, shared by scripts/dist.sh (the SDK tarball and the
# .deb) and scripts/install-c.sh (an install from source). Source it, then call its functions.

# The workspace version (the one version of every artifact).
piaoju_version() {
  cargo metadata --format-version 1 --no-deps --locked --manifest-path "$1/Cargo.toml" |
    python3 -c 'import json, sys; m = json.load(sys.stdin); print(next(p["version"] for p in m["packages"] if p["name"] == "piaoju-ffi"))'
}

# The system libraries a static link needs: those of the Rust standard library for TARGET, as
# rustc prints them for a static library (the crates linked in need no others; scripts/test-dist.sh
# links the SDK statically with exactly these).
piaoju_static_libs() {
  local target=$1 tmp
  tmp=$(mktemp -d)
  echo "" > "$tmp/empty.rs"
  rustc --crate-type staticlib --crate-name empty --target "$target" --print native-static-libs \
    -o "$tmp/libempty.a" "$tmp/empty.rs" 2>&1 | sed -n 's/^note: native-static-libs: //p'
  rm -rf "$tmp"
}

# piaoju_lay_out ROOT LIBDIR PC_PREFIX LIBDIR_TO_PREFIX SHARED STATIC VERSION STATIC_LIBS
# Installs into ROOT (a prefix, or a staging folder standing for one):
#   LIBDIR/libpiaoju.so.VERSION, its links LIBDIR/libpiaoju.so.ABI (the SONAME) and
#   LIBDIR/libpiaoju.so; LIBDIR/libpiaoju.a; include/piaoju.h; LIBDIR/pkgconfig/piaoju.pc;
#   LIBDIR/cmake/piaoju/piaojuConfig.cmake and piaojuConfigVersion.cmake.
# LIBDIR is relative to ROOT ("lib", "lib/x86_64-linux-gnu"); PC_PREFIX is the .pc's prefix
# ("${pcfiledir}/../.." for a relocatable one, or an absolute path); LIBDIR_TO_PREFIX leads from
# LIBDIR back to the prefix (".." or "../.."), for the relocatable CMake files.
piaoju_lay_out() {
  local root=$1 libdir=$2 pc_prefix=$3 up=$4 shared=$5 static=$6 version=$7 static_libs=$8
  local here soname major minor
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  soname=$(objdump -p "$shared" | awk '$1 == "SONAME" {print $2}')
  [ -n "$soname" ] || { echo "$shared has no SONAME" >&2; return 1; }
  major=${version%%.*}
  minor=${version#*.}; minor=${minor%%.*}
  mkdir -p "$root/$libdir/pkgconfig" "$root/$libdir/cmake/piaoju" "$root/include"
  install -m 0755 "$shared" "$root/$libdir/libpiaoju.so.$version"
  ln -sfn "libpiaoju.so.$version" "$root/$libdir/$soname"
  ln -sfn "$soname" "$root/$libdir/libpiaoju.so"
  install -m 0644 "$static" "$root/$libdir/libpiaoju.a"
  install -m 0644 "$here/../include/piaoju.h" "$root/include/piaoju.h"
  sed -e "s|@PREFIX@|$pc_prefix|" -e "s|@LIBDIR@|\${prefix}/$libdir|" -e "s|@VERSION@|$version|" \
    -e "s|@LIBS_PRIVATE@|$static_libs|" "$here/piaoju.pc.in" > "$root/$libdir/pkgconfig/piaoju.pc"
  # CMake takes library names: "-lpthread -lm" -> "pthread;m".
  local cmake_libs
  cmake_libs=$(echo "$static_libs" | tr ' ' '\n' | sed -n 's/^-l//p' | paste -sd ';')
  sed -e "s|@VERSION@|$version|g" -e "s|@SONAME@|$soname|g" -e "s|@LIBDIR_TO_PREFIX@|$up|g" \
    -e "s|@STATIC_LIBS@|$cmake_libs|g" "$here/cmake/piaojuConfig.cmake.in" \
    > "$root/$libdir/cmake/piaoju/piaojuConfig.cmake"
  sed -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" -e "s|@MINOR@|$minor|g" \
    "$here/cmake/piaojuConfigVersion.cmake.in" > "$root/$libdir/cmake/piaoju/piaojuConfigVersion.cmake"
}
