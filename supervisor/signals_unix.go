//go:build unix

package supervisor

import (
	"os"
	"syscall"
)

// notifySignals are the signals `reverb start` handles: SIGINT/SIGTERM
// drain and exit (a second SIGINT closes at once), SIGHUP restarts, SIGQUIT
// exits at once.
var notifySignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

func isRestartSignal(s os.Signal) bool { return s == syscall.SIGHUP }
func isQuitSignal(s os.Signal) bool    { return s == syscall.SIGQUIT }
func isInterrupt(s os.Signal) bool     { return s == syscall.SIGINT }

// restartHint says what still restarts when the flag cannot be watched.
const restartHint = "SIGHUP still restarts"
