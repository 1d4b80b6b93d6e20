//go:build linux && !portable

package supervisor

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/reverb-go/reverb/server"
	"github.com/reverb-go/reverb/server/cluster"
	"github.com/reverb-go/reverb/supervisor/fdreserve"
	"github.com/reverb-go/reverb/supervisor/hub"
	"github.com/reverb-go/reverb/supervisor/sockets"
)

// orphanSignal is the parent-death signal of a worker: distinct from the
// SIGTERM a service manager sends, because an orphan drains quickly.
const orphanSignal = syscall.SIGUSR2

// orphanDrainWindow is the drain window of a worker whose supervisor died:
// nothing will replace it, so clients are sent away quickly to reconnect to
// whatever the process manager starts next.
const orphanDrainWindow = time.Second

// workerArgs renders the command line of a worker; addr is the listening
// address (what the worker's listener reports).
func workerArgs(c Config, nodeID, addr string) []string {
	args := []string{WorkerCommand,
		"--dir", c.Dir,
		"--env", c.EnvName,
		"--host", c.CLI.Host,
		"--port", c.CLI.Port,
		"--path", c.CLI.Path,
		"--hostname", c.CLI.Hostname,
		"--ping-sweep", c.PingSweep.String(),
		"--drain-window", c.DrainWindow.String(),
		"--node-id", nodeID,
		"--addr", addr,
		"--supervisor-pid", strconv.Itoa(os.Getpid()),
	}
	if c.CLI.Debug {
		args = append(args, "--debug")
	}
	return append(args, workerAppsArgs(c.apps)...) // apps only PHP can produce (phpapps.go)
}

// RunWorker is the entry point of a worker process (`reverb _worker`). It
// expects the dispatch socket (connections accepted by the supervisor) on
// fd 3 and its bus connection on fd 4.
func RunWorker(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(WorkerCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	var nodeID, listenAddr string
	var supervisorPID int
	fs.StringVar(&c.Dir, "dir", ".", "")
	fs.StringVar(&c.EnvName, "env", "", "")
	fs.StringVar(&c.CLI.Host, "host", "", "")
	fs.StringVar(&c.CLI.Port, "port", "", "")
	fs.StringVar(&c.CLI.Path, "path", "", "")
	fs.StringVar(&c.CLI.Hostname, "hostname", "", "")
	fs.BoolVar(&c.CLI.Debug, "debug", false, "")
	fs.DurationVar(&c.PingSweep, "ping-sweep", 0, "")
	fs.DurationVar(&c.DrainWindow, "drain-window", 0, "")
	fs.StringVar(&nodeID, "node-id", "", "")
	fs.StringVar(&listenAddr, "addr", "", "")
	fs.IntVar(&supervisorPID, "supervisor-pid", 0, "")
	fs.StringVar(&c.appsFile, appsFileFlag[2:], "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c.Stdout, c.Stderr = stdout, stderr
	c.defaults()

	// The supervisor set Pdeathsig; if it died before that took effect we
	// were re-parented already and must not serve alone. Compare with the
	// supervisor's own pid rather than 1: in a container the supervisor is
	// often pid 1 itself.
	if supervisorPID != 0 && os.Getppid() != supervisorPID {
		fmt.Fprintln(stderr, "reverb worker: supervisor already gone")
		return 1
	}
	// Terminal signals go to the supervisor, which coordinates; a worker
	// only reacts to the SIGTERM a service manager may send to the whole
	// group (and to its parent-death signal).
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGQUIT, orphanSignal)
	defer signal.Stop(sigs)

	dispatch, conn, err := sockets.Inherited()
	if err != nil {
		fmt.Fprintf(stderr, "reverb worker: %v\n", err)
		return 1
	}
	tcpAddr, _ := net.ResolveTCPAddr("tcp", listenAddr)
	ln := sockets.NewDispatchListener(dispatch, tcpAddr)
	// Descriptors in reserve for when the table fills: released for the
	// HTTP API, and the supervisor is told (dispatch.go).
	reserve := fdreserve.New(fdreserve.Options{Limit: fdreserve.CurrentLimit(), CurrentLimit: fdreserve.CurrentLimit, OnChange: ln.Report})
	defer reserve.Close()
	ln.SetReserve(reserve)
	// The supervisor sizes the pool by each worker's descriptor count
	// (pool.go): closed connections show within a second.
	ln.ReportLoad(time.Second, reserve.Limit()/256)
	// Memory held beyond the live heap goes back when the worker is quiet
	// (memtrim.go).
	stopTrim := make(chan struct{})
	defer close(stopTrim)
	go newMemTrimmer().run(stopTrim)
	// drains carries the supervisor's drain order: its window, and
	// whether the supervisor is stopping (not restarting).
	type drainOrder struct {
		window time.Duration
		stop   bool
	}
	drains := make(chan drainOrder, 1)
	lifeline := make(chan error, 1)
	// pauseDrain is the server's PauseDrain once the server exists (the
	// supervisor holds only drains, which come after).
	var pauseDrain atomic.Pointer[func(bool)]
	// stopping is the server's Stopping once the server exists: a stop
	// ordered while a restart's drain is under way turns it into a stop.
	var stopping atomic.Pointer[func(time.Duration)]
	var ordered atomic.Bool
	bus, err := hub.Dial(conn, nodeID, hub.ClientEvents{
		Drain: func(w time.Duration, stop bool) {
			if !ordered.Swap(true) {
				drains <- drainOrder{w, stop} // the first order: room for it
				return
			}
			if f := stopping.Load(); f != nil && stop {
				(*f)(w)
			}
		},
		PauseDrain: func(paused bool) {
			if f := pauseDrain.Load(); f != nil {
				(*f)(paused)
			}
		},
		Closed: func(err error) { lifeline <- err },
	})
	if err != nil {
		fmt.Fprintf(stderr, "reverb worker: cannot reach the supervisor: %v\n", err)
		return 1
	}
	fail := func(err error) int {
		// The supervisor logs it in its own style; stderr is for the case
		// the bus is already gone.
		if bus.Fail(err.Error()) != nil {
			fmt.Fprintf(stderr, "reverb worker: %v\n", err)
		}
		bus.Close()
		return 1
	}

	if c.apps, err = workerAppsResolver(c); err != nil {
		return fail(err)
	}
	p, err := loadProject(c)
	if err != nil {
		return fail(err)
	}
	ep := Resolve(p.Reverb.Server, c.CLI)
	dl := &drainListener{Listener: ln, full: reserve.Full}
	tln, _, err := wrapTLS(dl, ep, p, newHandshakeLog(workerLogf(stderr, nodeID)))
	if err != nil {
		return fail(err)
	}
	jw := newJoinWatch(bus, nodeID)
	tr, err := nodeTransport(p, jw, c.Stderr) // Redis when scaling is on
	if err != nil {
		return fail(err)
	}
	join := jw
	scaled := tr != cluster.Transport(jw)
	if scaled {
		tr, join = watchJoins(tr, nodeID)
	}
	routeRedisLogs(workerLogf(stderr, nodeID)) // after the transport: go-redis has one logger
	opts := serverOptions(p, ep, c, tr, nodeID)
	opts.RefuseUpgrade = fdreserve.Reserved
	srv, err := newNode(opts)
	if err != nil {
		if scaled {
			tr.Close()
		}
		return fail(err)
	}
	if ps, ok := srv.(interface{ PauseDrain(bool) }); ok {
		f := ps.PauseDrain
		pauseDrain.Store(&f)
	}
	if st, ok := srv.(interface{ Stopping(time.Duration) }); ok {
		f := st.Stopping
		stopping.Store(&f)
	}
	defer startWorkerMonitoring(p, srv, nodeID, ln.Lost, stderr).Close() // Pulse, stats socket (monitoring.go)
	// served is closed when Serve returns; serveErr is written before.
	served := make(chan struct{})
	var serveErr error
	go func() { serveErr = srv.Serve(tln); close(served) }()
	if _, real := srv.(*server.Server); real {
		// Presence is exact from the first connection: the other
		// workers' (and, with scaling, the other servers') members are
		// in (joinwatch.go).
		join.Joined()
	}
	if err := bus.Ready(); err != nil {
		srv.Close()
		return 1
	}

	// drain ends the worker. stop is false only for a restart's drain, whose
	// departures the new generation takes over; a stop, a signal of its own
	// or a lost supervisor leaves no one to, so the worker reports them.
	drain := func(window time.Duration, stop bool) int {
		dl.startDraining()
		// The supervisor sends nothing more once it ordered the drain; take
		// what it sent before, then let Serve return so those sockets are
		// registered before Drain looks at them.
		ln.Flush(100 * time.Millisecond)
		if served != nil {
			select {
			case <-served:
			case <-time.After(time.Second):
			}
		}
		drainNode(srv, window, stop, nil)
		bus.Close()
		return 0
	}
	for {
		select {
		case o := <-drains:
			return drain(o.window, o.stop)
		case <-lifeline:
			return drain(orphanDrainWindow, true)
		case sig := <-sigs:
			switch sig {
			case syscall.SIGQUIT:
				srv.Close()
				bus.Close()
				return 0
			case orphanSignal:
				return drain(orphanDrainWindow, true)
			}
			return drain(c.DrainWindow, true)
		case <-served:
			if serveErr != nil && !errors.Is(serveErr, net.ErrClosed) {
				fmt.Fprintf(stderr, "reverb worker %s: server stopped: %v\n", nodeID, serveErr)
				srv.Close()
				bus.Close()
				return 1
			}
			served = nil // the dispatch socket ended: the lifeline follows
		}
	}
}

// workerLogf prints a worker's own log line: time, worker, message (the
// supervisor prints its lines in Laravel's console style).
func workerLogf(w io.Writer, nodeID string) func(format string, args ...any) {
	var mu sync.Mutex
	return func(format string, args ...any) {
		line := fmt.Sprintf("%s reverb worker %s: %s\n", time.Now().Format(time.RFC3339), nodeID, fmt.Sprintf(format, args...))
		mu.Lock()
		io.WriteString(w, line)
		mu.Unlock()
	}
}
