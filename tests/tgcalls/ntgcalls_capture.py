#!/usr/bin/env python3
"""Runs ntgcalls 3.0.5 (PyPI) in a P2P call and records the tgcalls signaling bytes it exchanges.

Modes:
  capture OUT.json [--version 9.0.0] [--seconds 4] [--seed N]
      Two ntgcalls instances (caller and callee) in one process; every signaling byte string one
      emits is passed unchanged to the other (what phone.sendSignalingData + the update would do)
      and recorded. OUT.json gets the 256-byte key, the versions and every packet with its sender
      role, time and hex bytes. Exit 0 once both sides reported CONNECTED.
  peer --role caller|callee --key HEX [--version 9.0.0] [--seconds 10]
       [--in IN.pcm] [--out OUT.pcm] [--mute-at FROM:TO] [--partner CMD...]
      One ntgcalls instance; its signaling goes to stdout and the peer's comes from stdin, both as
      frames `u32 big-endian length || bytes`. A length of 0 on stdin ends the call. Used by
      tests/tgcalls_ntgcalls.rs to run our own signaling state machine against ntgcalls. Events
      (connection states, remote mute changes) go to stderr as JSON lines.
      --in: s16le 48 kHz mono PCM sent as the microphone (10 ms frames, from CONNECTED on);
      otherwise silence. --out: what ntgcalls plays (the speaker) is written there.
      --mute-at: ntgcalls mutes its microphone FROM:TO seconds after CONNECTED.
      --partner: everything after it is a command (our tgvoip-call) started inside the same
      namespace; the signaling then goes over two pipes to it instead of stdin/stdout: the
      partner gets `--signaling-fds R,W` appended (frames as above). The partner's stdout and
      stderr are ours; the call ends when the partner exits.
  media OUT.json --in-caller A.pcm --in-callee B.pcm --out-caller A.out.pcm --out-callee B.out.pcm
      Two ntgcalls instances in a call with speech both ways (the reference for our numbers):
      connect times, first-sample timestamps and bytes on the namespace's loopback go to OUT.json.

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
    # "--netns" goes right after the script: anything after --partner belongs to the partner.
    argv = [a for a in sys.argv if a != "--netns"]
    os.execvpe("unshare", ["unshare", "--net", "--", sys.executable, argv[0], "--netns"] + argv[1:], env)


def log(obj):
    sys.stderr.write(json.dumps(obj) + "\n")
    sys.stderr.flush()


def silence_source(ntgcalls):
    """A microphone that is fed nothing (EXTERNAL) and a speaker sink: signaling only needs tracks."""
    ext = ntgcalls.AudioDescription(ntgcalls.MediaSource.EXTERNAL, 48000, 1, "", True)
    return ntgcalls.MediaDescription(microphone=ext, speaker=None, camera=None, screen=None)


def external_io(ntgcalls):
    """Microphone fed by send_external_frame, speaker delivered through on_frames."""
    ext = ntgcalls.AudioDescription(ntgcalls.MediaSource.EXTERNAL, 48000, 1, "", True)
    return ntgcalls.MediaDescription(microphone=ext, speaker=ext, camera=None, screen=None)


def epoch_us():
    return int(time.time() * 1_000_000)


def lo_bytes():
    """Bytes sent on the namespace's interfaces (/proc/net/dev is per namespace, unlike /sys):
    in the test namespace that is all traffic between the two call sides."""
    try:
        total = 0
        with open("/proc/net/dev") as f:
            for line in f.readlines()[2:]:
                total += int(line.split(":", 1)[1].split()[8])
        return total
    except (OSError, ValueError, IndexError):
        return -1


class Recorder:
    """Collects what ntgcalls plays (PLAYBACK/SPEAKER frames), in arrival order."""

    def __init__(self):
        self.chunks = []
        self.first_us = 0

    def on_frames(self, mode, device, frames):
        if os.environ.get("TGVOIP_DEBUG_FRAMES") and len(self.chunks) < 3:
            log({"frames": str(mode), "device": str(device), "n": len(frames)})
        if "PLAYBACK" not in str(mode):
            return
        for fr in frames:
            if not self.first_us:
                self.first_us = epoch_us()
            self.chunks.append(bytes(fr.data))

    def write(self, path):
        with open(path, "wb") as f:
            for c in self.chunks:
                f.write(c)


async def feed_file(inst, ntgcalls, uid, pcm, stop, stamps):
    """Sends `pcm` as 10 ms microphone frames paced by the clock, then silence until stopped."""
    frame_bytes = 960
    t0 = time.monotonic()
    stamps["first_feed_us"] = epoch_us()
    k = 0
    while not stop.is_set():
        off = k * frame_bytes
        chunk = pcm[off:off + frame_bytes] if off < len(pcm) else b""
        if off >= len(pcm) and "input_done_us" not in stamps:
            stamps["input_done_us"] = epoch_us()
        chunk = chunk + bytes(frame_bytes - len(chunk))
        try:
            await inst.send_external_frame(uid, ntgcalls.StreamDevice.MICROPHONE, chunk, ntgcalls.FrameData())
        except Exception:  # noqa: BLE001 - not connected yet / already stopped
            pass
        k += 1
        delay = t0 + k * 0.01 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def make_instance(ntgcalls, uid, key, is_outgoing, on_signal, on_state, recorder=None, on_source=None):
    inst = ntgcalls.NTgCalls()
    loop = asyncio.get_running_loop()
    inst.on_signaling_data(lambda u, data: loop.call_soon_threadsafe(on_signal, bytes(data)))
    inst.on_connection_change(lambda u, info: loop.call_soon_threadsafe(on_state, str(info.state)))
    if recorder is not None:
        inst.on_frames(lambda u, mode, device, frames: recorder.on_frames(mode, device, frames))
    if on_source is not None:
        inst.on_remote_source_change(
            lambda u, src: loop.call_soon_threadsafe(on_source, str(src.device), str(src.state)))
    await inst.create_p2p_call(uid)
    io = external_io(ntgcalls) if recorder is not None else silence_source(ntgcalls)
    await inst.set_stream_sources(uid, ntgcalls.StreamMode.CAPTURE, io)
    await inst.set_stream_sources(uid, ntgcalls.StreamMode.PLAYBACK, io)
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
    connected = asyncio.Event()
    t0 = time.monotonic()
    stamps = {}
    partner = None
    if args.partner:
        # Our side reads the peer's frames from p_in and writes its own to p_out.
        to_partner_r, to_partner_w = os.pipe()
        from_partner_r, from_partner_w = os.pipe()
        cmd = list(args.partner) + ["--signaling-fds", f"{to_partner_r},{from_partner_w}"]
        partner = subprocess.Popen(cmd, pass_fds=(to_partner_r, from_partner_w))
        os.close(to_partner_r)
        os.close(from_partner_w)
        out = os.fdopen(to_partner_w, "wb", buffering=0)
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(from_partner_r, "rb", buffering=0))
    else:
        out = sys.stdout.buffer
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def on_signal(data):
        try:
            out.write(struct.pack(">I", len(data)) + data)
            out.flush()
        except (BrokenPipeError, ValueError):
            pass

    def on_state(state):
        log({"event": "state", "state": state, "t": round(time.monotonic() - t0, 4)})
        if "CONNECTED" in state and "DIS" not in state:
            stamps.setdefault("connected_us", epoch_us())
            connected.set()

    def on_source(device, state):
        log({"event": "remote_source", "device": device, "state": state, "t": round(time.monotonic() - t0, 4)})

    recorder = Recorder() if (args.inp or args.out_pcm) else None
    inst = await make_instance(ntgcalls, uid, key, args.role == "caller", on_signal, on_state, recorder, on_source)
    stamps["start_us"] = epoch_us()
    lo0 = lo_bytes()
    await inst.connect_p2p(uid, [], [args.version], True, None)
    log({"event": "started"})
    stop = asyncio.Event()
    feeder = None
    if recorder is not None:
        pcm = open(args.inp, "rb").read() if args.inp else b""

        async def feed_when_connected():
            await connected.wait()
            await feed_file(inst, ntgcalls, uid, pcm, stop, stamps)

        feeder = asyncio.ensure_future(feed_when_connected())

    async def mute_later(at, until):
        await connected.wait()
        await asyncio.sleep(at)
        await inst.mute(uid)
        log({"event": "muted", "t": round(time.monotonic() - t0, 4)})
        await asyncio.sleep(until - at)
        await inst.unmute(uid)
        log({"event": "unmuted", "t": round(time.monotonic() - t0, 4)})

    if args.mute_at:
        a, b = (float(x) for x in args.mute_at.split(":"))
        asyncio.ensure_future(mute_later(a, b))

    async def pump():
        while True:
            head = await reader.readexactly(4)
            (n,) = struct.unpack(">I", head)
            if n == 0:
                return
            data = await reader.readexactly(n)
            await inst.send_signaling_data(uid, data)

    async def partner_exit():
        while partner.poll() is None:
            await asyncio.sleep(0.05)

    try:
        if partner is not None:
            pump_task = asyncio.ensure_future(pump())
            await asyncio.wait_for(partner_exit(), args.seconds)
            pump_task.cancel()
        else:
            await asyncio.wait_for(pump(), args.seconds)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.CancelledError):
        pass
    stop.set()
    if feeder is not None:
        feeder.cancel()
    stamps["lo_bytes"] = lo_bytes() - lo0 if lo0 >= 0 else -1
    stamps["end_us"] = epoch_us()
    try:
        await inst.stop(uid)
    except Exception:  # noqa: BLE001
        pass
    if partner is not None and partner.poll() is None:
        partner.kill()
        partner.wait()
    if recorder is not None and args.out_pcm:
        recorder.write(args.out_pcm)
        stamps["first_out_us"] = recorder.first_us
    log({"event": "done", "stamps": stamps, "connected": connected.is_set(),
         "partner_exit": None if partner is None else partner.returncode})
    return 0 if partner is None or partner.returncode == 0 else 4


async def media(args):
    """Two ntgcalls instances with speech both ways; numbers for comparison."""
    import ntgcalls

    rng = random.Random(args.seed)
    key = bytes(rng.getrandbits(8) for _ in range(256))
    uid = 42
    t0 = time.monotonic()
    insts = {}
    pending = {"caller": [], "callee": []}
    connected = {"caller": asyncio.Event(), "callee": asyncio.Event()}
    stamps = {"caller": {}, "callee": {}}
    recorders = {"caller": Recorder(), "callee": Recorder()}

    def on_signal(role):
        other = "callee" if role == "caller" else "caller"

        def cb(data):
            if other in insts:
                asyncio.ensure_future(insts[other].send_signaling_data(uid, data))
            else:
                pending[other].append(data)

        return cb

    def on_state(role):
        def cb(state):
            if "CONNECTED" in state and "DIS" not in state:
                stamps[role].setdefault("connected_s", round(time.monotonic() - t0, 4))
                connected[role].set()

        return cb

    tmp = {}
    for role, outgoing in (("caller", True), ("callee", False)):
        tmp[role] = await make_instance(ntgcalls, uid, key, outgoing, on_signal(role), on_state(role), recorders[role])
    insts.update(tmp)
    for role in ("caller", "callee"):
        for data in pending[role]:
            await insts[role].send_signaling_data(uid, data)
    lo0 = lo_bytes()
    t_start = time.monotonic()
    for role in ("caller", "callee"):
        await insts[role].connect_p2p(uid, [], [args.version], True, None)
    try:
        await asyncio.wait_for(asyncio.gather(connected["caller"].wait(), connected["callee"].wait()), args.timeout)
    except asyncio.TimeoutError:
        log({"event": "done", "connected": False})
        return 3
    stop = asyncio.Event()
    pcms = {"caller": open(args.in_caller, "rb").read(), "callee": open(args.in_callee, "rb").read()}
    feeders = [asyncio.ensure_future(feed_file(insts[r], ntgcalls, uid, pcms[r], stop, stamps[r])) for r in insts]
    secs = max(len(p) for p in pcms.values()) / 96000.0 + args.seconds
    await asyncio.sleep(secs)
    stop.set()
    for f in feeders:
        await f
    wall = time.monotonic() - t_start
    lo = lo_bytes() - lo0
    for inst in insts.values():
        try:
            await inst.stop(uid)
        except Exception:  # noqa: BLE001
            pass
    recorders["caller"].write(args.out_caller)
    recorders["callee"].write(args.out_callee)
    for r in ("caller", "callee"):
        stamps[r]["first_out_us"] = recorders[r].first_us
    result = {"connected": True, "stamps": stamps, "lo_bytes": lo, "wall_s": round(wall, 3)}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    log({"event": "done", **result})
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["capture", "peer", "media"])
    ap.add_argument("out", nargs="?")
    ap.add_argument("--version", default="9.0.0")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--timeout", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--role", choices=["caller", "callee"])
    ap.add_argument("--key")
    ap.add_argument("--netns", action="store_true")
    ap.add_argument("--in", dest="inp")
    ap.add_argument("--mute-at", help="peer mode: mute ntgcalls FROM:TO seconds after CONNECTED")
    ap.add_argument("--out", dest="out_pcm")
    ap.add_argument("--in-caller")
    ap.add_argument("--in-callee")
    ap.add_argument("--out-caller")
    ap.add_argument("--out-callee")
    ap.add_argument("--partner", nargs=argparse.REMAINDER)
    args = ap.parse_args()

    if args.netns:
        enter_netns()
    if args.mode == "media":
        if not (args.out and args.in_caller and args.in_callee and args.out_caller and args.out_callee):
            ap.error("media needs OUT.json, --in-caller/--in-callee and --out-caller/--out-callee")
        return asyncio.run(media(args))
    if args.mode == "capture":
        if not args.out:
            ap.error("capture needs OUT.json")
        return asyncio.run(capture(args))
    if not args.role or not args.key:
        ap.error("peer needs --role and --key")
    return asyncio.run(peer(args))


if __name__ == "__main__":
    sys.exit(main())
