//go:build linux && !portable

package server

import (
	"testing"
)

// Where io_uring is allowed, a send to a full socket must complete at once
// with EAGAIN (the flushers wait for all their completions); the flushers
// use a ring only where that holds.
func TestSendRingNoWait(t *testing.T) {
	r, err := setupRing(8)
	if err != nil {
		t.Skipf("io_uring not available here: %v", err)
	}
	defer r.close()
	if !r.probeNoWait() {
		t.Fatal("a MSG_DONTWAIT send to a full socket did not complete at once with EAGAIN")
	}
	if !ringUsable() {
		t.Fatal("flushers would not use io_uring although it works here")
	}
}
