//go:build linux && !portable

package supervisor

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server"
	"github.com/reverb-go/reverb/server/metrics"
)

// monitorState is the supervisor's own counters for monitoring; touched
// only by the event loop.
type monitorState struct {
	started      time.Time
	workerDeaths int
}

// startWorkerMonitoring runs in a worker after its server is built. lost
// counts connections the worker received but had no descriptor for.
func startWorkerMonitoring(p *laravelcfg.Project, srv node, nodeID string, lost func() int64, stderr io.Writer) io.Closer {
	st, ok := srv.(statser)
	if !ok {
		return closers{}
	}
	st = withLost{st, lost}
	logf := workerLogf(stderr, nodeID)
	var cs closers
	if in := startPulse(p, st, logf); in != nil {
		cs = append(cs, in)
	}
	ns, err := metrics.ServeNode(metrics.NodeSocket(os.Getppid(), nodeID), st.Stats)
	if err != nil {
		logf("%v (reverb status and metrics will miss this worker)", err)
	} else {
		cs = append(cs, ns)
	}
	return cs
}

// withLost adds connections lost at the open-files limit to a node's
// refusals.
type withLost struct {
	statser
	lost func() int64
}

func (w withLost) Stats() server.Stats {
	s := w.statser.Stats()
	s.OpenFilesRefused += w.lost()
	return s
}

// startMonitoring serves the control socket and metrics of the supervisor.
func (s *supervisor) startMonitoring(p *laravelcfg.Project) io.Closer {
	s.mon.started = time.Now()
	col := metrics.NewCollector(appIDs(p), s.askTopology, func(ctx context.Context, w metrics.Worker) (server.Stats, error) {
		return metrics.FetchNode(ctx, metrics.NodeSocket(os.Getpid(), w.NodeID))
	})
	if ms := serveControl(col, p, s.c, s.con); ms != nil {
		return ms
	}
	return closers{}
}

// askTopology asks the event loop (from a monitoring goroutine).
func (s *supervisor) askTopology(ctx context.Context) (metrics.Topology, error) {
	reply := make(chan metrics.Topology, 1)
	select {
	case s.events <- evTopology{reply}:
	case <-ctx.Done():
		return metrics.Topology{}, ctx.Err()
	}
	select {
	case t := <-reply:
		return t, nil
	case <-ctx.Done():
		return metrics.Topology{}, fmt.Errorf("supervisor busy: %w", ctx.Err())
	}
}

// topology runs on the event loop.
func (s *supervisor) topology() metrics.Topology {
	t := metrics.Topology{
		Mode:         "supervisor",
		PID:          os.Getpid(),
		Started:      s.mon.started,
		Restarts:     max(0, s.nextGen-1),
		WorkerDeaths: s.mon.workerDeaths,
	}
	if s.disp != nil {
		t.OpenFilesRefused = s.disp.refusedCount()
	}
	if s.current != nil {
		t.Generation = s.current.num
	}
	for _, g := range s.gens {
		for _, p := range g.procs {
			if p == nil || p.exited || p.cmd == nil || p.cmd.Process == nil {
				continue
			}
			t.Workers = append(t.Workers, metrics.Worker{
				NodeID: p.id, PID: p.cmd.Process.Pid, Generation: g.num, Ready: p.ready, Draining: p.draining || g.draining,
			})
		}
	}
	return t
}
