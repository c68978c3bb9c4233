package tgvoip

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// repoRoot is the repository root (bindings/go is two levels down).
func repoRoot(t *testing.T) string {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// sharedDir is TGVOIP_SHARED_DIR or ../shared beside the repository.
func sharedDir(t *testing.T) string {
	if d := os.Getenv("TGVOIP_SHARED_DIR"); d != "" {
		return d
	}
	return filepath.Join(repoRoot(t), "..", "shared")
}

// startReflector runs target/release/tgvoip-reflector with a profile and returns its address.
func startReflector(t *testing.T, profile string) (string, uint16) {
	bin := filepath.Join(repoRoot(t), "target", "release", "tgvoip-reflector")
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--profile", profile, "--seed", "1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s (build it with cargo build --release): %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("reflector said %q: %v", line, err)
	}
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	host, portStr, ok := strings.Cut(addr, ":")
	if !ok {
		t.Fatalf("bad reflector address %q", addr)
	}
	var port uint16
	for _, ch := range portStr {
		port = port*10 + uint16(ch-'0')
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return host, port
}

func readPCM(t *testing.T, path string) []int16 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s
}

func writePCM(t *testing.T, path string, s []int16) {
	b := make([]byte, 2*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pesq scores DEG against REF with tests/quality/score.py (venv from scripts/pyenv.sh).
func pesq(t *testing.T, ref, deg string) float64 {
	root := repoRoot(t)
	py := os.Getenv("TGVOIP_PYTHON")
	if py == "" {
		out, err := exec.Command(filepath.Join(root, "scripts", "pyenv.sh")).Output()
		if err != nil {
			t.Fatalf("scripts/pyenv.sh: %v", err)
		}
		py = strings.TrimSpace(string(out))
	}
	out, err := exec.Command(py, filepath.Join(root, "tests", "quality", "score.py"), "--ref", ref, "--deg", deg, "--json").Output()
	if err != nil {
		t.Fatalf("score.py: %v", err)
	}
	var r struct {
		PesqWB float64 `json:"pesq_wb"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("score.py output %q: %v", out, err)
	}
	return r.PesqWB
}

func testKey() []byte {
	k := make([]byte, 256)
	for i := range k {
		k[i] = byte(i*7 + 3)
	}
	return k
}

func newPeer(t *testing.T, host string, port uint16, tagLast byte, caller bool) *Controller {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	cfg := DefaultConfig()
	cfg.InitTimeout = 10
	must(t, c.SetConfig(cfg))
	must(t, c.SetEncryptionKey(testKey(), caller))
	ep := Endpoint{ID: 42, IPv4: host, Port: port, Type: EndpointUDPRelay}
	copy(ep.PeerTag[:], []byte("0123456789abcde"))
	ep.PeerTag[15] = tagLast
	must(t, c.SetRemoteEndpoints([]Endpoint{ep}, false, false, ConnectionMaxLayer()))
	must(t, c.SetNetworkType(NetWiFi))
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// stateLog records the states a controller reports.
type stateLog struct {
	mu     sync.Mutex
	states []State
}

func (l *stateLog) add(s State) {
	l.mu.Lock()
	l.states = append(l.states, s)
	l.mu.Unlock()
}

func (l *stateLog) get() []State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]State(nil), l.states...)
}

// sawInOrder reports whether want appears in states as a subsequence.
func sawInOrder(states []State, want ...State) bool {
	i := 0
	for _, s := range states {
		if i < len(want) && s == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestCallThroughReflector: a caller with Go audio callbacks and a callee with native file I/O
// call each other through tgvoip-reflector (wifi profile); each side's recording must hold the
// other's speech (PESQ-WB >= 3.0).
func TestCallThroughReflector(t *testing.T) {
	shared := sharedDir(t)
	callerSample := filepath.Join(shared, "samples", "sample05_14ae7b1886265e54e7f2c83d67eb802e.pcm")
	calleeSample := filepath.Join(shared, "samples", "sample05_44823b5704b026f2930ad862576bef3c.pcm")
	mic := readPCM(t, callerSample)
	dir := t.TempDir()
	host, port := startReflector(t, "wifi")

	caller := newPeer(t, host, port, 0, true)
	callee := newPeer(t, host, port, 1, false)

	// Real-time side of the caller: everything pre-allocated, positions are atomics.
	var established atomic.Bool
	var micPos atomic.Int64
	heard := make([]int16, 48000*(len(mic)/48000+15))
	var heardPos atomic.Int64
	var preCalls atomic.Int64
	must(t, caller.SetAudioCallbacks(AudioCallbacks{
		Input: func(buf []int16) {
			if !established.Load() {
				return
			}
			p := int(micPos.Load())
			n := copy(buf, mic[min(p, len(mic)):])
			micPos.Store(int64(p + n))
		},
		Output: func(buf []int16) {
			p := int(heardPos.Load())
			n := copy(heard[min(p, len(heard)):], buf)
			heardPos.Store(int64(p + n))
		},
		Preprocessed: func(buf []int16) { preCalls.Add(1) },
	}))
	var callerStates, calleeStates stateLog
	var bars atomic.Int64
	must(t, caller.SetCallbacks(Callbacks{
		StateChanged: func(s State) {
			callerStates.add(s)
			if s == StateEstablished {
				established.Store(true)
			}
		},
		SignalBarsChanged: func(b int) { bars.Store(int64(b)) },
	}))
	must(t, callee.SetCallbacks(Callbacks{StateChanged: calleeStates.add}))
	calleeOut := filepath.Join(dir, "callee_heard.pcm")
	must(t, callee.SetNativeIO(true))
	must(t, callee.SetOutputFile(calleeOut))

	must(t, caller.Start())
	must(t, callee.Start())
	must(t, caller.Connect())
	must(t, callee.Connect())
	deadline := time.Now().Add(10 * time.Second)
	for {
		s1, err1 := caller.State()
		s2, err2 := callee.State()
		must(t, err1)
		must(t, err2)
		if s1 == StateEstablished && s2 == StateEstablished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not established: caller %v, callee %v", s1, s2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	must(t, callee.Play(calleeSample))
	time.Sleep(time.Duration(len(mic))*time.Second/48000 + 2*time.Second)
	must(t, caller.Stop())
	must(t, callee.Stop())

	for name, log := range map[string]*stateLog{"caller": &callerStates, "callee": &calleeStates} {
		st := log.get()
		t.Logf("%s states: %v", name, st)
		if !sawInOrder(st, StateWaitInitAck, StateEstablished) {
			t.Errorf("%s: states %v lack WAIT_INIT_ACK then ESTABLISHED", name, st)
		}
		for _, s := range st {
			if s == StateFailed {
				t.Errorf("%s failed", name)
			}
		}
	}
	for name, c := range map[string]*Controller{"caller": caller, "callee": callee} {
		stats, err := c.Stats()
		must(t, err)
		t.Logf("%s stats: %+v", name, stats)
		if stats.BytesSentWifi < 10000 || stats.BytesRecvdWifi < 10000 {
			t.Errorf("%s: stats too small: %+v", name, stats)
		}
		log, err := c.DebugLog()
		must(t, err)
		if !strings.HasPrefix(log, "{") {
			t.Errorf("%s: debug log %q", name, log)
		}
		if d, err := c.CallDuration(); err != nil || d < 3 {
			t.Errorf("%s: call duration %v, %v", name, d, err)
		}
	}
	if preCalls.Load() < 10 {
		t.Errorf("preprocessed callback ran %d times", preCalls.Load())
	}
	t.Logf("caller sent %d of %d samples, heard %d samples, signal bars %d", micPos.Load(), len(mic), heardPos.Load(), bars.Load())

	callerOut := filepath.Join(dir, "caller_heard.pcm")
	writePCM(t, callerOut, heard[:heardPos.Load()])
	pCaller := pesq(t, calleeSample, callerOut)
	pCallee := pesq(t, callerSample, calleeOut)
	t.Logf("PESQ-WB: caller heard callee %.2f, callee heard caller %.2f", pCaller, pCallee)
	if pCaller < 3.0 || pCallee < 3.0 {
		t.Errorf("PESQ-WB below 3.0: caller heard %.2f, callee heard %.2f", pCaller, pCallee)
	}
	must(t, caller.Close())
	must(t, callee.Close())
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// TestMisuse: bad arguments and wrong call order are Go errors carrying the library's message.
func TestMisuse(t *testing.T) {
	c, err := New()
	must(t, err)
	err = c.SetEncryptionKey(make([]byte, 255), true)
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("255-byte key: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Message == "" || e.Op != "set_encryption_key" {
		t.Fatalf("error lacks detail: %#v", err)
	}
	t.Logf("255-byte key: %v", err)
	if err := c.SetEncryptionKey(nil, true); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("nil key: %v", err)
	}
	must(t, c.SetEncryptionKey(testKey(), true))
	must(t, c.Start())
	err = c.Connect()
	if err == nil {
		t.Fatal("connect without endpoints succeeded")
	}
	t.Logf("connect without endpoints: %v", err)
	if err := c.SetRemoteEndpoints(nil, false, false, ConnectionMaxLayer()); err == nil {
		t.Error("empty endpoint list accepted")
	}
	if err := c.SetNetworkType(NetworkType(99)); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad network type: %v", err)
	}
	must(t, c.Close())
	must(t, c.Close())
	if _, err := c.State(); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := c.Start(); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("after Close, ErrClosed should match ErrInvalidState: %v", err)
	}
}

// TestFinalizer: forgotten controllers are freed by the finalizer without crashing.
func TestFinalizer(t *testing.T) {
	for i := 0; i < 8; i++ {
		c, err := New()
		must(t, err)
		must(t, c.SetCallbacks(Callbacks{StateChanged: func(State) {}}))
	}
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUtilities: package-level helpers.
func TestUtilities(t *testing.T) {
	if Version() != "2.4.4" || ConnectionMaxLayer() != 92 || ImplVersion() == "" {
		t.Fatalf("versions: %q %d %q", Version(), ConnectionMaxLayer(), ImplVersion())
	}
	if _, err := KeyFingerprint(testKey()); err != nil {
		t.Fatal(err)
	}
	if _, err := KeyFingerprint(make([]byte, 10)); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("short key: %v", err)
	}
	s, err := EmojiString(testKey(), testKey())
	if err != nil || len(strings.Fields(s)) != 4 {
		t.Fatalf("emoji %q: %v", s, err)
	}
	if err := UpdateServerConfig("{not json"); !errors.Is(err, ErrParse) {
		t.Fatalf("bad JSON: %v", err)
	}
}

// TestAudioDispatchAllocFree: the Go side of the real-time audio path allocates nothing.
func TestAudioDispatchAllocFree(t *testing.T) {
	var sum int64
	cbs := &callbackSet{audio: AudioCallbacks{
		Input:  func(buf []int16) { buf[0] = 1 },
		Output: func(buf []int16) { sum += int64(buf[0]) },
	}}
	h := cgo.NewHandle(cbs)
	defer h.Delete()
	buf := make([]int16, 960)
	allocs := testing.AllocsPerRun(1000, func() {
		dispatchAudio(uintptr(h), 0, buf)
		dispatchAudio(uintptr(h), 1, buf)
		dispatchAudio(uintptr(h), 2, buf)
	})
	if allocs != 0 || sum == 0 {
		t.Fatalf("audio dispatch: %v allocations per chunk (sum %d)", allocs, sum)
	}
}
