#!/usr/bin/env bash
# Builds the Python wheel (distribution tgvoip-rs, package tgvoip) into target/wheels/ and
# prints its path:  bindings/python/build-wheel.sh
# Steps: cargo build --release --lib; copy libtgvoip.so and the libopus.so.0 it links into the
# package; pip wheel (setuptools from PyPI). The wheel is py3-none-<platform>: ctypes, no
# extension module, so one wheel installs on every Python >= 3.8 without a compiler.
# Env: PYTHON (default python3), CARGO_BUILD=0 to reuse target/release/libtgvoip.so as is.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-python3}
out="$root/target/wheels"

if [[ "${CARGO_BUILD:-1}" != 0 ]]; then
    (cd "$root" && cargo build --release --lib >&2)
fi
so="$root/target/release/libtgvoip.so"
[[ -f "$so" ]] || { echo "build-wheel: $so missing" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -r "$here/tgvoip" "$here/_tgvoip.py" "$here/setup.py" "$here/pyproject.toml" "$stage/"
cp "$here/README.md" "$stage/README.md"
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
cp "$so" "$stage/tgvoip/libtgvoip.so"
# Debug info is most of the size; the wheel ships without it.
if command -v strip >/dev/null 2>&1; then strip --strip-debug "$stage/tgvoip/libtgvoip.so"; fi
# Bundle libopus (the library's only non-libc dependency) so the wheel needs no apt package.
opus=$(ldd "$so" | awk '/libopus\.so/ { print $3 }')
if [[ -n "$opus" && -f "$opus" ]]; then
    cp -L "$opus" "$stage/tgvoip/$(basename "$opus")"
fi
# setup.py reads the version from Cargo.toml two levels up.
mkdir -p "$stage/x/y" && mv "$stage"/{tgvoip,_tgvoip.py,setup.py,pyproject.toml,README.md} "$stage/x/y/"
cp "$root/Cargo.toml" "$stage/"
mkdir -p "$out"
"$py" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$out" "$stage/x/y" >&2
ls -t "$out"/tgvoip_rs-*.whl | head -1
