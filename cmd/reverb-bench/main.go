// Command reverb-bench measures the reverb server on this machine: idle
// memory per connection, fan-out throughput, latency and CPU per delivery,
// burst time to 10,000 subscribers, connect storms and restarts under load.
// It starts the server itself on a copy of the bundled example app and
// spreads the client sockets over child processes and loopback source
// addresses, so the per-process open-files limit and the ephemeral port range
// do not bound the test. Every figure is printed with its unit and compared
// with its target (docs/performance.md).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type config struct {
	server    string
	example   string
	scenarios map[string]bool
	quick     bool
	workers   int
	// maxConns and maxWorkers size the "most this machine allows" idle run.
	maxConns   int
	maxWorkers int
	perClient  int
	// capConns is the size of the capacity run (no flags, the pool grows).
	capConns int
	// stormConns is the size of the connect storm.
	stormConns int
	// stormConc is the number of dials in flight per client process in
	// the storm (4 processes): by Little's law the rate is at most
	// 4 × stormConc / connect latency, so too few dialers measure the
	// client, not the server.
	stormConc int
	// stormDialer is "epoll" (epolldial_linux.go) or "goroutine".
	stormDialer string
	// scalingRate and scalingDur size the scaling scenario: events per
	// second (all nodes together) and how long each setup is measured.
	scalingRate int
	scalingDur  time.Duration
	// perfDir, when set, makes the fan-out, burst and storm runs record a
	// `perf record -g` profile of the server's process tree into it.
	perfDir string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "_client" {
		os.Exit(runClient(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "_node" {
		os.Exit(runNode(os.Args[2:]))
	}
	var cfg config
	var scen string
	flag.StringVar(&cfg.server, "server", "bin/reverb", "path to the reverb binary")
	flag.StringVar(&cfg.example, "app", "examples/laravel", "example Laravel project to copy")
	flag.StringVar(&scen, "scenarios", "floor,idle,fanout,atfloor,webhooks,burst,storm,restart,max,tls,capacity,scaling", "comma-separated scenarios to run (floor: the kernel's cost of a loopback write; atfloor: CPU per delivery at 1,000 subscribers × 100 events/s against the fan-out floor and against --workers 1; webhooks: the hot-path cost of a client_event webhook; tls: memory and CPU per delivery over TLS against plain; capacity: -capacity-conns idle connections to a server started with no flags; scaling: 8 nodes over Redis, classic and interest routing; uring, Linux, only when named: CPU per send of the fan-out floor, write(2) per socket against one io_uring_enter for all sockets)")
	flag.IntVar(&cfg.scalingRate, "scaling-rate", 2000, "events per second in the scaling scenario (all nodes together)")
	flag.DurationVar(&cfg.scalingDur, "scaling-duration", 20*time.Second, "how long the scaling scenario measures each setup")
	flag.BoolVar(&cfg.quick, "quick", false, "smaller, shorter runs (a smoke test of the tool)")
	flag.IntVar(&cfg.workers, "workers", 0, "server workers (0 = the server's default)")
	flag.IntVar(&cfg.maxConns, "max-conns", 80000, "target of the most-connections run")
	flag.IntVar(&cfg.maxWorkers, "max-workers", 6, "workers for the most-connections run (each holds < 20,000 files)")
	flag.IntVar(&cfg.perClient, "per-client", 16000, "sockets per client process (< the 20,000 open-files limit)")
	flag.IntVar(&cfg.capConns, "capacity-conns", 200000, "idle subscribed connections of the capacity run (the server's pool grows past each process's open-files limit)")
	flag.IntVar(&cfg.stormConns, "storm-conns", 20000, "sockets opened by the connect storm (4 client processes)")
	flag.StringVar(&cfg.perfDir, "perf", "", "directory for perf profiles of the server during fan-out, burst and storm (needs perf)")
	flag.BoolVar(&benchTLS, "tls", false, "serve and connect over TLS (self-signed certificate; Go clients negotiate TLS 1.3, AES-128-GCM)")
	flag.BoolVar(&goroutineClient, "goroutine-client", false, "client processes read with a goroutine per socket instead of epoll (to compare client cost)")
	flag.IntVar(&cfg.stormConc, "storm-concurrency", 256, "dials in flight per client process in the storm")
	flag.StringVar(&cfg.stormDialer, "storm-dialer", "epoll", "how the storm's client processes dial: epoll (one epoll loop per process, Linux) or goroutine (net.Dial per dial, as every other scenario)")
	flag.Parse()
	cfg.scenarios = map[string]bool{}
	for _, s := range strings.Split(scen, ",") {
		cfg.scenarios[strings.TrimSpace(s)] = true
	}
	if cfg.quick && cfg.maxConns > 20000 {
		cfg.maxConns = 20000
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "reverb-bench:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	fmt.Printf("reverb-bench %s  (server %s, quick=%v)\n\n", time.Now().UTC().Format(time.RFC3339), cfg.server, cfg.quick)
	type scenario struct {
		name string
		fn   func(config) error
	}
	for _, s := range []scenario{
		// The floor first: it is the most sensitive to other load, and the
		// max run leaves 80,000 sockets in TIME_WAIT behind it.
		{"floor", floorScenario},
		{"idle", idleScenario},
		{"fanout", fanoutScenario},
		{"atfloor", atFloorScenario},
		{"uring", uringScenario},
		{"webhooks", webhooksScenario},
		{"burst", burstScenario},
		{"storm", stormScenario},
		{"restart", restartScenario},
		{"max", maxScenario},
		{"tls", tlsScenario},
		{"capacity", capacityScenario},
		{"scaling", scalingScenario},
	} {
		if !cfg.scenarios[s.name] {
			continue
		}
		fmt.Printf("== %s  (load average %s, %d CPUs)\n", s.name, loadAvg(), runtime.NumCPU())
		if err := s.fn(cfg); err != nil {
			fmt.Printf("   ERROR %v\n", err)
		}
		fmt.Println()
	}
	printSummary(cfg.quick)
	return nil
}

// figure prints one measured value with its unit and, when a target is
// given, PASS/MISS with the margin.
type target struct {
	limit float64
	less  bool // true: value must be <= limit; false: >= limit
}

var summary []string

func figure(name string, value float64, unit string, t *target) {
	line := fmt.Sprintf("   %-44s %12.2f %-10s", name, value, unit)
	if t != nil {
		ok := value <= t.limit
		cmp := "≤"
		if !t.less {
			ok = value >= t.limit
			cmp = "≥"
		}
		verdict := "PASS"
		if !ok {
			verdict = "MISS"
		}
		margin := ""
		if t.limit != 0 {
			margin = fmt.Sprintf(" (%.2fx of target)", value/t.limit)
		}
		line += fmt.Sprintf("  target %s %g %s  %s%s", cmp, t.limit, unit, verdict, margin)
		summary = append(summary, fmt.Sprintf("%-4s %s = %.2f %s (target %s %g)", verdict, name, value, unit, cmp, t.limit))
	}
	fmt.Println(line)
}

func printSummary(quick bool) {
	if len(summary) == 0 {
		return
	}
	fmt.Println("== summary")
	if quick {
		// -quick shrinks the runs (2,000 idle sockets, 3,000 subscribers,
		// 20,000 held) below what the targets are stated for; fixed costs
		// weigh more per connection, and fan-outs are shorter.
		fmt.Println("   (quick run: smaller sizes than the targets assume; verdicts are indicative only)")
	}
	for _, s := range summary {
		fmt.Println("   " + s)
	}
}

func le(v float64) *target { return &target{limit: v, less: true} }
func ge(v float64) *target { return &target{limit: v} }

// sources returns n loopback source addresses starting at 127.0.0.2.
func sources(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("127.0.0.%d", 2+i)
	}
	return out
}

// startClients starts n client processes, each on its own source address.
func startClients(a *benchApp, n int) (clientPool, error) {
	var pool clientPool
	for _, src := range sources(n) {
		c, err := startClient(a.addr(), src, "", a.key)
		if err != nil {
			pool.stop()
			return nil, err
		}
		pool = append(pool, c)
	}
	return pool, nil
}

// connectSpread opens total sockets spread evenly over the pool.
func connectSpread(pool clientPool, total int, channel string, concurrency int, reconnect bool) (ok, failed, refused int, connect hist, elapsed time.Duration, err error) {
	return connectSpreadWith(pool, total, clientCmd{Channel: channel, Concurrency: concurrency, Reconnect: reconnect})
}

// connectSpreadWith is connectSpread for a connect command of any shape.
func connectSpreadWith(pool clientPool, total int, cmd clientCmd) (ok, failed, refused int, connect hist, elapsed time.Duration, err error) {
	start := time.Now()
	cmd.Op = "connect"
	replies, err := pool.all(func(i int) clientCmd {
		n := total / len(pool)
		if i < total%len(pool) {
			n++
		}
		c := cmd
		c.N = n
		return c
	})
	elapsed = time.Since(start)
	for _, r := range replies {
		ok += r.OK
		failed += r.Failed
		refused += r.Refused
		if r.Connect != nil {
			connect.merge(r.Connect)
		}
		if r.ErrSample != "" && err == nil && r.Failed > 0 {
			fmt.Printf("   (client error sample: %s)\n", r.ErrSample)
		}
	}
	return
}

func reportAll(pool clientPool) (received uint64, lastRecv int64, lat hist, clientCPU float64, refused int, reconnects uint64, err error) {
	replies, err := pool.all(func(int) clientCmd { return clientCmd{Op: "report"} })
	for _, r := range replies {
		received += r.Received
		if r.LastRecvNS > lastRecv {
			lastRecv = r.LastRecvNS
		}
		if r.Latency != nil {
			lat.merge(r.Latency)
		}
		clientCPU += r.CPUSeconds
		refused += r.Refused
		reconnects += r.Reconnects
	}
	return
}

// resetAll zeroes the clients' counters and returns their CPU time so far
// (seconds, all client processes), the start of a measurement window.
func resetAll(pool clientPool) (clientCPU float64, err error) {
	replies, err := pool.all(func(int) clientCmd { return clientCmd{Op: "reset"} })
	for _, r := range replies {
		clientCPU += r.CPUSeconds
	}
	return clientCPU, err
}

// cpuShare prints who used the machine during a measurement window and says
// when the client side was the limit. Client and server share nproc cores; when
// both are busy each gets about half, so the client is called the limit when
// it used ≥ 80% of that half (its share), i.e. the server could not have been
// fed faster on this machine.
//
// machineCPU is the busy CPU time of the whole machine over the window
// (from /proc/stat); what neither the server nor the client used went to
// other processes, which on this shared machine can be most of it.
func cpuShare(label string, serverCPU, clientCPU, machineCPU float64, elapsed time.Duration) {
	avail := elapsed.Seconds() * float64(runtime.NumCPU())
	share := avail / 2
	figure(label+"server CPU", serverCPU/elapsed.Seconds()*100, "% of core", nil)
	figure(label+"client CPU (all client procs)", clientCPU/elapsed.Seconds()*100, "% of core", nil)
	verdict := "client not the limit"
	if clientCPU >= 0.8*share {
		verdict = "CLIENT WAS THE LIMIT"
	}
	others := max(machineCPU-serverCPU-clientCPU, 0)
	fmt.Printf("   %sclient used %.0f%% of its share (%.1fs of %.1fs); machine busy %.0f%% (bench %.0f%%, other processes %.0f%%): %s\n",
		label, clientCPU/share*100, clientCPU, share, machineCPU/avail*100, (serverCPU+clientCPU)/avail*100, others/avail*100, verdict)
}

// machineBusy is the CPU time in seconds all CPUs spent not idle since boot
// (/proc/stat "cpu" line: everything but idle and iowait; USER_HZ = 100).
func machineBusy() float64 {
	t := machineTimes()
	return t.user + t.kernel
}

// cpuTimes is the machine's busy CPU time since boot, in seconds, split
// into user space (user, nice) and the kernel (system, irq, softirq).
type cpuTimes struct{ user, kernel float64 }

func (t cpuTimes) sub(u cpuTimes) cpuTimes { return cpuTimes{t.user - u.user, t.kernel - u.kernel} }
func (t cpuTimes) add(u cpuTimes) cpuTimes { return cpuTimes{t.user + u.user, t.kernel + u.kernel} }

// machineTimes reads the "cpu" line of /proc/stat (zero where there is none).
func machineTimes() cpuTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return cpuTimes{}
	}
	var t cpuTimes
	for i, v := range f[1:8] {
		n, _ := strconv.ParseFloat(v, 64)
		switch i {
		case 0, 1: // user, nice
			t.user += n / 100
		case 2, 5, 6: // system, irq, softirq
			t.kernel += n / 100
		}
	}
	return t
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
