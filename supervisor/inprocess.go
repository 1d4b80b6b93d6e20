package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/cachestore"
	"github.com/reverb-go/reverb/server"
	"github.com/reverb-go/reverb/server/cluster"
	"github.com/reverb-go/reverb/server/metrics"
	"github.com/reverb-go/reverb/supervisor/console"
	"github.com/reverb-go/reverb/supervisor/fdreserve"
	"github.com/reverb-go/reverb/supervisor/flagwatch"
)

// drainGrace is how long past the drain window a node may take to finish
// closing before it is stopped hard.
const drainGrace = 5 * time.Second

// stopGrace is the time a stopping server is given beyond drainGrace to
// report its connections' departures: the hold before they are decided
// (server.DefaultHold) and the webhooks' last try.
const stopGrace = server.DefaultHold + 2*time.Second

// stopper is a node that can stop rather than drain for a restart
// (server.Server; test nodes need not be).
type stopper interface {
	Stop(ctx context.Context, window time.Duration) error
}

// The in-process runner serves every connection in this one process, with
// zero-downtime restarts made of generations of server.Server instead of
// worker processes. It is `reverb start` on the portable path (macOS,
// Windows, Linux built with -tags portable) and `--workers 0` on Linux:
//
//	listening socket (opened once, kept across restarts)
//	   │  one accept loop ─► gate ─► handoffs of the serving generation
//	   ├── generation g:   server.Server × N   ┐ one in-memory bus
//	   └── generation g+1: server.Server × N   ┘ (cluster.Bus), one order
//
// A restart (flag, SIGHUP, `reverb restart`) loads the config again; on
// error the serving generation keeps serving and the error names file and
// line. Otherwise the new generation's servers are built, the gate switches
// every new connection to them at one instant, and the old generation
// drains exactly as a worker process does: HTTP answers get Connection:
// close, WebSockets get 4200-range closes spread over the drain window at
// bus markers (server.Drain), so every event accepted before a close is
// delivered first. Both generations are nodes of one bus while they
// overlap: events reach subscribers of both, and presence stays exact (a
// draining server keeps its members until it is gone, so a user who
// reconnects to the new generation never leaves and joins again).
//
// N (servers per generation) is --workers, at least one. One server already
// uses every core (net/http and its goroutines), so N > 1 adds no
// parallelism; it keeps a command line written for Linux meaning the same
// cluster as seen by clients and by `reverb status` (N nodes on one bus).
//
// State ownership: generations, the flag watcher and monitoring state are
// touched only by the event loop (run); the accept loop only reads the
// gate, builders and drainers send events.
type inProcess struct {
	c       Config
	con     *console.Writer
	workers int    // servers per generation
	mode    string // status mode: "single" (--workers 0) or "supervisor"

	ep  Endpoint
	raw net.Listener // the real listening socket
	// reserve keeps descriptors for the HTTP API at the open-files limit
	// (the one process holds every socket); logs rate-limits its lines.
	reserve *fdreserve.Reserve
	logs    limitLogs
	tlsLog  *handshakeLog // failed TLS handshakes, of every generation
	gate    gate
	bus     *cluster.Bus
	events  chan any
	quit    chan struct{} // closed when the event loop returned

	gens     []*ipGen // live generations, oldest first
	current  *ipGen
	pending  int // number of the generation being built, 0 if none
	nextGen  int
	loading  bool // a restart is reading the config (reload.go)
	queued   bool // a restart arrived while one was loading or building
	stopping bool
	started  time.Time

	watcher *flagwatch.Watcher
	store   cachestore.Store

	statsMu sync.Mutex // guards stats: node id → server, for the collector
	stats   map[string]statser
}

// ipGen is one generation: N servers built from one config load.
type ipGen struct {
	num        int
	started    time.Time
	nodes      []*ipNode
	draining   bool
	drainStart time.Time
}

// ipNode is one in-process server and what feeds it.
type ipNode struct {
	id    string
	srv   node
	in    *handoff
	dl    *drainListener
	pulse io.Closer
	// join watches the answers to the server's hello on its transport
	// (the in-memory bus, or Redis with scaling on); nil for a node that
	// is not the Pusher server.
	join *joinWatch
	// served is closed when Serve returned.
	served chan struct{}
}

// Events of the in-process event loop.
type (
	ipBuilt struct {
		num   int
		g     *ipGen
		err   error
		start time.Time
	}
	ipTimeout struct{ num int }
	ipGone    struct{ g *ipGen }
	ipFlag    struct{ ch flagwatch.Change }
)

func runInProcess(c Config, con *console.Writer) int {
	r := &inProcess{c: c, con: con, workers: max(1, c.Workers), mode: "supervisor",
		bus: cluster.NewBus(), events: make(chan any, 64), quit: make(chan struct{}),
		stats: map[string]statser{}, started: time.Now()}
	if c.Workers <= 0 {
		r.mode = "single"
	}
	warnLowNoFile(con)
	// Signals are caught from the start; they wait for the loop.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, notifySignals...)
	defer signal.Stop(sigs)

	p, err := loadProject(c)
	if err != nil {
		con.Errorf("%v", err)
		return 1
	}
	r.ep = Resolve(p.Reverb.Server, c.CLI)
	if err := r.ep.Validate(); err != nil {
		con.Errorf("%v", err)
		return 1
	}
	tlsCfg, err := tlsConfig(r.ep, p)
	if err != nil {
		con.Errorf("%v", err)
		return 1
	}
	ln, activated, unsupported, err := listen(r.ep.Addr(), listenOptions(p))
	if err != nil {
		con.Errorf("%s", listenFailure(r.ep.Addr(), err))
		return 1
	}
	defer ln.Close()
	if len(unsupported) > 0 {
		con.Warnf("servers.reverb.options.tcp %s: not available on this system, ignored", strings.Join(unsupported, ", "))
	}
	// At the open-files limit: descriptors in reserve keep the HTTP API
	// answering while WebSockets get 503 (supervisor/fdreserve).
	r.logs.logf = con.Warnf
	r.tlsLog = newHandshakeLog(con.Warnf)
	r.reserve = fdreserve.New(fdreserve.Options{Limit: fdreserve.CurrentLimit(), CurrentLimit: fdreserve.CurrentLimit, OnChange: func(full bool) {
		if full {
			r.logs.print("full", "At the open-files limit (%d): new WebSocket connections are refused with 503 while the HTTP API keeps answering; %s",
				fdreserve.CurrentLimit(), oneProcessAdvice(fdreserve.CurrentLimit()))
		} else {
			r.logs.print("room", "Room again under the open-files limit (%d): WebSocket connections are accepted again", fdreserve.CurrentLimit())
		}
	}})
	defer r.reserve.Close()
	r.raw = fdreserve.Listener{Listener: ln, Reserve: r.reserve}

	// The first generation is built before anything is accepted: until it
	// serves, connections wait in the kernel's backlog.
	r.nextGen = 1
	g, err := r.build(p, 1)
	if err != nil {
		con.Errorf("%v", err)
		return 1
	}
	// Watching starts before the start line: a flag written once the
	// server says it started is a change.
	r.watch(p)
	// Memory held beyond the live heap after a burst goes back once quiet
	// (memtrim.go); the goroutine ends with quit.
	go newMemTrimmer().run(r.quit)
	defer func() {
		close(r.quit) // a watcher blocked on a full events channel gives up
		if r.watcher != nil {
			r.watcher.Stop()
		}
		if r.store != nil {
			r.store.Close()
		}
	}()
	shown := boundEndpoint(r.ep, ln)
	if activated {
		shown = boundEndpoint(Endpoint{Host: "", Port: "0", Path: r.ep.Path, Hostname: r.ep.Hostname}, ln)
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			shown.Host = a.IP.String()
		}
	}
	con.Infof("%s", shown.StartLine(tlsCfg != nil))
	startWarnings(c, p, shown, tlsCfg != nil, con)
	r.serve(g)
	if r.mode != "single" {
		con.Infof("%s ready in %d ms", workers(len(g.nodes)), time.Since(g.started).Milliseconds())
	}

	accepting := make(chan struct{})
	go r.acceptLoop(accepting) // ends when the listening socket closes
	defer func() {
		ln.Close()
		<-accepting
	}()
	defer r.startMonitoring(p).Close()

	return r.loop(sigs, watchParent(r.c, r.con, r.quit))
}

// loop is the event loop: it owns every generation. parentGone is closed
// when the php artisan reverb:start running the server has exited (nil:
// none to watch).
func (r *inProcess) loop(sigs chan os.Signal, parentGone <-chan struct{}) int {
	for {
		if r.stopping && len(r.gens) == 0 {
			return 0
		}
		select {
		case <-parentGone:
			parentGone = nil
			if !r.stopping {
				r.con.Infof("%s", parentGoneLine(r.c))
				r.stop()
			}
		case sig := <-sigs:
			switch {
			case isRestartSignal(sig):
				r.con.Infof("SIGHUP received: restarting the workers")
				r.restart()
			case isQuitSignal(sig):
				r.closeAll()
				return 0
			case r.stopping:
				// A second Ctrl-C means "now"; a repeated SIGTERM is not a
				// request to hurry (timeout(1) signals the process, then
				// its group).
				if isInterrupt(sig) {
					r.con.Warnf("Second interrupt: closing every connection now")
					r.closeAll()
					return 0
				}
			default:
				r.con.Infof("Gracefully terminating connections")
				r.stop()
			}
		case ev := <-r.events:
			r.handle(ev)
		}
	}
}

func (r *inProcess) handle(ev any) {
	switch ev := ev.(type) {
	case ipFlag:
		r.con.Infof("Restart signal received (%s: %s → %s)", r.store.Location(), flagwatch.Describe(ev.ch.Old), flagwatch.Describe(ev.ch.New))
		r.restart()
	case evLoaded:
		r.onLoaded(ev)
	case ipBuilt:
		r.onBuilt(ev)
	case ipTimeout:
		if ev.num == r.pending {
			r.pending = 0
			r.failRestart(fmt.Sprintf("not ready after %v", r.c.ReadyTimeout))
		}
	case ipGone:
		r.removeGeneration(ev.g)
	case evTopology:
		ev.reply <- r.topology()
	}
}

// restart reads the config again (off the loop, reload.go) and then builds
// the next generation on its own goroutine (onLoaded); the serving one
// drains once the new one serves.
func (r *inProcess) restart() {
	if r.stopping {
		return
	}
	if r.pending != 0 || r.loading {
		r.queued = true
		return
	}
	r.loading = true
	loadForRestart(r.c, r.events, r.quit)
}

// onLoaded builds the generation of a restart once its config is read.
func (r *inProcess) onLoaded(ev evLoaded) {
	r.loading = false
	if r.stopping {
		return
	}
	if !acceptReload(ev, r.c, r.ep, r.con) {
		r.runQueued() // a newer change may have fixed the config
		return
	}
	p := ev.p
	r.watch(p)
	r.nextGen++
	num := r.nextGen
	r.pending = num
	start := time.Now()
	// The builder sends exactly one ipBuilt; a build that outlives the
	// ready timeout is closed when it arrives (onBuilt).
	go func() {
		g, err := r.build(p, num)
		select {
		case r.events <- ipBuilt{num: num, g: g, err: err, start: start}:
		case <-r.quit:
			if g != nil {
				closeGeneration(g)
			}
		}
	}()
	time.AfterFunc(r.c.ReadyTimeout, func() {
		select {
		case r.events <- ipTimeout{num}:
		case <-r.quit:
		}
	})
}

func (r *inProcess) onBuilt(ev ipBuilt) {
	if ev.num != r.pending || r.stopping {
		if ev.g != nil {
			closeGeneration(ev.g) // timed out or stopping: never served
		}
		return
	}
	r.pending = 0
	if ev.err != nil {
		r.failRestart(ev.err.Error())
		return
	}
	old := r.current
	r.serve(ev.g) // new connections go to ev.g from now on
	r.con.Infof("Generation %d ready in %d ms", ev.g.num, time.Since(ev.start).Milliseconds())
	if old != nil {
		r.drainGeneration(old)
	}
	r.runQueued()
}

// runQueued runs the restart that arrived while one was under way.
func (r *inProcess) runQueued() {
	if r.queued {
		r.queued = false
		r.restart()
	}
}

func (r *inProcess) failRestart(msg string) {
	r.con.Errorf("Restart failed: %s; generation %d keeps serving", msg, r.current.num)
	// A restart asked for meanwhile may come with what fixes this one
	// (the next deploy): it runs now.
	r.runQueued()
}

// build makes generation num's servers from p; on error none is left.
func (r *inProcess) build(p *laravelcfg.Project, num int) (*ipGen, error) {
	g := &ipGen{num: num, started: time.Now()}
	for slot := 0; slot < r.workers; slot++ {
		n, err := r.buildNode(p, num, slot)
		if err != nil {
			closeGeneration(g)
			return nil, err
		}
		g.nodes = append(g.nodes, n)
	}
	// Presence is exact from the first connection: every server has the
	// members of the servers already on the bus (the generation it
	// replaces) before the gate hands it anything (joinwatch.go).
	for _, n := range g.nodes {
		if n.join != nil {
			n.join.Joined()
		}
	}
	return g, nil
}

func (r *inProcess) buildNode(p *laravelcfg.Project, num, slot int) (*ipNode, error) {
	id := newNodeID(num, slot)
	n := &ipNode{id: id, in: newHandoff(r.raw.Addr()), served: make(chan struct{})}
	n.dl = &drainListener{Listener: n.in, full: r.reserve.Full}
	tln, _, err := wrapTLS(n.dl, r.ep, p, r.tlsLog)
	if err != nil {
		return nil, err
	}
	// Redis when scaling is on (each server is a node of the Redis
	// channel, like a worker process); otherwise the in-memory bus shared
	// by every generation of this process.
	tr, err := nodeTransport(p, nil, r.c.Stderr)
	if err != nil {
		return nil, err
	}
	if tr == nil {
		tr = r.bus.Node()
	}
	tr, n.join = watchJoins(tr, id)
	// Apps only PHP can produce: a server that learns new ones at run time
	// saves them where the next restart's fallback looks, as a worker does.
	cfg := r.c
	if a := workerAppsArgs(r.c.apps); len(a) == 2 {
		cfg.appsFile = a[1]
	}
	routeRedisLogs(r.con.Warnf) // after the transport: go-redis has one logger
	opts := serverOptions(p, r.ep, cfg, tr, id)
	opts.RefuseUpgrade = fdreserve.Reserved
	srv, err := newNode(opts)
	if err != nil {
		tr.Close()
		return nil, err
	}
	n.srv = srv
	if _, real := srv.(*server.Server); !real {
		n.join = nil // only the Pusher server answers and says hello
	}
	n.pulse = startNodePulse(p, srv, r.con)
	go func() { // owned by the node: ends when its handoff closes (drain) or Close
		defer close(n.served)
		if err := srv.Serve(tln); err != nil && !errors.Is(err, net.ErrClosed) {
			r.con.Errorf("Server %s stopped: %v", id, err)
		}
	}()
	return n, nil
}

// serve makes g the serving generation: the gate hands it every new
// connection from now on.
func (r *inProcess) serve(g *ipGen) {
	r.gens = append(r.gens, g)
	r.current = g
	ins := make([]*handoff, len(g.nodes))
	r.statsMu.Lock()
	for i, n := range g.nodes {
		ins[i] = n.in
		if st, ok := n.srv.(statser); ok {
			r.stats[n.id] = st
		}
	}
	r.statsMu.Unlock()
	r.gate.set(ins)
}

// drainGeneration takes g out of the gate (if it is still there) and
// drains its servers on a goroutine that reports ipGone.
func (r *inProcess) drainGeneration(g *ipGen) {
	if g.draining {
		return
	}
	g.draining = true
	g.drainStart = time.Now()
	if g == r.current {
		r.gate.set(nil)
	}
	for _, n := range g.nodes {
		n.dl.startDraining()
		n.in.Close() // Serve returns once it took what was handed over
	}
	window := r.c.DrainWindow
	if r.stopping {
		window = stopDrainWindow(window, g.connections(), r.c.reconnectPace())
	} else {
		held := g.connections()
		window = restartDrainWindow(window, held, r.c.reconnectPace())
		r.con.Infof("Draining generation %d: %s, window %v%s", g.num, workers(len(g.nodes)), window,
			drainPace(r.c.DrainWindow, window, held, r.c.reconnectPace()))
	}
	stop := r.stopping
	go func() { // owned by g: ends within 2×window + drainGrace + stopGrace + 1 s
		var wg sync.WaitGroup
		for _, n := range g.nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Let Serve hand its last connections to net/http, so
				// they are registered before Drain looks.
				select {
				case <-n.served:
				case <-time.After(time.Second):
				}
				drainNode(n.srv, window, stop, nil)
				if n.pulse != nil {
					n.pulse.Close()
				}
			}()
		}
		wg.Wait()
		select {
		case r.events <- ipGone{g}:
		case <-r.quit:
		}
	}()
}

func (r *inProcess) removeGeneration(g *ipGen) {
	for i, x := range r.gens {
		if x == g {
			r.gens = append(r.gens[:i], r.gens[i+1:]...)
			break
		}
	}
	r.statsMu.Lock()
	for _, n := range g.nodes {
		delete(r.stats, n.id)
	}
	r.statsMu.Unlock()
	if !r.stopping {
		r.con.Infof("Generation %d gone after %.1f s", g.num, time.Since(g.drainStart).Seconds())
	}
}

// stop closes the listening socket (new connections are refused, not left
// in a backlog no one reads) and drains every generation; the loop returns
// once all are gone.
func (r *inProcess) stop() {
	if r.stopping {
		return
	}
	r.stopping = true
	r.pending = 0
	r.raw.Close()
	r.gate.set(nil)
	for _, g := range r.gens {
		if g.draining {
			// A restart's drain under way: no generation will take its
			// drained sockets' departures over, so its servers report
			// them themselves.
			window := stopDrainWindow(r.c.DrainWindow, g.connections(), r.c.reconnectPace())
			for _, n := range g.nodes {
				if st, ok := n.srv.(interface{ Stopping(time.Duration) }); ok {
					st.Stopping(window)
				}
			}
			continue
		}
		r.drainGeneration(g)
	}
}

// closeAll closes every server at once (SIGQUIT, second Ctrl-C).
func (r *inProcess) closeAll() {
	r.raw.Close()
	r.gate.set(nil)
	for _, g := range r.gens {
		closeGeneration(g)
	}
	r.gens = nil
}

// closeGeneration closes g's servers without draining.
func closeGeneration(g *ipGen) {
	for _, n := range g.nodes {
		n.in.Close()
		n.srv.Close()
		if n.pulse != nil {
			n.pulse.Close()
		}
	}
}

// acceptLoop is the one accept loop: every connection goes through the
// gate to the serving generation. It ends when the listening socket closes.
func (r *inProcess) acceptLoop(done chan struct{}) {
	defer close(done)
	var delay time.Duration
	for {
		c, err := r.raw.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors (the one process holds every socket, so
			// the open-files limit is the ceiling) and friends: back off
			// like net/http, 5 ms doubling to 1 s, warn once per run of
			// failures, and keep serving the connections already open.
			if delay == 0 {
				delay = 5 * time.Millisecond
				r.con.Warnf("Accept failed: %v (retrying; new connections wait in the backlog)", err)
			} else {
				delay = min(2*delay, time.Second)
			}
			time.Sleep(delay)
			continue
		}
		delay = 0
		r.gate.hand(c)
	}
}

// watch (re)starts the flag watcher on the store p's config selects, unless
// it already watches that location.
func (r *inProcess) watch(p *laravelcfg.Project) {
	store, err := openStore(p)
	if errors.Is(err, cachestore.ErrNotShared) {
		r.con.Warnf("%s", capital(err.Error()))
		return
	}
	if err != nil {
		r.con.Warnf("The restart flag is not watched (%v); %s", err, restartHint)
		return
	}
	if r.store != nil && r.store.Location() == store.Location() {
		store.Close()
		return
	}
	w, err := flagwatch.Start(store, r.c.RestartPoll, func(ch flagwatch.Change) {
		select {
		case r.events <- ipFlag{ch}:
		case <-r.quit:
		}
	}, func(f string, a ...any) { r.con.Warnf(f, a...) })
	if err != nil {
		store.Close()
		r.con.Warnf("The restart flag is not watched (%v); %s", err, restartHint)
		return
	}
	if r.watcher != nil {
		r.watcher.Stop()
		r.store.Close()
	}
	r.watcher, r.store = w, store
}

// startMonitoring serves the control socket and metrics, reading the
// in-process servers directly.
func (r *inProcess) startMonitoring(p *laravelcfg.Project) io.Closer {
	col := metrics.NewCollector(appIDs(p), r.askTopology, func(_ context.Context, w metrics.Worker) (server.Stats, error) {
		r.statsMu.Lock()
		st, ok := r.stats[w.NodeID]
		r.statsMu.Unlock()
		if !ok {
			return server.Stats{}, fmt.Errorf("server %s is gone", w.NodeID)
		}
		return st.Stats(), nil
	})
	if ms := serveControl(col, p, r.c, r.con); ms != nil {
		return ms
	}
	return closers{}
}

// askTopology asks the event loop (from a monitoring goroutine).
func (r *inProcess) askTopology(ctx context.Context) (metrics.Topology, error) {
	reply := make(chan metrics.Topology, 1)
	select {
	case r.events <- evTopology{reply}:
	case <-ctx.Done():
		return metrics.Topology{}, ctx.Err()
	}
	select {
	case t := <-reply:
		return t, nil
	case <-ctx.Done():
		return metrics.Topology{}, fmt.Errorf("server busy: %w", ctx.Err())
	}
}

// topology runs on the event loop. Every server is in this process, so
// each "worker" has this process's pid.
func (r *inProcess) topology() metrics.Topology {
	pid := os.Getpid()
	t := metrics.Topology{Mode: r.mode, PID: pid, Started: r.started, Restarts: max(0, r.nextGen-1)}
	if r.current != nil {
		t.Generation = r.current.num
	}
	for _, g := range r.gens {
		for _, n := range g.nodes {
			t.Workers = append(t.Workers, metrics.Worker{NodeID: n.id, PID: pid, Generation: g.num, Ready: true, Draining: g.draining})
		}
	}
	return t
}

// startNodePulse runs one server's Pulse ingest (nil when Pulse is off).
func startNodePulse(p *laravelcfg.Project, srv node, con *console.Writer) io.Closer {
	st, ok := srv.(statser)
	if !ok {
		return nil
	}
	return startPulse(p, st, con.Warnf)
}

// drainNode closes every connection of srv over window and stops it; stop
// (the server stops rather than restarts) has it report its connections'
// departures itself (server.Stop). The bound allows for a supervisor
// holding the closes for up to one more window (drainpace_workers.go), and
// for a stop's held departures.
func drainNode(srv node, window time.Duration, stop bool, con *console.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*window+drainGrace+stopGrace)
	defer cancel()
	drain := srv.Drain
	if st, ok := srv.(stopper); ok && stop {
		drain = st.Stop
	}
	if err := drain(ctx, window); err != nil && con != nil {
		con.Warnf("Drain ended early: %v", err)
	}
	srv.Close()
}

// boundEndpoint reports the real port when the config asked for port 0 (an
// ephemeral port; tests use it), so the start line names a usable address.
func boundEndpoint(ep Endpoint, ln net.Listener) Endpoint {
	if ep.Port == "0" {
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			ep.Port = itoa(a.Port)
		}
	}
	return ep
}

// connections is how many connections g's servers hold.
func (g *ipGen) connections() int {
	n := 0
	for _, nd := range g.nodes {
		if st, ok := nd.srv.(interface{ Stats() server.Stats }); ok {
			for _, a := range st.Stats().Apps {
				n += int(a.Connections)
			}
		}
	}
	return n
}
