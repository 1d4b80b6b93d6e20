package supervisor

// Monitoring wiring (the packages are server/pulse and server/metrics).
// The rest of the supervisor calls only the four entry points below:
//
//   - startWorkerMonitoring (worker): the Pulse ingest of this worker's
//     message counts, and the private stats socket the supervisor asks;
//   - startSingleMonitoring (--workers 0): Pulse ingest, control socket and
//     metrics listener, all reading the in-process server;
//   - (*supervisor).startMonitoring: control socket and metrics listener,
//     summing the workers' stats;
//   - evTopology, answered by the supervisor's event loop.
//
// Every worker ingests its own Pulse counts: Pulse's count upserts add up
// (and Redis ingest entries are one per message), so N writers give the
// same rows as one, and no counts travel through the supervisor.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server"
	"github.com/reverb-go/reverb/server/metrics"
	"github.com/reverb-go/reverb/server/pulse"
	"github.com/reverb-go/reverb/supervisor/console"
)

// MetricsEnv names the environment variable (real environment or .env)
// that turns the Prometheus listener on when --metrics is not given.
const MetricsEnv = "REVERB_METRICS_ADDR"

// statser is the part of *server.Server monitoring reads; test fakes lack
// it, and then monitoring stays off.
type statser interface{ Stats() server.Stats }

// monitorState is the supervisor's own counters for monitoring; touched
// only by the event loop.
type monitorState struct {
	started      time.Time
	workerDeaths int
}

// evTopology asks the event loop for a snapshot of its processes.
type evTopology struct{ reply chan metrics.Topology }

// closers closes several things, last started first.
type closers []io.Closer

func (cs closers) Close() error {
	var err error
	for i := len(cs) - 1; i >= 0; i-- {
		err = errors.Join(err, cs[i].Close())
	}
	return err
}

// pulseCounts adapts server stats to the Pulse ingester's counters.
func pulseCounts(st statser) func() []pulse.Counts {
	return func() []pulse.Counts {
		s := st.Stats()
		out := make([]pulse.Counts, 0, len(s.Apps))
		for _, a := range s.Apps {
			out = append(out, pulse.Counts{AppID: a.AppID, Sent: a.TextFramesOut, Received: a.MessagesHandled})
		}
		return out
	}
}

func startPulse(p *laravelcfg.Project, st statser, logf func(string, ...any)) io.Closer {
	in, err := pulse.Start(p, pulseCounts(st), logf)
	if err != nil {
		logf("Pulse messages card off: %v", err)
		return nil
	}
	if in == nil {
		return nil
	}
	return in
}

func appIDs(p *laravelcfg.Project) []string {
	ids := make([]string, 0, len(p.Reverb.Apps))
	for _, a := range p.Reverb.Apps {
		ids = append(ids, a.ID)
	}
	return ids
}

// metricsAddr is --metrics, else REVERB_METRICS_ADDR.
func metricsAddr(c Config, p *laravelcfg.Project) string {
	if c.MetricsAddr != "" {
		return c.MetricsAddr
	}
	v, _ := p.Getenv(MetricsEnv)
	return v
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

// startSingleMonitoring runs beside the in-process server of --workers 0.
func startSingleMonitoring(p *laravelcfg.Project, c Config, srv node, con *console.Writer) io.Closer {
	st, ok := srv.(statser)
	if !ok {
		return closers{}
	}
	var cs closers
	if in := startPulse(p, st, con.Warnf); in != nil {
		cs = append(cs, in)
	}
	col := metrics.NewLocalCollector(appIDs(p), "single", st.Stats)
	if ms := serveControl(col, p, c, con); ms != nil {
		cs = append(cs, ms)
	}
	return cs
}

func serveControl(col *metrics.Collector, p *laravelcfg.Project, c Config, con *console.Writer) io.Closer {
	addr := metricsAddr(c, p)
	ms, err := metrics.Serve(col, metrics.ControlOptions{Socket: metrics.ControlSocketPath(c.Dir), MetricsAddr: addr, Logf: con.Warnf})
	if err != nil {
		con.Warnf("Monitoring off: %v", err)
		return nil
	}
	if addr != "" {
		con.Infof("Prometheus metrics on http://%s/metrics", ms.MetricsAddr())
	}
	return ms
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
