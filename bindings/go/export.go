package tgvoip

// #include <tgvoip.h>
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// These run on library threads (cgo binds them to the Go runtime). The handle resolves to the
// controller's callbackSet; a handle that is already deleted cannot be seen here because Close
// deletes it only after the library guarantees that no callback runs any more.

//export goTgvoipState
func goTgvoipState(h C.uintptr_t, state C.int32_t) {
	cbs := cgo.Handle(h).Value().(*callbackSet)
	cbs.mu.Lock()
	f := cbs.event.StateChanged
	cbs.mu.Unlock()
	if f != nil {
		f(State(state))
	}
}

//export goTgvoipSignalBars
func goTgvoipSignalBars(h C.uintptr_t, bars C.int32_t) {
	cbs := cgo.Handle(h).Value().(*callbackSet)
	cbs.mu.Lock()
	f := cbs.event.SignalBarsChanged
	cbs.mu.Unlock()
	if f != nil {
		f(int(bars))
	}
}

// goTgvoipAudio is on the real-time thread: no allocation (the slice header aliases C memory,
// the handle lookup is a map load) and no lock (the audio callbacks are fixed before Connect).
//
//export goTgvoipAudio
func goTgvoipAudio(h C.uintptr_t, which C.int, samples *C.int16_t, n C.size_t) {
	if samples != nil && n > 0 {
		dispatchAudio(uintptr(h), int(which), unsafe.Slice((*int16)(unsafe.Pointer(samples)), int(n)))
	}
}

// dispatchAudio hands one chunk to the registered Go audio callback (0 input, 1 output,
// 2 preprocessed). It allocates nothing (TestAudioDispatchAllocFree).
func dispatchAudio(h uintptr, which int, buf []int16) {
	cbs := cgo.Handle(h).Value().(*callbackSet)
	var f func([]int16)
	switch which {
	case 0:
		f = cbs.audio.Input
	case 1:
		f = cbs.audio.Output
	default:
		f = cbs.audio.Preprocessed
	}
	if f != nil {
		f(buf)
	}
}

// goTgvoipSignaling runs on the library's callback thread with one outgoing signaling blob.
//
//export goTgvoipSignaling
func goTgvoipSignaling(h C.uintptr_t, data *C.uint8_t, n C.size_t) {
	cbs := cgo.Handle(h).Value().(*callbackSet)
	cbs.mu.Lock()
	f := cbs.signaling
	cbs.mu.Unlock()
	if f != nil && data != nil && n > 0 {
		f(C.GoBytes(unsafe.Pointer(data), C.int(n)))
	}
}
