//go:build linux && !portable

package supervisor

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/reverb-go/reverb/supervisor/fdreserve"
	"github.com/reverb-go/reverb/supervisor/sockets"
)

// The worker pool grows by itself: each worker is a process with its own
// open-files budget (RLIMIT_NOFILE), and the supervisor adds one more
// worker to the serving generation when every worker is near the end of
// its budget, so the wall is memory, not a flag.
//
// Each worker tells the supervisor how many descriptors it has open, in
// every acknowledgement of a hand-off and every second when the count
// moved (sockets.Outbox). From that and what was sent since, the
// dispatcher knows each worker's load, and
//
//   - sends a worker at most what fits under its limit (never a connection
//     it cannot take; the reserve and MSG_CTRUNC stay the backstop);
//   - prefers workers below the high-water mark (limit − headroom);
//   - when no worker is below it, asks the event loop for one more worker,
//     which starts it in the current generation (one at a time) unless a
//     bound says no: --max-workers, the memory the machine has left, or the
//     supervisor's own descriptors (three per worker);
//   - when no worker has room at all and one is starting, holds the
//     connections (they wait in the listen queue) until it is ready, at
//     most growWait; only when the pool cannot grow does it fall back to
//     the last resort (full workers answer the HTTP API from their reserve
//     and refuse WebSockets with 503).
//
// A worker added this way is a worker like the others: a node on the hub
// (it says hello and gets every other node's presence and ledger state,
// as a worker of a new generation does), in `reverb status` and /metrics,
// replaced when it dies.
//
// The pool does not shrink while a generation serves: moving a connection
// means closing it. A restart sizes the next generation to the load
// (generationSize): as many workers as hold the current connections below
// the high-water mark, at least --workers; so a deploy after a peak shrinks
// the pool, and a restart at 200,000 connections starts the eleven or so
// workers they need at once instead of growing one by one.

// headroom is how many descriptors below its limit a worker counts as
// near it: a twentieth of the limit, at least one hand-off batch.
func headroom(limit uint64) uint64 {
	return max(limit/20, sockets.MaxBatch)
}

// highWater is the descriptor count above which a worker is near its
// limit.
func highWater(limit uint64) uint64 {
	h := headroom(limit)
	if limit <= h {
		return 0
	}
	return limit - h
}

// handOffMargin is what a worker needs free beyond the descriptors it is
// sent: turning one into a connection dups it for a moment.
const handOffMargin = 2

// workerLoad is the dispatcher's view of one worker.
type workerLoad struct {
	known bool   // the worker counts its descriptors
	limit uint64 // its open-files limit
	load  uint64 // descriptors open or on their way
}

// room is how many more descriptors fit; unknown counts are not a limit.
func (w workerLoad) room() int {
	if !w.known {
		return sockets.MaxBatch
	}
	if w.load+handOffMargin >= w.limit {
		return 0
	}
	return int(w.limit - w.load - handOffMargin)
}

// high says the worker is near its limit.
func (w workerLoad) high() bool {
	return w.known && w.load >= highWater(w.limit)
}

// perWorker is how many connections one worker holds below the high-water
// mark, when it needs base descriptors of its own.
func perWorker(limit, base uint64) int {
	hw := highWater(limit)
	if hw <= base+handOffMargin {
		return 1
	}
	return int(hw - base - handOffMargin)
}

// workerBaseFiles estimates the descriptors a worker needs of its own
// before it reported (its reserve and about sixteen more), for messages.
func workerBaseFiles(limit uint64) uint64 {
	return uint64(fdreserve.Size(limit)) + 16
}

// workersFor is how many workers hold conns connections below the
// high-water mark: ceil(conns / perWorker).
func workersFor(conns, per int) int {
	if conns <= 0 {
		return 0
	}
	return (conns + per - 1) / per
}

// Bounds of growth. The memory a worker may come to need is estimated at
// workerBaseMemory plus perConnMemory per descriptor of its limit, and a
// worker is added only while the machine (or the cgroup's memory.max)
// keeps a tenth of its memory free after it, so a leak of connections or
// descriptors cannot fork the machine out of memory.
const (
	workerBaseMemory = 32 << 20
	perConnMemory    = 3 << 10
	// supervisorPerWorker is what a worker costs the supervisor in
	// descriptors: its dispatch socket, its hub socket and its pidfd.
	supervisorPerWorker = 3
)

// memInfo is what the machine has, in bytes; 0 when unknown.
type memInfo struct {
	total, available uint64
}

// readMemInfo reads /proc/meminfo and narrows it to the cgroup v2 limit of
// this process, when there is one.
func readMemInfo() memInfo {
	var m memInfo
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.total = meminfoField(b, "MemTotal:")
		m.available = meminfoField(b, "MemAvailable:")
	}
	if limit, used, ok := cgroupMemory(); ok {
		if m.total == 0 || limit < m.total {
			m.total = limit
		}
		free := uint64(0)
		if used < limit {
			free = limit - used
		}
		if m.available == 0 || free < m.available {
			m.available = free
		}
	}
	return m
}

func meminfoField(b []byte, name string) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == name {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n << 10 // kB
		}
	}
	return 0
}

// cgroupMemory is the memory.max and memory.current of this process's
// cgroup (v2); ok is false without a limit.
func cgroupMemory() (limit, used uint64, ok bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, 0, false
	}
	var path string
	for _, line := range strings.Split(string(b), "\n") {
		if rest, found := strings.CutPrefix(line, "0::"); found {
			path = rest
		}
	}
	if path == "" {
		return 0, 0, false
	}
	dir := "/sys/fs/cgroup" + path
	mx, err := os.ReadFile(dir + "/memory.max")
	if err != nil {
		return 0, 0, false
	}
	limit, err = strconv.ParseUint(strings.TrimSpace(string(mx)), 10, 64)
	if err != nil { // "max"
		return 0, 0, false
	}
	cur, err := os.ReadFile(dir + "/memory.current")
	if err != nil {
		return 0, 0, false
	}
	used, _ = strconv.ParseUint(strings.TrimSpace(string(cur)), 10, 64)
	return limit, used, true
}

// growBlock says why the pool may not grow by one worker now ("" when it
// may). live is the number of workers running (every generation), serving
// those of the serving generation; limit is a worker's open-files limit.
func growBlock(c Config, serving, live int, limit, supervisorLimit uint64, mem memInfo) string {
	if c.MaxWorkers > 0 && serving >= c.MaxWorkers {
		return fmt.Sprintf("--max-workers %d reached", c.MaxWorkers)
	}
	if serving >= maxPool {
		return fmt.Sprintf("%d workers is the most a pool grows to", maxPool)
	}
	if supervisorLimit > 0 {
		spare := uint64(fdreserve.Size(supervisorLimit)) + sockets.MaxBatch + 16
		if supervisorLimit <= spare || uint64(live+1)*supervisorPerWorker > supervisorLimit-spare {
			return fmt.Sprintf("the supervisor's own open-files limit (%d) has no room for another worker's sockets", supervisorLimit)
		}
	}
	if mem.total > 0 && mem.available > 0 {
		need := uint64(workerBaseMemory) + limit*perConnMemory
		if mem.available < need+mem.total/10 {
			return fmt.Sprintf("%d MiB of memory available, a worker may need %d MiB and a tenth of the memory stays free",
				mem.available>>20, need>>20)
		}
	}
	return ""
}

// maxPool bounds the pool whatever the other bounds say (as --workers is).
const maxPool = 1024

// grow adds one worker to the serving generation when every worker is
// near its limit and no bound says no (the dispatcher asked, from
// dispatcher.more). Runs on the event loop.
func (s *supervisor) grow() {
	g := s.current
	if s.stopping || g == nil || g.draining || s.pending != nil || s.adding != nil {
		return // a new generation or a worker is on its way already
	}
	_, limit, ok := s.allHigh(g)
	if !ok {
		return // a worker has room again since the dispatcher asked
	}
	if why := growBlock(s.c, g.live(), s.liveProcs(), limit, s.disp.limit, readMemInfo()); why != "" {
		s.blockGrowth(5 * time.Second)
		s.poolLogs.print("pool capped", "Every worker is near its open-files limit (%d) and no worker is added: %s; "+
			"new WebSockets are refused with 503 once the workers are full, while the HTTP API keeps answering; %s",
			limit, why, growAdvice(s.c, limit))
		return
	}
	slot := len(g.procs)
	g.procs = append(g.procs, nil)
	g.failures = append(g.failures, 0)
	s.con.Infof("Every worker is near its open-files limit (%d descriptors, %d connections): adding worker %d to generation %d",
		limit, s.connections(), slot, g.num)
	if err := s.spawn(g, slot); err != nil {
		g.procs, g.failures = g.procs[:slot], g.failures[:slot]
		s.addFailed(nil, err)
		return
	}
	p := g.procs[slot]
	p.added = true
	s.adding = p
	s.disp.setGrowth(growStarting)
	s.addTimer = time.AfterFunc(s.c.ReadyTimeout, func() {
		select {
		case s.events <- evAddTimeout{p}:
		case <-s.quit:
		}
	})
}

// added finishes growing by p, now ready and serving.
func (s *supervisor) added(p *proc) {
	s.adding = nil
	s.addFailures = 0
	if s.addTimer != nil {
		s.addTimer.Stop()
	}
	s.disp.setGrowth(growIdle)
	s.con.Infof("Worker %d added in %d ms (generation %d, %s): %s serving", p.slot, time.Since(p.started).Milliseconds(),
		p.gen.num, p.id, workers(p.gen.live()))
}

// addFailed ends an attempt to add a worker (p nil: it did not start);
// growth waits, doubling from backoffFirst, before the next attempt.
func (s *supervisor) addFailed(p *proc, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if p != nil {
		s.adding = nil
		if s.addTimer != nil {
			s.addTimer.Stop()
		}
		if p.failMsg != "" {
			msg = p.failMsg
		} else {
			msg = exitText(err)
		}
		// The slot was the pool's newest: give it back.
		if g := p.gen; len(g.procs) > 0 && g.procs[len(g.procs)-1] == p {
			g.procs, g.failures = g.procs[:len(g.procs)-1], g.failures[:len(g.failures)-1]
		}
	}
	delay := min(backoffFirst<<min(s.addFailures, 20), backoffMax)
	s.addFailures++
	s.blockGrowth(delay)
	if s.stopping {
		return
	}
	s.con.Errorf("Cannot add a worker: %s; trying again in %v when every worker is still near its limit", msg, delay)
}

// blockGrowth makes the dispatcher treat the pool as unable to grow for d
// (connections that fit nowhere take the last resort at once).
func (s *supervisor) blockGrowth(d time.Duration) {
	s.disp.setGrowth(growBlocked)
	if s.growRetry != nil {
		s.growRetry.Stop()
	}
	s.growRetry = time.AfterFunc(d, func() {
		select {
		case s.events <- evGrowRetry{}:
		case <-s.quit:
		}
	})
}

// allHigh reports whether every serving worker of g is near its limit, with
// how many serve and the largest limit among them.
func (s *supervisor) allHigh(g *generation) (serving int, limit uint64, ok bool) {
	for _, p := range g.procs {
		if p == nil || !p.ready || p.exited || p.draining {
			continue
		}
		w := s.disp.loadOf(p)
		if !w.high() && !p.out.Full() {
			return 0, 0, false
		}
		serving++
		limit = max(limit, w.limit)
	}
	return serving, limit, serving > 0
}

// connections is how many connections the serving generation's workers
// hold, from their descriptor counts (what each holds beyond its own).
func (s *supervisor) connections() int {
	if s.current == nil {
		return 0
	}
	return s.current.connections()
}

// connections is how many connections g's workers hold, from the
// descriptors each reports above its first report.
func (g *generation) connections() int {
	n := 0
	for _, p := range g.procs {
		if p == nil || p.exited {
			continue
		}
		if open, known := p.out.Load(); known && open > p.out.Base() {
			n += int(open - p.out.Base())
		}
	}
	return n
}

// heldConnections is how many connections the workers of every generation
// hold: those of a generation still draining reconnect to the next one.
func (s *supervisor) heldConnections() int {
	n := 0
	for _, g := range s.gens {
		n += g.connections()
	}
	return n
}

// generationSize is how many workers a restart starts: enough to hold the
// workers' connections below the high-water mark, at least --workers, at
// most --max-workers. Every generation's connections count: those of a
// generation still draining from an earlier restart reconnect to the new
// one as well.
func (s *supervisor) generationSize() int {
	n := s.c.Workers
	var limit, base uint64
	for _, g := range s.gens {
		for _, p := range g.procs {
			if p == nil || p.exited || !p.ready {
				continue
			}
			if _, known := p.out.Load(); !known {
				continue
			}
			limit = max(limit, p.out.Limit())
			base = max(base, p.out.Base())
		}
	}
	if limit == 0 {
		return n
	}
	n = max(n, workersFor(s.heldConnections(), perWorker(limit, base)))
	if s.c.MaxWorkers > 0 {
		n = min(n, max(s.c.MaxWorkers, s.c.Workers))
	}
	return min(n, maxPool)
}

// growAdvice is the fix to name when the pool cannot grow.
func growAdvice(c Config, limit uint64) string {
	if c.MaxWorkers > 0 {
		return fmt.Sprintf("raise --max-workers (%d now), or the open-files limit (%d per process: systemd LimitNOFILE=, ulimit -n) so each worker holds more; reverb doctor shows the numbers",
			c.MaxWorkers, limit)
	}
	return fmt.Sprintf("give the machine more memory, or raise the open-files limit (%d per process: systemd LimitNOFILE=, ulimit -n) so each worker holds more; reverb doctor shows the numbers", limit)
}
