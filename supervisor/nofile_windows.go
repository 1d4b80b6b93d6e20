package supervisor

import "github.com/reverb-go/reverb/supervisor/console"

// warnLowNoFile has nothing to check on Windows: sockets are not counted
// against a per-process open-files limit there.
func warnLowNoFile(*console.Writer) {}
