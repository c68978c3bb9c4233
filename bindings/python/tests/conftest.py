"""Helpers for the tgvoip (Python) tests: paths, the local relay, two-party calls, PESQ.

Environment (scripts/test.sh sets them): TGVOIP_ROOT (repository, default ../../..),
TGVOIP_SHARED_DIR (samples), TGVOIP_PYTHON (scoring venv: numpy, scipy, pesq),
TGVOIP_INTEROP_PYTHON (pytgvoip 0.0.7.1 = real libtgvoip 2.4.4)."""

import json
import os
import subprocess
import threading
import time

import pytest

ROOT = os.path.abspath(os.environ.get("TGVOIP_ROOT",
                                      os.path.join(os.path.dirname(__file__), "..", "..", "..")))
SHARED = os.path.abspath(os.environ.get("TGVOIP_SHARED_DIR", os.path.join(ROOT, "..", "shared")))
CALLER_SAMPLE = "sample05_14ae7b1886265e54e7f2c83d67eb802e.pcm"
CALLEE_SAMPLE = "sample05_44823b5704b026f2930ad862576bef3c.pcm"
KEY = bytes((i * 37 + 11) % 256 for i in range(256))
CALLER_TAG = bytes.fromhex("0123456789abcdef0123456789abcd00")
CALLEE_TAG = bytes.fromhex("0123456789abcdef0123456789abcd01")
FRAME = 1920


def sample(name):
    with open(os.path.join(SHARED, "samples", name), "rb") as f:
        return f.read()


def need_env(var):
    v = os.environ.get(var)
    if not v or not os.path.exists(v):
        pytest.fail("%s is not set (scripts/test.sh sets it)" % var)
    return v


class Relay:
    def __init__(self, *args):
        exe = os.path.join(ROOT, "target", "release", "tgvoip-reflector")
        self.proc = subprocess.Popen([exe, "--listen", "127.0.0.1:0"] + list(args),
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on "), line
        self.host, _, port = line[len("listening on "):].rpartition(":")
        self.port = int(port)
        self.addr = "%s:%d" % (self.host, self.port)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.communicate(timeout=10)


@pytest.fixture
def relay_factory():
    relays = []

    def make(*args):
        r = Relay(*args)
        relays.append(r)
        return r

    yield make
    for r in relays:
        r.close()


class Party:
    """One side fed through the frame callbacks: speaks `pcm` from ESTABLISHED, records
    everything heard."""

    def __init__(self, pcm):
        self.pcm = pcm
        self.pos = 0
        self.heard = []
        self.states = []
        self.established = threading.Event()
        self.failed = threading.Event()
        self.done = threading.Event()
        self.send_calls = 0
        self.threads = set()   # names of the threads the callbacks ran on

    def on_state(self, state):
        import tgvoip
        self.threads.add(threading.current_thread().name)
        self.states.append(state)
        if state == tgvoip.CallState.ESTABLISHED:
            self.established.set()
        elif state == tgvoip.CallState.FAILED:
            self.failed.set()

    def send(self, length):
        self.send_calls += 1
        self.threads.add(threading.current_thread().name)
        if not self.established.is_set() or self.pos >= len(self.pcm):
            return b""
        chunk = self.pcm[self.pos:self.pos + length]
        self.pos += len(chunk)
        if self.pos >= len(self.pcm):
            self.done.set()
        return chunk

    def recv(self, frame):
        assert len(frame) == FRAME
        self.threads.add(threading.current_thread().name)
        self.heard.append(frame)


def score(ref_pcm, deg_pcm, tmp_path, name):
    py = need_env("TGVOIP_PYTHON")
    ref, deg = tmp_path / (name + ".ref.pcm"), tmp_path / (name + ".deg.pcm")
    ref.write_bytes(ref_pcm)
    deg.write_bytes(deg_pcm)
    out = subprocess.run([py, os.path.join(ROOT, "tests", "quality", "score.py"), "--ref",
                          str(ref), "--deg", str(deg), "--json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print("[python] %s: %s" % (name, json.dumps(result)))
    return result


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()
