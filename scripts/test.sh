#!/usr/bin/env bash
# Runs every test: formatting and lints, the scorer's self-test, unit, integration and
# end-to-end call tests (release build: calls run in real time).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --all-targets --all-features -- -D warnings

echo "== scoring tools"
TGVOIP_PYTHON=$(scripts/pyenv.sh)
export TGVOIP_PYTHON
"$TGVOIP_PYTHON" tests/quality/score.py --self-test

echo "== interop peer (pytgvoip 0.0.7.1 = libtgvoip 2.4.4; built once per machine)"
TGVOIP_INTEROP_PYTHON=$(tests/interop/setup.sh)
export TGVOIP_INTEROP_PYTHON

echo "== tgcalls peer (ntgcalls 3.0.5 from PyPI; venv cached per machine)"
TGVOIP_NTGCALLS_PYTHON=$(tests/tgcalls/setup.sh)
export TGVOIP_NTGCALLS_PYTHON

echo "== cargo test"
cargo test --release -- --nocapture 2>&1 | tee target/test-output.txt
echo "== C ABI: header, CMake package, C/C++ tests (api_*, int_*, build_*, leak_*)"
SHARED_DIR=$(cd "${TGVOIP_SHARED_DIR:-../shared}" && pwd)
cargo build --release --lib --bins
cmake -S . -B target/cmake -DTGVOIP_CARGO_BUILD=OFF -DTGVOIP_SHARED_DIR="$SHARED_DIR" >/dev/null
cmake --build target/cmake -j2
ctest --test-dir target/cmake --output-on-failure 2>&1 | tee target/ctest-output.txt
echo "== C ABI tests under AddressSanitizer"
cmake -S . -B target/cmake-asan -DTGVOIP_CARGO_BUILD=OFF -DTGVOIP_ASAN=ON -DTGVOIP_SHARED_DIR="$SHARED_DIR" >/dev/null
cmake --build target/cmake-asan -j2
ctest --test-dir target/cmake-asan --output-on-failure -E build_install_consumer 2>&1 | tee target/ctest-asan-output.txt

echo "== Python bindings: wheel, then pytest in fresh venvs on Python 3.8, 3.11 and 3.13"
TGVOIP_SHARED_DIR="$SHARED_DIR" CARGO_BUILD=0 bindings/python/run-tests.sh 2>&1 | tee target/python-output.txt

echo "== Go and Java bindings (the library rebuilt with --features jni, which the Java test needs)"
cargo build --release --lib --features jni
# The library's soname is libtgvoip.so.3; programs linked from the tree look for that name.
ln -sf libtgvoip.so target/release/libtgvoip.so.3
export GOCACHE=${GOCACHE:-$PWD/target/go-cache} GOPATH=${GOPATH:-$PWD/target/gopath} GOPROXY=off GOFLAGS=-mod=mod
unformatted=$(cd bindings/go && gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt: unformatted: $unformatted"; exit 1; fi
(cd bindings/go && go vet ./... && go test -count=1 -v ./...) 2>&1 | tee target/go-test-output.txt
bindings/java/run-tests.sh 2>&1 | tee target/java-test-output.txt

echo "== quality benchmark (quick: two profiles, a few seconds; asserts nothing about quality)"
scripts/quality-bench.sh --quick --out target/quality-bench-quick 2>&1 | tee target/quality-bench-quick.txt
echo "== summary"
grep -E '^\[[a-z0-9-]+\] ' target/test-output.txt || true
grep -E '^\[python [0-9.]+\] ' target/python-output.txt || true
# One closing line over every test binary (the last cargo line is the empty doc-test run).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /tests passed, [0-9]+ tests failed out of/ { f += $4; p += $NF - $4 }
     /^--- PASS: / { p++ } /^--- FAIL: / { f++ }
     /^java: [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
     /^\[python [0-9.]+\] / { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' \
    target/test-output.txt target/ctest-output.txt target/ctest-asan-output.txt \
    target/go-test-output.txt target/java-test-output.txt target/python-output.txt
