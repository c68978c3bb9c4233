package tgvoip

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSupportedVersions(t *testing.T) {
	if got := SupportedVersions(); !reflect.DeepEqual(got, []string{"9.0.0", "8.0.0", "2.4.4"}) {
		t.Fatalf("SupportedVersions() = %v", got)
	}
}

func TestProtocolVersion(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.ProtocolVersion(); err != nil || v != "2.4.4" {
		t.Fatalf("default protocol = %q, %v", v, err)
	}
	for _, v := range []string{"9.0.0", "8.0.0", "2.4.4"} {
		if err := c.SetProtocolVersion(v); err != nil {
			t.Fatalf("SetProtocolVersion(%q): %v", v, err)
		}
		if got, _ := c.ProtocolVersion(); got != v {
			t.Fatalf("ProtocolVersion() = %q, want %q", got, v)
		}
	}
	err = c.SetProtocolVersion("3.0.0")
	var e *Error
	if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &e) ||
		!strings.Contains(e.Message, "unsupported protocol version") || e.Op != "set_protocol_version" {
		t.Fatalf("SetProtocolVersion(junk) = %v", err)
	}
	if err := c.Start(); err != nil { // 2.4.4 binds on any machine
		t.Fatal(err)
	}
	if err := c.SetProtocolVersion("9.0.0"); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("SetProtocolVersion after Start = %v", err)
	}
}

func TestWebrtcEndpointsAndSignalingArguments(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetProtocolVersion("9.0.0"); err != nil {
		t.Fatal(err)
	}
	good := []WebrtcEndpoint{
		{ID: 1, IPv4: "192.0.2.10", Port: 3478, Turn: true, Stun: true, Username: "u", Password: "p"},
		{ID: 2, IPv6: "2001:db8::1", Port: 443, Stun: true},
	}
	if err := c.SetWebrtcEndpoints(good); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWebrtcEndpoints(nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []WebrtcEndpoint{{ID: 3, Port: 1}, {ID: 4, IPv4: "192.0.2.1"}, {ID: 5, IPv4: "x", Port: 1}} {
		if err := c.SetWebrtcEndpoints([]WebrtcEndpoint{bad}); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("SetWebrtcEndpoints(%+v) = %v", bad, err)
		}
	}
	if err := c.SetSignalingCallback(func([]byte) {}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReceiveSignalingData([]byte{1, 2, 3}); err != nil {
		t.Fatalf("signaling before start: %v", err)
	}
	if err := c.ReceiveSignalingData(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty signaling = %v", err)
	}
	if _, known, err := c.RemoteMicMuted(); err != nil || known {
		t.Fatalf("RemoteMicMuted known=%v err=%v", known, err)
	}
	if ms, err := c.MediaConnectTimeMs(); err != nil || ms != -1 {
		t.Fatalf("MediaConnectTimeMs = %d, %v", ms, err)
	}
	if s, r, err := c.RTPPacketCounts(); err != nil || s != 0 || r != 0 {
		t.Fatalf("RTPPacketCounts = %d %d %v", s, r, err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.ReceiveSignalingData([]byte{1}); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("signaling after stop = %v", err)
	}
}

// runInNetns re-runs this test binary with only the named test inside ctests/in_netns.sh; it
// returns true in the child (which then does the work).
func runInNetns(t *testing.T, mode string) bool {
	if os.Getenv("TGVOIP_IN_NETNS") == "1" {
		return true
	}
	script := filepath.Join(repoRoot(t), "ctests", "in_netns.sh")
	cmd := exec.Command(script, mode, os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 77 {
		t.Skip(strings.TrimSpace(string(out)))
	}
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("in network namespace: %v", err)
	}
	return false
}

func TestTgcallsStartWithoutInterface(t *testing.T) {
	if !runInNetns(t, "empty") {
		return
	}
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetProtocolVersion("9.0.0"); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), "interface") {
		t.Fatalf("Start with no interface = %v", err)
	}
	if s, _ := c.State(); s != StateFailed {
		t.Fatalf("state = %v", s)
	}
}

func TestTgcallsPairCall(t *testing.T) {
	if !runInNetns(t, "dummy") {
		return
	}
	key := make([]byte, 256)
	for i := range key {
		key[i] = byte((i*37 + 11) % 256)
	}
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var fromA, fromB atomic.Int64
	var mu sync.Mutex
	var forwardErrs []error
	wire := func(n *atomic.Int64, peer *Controller) func([]byte) {
		return func(d []byte) {
			n.Add(1)
			if err := peer.ReceiveSignalingData(d); err != nil {
				mu.Lock()
				forwardErrs = append(forwardErrs, err)
				mu.Unlock()
			}
		}
	}
	v := SupportedVersions()[0]
	for _, s := range []struct {
		c   *Controller
		out bool
		f   func([]byte)
	}{{a, true, wire(&fromA, b)}, {b, false, wire(&fromB, a)}} {
		if err := s.c.SetProtocolVersion(v); err != nil {
			t.Fatal(err)
		}
		if err := s.c.SetEncryptionKey(key, s.out); err != nil {
			t.Fatal(err)
		}
		if err := s.c.SetSignalingCallback(s.f); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.SetMicMute(true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Controller{a, b} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		sa, _ := a.State()
		sb, _ := b.State()
		_, recvd, _ := b.RTPPacketCounts() // b is muted: only a sends audio
		muted, _, _ := a.RemoteMicMuted()
		if sa == StateEstablished && sb == StateEstablished && recvd > 10 && muted {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sa, _ := a.State()
	sb, _ := b.State()
	msA, _ := a.MediaConnectTimeMs()
	msB, _ := b.MediaConnectTimeMs()
	time.Sleep(200 * time.Millisecond) // the sender's counter may lag the receiver's
	sentA, _, _ := a.RTPPacketCounts()
	_, recvdB, _ := b.RTPPacketCounts()
	mutedB, knownB, _ := a.RemoteMicMuted()
	mutedA, knownA, _ := b.RemoteMicMuted()
	_ = a.Stop()
	_ = b.Stop()
	t.Logf("states %v/%v connect %d/%d ms, signaling %d/%d", sa, sb, msA, msB, fromA.Load(), fromB.Load())
	if sa != StateEstablished || sb != StateEstablished {
		t.Fatalf("states %v/%v", sa, sb)
	}
	if msA < 0 || msB < 0 || sentA <= 10 || recvdB <= 10 {
		t.Fatalf("media: connect %d/%d ms, rtp a sent %d, b received %d", msA, msB, sentA, recvdB)
	}
	if !knownB || !mutedB || !knownA || mutedA {
		t.Fatalf("remote mute: a sees %v/%v, b sees %v/%v", mutedB, knownB, mutedA, knownA)
	}
	if fromA.Load() == 0 || fromB.Load() == 0 || len(forwardErrs) > 0 {
		t.Fatalf("signaling %d/%d, forward errors %v", fromA.Load(), fromB.Load(), forwardErrs)
	}
}
