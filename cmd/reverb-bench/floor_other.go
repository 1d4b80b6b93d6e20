//go:build !linux

package main

import "errors"

// floorScenario measures the cost of a loopback write with Linux's
// per-thread CPU clock (RUSAGE_THREAD); other systems have no such figure.
func floorScenario(config) error {
	return errors.New("the floor scenario needs Linux (per-thread CPU time)")
}
