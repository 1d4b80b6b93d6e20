//go:build linux && !portable

package supervisor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/cachestore"
	"github.com/reverb-go/reverb/supervisor/console"
	"github.com/reverb-go/reverb/supervisor/flagwatch"
	"github.com/reverb-go/reverb/supervisor/hub"
	"github.com/reverb-go/reverb/supervisor/sockets"
	"golang.org/x/sys/unix"
)

// Backoff of a worker that keeps dying: doubled from the first delay up to
// the last; reset once a replacement lived longer than backoffReset.
const (
	backoffFirst = 100 * time.Millisecond
	backoffMax   = 30 * time.Second
	backoffReset = time.Minute
)

// Events the supervisor's loop handles. Everything that changes supervisor
// state arrives here, so the state needs no lock: only the loop goroutine
// touches it.
type (
	evReady struct{ p *proc }
	evFail  struct {
		p   *proc
		msg string
	}
	evExit struct {
		p   *proc
		err error
	}
	evFlag       struct{ ch flagwatch.Change }
	evGenTimeout struct{ g *generation }
	evRespawn    struct {
		g    *generation
		slot int
	}
	evDrainDeadline struct{ g *generation }
	// evAddTimeout: a worker added to the pool was not ready in time.
	evAddTimeout struct{ p *proc }
	// evGrowRetry: a bound or a failure held growth back; ask again.
	evGrowRetry struct{}
)

// generation is one set of workers started from one config load; the
// pool adds workers to the serving one (pool.go).
type generation struct {
	num        int
	started    time.Time
	procs      []*proc // by slot; a replaced worker's slot holds the new one; added workers take new slots
	draining   bool
	drainStart time.Time
	deadline   time.Time // when workers still open are killed
	failures   []int     // consecutive deaths per slot, for backoff
	timer      *time.Timer
	pacer      *drainPacer // a restart's drain (drainpace_workers.go)
	// dir is the folder the generation's workers read the project from,
	// symbolic links resolved when it was read: a worker replaced or added
	// later reads the same release as its siblings, whatever a deploy's
	// current link points to by then.
	dir string
}

// proc is one worker process.
type proc struct {
	gen      *generation
	slot     int
	id       string
	cmd      *exec.Cmd
	peer     *hub.Peer
	dispatch *net.UnixConn   // passes accepted connections to the worker
	out      *sockets.Outbox // what was passed on dispatch, until acknowledged
	started  time.Time
	ready    bool
	exited   bool
	draining bool
	failMsg  string
	// added: started to grow the pool (the first of its slot).
	added bool
}

type supervisor struct {
	c   Config
	con *console.Writer
	// exe is this program's path, the workers' argv[0]; exePath is what
	// they are started from: /proc/self/exe where there is one, so they
	// run this very build even once its file is replaced (a new version
	// installed over it) or deleted (an old release folder removed).
	exe, exePath string

	ep     Endpoint
	ln     net.Listener
	disp   *dispatcher
	relay  *hub.Relay
	events chan any

	gens    []*generation // live generations, oldest first
	current *generation   // the serving generation
	pending *generation   // a generation starting up
	nextGen int
	loading bool // a restart is reading the config (reload.go)
	queued  bool // a restart arrived while one was loading or starting

	// The pool's growth (pool.go): the worker being added (at most one),
	// consecutive failures to add one (for backoff), and rate-limited
	// messages about it.
	adding      *proc
	addFailures int
	addTimer    *time.Timer
	growRetry   *time.Timer
	poolLogs    limitLogs

	stopping bool
	exitCode int

	watcher *flagwatch.Watcher
	store   cachestore.Store

	mon monitorState // monitoring counters (monitoring.go)

	// quit is closed when the event loop has returned.
	quit chan struct{}
}

func runSupervisor(c Config, con *console.Writer) int {
	s := &supervisor{c: c, con: con, events: make(chan any, 256), quit: make(chan struct{})}
	exe, err := os.Executable()
	if err != nil {
		con.Errorf("Cannot find this program's path to start workers: %v", err)
		return 1
	}
	s.exe, s.exePath = exe, exe
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		s.exePath = "/proc/self/exe"
	}

	routeRedisLogs(con.Warnf) // the restart flag's store may be Redis

	soft, hard, err := sockets.RaiseNoFile()
	switch {
	case err != nil:
		con.Warnf("Cannot raise the open files limit (%d, hard %d): %v", soft, hard, err)
	case soft < lowNoFile:
		con.Warnf("Open files limit is %d per process (hard limit %d): the workers grow in number to hold more connections, "+
			"about one per %d; raise the limit (ulimit -n, LimitNOFILE=) to hold them with fewer workers", soft, hard, perWorker(soft, workerBaseFiles(soft)))
	}

	p, err := loadProject(c)
	if err != nil {
		con.Errorf("%v", err)
		return 1
	}
	s.ep = Resolve(p.Reverb.Server, c.CLI)
	if err := s.ep.Validate(); err != nil {
		con.Errorf("%v", err)
		return 1
	}
	tlsCfg, err := tlsConfig(s.ep, p)
	if err != nil {
		con.Errorf("%v", err)
		return 1
	}
	ln, activated, err := sockets.Listen(s.ep.Addr(), listenOptions(p))
	if err != nil {
		con.Errorf("%s", listenFailure(s.ep.Addr(), err))
		return 1
	}
	s.ln = ln
	defer ln.Close()
	s.disp, err = newDispatcher(ln, soft, con.Warnf, con.Infof)
	if err != nil {
		con.Errorf("Cannot accept on %s: %v", s.ep.Addr(), err)
		return 1
	}
	s.disp.advice = func(limit uint64) string { return growAdvice(c, limit) }
	go s.disp.run()
	defer s.disp.close()
	shown := boundEndpoint(s.ep, ln)
	if activated {
		shown = boundEndpoint(Endpoint{Host: "", Port: "0", Path: s.ep.Path, Hostname: s.ep.Hostname}, ln)
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			shown.Host = a.IP.String()
		}
	}
	con.Infof("%s", shown.StartLine(tlsCfg != nil))
	startWarnings(c, p, shown, tlsCfg != nil, con)

	s.relay = hub.NewRelay(0, func(f string, a ...any) { con.Warnf(f, a...) })
	defer s.startMonitoring(p).Close() // control socket, metrics (monitoring.go)
	s.watch(p)
	defer func() {
		close(s.quit) // a watcher blocked on a full events channel gives up
		if s.watcher != nil {
			s.watcher.Stop()
		}
		if s.store != nil {
			s.store.Close()
		}
	}()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	// A connection storm leaves garbage behind the hand-off: given back
	// once quiet (memtrim.go).
	go newMemTrimmer().run(s.quit)

	parentGone := watchParent(s.c, con, s.quit)
	s.poolLogs.logf = con.Warnf
	s.startGeneration(s.c.Workers, p.BasePath)
	for {
		if s.stopping && s.liveProcs() == 0 {
			return s.exitCode
		}
		select {
		case <-s.disp.more:
			s.grow()
		case <-parentGone:
			parentGone = nil
			if !s.stopping {
				con.Infof("%s", parentGoneLine(s.c))
				s.stop(0)
			}
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				con.Infof("SIGHUP received: restarting the workers")
				s.restart()
			case syscall.SIGQUIT:
				s.killAll()
				s.reapAll(2 * time.Second)
				return 0
			default:
				if s.stopping {
					// A second Ctrl-C means "now". A repeated SIGTERM is
					// not a request to hurry: timeout(1) and some service
					// managers signal the process and then its group.
					if sig == syscall.SIGINT {
						con.Warnf("Second interrupt: stopping the workers now")
						s.killAll()
					}
					continue
				}
				con.Infof("Gracefully terminating connections")
				s.stop(0)
			}
		case ev := <-s.events:
			s.handle(ev)
		}
	}
}

// watch (re)starts the flag watcher on the store p's config selects, unless
// it already watches that location.
func (s *supervisor) watch(p *laravelcfg.Project) {
	store, err := openStore(p)
	if err != nil {
		if errors.Is(err, cachestore.ErrNotShared) {
			s.con.Warnf("%s (SIGHUP still restarts)", capital(err.Error()))
		} else {
			s.con.Warnf("The restart flag is not watched (%v); SIGHUP still restarts", err)
		}
		return
	}
	if s.store != nil && s.store.Location() == store.Location() {
		store.Close()
		return
	}
	w, err := flagwatch.Start(store, s.c.RestartPoll, func(ch flagwatch.Change) {
		select {
		case s.events <- evFlag{ch}:
		case <-s.quit:
		}
	}, func(f string, a ...any) { s.con.Warnf(f, a...) })
	if err != nil {
		store.Close()
		s.con.Warnf("The restart flag is not watched (%v); SIGHUP still restarts", err)
		return
	}
	if s.watcher != nil {
		s.watcher.Stop()
		s.store.Close()
	}
	s.watcher, s.store = w, store
}

// startGeneration starts a generation of n workers on the project folder
// dir, the one the supervisor just read (Project.BasePath).
func (s *supervisor) startGeneration(n int, dir string) {
	s.nextGen++
	g := &generation{num: s.nextGen, started: time.Now(), procs: make([]*proc, n), failures: make([]int, n), dir: dir}
	s.gens = append(s.gens, g)
	s.pending = g
	for slot := range g.procs {
		if err := s.spawn(g, slot); err != nil {
			s.con.Errorf("Cannot start worker %d of generation %d: %v", slot, g.num, err)
			s.failGeneration(g, err.Error())
			return
		}
	}
	g.timer = time.AfterFunc(s.c.ReadyTimeout, func() { s.events <- evGenTimeout{g} })
}

// spawn starts the worker for g's slot with the listening socket on fd 3 and
// its end of a new bus connection on fd 4.
func (s *supervisor) spawn(g *generation, slot int) error {
	conn, child, err := sockets.Pair()
	if err != nil {
		return err
	}
	defer child.Close()
	disp, dchild, err := sockets.DispatchPair()
	if err != nil {
		conn.Close()
		return err
	}
	defer dchild.Close()
	p := &proc{gen: g, slot: slot, id: newNodeID(g.num, slot), started: time.Now(), dispatch: disp, out: sockets.NewOutbox(disp)}
	p.out.Answered = s.disp.signalRoom // its counts changed: a waiting dispatch looks again
	wc := s.c
	if g.dir != "" {
		wc.Dir = g.dir
	}
	cmd := exec.Command(s.exe, workerArgs(wc, p.id, s.ln.Addr().String())...)
	cmd.Path = s.exePath
	if s.c.inRelease {
		cmd.Dir = wc.Dir // the release current linked to when the generation was read
	}
	cmd.ExtraFiles = []*os.File{dchild, child}
	cmd.Stdout, cmd.Stderr = s.c.Stdout, s.c.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Workers die with the supervisor (they also watch the bus), and
		// sit in their own process group so a terminal's Ctrl-C reaches
		// only the supervisor, which drains them in order.
		Pdeathsig: orphanSignal,
		Setpgid:   true,
	}
	if err := cmd.Start(); err != nil {
		conn.Close()
		disp.Close()
		return err
	}
	p.cmd = cmd
	busDone := make(chan struct{})
	p.peer = s.relay.Attach(conn, hub.Events{
		Ready: func() { s.events <- evReady{p} },
		Fail:  func(msg string) { s.events <- evFail{p, msg} },
		Gone:  func(error) { close(busDone) },
	})
	g.procs[slot] = p
	// Reads the worker's acknowledgements; owned by the worker's lifetime:
	// ends when the dispatch socket is closed after the process is reaped,
	// handing back what the worker never installed.
	go p.out.Run(s.disp.requeue, func(r sockets.Report) { s.disp.reported(p, r) })
	// Owned by the worker's lifetime: ends when the process is reaped.
	go func() {
		err := cmd.Wait()
		// Let the relay read what the worker wrote before exiting (its
		// Fail frame) so the exit event comes after it.
		select {
		case <-busDone:
		case <-time.After(time.Second):
			p.peer.Close()
		}
		p.dispatch.Close()
		s.events <- evExit{p, err}
	}()
	return nil
}

// updateTargets points the dispatcher at the ready, non-draining workers of
// the serving generation. When it returns no connection is on its way to a
// worker outside that set.
func (s *supervisor) updateTargets() {
	var ts []*proc
	if s.current != nil && !s.stopping && !s.current.draining {
		for _, p := range s.current.procs {
			if p != nil && p.ready && !p.exited && !p.draining {
				ts = append(ts, p)
			}
		}
	}
	s.disp.set(ts)
}

func (s *supervisor) handle(ev any) {
	switch ev := ev.(type) {
	case evReady:
		s.onReady(ev.p)
	case evFail:
		ev.p.failMsg = ev.msg
	case evExit:
		s.onExit(ev.p, ev.err)
	case evFlag:
		s.con.Infof("Restart signal received (%s: %s → %s)", s.store.Location(), flagwatch.Describe(ev.ch.Old), flagwatch.Describe(ev.ch.New))
		s.restart()
	case evGenTimeout:
		if ev.g == s.pending {
			s.failGeneration(ev.g, fmt.Sprintf("not ready after %v", s.c.ReadyTimeout))
		}
	case evRespawn:
		if ev.g != s.current || ev.g.draining || s.stopping {
			return
		}
		if err := s.spawn(ev.g, ev.slot); err != nil {
			s.con.Errorf("Cannot restart worker %d: %v", ev.slot, err)
			s.scheduleRespawn(ev.g, ev.slot)
		}
	case evAddTimeout:
		if ev.p == s.adding && !ev.p.ready && !ev.p.exited {
			ev.p.failMsg = fmt.Sprintf("not ready after %v", s.c.ReadyTimeout)
			ev.p.cmd.Process.Kill()
		}
	case evGrowRetry:
		if s.adding == nil {
			s.disp.setGrowth(growIdle)
		}
	case evLoaded:
		s.onLoaded(ev)
	case evTopology: // a monitoring request (monitoring.go)
		ev.reply <- s.topology()
	case evPaceTick:
		s.pace(ev.g)
	case evDrainDeadline:
		n := 0
		for _, p := range ev.g.procs {
			if p != nil && !p.exited {
				p.cmd.Process.Kill()
				n++
			}
		}
		if n > 0 {
			s.con.Warnf("Generation %d: killed %s still open after the drain window", ev.g.num, workers(n))
		}
	}
}

func (s *supervisor) onReady(p *proc) {
	p.ready = true
	g := p.gen
	if p.draining || p.exited {
		return
	}
	if g == s.current {
		s.updateTargets()
		if p == s.adding {
			s.added(p)
			return
		}
		s.con.Infof("Worker %d replaced (generation %d, %s)", p.slot, g.num, p.id)
		return
	}
	if g != s.pending {
		return
	}
	for _, q := range g.procs {
		if q == nil || !q.ready {
			return
		}
	}
	g.timer.Stop()
	s.pending = nil
	elapsed := time.Since(g.started)
	old := s.current
	s.current = g
	s.updateTargets() // new connections go to g from now on
	if old == nil {
		s.con.Infof("%s ready in %d ms", capital(workers(len(g.procs))), elapsed.Milliseconds())
	} else {
		s.con.Infof("Generation %d ready in %d ms", g.num, elapsed.Milliseconds())
		s.drainGeneration(old)
	}
	s.runQueued()
}

func (s *supervisor) onExit(p *proc, err error) {
	p.exited = true
	g := p.gen
	if g == s.current {
		s.updateTargets()
	}
	if p == s.adding {
		s.addFailed(p, err)
	}
	if g == s.pending && !s.stopping {
		msg := p.failMsg
		switch {
		case msg != "":
		case p.ready:
			msg = fmt.Sprintf("worker %d exited while its generation was starting (%s)", p.slot, exitText(err))
		default:
			msg = fmt.Sprintf("worker exited before it was ready (%s)", exitText(err))
		}
		s.failGeneration(g, msg)
	} else if !p.draining && !g.draining && !s.stopping && g == s.current && !(p.added && !p.ready) {
		life := time.Since(p.started)
		if life > backoffReset {
			g.failures[p.slot] = 0
		}
		delay := s.scheduleRespawn(g, p.slot)
		s.mon.workerDeaths++
		s.con.Errorf("Worker %d (%s, pid %d) died: %s; starting a new one in %v", p.slot, p.id, p.cmd.Process.Pid, exitText(err), delay)
	}
	if (g.draining || s.stopping) && p.ready {
		left := g.live()
		switch {
		case left == 0:
		case s.stopping:
			s.con.Infof("Stopping: %s of generation %d still draining after %.1f s", workers(left), g.num, time.Since(g.drainStart).Seconds())
		default:
			s.con.Infof("Generation %d draining: %d of %s left after %.1f s", g.num, left, workers(len(g.procs)), time.Since(g.drainStart).Seconds())
		}
	}
	if g.live() == 0 && (g.draining || g != s.current) {
		s.removeGeneration(g)
	}
}

func (s *supervisor) scheduleRespawn(g *generation, slot int) time.Duration {
	delay := backoffFirst << min(g.failures[slot], 20)
	if delay > backoffMax {
		delay = backoffMax
	}
	g.failures[slot]++
	time.AfterFunc(delay, func() { s.events <- evRespawn{g, slot} })
	return delay
}

func (g *generation) live() int {
	n := 0
	for _, p := range g.procs {
		if p != nil && !p.exited {
			n++
		}
	}
	return n
}

func (s *supervisor) liveProcs() int {
	n := 0
	for _, g := range s.gens {
		n += g.live()
	}
	return n
}

// removeGeneration forgets g once its last worker is gone; a second call
// (a failed generation whose last worker exits removes it while draining,
// then again from onExit) does nothing.
func (s *supervisor) removeGeneration(g *generation) {
	i := slices.Index(s.gens, g)
	if i < 0 {
		return
	}
	s.gens = slices.Delete(s.gens, i, i+1)
	if g.timer != nil {
		g.timer.Stop()
	}
	held := paceSummary(g)
	s.stopPacing(g)
	if g.draining && !s.stopping {
		s.con.Infof("Generation %d gone after %.1f s%s", g.num, time.Since(g.drainStart).Seconds(), held)
	}
}

// failGeneration gives up on a starting generation: the running one keeps
// serving (at start, the process exits 1).
func (s *supervisor) failGeneration(g *generation, msg string) {
	if s.pending == g {
		s.pending = nil
	}
	if g.timer != nil {
		g.timer.Stop()
	}
	if s.current == nil {
		s.con.Errorf("%s", msg)
		s.stop(1)
	} else {
		s.con.Errorf("Restart failed: %s; generation %d keeps serving", msg, s.current.num)
	}
	s.drainGeneration(g)
	// A restart asked for meanwhile may come with what fixes this one
	// (the next deploy): it runs now.
	s.runQueued()
}

// drainGeneration tells every worker of g to stop accepting and close its
// connections over the drain window; workers that did not get ready are
// killed, and the rest are killed at the deadline.
func (s *supervisor) drainGeneration(g *generation) {
	if g.draining {
		return
	}
	g.draining = true
	g.drainStart = time.Now()
	window := s.c.DrainWindow
	held := g.connections()
	if s.stopping {
		window = stopDrainWindow(window, held, s.c.reconnectPace())
	} else {
		window = restartDrainWindow(window, held, s.c.reconnectPace())
	}
	s.updateTargets() // before any drain order: nothing more is sent to g
	n := 0
	for _, p := range g.procs {
		if p == nil || p.exited {
			continue
		}
		p.draining = true
		order := p.peer.Drain
		if s.stopping {
			order = p.peer.Stop // no generation follows: the worker reports its departures
		}
		if !p.ready || !order(window) {
			p.cmd.Process.Kill()
			continue
		}
		n++
	}
	if n > 0 && !s.stopping {
		s.con.Infof("Draining generation %d: %s, window %v%s", g.num, workers(n), window,
			drainPace(s.c.DrainWindow, window, held, s.c.reconnectPace()))
	}
	if g.timer != nil {
		g.timer.Stop()
	}
	deadline := window + drainGrace
	if s.stopping {
		deadline += stopGrace
	}
	if !s.stopping && n > 0 {
		// Holds add up to one window at most (drainpace_workers.go).
		s.startPacing(g, window)
		deadline += window
	}
	g.deadline = g.drainStart.Add(deadline)
	g.timer = time.AfterFunc(deadline, func() { s.events <- evDrainDeadline{g} })
	if g.live() == 0 {
		s.removeGeneration(g)
	}
}

// restart reads the config again (off the loop, reload.go) and then starts
// a new generation (onLoaded); the old one drains once the new one is
// ready. A restart asked for while one is under way runs after it.
func (s *supervisor) restart() {
	if s.stopping {
		return
	}
	if s.pending != nil || s.loading {
		s.queued = true
		return
	}
	s.loading = true
	loadForRestart(s.c, s.events, s.quit)
}

// onLoaded starts the generation of a restart once its config is read.
func (s *supervisor) onLoaded(ev evLoaded) {
	s.loading = false
	if s.stopping {
		return
	}
	if !acceptReload(ev, s.c, s.ep, s.con) {
		s.runQueued() // a newer change may have fixed the config
		return
	}
	s.watch(ev.p)
	n := s.generationSize()
	if n > s.c.Workers {
		s.con.Infof("Starting %s for the %d connections the workers hold", workers(n), s.heldConnections())
	}
	s.startGeneration(n, ev.p.BasePath)
}

// runQueued runs the restart that arrived while one was under way.
func (s *supervisor) runQueued() {
	if s.queued {
		s.queued = false
		s.restart()
	}
}

// stop drains every worker and makes the loop return code once they are gone.
func (s *supervisor) stop(code int) {
	if s.stopping {
		return
	}
	s.stopping = true
	s.exitCode = code
	s.pending = nil
	// Nothing accepts any more: the listening socket closes now, so new
	// connections are refused instead of waiting in a backlog no one reads.
	s.disp.close()
	for _, g := range s.gens {
		s.stopPacing(g) // nothing reconnects here any more: no holds
		if g.draining {
			s.stopDraining(g)
		} else {
			s.drainGeneration(g)
		}
	}
}

// stopDraining tells the workers of g, draining for a restart, that the
// supervisor stops: no generation will take their drained sockets'
// departures over, so they report them themselves (server.Stopping), and
// have the stop's grace for it; what they still have to close goes over
// the stop's window.
func (s *supervisor) stopDraining(g *generation) {
	window := stopDrainWindow(s.c.DrainWindow, g.connections(), s.c.reconnectPace())
	for _, p := range g.procs {
		if p != nil && !p.exited && p.ready {
			p.peer.Stop(window)
		}
	}
	if g.timer != nil && g.timer.Stop() {
		g.deadline = g.deadline.Add(stopGrace)
		g.timer = time.AfterFunc(time.Until(g.deadline), func() { s.events <- evDrainDeadline{g} })
	}
}

func (s *supervisor) killAll() {
	for _, g := range s.gens {
		for _, p := range g.procs {
			if p != nil && !p.exited {
				p.cmd.Process.Kill()
			}
		}
	}
}

// reapAll waits up to d for the killed workers' exit events.
func (s *supervisor) reapAll(d time.Duration) {
	deadline := time.After(d)
	for s.liveProcs() > 0 {
		select {
		case ev := <-s.events:
			if e, ok := ev.(evExit); ok {
				e.p.exited = true
			}
		case <-deadline:
			return
		}
	}
}

func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + unix.SignalName(ws.Signal())
		}
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
