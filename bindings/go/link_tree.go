//go:build !tgvoip_pkgconfig

package tgvoip

// By default the package builds against this repository: the header in include/ and the
// library that `cargo build --release` leaves in target/release (found at run time through an
// rpath). Build with `-tags tgvoip_pkgconfig` to use an installed library instead.

// #cgo CFLAGS: -I${SRCDIR}/../../include
// #cgo LDFLAGS: -L${SRCDIR}/../../target/release -ltgvoip -Wl,-rpath,${SRCDIR}/../../target/release
import "C"
