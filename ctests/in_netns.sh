#!/bin/sh
# Runs a command in a fresh network namespace that disappears with it (tests send traffic only
# inside it). Usage: in_netns.sh empty|dummy COMMAND...
#   empty: only `lo` (up); dummy: `lo` plus an interface with 10.77.0.1/24 (a dummy interface,
#   or a veth pair with both ends inside when the kernel has no dummy module).
# Exits 77 (skipped) when network namespaces cannot be created here, except under CI, where
# that is a failure (CI runs as root).
set -e
mode=$1
shift
if [ "${TGVOIP_IN_NETNS:-}" != 1 ]; then
    if ! unshare --net true 2>/dev/null; then
        echo "cannot create a network namespace (needs root or user namespaces)"
        if [ -n "${CI:-}" ]; then exit 1; fi
        echo "skipped"
        exit 77
    fi
    TGVOIP_IN_NETNS=1 exec unshare --net -- "$0" "$mode" "$@"
fi
ip link set lo up
if [ "$mode" = dummy ]; then
    if ! ip link add tg0 type dummy 2>/dev/null; then
        ip link add tg0 type veth peer name tg1
        ip link set tg1 up
    fi
    ip addr add 10.77.0.1/24 dev tg0
    ip link set tg0 up
fi
exec "$@"
