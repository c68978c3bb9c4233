#!/usr/bin/env bash
# Runs every test: formatting and lints, the scorer's self-test, unit, integration and
# end-to-end call tests (release build: calls run in real time).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --all-targets -- -D warnings

echo "== scoring tools"
TGVOIP_PYTHON=$(scripts/pyenv.sh)
export TGVOIP_PYTHON
"$TGVOIP_PYTHON" tests/quality/score.py --self-test

echo "== interop peer (pytgvoip 0.0.7.1 = libtgvoip 2.4.4; built once per machine)"
TGVOIP_INTEROP_PYTHON=$(tests/interop/setup.sh)
export TGVOIP_INTEROP_PYTHON

echo "== cargo test"
cargo test --release -- --nocapture 2>&1 | tee target/test-output.txt
echo "== summary"
grep -E '^\[(wifi|3g2)\]|^\[interop-table\]' target/test-output.txt || true
