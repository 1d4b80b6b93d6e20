//go:build unix && !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package console

// ioctlReadTermios is unknown here: never colour.
const ioctlReadTermios = 0
