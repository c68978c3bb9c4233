#!/usr/bin/env bash
# Creates (once, cached) the Python venv used by tests/quality/ and prints its python path.
# Location: ${TGVOIP_PYENV:-target/pyenv} (relative to the repository root). Progress goes to
# stderr; stdout is only the python path, so `PY=$(scripts/pyenv.sh)` works.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
env_dir=${TGVOIP_PYENV:-$root/target/pyenv}
# pesq builds a C extension from its sdist; pip's build isolation brings Cython and numpy for it.
requirements="numpy==2.4.6 scipy==1.17.1 pesq==0.0.4"
stamp="$env_dir/.tgvoip-requirements"
py="$env_dir/bin/python"

if [[ -x "$py" && -f "$stamp" && "$(cat "$stamp")" == "$requirements" ]] &&
    "$py" -c 'import numpy, scipy, pesq' 2>/dev/null; then
    echo "$py"
    exit 0
fi

base=""
for candidate in "${PYTHON:-}" python3.11 python3; do
    if [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null 2>&1; then
        base=$candidate
        break
    fi
done
if [[ -z "$base" ]]; then
    echo "pyenv.sh: no python3 found" >&2
    exit 1
fi

echo "pyenv.sh: creating $env_dir with $base" >&2
"$base" -m venv "$env_dir"
"$py" -m pip install --quiet --disable-pip-version-check $requirements >&2
"$py" -c 'import numpy, scipy, pesq' >&2
echo "$requirements" >"$stamp"
echo "$py"
