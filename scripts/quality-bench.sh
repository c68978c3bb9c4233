#!/usr/bin/env bash
# Call-quality benchmark (tools/quality_bench.py): calls through tgvoip-reflector on all 12
# network profiles, PESQ-WB, mouth-to-ear delay, wire bitrate and relay queue drops per profile
# and direction; prints a table and writes target/quality-bench/quality-bench.json.
#
#   scripts/quality-bench.sh [--quick] [--profiles wifi,3g2] [--seeds N] [--peer-cmd "CMD"] ...
#
# The libtgvoip 2.4.4 pairings (rs-lib, lib-lib) run when a peer command is given (--peer-cmd or
# TGVOIP_PEER_CMD), or automatically when tests/interop/peer.py and its setup.sh exist.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release --bins >&2
PY=${TGVOIP_PYTHON:-$(scripts/pyenv.sh)}
if [[ -z "${TGVOIP_PEER_CMD:-}" && -f tests/interop/peer.py && -x tests/interop/setup.sh ]] &&
    [[ " $* " != *" --peer-cmd "* && " $* " != *" --pairings "* ]]; then
    if peer_py=$(tests/interop/setup.sh 2>/dev/null | tail -n 1) && [[ -x "$peer_py" ]]; then
        export TGVOIP_PEER_CMD="$peer_py tests/interop/peer.py"
    fi
fi
exec "$PY" tools/quality_bench.py "$@"
