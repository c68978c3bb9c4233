"""The public ``tgvoip`` API, compatible with pytgvoip 0.0.7.1 (see README, "Python")."""

import json
import os
import sys
from datetime import datetime
from enum import Enum

from . import _native
from ._native import Endpoint, Stats, WebrtcEndpoint
from ._lib import TgVoipError, NotSupportedError
from .utils import get_real_elapsed_time

__all__ = ["NetType", "DataSaving", "CallState", "CallError", "Stats", "Endpoint", "WebrtcEndpoint",
           "VoIPController", "VoIPServerConfig", "TgVoipError", "NotSupportedError"]


class NetType(Enum):
    UNKNOWN = _native.NetType.UNKNOWN
    GPRS = _native.NetType.GPRS
    EDGE = _native.NetType.EDGE
    NET_3G = _native.NetType.NET_3G
    HSPA = _native.NetType.HSPA
    LTE = _native.NetType.LTE
    WIFI = _native.NetType.WIFI
    ETHERNET = _native.NetType.ETHERNET
    OTHER_HIGH_SPEED = _native.NetType.OTHER_HIGH_SPEED
    OTHER_LOW_SPEED = _native.NetType.OTHER_LOW_SPEED
    DIALUP = _native.NetType.DIALUP
    OTHER_MOBILE = _native.NetType.OTHER_MOBILE


class CallState(Enum):
    WAIT_INIT = _native.CallState.WAIT_INIT
    WAIT_INIT_ACK = _native.CallState.WAIT_INIT_ACK
    ESTABLISHED = _native.CallState.ESTABLISHED
    FAILED = _native.CallState.FAILED
    RECONNECTING = _native.CallState.RECONNECTING
    # Application-level states (the library never reports them).
    HANGING_UP = 10
    ENDED = 11
    EXCHANGING_KEYS = 12
    WAITING = 13
    REQUESTING = 14
    WAITING_INCOMING = 15
    RINGING = 16
    BUSY = 17


class DataSaving(Enum):
    NEVER = _native.DataSaving.NEVER
    MOBILE = _native.DataSaving.MOBILE
    ALWAYS = _native.DataSaving.ALWAYS


class CallError(Enum):
    UNKNOWN = _native.CallError.UNKNOWN
    INCOMPATIBLE = _native.CallError.INCOMPATIBLE
    TIMEOUT = _native.CallError.TIMEOUT
    AUDIO_IO = _native.CallError.AUDIO_IO
    PROXY = _native.CallError.PROXY


class VoIPController(_native.VoIPController):
    """A call. Handlers in ``call_state_changed_handlers`` get a :class:`CallState`, those in
    ``signal_bars_changed_handlers`` an int; both run on a Python thread of the binding.
    ``send_audio_frame_callback(length)`` returns up to ``length`` (1920) bytes of s16le 48 kHz
    mono microphone audio every 20 ms; ``recv_audio_frame_callback(frame)`` gets 1920 bytes of
    what is heard; both run on the binding's own audio threads, never the library's."""

    def __init__(self, persistent_state_file: str = "", debug=False, logs_dir="logs"):
        super().__init__(persistent_state_file)
        self.debug = debug
        self.logs_dir = logs_dir
        self.start_time = 0
        self.send_audio_frame_callback = lambda length: b""
        self.recv_audio_frame_callback = lambda frame: None
        self.call_state_changed_handlers = []
        self.signal_bars_changed_handlers = []
        self._init()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def call_duration(self) -> int:
        if not self.start_time:
            return 0
        return int(get_real_elapsed_time() - self.start_time)

    def set_proxy(self, address: str, port: int = 1080, username: str = "", password: str = ""):
        if not address:
            raise ValueError("proxy address is empty")
        super().set_proxy(address, port, username, password)

    def set_encryption_key(self, key: bytes, is_outgoing: bool):
        if len(key) != 256:
            raise ValueError("the key must be 256 bytes long, got %d" % len(key))
        super().set_encryption_key(key, is_outgoing)

    def set_remote_endpoints(self, endpoints, allow_p2p: bool, tcp: bool,
                             connection_max_layer: int):
        if not endpoints:
            raise ValueError("no endpoints given")
        for ep in endpoints:
            if ep.ip is None or not len(ep.ip):
                raise ValueError("endpoint %r has no IPv4 address" % (ep,))
            if ep.peer_tag is not None and len(ep.peer_tag) != 16:
                raise ValueError("endpoint %r: peer_tag must be 16 bytes, got %d"
                                 % (ep, len(ep.peer_tag)))
        super().set_remote_endpoints(endpoints, allow_p2p, tcp, connection_max_layer)

    def set_network_type(self, _type: NetType):
        super().set_network_type(_native.NetType(_type.value))

    def set_config(self, recv_timeout: float, init_timeout: float,
                   data_saving_mode: DataSaving, call_id: int, enable_aec: bool = True,
                   enable_ns: bool = True, enable_agc: bool = True, log_file_path: str = None,
                   status_dump_path: str = None, log_packet_stats: bool = None):
        """``recv_timeout`` is the packet timeout, ``init_timeout`` the connect timeout (from
        ``help.getConfig``: ``call_packet_timeout_ms`` / ``call_connect_timeout_ms``, in
        seconds). Unlike pytgvoip, they are not swapped on the way to the library."""
        if log_file_path is None:
            if self.debug:
                log_file_path = self._log_path("voip%s" % (call_id,))
            else:
                os.makedirs(self.logs_dir, exist_ok=True)
                log_file_path = os.path.abspath(os.path.join(self.logs_dir, "%s.log" % (call_id,)))
        if status_dump_path is None:
            status_dump_path = self._log_path("voip_stats") if self.debug else ""
        if log_packet_stats is None:
            log_packet_stats = self.debug
        super().set_config(init_timeout, recv_timeout,
                           _native.DataSaving(data_saving_mode.value), enable_aec, enable_ns,
                           enable_agc, log_file_path, status_dump_path, log_packet_stats,
                           call_id=call_id)

    def _log_path(self, name):
        os.makedirs(self.logs_dir, exist_ok=True)
        t = datetime.now()
        fname = "%d_%d_%d_%d_%d_%d_%s.txt" % (t.year, t.month, t.day, t.hour, t.minute,
                                                t.second, name)
        return os.path.abspath(os.path.join(self.logs_dir, fname))

    def get_last_error(self) -> CallError:
        return CallError(super().get_last_error())

    @property
    def native_io(self) -> bool:
        return self._native_io_get()

    @native_io.setter
    def native_io(self, val: bool) -> None:
        self._native_io_set(val)

    def _handle_state_change(self, state):
        state = CallState(state)
        if state == CallState.ESTABLISHED and not self.start_time:
            self.start_time = get_real_elapsed_time()
        for handler in list(self.call_state_changed_handlers):
            if callable(handler):
                handler(state)

    def _handle_signal_bars_change(self, count: int):
        for handler in list(self.signal_bars_changed_handlers):
            if callable(handler):
                handler(count)

    def update_state(self, state: CallState):
        """Runs the state handlers with ``state`` (e.g. an application-level state)."""
        self._handle_state_change(state)

    def set_send_audio_frame_callback(self, func):
        self.send_audio_frame_callback = func

    def set_recv_audio_frame_callback(self, func):
        self.recv_audio_frame_callback = func

    def _send_audio_frame_impl(self, length: int):
        frame = b""
        if callable(self.send_audio_frame_callback):
            frame = self.send_audio_frame_callback(length)
        if frame is None:
            frame = b""
        return bytes(frame).ljust(length, b"\0")

    def _recv_audio_frame_impl(self, frame: bytes):
        if callable(self.recv_audio_frame_callback):
            self.recv_audio_frame_callback(frame)


class VoIPServerConfig(_native.VoIPServerConfig):
    """The process-wide server config (``phone.getCallConfig`` data). Values are merged into
    the library's config (and into :attr:`config`); set it before creating controllers."""

    config = {
        "audio_max_bitrate": 20000,
        "audio_max_bitrate_gprs": 8000,
        "audio_max_bitrate_edge": 16000,
        "audio_max_bitrate_saving": 8000,
        "audio_init_bitrate": 16000,
        "audio_init_bitrate_gprs": 8000,
        "audio_init_bitrate_edge": 8000,
        "audio_init_bitrate_saving": 8000,
        "audio_bitrate_step_incr": 1000,
        "audio_bitrate_step_decr": 1000,
        "audio_min_bitrate": 8000,
        "relay_switch_threshold": 0.8,
        "p2p_to_relay_switch_threshold": 0.6,
        "relay_to_p2p_switch_threshold": 0.8,
        "reconnecting_state_timeout": 2.0,
        "rate_flags": 0xFFFFFFFF,
        "rate_min_rtt": 0.6,
        "rate_min_send_loss": 0.2,
        "packet_loss_for_extra_ec": 0.02,
        "max_unsent_stream_packets": 2,
    }

    @classmethod
    def set_config(cls, _json):
        """``_json``: a JSON object as str, or a dict. Errors are printed to stderr (as
        pytgvoip does), not raised."""
        try:
            if isinstance(_json, dict):
                _json = json.dumps(_json)
            parsed = json.loads(_json)
            if not isinstance(parsed, dict):
                raise json.JSONDecodeError("not a JSON object", _json, 0)
            _native.VoIPServerConfig.set_config(_json)
            cls.config.update(parsed)
        except json.JSONDecodeError as e:
            print("Error parsing VoIP config", e, file=sys.stderr)
        except TypeError as e:
            print("Error building JSON", e, file=sys.stderr)
        except TgVoipError as e:
            print("Error applying VoIP config", e, file=sys.stderr)

    @classmethod
    def set_bitrate_config(cls, init_bitrate: int = 16000, max_bitrate: int = 20000,
                           min_bitrate: int = 8000, decrease_step: int = 1000,
                           increase_step: int = 1000):
        cls.set_config({
            "audio_init_bitrate": init_bitrate,
            "audio_max_bitrate": max_bitrate,
            "audio_min_bitrate": min_bitrate,
            "audio_bitrate_step_decr": decrease_step,
            "audio_bitrate_step_incr": increase_step,
        })
