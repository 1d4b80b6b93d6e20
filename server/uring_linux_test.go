//go:build linux && !portable

package server

import (
	"testing"

	"github.com/reverb-go/reverb/internal/uring"
)

// Where io_uring is allowed, a send to a full socket must complete at once
// with EAGAIN (the flushers wait for all their completions); the flushers
// use a ring only where that holds.
func TestSendRingNoWait(t *testing.T) {
	ring, err := uring.Setup(8)
	if err != nil {
		t.Skipf("io_uring not available here: %v", err)
	}
	defer ring.Close()
	if !(&sendRing{ring: ring}).probeNoWait() {
		t.Fatal("a MSG_DONTWAIT send to a full socket did not complete at once with EAGAIN")
	}
	if !ringUsable() {
		t.Fatal("flushers would not use io_uring although it works here")
	}
}
