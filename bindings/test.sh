#!/usr/bin/env bash
# The host wrappers (bindings/java: JNA, bindings/dotnet: C# on Mono, bindings/delphi: Free Pascal
# in Delphi mode): builds libpiaoju, each wrapper and its example, starts the sandbox, and runs
# every example once in C.UTF-8 and once in zh_CN.GBK (what a Chinese Windows host runs). Each
# run must print the expected text (converted from the locale's charset), the GBK run in GBK
# bytes and the same text as the UTF-8 run; every string the library returned must have been
# given back to pj_string_free (a counting stand-in for libpiaoju, count_strings.c), and the
# Delphi example runs under valgrind too.
# Installs what it needs from Debian (apt-get) when missing, and generates zh_CN.GBK.
# The .NET example also frees its client while 4 calls are running (the SafeHandle defers it).
# Every example also runs with "ascii_json": true, checking that every JSON it received was pure
# ASCII, and frees a client while 4 calls are running (the Delphi one under valgrind too).
# Prints a closing "N passed, N failed" line.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}/debug
work=$(mktemp -d)
sandbox_pid=
cleanup() {
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
for v in $(env | sed -n 's/^\(PIAOJU_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
export LC_ALL=C.UTF-8 LANG=C.UTF-8 LANGUAGE=

started=$SECONDS
phase=$SECONDS
timings=
timed() { timings="$timings$1 $((SECONDS - phase)) s, "; phase=$SECONDS; }

# --- what the suite needs, from Debian, only when missing
need() { command -v "$1" >/dev/null 2>&1; }
missing=()
need javac || missing+=(openjdk-17-jdk-headless)
[ -f /usr/share/java/jna.jar ] || missing+=(libjna-java)
need mcs || missing+=(mono-mcs)
need mono || missing+=(mono-runtime)
# Mono prints in the locale's charset (GBK) only with the CJK encodings.
[ -f /usr/lib/mono/4.5/I18N.CJK.dll ] || missing+=(libmono-i18n-cjk4.0-cil)
need fpc || missing+=(fp-compiler)
[ -f /usr/share/i18n/charmaps/GBK.gz ] || missing+=(locales)
need gcc || missing+=(gcc)
need valgrind || missing+=(valgrind)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") \
    >"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log"; echo "cannot install ${missing[*]}"; exit 1; }
fi
if ! locale -a 2>/dev/null | grep -qix 'zh_CN\.gbk'; then
  localedef -f GBK -i zh_CN zh_CN.GBK || { echo "cannot generate the zh_CN.GBK locale"; exit 1; }
fi
timed install

cargo build -p piaoju-ffi -p piaoju-sandbox || exit 1
timed cargo

"$target/piaoju-sandbox" --url-file "$work/url" --exit-after 1800 >/dev/null &
sandbox_pid=$!
for _ in $(seq 1 100); do [ -s "$work/url" ] && break; sleep 0.1; done
[ -s "$work/url" ] || { echo "sandbox did not start"; exit 1; }
url=$(cat "$work/url")

passed=0
failed=0
step() {
  local name=$1; shift
  if "$@" >"$work/step.log" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/    /' "$work/step.log" | tail -n 40
  fi
}

# --- build: the counting stand-in, then each wrapper and its example, warnings as errors
mkdir -p "$work/count" "$work/java/classes" "$work/java/example" "$work/dotnet" "$work/delphi" "$work/files"
step build-count-strings gcc -std=gnu99 -Wall -Wextra -Werror -shared -fPIC -I"$root/include" \
  bindings/count_strings.c -o "$work/count/libpiaoju.so" -ldl -lpthread
# The library's SONAME is libpiaoju.so.0 (ffi/build.rs): a program linked with it (the Delphi
# example) loads that name, so each folder it runs with holds both names.
ln -s libpiaoju.so "$work/count/libpiaoju.so.0"
mkdir -p "$work/lib"
ln -s "$target/libpiaoju.so" "$work/lib/libpiaoju.so"
ln -s "$target/libpiaoju.so" "$work/lib/libpiaoju.so.0"
jna=/usr/share/java/jna.jar
step build-java sh -c "javac -encoding UTF-8 -Xlint:all -Werror -cp '$jna' -d '$work/java/classes' bindings/java/src/piaoju/*.java \
  && jar cf '$work/java/piaoju.jar' -C '$work/java/classes' . \
  && javac -encoding UTF-8 -Xlint:all -Werror -cp '$jna:$work/java/piaoju.jar' -d '$work/java/example' bindings/java/example/Example.java"
timed java-build
step build-dotnet sh -c "mcs -warnaserror+ -codepage:utf8 -target:library -out:'$work/dotnet/Piaoju.dll' bindings/dotnet/Piaoju.cs \
  && mcs -warnaserror+ -codepage:utf8 -r:'$work/dotnet/Piaoju.dll' -out:'$work/dotnet/Example.exe' bindings/dotnet/example/Example.cs"
timed dotnet-build
step build-delphi fpc -Sew -vwn -FU"$work/delphi" -FE"$work/delphi" -Fubindings/delphi -Fl"$work/lib" \
  bindings/delphi/example/Example.dpr
timed delphi-build

# The Chinese file name, as this script's (UTF-8) bytes; the wrappers pass every path as UTF-8.
cp tests/fixtures/receipt.png "$work/files/小票.png"
version=$(sed -n 's/^#define PIAOJU_VERSION "\(.*\)"$/\1/p' include/piaoju.h)
cat >"$work/expected" <<EOF
piaoju $version
receipt from bytes: 多又好超市 12.50
receipt from 小票.png: 多又好超市 12.50
invoice from invoice.pdf: LFV3A28W6K3705006 10000.00 张锦达
empty image: 200 image_empty
one-shot call: ok true, 多又好超市 12.50
wrong key: 400 invalid_key 错误的请求KEY
EOF
# 多又好超市 in GBK: a host that prints in its locale's charset prints these bytes under zh_CN.GBK.
printf '\xb6\xe0\xd3\xd6\xba\xc3\xb3\xac\xca\xd0' >"$work/shop.gbk"

example() { # HOST: the command that runs HOST's example
  case $1 in
    java) echo java -cp "$jna:$work/java/piaoju.jar:$work/java/example" Example ;;
    dotnet) echo mono "$work/dotnet/Example.exe" ;;
    delphi) echo "$work/delphi/Example" ;;
  esac
}

# run HOST LOCALE [FLAG...]: the example's output in $work/out.HOST.LOCALE[.abi], as the host
# wrote it, and converted to UTF-8 in the same file name + .utf8
run() {
  local host=$1 locale=$2 out="$work/out.$1.$2${3:+.abi}"
  shift 2
  env LC_ALL="$locale" LANG="$locale" LD_LIBRARY_PATH="$work/count" PIAOJU_REAL_LIBRARY="$target/libpiaoju.so" \
    PIAOJU_COUNT_FILE="$out.count" $(example "$host") "$url" "$root/tests/fixtures" "$work/files" "$@" >"$out" || return 1
  iconv -f "${locale#*.}" -t UTF-8 "$out" >"$out.utf8"
}
# strings_freed FILE [N]: every string returned was freed, and as many as the example gets (6)
strings_freed() { grep -q "^returned ${2:-6} freed ${2:-6} " "$1" || { cat "$1"; return 1; }; }
shows_expected() { diff -u "${2:-$work/expected}" "$1"; }
{ cat "$work/expected"; echo "closed during 4 calls: 4 answered"; } >"$work/expected.abi"
# The .NET client is a SafeHandle: Dispose during calls frees the client after the last one
# (no early client free), and every call gets its answer.
dispose_during_calls() {
  env LD_LIBRARY_PATH="$work/count" PIAOJU_REAL_LIBRARY="$target/libpiaoju.so" PIAOJU_COUNT_FILE="$work/dispose.count" \
    mono "$work/dotnet/Example.exe" "$url" "$root/tests/fixtures" "$work/files" --close-during-calls >"$work/dispose.out" \
    && shows_expected "$work/dispose.out" "$work/expected.abi" && strings_freed "$work/dispose.count" 10 \
    && grep -q " early_client_frees 0$" "$work/dispose.count"
}
is_gbk() { grep -qF "$(cat "$work/shop.gbk")" "$1" && ! grep -qF "多又好超市" "$1"; }

for host in java dotnet delphi; do
  for locale in C.UTF-8 zh_CN.GBK; do
    out="$work/out.$host.$locale"
    step "$host $locale: runs" run "$host" "$locale"
    step "$host $locale: prints the expected text" shows_expected "$out.utf8"
    step "$host $locale: frees every string with pj_string_free" strings_freed "$out.count"
  done
  step "$host zh_CN.GBK: prints GBK bytes" is_gbk "$work/out.$host.zh_CN.GBK"
  step "$host: the same text in both locales" cmp "$work/out.$host.C.UTF-8.utf8" "$work/out.$host.zh_CN.GBK.utf8"
  for locale in C.UTF-8 zh_CN.GBK; do
    out="$work/out.$host.$locale.abi"
    step "$host $locale ascii_json, close during calls: runs, every JSON pure ASCII" \
      run "$host" "$locale" --ascii-json --close-during-calls
    step "$host $locale ascii_json, close during calls: prints the expected text" \
      shows_expected "$out.utf8" "$work/expected.abi"
  done
  timed "$host-runs"
done
step "dotnet: Dispose during 4 calls, each call answered" dispose_during_calls

step "delphi zh_CN.GBK under valgrind: no leak, no invalid access" env LC_ALL=zh_CN.GBK LANG=zh_CN.GBK \
  LD_LIBRARY_PATH="$work/lib" valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite "$work/delphi/Example" "$url" "$root/tests/fixtures" "$work/files"
step "delphi zh_CN.GBK under valgrind, free during calls: no leak, no invalid access" env LC_ALL=zh_CN.GBK \
  LANG=zh_CN.GBK LD_LIBRARY_PATH="$work/lib" valgrind --quiet --error-exitcode=99 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite "$work/delphi/Example" "$url" "$root/tests/fixtures" \
  "$work/files" --close-during-calls
timed valgrind

for host in java dotnet delphi; do
  echo "--- $host, zh_CN.GBK (converted from GBK):"
  cat "$work/out.$host.zh_CN.GBK.utf8" 2>/dev/null
done
echo "timing: ${timings}total $((SECONDS - started)) s"
echo "bindings: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
