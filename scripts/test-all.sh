#!/usr/bin/env bash
# Every test suite of the repository, from a fresh clone: Rust, C/C++, the host wrappers
# (Java, .NET, Delphi), the release artifacts (scripts/dist.sh, then scripts/test-dist.sh),
# Python (against the wheel built for dist/).
# Installs what it needs; Python tools go into .venv/ (created here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

echo "== build tools"
# libjpeg-turbo's SIMD code (built by mozjpeg-sys for fitting JPEGs) is assembled with nasm;
# without it only the C code is built (correct, slower).
if ! command -v nasm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq nasm >/dev/null \
    || echo "nasm could not be installed: JPEG fitting is built without SIMD"
fi

echo "== fixtures"
python3 scripts/make_fixtures.py --check
python3 scripts/make_ocr_corpus.py --check
python3 scripts/make_receipt_corpus.py --check

echo "== rust: format, lints, tests"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p piaoju --features bench --examples --locked -- -D warnings
# The core without its optional parts (feature `cache`: SQLite; `fit`: the image codecs): it
# builds with no rusqlite in its tree, and its own tests hold (those of the missing parts too).
cargo clippy -p piaoju --no-default-features --lib --tests --locked -- -D warnings
if cargo tree -p piaoju --no-default-features -e normal,build --locked | grep -q rusqlite; then
  echo "rusqlite is in the tree of piaoju without its cache feature" >&2
  exit 1
fi
cargo test -p piaoju --no-default-features --lib --locked
RUSTDOCFLAGS="-D warnings" cargo doc -p piaoju --no-default-features --no-deps --locked
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
# The Python crate has no Rust tests; it is built and tested by the Python suite below.
cargo test --workspace --exclude piaoju-python --locked

echo "== c and c++"
bash tests/c/run.sh

echo "== host wrappers: java, .net, delphi"
bash bindings/test.sh

echo "== dist: C SDK, .deb and wheel for glibc 2.17, tested as users install them"
bash scripts/dist.sh
bash scripts/test-dist.sh

echo "== python"
# The suite runs against the wheel built for dist/ by scripts/dist.sh, installed in .venv (created
# there); a second, throw-away venv checks that `pip install ./python` works too.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "pytest>=7" "mypy>=1.10" "dask[distributed]>=2024.1"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
.venv/bin/python -m pip install --quiet --force-reinstall --no-deps \
  "dist/piaoju-$version-cp39-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"

python3 -m venv "$work/venv-source"
"$work/venv-source/bin/python" -m pip install --quiet ./python
(cd "$work" && "$work/venv-source/bin/python" - "$root/tests/fixtures/receipt.png" <<'PY'
import sys
from decimal import Decimal
import piaoju
with piaoju.Sandbox() as sandbox:
    receipt = sandbox.client().recognize_shopping_receipt(sys.argv[1])
assert receipt.total_amount == Decimal("12.50"), receipt
print("pip install ./python: ok", piaoju.__version__)
PY
)

cd tests/python
../../.venv/bin/python -m pytest -q -p no:cacheprovider
