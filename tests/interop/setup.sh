#!/usr/bin/env bash
# Creates (once, cached per machine) the Python 3.10 venv holding pytgvoip 0.0.7.1, i.e. the real
# libtgvoip 2.4.4 built from source with callback audio I/O, and prints the venv's python path.
#
# Needs: Python 3.10 (pyenv 3.10.13, or python3.10 on PATH), and from apt
# `cmake g++ libopus-dev libssl-dev` (pytgvoip's setup.py links -lssl -lopus and drives CMake).
# Location: ${TGVOIP_INTEROP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tgvoip-rs/interop-venv-<version>},
# outside the repository so that a fresh clone reuses the (multi-minute) build. Progress goes to
# stderr; stdout is only the python path, so `PY=$(tests/interop/setup.sh)` works.
set -euo pipefail

version=0.0.7.1
env_dir=${TGVOIP_INTEROP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tgvoip-rs/interop-venv-$version}
py="$env_dir/bin/python"
stamp="$env_dir/.tgvoip-interop"
check='import _tgvoip, tgvoip, sys; assert _tgvoip.VoIPController.LIBTGVOIP_VERSION == "2.4.4"; assert tgvoip.__version__ == sys.argv[1]'

if [[ -x "$py" && -f "$stamp" && "$(cat "$stamp")" == "pytgvoip==$version" ]] &&
    "$py" -c "$check" "$version" 2>/dev/null; then
    echo "$py"
    exit 0
fi

# A Python 3.10: pytgvoip 0.0.7.1 (pybind11 2.4 era) does not build for 3.11+.
base=""
if [[ -n "${INTEROP_BASE_PYTHON:-}" ]]; then
    base=$INTEROP_BASE_PYTHON
elif command -v pyenv >/dev/null 2>&1 && [[ -x "$(pyenv root)/versions/3.10.13/bin/python" ]]; then
    base="$(pyenv root)/versions/3.10.13/bin/python"
elif [[ -x "${PYENV_ROOT:-$HOME/.pyenv}/versions/3.10.13/bin/python" ]]; then
    base="${PYENV_ROOT:-$HOME/.pyenv}/versions/3.10.13/bin/python"
elif command -v python3.10 >/dev/null 2>&1; then
    base=$(command -v python3.10)
fi
if [[ -z "$base" ]] || ! "$base" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    echo "interop setup: no Python 3.10 found (install pyenv 3.10.13 or set INTEROP_BASE_PYTHON)" >&2
    exit 1
fi
for tool in cmake g++; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "interop setup: $tool missing (apt-get install cmake g++ libopus-dev libssl-dev)" >&2
        exit 1
    fi
done

echo "interop setup: building pytgvoip==$version (libtgvoip 2.4.4) into $env_dir; takes minutes" >&2
rm -rf "$env_dir"
mkdir -p "$(dirname "$env_dir")"
"$base" -m venv "$env_dir"
# Always from the sdist: the point is libtgvoip 2.4.4 as built from its own sources here.
"$py" -m pip install --quiet --disable-pip-version-check --no-binary pytgvoip \
    "pytgvoip==$version" >&2
"$py" -c "$check" "$version" >&2
echo "pytgvoip==$version" >"$stamp"
echo "$py"
