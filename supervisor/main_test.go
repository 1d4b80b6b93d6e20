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
		if n, _ := strconv.ParseUint(os.Getenv("SUPERVISOR_TEST_NOFILE"), 10, 64); n > 0 {
			// A low open-files limit, for the supervisor and (inherited)
			// its workers: what `ulimit -n` does before `reverb start`.
			if err := setNoFile(n); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
		}
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

// noFile, when set, is the open-files limit of the next startWith.
var noFile uint64

func startSupervisor(t *testing.T, workers int, conf string) *supervised {
	t.Helper()
	return startWith(t, Config{Workers: workers, DrainWindow: 600 * time.Millisecond}, conf)
}

// startWith runs `reverb start` with c (Dir is a new temporary project with
// conf as its reverb.conf).
func startWith(t *testing.T, c Config, conf string) *supervised {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "reverb.conf"), []byte(conf), 0o666); err != nil {
		t.Fatal(err)
	}
	c.Dir = dir
	c.RestartPoll = 200 * time.Millisecond
	c.ReadyTimeout = 20 * time.Second
	js, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SUPERVISOR_TEST_CONFIG="+string(js))
	if noFile > 0 {
		cmd.Env = append(cmd.Env, "SUPERVISOR_TEST_NOFILE="+strconv.FormatUint(noFile, 10))
	}
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
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("no worker greeted the connection: %v", err)
	}
	c.SetReadDeadline(time.Time{})
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

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}
