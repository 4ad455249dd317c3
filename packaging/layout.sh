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

# piaoju_static_archive IN OUT [OBJCOPY_OPTION...]
# The libpiaoju.a users get, made from IN, the Rust static library (the objects of piaoju, the
# Rust standard library, compiler-builtins, and the C code built into crates: libjpeg-turbo's
# jpeg_*/jinit_*/jsimd_*, SQLite's sqlite3_*, ring's). Linked into one relocatable object
# (`ld -r --whole-archive`) in which every defined symbol but the pj_* functions of
# ffi/exports.txt is made local (`objcopy --keep-global-symbols`), archived alone as OUT. So a
# program linking it statically cannot clash with, nor be bound to, a libjpeg, SQLite or Rust
# library of its own, and piaoju's own calls stay on its own copies. Undefined references (libc,
# libgcc_s, libpthread, ...) stay undefined; TLS, .init_array, .eh_frame and
# .gcc_except_table (panics are still caught at the boundary) pass through unchanged.
# Also removed or renamed, since one object holds what were many:
# - .llvmbc, .llvmcmd: the standard library's embedded bitcode (for rustc's LTO only), now
#   several modules in one section, which LLVM's linker plugin cannot read;
# - .llvm_addrsig: symbol numbers that the merge made wrong (lld's --icf=safe reads them);
# - COMDAT group signatures (DW.ref.rust_eh_personality) get a ".piaoju" suffix: a group of that
#   name in another Rust library would otherwise replace ours, or ours theirs.
# OBJCOPY_OPTIONs are added to objcopy's (dist.sh: --strip-debug). Needs binutils (ld, objcopy, ar,
# nm, readelf). Fails unless the object defines exactly the functions of ffi/exports.txt.
piaoju_static_archive() {
  local in=$1 out=$2 here tmp status=0
  shift 2
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  tmp=$(mktemp -d)
  grep -v '^#' "$here/../ffi/exports.txt" | sed '/^$/d' | LC_ALL=C sort > "$tmp/keep"
  {
    ld -r --whole-archive "$in" -o "$tmp/piaoju.o" &&
      readelf -gW "$tmp/piaoju.o" |
      sed -n "s/^COMDAT group section \[ *[0-9]*\] \`[^']*' \[\(.*\)\] contains .*/--redefine-sym=\1=\1.piaoju/p" \
        > "$tmp/groups" &&
      # shellcheck disable=SC2046  # one option a line, no spaces
      objcopy --remove-section=.llvmbc --remove-section=.llvmcmd --remove-section=.llvm_addrsig \
        $(cat "$tmp/groups") --keep-global-symbols="$tmp/keep" "$@" "$tmp/piaoju.o" &&
      nm --defined-only -g "$tmp/piaoju.o" | awk '{print $3}' | LC_ALL=C sort > "$tmp/global" &&
      { diff "$tmp/keep" "$tmp/global" >&2 ||
        { echo "$in: the merged object's global symbols are not ffi/exports.txt's" >&2; false; }; } &&
      rm -f "$out" && ar rcsD "$out" "$tmp/piaoju.o"
  } || status=1
  rm -rf "$tmp"
  return $status
}
