// Package tgvoip is a Go binding of tgvoip-rs, a Rust reimplementation of Telegram's VoIP
// library libtgvoip 2.4.4, over its C ABI (include/tgvoip.h).
//
// A call: New, SetEncryptionKey, SetRemoteEndpoints, SetCallbacks and SetAudioCallbacks (or
// native file I/O with SetNativeIO, Play and SetOutputFile), Start, Connect, ... Stop, Close.
// Failing calls return an *Error with the library's message. Callbacks reach Go through a
// runtime/cgo.Handle passed as the C user_data, so C never holds a Go pointer.
package tgvoip

/*
#include <stdlib.h>
#include <tgvoip.h>

void tgvoip_go_state_cb(void *user_data, tgvoip_controller_t *c, int32_t state);
void tgvoip_go_bars_cb(void *user_data, tgvoip_controller_t *c, int32_t bars);
void tgvoip_go_input_cb(void *user_data, int16_t *samples, size_t n);
void tgvoip_go_output_cb(void *user_data, int16_t *samples, size_t n);
void tgvoip_go_preprocessed_cb(void *user_data, int16_t *samples, size_t n);

// The cgo.Handle travels as an integer; C sees it only as an opaque user_data value.
static tgvoip_status_t tgvoip_go_set_callbacks(tgvoip_controller_t *c, uintptr_t h, int on) {
	tgvoip_callbacks_t cbs;
	tgvoip_callbacks_init_default(&cbs);
	if (!on) return tgvoip_controller_set_callbacks(c, NULL);
	cbs.user_data = (void *)h;
	cbs.state_changed = tgvoip_go_state_cb;
	cbs.signal_bars_changed = tgvoip_go_bars_cb;
	return tgvoip_controller_set_callbacks(c, &cbs);
}

static tgvoip_status_t tgvoip_go_set_audio(tgvoip_controller_t *c, uintptr_t h, int in, int out, int pre) {
	return tgvoip_controller_set_audio_data_callbacks(c,
		in ? tgvoip_go_input_cb : NULL,
		out ? tgvoip_go_output_cb : NULL,
		pre ? tgvoip_go_preprocessed_cb : NULL,
		(void *)h);
}
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Controller is one call (libtgvoip's VoIPController). Methods are safe for concurrent use.
// Close it when done; a finalizer closes a forgotten one.
type Controller struct {
	mu     sync.RWMutex
	ptr    *C.tgvoip_controller_t
	handle cgo.Handle
	cbs    *callbackSet
}

// callbackSet is what the cgo.Handle refers to. It does not point back to the Controller, so a
// dropped Controller stays collectable and its finalizer can run.
type callbackSet struct {
	mu    sync.Mutex
	event Callbacks
	audio AudioCallbacks
	// signaling receives outgoing tgcalls signaling (SetSignalingCallback).
	signaling func(data []byte)
}

// New creates a controller in StateWaitInit with the default config.
func New() (*Controller, error) {
	var p *C.tgvoip_controller_t
	if err := call("controller_new", func() C.tgvoip_status_t { return C.tgvoip_controller_new(&p) }); err != nil {
		return nil, err
	}
	c := &Controller{ptr: p, cbs: &callbackSet{}}
	c.handle = cgo.NewHandle(c.cbs)
	runtime.SetFinalizer(c, func(c *Controller) { _ = c.Close() })
	return c, nil
}

// do runs f with the live C handle (ErrClosed after Close), holding the read lock so Close
// cannot free the handle underneath it.
func (c *Controller) do(op string, f func(p *C.tgvoip_controller_t) C.tgvoip_status_t) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		return ErrClosed
	}
	p := c.ptr
	err := call(op, func() C.tgvoip_status_t { return f(p) })
	runtime.KeepAlive(c)
	return err
}

// Close stops the call if needed and frees the controller; later calls return ErrClosed. It is
// idempotent. From inside one of the controller's callbacks it returns an error wrapping
// ErrWouldDeadlock and frees nothing.
func (c *Controller) Close() error {
	c.mu.Lock()
	p := c.ptr
	c.ptr = nil
	c.mu.Unlock()
	if p == nil {
		return nil
	}
	// Not under the lock: free waits for running callbacks, which may call getters.
	err := call("controller_free", func() C.tgvoip_status_t { return C.tgvoip_controller_free(p) })
	if err != nil {
		c.mu.Lock()
		c.ptr = p
		c.mu.Unlock()
		return err
	}
	// No callback can run any more: the handle may go.
	c.handle.Delete()
	runtime.SetFinalizer(c, nil)
	return nil
}

// SetConfig sets the call configuration (any time; timeouts apply at Connect).
func (c *Controller) SetConfig(cfg Config) error {
	var cc C.tgvoip_config_t
	C.tgvoip_config_init_default(&cc)
	cc.init_timeout = C.double(cfg.InitTimeout)
	cc.recv_timeout = C.double(cfg.RecvTimeout)
	cc.data_saving = C.int32_t(cfg.DataSaving)
	cc.enable_aec = C.bool(cfg.EnableAEC)
	cc.enable_ns = C.bool(cfg.EnableNS)
	cc.enable_agc = C.bool(cfg.EnableAGC)
	cc.enable_call_upgrade = C.bool(cfg.EnableCallUpgrade)
	cc.log_packet_stats = C.bool(cfg.LogPacketStats)
	cc.enable_volume_control = C.bool(cfg.EnableVolumeControl)
	if cfg.LogFilePath != "" {
		cc.log_file_path = C.CString(cfg.LogFilePath)
		defer C.free(unsafe.Pointer(cc.log_file_path))
	}
	if cfg.StatsDumpFilePath != "" {
		cc.stats_dump_file_path = C.CString(cfg.StatsDumpFilePath)
		defer C.free(unsafe.Pointer(cc.stats_dump_file_path))
	}
	return c.do("set_config", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_set_config(p, &cc)
	})
}

// SetEncryptionKey sets the call's 256-byte key and whether this side is the caller. Must
// precede Connect.
func (c *Controller) SetEncryptionKey(key []byte, isOutgoing bool) error {
	var kp *C.uint8_t
	if len(key) > 0 {
		kp = (*C.uint8_t)(unsafe.Pointer(&key[0]))
	}
	err := c.do("set_encryption_key", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_set_encryption_key(p, kp, C.size_t(len(key)), C.bool(isOutgoing))
	})
	runtime.KeepAlive(key)
	return err
}

// SetRemoteEndpoints sets the relays (must precede Connect). tcp turns every entry into a TCP
// relay (not supported by this library); maxLayer is normally ConnectionMaxLayer().
func (c *Controller) SetRemoteEndpoints(eps []Endpoint, allowP2P, tcp bool, maxLayer int32) error {
	// C memory only: the array and its strings are freed when the call returns (the library
	// copies them).
	n := len(eps)
	var arr *C.tgvoip_endpoint_t
	if n > 0 {
		arr = (*C.tgvoip_endpoint_t)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.tgvoip_endpoint_t{}))))
		defer C.free(unsafe.Pointer(arr))
	}
	cs := unsafe.Slice(arr, n)
	for i, e := range eps {
		cs[i].id = C.int64_t(e.ID)
		if e.IPv4 != "" {
			cs[i].ipv4 = C.CString(e.IPv4)
			defer C.free(unsafe.Pointer(cs[i].ipv4))
		}
		if e.IPv6 != "" {
			cs[i].ipv6 = C.CString(e.IPv6)
			defer C.free(unsafe.Pointer(cs[i].ipv6))
		}
		cs[i].port = C.uint16_t(e.Port)
		cs[i]._type = C.int32_t(e.Type)
		for j, b := range e.PeerTag {
			cs[i].peer_tag[j] = C.uint8_t(b)
		}
	}
	return c.do("set_remote_endpoints", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_set_remote_endpoints(p, arr, C.size_t(n), C.bool(allowP2P), C.bool(tcp), C.int32_t(maxLayer))
	})
}

// SetNetworkType tells the library which network the device is on (any time).
func (c *Controller) SetNetworkType(t NetworkType) error {
	return c.do("set_network_type", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_set_network_type(p, C.int32_t(t))
	})
}

// SetMicMute mutes or unmutes the microphone (any time).
func (c *Controller) SetMicMute(mute bool) error {
	return c.do("set_mic_mute", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_set_mic_mute(p, C.bool(mute))
	})
}

// SetCallbacks registers the event callbacks (a zero Callbacks removes them). Like libtgvoip,
// StateChanged is called once right away, on this goroutine, with the current state.
func (c *Controller) SetCallbacks(cb Callbacks) error {
	c.cbs.mu.Lock()
	c.cbs.event = cb
	c.cbs.mu.Unlock()
	on := cb.StateChanged != nil || cb.SignalBarsChanged != nil
	return c.do("set_callbacks", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_go_set_callbacks(p, C.uintptr_t(c.handle), cbool(on))
	})
}

// SetAudioCallbacks registers the audio callbacks (nil fields: silence in, output discarded).
// Must precede Connect. See AudioCallbacks for the real-time rules.
func (c *Controller) SetAudioCallbacks(cb AudioCallbacks) error {
	err := c.do("set_audio_data_callbacks", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_go_set_audio(p, C.uintptr_t(c.handle), cbool(cb.Input != nil), cbool(cb.Output != nil), cbool(cb.Preprocessed != nil))
	})
	if err == nil {
		// Stored after the library accepted them: it refuses once connected, and audio
		// callbacks only run after Connect, so the real-time thread reads them without a lock.
		c.cbs.mu.Lock()
		c.cbs.audio = cb
		c.cbs.mu.Unlock()
	}
	return err
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// SetNativeIO switches between the audio callbacks (false, default) and native file I/O (true):
// the play queue is the microphone, heard audio goes to the output file. No Go code runs on the
// real-time thread in this mode.
func (c *Controller) SetNativeIO(enabled bool) error {
	return c.do("set_native_io", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_set_native_io(p, C.bool(enabled))
	})
}

// Play appends a raw PCM file (s16le, 48 kHz, mono) to the play queue (native I/O).
func (c *Controller) Play(path string) error {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	return c.do("play", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_play(p, cp)
	})
}

// SetOutputFile writes what is heard to path (truncated; native I/O).
func (c *Controller) SetOutputFile(path string) error {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	return c.do("set_output_file", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_set_output_file(p, cp)
	})
}

// SetPersistentState restores the blob from PersistentState (invalid blobs are ignored).
func (c *Controller) SetPersistentState(blob []byte) error {
	var bp *C.uint8_t
	if len(blob) > 0 {
		bp = (*C.uint8_t)(unsafe.Pointer(&blob[0]))
	}
	err := c.do("set_persistent_state", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_set_persistent_state(p, bp, C.size_t(len(blob)))
	})
	runtime.KeepAlive(blob)
	return err
}

// PersistentState returns the blob to keep between calls.
func (c *Controller) PersistentState() ([]byte, error) {
	var out []byte
	err := c.do("get_persistent_state", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		var b C.tgvoip_bytes_t
		st := C.tgvoip_controller_get_persistent_state(p, &b)
		if st == C.TGVOIP_OK {
			out = C.GoBytes(unsafe.Pointer(b.data), C.int(b.len))
			C.tgvoip_bytes_free(&b)
		}
		return st
	})
	return out, err
}

// Start opens the UDP socket (once, before Connect).
func (c *Controller) Start() error {
	return c.do("start", func(p *C.tgvoip_controller_t) C.tgvoip_status_t { return C.tgvoip_controller_start(p) })
}

// Connect starts the handshake and the audio and network threads (once, after Start, with the
// key and endpoints set).
func (c *Controller) Connect() error {
	return c.do("connect", func(p *C.tgvoip_controller_t) C.tgvoip_status_t { return C.tgvoip_controller_connect(p) })
}

// Stop ends the call (idempotent). When it returns no callback runs again; getters still work.
func (c *Controller) Stop() error {
	return c.do("stop", func(p *C.tgvoip_controller_t) C.tgvoip_status_t { return C.tgvoip_controller_stop(p) })
}

// State returns the connection state.
func (c *Controller) State() (State, error) {
	var v C.int32_t
	err := c.do("get_connection_state", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_get_connection_state(p, &v)
	})
	return State(v), err
}

// LastError returns why the call failed (CallErrorUnknown until a failure).
func (c *Controller) LastError() (CallError, error) {
	var v C.int32_t
	err := c.do("get_last_error", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_get_last_error(p, &v)
	})
	return CallError(v), err
}

// SignalBars returns the signal strength 0..4.
func (c *Controller) SignalBars() (int, error) {
	var v C.int32_t
	err := c.do("get_signal_bars_count", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_get_signal_bars_count(p, &v)
	})
	return int(v), err
}

// Stats returns the traffic counters.
func (c *Controller) Stats() (TrafficStats, error) {
	var s C.tgvoip_traffic_stats_t
	err := c.do("get_stats", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_get_stats(p, &s)
	})
	return TrafficStats{
		BytesSentWifi:    uint64(s.bytes_sent_wifi),
		BytesRecvdWifi:   uint64(s.bytes_recvd_wifi),
		BytesSentMobile:  uint64(s.bytes_sent_mobile),
		BytesRecvdMobile: uint64(s.bytes_recvd_mobile),
	}, err
}

// AverageRTT returns the mean round-trip time in seconds (999 before any measurement).
func (c *Controller) AverageRTT() (float64, error) {
	var v C.double
	err := c.do("get_average_rtt", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_get_average_rtt(p, &v)
	})
	return float64(v), err
}

// CallDuration returns the seconds since the call first became established (frozen at Stop).
func (c *Controller) CallDuration() (float64, error) {
	var v C.double
	err := c.do("get_call_duration", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_get_call_duration(p, &v)
	})
	return float64(v), err
}

// PreferredRelayID returns the relay id to report to the server.
func (c *Controller) PreferredRelayID() (int64, error) {
	var v C.int64_t
	err := c.do("get_preferred_relay_id", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_get_preferred_relay_id(p, &v)
	})
	return int64(v), err
}

func (c *Controller) str(op string, f func(p *C.tgvoip_controller_t, out **C.char) C.tgvoip_status_t) (string, error) {
	var s string
	err := c.do(op, func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		var out *C.char
		st := f(p, &out)
		if st == C.TGVOIP_OK {
			s = C.GoString(out)
			C.tgvoip_string_free(out)
		}
		return st
	})
	return s, err
}

// DebugLog returns the debug log JSON (for phone.saveCallDebug).
func (c *Controller) DebugLog() (string, error) {
	return c.str("get_debug_log", func(p *C.tgvoip_controller_t, out **C.char) C.tgvoip_status_t {
		return C.tgvoip_controller_get_debug_log(p, out)
	})
}

// DebugString returns the human-readable debug text.
func (c *Controller) DebugString() (string, error) {
	return c.str("get_debug_string", func(p *C.tgvoip_controller_t, out **C.char) C.tgvoip_status_t {
		return C.tgvoip_controller_get_debug_string(p, out)
	})
}

// Version returns the libtgvoip version this library is compatible with ("2.4.4").
func Version() string { return C.GoString(C.tgvoip_get_version()) }

// ImplVersion returns the version of the Rust implementation.
func ImplVersion() string { return C.GoString(C.tgvoip_impl_version()) }

// ConnectionMaxLayer returns the layer to put in phoneCallProtocol.max_layer (92).
func ConnectionMaxLayer() int32 { return int32(C.tgvoip_get_connection_max_layer()) }

// UpdateServerConfig merges phone.getCallConfig JSON into the process-wide server config.
func UpdateServerConfig(json string) error {
	cs := C.CString(json)
	defer C.free(unsafe.Pointer(cs))
	return call("server_config_update", func() C.tgvoip_status_t { return C.tgvoip_server_config_update(cs) })
}

// KeyFingerprint returns the TL key_fingerprint of a 256-byte key.
func KeyFingerprint(key []byte) (int64, error) {
	var out C.int64_t
	var kp *C.uint8_t
	if len(key) > 0 {
		kp = (*C.uint8_t)(unsafe.Pointer(&key[0]))
	}
	err := call("util_key_fingerprint", func() C.tgvoip_status_t {
		return C.tgvoip_util_key_fingerprint(kp, C.size_t(len(key)), &out)
	})
	runtime.KeepAlive(key)
	return int64(out), err
}

// EmojiString returns the four key-verification emoji of a call (key and the caller's g_a, both
// 256 bytes), joined by spaces.
func EmojiString(key, gA []byte) (string, error) {
	var kp, gp *C.uint8_t
	if len(key) > 0 {
		kp = (*C.uint8_t)(unsafe.Pointer(&key[0]))
	}
	if len(gA) > 0 {
		gp = (*C.uint8_t)(unsafe.Pointer(&gA[0]))
	}
	var s string
	err := call("util_emoji_string", func() C.tgvoip_status_t {
		var out *C.char
		st := C.tgvoip_util_emoji_string(kp, C.size_t(len(key)), gp, C.size_t(len(gA)), &out)
		if st == C.TGVOIP_OK {
			s = C.GoString(out)
			C.tgvoip_string_free(out)
		}
		return st
	})
	runtime.KeepAlive(key)
	runtime.KeepAlive(gA)
	return s, err
}
