"""The low layer of the binding: what pytgvoip's C++ extension ``_tgvoip`` provided, written
over the C ABI with ctypes. Also importable as the top-level module ``_tgvoip``.

Threads: the library calls state / signal-bar callbacks on its "tgvoip-callbacks" thread; they
are only queued there and the handlers run on a Python thread ("tgvoip-py-events"). Audio never
enters Python on the library's real-time thread: a PCM bridge (two wait-free rings in the
library) is drained and filled by two Python threads ("tgvoip-py-input" / "tgvoip-py-output"),
which block inside the library with the GIL released.
"""

import ctypes
import enum
import os
import queue
import sys
import threading
import weakref

from . import _lib
from ._lib import lib, check

__all__ = ["NetType", "CallState", "DataSaving", "CallError", "Stats", "Endpoint", "WebrtcEndpoint",
           "VoIPController", "VoIPServerConfig", "__version__"]


class _NativeEnum(enum.Enum):
    """An enum like pybind11's: compares equal only to itself, int() and hash() by value."""

    def __int__(self):
        return self.value

    def __index__(self):
        return self.value

    def __hash__(self):
        return hash(self.value)

    def __repr__(self):
        return "<%s.%s: %d>" % (type(self).__name__, self.name, self.value)


class NetType(_NativeEnum):
    UNKNOWN = 0
    GPRS = 1
    EDGE = 2
    NET_3G = 3
    HSPA = 4
    LTE = 5
    WIFI = 6
    ETHERNET = 7
    OTHER_HIGH_SPEED = 8
    OTHER_LOW_SPEED = 9
    DIALUP = 10
    OTHER_MOBILE = 11


class CallState(_NativeEnum):
    WAIT_INIT = 1
    WAIT_INIT_ACK = 2
    ESTABLISHED = 3
    FAILED = 4
    RECONNECTING = 5


class DataSaving(_NativeEnum):
    NEVER = 0
    MOBILE = 1
    ALWAYS = 2


class CallError(_NativeEnum):
    UNKNOWN = 0
    INCOMPATIBLE = 1
    TIMEOUT = 2
    AUDIO_IO = 3
    PROXY = 4


def _enum_value(value, cls, what):
    """The int value of a native enum member (or of the Python-layer enum wrapping one)."""
    inner = getattr(value, "value", value) if not isinstance(value, cls) else value
    if isinstance(inner, cls):
        return inner.value
    raise TypeError("%s must be a %s, not %r" % (what, cls.__name__, value))


class Stats:
    """Traffic counters (read-only)."""

    __slots__ = ("_v",)

    def __init__(self, sent_wifi=0, sent_mobile=0, recvd_wifi=0, recvd_mobile=0):
        self._v = (sent_wifi, sent_mobile, recvd_wifi, recvd_mobile)

    bytes_sent_wifi = property(lambda self: self._v[0])
    bytes_sent_mobile = property(lambda self: self._v[1])
    bytes_recvd_wifi = property(lambda self: self._v[2])
    bytes_recvd_mobile = property(lambda self: self._v[3])

    def __repr__(self):
        return ("<_tgvoip.Stats bytes_sent_wifi=%d bytes_sent_mobile=%d bytes_recvd_wifi=%d "
                "bytes_recvd_mobile=%d>" % self._v)


class Endpoint:
    """A relay from ``phoneConnection``: ``Endpoint(_id, ip, ipv6, port, peer_tag)``."""

    def __init__(self, _id, ip, ipv6, port, peer_tag):
        if not isinstance(_id, int) or isinstance(_id, bool):
            raise TypeError("_id must be an int")
        if not isinstance(ip, str) or not isinstance(ipv6, str):
            raise TypeError("ip and ipv6 must be str")
        if not isinstance(port, int) or isinstance(port, bool):
            raise TypeError("port must be an int")
        if not isinstance(peer_tag, bytes):
            raise TypeError("peer_tag must be bytes")
        self._id, self.ip, self.ipv6, self.port, self.peer_tag = _id, ip, ipv6, port, peer_tag

    def __repr__(self):
        return '<_tgvoip.Endpoint _id=%d ip="%s" ipv6="%s" port=%d>' % (
            self._id, self.ip, self.ipv6, self.port)


class WebrtcEndpoint:
    """(extension) A phoneConnectionWebrtc STUN/TURN server of a tgcalls call."""

    def __init__(self, id, ip, ipv6, port, username="", password="", turn=False, stun=False):
        self.id, self.ip, self.ipv6, self.port = id, ip, ipv6, port
        self.username, self.password, self.turn, self.stun = username, password, turn, stun

    def __repr__(self):
        return "<tgvoip.WebrtcEndpoint id=%r ip=%r ipv6=%r port=%r turn=%r stun=%r>" % (
            self.id, self.ip, self.ipv6, self.port, self.turn, self.stun)


class VoIPServerConfig:
    @staticmethod
    def set_config(json_str):
        if not isinstance(json_str, str):
            raise TypeError("json_str must be a str")
        check(lib.tgvoip_server_config_update(json_str.encode()), "server config")


_LIVE = set()  # cores of controllers still running (closed at interpreter exit)


class _Core:
    """The native resources of one controller, kept apart from the Python object so that the
    object can be collected (which ends the call) while library threads still hold callbacks."""

    def __init__(self, owner):
        self.owner = weakref.ref(owner)
        self.lock = threading.RLock()
        self.handle = _lib.controller_p()
        check(lib.tgvoip_controller_new(ctypes.byref(self.handle)), "controller_new")
        self.bridge = _lib.bridge_p()
        check(lib.tgvoip_pcm_bridge_new(50, ctypes.byref(self.bridge)), "pcm_bridge_new")
        check(lib.tgvoip_pcm_bridge_attach(self.bridge, self.handle), "pcm_bridge_attach")
        self.native_io = False
        self.closed = False
        self.events = queue.Queue()
        self.threads = []
        self.sync_tid = None
        self.persistent_state_file = ""
        # ctypes callback objects must outlive every call the library may make into them.
        self.cb_state = _lib.state_cb_t(self._on_state)
        self.cb_bars = _lib.state_cb_t(self._on_bars)
        self.cb_signaling = _lib.signaling_cb_t(self._on_signaling)
        self.on_signaling = None
        _LIVE.add(self)

    # --- library threads: only queue ------------------------------------------------------
    def _on_state(self, _user, _c, state):
        self._event("state", state)

    def _on_bars(self, _user, _c, bars):
        self._event("bars", bars)

    def _on_signaling(self, _user, data, length):
        self._event("signaling", ctypes.string_at(data, length))

    def _event(self, kind, value):
        if threading.get_ident() == self.sync_tid:  # inside set_callbacks: deliver now
            self._deliver(kind, value)
        elif not self.closed:
            self.events.put((kind, value))

    def _deliver(self, kind, value):
        owner = self.owner()
        if owner is None:
            return
        try:
            if kind == "state":
                try:
                    state = CallState(value)
                except ValueError:
                    return
                owner._handle_state_change(state)
            elif kind == "signaling":
                if self.on_signaling is not None:
                    self.on_signaling(value)
            else:
                owner._handle_signal_bars_change(value)
        except Exception:  # a handler's exception must not kill the event thread
            sys.excepthook(*sys.exc_info())

    def install_callbacks(self):
        cbs = _lib.callbacks_t()
        lib.tgvoip_callbacks_init_default(ctypes.byref(cbs))
        cbs.state_changed = self.cb_state
        cbs.signal_bars_changed = self.cb_bars
        self.sync_tid = threading.get_ident()
        try:
            check(lib.tgvoip_controller_set_callbacks(self.handle, ctypes.byref(cbs)),
                  "set_callbacks")
        finally:
            self.sync_tid = None
        check(lib.tgvoip_controller_set_signaling_callback(self.handle, self.cb_signaling, None),
              "set_signaling_callback")
        self._spawn("tgvoip-py-events", self._event_loop)

    # --- Python worker threads --------------------------------------------------------------
    def _spawn(self, name, target):
        t = threading.Thread(target=target, name=name, daemon=True)
        self.threads.append(t)
        t.start()

    def start_audio(self):
        self._spawn("tgvoip-py-input", self._input_loop)
        self._spawn("tgvoip-py-output", self._output_loop)

    def _event_loop(self):
        while True:
            item = self.events.get()
            if item is None:
                return
            self._deliver(*item)

    def _input_loop(self):
        queued = ctypes.c_uint32()
        silence = bytes(_lib.FRAME_BYTES)
        while not self.closed:
            # Keep three frames (60 ms) queued for the audio thread; sleep in the library.
            lib.tgvoip_pcm_bridge_wait_input(self.bridge, 3, 200, ctypes.byref(queued))
            if self.closed:
                return
            for _ in range(max(0, 3 - queued.value)):
                owner = self.owner()
                if owner is None or self.closed:
                    return
                if self.native_io:
                    break
                try:
                    frame = owner._send_audio_frame_impl(_lib.FRAME_BYTES)
                except Exception:
                    sys.excepthook(*sys.exc_info())
                    frame = None
                del owner
                frame = _frame_bytes(frame, silence)
                if lib.tgvoip_pcm_bridge_push_input(self.bridge, frame, _lib.FRAME_SAMPLES) != 0:
                    break

    def _output_loop(self):
        avail = ctypes.c_uint32()
        got = ctypes.c_bool()
        buf = ctypes.create_string_buffer(_lib.FRAME_BYTES)
        while not self.closed:
            lib.tgvoip_pcm_bridge_wait_output(self.bridge, 200, ctypes.byref(avail))
            while not self.closed:
                lib.tgvoip_pcm_bridge_pop_output(self.bridge, buf, _lib.FRAME_SAMPLES,
                                                 ctypes.byref(got))
                if not got.value:
                    break
                owner = self.owner()
                if owner is None:
                    return
                try:
                    owner._recv_audio_frame_impl(buf.raw)
                except Exception:
                    sys.excepthook(*sys.exc_info())
                del owner

    # --- ending -------------------------------------------------------------------------------
    def stop(self):
        """Stops the call; the handle stays valid for getters. Safe from any thread, including
        the handler and audio threads of this controller (they are then joined on a helper
        thread instead of waited for)."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        rc = lib.tgvoip_controller_stop(self.handle)  # GIL released while the library joins
        lib.tgvoip_pcm_bridge_close(self.bridge)
        self._save_persistent_state()
        self.events.put(None)
        if rc == _lib.E_WOULD_DEADLOCK:  # only possible from the synchronous set_callbacks report
            threading.Thread(target=self._join, args=(True,), name="tgvoip-py-closer",
                             daemon=True).start()
        elif threading.current_thread() not in self.threads:
            self._join(False)

    def release(self):
        """Stops the call and frees the native handles (the object was collected, or exit)."""
        self.stop()
        if threading.current_thread() in self.threads or self.sync_tid is not None:
            threading.Thread(target=self._free, name="tgvoip-py-closer", daemon=True).start()
        else:
            self._free()

    def _join(self, stop_again):
        current = threading.current_thread()
        for t in self.threads:
            if t is not current and t.ident is not None:
                t.join()
        if stop_again:
            lib.tgvoip_controller_stop(self.handle)

    def _free(self):
        self._join(True)
        with self.lock:
            if self.handle is None:
                return
            handle, bridge, self.handle, self.bridge = self.handle, self.bridge, None, None
        lib.tgvoip_controller_free(handle)
        lib.tgvoip_pcm_bridge_free(bridge)
        _LIVE.discard(self)

    def _save_persistent_state(self):
        if not self.persistent_state_file:
            return
        blob = _lib.bytes_t()
        if lib.tgvoip_controller_get_persistent_state(self.handle, ctypes.byref(blob)) != 0:
            return
        try:
            data = ctypes.string_at(blob.data, blob.len) if blob.len else b""
        finally:
            lib.tgvoip_bytes_free(ctypes.byref(blob))
        try:
            with open(self.persistent_state_file, "wb") as f:
                f.write(data)
        except OSError as e:
            print("tgvoip: cannot write persistent state file %s: %s"
                  % (self.persistent_state_file, e), file=sys.stderr)


def _frame_bytes(frame, silence):
    """Exactly 1920 bytes from what a send callback returned (pytgvoip's native copy)."""
    if frame is None:
        return silence
    if not isinstance(frame, bytes):
        frame = bytes(frame)
    n = len(frame)
    if n == _lib.FRAME_BYTES:
        return frame
    if n > _lib.FRAME_BYTES:
        return frame[:_lib.FRAME_BYTES]
    return frame + bytes(_lib.FRAME_BYTES - n)


def _atexit():
    for core in list(_LIVE):
        try:
            core.release()
        except Exception:
            pass


import atexit  # noqa: E402

atexit.register(_atexit)


def _bool(v, what):
    if not isinstance(v, (bool, int)):
        raise TypeError("%s must be a bool" % what)
    return bool(v)


def _int(v, what):
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError("%s must be an int" % what)
    return v


def _str(v, what):
    if not isinstance(v, str):
        raise TypeError("%s must be a str" % what)
    return v


class _ClassProperty:
    def __init__(self, getter):
        self.getter = getter

    def __get__(self, obj, cls):
        return self.getter()


class VoIPController:
    """One call (libtgvoip's VoIPController). The call ends when the object is collected
    (pytgvoip's only way) or, in this library, explicitly with ``stop()``."""

    LIBTGVOIP_VERSION = _ClassProperty(_lib.version)
    CONNECTION_MAX_LAYER = _ClassProperty(lib.tgvoip_get_connection_max_layer)

    def __init__(self, persistent_state_file=""):
        self._persistent_state_file = _str(persistent_state_file, "persistent_state_file")
        self._core = None

    @property
    def persistent_state_file(self):
        return self._persistent_state_file

    def _c(self):
        core = self._core
        if core is None:
            raise RuntimeError("controller not initialised (call _init() first)")
        if core.closed:
            raise RuntimeError("the call has ended (stop() was called)")
        return core.handle

    def _init(self):
        if self._core is not None:
            return
        core = self._core = _Core(self)
        core.persistent_state_file = self._persistent_state_file
        self._finalizer = weakref.finalize(self, core.release)
        core.install_callbacks()
        path = self._persistent_state_file
        if path and os.path.isfile(path):
            try:
                size = os.path.getsize(path)
                if 0 < size < 512 * 1024:
                    with open(path, "rb") as f:
                        data = f.read()
                    check(lib.tgvoip_controller_set_persistent_state(core.handle, data, len(data)),
                          "set_persistent_state")
            except OSError as e:
                print("tgvoip: cannot read persistent state file %s: %s" % (path, e),
                      file=sys.stderr)

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self):
        check(lib.tgvoip_controller_start(self._c()), "start")

    def connect(self):
        check(lib.tgvoip_controller_connect(self._c()), "connect")
        self._core.start_audio()

    def stop(self):
        """Ends the call (idempotent). Callable from any thread, handlers and audio frame
        callbacks included; no handler or frame callback starts after it returns, except when
        called from one of them (that one finishes)."""
        if self._core is not None:
            self._core.stop()

    # --- setup ----------------------------------------------------------------------------------
    def set_proxy(self, address, port, username, password):
        check(lib.tgvoip_controller_set_proxy(
            self._c(), _lib.PROXY_SOCKS5, _str(address, "address").encode(), _int(port, "port"),
            _str(username, "username").encode(), _str(password, "password").encode()),
            "set_proxy")

    def set_encryption_key(self, key, is_outgoing):
        if not isinstance(key, bytes):
            raise TypeError("key must be bytes")
        check(lib.tgvoip_controller_set_encryption_key(
            self._c(), key[:256], min(len(key), 256), _bool(is_outgoing, "is_outgoing")),
            "set_encryption_key")

    def set_remote_endpoints(self, endpoints, allow_p2p, tcp, connection_max_layer):
        if not isinstance(endpoints, (list, tuple)):
            raise TypeError("endpoints must be a list of Endpoint")
        arr = (_lib.endpoint_t * max(1, len(endpoints)))()
        keep = []
        for i, ep in enumerate(endpoints):
            if not isinstance(ep, Endpoint):
                raise TypeError("endpoints must be a list of Endpoint, got %r" % (ep,))
            e = arr[i]
            e.id = _int(ep._id, "_id")
            ip, ip6 = _str(ep.ip, "ip").encode(), _str(ep.ipv6, "ipv6").encode()
            keep += [ip, ip6]
            e.ipv4, e.ipv6 = ip, ip6 or None
            e.port = _int(ep.port, "port")
            e.type = _lib.ENDPOINT_UDP_RELAY
            if not isinstance(ep.peer_tag, bytes):
                raise TypeError("peer_tag must be bytes")
            tag = ep.peer_tag[:16].ljust(16, b"\0")
            ctypes.memmove(e.peer_tag, tag, 16)
        check(lib.tgvoip_controller_set_remote_endpoints(
            self._c(), arr, len(endpoints), _bool(allow_p2p, "allow_p2p"), _bool(tcp, "tcp"),
            _int(connection_max_layer, "connection_max_layer")), "set_remote_endpoints")

    # --- protocol choice and tgcalls signaling (extension) --------------------------------------
    SUPPORTED_VERSIONS = _ClassProperty(_lib.supported_versions)

    def set_protocol_version(self, version):
        """(extension) The version the server chose (phoneCall.protocol.library_versions[0]):
        "9.0.0" / "8.0.0" (tgcalls) or "2.4.4" (the default). Before start(); ValueError for
        an unsupported version."""
        check(lib.tgvoip_controller_set_protocol_version(self._c(), _str(version, "version").encode()),
              "set_protocol_version")

    def get_protocol_version(self):
        """(extension) The protocol version in use."""
        p = ctypes.c_void_p()
        check(lib.tgvoip_controller_get_protocol_version(self._h(), ctypes.byref(p)),
              "protocol_version")
        return _lib.take_string(p)

    def set_webrtc_endpoints(self, endpoints):
        """(extension) phoneConnectionWebrtc servers of a tgcalls call: a list of WebrtcEndpoint
        (empty = direct paths only). Before connect()."""
        if not isinstance(endpoints, (list, tuple)):
            raise TypeError("endpoints must be a list of WebrtcEndpoint")
        arr = (_lib.webrtc_endpoint_t * max(1, len(endpoints)))()
        keep = []
        for i, ep in enumerate(endpoints):
            if not isinstance(ep, WebrtcEndpoint):
                raise TypeError("endpoints must be a list of WebrtcEndpoint, got %r" % (ep,))
            e = arr[i]
            e.id = _int(ep.id, "id")
            fields = [_str(v, n).encode() for v, n in ((ep.ip, "ip"), (ep.ipv6, "ipv6"),
                                                       (ep.username, "username"),
                                                       (ep.password, "password"))]
            keep += fields
            e.ipv4, e.ipv6, e.username, e.password = fields
            e.port = _int(ep.port, "port")
            e.turn, e.stun = _bool(ep.turn, "turn"), _bool(ep.stun, "stun")
        check(lib.tgvoip_controller_set_webrtc_endpoints(self._c(), arr, len(endpoints)),
              "set_webrtc_endpoints")

    def set_signaling_callback(self, callback):
        """(extension) ``callback(data: bytes)`` receives each outgoing signaling blob of a
        tgcalls call (send it with phone.sendSignalingData); it runs on the controller's event
        thread. None removes it."""
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable or None")
        self._c()
        self._core.on_signaling = callback

    def receive_signaling_data(self, data):
        """(extension) Signaling from updatePhoneCallSignalingData.data; any time before stop()
        (kept until the call runs)."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("data must be bytes")
        data = bytes(data)
        check(lib.tgvoip_controller_receive_signaling_data(self._c(), data, len(data)),
              "receive_signaling_data")

    def get_remote_mic_muted(self):
        """(extension) The peer's mute flag (tgcalls calls); None until it is known."""
        v = self._get(lib.tgvoip_controller_get_remote_mic_muted, ctypes.c_int32,
                      "remote_mic_muted")
        return None if v < 0 else bool(v)

    def get_media_connect_time_ms(self):
        """(extension) Milliseconds from connect() to media connected (tgcalls); None before."""
        v = self._get(lib.tgvoip_controller_get_media_connect_time_ms, ctypes.c_int64,
                      "media_connect_time_ms")
        return None if v < 0 else v

    def get_rtp_packet_counts(self):
        """(extension) (sent, received) RTP audio packets of a tgcalls call."""
        s, r = ctypes.c_uint64(), ctypes.c_uint64()
        check(lib.tgvoip_controller_get_rtp_packet_counts(self._h(), ctypes.byref(s),
                                                          ctypes.byref(r)), "rtp_packet_counts")
        return s.value, r.value

    def set_config(self, init_timeout, recv_timeout, data_saving, enable_aec, enable_ns,
                   enable_agc, log_file_path, status_dump_path, log_packet_stats, call_id=""):
        """Native order: init timeout first (as the C++ definition), unlike pytgvoip's
        Python layer which passed its ``recv_timeout`` here (see the README)."""
        cfg = _lib.config_t()
        lib.tgvoip_config_init_default(ctypes.byref(cfg))
        for v, what in ((init_timeout, "init_timeout"), (recv_timeout, "recv_timeout")):
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise TypeError("%s must be a number" % what)
        cfg.init_timeout, cfg.recv_timeout = float(init_timeout), float(recv_timeout)
        cfg.data_saving = _enum_value(data_saving, DataSaving, "data_saving")
        cfg.enable_aec = _bool(enable_aec, "enable_aec")
        cfg.enable_ns = _bool(enable_ns, "enable_ns")
        cfg.enable_agc = _bool(enable_agc, "enable_agc")
        cfg.log_packet_stats = _bool(log_packet_stats, "log_packet_stats")
        cfg.log_file_path = _lib.fs_path(_str(log_file_path, "log_file_path"))
        cfg.stats_dump_file_path = _lib.fs_path(_str(status_dump_path, "status_dump_path"))
        cfg.call_id = str(call_id).encode()
        check(lib.tgvoip_controller_set_config(self._c(), ctypes.byref(cfg)), "set_config")

    def set_network_type(self, net_type):
        check(lib.tgvoip_controller_set_network_type(
            self._c(), _enum_value(net_type, NetType, "network type")), "set_network_type")

    def set_mic_mute(self, mute):
        check(lib.tgvoip_controller_set_mic_mute(self._c(), _bool(mute, "mute")), "set_mic_mute")

    def debug_ctl(self, request, param):
        rc = lib.tgvoip_controller_debug_ctl(self._c(), _int(request, "request"),
                                             _int(param, "param"))
        if rc == _lib.E_NOT_SUPPORTED:  # accepted and ignored (libtgvoip tuning knobs)
            import warnings
            warnings.warn("tgvoip: debug_ctl(%d, %d) is not supported and has no effect"
                          % (request, param), RuntimeWarning, stacklevel=2)
            return
        check(rc, "debug_ctl")

    def set_audio_output_gain_control_enabled(self, enabled):
        check(lib.tgvoip_controller_set_audio_output_gain_control_enabled(
            self._c(), _bool(enabled, "enabled")), "set_audio_output_gain_control_enabled")

    def set_echo_cancellation_strength(self, strength):
        check(lib.tgvoip_controller_set_echo_cancellation_strength(
            self._c(), _int(strength, "strength")), "set_echo_cancellation_strength")

    # --- getters (still valid after stop) -------------------------------------------------
    def _h(self):
        if self._core is None or self._core.handle is None:
            raise RuntimeError("controller not initialised (call _init() first)")
        return self._core.handle

    def _get(self, fn, ctype, what):
        v = ctype()
        check(fn(self._h(), ctypes.byref(v)), what)
        return v.value

    def get_debug_string(self):
        p = ctypes.c_void_p()
        check(lib.tgvoip_controller_get_debug_string(self._h(), ctypes.byref(p)), "debug_string")
        return _lib.take_string(p)

    def get_debug_log(self):
        p = ctypes.c_void_p()
        check(lib.tgvoip_controller_get_debug_log(self._h(), ctypes.byref(p)), "debug_log")
        return _lib.take_string(p)

    def get_preferred_relay_id(self):
        return self._get(lib.tgvoip_controller_get_preferred_relay_id, ctypes.c_int64,
                         "preferred_relay_id")

    def get_last_error(self):
        return CallError(self._get(lib.tgvoip_controller_get_last_error, ctypes.c_int32,
                                   "last_error"))

    def get_stats(self):
        s = _lib.traffic_stats_t()
        check(lib.tgvoip_controller_get_stats(self._h(), ctypes.byref(s)), "get_stats")
        return Stats(s.bytes_sent_wifi, s.bytes_sent_mobile, s.bytes_recvd_wifi,
                     s.bytes_recvd_mobile)

    def get_peer_capabilities(self):
        return self._get(lib.tgvoip_controller_get_peer_capabilities, ctypes.c_uint32,
                         "peer_capabilities")

    def need_rate(self):
        return self._get(lib.tgvoip_controller_need_rate, ctypes.c_bool, "need_rate")

    def get_connection_state(self):
        """(extension) The current CallState."""
        return CallState(self._get(lib.tgvoip_controller_get_connection_state, ctypes.c_int32,
                                   "connection_state"))

    def get_bridge_stats(self):
        """(extension) Audio frames exchanged with the library's audio thread:
        dict(input_frames, input_underruns, output_frames, output_overruns)."""
        s = _lib.bridge_stats_t()
        check(lib.tgvoip_pcm_bridge_get_stats(self._core.bridge, ctypes.byref(s)), "bridge")
        return {k: getattr(s, k) for k, _ in _lib.bridge_stats_t._fields_}

    # --- native file I/O ----------------------------------------------------------------------
    def _native_io_get(self):
        return self._get(lib.tgvoip_controller_get_native_io, ctypes.c_bool, "native_io")

    def _native_io_set(self, value):
        value = _bool(value, "native_io")
        check(lib.tgvoip_controller_set_native_io(self._h(), value), "native_io")
        self._core.native_io = value

    def play(self, path):
        rc = lib.tgvoip_controller_play(self._c(), _lib.fs_path(path))
        if rc == _lib.E_IO:
            print("tgvoip: cannot open %s for playing" % (path,), file=sys.stderr)
            return False
        check(rc, "play")
        return True

    def play_on_hold(self, paths):
        if not isinstance(paths, (list, tuple)):
            raise TypeError("paths must be a list of str")
        encoded = [_lib.fs_path(p) for p in paths]
        opened = []
        for p, raw in zip(paths, encoded):  # report the unopenable ones like pytgvoip
            try:
                with open(raw, "rb"):
                    opened.append(raw)
            except OSError:
                print("tgvoip: cannot open %s for playing on hold" % (p,), file=sys.stderr)
        arr = (ctypes.c_char_p * max(1, len(opened)))(*opened)
        check(lib.tgvoip_controller_play_on_hold(self._c(), arr, len(opened), None),
              "play_on_hold")

    def set_output_file(self, path):
        rc = lib.tgvoip_controller_set_output_file(self._c(), _lib.fs_path(path))
        if rc == _lib.E_IO:
            print("tgvoip: cannot open %s for writing" % (path,), file=sys.stderr)
            return False
        check(rc, "set_output_file")
        return True

    def clear_play_queue(self):
        check(lib.tgvoip_controller_clear_play_queue(self._h()), "clear_play_queue")

    def clear_hold_queue(self):
        check(lib.tgvoip_controller_clear_hold_queue(self._h()), "clear_hold_queue")

    def unset_output_file(self):
        check(lib.tgvoip_controller_unset_output_file(self._h()), "unset_output_file")

    # --- overridable ----------------------------------------------------------------------------
    def _handle_state_change(self, state):
        raise NotImplementedError()

    def _handle_signal_bars_change(self, count):
        raise NotImplementedError()

    def _send_audio_frame_impl(self, length):
        return b""

    def _recv_audio_frame_impl(self, frame):
        pass


__version__ = _lib.impl_version()
