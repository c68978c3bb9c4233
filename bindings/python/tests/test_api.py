"""The API without calls: enums, types, argument checks (the exceptions pytgvoip raises),
utils (Telegram's fingerprint, the official emoji), server config, native file I/O, wheel."""

import os
import subprocess
import sys

import pytest

import _tgvoip
import tgvoip
from tgvoip import (CallError, CallState, DataSaving, Endpoint, NetType, Stats, VoIPController,
                    VoIPServerConfig)
from tgvoip import utils
from tgvoip.utils import (b2i, calc_fingerprint, check_dhc, check_g, generate_visualization, i2b,
                          get_real_elapsed_time)

from conftest import SHARED, KEY

TAG = bytes(16)


def test_enum_values_match_pytgvoip():
    assert [(m.name, int(m.value)) for m in NetType] == [
        ("UNKNOWN", 0), ("GPRS", 1), ("EDGE", 2), ("NET_3G", 3), ("HSPA", 4), ("LTE", 5),
        ("WIFI", 6), ("ETHERNET", 7), ("OTHER_HIGH_SPEED", 8), ("OTHER_LOW_SPEED", 9),
        ("DIALUP", 10), ("OTHER_MOBILE", 11)]
    assert {m.name: int(m.value) for m in CallState} == {
        "WAIT_INIT": 1, "WAIT_INIT_ACK": 2, "ESTABLISHED": 3, "FAILED": 4, "RECONNECTING": 5,
        "HANGING_UP": 10, "ENDED": 11, "EXCHANGING_KEYS": 12, "WAITING": 13, "REQUESTING": 14,
        "WAITING_INCOMING": 15, "RINGING": 16, "BUSY": 17}
    assert [int(m.value) for m in DataSaving] == [0, 1, 2]
    assert [m.name for m in CallError] == ["UNKNOWN", "INCOMPATIBLE", "TIMEOUT", "AUDIO_IO",
                                           "PROXY"]
    # Python-layer members wrap the native ones; native members compare only among themselves.
    assert CallState(_tgvoip.CallState.ESTABLISHED) is CallState.ESTABLISHED
    assert CallState.ESTABLISHED.value == _tgvoip.CallState(3)
    assert _tgvoip.CallState.ESTABLISHED != 3 and hash(_tgvoip.CallState.ESTABLISHED) == hash(3)
    assert tgvoip.DataSaving(_tgvoip.DataSaving(2)) is DataSaving.ALWAYS


def test_types_and_reprs():
    ep = Endpoint(7, "1.2.3.4", "", 443, TAG)
    assert repr(ep) == '<_tgvoip.Endpoint _id=7 ip="1.2.3.4" ipv6="" port=443>'
    ep.port = 444
    assert ep.port == 444
    with pytest.raises(TypeError):
        Endpoint(1, "1.2.3.4", "", 443, None)   # native ctor rejects None
    s = VoIPController().get_stats()
    assert isinstance(s, Stats)
    assert repr(s) == ("<_tgvoip.Stats bytes_sent_wifi=0 bytes_sent_mobile=0 bytes_recvd_wifi=0 "
                       "bytes_recvd_mobile=0>")
    with pytest.raises(AttributeError):
        s.bytes_sent_wifi = 1
    assert VoIPController.LIBTGVOIP_VERSION == "2.4.4"
    assert VoIPController.CONNECTION_MAX_LAYER == 92
    assert tgvoip.__pytgvoip_version__ == "0.0.7.1"


def test_controller_defaults_and_handlers():
    c = VoIPController()
    assert c.persistent_state_file == ""
    assert c.call_duration == 0 and c.start_time == 0
    assert c.native_io is False
    assert c.get_last_error() is CallError.UNKNOWN
    assert c.need_rate() is False
    assert c.get_peer_capabilities() == 0
    assert isinstance(c.get_preferred_relay_id(), int)
    seen = []
    c.call_state_changed_handlers.append(seen.append)
    c.call_state_changed_handlers.append("not callable")   # skipped, like pytgvoip
    c.update_state(CallState.RINGING)
    assert seen == [CallState.RINGING]
    assert c.send_audio_frame_callback(1920) == b""
    assert c._send_audio_frame_impl(1920) == bytes(1920)
    c.set_send_audio_frame_callback(lambda n: b"\x01\x02")
    assert c._send_audio_frame_impl(1920) == b"\x01\x02" + bytes(1918)
    c.set_mic_mute(True)
    c.set_audio_output_gain_control_enabled(False)
    c.set_echo_cancellation_strength(1)
    c.set_network_type(NetType.LTE)
    c.set_config(30.0, 20.0, DataSaving.MOBILE, 1, log_file_path="", status_dump_path="")
    assert "2.4.4" in c.get_debug_log()
    c.stop()
    c.stop()


def test_bad_arguments_raise_like_pytgvoip(tmp_path):
    c = VoIPController()
    ep = Endpoint(1, "127.0.0.1", "", 1, TAG)
    for key in (bytes(255), bytes(257), b""):
        with pytest.raises(ValueError):
            c.set_encryption_key(key, True)
    with pytest.raises(ValueError):
        c.set_remote_endpoints([], False, False, 92)
    with pytest.raises(ValueError):
        c.set_remote_endpoints([Endpoint(1, "127.0.0.1", "", 1, bytes(15))], False, False, 92)
    with pytest.raises(ValueError):
        c.set_remote_endpoints([Endpoint(1, "", "", 1, TAG)], False, False, 92)
    with pytest.raises(ValueError):
        c.set_proxy("")
    with pytest.raises(TypeError):
        c.set_encryption_key("x" * 256, True)   # the native layer wants bytes
    with pytest.raises(AttributeError):
        c.set_network_type(6)                     # pytgvoip reads `.value`
    with pytest.raises(TypeError):
        c.set_remote_endpoints([ep], False, False, "92")
    # SOCKS5 proxies and TCP relays are accepted (they are exercised by tests/socks5.rs and
    # tests/tcp_relay.rs in the Rust suite).
    c.set_proxy("127.0.0.1", 1080, "user", "pass")
    c.set_proxy("127.0.0.1")
    c.set_remote_endpoints([ep], False, True, 92)
    with pytest.warns(RuntimeWarning):
        c.debug_ctl(1, 16000)
    # Order: connect before start is refused.
    with pytest.raises(tgvoip.TgVoipError):
        c.connect()
    c.set_encryption_key(KEY, True)
    c.set_remote_endpoints([ep], False, False, 92)


def test_native_file_io_methods(tmp_path, capsys):
    c = VoIPController()
    assert c.play(str(tmp_path / "missing.pcm")) is False
    assert "missing.pcm" in capsys.readouterr().err
    pcm = tmp_path / "a.pcm"
    pcm.write_bytes(bytes(3840))
    assert c.play(str(pcm)) is True
    c.play_on_hold([str(pcm), str(tmp_path / "nope.pcm")])
    assert "nope.pcm" in capsys.readouterr().err
    assert c.set_output_file(str(tmp_path / "no" / "dir" / "out.pcm")) is False
    assert c.set_output_file(str(tmp_path / "out.pcm")) is True
    assert (tmp_path / "out.pcm").exists()
    c.native_io = True
    assert c.native_io is True
    c.clear_play_queue()
    c.clear_hold_queue()
    c.unset_output_file()


def test_persistent_state_file_written_at_stop(tmp_path):
    path = tmp_path / "state.json"
    c = VoIPController(str(path))
    assert c.persistent_state_file == str(path)
    c.stop()
    assert path.read_bytes() == b'{"ver": 1}'
    VoIPController(str(path)).stop()   # read back without error


def test_set_config_defaults_make_logs_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = VoIPController(logs_dir="mylogs")
    c.set_config(20.0, 30.0, DataSaving.NEVER, 42)
    assert (tmp_path / "mylogs").is_dir()


def test_server_config(capsys):
    VoIPServerConfig.set_config('{"audio_max_bitrate": 25000}')
    assert VoIPServerConfig.config["audio_max_bitrate"] == 25000
    VoIPServerConfig.set_config({"audio_min_bitrate": 7000})
    assert VoIPServerConfig.config["audio_min_bitrate"] == 7000
    VoIPServerConfig.set_config("{not json")
    assert "Error parsing VoIP config" in capsys.readouterr().err
    VoIPServerConfig.set_config({"x": object()})
    assert "Error building JSON" in capsys.readouterr().err
    VoIPServerConfig.set_bitrate_config(16000, 20000, 8000, 1000, 1000)
    assert VoIPServerConfig.config["audio_init_bitrate"] == 16000


def test_utils_telegram_fingerprint_and_official_emoji():
    key = bytes(range(256))
    assert calc_fingerprint(key) == -3972359982579920590
    g_a = bytes(255 - i for i in range(256))
    emoji, names = generate_visualization(key, g_a)
    assert names == ["CACTUS", "FORK_AND_KNIFE", "MAN_S_SHOE", "WEARY_CAT_FACE"]
    assert emoji == ["\U0001f335", "\U0001f374", "\U0001f45e", "\U0001f640"]
    # The official table (Telegram apps), including the 11 entries pytgvoip got wrong.
    with open(os.path.join(SHARED, "spec", "emoji_table.tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]
    assert len(utils.emojis) == 333 == len(rows)
    for r in rows:
        official = "".join(chr(int(cp[2:], 16)) for cp in r[1].split())
        assert utils.emojis[int(r[0])] == (official, r[3]), r
    assert utils.emojis[57][0] == "\U0001f468\u200d\U0001f469\u200d\U0001f466"
    # Int inputs are 256-byte keys: a leading zero byte is kept (pytgvoip's i2b dropped it).
    k0 = bytes(1) + bytes(range(1, 256))
    assert calc_fingerprint(b2i(k0)) == calc_fingerprint(k0)
    assert generate_visualization(b2i(k0), b2i(g_a)) == generate_visualization(k0, g_a)
    assert len(i2b(b2i(k0))) == 255   # i2b itself keeps pytgvoip's minimal length


def test_utils_i2b_b2i_dh_checks():
    assert i2b(0) == b"" and i2b(255) == b"\xff" and i2b(256) == b"\x01\x00"
    with pytest.raises(OverflowError):
        i2b(-1)
    assert b2i(b"\x01\x00") == 256
    p = b2i(utils.common_prime)
    for g in (3, 4, 7):
        check_dhc(g, p)
    for g in (1, 2, 5, 6, 8):
        with pytest.raises(ValueError):
            check_dhc(g, p)
    with pytest.raises(ValueError):
        check_dhc(3, p >> 1)
    # A 2048-bit number with the right residue that is not a safe prime: pytgvoip accepted it.
    fake = (1 << 2047) + 5  # p % 3 == 2 needed for g = 3
    while fake % 3 != 2:
        fake += 2
    with pytest.raises(ValueError):
        check_dhc(3, fake)
    with pytest.raises(ValueError, match=r"1 < g_x < p - 1"):
        check_g(1, p)
    with pytest.raises(ValueError, match=r"2\^1984 < g_x"):
        check_g(2, p)
    check_g(p >> 1, p)
    t = get_real_elapsed_time()
    assert get_real_elapsed_time() >= t


def test_python_m_tgvoip_version():
    out = subprocess.run([sys.executable, "-m", "tgvoip", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert "libtgvoip 2.4.4" in out and "protocol version 9" in out
    # Installed from the wheel: the bundled library, not a build tree.
    assert os.path.join("site-packages", "tgvoip", "libtgvoip.so") in out
