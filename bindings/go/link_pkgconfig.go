//go:build tgvoip_pkgconfig

package tgvoip

// With `-tags tgvoip_pkgconfig` the package uses the installed library (`cmake --install`), found
// through pkg-config.

// #cgo pkg-config: tgvoip
import "C"
