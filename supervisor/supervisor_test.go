package supervisor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain re-executes this test binary as the programs under test (the
// tableflip pattern): as a worker when the first argument is the worker
// command (that is how the supervisor starts workers: os.Executable plus
// WorkerCommand), and as `reverb start` when SUPERVISOR_TEST_CONFIG holds a
// Config. Fork/exec, descriptor inheritance and signals are thus real.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == WorkerCommand {
		useFakes()
		os.Exit(RunWorker(os.Args[2:], os.Stdout, os.Stderr))
	}
	if js := os.Getenv("SUPERVISOR_TEST_CONFIG"); js != "" {
		useFakes()
		var c Config
		if err := json.Unmarshal([]byte(js), &c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		os.Exit(Run(c))
	}
	os.Exit(m.Run())
}

// logBuffer collects a process's output for waitFor.
type logBuffer struct {
	mu   sync.Mutex
	buf  strings.Builder
	cond *sync.Cond
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	b.cond.Broadcast()
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type supervised struct {
	t    *testing.T
	dir  string
	cmd  *exec.Cmd
	out  *logBuffer
	addr string
	done chan struct{}
	err  error
}

func startSupervisor(t *testing.T, workers int, conf string) *supervised {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "reverb.conf"), []byte(conf), 0o666); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(Config{Dir: dir, Workers: workers, DrainWindow: 600 * time.Millisecond, RestartPoll: 200 * time.Millisecond, ReadyTimeout: 20 * time.Second})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SUPERVISOR_TEST_CONFIG="+string(js))
	s := &supervised{t: t, dir: dir, cmd: cmd, out: &logBuffer{}, done: make(chan struct{})}
	s.out.cond = sync.NewCond(&s.out.mu)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("supervisor output:\n%s", s.out.String())
		}
	})
	return s
}

// waitFor waits until the output matches re and returns the submatches.
func (s *supervised) waitFor(re string, timeout time.Duration) []string {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { s.out.mu.Lock(); s.out.cond.Broadcast(); s.out.mu.Unlock() })
	defer timer.Stop()
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	for {
		if m := rx.FindStringSubmatch(s.out.buf.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("output never matched %q:\n%s", re, s.out.buf.String())
		}
		s.out.cond.Wait()
	}
}

func (s *supervised) ready() {
	m := s.waitFor(`Starting server on (127\.0\.0\.1:\d+)`, 10*time.Second)
	s.addr = m[1]
	s.waitFor(`workers? ready in \d+ ms`, 20*time.Second)
}

// get makes one request on a new connection.
func (s *supervised) get(path string) (string, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + s.addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("%s: %s %s", path, resp.Status, b)
	}
	return string(b), err
}

// workers returns node id → pid of the workers answering, sampling new
// connections until want distinct ids answered.
func (s *supervised) workers(want int, prefix string) map[string]int {
	s.t.Helper()
	ids := map[string]int{}
	for i := 0; i < 400 && len(ids) < want; i++ {
		body, err := s.get("/id")
		if err != nil {
			s.t.Fatalf("GET /id: %v", err)
		}
		f := strings.Fields(body)
		if !strings.HasPrefix(f[0], prefix) {
			continue
		}
		pid, _ := strconv.Atoi(f[1])
		ids[f[0]] = pid
	}
	if len(ids) < want {
		s.t.Fatalf("only %d of %d workers with prefix %q answered: %v", len(ids), want, prefix, ids)
	}
	return ids
}

// holder is a client connection parked on a worker.
type holder struct {
	conn net.Conn
	node string
	r    *bufio.Reader
}

func (s *supervised) hold(t *testing.T) *holder {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return &holder{conn: c, node: strings.TrimSpace(strings.TrimPrefix(line, "hello ")), r: r}
}

// next returns the next line from the worker, or "" when the deadline passes.
func (h *holder) next(d time.Duration) (string, error) {
	h.conn.SetReadDeadline(time.Now().Add(d))
	line, err := h.r.ReadString('\n')
	return strings.TrimSpace(line), err
}

func writeFlag(t *testing.T, dir string, ts int64) {
	t.Helper()
	if err := (fakeFlag{filepath.Join(dir, "flag", "4f", "e4", "flagfile")}).Write(context.Background(), ts); err != nil {
		t.Fatal(err)
	}
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
	s := startSupervisor(t, 2, "")
	s.ready()
	h := s.hold(t)
	os.WriteFile(filepath.Join(s.dir, "reverb.conf"), []byte("ok\nworker-broken\n"), 0o666)
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitFor(`ERROR  Restart failed: config/reverb\.php:2: syntax error.*; generation 1 keeps serving`, 10*time.Second)
	if line, err := h.next(300 * time.Millisecond); err == nil {
		t.Fatalf("held connection got %q after a failed restart", line)
	}
	s.workers(2, "g1w")
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

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

func TestSingleProcessStopsOnRestartFlag(t *testing.T) {
	s := startSupervisor(t, 0, "")
	m := s.waitFor(`Starting server on (127\.0\.0\.1:\d+)`, 10*time.Second)
	s.addr = m[1]
	h := s.hold(t)
	writeFlag(t, s.dir, 1732200000)
	s.waitFor(`Restart signal received \(absent → 1732200000\)`, 5*time.Second)
	if line, err := h.next(5 * time.Second); line != "bye" {
		t.Fatalf("held connection got %q, %v; want the drain goodbye", line, err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("single process did not exit")
	}
	if s.err != nil {
		t.Fatalf("exit: %v, want 0", s.err)
	}
	s.waitFor(`Stopping server on `+regexp.QuoteMeta(s.addr), time.Second)
}
