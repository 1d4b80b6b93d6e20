package supervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The in-process runner (inprocess.go): `reverb start` on the portable
// path, and --workers 0 on Linux. The same re-executed test binary and
// fakes as the process-model tests; here every "worker" is a server in the
// one process.

// inProcessWorkers is the --workers the tests run the in-process runner
// with: 0 everywhere, and 2 where every --workers is in-process.
func inProcessWorkers() []int {
	if portableBuild {
		return []int{0, 2}
	}
	return []int{0}
}

func name(workers int) string { return "workers=" + itoa(workers) }

func (s *supervised) inProcessReady() {
	s.t.Helper()
	m := s.waitFor(`Starting server on (127\.0\.0\.1:\d+)`, 10*time.Second)
	s.addr = m[1]
}

// Several servers of one generation share the bus and the listening
// socket: connections are spread, publishing reaches every server.
func TestInProcessServersShareSocketAndBus(t *testing.T) {
	if !portableBuild {
		t.Skip("--workers 2 runs worker processes on this build")
	}
	s := startSupervisor(t, 2, "")
	s.inProcessReady()
	s.waitFor(`2 workers ready in \d+ ms`, 10*time.Second)
	ids := s.workers(2, "g1w")
	for id, pid := range ids {
		if pid != s.cmd.Process.Pid {
			t.Fatalf("server %s answered from pid %d, want the one process %d", id, pid, s.cmd.Process.Pid)
		}
	}
	if n, err := s.get("/publish?m=hello-bus"); err != nil || n != "2" {
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
			continue // delivery is asynchronous
		}
		if msgs != "hello-bus" {
			t.Fatalf("server %s saw %q, want exactly the one message", node, msgs)
		}
		seenBy[node] = true
	}
	if len(seenBy) != 2 {
		t.Fatalf("message seen by %v, want both servers", seenBy)
	}
}

// The restart flag starts a new generation in the same process, switches
// new connections to it, drains the old one, and the process keeps its
// port; the same bytes again do nothing, a deletion restarts again.
func TestInProcessRestartFlagReplacesGeneration(t *testing.T) {
	for _, workers := range inProcessWorkers() {
		t.Run(name(workers), func(t *testing.T) {
			s := startSupervisor(t, workers, "")
			s.inProcessReady()
			n := max(1, workers)
			s.workers(n, "g1w")
			h := s.hold(t)
			if !strings.HasPrefix(h.node, "g1w") {
				t.Fatalf("held connection on %s, want generation 1", h.node)
			}
			writeFlag(t, s.dir, 1732200000)
			s.waitFor(`Restart signal received \(.*: absent → 1732200000\)`, 5*time.Second)
			s.waitFor(`Configuration reloaded`, 5*time.Second)
			s.waitFor(`Generation 2 ready in \d+ ms`, 10*time.Second)
			if line, err := h.next(5 * time.Second); line != "bye" {
				t.Fatalf("held connection on %s got %q, %v; want a drain goodbye", h.node, line, err)
			}
			s.waitFor(`Generation 1 gone after`, 10*time.Second)
			ids := s.workers(n, "g2w")
			for i := 0; i < 20; i++ {
				body, err := s.get("/id")
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(body, "g2w") {
					t.Fatalf("new connection answered by %q after the switch", body)
				}
			}
			for id, pid := range ids {
				if pid != s.cmd.Process.Pid {
					t.Fatalf("%s answered from pid %d: not in-process", id, pid)
				}
			}
			writeFlag(t, s.dir, 1732200000)
			time.Sleep(500 * time.Millisecond)
			if strings.Contains(s.out.String(), "Generation 3") {
				t.Fatal("an unchanged flag restarted")
			}
			os.RemoveAll(filepath.Join(s.dir, "flag"))
			s.waitFor(`Restart signal received \(.*: 1732200000 → absent\)`, 5*time.Second)
			s.waitFor(`Generation 3 ready`, 10*time.Second)
		})
	}
}

// While the old generation drains, both are on one bus: a message
// published by a new server reaches the old ones too.
func TestInProcessGenerationsShareTheBusWhileDraining(t *testing.T) {
	s := startWith(t, Config{Workers: 0, DrainWindow: 4 * time.Second}, "")
	s.inProcessReady()
	h := s.hold(t)
	writeFlag(t, s.dir, 1732200000)
	s.waitFor(`Generation 2 ready`, 10*time.Second)
	// The held connection keeps generation 1 draining (the fake closes it
	// at half the window).
	n, err := s.get("/publish?m=across")
	if err != nil || n != "2" {
		t.Fatalf("publish from generation 2 = %q, %v; want 2 receivers (both generations)", n, err)
	}
	if line, err := h.next(5 * time.Second); line != "bye" {
		t.Fatalf("held connection got %q, %v; want a drain goodbye", line, err)
	}
	s.waitFor(`Generation 1 gone after`, 10*time.Second)
	if n, err := s.get("/publish?m=alone"); err != nil || n != "1" {
		t.Fatalf("publish after the drain = %q, %v; want 1 receiver", n, err)
	}
}

// A broken config at restart keeps the serving generation, names the line,
// and the next good restart goes through.
func TestInProcessBrokenConfigAtRestartKeepsServing(t *testing.T) {
	s := startSupervisor(t, 0, "")
	s.inProcessReady()
	h := s.hold(t)
	if err := os.WriteFile(filepath.Join(s.dir, "reverb.conf"), []byte("ok\nok\nbroken\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	writeFlag(t, s.dir, 1732200000)
	s.waitFor(`ERROR  Restart cancelled, the running workers keep serving: config/reverb\.php:3: syntax error`, 5*time.Second)
	if line, err := h.next(300 * time.Millisecond); err == nil {
		t.Fatalf("held connection got %q after a failed restart", line)
	}
	s.workers(1, "g1w")
	os.WriteFile(filepath.Join(s.dir, "reverb.conf"), []byte("ok\n"), 0o666)
	writeFlag(t, s.dir, 1732200001)
	s.waitFor(`Generation 2 ready`, 10*time.Second)
}

func TestInProcessBrokenConfigAtStartExitsNonZero(t *testing.T) {
	s := startSupervisor(t, 0, "ok\nbroken\n")
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit")
	}
	var ee *exec.ExitError
	if !errorsAs(s.err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", s.err)
	}
	s.waitFor(`ERROR  config/reverb\.php:2: syntax error`, time.Second)
}

// SIGTERM (Ctrl-C, closing the console on Windows) drains every
// connection and exits 0; the port is closed at once.
func TestInProcessTerminateDrainsAndExitsZero(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("os.Process.Signal cannot send a console event on Windows")
	}
	s := startSupervisor(t, 0, "")
	s.inProcessReady()
	h := s.hold(t)
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.waitFor(`Gracefully terminating connections`, 5*time.Second)
	if line, err := h.next(5 * time.Second); line != "bye" {
		t.Fatalf("held connection got %q, %v; want the drain goodbye", line, err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit")
	}
	if s.err != nil {
		t.Fatalf("exit: %v, want 0", s.err)
	}
}
