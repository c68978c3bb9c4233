package tgvoip

// #include <tgvoip.h>
import "C"

import (
	"fmt"
	"runtime"
)

// Status is a status code of the C library (TGVOIP_OK or a negative TGVOIP_E_*).
type Status int32

// Status codes.
const (
	StatusOK              Status = 0
	StatusInvalidArgument Status = -1
	StatusInvalidState    Status = -2
	StatusNotSupported    Status = -3
	StatusIO              Status = -4
	StatusParse           Status = -5
	StatusWouldDeadlock   Status = -6
	StatusBufferTooSmall  Status = -7
	StatusCheckFailed     Status = -8
	StatusPanic           Status = -98
	StatusInternal        Status = -99
)

// String returns the C name of the status ("TGVOIP_E_INVALID_ARGUMENT", ...).
func (s Status) String() string {
	return C.GoString(C.tgvoip_status_name(C.tgvoip_status_t(s)))
}

// Error is a failed library call: which operation, the status and the library's message.
// Compare with errors.Is against the Err* sentinels.
type Error struct {
	// Op is the library function that failed ("set_encryption_key", ...).
	Op string
	// Status is the status code it returned.
	Status Status
	// Message is the library's last-error message.
	Message string
}

// Error formats the failure as "tgvoip: OP: MESSAGE (STATUS)".
func (e *Error) Error() string {
	return fmt.Sprintf("tgvoip: %s: %s (%s)", e.Op, e.Message, e.Status)
}

// Is reports whether target is an *Error with the same status (so errors.Is(err,
// ErrInvalidArgument) works).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Status == e.Status
}

// Sentinels for errors.Is.
var (
	ErrInvalidArgument = &Error{Status: StatusInvalidArgument, Message: "invalid argument"}
	ErrInvalidState    = &Error{Status: StatusInvalidState, Message: "invalid state"}
	ErrNotSupported    = &Error{Status: StatusNotSupported, Message: "not supported"}
	ErrIO              = &Error{Status: StatusIO, Message: "I/O error"}
	ErrParse           = &Error{Status: StatusParse, Message: "parse error"}
	ErrWouldDeadlock   = &Error{Status: StatusWouldDeadlock, Message: "would deadlock"}
	ErrCheckFailed     = &Error{Status: StatusCheckFailed, Message: "check failed"}
	// ErrClosed is returned by every method of a closed Controller.
	ErrClosed = &Error{Status: StatusInvalidState, Op: "closed", Message: "controller is closed"}
)

// call runs one library call and turns a failing status into an *Error carrying the thread-local
// last-error message. The OS thread is locked so the message is read on the thread that set it.
func call(op string, f func() C.tgvoip_status_t) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := f()
	if st == C.TGVOIP_OK {
		return nil
	}
	msg := "failed"
	if m := C.tgvoip_last_error_message(); m != nil {
		msg = C.GoString(m)
	}
	return &Error{Op: op, Status: Status(st), Message: msg}
}
