#!/usr/bin/env bash
# Runs a command with a local tgvoip-reflector: every @RELAY@ argument becomes its address.
# Usage: with_reflector.sh REFLECTOR_BIN CMD ARGS...
set -euo pipefail
reflector="$1"; shift
fifo=$(mktemp -u); mkfifo "$fifo"
"$reflector" --listen 127.0.0.1:0 >"$fifo" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$fifo"' EXIT
exec 3<"$fifo"
read -r line <&3
addr=${line#listening on }
args=()
for a in "$@"; do args+=("${a//@RELAY@/$addr}"); done
"${args[@]}"
