#!/usr/bin/env python3
"""Runs ntgcalls 3.0.5 (PyPI) in a P2P call and records the tgcalls signaling bytes it exchanges.

Modes:
  capture OUT.json [--version 9.0.0] [--seconds 4] [--seed N]
      Two ntgcalls instances (caller and callee) in one process; every signaling byte string one
      emits is passed unchanged to the other (what phone.sendSignalingData + the update would do)
      and recorded. OUT.json gets the 256-byte key, the versions and every packet with its sender
      role, time and hex bytes. Exit 0 once both sides reported CONNECTED.
  peer --role caller|callee --key HEX [--version 9.0.0] [--seconds 10]
      One ntgcalls instance; its signaling goes to stdout and the peer's comes from stdin, both as
      frames `u32 big-endian length || bytes`. A length of 0 on stdin ends the call. Used by
      tests/tgcalls_live.rs to run our own signaling state machine against ntgcalls. Events
      (connection states) go to stderr as JSON lines.

ntgcalls ignores loopback interfaces, so the caller must run this inside a network namespace with a
non-loopback interface; `--netns` makes the script do that itself: it re-executes itself under
`unshare --net` (a fresh, empty namespace that disappears with the process), brings `lo` up and adds
a dummy interface (or, without the dummy module, a veth pair with both ends inside) with 192.0.2.1/24 and fd00::1/64 (documentation / ULA addresses: no traffic can
leave the namespace). Needs root (or user namespaces with CAP_NET_ADMIN inside).
"""

import argparse
import asyncio
import json
import os
import random
import struct
import subprocess
import sys
import time

NETNS_MARK = "TGVOIP_TGCALLS_IN_NETNS"


def enter_netns():
    """Re-executes this script inside a new network namespace with a dummy interface."""
    if os.environ.get(NETNS_MARK) == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        # A dummy interface if the kernel has the module, else a veth pair with both ends here.
        made = subprocess.run(["ip", "link", "add", "tg0", "type", "dummy"], stderr=subprocess.DEVNULL)
        if made.returncode != 0:
            subprocess.run(["ip", "link", "add", "tg0", "type", "veth", "peer", "name", "tg1"], check=True)
            subprocess.run(["ip", "link", "set", "tg1", "up"], check=True)
        for cmd in (
            ["ip", "addr", "add", "192.0.2.1/24", "dev", "tg0"],
            ["ip", "-6", "addr", "add", "fd00::1/64", "dev", "tg0", "nodad"],
            ["ip", "link", "set", "tg0", "up"],
        ):
            subprocess.run(cmd, check=True)
        return
    env = dict(os.environ)
    env[NETNS_MARK] = "1"
    argv = [a for a in sys.argv if a != "--netns"]
    os.execvpe("unshare", ["unshare", "--net", "--", sys.executable] + argv + ["--netns"], env)


def log(obj):
    sys.stderr.write(json.dumps(obj) + "\n")
    sys.stderr.flush()


def silence_source(ntgcalls):
    """A microphone that is fed nothing (EXTERNAL) and a speaker sink: signaling only needs tracks."""
    ext = ntgcalls.AudioDescription(ntgcalls.MediaSource.EXTERNAL, 48000, 1, "", True)
    return ntgcalls.MediaDescription(microphone=ext, speaker=None, camera=None, screen=None)


async def make_instance(ntgcalls, uid, key, is_outgoing, on_signal, on_state):
    inst = ntgcalls.NTgCalls()
    loop = asyncio.get_running_loop()
    inst.on_signaling_data(lambda u, data: loop.call_soon_threadsafe(on_signal, bytes(data)))
    inst.on_connection_change(lambda u, info: loop.call_soon_threadsafe(on_state, str(info.state)))
    await inst.create_p2p_call(uid)
    await inst.set_stream_sources(uid, ntgcalls.StreamMode.CAPTURE, silence_source(ntgcalls))
    await inst.set_stream_sources(uid, ntgcalls.StreamMode.PLAYBACK, silence_source(ntgcalls))
    await inst.skip_exchange(uid, key, is_outgoing)
    return inst


async def feed_silence(inst, ntgcalls, uid, stop):
    """10 ms frames of silence, so the outgoing audio track is live (as a real microphone)."""
    frame = bytes(960)
    while not stop.is_set():
        try:
            await inst.send_external_frame(uid, ntgcalls.StreamDevice.MICROPHONE, frame, ntgcalls.FrameData())
        except Exception:  # noqa: BLE001 - not connected yet / already stopped
            pass
        await asyncio.sleep(0.01)


async def capture(args):
    import ntgcalls

    rng = random.Random(args.seed)
    key = bytes(rng.getrandbits(8) for _ in range(256))
    t0 = time.monotonic()
    packets = []
    states = {"caller": [], "callee": []}
    insts = {}
    connected = {"caller": asyncio.Event(), "callee": asyncio.Event()}
    uid = 42

    def on_signal(role):
        other = "callee" if role == "caller" else "caller"

        def cb(data):
            packets.append({"from": role, "t": round(time.monotonic() - t0, 4), "hex": data.hex()})
            if other in insts:
                asyncio.ensure_future(insts[other].send_signaling_data(uid, data))
            else:
                pending[other].append(data)

        return cb

    def on_state(role):
        def cb(state):
            states[role].append({"t": round(time.monotonic() - t0, 4), "state": state})
            if "CONNECTED" in state and "DIS" not in state:
                connected[role].set()

        return cb

    pending = {"caller": [], "callee": []}
    # Both instances exist before either connects: signaling is never dropped on the floor.
    insts_tmp = {}
    for role, outgoing in (("caller", True), ("callee", False)):
        insts_tmp[role] = await make_instance(ntgcalls, uid, key, outgoing, on_signal(role), on_state(role))
    insts.update(insts_tmp)
    for role in ("caller", "callee"):
        for data in pending[role]:
            await insts[role].send_signaling_data(uid, data)
    stop = asyncio.Event()
    feeders = [asyncio.ensure_future(feed_silence(insts[r], ntgcalls, uid, stop)) for r in insts]
    for role in ("caller", "callee"):
        await insts[role].connect_p2p(uid, [], [args.version], True, None)
    ok = True
    try:
        await asyncio.wait_for(asyncio.gather(connected["caller"].wait(), connected["callee"].wait()), args.timeout)
    except asyncio.TimeoutError:
        ok = False
    # Let acks and late candidates settle so the record has complete exchanges.
    await asyncio.sleep(args.seconds)
    stop.set()
    for f in feeders:
        await f
    for inst in insts.values():
        try:
            await inst.stop(uid)
        except Exception:  # noqa: BLE001
            pass
    out = {
        "tool": "tests/tgcalls/ntgcalls_capture.py",
        "ntgcalls": getattr(ntgcalls, "__version__", "3.0.5"),
        "version": args.version,
        "seed": args.seed,
        "key": key.hex(),
        "connected": ok,
        "states": states,
        "packets": packets,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    log({"event": "done", "connected": ok, "packets": len(packets)})
    return 0 if ok else 3


async def peer(args):
    import ntgcalls

    key = bytes.fromhex(args.key)
    uid = 7
    loop = asyncio.get_running_loop()
    out = sys.stdout.buffer
    connected = asyncio.Event()

    def on_signal(data):
        out.write(struct.pack(">I", len(data)) + data)
        out.flush()

    def on_state(state):
        log({"event": "state", "state": state})
        if "CONNECTED" in state and "DIS" not in state:
            connected.set()

    inst = await make_instance(ntgcalls, uid, key, args.role == "caller", on_signal, on_state)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await inst.connect_p2p(uid, [], [args.version], True, None)
    log({"event": "started"})

    async def pump():
        while True:
            head = await reader.readexactly(4)
            (n,) = struct.unpack(">I", head)
            if n == 0:
                return
            data = await reader.readexactly(n)
            await inst.send_signaling_data(uid, data)

    try:
        await asyncio.wait_for(pump(), args.seconds)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError):
        pass
    try:
        await inst.stop(uid)
    except Exception:  # noqa: BLE001
        pass
    log({"event": "done"})
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["capture", "peer"])
    ap.add_argument("out", nargs="?")
    ap.add_argument("--version", default="9.0.0")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--timeout", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--role", choices=["caller", "callee"])
    ap.add_argument("--key")
    ap.add_argument("--netns", action="store_true")
    args = ap.parse_args()
    if args.netns:
        enter_netns()
    if args.mode == "capture":
        if not args.out:
            ap.error("capture needs OUT.json")
        return asyncio.run(capture(args))
    if not args.role or not args.key:
        ap.error("peer needs --role and --key")
    return asyncio.run(peer(args))


if __name__ == "__main__":
    sys.exit(main())
