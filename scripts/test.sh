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

echo "== cargo test"
cargo test --release -- --nocapture 2>&1 | tee target/test-output.txt
echo "== quality benchmark (quick: two profiles, a few seconds; asserts nothing about quality)"
scripts/quality-bench.sh --quick --out target/quality-bench-quick 2>&1 | tee target/quality-bench-quick.txt
echo "== summary"
grep -E '^\[[a-z0-9-]+\] ' target/test-output.txt || true
# One closing line over every test binary (the last cargo line is the empty doc-test run).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' target/test-output.txt
