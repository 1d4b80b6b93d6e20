package supervisor

import (
	"os"
	"syscall"
)

// notifySignals are what Windows delivers: Ctrl-C and Ctrl-Break arrive as
// os.Interrupt (drain and exit; a second one closes at once), closing the
// console window, logoff and shutdown as SIGTERM (drain and exit). There
// is no SIGHUP: the restart flag (`php artisan reverb:restart`,
// `reverb restart`) is the way to restart.
var notifySignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

func isRestartSignal(os.Signal) bool { return false }
func isQuitSignal(os.Signal) bool    { return false }
func isInterrupt(s os.Signal) bool   { return s == os.Interrupt }

// restartHint says what still restarts when the flag cannot be watched.
const restartHint = "stop and start reverb to load a new configuration"
