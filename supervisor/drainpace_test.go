package supervisor

import (
	"strings"
	"testing"
	"time"
)

func TestRestartDrainWindow(t *testing.T) {
	for _, c := range []struct {
		conns, pace int
		want        time.Duration
	}{
		{0, 4000, 10 * time.Second},
		{2000, 4000, 10 * time.Second},
		{40000, 4000, 10 * time.Second}, // exactly the window
		{40001, 4000, 10 * time.Second}, // rounds to the second
		{200000, 4000, 50 * time.Second},
		{200000, 16000, 13 * time.Second},
		{200, 0, 200 * time.Second}, // a pace of 0 counts as one
	} {
		if got := restartDrainWindow(10*time.Second, c.conns, c.pace); got != c.want {
			t.Errorf("%d connections at %d/s: window %v, want %v", c.conns, c.pace, got, c.want)
		}
	}
	if got := restartDrainWindow(time.Minute, 200000, 4000); got != time.Minute {
		t.Errorf("a configured window longer than the pace needs: %v", got)
	}
	if s := drainPace(10*time.Second, 10*time.Second, 100, 4000); s != "" {
		t.Errorf("an unstretched window explained: %q", s)
	}
	s := drainPace(10*time.Second, 50*time.Second, 200000, 4000)
	for _, want := range []string{"200000 connections", "4000 per second", "--drain-window 10s"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q does not say %q", s, want)
		}
	}
	if (&Config{}).reconnectPace() < reconnectsPerCPU || (&Config{ReconnectPace: 7}).reconnectPace() != 7 {
		t.Error("the pace is the configured one, else reconnectsPerCPU for every CPU")
	}
}

func TestStopDrainWindow(t *testing.T) {
	for _, c := range []struct {
		conns, pace int
		want        time.Duration
	}{
		{0, 4000, 0},
		{1, 4000, 250 * time.Microsecond},
		{2000, 4000, 500 * time.Millisecond},
		{40000, 4000, 10 * time.Second},
		{200000, 4000, 10 * time.Second}, // never longer than configured
		{3, 0, 3 * time.Second},          // a pace of 0 counts as one
	} {
		if got := stopDrainWindow(10*time.Second, c.conns, c.pace); got != c.want {
			t.Errorf("%d connections at %d/s: window %v, want %v", c.conns, c.pace, got, c.want)
		}
	}
}
