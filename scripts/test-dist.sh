#!/usr/bin/env bash
# Tests dist/ (made by scripts/dist.sh) as its users install it, with no cargo or rustc on PATH:
# - the C SDK unpacked into an empty folder: a C program built through pkg-config (shared, and
#   static with the .pc's Libs.private), a CMake project through find_package(piaoju 0.1 REQUIRED)
#   with piaoju::piaoju, piaoju::piaoju_static and C++, the README's C example, bin/piaoju; the
#   programs run against the sandbox; a program with libjpeg functions of its own linked with the
#   static archive (tests/dist/own_jpeg.c), which fits images with piaoju's libjpeg-turbo;
# - the .deb unpacked with dpkg -x: its control fields and files, then the same programs built
#   from it through pkg-config and CMake;
# - the wheel: auditwheel's verdict, installed into a fresh venv, the README's Python examples and
#   the piaoju command;
# - SONAME and links, the exports (of the shared library and the static archive) against
#   ffi/exports.txt, no GLIBC_ symbol version above 2.17 in
#   any shipped ELF file, stripped files, and one version everywhere.
# Prints a closing "N passed, N failed" line; exits non-zero on any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. packaging/layout.sh

triple=x86_64-unknown-linux-gnu
max_glibc=2.17
target_dir=${CARGO_TARGET_DIR:-$root/target}
dist=$root/dist
version=$(piaoju_version "$root") || { echo "cannot read the workspace version"; exit 1; }
abi=$(sed -n 's/^const ABI: u32 = \([0-9][0-9]*\);$/\1/p' ffi/build.rs)
[ -n "$abi" ] || { echo "cannot read the ABI number from ffi/build.rs"; exit 1; }
abi_soname=libpiaoju.so.$abi

need() { command -v "$1" >/dev/null 2>&1; }
missing=()
for tool in cmake pkg-config g++ objdump readelf dpkg-deb unzip; do need "$tool" || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing cmake, pkg-config, g++, binutils, dpkg, unzip (missing: ${missing[*]})"
  (apt-get update -qq && apt-get install -y -qq cmake pkg-config g++ binutils dpkg unzip) >/dev/null ||
    { echo "cannot install the tools"; exit 1; }
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet "auditwheel>=6,<7" || { echo "cannot install auditwheel"; exit 1; }

work=$(mktemp -d)
sandbox_pid=
cleanup() {
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
step() {
  local name=$1; shift
  if "$@" >"$work/$name.log" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/    /' "$work/$name.log" | tail -n 40
  fi
}
# Output of a step that passed, for the summary (e.g. the highest GLIBC version).
said() { tail -n 1 "$work/$1.log"; }

# --- What a user has: no Rust toolchain. Every directory holding cargo or rustc leaves PATH.
no_rust_path=
IFS=: read -ra dirs <<< "$PATH"
for d in "${dirs[@]}"; do
  [ -n "$d" ] && { [ -e "$d/cargo" ] || [ -e "$d/rustc" ]; } && continue
  no_rust_path=${no_rust_path:+$no_rust_path:}$d
done
export PATH=$no_rust_path
step no-rust-on-path sh -c '! command -v cargo && ! command -v rustc'
for v in $(env | sed -n 's/^\(PIAOJU_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
export LC_ALL=C

# --- The artifacts.
sdk_tar=$dist/piaoju-$version-x86_64-linux-gnu.tar.gz
deb=$dist/piaoju_${version}_amd64.deb
wheel=$dist/piaoju-$version-cp39-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl
sdist=$dist/piaoju-$version.tar.gz
for f in "$sdk_tar" "$deb" "$wheel" "$sdist"; do
  step "exists-$(basename "$f")" test -s "$f"
done
step checksums sh -c "cd '$dist' && sha256sum -c SHA256SUMS"

# --- The sandbox the programs talk to (built by dist.sh with the command; 127.0.0.1, any port).
"$target_dir/$triple/release/piaoju-sandbox" --host 127.0.0.1 --port 0 --url-file "$work/url" \
  --exit-after 1200 >/dev/null &
sandbox_pid=$!
for _ in $(seq 1 100); do [ -s "$work/url" ] && break; sleep 0.1; done
[ -s "$work/url" ] || { echo "FAIL sandbox-start"; echo "dist: $passed passed, $((failed + 1)) failed"; exit 1; }
url=$(cat "$work/url")
receipt=$root/tests/fixtures/receipt.png
# The C programs read their configuration from the environment.
sandboxed() { env PIAOJU_JUHE_KEY=sandbox-juhe-key PIAOJU_JUHE_BASE_URL="$url" "$@"; }
# app prints "pj_version VERSION", then the result; it exits 0 only for the receipt's 12.50.
app_ok() { sandboxed "$@" "$receipt" > "$work/app.out" && grep -qx "pj_version $version" "$work/app.out"; }

# --- ELF checks, for every shipped ELF file.
glibc_max() {  # the highest GLIBC_ symbol version FILE needs; fails above $max_glibc
  local top
  top=$(objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
  [ -n "$top" ] || { echo "no GLIBC_ symbol versions in $1"; return 1; }
  echo "$(basename "$1"): GLIBC_$top"
  [ "$(printf '%s\n%s\n' "$top" "$max_glibc" | sort -V | tail -n 1)" = "$max_glibc" ]
}
stripped() {  # no symbol table, no debug sections
  ! readelf -S --wide "$1" | grep -E '\.(symtab|debug_[a-z]+) ' 
}
needs_only_libc6() {  # every NEEDED library is one of glibc's (package libc6)
  local lib
  for lib in $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case $lib in
      libc.so.6|libm.so.6|libpthread.so.0|libdl.so.2|librt.so.1|libutil.so.1|ld-linux-x86-64.so.2) ;;
      *) echo "$1 needs $lib"; return 1 ;;
    esac
  done
}
exports_match() {
  diff <(nm -D --defined-only "$1" | awk '{print $3}' | sort) <(grep -v '^#' ffi/exports.txt | sed '/^$/d')
}
# The static archive defines only the pj_* functions (packaging/layout.sh, piaoju_static_archive):
# libjpeg-turbo's, SQLite's, ring's and the Rust standard library's symbols in it are all local.
static_exports_match() {  # ARCHIVE; prints the difference (> in the archive only, < missing)
  local d
  d=$(diff <(grep -v '^#' ffi/exports.txt | sed '/^$/d' | sort) <(nm --defined-only -g "$1" 2>/dev/null | awk 'NF == 3 {print $3}' | sort)) &&
    return 0
  echo "$d" | grep '^[<>]' | head -n 25
  echo "$(echo "$d" | grep -c '^>') defined global symbols not in ffi/exports.txt ($(echo "$d" | grep -c '^> jpeg_') jpeg_*)," \
    "$(echo "$d" | grep -c '^<') of its functions missing"
  return 1
}
not_executable_stack() {  # a GNU_STACK program header, without the X flag
  readelf -lW "$1" | grep -E '^ *GNU_STACK' | tee /dev/stderr | grep -qv 'RWE'
}
soname_is() { [ "$(objdump -p "$1" | awk '$1 == "SONAME" {print $2}')" = "$2" ]; }
# The file list of a folder: type and path ("f lib/libpiaoju.a", "l lib/libpiaoju.so -> …").
listing() { (cd "$1" && find . -mindepth 1 \( -type l -printf 'l %P -> %l\n' \) -o \( ! -type d -printf '%y %P\n' \) | sort); }

# ============================== C SDK ==============================
sdk_parent=$work/sdk
mkdir -p "$sdk_parent"
step sdk-unpack tar -xzf "$sdk_tar" -C "$sdk_parent"
step sdk-one-top-folder test "$(ls -A "$sdk_parent")" = "piaoju-$version"
sdk=$sdk_parent/piaoju-$version
lib=$sdk/lib/libpiaoju.so.$version
expected_files() {  # LIBDIR
  cat <<EOF
f $1/cmake/piaoju/piaojuConfig.cmake
f $1/cmake/piaoju/piaojuConfigVersion.cmake
f $1/libpiaoju.a
f $1/libpiaoju.so.$version
f $1/pkgconfig/piaoju.pc
f bin/piaoju
f include/piaoju.h
f share/doc/piaoju/CHANGELOG.md
f share/doc/piaoju/LICENSE-APACHE
f share/doc/piaoju/LICENSE-MIT
f share/doc/piaoju/README.md
f share/doc/piaoju/RUST-STD-COPYRIGHT.html
f share/doc/piaoju/THIRD-PARTY-LICENSES.txt
$(for d in docs/*.md; do echo "f share/doc/piaoju/$d"; done)
l $1/$abi_soname -> libpiaoju.so.$version
l $1/libpiaoju.so -> $abi_soname
EOF
}
sdk_files() {
  { expected_files lib; } | sort > "$work/sdk-expected"
  listing "$sdk" | grep -v '^. share/piaoju/bindings/' > "$work/sdk-actual"
  diff "$work/sdk-expected" "$work/sdk-actual"
}
step sdk-files sdk_files
step sdk-soname soname_is "$lib" "$abi_soname"
step sdk-exports-are-ffi-exports-txt exports_match "$lib"
step sdk-static-exports-only-pj static_exports_match "$sdk/lib/libpiaoju.a"
step sdk-glibc-libpiaoju glibc_max "$lib"; glibc_so=$(said sdk-glibc-libpiaoju)
step sdk-glibc-bin-piaoju glibc_max "$sdk/bin/piaoju"; glibc_bin=$(said sdk-glibc-bin-piaoju)
step sdk-stripped-libpiaoju stripped "$lib"
step sdk-stripped-bin-piaoju stripped "$sdk/bin/piaoju"
step sdk-static-without-debug-info sh -c "! objdump -h '$sdk/lib/libpiaoju.a' | grep -q ' \.debug_'"
step sdk-needs-only-libc6-libpiaoju needs_only_libc6 "$lib"
step sdk-needs-only-libc6-bin-piaoju needs_only_libc6 "$sdk/bin/piaoju"
step sdk-header-version grep -qx "#define PIAOJU_VERSION \"$version\"" "$sdk/include/piaoju.h"
step sdk-licences-list-crates grep -q '^  ureq [0-9.]*: MIT OR Apache-2.0$' "$sdk/share/doc/piaoju/THIRD-PARTY-LICENSES.txt"

# pkg-config, shared.
export PKG_CONFIG_PATH=$sdk/lib/pkgconfig
step pkgconfig-modversion test "$(pkg-config --modversion piaoju)" = "$version"
step pkgconfig-compile sh -c "gcc -std=c99 -Wall -Wextra -Werror tests/dist/app.c -o '$work/app' \$(pkg-config --cflags --libs piaoju)"
step pkgconfig-links-libpiaoju-so-0 sh -c "readelf -d '$work/app' | grep -q 'NEEDED.*\[$abi_soname\]'"
step pkgconfig-run app_ok env LD_LIBRARY_PATH="$sdk/lib" "$work/app"
# pkg-config, static: the archive and the .pc's Libs.private are all a static link needs.
step pkgconfig-static-compile sh -c "gcc -std=c99 -Wall -Werror tests/dist/app.c -o '$work/app_static_pc' \
  \$(pkg-config --cflags piaoju) '$sdk/lib/libpiaoju.a' \$(pkg-config --static --libs-only-l piaoju | sed 's/-lpiaoju//')"
step pkgconfig-static-has-no-libpiaoju-so sh -c "! readelf -d '$work/app_static_pc' | grep -q libpiaoju"
step pkgconfig-static-run app_ok "$work/app_static_pc"
step pkgconfig-static-stack-not-executable not_executable_stack "$work/app_static_pc"
# A cashier's program with libjpeg functions of its own (jpeg_std_error, jpeg_CreateDecompress,
# jpeg_CreateCompress, also inside the archive's libjpeg-turbo), linked with the static archive:
# no duplicate symbol; its calls reach its own functions, piaoju's never do; piaoju fits an
# over-limit PNG (libjpeg-turbo encodes) and JPEG (decodes, encodes), and a JPEG cut short is
# image_corrupt (libjpeg-turbo stops by unwinding through its C frames to piaoju's catch_unwind).
step own-jpeg-static-compile sh -c "gcc -std=c99 -Wall -Wextra -Werror tests/dist/own_jpeg.c -o '$work/own_jpeg' \
  \$(pkg-config --cflags piaoju) '$sdk/lib/libpiaoju.a' \$(pkg-config --static --libs-only-l piaoju | sed 's/-lpiaoju//')"
step own-jpeg-static-receipt sandboxed "$work/own_jpeg" receipt "$receipt"
step own-jpeg-static-fits-png sandboxed "$work/own_jpeg" fit tests/fixtures/too_wide.png
step own-jpeg-static-fits-jpeg sandboxed "$work/own_jpeg" jpeg
step own-jpeg-static-cut-jpeg-is-corrupt sandboxed "$work/own_jpeg" truncated
# The README's C example, as the README says to build it.
awk '/<!-- c-example -->/{grab=1; next} grab && /^```c/{inside=1; next} inside && /^```/{exit} inside{print}' \
  README.md > "$work/readme.c"
step readme-c-example-compile sh -c "gcc -std=c99 -Wall -Wextra -Wpedantic -Werror '$work/readme.c' -o '$work/readme' \$(pkg-config --cflags --libs piaoju)"
step readme-c-example-run sh -c "PIAOJU_JUHE_KEY=sandbox-juhe-key PIAOJU_JUHE_BASE_URL='$url' LD_LIBRARY_PATH='$sdk/lib' '$work/readme' '$receipt' | grep -q '\"total_amount\":\"12.50\"'"
unset PKG_CONFIG_PATH

# CMake: find_package(piaoju 0.1 REQUIRED), piaoju::piaoju, piaoju::piaoju_static, C++.
cmake_project() {  # BUILD_DIR PREFIX
  cmake -S tests/dist/cmake -B "$1" -DCMAKE_PREFIX_PATH="$2" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$1" -j 2
}
step cmake-build cmake_project "$work/cmake" "$sdk"
step cmake-found-version grep -q "piaoju_VERSION=$version\$" "$work/cmake-build.log"
# CMake gives the programs an RPATH to the imported library's folder: no LD_LIBRARY_PATH.
step cmake-run-shared app_ok "$work/cmake/app"
step cmake-shared-links-libpiaoju-so-0 sh -c "readelf -d '$work/cmake/app' | grep -q 'NEEDED.*\[$abi_soname\]'"
step cmake-run-static app_ok "$work/cmake/app_static"
step cmake-static-has-no-libpiaoju-so sh -c "! readelf -d '$work/cmake/app_static' | grep -q libpiaoju"
step cmake-run-cpp sh -c "'$work/cmake/app_cpp' | grep -qx 'pj_version $version'"
major=${version%%.*}; minor=${version#*.}; minor=${minor%%.*}
step cmake-version-file cmake -S tests/dist/cmake-versions -B "$work/cmake-versions" -DCMAKE_PREFIX_PATH="$sdk" \
  -DPIAOJU_EXPECTED="$version" -DNEXT_MINOR="$major.$((minor + 1))" -DNEXT_MAJOR="$((major + 1)).0"

# The command.
step sdk-piaoju-version test "$("$sdk/bin/piaoju" --version)" = "piaoju $version"
step sdk-piaoju-receipt sh -c "'$sdk/bin/piaoju' receipt '$receipt' --sandbox | grep -q '\"total_amount\": *\"12.50\"'"

# ============================== .deb ==============================
debroot=$work/deb
step deb-extract dpkg-deb -x "$deb" "$debroot"
field() { dpkg-deb -f "$deb" "$1"; }
step deb-package test "$(field Package)" = piaoju
step deb-version test "$(field Version)" = "$version"
step deb-architecture test "$(field Architecture)" = amd64
step deb-depends test "$(field Depends)" = "libc6 (>= 2.17)"
deb_files() {
  { expected_files lib/x86_64-linux-gnu; echo "f share/doc/piaoju/copyright"; } | sort > "$work/deb-expected"
  listing "$debroot/usr" | grep -v '^. share/piaoju/bindings/' > "$work/deb-actual"
  diff "$work/deb-expected" "$work/deb-actual" && test "$(ls -A "$debroot")" = usr
}
step deb-files deb_files
debl=$debroot/usr/lib/x86_64-linux-gnu
step deb-same-library-as-sdk cmp "$debl/libpiaoju.so.$version" "$lib"
step deb-same-archive-as-sdk cmp "$debl/libpiaoju.a" "$sdk/lib/libpiaoju.a"
step deb-static-exports-only-pj static_exports_match "$debl/libpiaoju.a"
step deb-same-command-as-sdk cmp "$debroot/usr/bin/piaoju" "$sdk/bin/piaoju"
step deb-pc-prefix grep -qx 'prefix=/usr' "$debl/pkgconfig/piaoju.pc"
# Built from the unpacked package as if it were installed: pkg-config with a sysroot, CMake with
# the unpacked /usr as prefix (found under lib/x86_64-linux-gnu/cmake).
step deb-pkgconfig-compile sh -c "gcc -std=c99 -Wall -Werror tests/dist/app.c -o '$work/app_deb' \
  \$(PKG_CONFIG_SYSROOT_DIR='$debroot' PKG_CONFIG_LIBDIR='$debl/pkgconfig' pkg-config --cflags --libs piaoju)"
step deb-pkgconfig-run app_ok env LD_LIBRARY_PATH="$debl" "$work/app_deb"
step deb-cmake-build cmake_project "$work/cmake-deb" "$debroot/usr"
step deb-cmake-found-version grep -q "piaoju_VERSION=$version\$" "$work/deb-cmake-build.log"
step deb-cmake-run-shared app_ok "$work/cmake-deb/app"
step deb-cmake-run-static app_ok "$work/cmake-deb/app_static"

# ============================== wheel ==============================
step wheel-auditwheel sh -c ".venv/bin/auditwheel show '$wheel' | tr -s ' \n' ' ' | grep -q 'consistent with the following platform tag: \"manylinux_2_17_x86_64\"'"
wheel_dir=$work/wheel
step wheel-unzip unzip -q "$wheel" -d "$wheel_dir"
native=$(find "$wheel_dir" -name '_native*.so' | head -n 1)
step wheel-extension-present test -n "$native"
step wheel-glibc-extension glibc_max "${native:-/nonexistent}"; glibc_py=$(said wheel-glibc-extension)
step wheel-stripped-extension stripped "${native:-/nonexistent}"
step wheel-metadata-version grep -qx "Version: $version" "$wheel_dir/piaoju-$version.dist-info/METADATA"
step wheel-tags sh -c "grep -qx 'Tag: cp39-abi3-manylinux_2_17_x86_64' '$wheel_dir/piaoju-$version.dist-info/WHEEL' && \
  grep -qx 'Tag: cp39-abi3-manylinux2014_x86_64' '$wheel_dir/piaoju-$version.dist-info/WHEEL'"
step wheel-has-the-command grep -qx 'piaoju *= *piaoju._cli:main' "$wheel_dir/piaoju-$version.dist-info/entry_points.txt"
venv=$work/venv
step wheel-venv python3 -m venv "$venv"
step wheel-install "$venv/bin/python" -m pip install --quiet --no-index --no-deps "$wheel"
# The Python examples of the README and of docs/python.md, in that order, run in a folder that
# has only the fixtures they name.
mkdir -p "$work/user/tests"
cp -R tests/fixtures "$work/user/tests/fixtures"
python3 - "$work/user" README.md docs/python.md <<'PY'
import pathlib, re, sys
i = 0
for document in sys.argv[2:]:
    text = pathlib.Path(document).read_text(encoding="utf-8")
    for block in re.findall(r"<!-- python-example -->\s*```python\n(.*?)```", text, flags=re.S):
        pathlib.Path(sys.argv[1], f"readme_example_{i}.py").write_text(block, encoding="utf-8")
        i += 1
PY
examples=("$work"/user/readme_example_*.py)
step readme-python-examples-found test "${#examples[@]}" -ge 3
for example in "${examples[@]}"; do
  step "readme-python-$(basename "$example" .py)" sh -c "cd '$work/user' && '$venv/bin/python' '$example' > '$example.out' && cat '$example.out'"
done
step readme-python-receipt-total grep -q '多又好超市 12.50' "$work/user/readme_example_0.py.out"
step wheel-module-version test "$(cd "$work/user" && "$venv/bin/python" -c 'import piaoju; print(piaoju.__version__)')" = "$version"
step wheel-piaoju-version test "$("$venv/bin/piaoju" --version)" = "piaoju $version"
step wheel-piaoju-receipt sh -c "cd '$work/user' && '$venv/bin/piaoju' receipt tests/fixtures/receipt.png --sandbox | grep -q '\"total_amount\": *\"12.50\"'"
step sdist-has-the-sources sh -c "tar -tzf '$sdist' | grep -q '^piaoju-$version/pyproject.toml$' && tar -tzf '$sdist' | grep -q '^piaoju-$version/core/src/lib.rs$'"

# ============================== one version ==============================
one_version() {
  local cmake_version
  cmake_version=$(sed -n 's/^-- piaoju_VERSION=//p' "$work/cmake-build.log")
  printf '%s\n' \
    "workspace (Cargo.toml)      $version" \
    "header PIAOJU_VERSION       $(sed -n 's/^#define PIAOJU_VERSION "\(.*\)"$/\1/p' "$sdk/include/piaoju.h")" \
    "pj_version()                $(sed -n 's/^pj_version //p' "$work/app.out")" \
    "piaoju.pc                   $(PKG_CONFIG_PATH="$sdk/lib/pkgconfig" pkg-config --modversion piaoju)" \
    "CMake piaoju_VERSION        $cmake_version" \
    "libpiaoju.so.VERSION        $(basename "$(readlink -f "$sdk/lib/libpiaoju.so")" | sed 's/^libpiaoju\.so\.//')" \
    "SDK tarball folder          $(ls "$sdk_parent" | sed 's/^piaoju-//')" \
    ".deb Version                $(field Version)" \
    "wheel METADATA              $(sed -n 's/^Version: //p' "$wheel_dir/piaoju-$version.dist-info/METADATA")" \
    "piaoju.__version__          $(cd "$work/user" && "$venv/bin/python" -c 'import piaoju; print(piaoju.__version__)')" \
    "piaoju --version (SDK)      $("$sdk/bin/piaoju" --version | sed 's/^piaoju //')" \
    "piaoju --version (wheel)    $("$venv/bin/piaoju" --version | sed 's/^piaoju //')" \
    "CHANGELOG.md latest release $(sed -n 's/^## \[\([0-9][^]]*\)\].*/\1/p' CHANGELOG.md | head -n 1)" \
    | tee "$work/versions"
  [ "$(awk '{print $NF}' "$work/versions" | sort -u)" = "$version" ]
}
step one-version one_version && sed 's/^/    /' "$work/one-version.log"

echo "highest GLIBC symbol versions: ${glibc_so:-?}, ${glibc_bin:-?}, ${glibc_py:-?}"
echo "sizes: $(cd "$dist" && for f in "$(basename "$sdk_tar")" "$(basename "$deb")" "$(basename "$wheel")" "$(basename "$sdist")"; do
  printf '%s %s; ' "$f" "$(du -h "$f" | cut -f1)"; done)"
echo "dist: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
