package supervisor

// Monitoring wiring (the packages are server/pulse and server/metrics). The
// rest of the supervisor calls only the entry points below:
//
//   - startWorkerMonitoring (worker process): the Pulse ingest of this
//     worker's message counts, and the private stats socket the
//     supervisor asks (monitoring_workers.go);
//   - (*inProcess).startMonitoring and startNodePulse (in-process
//     generations: --workers 0, and every --workers on the portable path):
//     control socket and metrics listener summing the in-process servers'
//     stats, read directly, and each server's Pulse ingest;
//   - (*supervisor).startMonitoring: control socket and metrics listener,
//     summing the workers' stats (monitoring_workers.go);
//   - evTopology, answered by the event loop of either.
//
// Every worker ingests its own Pulse counts: Pulse's count upserts add up
// (and Redis ingest entries are one per message), so N writers give the
// same rows as one, and no counts travel through the supervisor.

import (
	"errors"
	"io"

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

func serveControl(col *metrics.Collector, p *laravelcfg.Project, c Config, con *console.Writer) io.Closer {
	addr := metricsAddr(c, p)
	sock := metrics.ControlSocketPath(c.Dir)
	ms, err := metrics.Serve(col, metrics.ControlOptions{Socket: sock, MetricsAddr: addr, Logf: con.Warnf})
	var sockErr *metrics.ControlSocketError
	if errors.As(err, &sockErr) && addr != "" && !errors.Is(err, metrics.ErrAlreadyRunning) {
		// The folder cannot hold a socket file (a network or exFAT drive
		// on Windows, a Docker Desktop bind mount): only ./reverb status
		// is lost, the metrics asked for are still served.
		con.Warnf("./reverb status is off: %v", err)
		ms, err = metrics.Serve(col, metrics.ControlOptions{MetricsAddr: addr, Logf: con.Warnf})
	}
	if err != nil {
		con.Warnf("Monitoring off: %v", err)
		return nil
	}
	if addr != "" {
		con.Infof("Prometheus metrics on http://%s/metrics", ms.MetricsAddr())
	}
	return ms
}
