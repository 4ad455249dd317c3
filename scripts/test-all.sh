#!/usr/bin/env bash
# Every test suite of the repository, from a fresh clone: Rust, C/C++, Python.
# Installs what it needs; Python tools go into .venv/ (created here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

echo "== fixtures"
python3 scripts/make_fixtures.py --check

echo "== rust: format, lints, tests"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The Python crate has no Rust tests; it is built and tested by the Python suite below.
cargo test --workspace --exclude piaoju-python --locked

echo "== c and c++"
bash tests/c/run.sh

echo "== python"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "maturin>=1.9.4,<2" "pytest>=7" "mypy>=1.10"
.venv/bin/python -m pip install --quiet --force-reinstall --no-deps ./python
cd tests/python
../../.venv/bin/python -m pytest -q -p no:cacheprovider
