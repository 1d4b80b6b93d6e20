package supervisor

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// listenFailure is the message for a listening socket that could not be
// opened on addr: the cause in words and what to do, then the system's
// error.
func listenFailure(addr string, err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, syscall.EADDRINUSE) || strings.Contains(msg, "address already in use") ||
		strings.Contains(msg, "Only one usage of each socket address"):
		return fmt.Sprintf("Cannot listen on %s: another server holds the port (%v). "+
			"Stop it (if it is this project's reverb, ./reverb status shows it), or pick another port with --port or REVERB_SERVER_PORT", addr, err)
	case errors.Is(err, syscall.EACCES) || strings.Contains(msg, "permission denied"):
		return fmt.Sprintf("Cannot listen on %s: not allowed (%v). "+
			"Ports below 1024 need privileges: listen on a higher port (--port or REVERB_SERVER_PORT) behind a proxy", addr, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL) || strings.Contains(msg, "cannot assign requested address"):
		return fmt.Sprintf("Cannot listen on %s: no network interface of this machine has that address (%v). "+
			"Pick one it has with --host or REVERB_SERVER_HOST (0.0.0.0 is every interface)", addr, err)
	}
	return fmt.Sprintf("Cannot listen on %s: %v", addr, err)
}
