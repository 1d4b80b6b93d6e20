//go:build linux

package main

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkLoopbackWrite reports the writing thread's CPU per write(2) of a
// 150-byte frame to a loopback TCP socket (the kernel floor of one delivery),
// and per frame when a writev carries several frames.
func BenchmarkLoopbackWrite(b *testing.B) {
	for _, frames := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("frames=%d", frames), func(b *testing.B) {
			r, err := loopbackFloor(16, max(b.N, 100), frames, 150)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(r.perCall.Nanoseconds()), "cpu-ns/call")
			b.ReportMetric(float64(r.perFrame.Nanoseconds()), "cpu-ns/frame")
		})
	}
}

func TestLoopbackFloorMeasures(t *testing.T) {
	r, err := loopbackFloor(4, 2000, 4, 100)
	if err != nil {
		t.Fatal(err)
	}
	if r.calls == 0 || r.perFrame <= 0 || r.perFrame > r.perCall {
		t.Fatalf("implausible floor %+v", r)
	}
	if r.perCall > time.Millisecond {
		t.Fatalf("a loopback write took %v of CPU", r.perCall)
	}
}
