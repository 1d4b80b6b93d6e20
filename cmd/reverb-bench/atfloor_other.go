//go:build !linux

package main

import "errors"

// atFloorScenario compares the fan-out's CPU per delivery with the kernel's
// cost of the same writes, written to raw descriptors and timed with
// Linux's per-thread CPU clock (RUSAGE_THREAD); other systems have no such
// figure.
func atFloorScenario(config) error {
	return errors.New("the atfloor scenario needs Linux (per-thread CPU time)")
}
