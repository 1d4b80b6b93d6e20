//go:build !linux || portable

package supervisor

import (
	"fmt"
	"io"
)

// RunWorker exists on the portable path only so the command table is the
// same on every build: `reverb start` serves in one process here and never
// starts worker processes.
func RunWorker(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "reverb: worker processes are Linux-only; this build serves every connection in the `reverb start` process")
	return 2
}
