"""A tgcalls 9.0.0 call between two tgvoip.VoIPController objects in one process, signaling
wired through set_signaling_callback / receive_signaling_data. Run by test_tgcalls.py inside
ctests/in_netns.sh (a network namespace with a dummy interface); exits non-zero on failure."""

import sys
import threading
import time

from tgvoip import VoIPController

KEY = bytes((i * 37 + 11) % 256 for i in range(256))


def established(c):
    # get_connection_state() is the low-level CallState of tgvoip._native
    return c.get_connection_state().name == "ESTABLISHED"


def main():
    version = VoIPController.SUPPORTED_VERSIONS[0]
    a, b = VoIPController(), VoIPController()
    counts = {"a": 0, "b": 0, "errors": []}
    lock = threading.Lock()

    def forward(name, peer):
        def cb(data):
            with lock:
                counts[name] += 1
            try:
                assert isinstance(data, bytes) and data
                peer.receive_signaling_data(data)
            except Exception as e:  # noqa: BLE001 - reported below
                counts["errors"].append(repr(e))
        return cb

    for c, outgoing in ((a, True), (b, False)):
        c.set_protocol_version(version)
        c.set_encryption_key(KEY, outgoing)
        c.set_webrtc_endpoints([])
    a.set_signaling_callback(forward("a", b))
    b.set_signaling_callback(forward("b", a))
    a.set_mic_mute(True)
    a.start()
    a.connect()
    time.sleep(0.3)  # b receives a's first signaling before its own start
    b.start()
    b.connect()
    deadline = time.time() + 20
    while time.time() < deadline:
        if (established(a) and established(b)
                and a.get_rtp_packet_counts()[1] > 10 and b.get_remote_mic_muted() is True):
            break
        time.sleep(0.05)
    time.sleep(0.2)  # the sender's counter may lag the receiver's
    result = {
        "states": (a.get_connection_state().name, b.get_connection_state().name),
        "connect_ms": (a.get_media_connect_time_ms(), b.get_media_connect_time_ms()),
        "rtp": (a.get_rtp_packet_counts(), b.get_rtp_packet_counts()),
        "muted": (a.get_remote_mic_muted(), b.get_remote_mic_muted()),
    }
    a.stop()
    b.stop()
    result["signaling"] = (counts["a"], counts["b"], counts["errors"])
    print(result)
    ok = (result["states"] == ("ESTABLISHED", "ESTABLISHED")
          and all(ms is not None and ms >= 0 for ms in result["connect_ms"])
          and result["rtp"][0][1] > 10 and result["rtp"][1][0] > 10  # a is muted: b sends
          and result["muted"] == (False, True)
          and counts["a"] > 0 and counts["b"] > 0 and not counts["errors"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
