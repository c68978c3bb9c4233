#!/usr/bin/env bash
# One call: tgvoip-call (caller) against PROGRAM (callee) through the relay at RELAY.
# Usage: call_pair.sh RELAY TGVOIP_CALL PROGRAM CALLER_IN CALLEE_IN WORKDIR NAME
set -euo pipefail
relay=$1 tgcall=$2 prog=$3 caller_in=$4 callee_in=$5 work=$6 name=$7
mkdir -p "$work"
key=$(python3 -c 'print("".join("%02x" % ((i*37+11)%256) for i in range(256)))')
"$tgcall" "$relay" 0123456789abcdef0123456789abcd00 -k "$key" -i "$caller_in" -o "$work/$name.caller_heard.pcm" -r caller \
    --init-timeout 15 > "$work/$name.tgvoip-call.log" 2>&1 &
pid=$!
set +e
"$prog" "$relay" 0123456789abcdef0123456789abcd01 -k "$key" -i "$callee_in" -o "$work/$name.callee_heard.pcm" -r callee \
    > "$work/$name.program.log" 2>&1
prog_rc=$?
wait $pid
call_rc=$?
set -e
tail -n 2 "$work/$name.program.log"
echo "program exit $prog_rc, tgvoip-call exit $call_rc"
[ "$prog_rc" = 0 ] && [ "$call_rc" = 0 ]
