#!/usr/bin/env bash
# Builds the wheel once, installs it into a fresh venv per Python (pyenv 3.8, 3.11, 3.13 by
# default; PY_VERSIONS="3.11.7" to narrow) together with pytest from PyPI, and runs
# bindings/python/tests there. Needs target/release/tgvoip-reflector (cargo build --release
# --bins) and the shared samples (TGVOIP_SHARED_DIR, default ../shared).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
versions=${PY_VERSIONS:-"3.8.18 3.11.7 3.13.0"}
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}

wheel=$(CARGO_BUILD=${CARGO_BUILD:-1} "$here/build-wheel.sh")
echo "python: wheel $wheel" >&2
export TGVOIP_ROOT="$root"
shared=${TGVOIP_SHARED_DIR:-$root/../shared}
[[ -d "$shared/samples" ]] || { echo "python: no shared dir at $shared (set TGVOIP_SHARED_DIR)" >&2; exit 1; }
export TGVOIP_SHARED_DIR=$(cd "$shared" && pwd)
# The scoring venv and the real libtgvoip peer (both cached; scripts/test.sh exports them).
export TGVOIP_PYTHON=${TGVOIP_PYTHON:-$("$root/scripts/pyenv.sh")}
export TGVOIP_INTEROP_PYTHON=${TGVOIP_INTEROP_PYTHON:-$("$root/tests/interop/setup.sh")}
status=0
for v in $versions; do
    base="$pyenv_root/versions/$v/bin/python"
    [[ -x "$base" ]] || { echo "python: no Python $v under $pyenv_root" >&2; exit 1; }
    env_dir="$root/target/pyvenvs/py$v"
    rm -rf "$env_dir"
    "$base" -m venv "$env_dir"
    "$env_dir/bin/python" -m pip install --quiet --disable-pip-version-check pytest "$wheel" >&2
    # Run from a temporary directory so that the installed wheel (not the source tree) is tested.
    work=$(mktemp -d)
    echo "== python $v: pytest" >&2
    if ! (cd "$work" && TGVOIP_LIBRARY= "$env_dir/bin/python" -m pytest -q -s -p no:cacheprovider \
            "$here/tests" 2>&1 | tee "$root/target/python-tests-$v.txt"); then
        status=1
    fi
    # pytest's own summary line, tagged with the version for the repository-wide summary.
    tail -1 "$root/target/python-tests-$v.txt" | sed "s/^/[python $v] /"
    rm -rf "$work"
done
exit $status
