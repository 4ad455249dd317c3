#!/usr/bin/env bash
# C/C++ suite: builds libpiaoju, starts the sandbox binary, and runs the C tests linked against
# the shared library, the static library and through dlopen, under valgrind and under ASan; the
# C++ header check; the README's C example; and the pkg-config install (its static library:
# only pj_* global, the C tests linked with it, beside a second Rust static library).
# Prints a closing "N passed, N failed" line.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}/debug
build=$(mktemp -d)
sandbox_pid=
sandbox2_pid=
cleanup() {
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null
  [ -n "$sandbox2_pid" ] && kill "$sandbox2_pid" 2>/dev/null
  rm -rf "$build"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }
if ! need valgrind || ! need pkg-config; then
  echo "installing valgrind and pkg-config"
  (apt-get update -qq && apt-get install -y -qq valgrind pkg-config) >/dev/null || { echo "cannot install valgrind/pkg-config"; exit 1; }
fi

# A locale whose strerror is not English, for test_os_errors_in_english_under_another_locale:
# zh_CN.UTF-8, made with localedef into the target directory (kept for the next run; LOCPATH
# points the tests at it, so nothing system-wide changes). Needs the locale sources (package
# locales) and glibc's Chinese messages (libc-l10n).
locale_dir=${CARGO_TARGET_DIR:-$root/target}/c-test-locale
if [ ! -d "$locale_dir/zh_CN.UTF-8" ]; then
  if [ ! -f /usr/share/i18n/locales/zh_CN ] || [ ! -f /usr/share/locale/zh_CN/LC_MESSAGES/libc.mo ] || ! need localedef; then
    echo "installing locales and libc-l10n"
    (apt-get update -qq && apt-get install -y -qq locales libc-l10n) >/dev/null || echo "cannot install locales/libc-l10n"
  fi
  mkdir -p "$locale_dir"
  localedef -i zh_CN -f UTF-8 "$locale_dir/zh_CN.UTF-8" || echo "localedef zh_CN.UTF-8 failed"
fi
locale_env=(LOCPATH="$locale_dir" PIAOJU_TEST_LOCALE=zh_CN.UTF-8)

cargo build -p piaoju-ffi -p piaoju-sandbox || exit 1
# The library's SONAME is libpiaoju.so.0 (ffi/build.rs): programs linked with -lpiaoju load that
# name, so the folder they run with holds both names.
lib=$build/lib
mkdir -p "$lib"
ln -s "$target/libpiaoju.so" "$lib/libpiaoju.so"
ln -s "$target/libpiaoju.so" "$lib/libpiaoju.so.0"

for v in $(env | sed -n 's/^\(PIAOJU_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

# Receipts as shops print them: two answers (scripts/make_receipt_corpus.py) registered for
# two images of their own (the sample receipt with a suffix; the sandbox keys answers by hash).
for name in weighed moling; do
  { cat tests/fixtures/receipt.png; printf '%s' "$name"; } > "$build/receipt_$name.png"
done
"$target/piaoju-sandbox" --url-file "$build/url" --exit-after 1800 \
  --answer "$build/receipt_weighed.png=tests/fixtures/juhe_receipt_weighed.json" \
  --answer "$build/receipt_moling.png=tests/fixtures/juhe_receipt_moling.json" >/dev/null &
sandbox_pid=$!
for _ in $(seq 1 100); do [ -s "$build/url" ] && break; sleep 0.1; done
[ -s "$build/url" ] || { echo "sandbox did not start"; exit 1; }
export PIAOJU_SANDBOX_URL=$(cat "$build/url")
# A second sandbox, for the test that counts its requests, tokens and connections.
"$target/piaoju-sandbox" --url-file "$build/url2" --exit-after 1800 >/dev/null &
sandbox2_pid=$!
for _ in $(seq 1 100); do [ -s "$build/url2" ] && break; sleep 0.1; done
[ -s "$build/url2" ] || { echo "second sandbox did not start"; exit 1; }
export PIAOJU_SANDBOX2_URL=$(cat "$build/url2")
export PIAOJU_FIXTURES="$root/tests/fixtures"
export PIAOJU_SHOP_RECEIPTS="$build"

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
step run-shared env LD_LIBRARY_PATH="$lib" "${locale_env[@]}" "$build/test_shared"
step compile-static gcc $CFLAGS tests/c/test_piaoju.c -o "$build/test_static" "$target/libpiaoju.a" $STATIC_LIBS
step static-has-no-dynamic-piaoju sh -c "! ldd '$build/test_static' | grep -q libpiaoju"
step run-static env "${locale_env[@]}" "$build/test_static"
step compile-dlopen gcc $CFLAGS tests/c/test_dlopen.c -o "$build/test_dlopen" -ldl
step run-dlopen "$build/test_dlopen" "$target/libpiaoju.so" "$PIAOJU_SANDBOX_URL" "$root/tests/fixtures/receipt.png"
step valgrind env LD_LIBRARY_PATH="$lib" PIAOJU_TEST_NO_TIMING_BOUNDS=1 "${locale_env[@]}" valgrind --quiet --error-exitcode=99 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite "$build/test_shared"
step compile-asan gcc $CFLAGS -fsanitize=address -fno-omit-frame-pointer tests/c/test_piaoju.c \
  -o "$build/test_asan" -L"$lib" -lpiaoju -lpthread
step asan-is-linked sh -c "ldd '$build/test_asan' | grep -q libasan && nm -D '$build/test_asan' | grep -q __asan_init"
step run-asan env LD_LIBRARY_PATH="$lib" "${locale_env[@]}" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$build/test_asan"
# ThreadSanitizer: the C side of the thread tests (the library itself is not instrumented).
step compile-tsan gcc $CFLAGS -fsanitize=thread -fno-omit-frame-pointer tests/c/test_piaoju.c \
  -o "$build/test_tsan" -L"$lib" -lpiaoju -lpthread
step tsan-is-linked sh -c "ldd '$build/test_tsan' | grep -q libtsan"
step run-tsan env LD_LIBRARY_PATH="$lib" "${locale_env[@]}" TSAN_OPTIONS=halt_on_error=1:exitcode=66:suppressions=$root/tests/c/tsan.supp "$build/test_tsan"
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
# The installed libpiaoju.a defines only the pj_* functions (packaging/layout.sh): the whole suite
# runs linked with it; so does a program linking a second Rust static library before or after it.
installed_a=$build/prefix/lib/libpiaoju.a
step installed-static-exports-only-pj bash -c "diff <(grep -v '^#' ffi/exports.txt | sed '/^\$/d' | sort) \
  <(nm --defined-only -g '$installed_a' 2>/dev/null | awk 'NF == 3 {print \$3}' | sort)"
step compile-static-installed gcc $CFLAGS tests/c/test_piaoju.c -o "$build/test_static_installed" "$installed_a" $STATIC_LIBS
step run-static-installed env "${locale_env[@]}" "$build/test_static_installed"
step compile-other-rust rustc -O --edition 2021 --crate-type staticlib --crate-name other_rust tests/c/other_rust.rs \
  -o "$build/libother_rust.a"
step compile-two-rust sh -c "gcc $CFLAGS tests/c/two_rust.c -o '$build/two_rust' '$installed_a' '$build/libother_rust.a' $STATIC_LIBS && \
  gcc $CFLAGS tests/c/two_rust.c -o '$build/two_rust_other_first' '$build/libother_rust.a' '$installed_a' $STATIC_LIBS"
step run-two-rust env PIAOJU_JUHE_KEY=sandbox-juhe-key PIAOJU_JUHE_BASE_URL="$PIAOJU_SANDBOX_URL" \
  "$build/two_rust" "$root/tests/fixtures/receipt.png"
step run-two-rust-other-first env PIAOJU_JUHE_KEY=sandbox-juhe-key PIAOJU_JUHE_BASE_URL="$PIAOJU_SANDBOX_URL" \
  "$build/two_rust_other_first" "$root/tests/fixtures/receipt.png"
step compile-readme-example sh -c "gcc -std=c99 -Wall -Wextra -Wpedantic -Werror '$build/example.c' -o '$build/example' \
  \$(PKG_CONFIG_PATH='$build/prefix/lib/pkgconfig' pkg-config --cflags --libs piaoju)"
step run-readme-example env LD_LIBRARY_PATH="$build/prefix/lib" PIAOJU_JUHE_KEY=sandbox-juhe-key \
  PIAOJU_JUHE_BASE_URL="$PIAOJU_SANDBOX_URL" "$build/example" "$root/tests/fixtures/receipt.png"

echo "c suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
