"""Loads libtgvoip.so (bundled in the package, or TGVOIP_LIBRARY) and declares the C ABI
(include/tgvoip.h) for ctypes.

Every function is loaded from a ``ctypes.CDLL``, so ctypes releases the GIL for the duration of
each call: waiting in the library (stop, the PCM bridge waits) never blocks other Python threads.
"""

import ctypes
import os
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char, c_char_p, c_double, c_int16,
                    c_int32, c_int64, c_size_t, c_uint16, c_uint32, c_uint64, c_uint8, c_void_p)

_HERE = os.path.dirname(os.path.abspath(__file__))

status_t = c_int32
OK = 0
E_INVALID_ARGUMENT = -1
E_INVALID_STATE = -2
E_NOT_SUPPORTED = -3
E_IO = -4
E_PARSE = -5
E_WOULD_DEADLOCK = -6
E_BUFFER_TOO_SMALL = -7
E_CHECK_FAILED = -8

FRAME_SAMPLES = 960
FRAME_BYTES = 1920
ENDPOINT_UDP_RELAY = 3
PROXY_SOCKS5 = 1


class controller_t(Structure):
    pass


class pcm_bridge_t(Structure):
    pass


controller_p = POINTER(controller_t)
bridge_p = POINTER(pcm_bridge_t)

state_cb_t = CFUNCTYPE(None, c_void_p, controller_p, c_int32)
key_sent_cb_t = CFUNCTYPE(None, c_void_p, controller_p)
key_recv_cb_t = CFUNCTYPE(None, c_void_p, controller_p, POINTER(c_uint8))


class callbacks_t(Structure):
    _fields_ = [("struct_size", c_uint32), ("user_data", c_void_p),
                ("state_changed", state_cb_t), ("signal_bars_changed", state_cb_t),
                ("group_call_key_sent", key_sent_cb_t),
                ("group_call_key_received", key_recv_cb_t),
                ("upgrade_to_group_call_requested", key_sent_cb_t)]


class config_t(Structure):
    _fields_ = [("struct_size", c_uint32), ("init_timeout", c_double), ("recv_timeout", c_double),
                ("data_saving", c_int32), ("enable_aec", c_bool), ("enable_ns", c_bool),
                ("enable_agc", c_bool), ("enable_call_upgrade", c_bool),
                ("log_packet_stats", c_bool), ("enable_volume_control", c_bool),
                ("enable_video_send", c_bool), ("enable_video_receive", c_bool),
                ("log_file_path", c_char_p), ("stats_dump_file_path", c_char_p),
                ("call_id", c_char_p)]


class endpoint_t(Structure):
    _fields_ = [("id", c_int64), ("ipv4", c_char_p), ("ipv6", c_char_p), ("port", c_uint16),
                ("type", c_int32), ("peer_tag", c_uint8 * 16)]


class webrtc_endpoint_t(Structure):
    _fields_ = [("id", c_int64), ("ipv4", c_char_p), ("ipv6", c_char_p), ("port", c_uint16),
                ("turn", c_bool), ("stun", c_bool), ("username", c_char_p),
                ("password", c_char_p)]


signaling_cb_t = CFUNCTYPE(None, c_void_p, POINTER(c_uint8), c_size_t)


class traffic_stats_t(Structure):
    _fields_ = [("bytes_sent_wifi", c_uint64), ("bytes_recvd_wifi", c_uint64),
                ("bytes_sent_mobile", c_uint64), ("bytes_recvd_mobile", c_uint64)]


class bytes_t(Structure):
    _fields_ = [("data", POINTER(c_uint8)), ("len", c_size_t)]


class bridge_stats_t(Structure):
    _fields_ = [("input_frames", c_uint64), ("input_underruns", c_uint64),
                ("output_frames", c_uint64), ("output_overruns", c_uint64)]


def _find_library():
    env = os.environ.get("TGVOIP_LIBRARY")
    if env:
        return env
    bundled = os.path.join(_HERE, "libtgvoip.so")
    if os.path.exists(bundled):
        return bundled
    return "libtgvoip.so"


def _load():
    # The wheel bundles libopus next to libtgvoip.so: load it first (RTLD_GLOBAL) so the
    # dynamic linker resolves libtgvoip's libopus.so.0 dependency with it.
    for name in sorted(os.listdir(_HERE)):
        if name.startswith("libopus.so"):
            ctypes.CDLL(os.path.join(_HERE, name), mode=ctypes.RTLD_GLOBAL)
            break
    return ctypes.CDLL(_find_library())


lib = _load()

_PROTOTYPES = {
    "tgvoip_last_error_code": (status_t, []),
    "tgvoip_last_error_message": (c_char_p, []),
    "tgvoip_status_name": (c_char_p, [status_t]),
    "tgvoip_string_free": (None, [c_void_p]),
    "tgvoip_bytes_free": (None, [POINTER(bytes_t)]),
    "tgvoip_abi_version": (c_uint32, []),
    "tgvoip_get_version": (c_char_p, []),
    "tgvoip_impl_version": (c_char_p, []),
    "tgvoip_get_connection_max_layer": (c_int32, []),
    "tgvoip_server_config_update": (status_t, [c_char_p]),
    "tgvoip_server_config_get_int": (c_int32, [c_char_p, c_int32]),
    "tgvoip_controller_new": (status_t, [POINTER(controller_p)]),
    "tgvoip_controller_free": (status_t, [controller_p]),
    "tgvoip_callbacks_init_default": (None, [POINTER(callbacks_t)]),
    "tgvoip_controller_set_callbacks": (status_t, [controller_p, POINTER(callbacks_t)]),
    "tgvoip_config_init_default": (None, [POINTER(config_t)]),
    "tgvoip_controller_set_config": (status_t, [controller_p, POINTER(config_t)]),
    "tgvoip_controller_set_persistent_state": (status_t, [controller_p, c_char_p, c_size_t]),
    "tgvoip_controller_get_persistent_state": (status_t, [controller_p, POINTER(bytes_t)]),
    "tgvoip_controller_set_proxy": (status_t, [controller_p, c_int32, c_char_p, c_uint16,
                                               c_char_p, c_char_p]),
    "tgvoip_controller_set_encryption_key": (status_t, [controller_p, c_char_p, c_size_t, c_bool]),
    "tgvoip_controller_set_remote_endpoints": (status_t, [controller_p, POINTER(endpoint_t),
                                                          c_size_t, c_bool, c_bool, c_int32]),
    "tgvoip_controller_start": (status_t, [controller_p]),
    "tgvoip_controller_connect": (status_t, [controller_p]),
    "tgvoip_controller_stop": (status_t, [controller_p]),
    "tgvoip_controller_set_network_type": (status_t, [controller_p, c_int32]),
    "tgvoip_controller_set_mic_mute": (status_t, [controller_p, c_bool]),
    "tgvoip_controller_set_audio_output_gain_control_enabled": (status_t, [controller_p, c_bool]),
    "tgvoip_controller_set_echo_cancellation_strength": (status_t, [controller_p, c_int32]),
    "tgvoip_controller_debug_ctl": (status_t, [controller_p, c_int32, c_int32]),
    "tgvoip_controller_get_debug_string": (status_t, [controller_p, POINTER(c_void_p)]),
    "tgvoip_controller_get_debug_log": (status_t, [controller_p, POINTER(c_void_p)]),
    "tgvoip_controller_get_stats": (status_t, [controller_p, POINTER(traffic_stats_t)]),
    "tgvoip_controller_get_preferred_relay_id": (status_t, [controller_p, POINTER(c_int64)]),
    "tgvoip_controller_get_last_error": (status_t, [controller_p, POINTER(c_int32)]),
    "tgvoip_controller_get_connection_state": (status_t, [controller_p, POINTER(c_int32)]),
    "tgvoip_controller_get_peer_capabilities": (status_t, [controller_p, POINTER(c_uint32)]),
    "tgvoip_controller_need_rate": (status_t, [controller_p, POINTER(c_bool)]),
    "tgvoip_controller_get_call_duration": (status_t, [controller_p, POINTER(c_double)]),
    "tgvoip_controller_set_native_io": (status_t, [controller_p, c_bool]),
    "tgvoip_controller_get_native_io": (status_t, [controller_p, POINTER(c_bool)]),
    "tgvoip_controller_play": (status_t, [controller_p, c_char_p]),
    "tgvoip_controller_play_on_hold": (status_t, [controller_p, POINTER(c_char_p), c_size_t,
                                                  POINTER(c_size_t)]),
    "tgvoip_controller_set_output_file": (status_t, [controller_p, c_char_p]),
    "tgvoip_controller_clear_play_queue": (status_t, [controller_p]),
    "tgvoip_controller_clear_hold_queue": (status_t, [controller_p]),
    "tgvoip_controller_unset_output_file": (status_t, [controller_p]),
    "tgvoip_get_supported_version_count": (c_size_t, []),
    "tgvoip_get_supported_version": (c_char_p, [c_size_t]),
    "tgvoip_controller_set_protocol_version": (status_t, [controller_p, c_char_p]),
    "tgvoip_controller_get_protocol_version": (status_t, [controller_p, POINTER(c_void_p)]),
    "tgvoip_controller_set_webrtc_endpoints": (status_t, [controller_p, POINTER(webrtc_endpoint_t),
                                                          c_size_t]),
    "tgvoip_controller_set_signaling_callback": (status_t, [controller_p, signaling_cb_t,
                                                            c_void_p]),
    "tgvoip_controller_receive_signaling_data": (status_t, [controller_p, c_char_p, c_size_t]),
    "tgvoip_controller_get_remote_mic_muted": (status_t, [controller_p, POINTER(c_int32)]),
    "tgvoip_controller_get_media_connect_time_ms": (status_t, [controller_p, POINTER(c_int64)]),
    "tgvoip_controller_get_rtp_packet_counts": (status_t, [controller_p, POINTER(c_uint64),
                                                           POINTER(c_uint64)]),
    "tgvoip_util_key_fingerprint": (status_t, [c_char_p, c_size_t, POINTER(c_int64)]),
    "tgvoip_util_emoji_indices": (status_t, [c_char_p, c_size_t, c_char_p, c_size_t,
                                             POINTER(c_uint16)]),
    "tgvoip_util_emoji": (c_char_p, [c_uint16, c_int32]),
    "tgvoip_util_emoji_name": (c_char_p, [c_uint16]),
    "tgvoip_util_check_dh_config": (status_t, [c_int32, c_char_p, c_size_t, c_bool]),
    "tgvoip_util_check_g_x": (status_t, [c_char_p, c_size_t, c_char_p, c_size_t]),
    "tgvoip_pcm_bridge_new": (status_t, [c_uint32, POINTER(bridge_p)]),
    "tgvoip_pcm_bridge_free": (None, [bridge_p]),
    "tgvoip_pcm_bridge_attach": (status_t, [bridge_p, controller_p]),
    "tgvoip_pcm_bridge_push_input": (status_t, [bridge_p, c_char_p, c_size_t]),
    "tgvoip_pcm_bridge_pop_output": (status_t, [bridge_p, c_void_p, c_size_t, POINTER(c_bool)]),
    "tgvoip_pcm_bridge_wait_input": (status_t, [bridge_p, c_uint32, c_int32, POINTER(c_uint32)]),
    "tgvoip_pcm_bridge_wait_output": (status_t, [bridge_p, c_int32, POINTER(c_uint32)]),
    "tgvoip_pcm_bridge_close": (status_t, [bridge_p]),
    "tgvoip_pcm_bridge_get_stats": (status_t, [bridge_p, POINTER(bridge_stats_t)]),
}

for _name, (_res, _args) in _PROTOTYPES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args


class TgVoipError(RuntimeError):
    """A call into libtgvoip failed; ``code`` is the C status (``TGVOIP_E_*``)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class NotSupportedError(TgVoipError, NotImplementedError):
    """libtgvoip 2.4.4 has the feature, this library does not (SOCKS5, TCP relays, ...)."""


def last_error(code, what):
    msg = lib.tgvoip_last_error_message()
    name = lib.tgvoip_status_name(code)
    text = "%s: %s (%s)" % (what, msg.decode("utf-8", "replace") if msg else "failed",
                            name.decode() if name else code)
    if code == E_NOT_SUPPORTED:
        return NotSupportedError(code, text)
    if code == E_INVALID_ARGUMENT:
        return ValueError(text)
    return TgVoipError(code, text)


def check(code, what):
    if code != OK:
        raise last_error(code, what)


def take_string(ptr):
    """Copies and frees a library-allocated string."""
    try:
        return ctypes.string_at(ptr.value).decode("utf-8", "replace") if ptr.value else ""
    finally:
        lib.tgvoip_string_free(ptr)


def fs_path(path):
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("path must be str, bytes or os.PathLike, not %s" % type(path).__name__)
    p = os.fsencode(path)
    if b"\0" in p:
        raise ValueError("embedded null byte in path")
    return p


def supported_versions():
    """Protocol versions the library speaks, best first (for phoneCallProtocol.library_versions)."""
    return [lib.tgvoip_get_supported_version(i).decode()
            for i in range(lib.tgvoip_get_supported_version_count())]


def version():
    return lib.tgvoip_get_version().decode()


def impl_version():
    return lib.tgvoip_impl_version().decode()


if sys.byteorder != "little":  # the frames are exchanged as s16le bytes
    raise ImportError("tgvoip: big-endian platforms are not supported")
