//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	iouring "github.com/reverb-go/reverb/internal/uring"
)

// The uring scenario asks whether io_uring would lower the server's CPU per
// delivery of a fan-out. The server's flushers write each ready socket's
// queue with one non-blocking write/writev, so a fan-out of one event to
// 1,000 subscribers costs 1,000 syscalls; io_uring could carry all of them
// in one io_uring_enter. Whether that helps depends on what dominates a
// delivery: the syscall entry and exit that batching removes, or the
// per-socket work (the TCP send path, the loopback receiver's processing
// and the reader's wake-up) that every send still pays, batched or not.
//
// The method is the fan-out floor's (atfloor.go): the fan-out's 85-byte
// frame is sent to every one of 1,000 loopback sockets per round, rounds
// 10 ms apart, read by client processes that wait in epoll between frames,
// and the CPU is counted as user + system time of the whole process
// (RUSAGE_SELF, which also holds any io_uring worker threads) and of the
// sending thread (RUSAGE_THREAD). On the same sockets and readers, in
// alternating phases so that other load on the machine weighs on both
// alike, it measures:
//
//   - write(2): one write per socket per round (the fan-out floor's own
//     writeRounds);
//   - io_uring: one IORING_OP_SEND per socket queued in the submission
//     ring, then one io_uring_enter that submits all of them and waits for
//     all their completions; every completion's result must be the frame's
//     length (a short send or an error is counted and reported).
//
// Beside each it prints what the sends cost elsewhere, since a cheaper
// sender could merely have moved work: the reader processes' CPU,
// ksoftirqd's (receive work the kernel deferred out of the sender), and how
// often the sending process was switched out.
//
// Then the burst: the same comparison for 10,000 sockets once per round,
// rounds 100 ms apart, with the time from a round's start until its last
// send completed (skipped with -quick).
//
// The ring is driven with raw io_uring_setup and io_uring_enter system
// calls and the rings mapped with mmap: no cgo and no library. The sending
// thread owns the submission ring's tail and the completion ring's head; the
// kernel owns the other two, so each side publishes its index with an
// atomic store and reads the other's with an atomic load (the barriers the
// ring protocol asks for). When io_uring_setup fails (kernels without it,
// or containers whose seccomp profile forbids it) the scenario says so and
// measures write(2) alone.
//
// Reading the result: an io_uring / write(2) ratio near 1 means the
// per-socket TCP work dominates and batching the flushers' syscalls would
// not pay for a second write path. A ratio well below 1 is what batching
// saves per delivery (the syscall entries and exits, and what a loop of
// sends pays per call besides, such as being switched out on the way back to
// user space when a send woke a reader), provided the readers' and
// ksoftirqd's figures show the work did not just move there. In a fan-out a
// flusher drains a ready list of many sockets at once: that list is what one
// io_uring_enter would carry.

const (
	uringSubs        = 1000
	uringProcs       = 2 // reader processes for 1,000 sockets, as in atfloor
	uringBurstSubs   = 10000
	uringBurstProcs  = 5 // 2,000 sockets each, well under the open-files limit
	uringBurstPeriod = 100 * time.Millisecond
)

// uring is a ring (internal/uring) and how many io_uring_enter calls it
// made, used by one thread at a time.
type uring struct {
	*iouring.Ring
	enters int
}

// newURing sets up a ring with at least entries submission slots (the
// kernel rounds up to a power of two; at most 32,768).
func newURing(entries uint32) (*uring, error) {
	r, err := iouring.Setup(entries)
	if err != nil {
		return nil, fmt.Errorf("io_uring_setup: %w", err)
	}
	return &uring{Ring: r}, nil
}

func (r *uring) close() { r.Ring.Close() }

// uringSendResult counts the completions of one sendAll.
type uringSendResult struct {
	ok, failed int
	lastBad    int32 // the last failed completion's result: -errno, or the bytes of a short send
}

// sendAll sends buf to every fd with one IORING_OP_SEND each: it fills the
// submission ring, submits all of them and waits for all their completions
// in one io_uring_enter (more only when a signal interrupts the wait), and
// checks every completion. It allocates nothing. len(fds) must fit the
// ring.
func (r *uring) sendAll(fds []int, buf []byte) (uringSendResult, error) {
	var res uringSendResult
	n := uint32(len(fds))
	if n == 0 {
		return res, nil
	}
	if n > r.Entries {
		return res, fmt.Errorf("%d sends do not fit a ring of %d entries", n, r.Entries)
	}
	addr := uint64(uintptr(unsafe.Pointer(&buf[0])))
	for i, fd := range fds {
		*r.Entry(uint32(i)) = iouring.SQE{
			Opcode:   iouring.OpSend,
			Fd:       int32(fd),
			Addr:     addr,
			Len:      uint32(len(buf)),
			OpFlags:  unix.MSG_NOSIGNAL,
			UserData: uint64(i),
		}
	}
	r.SetTail(r.Tail() + n) // publishes the entries to the kernel
	reaped := uint32(0)
	for reaped < n {
		err := r.Enter(n - reaped)
		r.enters++
		if err != nil {
			return res, fmt.Errorf("io_uring_enter: %w", err)
		}
		reaped += uint32(r.Reap(func(c *iouring.CQE) {
			if c.Res == int32(len(buf)) {
				res.ok++
			} else {
				res.failed++
				res.lastBad = c.Res
			}
		}))
	}
	// The kernel has finished with buf: every send has completed.
	runtime.KeepAlive(buf)
	return res, nil
}

// rawReaders is a set of loopback connections whose far ends client
// processes read in raw mode, as the fan-out floor's are (fanoutFloor).
type rawReaders struct {
	l        net.Listener
	conns    []net.Conn
	accepted chan struct{}
	pool     clientPool
	fds      []int // borrowed from conns, which own the sockets
	softirqd []int // the kernel's ksoftirqd threads
}

// openRawReaders connects subs sockets from procs client processes (each on
// its own loopback source address) and returns their accepted ends.
func openRawReaders(subs, procs int) (*rawReaders, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// The accepting goroutine owns rr.conns and acceptErr until it closes
	// accepted; it ends after subs accepts, or when l is closed.
	rr := &rawReaders{l: l, accepted: make(chan struct{})}
	var acceptErr error
	go func() {
		defer close(rr.accepted)
		for len(rr.conns) < subs {
			c, err := l.Accept()
			if err != nil {
				acceptErr = err
				return
			}
			rr.conns = append(rr.conns, c)
		}
	}()
	fail := func(err error) (*rawReaders, error) {
		rr.close()
		return nil, err
	}
	for _, src := range sources(procs) {
		c, err := startClient(l.Addr().String(), src, "", "")
		if err != nil {
			return fail(err)
		}
		rr.pool = append(rr.pool, c)
	}
	replies, err := rr.pool.all(func(i int) clientCmd {
		n := subs / procs
		if i < subs%procs {
			n++
		}
		return clientCmd{Op: "raw", N: n}
	})
	if err != nil {
		return fail(err)
	}
	for _, r := range replies {
		if r.Failed > 0 {
			return fail(fmt.Errorf("%d reader sockets failed to connect: %s", r.Failed, r.ErrSample))
		}
	}
	<-rr.accepted
	if acceptErr != nil {
		return fail(acceptErr)
	}
	for _, c := range rr.conns {
		raw, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			return fail(err)
		}
		_ = raw.Control(func(fd uintptr) { rr.fds = append(rr.fds, int(fd)) })
	}
	if _, err := resetAll(rr.pool); err != nil {
		return fail(err)
	}
	rr.softirqd = ksoftirqdPIDs()
	return rr, nil
}

// sideUsage is where else a phase's sends cost CPU: in the reader
// processes (their wake-ups and reads) and in ksoftirqd (network receive
// work the kernel deferred from the sender); and how often the sending
// process was switched out.
type sideUsage struct {
	readers, ksoftirqd time.Duration
	nvcsw, nivcsw      int64 // the process's voluntary and involuntary context switches
}

func (rr *rawReaders) usage() (sideUsage, error) {
	var u sideUsage
	_, _, _, readers, _, _, err := reportAll(rr.pool)
	u.readers = time.Duration(readers * 1e9)
	for _, pid := range rr.softirqd {
		u.ksoftirqd += pidCPU(pid)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.nvcsw, u.nivcsw = ru.Nvcsw, ru.Nivcsw
	}
	return u, err
}

func (u sideUsage) sub(o sideUsage) sideUsage {
	return sideUsage{u.readers - o.readers, u.ksoftirqd - o.ksoftirqd, u.nvcsw - o.nvcsw, u.nivcsw - o.nivcsw}
}

// ksoftirqdPIDs lists the per-CPU ksoftirqd kernel threads.
func ksoftirqdPIDs() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err == nil && strings.HasPrefix(string(comm), "ksoftirqd/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// pidCPU is the user + system time of one process or thread from
// /proc/PID/stat (10 ms resolution).
func pidCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	f := statFields(string(b))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond // USER_HZ is 100
}

func (rr *rawReaders) close() {
	rr.l.Close()
	<-rr.accepted
	for _, c := range rr.conns {
		c.Close()
	}
	rr.pool.stop()
}

// waitDelivered waits until the readers have counted want frames since they
// were opened (or 10 s pass) and returns what they counted.
func (rr *rawReaders) waitDelivered(want uint64) (uint64, error) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		received, _, _, _, _, _, err := reportAll(rr.pool)
		if err != nil || received >= want || time.Now().After(deadline) {
			return received, err
		}
	}
}

// sendCost is the CPU and outcome of a number of measured rounds.
type sendCost struct {
	proc, thread time.Duration // RUSAGE_SELF and RUSAGE_THREAD over the measured rounds
	elapsed      time.Duration
	sends        int             // completed sends in measured rounds
	total        int             // completed sends including the warm-up, for the delivery check
	failed       int             // short or failed sends (io_uring)
	lastBad      int32           // a failed send's result
	toLast       []time.Duration // per measured round: start to the last send's completion
	roundsRun    int             // rounds including the warm-up
	enters       int             // io_uring_enter calls in all roundsRun rounds
	side         sideUsage       // over all roundsRun rounds
}

func (c *sendCost) add(o sendCost) {
	c.proc += o.proc
	c.thread += o.thread
	c.elapsed += o.elapsed
	c.sends += o.sends
	c.total += o.total
	c.failed += o.failed
	if o.failed > 0 {
		c.lastBad = o.lastBad
	}
	c.toLast = append(c.toLast, o.toLast...)
	c.roundsRun += o.roundsRun
	c.enters += o.enters
	c.side.readers += o.side.readers
	c.side.ksoftirqd += o.side.ksoftirqd
	c.side.nvcsw += o.side.nvcsw
	c.side.nivcsw += o.side.nivcsw
}

// perTotalSend is d per send of all rounds, warm-up included (the span the
// side usage covers).
func (c sendCost) perTotalSend(d time.Duration) float64 {
	if c.total == 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / 1000 / float64(c.total)
}

func (c sendCost) perSend(d time.Duration) float64 {
	if c.sends == 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / 1000 / float64(c.sends)
}

// sendRounds runs round once per period on one locked OS thread, as
// writeRounds does (parking between rounds even when one overran), and
// measures the rounds after the warm-up ones. round returns the sends that
// completed with the frame's full length and the ones that did not.
func sendRounds(round func() (ok, failed int, lastBad int32, err error), warmup, rounds int, period time.Duration) (sendCost, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c := sendCost{toLast: make([]time.Duration, 0, rounds)}
	next := time.Now()
	var proc0, thread0 time.Duration
	var start time.Time
	for r := -warmup; r < rounds; r++ {
		if r == 0 {
			proc0, thread0, start = processCPU(), threadCPU(), time.Now()
		}
		t0 := time.Now()
		ok, failed, lastBad, err := round()
		if err != nil {
			return c, err
		}
		c.total += ok
		c.roundsRun++
		if r >= 0 {
			c.toLast = append(c.toLast, time.Since(t0))
			c.sends += ok
			c.failed += failed
			if failed > 0 {
				c.lastBad = lastBad
			}
		}
		if r == rounds-1 {
			break
		}
		next = next.Add(period)
		time.Sleep(max(time.Until(next), time.Microsecond))
	}
	c.proc, c.thread, c.elapsed = processCPU()-proc0, threadCPU()-thread0, time.Since(start)
	return c, nil
}

// writeEach is writeRounds' round: one write(2) of frame to each fd, where a
// short write or an error (the readers stopped) ends the measurement.
func writeEach(fds []int, frame []byte) func() (int, int, int32, error) {
	return func() (int, int, int32, error) {
		for _, fd := range fds {
			n, err := syscall.Write(fd, frame)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("write: %w", err)
			}
			if n != len(frame) {
				return 0, 0, 0, fmt.Errorf("short write: %d of %d bytes", n, len(frame))
			}
		}
		return len(fds), 0, 0, nil
	}
}

// uringEach is the io_uring round: one io_uring_enter for all of fds.
func uringEach(r *uring, fds []int, frame []byte) func() (int, int, int32, error) {
	return func() (int, int, int32, error) {
		res, err := r.sendAll(fds, frame)
		return res.ok, res.failed, res.lastBad, err
	}
}

// uringCompare measures write(2) and, with a ring, io_uring on the same
// sockets in pairs of alternating phases (write first in even pairs, io_uring
// first in odd ones), each phase warmup rounds and then rounds rounds, and
// checks that the readers counted every frame.
func uringCompare(rr *rawReaders, r *uring, frame []byte, pairs, warmup, rounds int, period time.Duration, useWriteRounds bool) (write, ring sendCost, err error) {
	total := 0
	measureWrite := func() (c sendCost, err error) {
		if useWriteRounds {
			// The fan-out floor's own code path (its period is fixed at
			// 1/atFloorRate).
			c.proc, c.thread, c.elapsed, err = writeRounds(rr.fds, frame, warmup, rounds)
			c.sends, c.total, c.roundsRun = rounds*len(rr.fds), (warmup+rounds)*len(rr.fds), warmup+rounds
			return c, err
		}
		return sendRounds(writeEach(rr.fds, frame), warmup, rounds, period)
	}
	measureRing := func() (sendCost, error) {
		enters0 := r.enters
		c, err := sendRounds(uringEach(r, rr.fds, frame), warmup, rounds, period)
		c.enters = r.enters - enters0
		return c, err
	}
	phase := func(measure func() (sendCost, error), into *sendCost) error {
		u0, err := rr.usage()
		if err != nil {
			return err
		}
		c, err := measure()
		if err != nil {
			return err
		}
		u1, err := rr.usage()
		if err != nil {
			return err
		}
		c.side = u1.sub(u0)
		into.add(c)
		total += c.total
		return nil
	}
	measureWritePhase := func() error { return phase(measureWrite, &write) }
	measureRingPhase := func() error { return phase(measureRing, &ring) }
	for p := 0; p < pairs; p++ {
		order := []func() error{measureWritePhase, measureRingPhase}
		if r == nil {
			order = order[:1]
		} else if p%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, m := range order {
			if err := m(); err != nil {
				return write, ring, err
			}
		}
	}
	if ring.failed > 0 {
		// A short send leaves a partial frame that desynchronises its
		// reader, so the readers' count proves nothing more.
		return write, ring, nil
	}
	got, err := rr.waitDelivered(uint64(total))
	if err != nil {
		return write, ring, err
	}
	if got < uint64(total) {
		return write, ring, fmt.Errorf("readers counted %d of %d frames", got, total)
	}
	return write, ring, nil
}

// uringUnavailable describes why a ring could not be set up, naming the
// errno as the kernel headers do.
func uringUnavailable(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Sprintf("io_uring not available: %s (%v)", unix.ErrnoName(errno), errno)
	}
	return "io_uring not available: " + err.Error()
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func uringScenario(cfg config) error {
	frame := fanoutFrame()
	pairs, phase := 3, 3*time.Second
	if cfg.quick {
		pairs, phase = 2, time.Second
	}
	ring, err := newURing(uringSubs)
	if err != nil {
		fmt.Println("   " + uringUnavailable(err) + "; measuring write(2) alone")
		ring = nil
	} else {
		defer ring.close()
	}

	rr, err := openRawReaders(uringSubs, uringProcs)
	if err != nil {
		return fmt.Errorf("readers: %w", err)
	}
	rounds := int(phase.Seconds() * atFloorRate)
	warmup := atFloorRate / 5
	w, u, err := uringCompare(rr, ring, frame, pairs, warmup, rounds, time.Second/atFloorRate, true)
	rr.close()
	if err != nil {
		return err
	}
	fmt.Printf("   %d sockets per round, rounds %v apart, a %d-byte frame, readers in %d processes; %d alternating phases of %d rounds each\n",
		uringSubs, time.Second/atFloorRate, len(frame), uringProcs, 2*pairs, rounds)
	reportCompare("", w, u, ring != nil)
	if cfg.quick {
		return nil
	}

	// The burst: 10,000 sockets once per round. The measuring process
	// holds 10,000 descriptors and the readers 2,000 each.
	var burstRing *uring
	if ring != nil {
		if burstRing, err = newURing(uringBurstSubs); err != nil {
			fmt.Println("   burst: " + uringUnavailable(err) + "; measuring write(2) alone")
			burstRing = nil
		} else {
			defer burstRing.close()
		}
	}
	rr, err = openRawReaders(uringBurstSubs, uringBurstProcs)
	if err != nil {
		return fmt.Errorf("burst readers: %w", err)
	}
	burstRounds := int(phase / uringBurstPeriod)
	w, u, err = uringCompare(rr, burstRing, frame, pairs, 3, burstRounds, uringBurstPeriod, false)
	rr.close()
	if err != nil {
		return fmt.Errorf("burst: %w", err)
	}
	fmt.Printf("   burst: %d sockets per round, rounds %v apart, readers in %d processes; %d alternating phases of %d rounds each\n",
		uringBurstSubs, uringBurstPeriod, uringBurstProcs, 2*pairs, burstRounds)
	reportCompare("burst ", w, u, burstRing != nil)
	return nil
}

// reportCompare prints the figures of one comparison: CPU per send of the
// process and of the sending thread, where else the sends cost CPU, and the
// time to the last send of a round; with a ring, the io_uring ones and the
// ratios io_uring / write(2).
func reportCompare(label string, w, u sendCost, ring bool) {
	type method struct {
		name string
		c    sendCost
	}
	// A container's own process namespace hides the kernel's threads.
	softirqd := len(ksoftirqdPIDs()) > 0
	if !softirqd {
		fmt.Println("   (ksoftirqd is not visible here: its CPU is not counted)")
	}
	methods := []method{{"write(2)", w}}
	if ring {
		methods = append(methods, method{"io_uring", u})
	}
	for _, m := range methods {
		c, name := m.c, label+m.name
		if m.name == "io_uring" {
			reportRing(label, c)
		}
		figure(name+": CPU per send (process)", c.perSend(c.proc), "µs", nil)
		figure(name+": CPU per send (sending thread)", c.perSend(c.thread), "µs", nil)
		figure(name+": readers' CPU per send", c.perTotalSend(c.side.readers), "µs", nil)
		if softirqd {
			figure(name+": ksoftirqd CPU per send", c.perTotalSend(c.side.ksoftirqd), "µs", nil)
		}
		if len(c.toLast) > 0 {
			figure(name+": time to last send (median)", ms(median(c.toLast)), "ms", nil)
		}
		rounds := float64(max(c.roundsRun, 1))
		fmt.Printf("   %s: the process was switched out %.1f times per round (%.1f of them preempted)\n",
			name, float64(c.side.nvcsw+c.side.nivcsw)/rounds, float64(c.side.nivcsw)/rounds)
	}
	if !ring {
		return
	}
	ratio := func(f func(sendCost) float64) float64 {
		if f(w) == 0 {
			return 0
		}
		return f(u) / f(w)
	}
	figure(label+"CPU per send: io_uring / write(2) (process)", ratio(func(c sendCost) float64 { return c.perSend(c.proc) }), "×", nil)
	figure(label+"CPU per send: io_uring / write(2) (thread)", ratio(func(c sendCost) float64 { return c.perSend(c.thread) }), "×", nil)
	// The whole cost of a send on this machine: the process over the
	// measured rounds, the readers and ksoftirqd over all of them.
	fmt.Printf("   %sall CPU: the process's, the readers' and ksoftirqd's (where visible)\n", label)
	figure(label+"all CPU per send: io_uring / write(2)", ratio(func(c sendCost) float64 {
		return c.perSend(c.proc) + c.perTotalSend(c.side.readers+c.side.ksoftirqd)
	}), "×", nil)
	if len(w.toLast) > 0 && len(u.toLast) > 0 {
		figure(label+"time to last send: io_uring / write(2)", float64(median(u.toLast))/float64(median(w.toLast)), "×", nil)
	}
}

// reportRing prints how the io_uring rounds went: io_uring_enter calls per
// round and any send that did not complete with the whole frame.
func reportRing(label string, u sendCost) {
	fmt.Printf("   %sio_uring: %.2f io_uring_enter calls per round", label, float64(u.enters)/float64(max(u.roundsRun, 1)))
	if u.failed > 0 {
		fmt.Printf("; %d sends short or failed (last result %d", u.failed, u.lastBad)
		if u.lastBad < 0 {
			fmt.Printf(", %s", unix.ErrnoName(syscall.Errno(-u.lastBad)))
		}
		fmt.Print(")")
	}
	fmt.Println()
}
