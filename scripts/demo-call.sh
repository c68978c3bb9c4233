#!/usr/bin/env bash
# Builds the library and makes one local call: two tgvoip-call peers talk through the local relay
# (tgvoip-reflector) with real speech, then each recording is scored against what the other sent.
# Usage: scripts/demo-call.sh [PROFILE]   (wifi, 3g1, 3g2, ..., see tgvoip-reflector --list-profiles)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
profile=${1:-wifi}
shared=${TGVOIP_SHARED_DIR:-../shared}
caller_in=$shared/samples/sample05_14ae7b1886265e54e7f2c83d67eb802e.pcm
callee_in=$shared/samples/sample05_44823b5704b026f2930ad862576bef3c.pcm

cargo build --release --bins
bin=target/release
out=target/demo-call
mkdir -p "$out"
key=$(head -c 256 /dev/urandom | od -An -tx1 -v | tr -d ' \n')

"$bin/tgvoip-reflector" --listen 127.0.0.1:0 --profile "$profile" --seed 1 >"$out/reflector.txt" &
relay_pid=$!
trap 'kill $relay_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    grep -q '^listening on' "$out/reflector.txt" 2>/dev/null && break
    sleep 0.1
done
addr=$(sed -n 's/^listening on //p' "$out/reflector.txt")
echo "relay on $addr (profile $profile)"

caller_rc=0
callee_rc=0
"$bin/tgvoip-call" "$addr" 00112233445566778899aabbccddee00 -k "$key" -r caller \
    -i "$caller_in" -o "$out/caller_heard.pcm" -p "$out/caller_pre.pcm" >"$out/caller.txt" 2>"$out/caller.log" &
caller_pid=$!
"$bin/tgvoip-call" "$addr" 00112233445566778899aabbccddee01 -k "$key" -r callee \
    -i "$callee_in" -o "$out/callee_heard.pcm" -p "$out/callee_pre.pcm" >"$out/callee.txt" 2>"$out/callee.log" ||
    callee_rc=$?
wait $caller_pid || caller_rc=$?
kill -TERM $relay_pid; wait $relay_pid || true
trap - EXIT

echo "--- caller (exit $caller_rc)"; cat "$out/caller.log" "$out/caller.txt"
echo "--- callee (exit $callee_rc)"; cat "$out/callee.log" "$out/callee.txt"
echo "--- relay"; tail -n 1 "$out/reflector.txt"
if py=$(scripts/pyenv.sh 2>/dev/null); then
    echo "--- callee heard the caller:"; "$py" tests/quality/score.py --ref "$caller_in" --deg "$out/callee_heard.pcm" --json
    echo "--- caller heard the callee:"; "$py" tests/quality/score.py --ref "$callee_in" --deg "$out/caller_heard.pcm" --json
fi
echo "recordings (s16le 48 kHz mono) in $out/"
[ "$caller_rc" = 0 ] && [ "$callee_rc" = 0 ]
