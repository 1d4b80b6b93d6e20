//go:build linux && !portable

package supervisor

import (
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reverb-go/reverb/supervisor/sockets"
)

func setNoFile(n uint64) error {
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n})
}

// startLimited runs `reverb start` under an open-files limit of n.
func startLimited(t *testing.T, n uint64, c Config) *supervised {
	t.Helper()
	noFile = n
	defer func() { noFile = 0 }()
	if c.DrainWindow == 0 {
		c.DrainWindow = 600 * time.Millisecond
	}
	return startWith(t, c, "")
}

// Under a low open-files limit, with one worker to start with, the pool
// grows as the workers fill: every connection is served by a worker of
// the same generation, the HTTP API answers throughout, and a restart
// starts as many workers as the connections need.
func TestPoolGrowsAtTheOpenFilesLimit(t *testing.T) {
	s := startLimited(t, 128, Config{Workers: 1, ReconnectPace: 20})
	s.ready()
	s.waitFor(`Open files limit is 128 per process`, time.Second)
	// Keep connecting until a second worker serves: how many the first
	// takes before the second is ready depends on how fast it starts, but
	// 200 connections cannot fit in one worker under a limit of 128.
	nodes := map[string]int{}
	held := 0
	for ; held < 200 && len(nodes) < 2; held++ {
		h := s.hold(t)
		if !strings.HasPrefix(h.node, "g1w") {
			t.Fatalf("connection %d: %q, want a worker of generation 1", held, h.node)
		}
		nodes[h.node]++
		if held%10 == 0 {
			if _, err := s.get("/id"); err != nil {
				t.Fatalf("API after %d connections: %v", held, err)
			}
		}
	}
	if len(nodes) < 2 {
		t.Fatalf("%d connections on %v: the pool did not grow", held, nodes)
	}
	// A few more, so the restart has connections on both workers to count.
	for i := 0; i < 10; i++ {
		nodes[s.hold(t).node]++
		held++
	}
	s.waitFor(`Every worker is near its open-files limit \(128 descriptors, \d+ connections\): adding worker 1 to generation 1`, time.Second)
	s.waitFor(`Worker 1 added in \d+ ms \(generation 1, g1w1-[0-9a-f]+\): 2 workers serving`, time.Second)
	// (Not a bare "503": the port in the log may contain it.)
	if strings.Contains(s.out.String(), "refused with 503") {
		t.Fatalf("a connection was refused:\n%s", s.out.String())
	}

	writeFlag(t, s.dir, 1732200000)
	m := s.waitFor(`Starting (\d+) workers for the (\d+) connections the workers hold`, 10*time.Second)
	// As many workers as the connections need at the limit's share per
	// worker, never fewer than the generation had.
	if n, _ := strconv.Atoi(m[1]); n < len(nodes) || n > workersFor(held+10, perWorker(128, workerBaseFiles(128))) {
		t.Fatalf("restart sized %s workers for %s connections held by %d", m[1], m[2], len(nodes))
	}
	// The count is of descriptors above each worker's first report, which
	// may already include an API keep-alive socket: a few either way.
	if counted, _ := strconv.Atoi(m[2]); counted < held-5 || counted > held+10 {
		t.Fatalf("the workers were counted holding %d connections, want about %d", counted, held)
	}
	s.waitFor(`Generation 2 ready in \d+ ms`, 20*time.Second)
	// At 20 reconnects per second, the 100 or so connections stretch the
	// drain window past its configured 600 ms.
	s.waitFor(`Draining generation 1: \d+ workers, window [1-9][0-9]*s \(\d+ connections reconnect at up to \d+ per second; --drain-window 600ms\)`, 5*time.Second)
}

// --max-workers caps the growth: the worker keeps serving up to its limit
// and the log says why no worker is added and what to change.
func TestPoolGrowthCapped(t *testing.T) {
	s := startLimited(t, 128, Config{Workers: 1, MaxWorkers: 1})
	s.ready()
	for i := 0; i < 60; i++ {
		if h := s.hold(t); !strings.HasPrefix(h.node, "g1w0-") {
			t.Fatalf("connection %d: %q, want the one worker", i, h.node)
		}
	}
	s.waitFor(`Every worker is near its open-files limit \(128\) and no worker is added: --max-workers 1 reached; .* raise --max-workers`, 5*time.Second)
	if strings.Contains(s.out.String(), "adding worker") {
		t.Fatalf("a worker was added past --max-workers:\n%s", s.out.String())
	}
}

func TestPoolArithmetic(t *testing.T) {
	if highWater(20000) != 19000 || highWater(256) != 192 || highWater(64) != 0 {
		t.Fatalf("high water %d %d %d", highWater(20000), highWater(256), highWater(64))
	}
	w := workerLoad{known: true, limit: 256, load: 250}
	if w.room() != 4 || !w.high() {
		t.Fatalf("room %d high %v", w.room(), w.high())
	}
	if (workerLoad{}).room() != sockets.MaxBatch || (workerLoad{}).high() {
		t.Fatal("a worker that cannot count is neither full nor high")
	}
	// 200,000 connections at 20,000 files: eleven workers, not twelve.
	if n := workersFor(200000, perWorker(20000, 80)); n != 11 {
		t.Fatalf("200,000 connections: %d workers", n)
	}
	c := Config{MaxWorkers: 4}
	mem := memInfo{total: 24 << 30, available: 20 << 30}
	if why := growBlock(c, 4, 4, 20000, 20000, mem); !strings.Contains(why, "--max-workers 4") {
		t.Fatalf("cap: %q", why)
	}
	if why := growBlock(Config{}, 4, 4, 20000, 20000, mem); why != "" {
		t.Fatalf("no cap: %q", why)
	}
	if why := growBlock(Config{}, 4, 4, 20000, 20000, memInfo{total: 24 << 30, available: 2 << 30}); !strings.Contains(why, "memory") {
		t.Fatalf("memory: %q", why)
	}
	if why := growBlock(Config{}, 10, 10, 128, 128, mem); !strings.Contains(why, "supervisor's own open-files limit") {
		t.Fatalf("supervisor descriptors: %q", why)
	}
}

// A restart while the previous one still drains sizes its generation for
// every connection the workers hold, the draining generation's included:
// those reconnect to the new generation too. Counting only the serving
// generation's (the few that moved so far) started one worker, which then
// met the open-files limit with the whole load on its way.
func TestRestartDuringADrainSizesForTheDrainingConnections(t *testing.T) {
	s := startLimited(t, 128, Config{Workers: 1, ReconnectPace: 20})
	s.ready()
	nodes := map[string]int{}
	held := 0
	for ; held < 200 && len(nodes) < 2; held++ {
		nodes[s.hold(t).node]++
	}
	for i := 0; i < 10; i++ {
		nodes[s.hold(t).node]++
		held++
	}
	s.waitFor(`Worker 1 added in \d+ ms \(generation 1, g1w1-[0-9a-f]+\): 2 workers serving`, time.Second)
	writeFlag(t, s.dir, 1732200000)
	s.waitFor(`Generation 2 ready in \d+ ms`, 20*time.Second)
	// At 20 reconnects per second the drain of about 110 connections
	// lasts seconds: restart again at once.
	s.waitFor(`Draining generation 1: \d+ workers`, 5*time.Second)
	before := len(s.out.String())
	writeFlag(t, s.dir, 1732200001)
	s.waitFor(`Generation 3 ready in \d+ ms`, 20*time.Second)
	second := s.out.String()[before:]
	m := regexp.MustCompile(`Starting (\d+) workers for the (\d+) connections the workers hold`).FindStringSubmatch(second)
	if m == nil {
		t.Fatalf("the second restart did not size its generation for the %d connections held:\n%s", held, second)
	}
	if counted, _ := strconv.Atoi(m[2]); counted < held-5 {
		t.Fatalf("the workers were counted holding %s connections, want about %d:\n%s", m[2], held, second)
	}
}
