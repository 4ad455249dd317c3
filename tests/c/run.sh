#!/usr/bin/env bash
# C/C++ suite: builds libpiaoju, starts the sandbox binary, and runs the C tests linked against
# the shared library, the static library and through dlopen, under valgrind and under ASan; the
# C++ header check; the README's C example; and the pkg-config install.
# Prints a closing "N passed, N failed" line.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}/debug
build=$(mktemp -d)
sandbox_pid=
cleanup() {
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null
  rm -rf "$build"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }
if ! need valgrind || ! need pkg-config; then
  echo "installing valgrind and pkg-config"
  (apt-get update -qq && apt-get install -y -qq valgrind pkg-config) >/dev/null || { echo "cannot install valgrind/pkg-config"; exit 1; }
fi

cargo build -p piaoju-ffi -p piaoju-sandbox || exit 1
# The library's SONAME is libpiaoju.so.0 (ffi/build.rs): programs linked with -lpiaoju load that
# name, so the folder they run with holds both names.
lib=$build/lib
mkdir -p "$lib"
ln -s "$target/libpiaoju.so" "$lib/libpiaoju.so"
ln -s "$target/libpiaoju.so" "$lib/libpiaoju.so.0"

for v in $(env | sed -n 's/^\(PIAOJU_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

"$target/piaoju-sandbox" --url-file "$build/url" --exit-after 1800 >/dev/null &
sandbox_pid=$!
for _ in $(seq 1 100); do [ -s "$build/url" ] && break; sleep 0.1; done
[ -s "$build/url" ] || { echo "sandbox did not start"; exit 1; }
export PIAOJU_SANDBOX_URL=$(cat "$build/url")
export PIAOJU_FIXTURES="$root/tests/fixtures"

passed=0
failed=0
step() {
  local name=$1; shift
  if "$@" >"$build/$name.log" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name $(tail -n 1 "$build/$name.log" | grep -E "passed|failed" || true)"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/    /' "$build/$name.log" | tail -n 40
  fi
}

CFLAGS="-std=c99 -Wall -Wextra -Wpedantic -Werror -g -I$root/include"
STATIC_LIBS="-lpthread -ldl -lm -lrt -lgcc_s -lc"

step compile-shared gcc $CFLAGS tests/c/test_piaoju.c -o "$build/test_shared" -L"$lib" -lpiaoju -lpthread
step run-shared env LD_LIBRARY_PATH="$lib" "$build/test_shared"
step compile-static gcc $CFLAGS tests/c/test_piaoju.c -o "$build/test_static" "$target/libpiaoju.a" $STATIC_LIBS
step static-has-no-dynamic-piaoju sh -c "! ldd '$build/test_static' | grep -q libpiaoju"
step run-static "$build/test_static"
step compile-dlopen gcc $CFLAGS tests/c/test_dlopen.c -o "$build/test_dlopen" -ldl
step run-dlopen "$build/test_dlopen" "$target/libpiaoju.so" "$PIAOJU_SANDBOX_URL" "$root/tests/fixtures/receipt.png"
step valgrind env LD_LIBRARY_PATH="$lib" PIAOJU_TEST_NO_TIMING_BOUNDS=1 valgrind --quiet --error-exitcode=99 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite "$build/test_shared"
step compile-asan gcc $CFLAGS -fsanitize=address -fno-omit-frame-pointer tests/c/test_piaoju.c \
  -o "$build/test_asan" -L"$lib" -lpiaoju -lpthread
step asan-is-linked sh -c "ldd '$build/test_asan' | grep -q libasan && nm -D '$build/test_asan' | grep -q __asan_init"
step run-asan env LD_LIBRARY_PATH="$lib" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$build/test_asan"
# ThreadSanitizer: the C side of the thread tests (the library itself is not instrumented).
step compile-tsan gcc $CFLAGS -fsanitize=thread -fno-omit-frame-pointer tests/c/test_piaoju.c \
  -o "$build/test_tsan" -L"$lib" -lpiaoju -lpthread
step tsan-is-linked sh -c "ldd '$build/test_tsan' | grep -q libtsan"
step run-tsan env LD_LIBRARY_PATH="$lib" TSAN_OPTIONS=halt_on_error=1:exitcode=66:suppressions=$root/tests/c/tsan.supp "$build/test_tsan"
step compile-cpp g++ -std=c++17 -Wall -Wextra -Werror -I"$root/include" tests/c/header_cpp.cpp \
  -o "$build/test_cpp" -L"$lib" -lpiaoju
step run-cpp env LD_LIBRARY_PATH="$lib" "$build/test_cpp"

# The README's C example: extracted, installed with pkg-config, compiled and run.
awk '/<!-- c-example -->/{grab=1; next} grab && /^```c/{inside=1; next} inside && /^```/{exit} inside{print}' \
  README.md > "$build/example.c"
step readme-example-extracted test -s "$build/example.c"
step install scripts/install-c.sh --debug --prefix "$build/prefix"
step install-layout sh -c "test \"\$(readlink '$build/prefix/lib/libpiaoju.so')\" = libpiaoju.so.0 && \
  test -f \"$build/prefix/lib/\$(readlink '$build/prefix/lib/libpiaoju.so.0')\" && \
  test -f '$build/prefix/lib/cmake/piaoju/piaojuConfig.cmake' && test -f '$build/prefix/lib/libpiaoju.a'"
step compile-readme-example sh -c "gcc -std=c99 -Wall -Wextra -Wpedantic -Werror '$build/example.c' -o '$build/example' \
  \$(PKG_CONFIG_PATH='$build/prefix/lib/pkgconfig' pkg-config --cflags --libs piaoju)"
step run-readme-example env LD_LIBRARY_PATH="$build/prefix/lib" PIAOJU_JUHE_KEY=sandbox-juhe-key \
  PIAOJU_JUHE_BASE_URL="$PIAOJU_SANDBOX_URL" "$build/example" "$root/tests/fixtures/receipt.png"

echo "c suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
