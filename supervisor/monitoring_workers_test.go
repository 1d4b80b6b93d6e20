//go:build linux && !portable

package supervisor

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

func TestTopologyThroughTheEventLoop(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary")
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	g1 := &generation{num: 1, draining: true}
	g2 := &generation{num: 2}
	g1.procs = []*proc{{gen: g1, id: "g1w0", cmd: cmd, ready: true}, {gen: g1, id: "g1w1", cmd: cmd, exited: true}}
	g2.procs = []*proc{{gen: g2, id: "g2w0", cmd: cmd, ready: true}, nil}
	s := &supervisor{events: make(chan any, 1), gens: []*generation{g1, g2}, current: g2, nextGen: 2}
	s.mon.started = time.Unix(100, 0)
	s.mon.workerDeaths = 1
	go func() { // the event loop's part
		ev := (<-s.events).(evTopology)
		ev.reply <- s.topology()
	}()
	topo, err := s.askTopology(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if topo.Generation != 2 || topo.Restarts != 1 || topo.WorkerDeaths != 1 || len(topo.Workers) != 2 {
		t.Fatalf("topology %+v", topo)
	}
	if w := topo.Workers[0]; w.NodeID != "g1w0" || !w.Draining || w.Generation != 1 {
		t.Fatalf("old worker %+v", w)
	}
	if w := topo.Workers[1]; w.NodeID != "g2w0" || w.Draining || !w.Ready || w.PID != cmd.Process.Pid {
		t.Fatalf("serving worker %+v", w)
	}
	// A loop that does not answer: the caller gives up with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.askTopology(ctx); err == nil {
		t.Fatal("no error from a busy loop")
	}
}
