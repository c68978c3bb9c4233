#!/usr/bin/env python3
"""One side of a call made by the real libtgvoip 2.4.4 (through pytgvoip 0.0.7.1's VoIPController),
with the arguments and output of `tgvoip-call`, so the Rust test helpers drive and parse both alike.

    peer.py HOST:PORT TAGHEX -k KEYHEX -i IN.pcm -o OUT.pcm [-p PRE.pcm] [-c SERVER_CONFIG.json]
            [-r caller|callee] [-t NETTYPE 0..11] [-s never|mobile|always] [-n yes|no] [-g yes|no]
            [--drain SECS] [--init-timeout SECS] [--mute-at SECS:SECS]

IN.pcm (s16le, 48 kHz, mono) is fed through the 1920-byte send-frame callback from the moment the
call is ESTABLISHED; every 1920-byte frame the receive-frame callback delivers goes to OUT.pcm. The
program stops DRAIN (3) s after IN ends, prints the debug log JSON (plus bytes_sent / bytes_recvd)
and `TIMESTAMPS: init,first_read,last_read,first_write,last_write` (µs since the epoch) on stdout,
and `tgvoip-call: <secs> state <NAME>` lines on stderr. Exit status 0 only if non-silent audio was
received; 2 on bad arguments.

-p: pytgvoip exposes no preprocessed-audio callback (its native layer installs a no-op), so PRE.pcm
is written empty. --mute-at calls set_mic_mute, which 2.4.4 ignores in callback-audio builds.
"""

import json
import os
import resource
import sys
import threading
import time

FRAME_BYTES = 1920  # 960 samples, 20 ms at 48 kHz
STATE_NAMES = {1: "WAIT_INIT", 2: "WAIT_INIT_ACK", 3: "ESTABLISHED", 4: "FAILED", 5: "RECONNECTING"}


def epoch_us():
    return time.time_ns() // 1000


def usage(msg):
    sys.stderr.write("tgvoip-call: %s\n\n%s" % (msg, __doc__))
    sys.exit(2)


def secs(v):
    try:
        s = float(v)
    except ValueError:
        usage("bad number of seconds %r" % v)
    if not s >= 0:
        usage("bad number of seconds %r" % v)
    return s


def parse_args(argv):
    positional, opts = [], []
    it = iter(argv)
    for a in it:
        if a.startswith("-") and len(a) > 1:
            v = next(it, None)
            if v is None:
                usage("%s needs a value" % a)
            opts.append((a, v))
        else:
            positional.append(a)
    if len(positional) != 2:
        usage("expected HOST:PORT and TAGHEX")
    host, _, port = positional[0].rpartition(":")
    if not host or not port.isdigit():
        usage("bad relay address %r" % positional[0])
    try:
        tag = bytes.fromhex(positional[1])
    except ValueError:
        tag = b""
    if len(tag) != 16:
        usage("TAGHEX must be 32 hex digits")
    args = dict(host=host.strip("[]"), port=int(port), tag=tag, key=b"", input=None, output=None,
                pre=None, config=None, caller=True, net=6, saving=0, drain=3.0, init_timeout=10.0,
                mute=None, relays=[], p2p=False)
    for k, v in opts:
        if k == "-k":
            try:
                args["key"] = bytes.fromhex(v)
            except ValueError:
                usage("KEYHEX is not hex")
        elif k == "-i":
            args["input"] = v
        elif k == "-o":
            args["output"] = v
        elif k == "-p":
            args["pre"] = v
        elif k == "-c":
            args["config"] = v
        elif k == "-r":
            if v not in ("caller", "callee"):
                usage("-r takes caller or callee, not %r" % v)
            args["caller"] = v == "caller"
        elif k == "-t":
            if not v.isdigit() or int(v) > 11:
                usage("-t takes a network type 0..11, not %r" % v)
            args["net"] = int(v)
        elif k == "-s":
            modes = {"never": 0, "mobile": 1, "always": 2}
            if v not in modes:
                usage("-s takes never, mobile or always, not %r" % v)
            args["saving"] = modes[v]
        elif k in ("-n", "-g"):
            if v not in ("yes", "no"):
                usage("expected yes or no, got %r" % v)
        elif k == "--drain":
            args["drain"] = secs(v)
        elif k == "--init-timeout":
            args["init_timeout"] = secs(v)
        elif k == "--mute-at":
            a, sep, b = v.partition(":")
            if not sep:
                usage("--mute-at takes FROM:TO seconds")
            args["mute"] = (secs(a), secs(b))
        elif k == "--relay":
            h, _, p = v.rpartition(":")
            if not h or not p.isdigit():
                usage("bad relay address %r" % v)
            args["relays"].append((h.strip("[]"), int(p)))
        elif k == "--p2p":
            if v not in ("yes", "no"):
                usage("expected yes or no, got %r" % v)
            args["p2p"] = v == "yes"
        elif k == "--bind":
            pass  # libtgvoip always binds the wildcard address
        else:
            usage("unknown option %s" % k)
    if len(args["key"]) != 256:
        usage("-k must be a 256-byte key (512 hex digits), got %d bytes" % len(args["key"]))
    if not args["input"] or not args["output"]:
        usage("-i and -o are required")
    return args


class Peer:
    """Feeds IN through the send callback and collects the receive callback's frames."""

    def __init__(self, pcm):
        self.pcm = pcm
        self.pos = 0
        self.sending = False
        self.input_done = False
        self.heard = []
        self.first_read = self.last_read = 0
        self.first_write = self.last_write = 0
        self.nonsilent = False

    def send_frame(self, length):
        if not self.sending or self.pos >= len(self.pcm):
            return b""
        chunk = self.pcm[self.pos:self.pos + length]
        self.pos += len(chunk)
        now = epoch_us()
        self.first_read = self.first_read or now
        self.last_read = now
        if self.pos >= len(self.pcm):
            self.input_done = True
        return chunk

    def recv_frame(self, frame):
        self.heard.append(frame)
        now = epoch_us()
        self.first_write = self.first_write or now
        self.last_write = now
        if not self.nonsilent and frame.count(0) != len(frame):
            self.nonsilent = True


def main():
    args = parse_args(sys.argv[1:])
    init_us = epoch_us()
    # libtgvoip logs to stdout: keep stdout for the results and send everything else to stderr.
    results = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    t0 = time.monotonic()
    import _tgvoip
    import tgvoip

    if args["config"]:
        with open(args["config"], encoding="utf-8") as f:
            tgvoip.VoIPServerConfig.set_config(f.read())
    with open(args["input"], "rb") as f:
        pcm = f.read()
    pcm = pcm[: len(pcm) // 2 * 2]
    peer = Peer(pcm)
    established = threading.Event()
    failed = threading.Event()

    def on_state(state):
        name = STATE_NAMES.get(int(state.value), str(state))
        sys.stderr.write("tgvoip-call: %.3f state %s\n" % (time.monotonic() - t0, name))
        sys.stderr.flush()
        if name == "ESTABLISHED":
            peer.sending = True
            established.set()
        elif name == "FAILED":
            failed.set()

    ctl = tgvoip.VoIPController()
    ctl.call_state_changed_handlers.append(on_state)
    ctl.set_send_audio_frame_callback(peer.send_frame)
    ctl.set_recv_audio_frame_callback(peer.recv_frame)
    # Quirk (api.md 5.1): the native set_config takes (init, recv) while the Python layer names its
    # first two parameters (recv, init): positional values land as initTimeout, recvTimeout.
    ctl.set_config(args["init_timeout"], 10.0, tgvoip.DataSaving(_tgvoip.DataSaving(args["saving"])), 0,
                   False, False, False, "", "", False)
    ctl.set_network_type(tgvoip.NetType(_tgvoip.NetType(args["net"])))
    ctl.set_encryption_key(args["key"], args["caller"])
    # Every endpoint given to pytgvoip becomes a UDP relay (tcp=False); peer_tag must be 16 bytes.
    # --relay adds relays with ids 2, 3, ... (same tag), as tgvoip-call does.
    relays = [(args["host"], args["port"])] + args["relays"]
    endpoints = [_tgvoip.Endpoint(i + 1, h, "", p, args["tag"]) for i, (h, p) in enumerate(relays)]
    ctl.set_remote_endpoints(endpoints, args["p2p"], False, tgvoip.VoIPController.CONNECTION_MAX_LAYER)
    ctl.start()
    ctl.connect()

    muted = False
    established_at = None
    done_at = None
    while True:
        time.sleep(0.02)
        if failed.is_set():
            sys.stderr.write("tgvoip-call: call failed: %s\n" % ctl.get_last_error())
            break
        if established.is_set() and established_at is None:
            established_at = time.monotonic()
        if args["mute"] and established_at is not None:
            since = time.monotonic() - established_at
            want = args["mute"][0] <= since < args["mute"][1]
            if want != muted:
                muted = want
                ctl.set_mic_mute(muted)
                sys.stderr.write("tgvoip-call: %.3f mic %s\n"
                                 % (time.monotonic() - t0, "muted" if muted else "unmuted"))
        if peer.input_done and done_at is None:
            done_at = time.monotonic()
        if done_at is not None and time.monotonic() - done_at >= args["drain"]:
            break
        if established_at is None and time.monotonic() - t0 > args["init_timeout"] + 1:
            sys.stderr.write("tgvoip-call: not established within the init timeout\n")
            break

    log = json.loads(ctl.get_debug_log())
    stats = ctl.get_stats()
    log["bytes_sent"] = stats.bytes_sent_wifi + stats.bytes_sent_mobile
    log["bytes_recvd"] = stats.bytes_recvd_wifi + stats.bytes_recvd_mobile
    peer.sending = False
    heard = b"".join(peer.heard)
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    sys.stderr.write("tgvoip-call: libtgvoip %s; %s\n" % (tgvoip.VoIPController.LIBTGVOIP_VERSION, stats))
    sys.stderr.write("tgvoip-call: cpu %.3f s over %.3f s\n" % (ru.ru_utime + ru.ru_stime, wall))
    with open(args["output"], "wb") as f:
        f.write(heard)
    if args["pre"]:
        open(args["pre"], "wb").close()
    results.write(json.dumps(log, sort_keys=True) + "\n")
    results.write("TIMESTAMPS: %d,%d,%d,%d,%d\n"
                  % (init_us, peer.first_read, peer.last_read, peer.first_write, peer.last_write))
    results.flush()
    sys.stderr.flush()
    rc = 0 if peer.nonsilent else 1

    # Ending a pytgvoip call would mean destroying the controller, but Stop() runs in the
    # destructor with the GIL held while the audio threads may wait for it (api.md 5.1): it can
    # deadlock (seen in CI: stuck in "before delete audioIO"). Everything is written already, so
    # the process ends without it; the OS closes the socket, which is all the peer sees of an
    # ended 2.4.4 call anyway.
    ctl.call_state_changed_handlers.clear()
    os._exit(rc)


if __name__ == "__main__":
    main()
