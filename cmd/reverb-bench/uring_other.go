//go:build !linux

package main

import "errors"

// uringScenario compares write(2) per socket with batched io_uring sends;
// io_uring is Linux's.
func uringScenario(config) error {
	return errors.New("the uring scenario needs Linux (io_uring)")
}
