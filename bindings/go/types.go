package tgvoip

import "fmt"

// State is the connection state of a call (libtgvoip's STATE_*).
type State int32

// Connection states.
const (
	StateWaitInit     State = 1
	StateWaitInitAck  State = 2
	StateEstablished  State = 3
	StateFailed       State = 4
	StateReconnecting State = 5
)

// String returns the libtgvoip name of the state ("ESTABLISHED", ...).
func (s State) String() string {
	switch s {
	case StateWaitInit:
		return "WAIT_INIT"
	case StateWaitInitAck:
		return "WAIT_INIT_ACK"
	case StateEstablished:
		return "ESTABLISHED"
	case StateFailed:
		return "FAILED"
	case StateReconnecting:
		return "RECONNECTING"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// CallError is why a call failed (libtgvoip's ERROR_*).
type CallError int32

// Call errors.
const (
	CallErrorUnknown      CallError = 0
	CallErrorIncompatible CallError = 1
	CallErrorTimeout      CallError = 2
	CallErrorAudioIO      CallError = 3
	CallErrorProxy        CallError = 4
)

// NetworkType is the kind of network the device is on (libtgvoip's NET_TYPE_*).
type NetworkType int32

// Network types.
const (
	NetUnknown        NetworkType = 0
	NetGPRS           NetworkType = 1
	NetEDGE           NetworkType = 2
	Net3G             NetworkType = 3
	NetHSPA           NetworkType = 4
	NetLTE            NetworkType = 5
	NetWiFi           NetworkType = 6
	NetEthernet       NetworkType = 7
	NetOtherHighSpeed NetworkType = 8
	NetOtherLowSpeed  NetworkType = 9
	NetDialup         NetworkType = 10
	NetOtherMobile    NetworkType = 11
)

// DataSaving selects when to save data (libtgvoip's DATA_SAVING_*).
type DataSaving int32

// Data saving modes.
const (
	DataSavingNever  DataSaving = 0
	DataSavingMobile DataSaving = 1
	DataSavingAlways DataSaving = 2
)

// EndpointType is the kind of a remote endpoint (libtgvoip's Endpoint::Type).
type EndpointType int32

// Endpoint types.
const (
	EndpointUDPP2PInet EndpointType = 1
	EndpointUDPP2PLAN  EndpointType = 2
	EndpointUDPRelay   EndpointType = 3
	EndpointTCPRelay   EndpointType = 4
)

// Endpoint is a relay from signalling (`phoneConnection`).
type Endpoint struct {
	// ID is the endpoint id (non-zero).
	ID int64
	// IPv4 is the dotted IPv4 address ("" = none).
	IPv4 string
	// IPv6 is the IPv6 address ("" = none).
	IPv6 string
	// Port is the UDP port.
	Port uint16
	// Type is the endpoint kind (normally EndpointUDPRelay).
	Type EndpointType
	// PeerTag is the 16-byte relay peer tag.
	PeerTag [16]byte
}

// Config is the per-call configuration (libtgvoip's VoIPController::Config).
// Start from DefaultConfig.
type Config struct {
	// InitTimeout is the number of seconds to reach ESTABLISHED after Connect.
	InitTimeout float64
	// RecvTimeout is the number of seconds without packets before the call fails.
	RecvTimeout float64
	// DataSaving selects when to save data.
	DataSaving DataSaving
	// EnableAEC, EnableNS and EnableAGC are accepted (no DSP in this library).
	EnableAEC, EnableNS, EnableAGC bool
	// EnableCallUpgrade advertises group-call support to the peer.
	EnableCallUpgrade bool
	// LogPacketStats is accepted (not recorded).
	LogPacketStats bool
	// EnableVolumeControl makes SetInputVolume/SetOutputVolume effective.
	EnableVolumeControl bool
	// LogFilePath, if set, receives the debug log JSON at stop.
	LogFilePath string
	// StatsDumpFilePath is stored (not written by this library).
	StatsDumpFilePath string
}

// DefaultConfig returns libtgvoip's defaults: 30 s init timeout, 20 s receive timeout, no data
// saving, all flags off.
func DefaultConfig() Config {
	return Config{InitTimeout: 30, RecvTimeout: 20}
}

// TrafficStats are the traffic counters of a call (libtgvoip's TrafficStats).
type TrafficStats struct {
	BytesSentWifi    uint64
	BytesRecvdWifi   uint64
	BytesSentMobile  uint64
	BytesRecvdMobile uint64
}

// Callbacks are the event callbacks. They run on the library's callback thread, one at a time
// and in order (and StateChanged once synchronously inside SetCallbacks). Nil fields are
// skipped. They may call the controller's getters; Stop and Close from inside them return an
// error wrapping ErrWouldDeadlock.
type Callbacks struct {
	// StateChanged reports every connection state change (a state may repeat).
	StateChanged func(State)
	// SignalBarsChanged reports the signal strength 0..4.
	SignalBarsChanged func(int)
}

// AudioCallbacks exchange PCM (s16, 48 kHz, mono) with the call. Input and Output run on the
// library's real-time audio thread every 20 ms with 960 samples: fill (Input) or read (Output)
// the slice and return quickly, without allocating, locking or blocking. Preprocessed runs on
// the engine thread with each outgoing frame as the peer will hear it (2880 samples for 60 ms
// frames; 960 for the 20 ms frames used toward a tgvoip-rs peer on a clean link).
// The slice aliases library memory: it is valid only during the call, never keep it.
type AudioCallbacks struct {
	// Input fills buf (pre-zeroed) with microphone audio.
	Input func(buf []int16)
	// Output receives the audio to play.
	Output func(buf []int16)
	// Preprocessed receives what the peer will hear.
	Preprocessed func(buf []int16)
}
