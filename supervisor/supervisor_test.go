//go:build linux && !portable

package supervisor

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ready waits for the start line and the first generation of workers.
func (s *supervised) ready() {
	m := s.waitFor(`Starting server on (127\.0\.0\.1:\d+)`, 10*time.Second)
	s.addr = m[1]
	s.waitFor(`workers? ready in \d+ ms`, 20*time.Second)
}

func TestWorkersShareSocketAndBus(t *testing.T) {
	s := startSupervisor(t, 2, "")
	s.ready()
	ids := s.workers(2, "g1w")
	// Publishing through any worker reaches both, and both are counted.
	n, err := s.get("/publish?m=hello-bus")
	if err != nil || n != "2" {
		t.Fatalf("publish = %q, %v; want 2 receivers", n, err)
	}
	seenBy := map[string]bool{}
	for i := 0; i < 400 && len(seenBy) < 2; i++ {
		body, err := s.get("/seen")
		if err != nil {
			t.Fatal(err)
		}
		node, msgs, _ := strings.Cut(body, "\n")
		if msgs == "" {
			continue // delivery is asynchronous: Publish returns once relayed
		}
		if msgs != "hello-bus" {
			t.Fatalf("worker %s saw %q, want exactly the one message", node, msgs)
		}
		seenBy[node] = true
	}
	if len(seenBy) != 2 {
		t.Fatalf("message seen by %v, want both workers", seenBy)
	}
	for id, pid := range ids {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("worker %s (pid %d) is not running: %v", id, pid, err)
		}
	}
}

func TestRestartFlagReplacesGenerationAndDrains(t *testing.T) {
	s := startSupervisor(t, 2, "")
	s.ready()
	old := s.workers(2, "g1w")
	h := s.hold(t)
	writeFlag(t, s.dir, 1732200000)
	s.waitFor(`Restart signal received \(.*: absent → 1732200000\)`, 5*time.Second)
	s.waitFor(`Generation 2 ready in \d+ ms`, 20*time.Second)
	line, err := h.next(5 * time.Second)
	if line != "bye" {
		t.Fatalf("held connection on %s got %q, %v; want a drain goodbye", h.node, line, err)
	}
	s.waitFor(`Generation 1 gone after`, 10*time.Second)
	s.workers(2, "g2w")
	for id, pid := range old {
		waitGone(t, pid, id)
	}
	// A second flag write restarts again; rewriting the same bytes does not.
	writeFlag(t, s.dir, 1732200000)
	time.Sleep(500 * time.Millisecond)
	if strings.Contains(s.out.String(), "Generation 3") {
		t.Fatal("unchanged flag restarted the workers")
	}
	os.RemoveAll(filepath.Join(s.dir, "flag"))
	s.waitFor(`Restart signal received \(.*: 1732200000 → absent\)`, 5*time.Second)
	s.waitFor(`Generation 3 ready`, 20*time.Second)
	if testing.Verbose() {
		t.Logf("supervisor output:\n%s", s.out.String())
	}
}

func waitGone(t *testing.T, pid int, id string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if err := syscall.Kill(pid, 0); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("worker %s (pid %d) still running", id, pid)
}

func TestBrokenConfigAtRestartKeepsOldWorkers(t *testing.T) {
	s := startSupervisor(t, 2, "")
	s.ready()
	h := s.hold(t)
	if err := os.WriteFile(filepath.Join(s.dir, "reverb.conf"), []byte("ok\nok\nbroken\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitFor(`ERROR  Restart cancelled, the running workers keep serving: config/reverb\.php:3: syntax error`, 5*time.Second)
	if line, err := h.next(300 * time.Millisecond); err == nil {
		t.Fatalf("held connection got %q after a failed restart", line)
	}
	s.workers(2, "g1w")
	// Fixed config: the next restart goes through.
	os.WriteFile(filepath.Join(s.dir, "reverb.conf"), []byte("ok\n"), 0o666)
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitFor(`Generation 2 ready`, 20*time.Second)
}

func TestWorkerFailureAtRestartKeepsOldWorkers(t *testing.T) {
	for _, n := range []int{2, 1} {
		t.Run(fmt.Sprintf("%d workers", n), func(t *testing.T) {
			s := startSupervisor(t, n, "")
			s.ready()
			h := s.hold(t)
			os.WriteFile(filepath.Join(s.dir, "reverb.conf"), []byte("ok\nworker-broken\n"), 0o666)
			s.cmd.Process.Signal(syscall.SIGHUP)
			s.waitFor(`ERROR  Restart failed: config/reverb\.php:2: syntax error.*; generation 1 keeps serving`, 10*time.Second)
			if line, err := h.next(300 * time.Millisecond); err == nil {
				t.Fatalf("held connection got %q after a failed restart", line)
			}
			s.workers(n, "g1w")
			// The failed generation is reported gone once.
			s.waitFor(`Generation 2 gone after`, 10*time.Second)
			time.Sleep(300 * time.Millisecond)
			if c := strings.Count(s.out.String(), "Generation 2 gone after"); c != 1 {
				t.Fatalf("\"Generation 2 gone\" printed %d times:\n%s", c, s.out.String())
			}
		})
	}
}

// A restart asked for while a new generation is starting runs once that
// one is done, also when it failed: the deploy that fixed what made it
// fail is not left unserved.
func TestRestartQueuedBehindFailedGenerationRuns(t *testing.T) {
	s := startSupervisor(t, 2, "ok\n")
	s.ready()
	os.WriteFile(filepath.Join(s.dir, "reverb.conf"), []byte("ok\nworker-held\n"), 0o666)
	writeFlag(t, s.dir, 1700000001)
	s.waitFor(`Configuration reloaded`, 5*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(s.out.String(), "worker held") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the new workers did not read the config")
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.WriteFile(filepath.Join(s.dir, "reverb.conf"), []byte("ok\n"), 0o666)
	writeFlag(t, s.dir, 1700000002)
	s.waitFor(`Restart signal received.*1700000001 → 1700000002`, 5*time.Second)
	os.WriteFile(filepath.Join(s.dir, "release"), nil, 0o666)
	s.waitFor(`Restart failed: .*held worker released.*; generation 1 keeps serving`, 10*time.Second)
	s.waitFor(`Generation 3 ready`, 10*time.Second)
	s.workers(2, "g3w")
}

func TestSystemdSocketActivation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := ln.(*net.TCPListener).File()
	ln.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "reverb.conf"), nil, 0o666)
	js, _ := json.Marshal(Config{Dir: dir, Workers: 2, DrainWindow: 300 * time.Millisecond})
	// LISTEN_PID must be the pid of the process reading it: sh sets it to
	// its own pid and execs the supervisor in place, like systemd does.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -test.run='^$'`, os.Args[0])
	cmd.Env = append(os.Environ(), "SUPERVISOR_TEST_CONFIG="+string(js))
	cmd.ExtraFiles = []*os.File{f}
	s := &supervised{t: t, dir: dir, cmd: cmd, out: &logBuffer{}, done: make(chan struct{})}
	s.out.cond = sync.NewCond(&s.out.mu)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	go func() { s.err = cmd.Wait(); close(s.done) }()
	defer func() { cmd.Process.Kill(); <-s.done }()
	s.ready()
	if want := f.Name(); want == "" {
		t.Fatal("no socket")
	}
	s.workers(2, "g1w")
	cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	if s.err != nil {
		t.Fatalf("exit: %v", s.err)
	}
}

func TestKilledWorkerIsReplacedOthersUntouched(t *testing.T) {
	s := startSupervisor(t, 2, "")
	s.ready()
	ids := s.workers(2, "g1w")
	var holders []*holder
	for len(holders) < 8 {
		holders = append(holders, s.hold(t))
	}
	var victim string
	for id := range ids {
		victim = id
		break
	}
	syscall.Kill(ids[victim], syscall.SIGKILL)
	s.waitFor(`Worker \d \(`+regexp.QuoteMeta(victim)+`, pid \d+\) died: killed by SIGKILL`, 5*time.Second)
	s.waitFor(`Worker \d replaced \(generation 1`, 10*time.Second)
	for _, h := range holders {
		line, err := h.next(200 * time.Millisecond)
		if h.node == victim {
			if err == nil {
				t.Fatalf("connection of the killed worker got %q", line)
			}
			continue
		}
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Fatalf("connection of surviving worker %s disturbed: %q, %v", h.node, line, err)
		}
	}
	got := s.workers(2, "g1w")
	if _, ok := got[victim]; ok {
		t.Fatalf("killed worker %s still answers", victim)
	}
}

// A restart reads the config off the supervisor's loop: while the read is
// slow (apps only PHP can produce), a worker that dies is still replaced.
func TestWorkerReplacedWhileRestartReadsConfig(t *testing.T) {
	s := startSupervisor(t, 2, "")
	s.ready()
	ids := s.workers(2, "g1w")
	if err := os.WriteFile(filepath.Join(s.dir, "reverb.conf"), []byte("ok\nslow\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitFor(`SIGHUP received`, 5*time.Second)
	for id, pid := range ids {
		syscall.Kill(pid, syscall.SIGKILL)
		s.waitFor(`Worker \d \(`+regexp.QuoteMeta(id)+`, pid \d+\) died`, 5*time.Second)
		break
	}
	s.waitFor(`Worker \d replaced \(generation 1`, slowLoad)
	if strings.Contains(s.out.String(), "Configuration reloaded") {
		t.Fatal("the worker was replaced only once the restart had read the config")
	}
	s.waitFor(`Configuration reloaded`, 2*slowLoad)
	s.waitFor(`Generation 2 ready`, 20*time.Second)
}

func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	s := startSupervisor(t, 2, "")
	s.ready()
	var holders []*holder
	for len(holders) < 6 {
		holders = append(holders, s.hold(t))
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	for _, h := range holders {
		if line, err := h.next(5 * time.Second); line != "bye" {
			t.Fatalf("client of %s got %q, %v; want the drain goodbye", h.node, line, err)
		}
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("supervisor did not exit")
	}
	if s.err != nil {
		t.Fatalf("exit: %v, want status 0", s.err)
	}
	s.waitFor(`Gracefully terminating connections`, time.Second)
}

func TestBrokenConfigAtStartExitsNonZero(t *testing.T) {
	s := startSupervisor(t, 2, "broken\n")
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("supervisor did not exit")
	}
	var ee *exec.ExitError
	if !errorsAs(s.err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", s.err)
	}
	s.waitFor(`ERROR  config/reverb\.php:1: syntax error`, time.Second)
}

func TestWorkerFailureAtStartExitsNonZero(t *testing.T) {
	s := startSupervisor(t, 2, "ok\nworker-broken\n")
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("supervisor did not exit")
	}
	var ee *exec.ExitError
	if !errorsAs(s.err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", s.err)
	}
	s.waitFor(`ERROR  config/reverb\.php:2: syntax error`, time.Second)
}

func TestWorkersDieWithSupervisor(t *testing.T) {
	s := startSupervisor(t, 2, "")
	s.ready()
	ids := s.workers(2, "g1w")
	s.cmd.Process.Kill()
	<-s.done
	for id, pid := range ids {
		waitGone(t, pid, id)
	}
}
