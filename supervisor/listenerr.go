package supervisor

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// Windows socket error numbers (winsock2.h). Windows reports listening
// failures with them, in the system's language, and Go's syscall.EADDRINUSE
// and friends there are other numbers: the failures are told apart by
// these. Constants on every system, so the messages are tested everywhere.
const (
	wsaeacces        = syscall.Errno(10013)
	wsaeaddrinuse    = syscall.Errno(10048)
	wsaeaddrnotavail = syscall.Errno(10049)
)

// listenFailure is the message for a listening socket that could not be
// opened on addr: the cause in words and what to do, then the system's
// error.
func listenFailure(addr string, err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, wsaeaddrinuse) || strings.Contains(msg, "address already in use") ||
		strings.Contains(msg, "Only one usage of each socket address"):
		return fmt.Sprintf("Cannot listen on %s: another server holds the port (%v). "+
			"Stop it (if it is this project's reverb, ./reverb status shows it), or pick another port with --port or REVERB_SERVER_PORT "+
			"(and set REVERB_PORT, where Laravel and browsers connect, to the same port unless a proxy forwards to it)", addr, err)
	case errors.Is(err, wsaeacces):
		// Not a privilege: Windows keeps the port from every program, as
		// part of a range Hyper-V, WSL or Docker reserved, or another
		// program holds it for its exclusive use.
		return fmt.Sprintf("Cannot listen on %s: Windows does not let any program use this port (%v). "+
			"It is most likely in a range Hyper-V, WSL or Docker reserved (netsh interface ipv4 show excludedportrange protocol=tcp lists them): "+
			"pick a port outside those ranges with --port or REVERB_SERVER_PORT", addr, err)
	case errors.Is(err, syscall.EACCES) || strings.Contains(msg, "permission denied"):
		return fmt.Sprintf("Cannot listen on %s: not allowed (%v). "+
			"Ports below 1024 need privileges: listen on a higher port (--port or REVERB_SERVER_PORT) behind a proxy", addr, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, wsaeaddrnotavail) || strings.Contains(msg, "cannot assign requested address"):
		return fmt.Sprintf("Cannot listen on %s: no network interface of this machine has that address (%v). "+
			"Pick one it has with --host or REVERB_SERVER_HOST (0.0.0.0 is every interface)", addr, err)
	}
	return fmt.Sprintf("Cannot listen on %s: %v", addr, err)
}
