#!/usr/bin/env bash
# Creates (once, cached per machine) a Python venv holding ntgcalls 3.0.5 from PyPI (a prebuilt
# wheel: WebRTC m149 inside, the tgcalls 8/9/12/13 peer) and prints the venv's python path.
#
# Location: ${TGVOIP_NTGCALLS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tgvoip-rs/ntgcalls-venv-<version>},
# outside the repository so that a fresh clone reuses it. Progress goes to stderr; stdout is only the
# python path, so `PY=$(tests/tgcalls/setup.sh)` works.
set -euo pipefail

version=3.0.5
env_dir=${TGVOIP_NTGCALLS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tgvoip-rs/ntgcalls-venv-$version}
py="$env_dir/bin/python"
stamp="$env_dir/.tgvoip-ntgcalls"
check='import ntgcalls; ntgcalls.NTgCalls'

if [[ -x "$py" && -f "$stamp" && "$(cat "$stamp")" == "ntgcalls==$version" ]] &&
    "$py" -c "$check" 2>/dev/null; then
    echo "$py"
    exit 0
fi

# Any CPython 3.9..3.13 with a wheel on PyPI; prefer pyenv's 3.11.
base=""
if [[ -n "${NTGCALLS_BASE_PYTHON:-}" ]]; then
    base=$NTGCALLS_BASE_PYTHON
else
    for cand in "${PYENV_ROOT:-$HOME/.pyenv}/versions/3.11.7/bin/python" \
        "$(command -v python3.11 || true)" "$(command -v python3 || true)"; do
        if [[ -n "$cand" && -x "$cand" ]]; then base=$cand; break; fi
    done
fi
if [[ -z "$base" ]]; then
    echo "ntgcalls setup: no Python 3 found (set NTGCALLS_BASE_PYTHON)" >&2
    exit 1
fi

echo "ntgcalls setup: installing ntgcalls==$version into $env_dir" >&2
rm -rf "$env_dir"
mkdir -p "$(dirname "$env_dir")"
"$base" -m venv "$env_dir"
"$py" -m pip install --quiet --disable-pip-version-check --only-binary :all: "ntgcalls==$version" >&2
"$py" -c "$check" >&2
echo "ntgcalls==$version" >"$stamp"
echo "$py"
