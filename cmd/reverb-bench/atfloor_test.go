//go:build linux

package main

import (
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary serve as a client process too: the
// fan-out floor starts its readers by running its own executable with
// "_client", as the bench does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "_client" {
		os.Exit(runClient(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func TestFanoutFrameIsAnEvent(t *testing.T) {
	frame := fanoutFrame()
	op, payload, rest, ok := nextFrame(frame)
	if !ok || op != 1 || len(rest) != 0 {
		t.Fatalf("not one text frame: op %d ok %v rest %d", op, ok, len(rest))
	}
	if _, ok := eventStamp(payload); !ok {
		t.Fatalf("no time stamp in %s", payload)
	}
	want := `{"event":"bench","data":"{\"t\":`
	if string(payload[:len(want)]) != want {
		t.Fatalf("payload %s", payload)
	}
}

func TestFanoutFloorMeasures(t *testing.T) {
	r, err := fanoutFloor(20, 2, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.writes != 200 || r.delivered < uint64(r.writes) {
		t.Fatalf("writes %d, delivered %d", r.writes, r.delivered)
	}
	if r.thread <= 0 || r.process < r.thread/2 || r.process > time.Millisecond {
		t.Fatalf("implausible CPU per write: process %v, thread %v", r.process, r.thread)
	}
}
