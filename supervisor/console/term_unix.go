//go:build unix

package console

import "golang.org/x/sys/unix"

// colourTerminal reports whether fd is a terminal (a termios query works):
// every Unix terminal understands the ANSI colours Laravel prints.
func colourTerminal(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), ioctlReadTermios)
	return err == nil
}
