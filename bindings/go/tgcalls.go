package tgvoip

/*
#include <stdlib.h>
#include <tgvoip.h>

void tgvoip_go_signaling_cb(void *user_data, const uint8_t *data, size_t len);

static tgvoip_status_t tgvoip_go_set_signaling(tgvoip_controller_t *c, uintptr_t h, int on) {
	return tgvoip_controller_set_signaling_callback(c, on ? tgvoip_go_signaling_cb : NULL, (void *)h);
}
*/
import "C"

import (
	"unsafe"
)

// Protocol choice and tgcalls 8.0.0 / 9.0.0 calls: an app lists SupportedVersions in
// phoneCallProtocol.library_versions, calls SetProtocolVersion with the version the server chose
// (phoneCall.protocol.library_versions[0]), passes phoneConnectionWebrtc servers to
// SetWebrtcEndpoints and relays signaling both ways (SetSignalingCallback → phone.sendSignalingData,
// updatePhoneCallSignalingData → ReceiveSignalingData).

// WebrtcEndpoint is a STUN/TURN server from phoneConnectionWebrtc.
type WebrtcEndpoint struct {
	ID       int64
	IPv4     string // "" = none
	IPv6     string // "" = none
	Port     uint16
	Turn     bool
	Stun     bool
	Username string
	Password string
}

// SupportedVersions returns the protocol versions the library speaks, best first
// ("9.0.0", "8.0.0", "2.4.4").
func SupportedVersions() []string {
	n := int(C.tgvoip_get_supported_version_count())
	v := make([]string, 0, n)
	for i := 0; i < n; i++ {
		v = append(v, C.GoString(C.tgvoip_get_supported_version(C.size_t(i))))
	}
	return v
}

// SetProtocolVersion sets the version the server chose; before Start. An unsupported version
// gives an error wrapping ErrInvalidArgument, a call after Start ErrInvalidState.
func (c *Controller) SetProtocolVersion(version string) error {
	cs := C.CString(version)
	defer C.free(unsafe.Pointer(cs))
	return c.do("set_protocol_version", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_set_protocol_version(p, cs)
	})
}

// ProtocolVersion returns the protocol version in use ("2.4.4" unless set).
func (c *Controller) ProtocolVersion() (string, error) {
	return c.str("get_protocol_version", func(p *C.tgvoip_controller_t, out **C.char) C.tgvoip_status_t {
		return C.tgvoip_controller_get_protocol_version(p, out)
	})
}

// SetWebrtcEndpoints sets the phoneConnectionWebrtc servers of a tgcalls call (empty: direct
// paths only); before Connect.
func (c *Controller) SetWebrtcEndpoints(eps []WebrtcEndpoint) error {
	n := len(eps)
	var arr *C.tgvoip_webrtc_endpoint_t
	if n > 0 {
		arr = (*C.tgvoip_webrtc_endpoint_t)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.tgvoip_webrtc_endpoint_t{}))))
		defer C.free(unsafe.Pointer(arr))
	}
	cs := unsafe.Slice(arr, n)
	str := func(s string) *C.char {
		p := C.CString(s)
		return p
	}
	var strs []*C.char
	defer func() {
		for _, p := range strs {
			C.free(unsafe.Pointer(p))
		}
	}()
	for i, e := range eps {
		cs[i].id = C.int64_t(e.ID)
		cs[i].ipv4, cs[i].ipv6 = str(e.IPv4), str(e.IPv6)
		cs[i].username, cs[i].password = str(e.Username), str(e.Password)
		strs = append(strs, cs[i].ipv4, cs[i].ipv6, cs[i].username, cs[i].password)
		cs[i].port = C.uint16_t(e.Port)
		cs[i].turn = C.bool(e.Turn)
		cs[i].stun = C.bool(e.Stun)
	}
	return c.do("set_webrtc_endpoints", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_set_webrtc_endpoints(p, arr, C.size_t(n))
	})
}

// SetSignalingCallback installs f (nil removes it) to receive each outgoing signaling blob of a
// tgcalls call; send it with phone.sendSignalingData. f runs on the library's callback
// goroutine-bound thread, in order; the slice is f's to keep. Before Connect.
func (c *Controller) SetSignalingCallback(f func(data []byte)) error {
	c.cbs.mu.Lock()
	c.cbs.signaling = f
	c.cbs.mu.Unlock()
	return c.do("set_signaling_callback", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_go_set_signaling(p, C.uintptr_t(c.handle), cbool(f != nil))
	})
}

// ReceiveSignalingData feeds updatePhoneCallSignalingData.data to a tgcalls call; any time
// before Stop (kept until the call runs).
func (c *Controller) ReceiveSignalingData(data []byte) error {
	var dp *C.uint8_t
	if len(data) > 0 {
		dp = (*C.uint8_t)(C.CBytes(data))
		defer C.free(unsafe.Pointer(dp))
	}
	return c.do("receive_signaling_data", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_receive_signaling_data(p, dp, C.size_t(len(data)))
	})
}

// RemoteMicMuted returns the peer's mute flag (tgcalls calls); known is false until the peer's
// media state arrived.
func (c *Controller) RemoteMicMuted() (muted, known bool, err error) {
	var v C.int32_t
	err = c.do("get_remote_mic_muted", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_get_remote_mic_muted(p, &v)
	})
	return v == 1, v >= 0, err
}

// MediaConnectTimeMs returns the milliseconds from Connect until media connected (tgcalls
// calls), or -1 before that.
func (c *Controller) MediaConnectTimeMs() (int64, error) {
	var v C.int64_t
	err := c.do("get_media_connect_time_ms", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_get_media_connect_time_ms(p, &v)
	})
	return int64(v), err
}

// RTPPacketCounts returns the RTP audio packets sent and received (tgcalls calls).
func (c *Controller) RTPPacketCounts() (sent, received uint64, err error) {
	var s, r C.uint64_t
	err = c.do("get_rtp_packet_counts", func(p *C.tgvoip_controller_t) C.tgvoip_status_t {
		return C.tgvoip_controller_get_rtp_packet_counts(p, &s, &r)
	})
	return uint64(s), uint64(r), err
}
