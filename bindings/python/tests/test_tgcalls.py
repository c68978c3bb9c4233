"""Protocol choice and tgcalls signaling through the Python API (extensions of pytgvoip's)."""

import os
import subprocess
import sys

import pytest

import tgvoip
from tgvoip import VoIPController, WebrtcEndpoint

from conftest import KEY, ROOT


def test_supported_versions_best_first():
    assert VoIPController.SUPPORTED_VERSIONS == ["9.0.0", "8.0.0", "2.4.4"]


def test_protocol_version_accepts_supported_and_rejects_junk():
    c = VoIPController()
    assert c.get_protocol_version() == "2.4.4"
    for v in ("9.0.0", "8.0.0", "2.4.4", "9.0.0"):
        c.set_protocol_version(v)
        assert c.get_protocol_version() == v
    with pytest.raises(ValueError, match="unsupported protocol version.*7.7.7.*INVALID_ARGUMENT"):
        c.set_protocol_version("7.7.7")
    with pytest.raises(TypeError):
        c.set_protocol_version(9)
    assert c.get_protocol_version() == "9.0.0"
    c.stop()


def test_protocol_is_fixed_after_start():
    c = VoIPController()
    c.start()  # 2.4.4 binds on any machine
    with pytest.raises(tgvoip.TgVoipError, match="before start") as e:
        c.set_protocol_version("9.0.0")
    assert e.value.code == -2
    c.stop()


def test_webrtc_endpoint_checks():
    c = VoIPController()
    c.set_protocol_version("9.0.0")
    good = [WebrtcEndpoint(1, "192.0.2.10", "", 3478, "u", "p", turn=True, stun=True),
            WebrtcEndpoint(2, "", "2001:db8::1", 443, stun=True)]
    c.set_webrtc_endpoints(good)
    c.set_webrtc_endpoints([])
    with pytest.raises(ValueError, match="no address"):
        c.set_webrtc_endpoints([WebrtcEndpoint(3, "", "", 3478)])
    with pytest.raises(ValueError, match="port 0"):
        c.set_webrtc_endpoints([WebrtcEndpoint(3, "192.0.2.1", "", 0)])
    with pytest.raises(ValueError, match="bad IPv4"):
        c.set_webrtc_endpoints([WebrtcEndpoint(3, "1.2.3", "", 1)])
    with pytest.raises(TypeError):
        c.set_webrtc_endpoints([("192.0.2.1", 1)])
    c.stop()


def test_signaling_kept_before_start_and_getters():
    c = VoIPController()
    c.set_protocol_version("9.0.0")
    c.set_encryption_key(KEY, True)
    c.set_signaling_callback(lambda data: None)
    c.receive_signaling_data(b"\x01\x02\x03")
    with pytest.raises(ValueError, match="empty"):
        c.receive_signaling_data(b"")
    with pytest.raises(TypeError):
        c.receive_signaling_data("text")
    with pytest.raises(TypeError):
        c.set_signaling_callback(5)
    assert c.get_remote_mic_muted() is None
    assert c.get_media_connect_time_ms() is None
    assert c.get_rtp_packet_counts() == (0, 0)
    c.stop()
    with pytest.raises(RuntimeError):
        c.receive_signaling_data(b"\x01")


def _in_netns(mode, *cmd):
    script = os.path.join(ROOT, "ctests", "in_netns.sh")
    r = subprocess.run([script, mode] + list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    out = r.stdout.decode(errors="replace")
    if r.returncode == 77:
        pytest.skip(out.strip())
    return r.returncode, out


def test_start_without_interface_fails_with_io_error():
    code, out = _in_netns("empty", sys.executable, "-c",
                          "import tgvoip\n"
                          "c = tgvoip.VoIPController(); c.set_protocol_version('9.0.0')\n"
                          "try:\n    c.start()\nexcept tgvoip.TgVoipError as e:\n"
                          "    print('code', e.code, e)\n"
                          "print(c.get_connection_state())\n")
    assert code == 0, out
    assert "code -4" in out and "interface" in out and "FAILED" in out, out


def test_two_controllers_call_over_tgcalls():
    code, out = _in_netns("dummy", sys.executable, os.path.join(os.path.dirname(__file__),
                                                                 "tgcalls_pair.py"))
    print(out)
    assert code == 0, out
