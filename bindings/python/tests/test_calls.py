"""Calls through the local relay: two Python controllers, the slow-callback and the
stop-from-callback cases, and the real libtgvoip 2.4.4 peer both ways."""

import json
import os
import subprocess
import threading
import time

import pytest

import tgvoip
from tgvoip import (CallState, DataSaving, Endpoint, NetType, VoIPController, VoIPServerConfig)
from tgvoip.utils import calc_fingerprint

from conftest import (CALLEE_SAMPLE, CALLEE_TAG, CALLER_SAMPLE, CALLER_TAG, KEY, ROOT, SHARED, Party,
                      need_env, sample, score, wait_for)


def documented_flow(party, relay, tag, is_outgoing):
    """pytgvoip's documented sequence, as an application writes it."""
    VoIPServerConfig.set_config({"audio_max_bitrate": 20000})   # phone.getCallConfig().data
    controller = VoIPController()
    controller.set_send_audio_frame_callback(party.send)
    controller.set_recv_audio_frame_callback(party.recv)
    controller.call_state_changed_handlers.append(party.on_state)
    controller.signal_bars_changed_handlers.append(lambda bars: None)
    controller.set_config(10.0, 10.0, DataSaving.NEVER, 12345, log_file_path="",
                          status_dump_path="")
    controller.set_network_type(NetType.WIFI)
    controller.set_encryption_key(KEY, is_outgoing)
    endpoints = [Endpoint(1, relay.host, "", relay.port, tag)]
    controller.set_remote_endpoints(endpoints, False, False,
                                    VoIPController.CONNECTION_MAX_LAYER)
    controller.start()
    controller.connect()
    return controller


def run_pair(relay, a, b, setup_a=documented_flow, setup_b=documented_flow, drain=1.5):
    ca = setup_a(a, relay, CALLER_TAG, True)
    cb = setup_b(b, relay, CALLEE_TAG, False)
    try:
        assert wait_for(lambda: a.established.is_set() and b.established.is_set(), 10), \
            (a.states, b.states)
        assert wait_for(lambda: a.done.is_set() and b.done.is_set(), 20)
        time.sleep(drain)
        return ca, cb
    except BaseException:
        ca.stop()
        cb.stop()
        raise


def test_two_python_controllers_hear_each_other(relay_factory, tmp_path):
    relay = relay_factory("--profile", "wifi", "--seed", "1")
    a, b = Party(sample(CALLER_SAMPLE)), Party(sample(CALLEE_SAMPLE))
    ca, cb = run_pair(relay, a, b)
    stats = ca.get_stats()
    assert stats.bytes_sent_wifi > 10000 and stats.bytes_recvd_wifi > 10000
    assert stats.bytes_sent_mobile == 0
    log = json.loads(cb.get_debug_log())
    assert log["libtgvoip_version"] == "2.4.4"
    assert ca.call_duration >= 5
    assert CallState.ESTABLISHED in a.states and a.states[0] == CallState.WAIT_INIT_ACK
    assert ca.get_last_error() == tgvoip.CallError.UNKNOWN
    assert "MTProto" in ca.get_debug_string() or ca.get_debug_string()
    # Python ran only on the binding's own threads, never on a library thread (those would
    # show up as ctypes' "Dummy-N" threads).
    assert a.threads == {"tgvoip-py-events", "tgvoip-py-input", "tgvoip-py-output"}, a.threads
    assert b.threads == a.threads, b.threads
    del ca, cb   # ends the calls, like pytgvoip
    to_callee = score(a.pcm, b"".join(b.heard), tmp_path, "py-to-py caller->callee")
    to_caller = score(b.pcm, b"".join(a.heard), tmp_path, "py-to-py callee->caller")
    assert to_callee["pesq_wb"] >= 3.0, to_callee
    assert to_caller["pesq_wb"] >= 3.0, to_caller


def test_slow_callbacks_stall_neither_network_nor_peer(relay_factory, tmp_path):
    """A's receive-frame callback sleeps 100 ms every 15th frame and its state / signal-bar
    handlers sleep 100 ms each: B still hears A (the send path does not wait for them), A gets
    every frame (late, none lost), and the call never reconnects."""
    relay = relay_factory("--profile", "wifi", "--seed", "2")
    a, b = Party(sample(CALLER_SAMPLE)), Party(sample(CALLEE_SAMPLE))
    fast_recv = a.recv
    counter = {"r": 0}

    def recv(frame):
        counter["r"] += 1
        if counter["r"] % 15 == 0:
            time.sleep(0.1)
        fast_recv(frame)

    def slow_setup(party, relay, tag, out):
        c = documented_flow(party, relay, tag, out)
        c.call_state_changed_handlers.insert(0, lambda s: time.sleep(0.1))
        c.signal_bars_changed_handlers.append(lambda n: time.sleep(0.1))
        return c

    a.recv = recv
    ca, cb = run_pair(relay, a, b, setup_a=slow_setup)
    bs = ca.get_bridge_stats()
    ca.stop()
    cb.stop()
    assert CallState.RECONNECTING not in a.states + b.states
    assert bs["output_overruns"] == 0, bs
    assert len(a.heard) >= bs["output_frames"] - 3, (len(a.heard), bs)
    assert bs["input_underruns"] < 10, bs
    to_caller = score(b.pcm, b"".join(a.heard), tmp_path, "slow callee->caller")
    to_callee = score(a.pcm, b"".join(b.heard), tmp_path, "slow caller->callee")
    assert to_caller["pesq_wb"] >= 3.0, to_caller
    assert to_callee["pesq_wb"] >= 3.0, to_callee


def test_stop_from_inside_callbacks(relay_factory, tmp_path):
    """stop() from a receive-frame callback and from a state handler returns (no deadlock);
    the other side uses native file I/O."""
    relay = relay_factory("--profile", "wifi")
    a, b = Party(sample(CALLER_SAMPLE)), Party(b"")
    stopped = {}

    def native_setup(party, relay, tag, out):
        c = documented_flow(party, relay, tag, out)
        c.native_io = True
        assert c.native_io is True
        assert c.play(os.path.join(SHARED, "samples", CALLEE_SAMPLE)) is True
        assert c.set_output_file(str(tmp_path / "b-heard.pcm"))
        return c

    holder = {}
    orig_recv = a.recv

    def recv(frame):
        orig_recv(frame)
        if len(a.heard) == 50 and "a" not in stopped:
            t = time.monotonic()
            holder["a"].stop()   # from the binding's audio thread
            stopped["a"] = time.monotonic() - t

    a.recv = recv
    ca = documented_flow(a, relay, CALLER_TAG, True)
    holder["a"] = ca
    cb = native_setup(b, relay, CALLEE_TAG, False)

    def on_state(state):
        if state == CallState.FAILED or (state == CallState.ESTABLISHED and "b" not in stopped):
            time.sleep(1.5)
            t = time.monotonic()
            cb.stop()          # from a state handler
            stopped["b"] = time.monotonic() - t

    cb.call_state_changed_handlers.append(on_state)
    assert wait_for(lambda: "a" in stopped and "b" in stopped, 15), (stopped, a.states, b.states)
    assert stopped["a"] < 2 and stopped["b"] < 2, stopped
    n = len(a.heard)
    time.sleep(0.3)
    assert len(a.heard) == n   # no frame callback after stop returned
    assert ca.get_stats().bytes_recvd_wifi > 0   # getters still work after stop
    with pytest.raises(RuntimeError):
        ca.connect()
    ca.stop()   # idempotent


def run_interop(relay, our_role, tmp_path):
    py = need_env("TGVOIP_INTEROP_PYTHON")
    peer_role = "callee" if our_role == "caller" else "caller"
    peer_in = sample(CALLEE_SAMPLE if our_role == "caller" else CALLER_SAMPLE)
    our = Party(sample(CALLER_SAMPLE if our_role == "caller" else CALLEE_SAMPLE))
    (tmp_path / "peer_in.pcm").write_bytes(peer_in)
    peer_tag = CALLEE_TAG if peer_role == "callee" else CALLER_TAG
    proc = subprocess.Popen(
        [py, os.path.join(ROOT, "tests", "interop", "peer.py"), relay.addr, peer_tag.hex(),
         "-k", KEY.hex(), "-r", peer_role, "-i", str(tmp_path / "peer_in.pcm"),
         "-o", str(tmp_path / "peer_out.pcm")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ours = documented_flow(our, relay, CALLER_TAG if our_role == "caller" else CALLEE_TAG,
                           our_role == "caller")
    try:
        out, err = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
        ours.stop()
    assert our.established.is_set(), (our.states, err[-2000:])
    log = json.loads(out.strip().splitlines()[0])
    assert log["libtgvoip_version"] == "2.4.4"
    heard_by_peer = (tmp_path / "peer_out.pcm").read_bytes()
    s1 = score(our.pcm, heard_by_peer, tmp_path, "py(%s)->libtgvoip" % our_role)
    s2 = score(peer_in, b"".join(our.heard), tmp_path, "libtgvoip->py(%s)" % our_role)
    assert s1["pesq_wb"] >= 3.0, (s1, err[-2000:])
    assert s2["pesq_wb"] >= 3.0, s2


@pytest.mark.parametrize("our_role", ["caller", "callee"])
def test_interop_with_real_libtgvoip(relay_factory, tmp_path, our_role):
    relay = relay_factory("--profile", "wifi", "--seed", "3")
    run_interop(relay, our_role, tmp_path)


def test_refusing_socks5_proxy_fails_the_call_with_error_proxy(relay_factory):
    """A SOCKS5 proxy that rejects the username/password (a tiny RFC 1928/1929 server on
    loopback): the call goes FAILED with CallError.PROXY through the C ABI, and the proxy saw
    our credentials."""
    import socket

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    seen = []

    def serve():
        conn, _ = server.accept()
        with conn:
            greeting = conn.recv(16)
            seen.append(greeting)
            conn.sendall(b"\x05\x02")              # username/password, please
            auth = conn.recv(600)
            seen.append(auth)
            conn.sendall(b"\x01\x01")              # rejected

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    relay = relay_factory()
    party = Party(sample(CALLER_SAMPLE))
    controller = VoIPController()
    controller.call_state_changed_handlers.append(party.on_state)
    controller.set_encryption_key(KEY, True)
    controller.set_remote_endpoints([Endpoint(1, relay.host, "", relay.port, CALLER_TAG)], False,
                                    False, VoIPController.CONNECTION_MAX_LAYER)
    controller.set_proxy("127.0.0.1", server.getsockname()[1], "alice", "wrong")
    controller.start()
    controller.connect()
    try:
        assert wait_for(lambda: CallState.FAILED in party.states, 10), party.states
        assert controller.get_last_error() == tgvoip.CallError.PROXY
    finally:
        controller.stop()
        server.close()
    t.join(5)
    assert seen[0] == b"\x05\x02\x00\x02", seen
    assert seen[1] == b"\x01\x05alice\x05wrong", seen
