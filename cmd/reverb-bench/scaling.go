package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The scaling scenario: eight nodes of this server on loopback exchange
// broadcasts over Redis, 1,000 channels with subscribers on one or two
// nodes each, events posted to the HTTP API of a random node. It runs the
// classic routing on one redis-server (every node receives every event),
// then the interest routing on one redis-server and on a Redis Cluster of
// three masters (each node receives the events of its channels), and
// reports per node what arrives from Redis (messages and bytes per
// second), the CPU each node spends, cross-node deliveries per second,
// Redis' output and CPU, and the end-to-end latency from the API request
// to the subscriber. docs/scaling.md extrapolates these figures.

const (
	benchAppID     = "123456"
	benchAppKey    = "reverb-key"
	benchAppSecret = "reverb-secret"
)

// scalingSetup is one configuration the scenario measures.
type scalingSetup struct {
	name    string
	routing string // "classic" or "interest"
	cluster bool   // a Redis Cluster of three masters, else one server
}

// scalingResult is one configuration's figures.
type scalingResult struct {
	setup                     scalingSetup
	events                    float64 // published per second
	ingressMsgs, ingressBytes []float64
	nodeCPU                   []float64 // cores per node
	crossNode, useful         float64   // bus deliveries of events to nodes per second; those with subscribers
	deliveries                float64   // frames to subscribers per second
	redisOut, redisCPU        float64   // bytes/s, cores (all Redis processes)
	p50, p99                  time.Duration
	received, expected        uint64
}

func scalingScenario(cfg config) error {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return fmt.Errorf("redis-server not installed (apt-get install redis-server)")
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		return fmt.Errorf("redis-cli not installed (apt-get install redis-tools)")
	}
	dur := cfg.scalingDur
	if cfg.quick {
		dur = 4 * time.Second
	}
	fmt.Printf("   8 nodes, %d channels (subscribers on one node for half, two for the other half: %d subscribed sockets), %d events/s for %v through the API of random nodes\n",
		scalingChannels, scalingChannels*3/2, cfg.scalingRate, dur)
	var results []scalingResult
	for _, s := range []scalingSetup{
		{"classic routing, one Redis server", "classic", false},
		{"interest routing, one Redis server", "interest", false},
		{"interest routing, Redis Cluster (3 masters)", "interest", true},
	} {
		fmt.Printf("   -- %s  (load average %s)\n", s.name, loadAvg())
		r, err := scalingRun(s, cfg.scalingRate, dur)
		if err != nil {
			fmt.Printf("   ERROR %s: %v\n", s.name, err)
			continue
		}
		results = append(results, r)
		r.print()
	}
	printScalingTable(results)
	return nil
}

const (
	scalingNodes    = 8
	scalingChannels = 1000
)

// nodesOf is the nodes channel i has subscribers on: one, and for every
// other channel a second one three nodes further.
func nodesOf(i int) []int {
	if i%2 == 0 {
		return []int{i % scalingNodes, (i + 3) % scalingNodes}
	}
	return []int{i % scalingNodes}
}

func scalingChannel(i int) string { return "bench-" + strconv.Itoa(i) }

func scalingRun(s scalingSetup, rate int, dur time.Duration) (res scalingResult, err error) {
	res.setup = s
	tmp, err := os.MkdirTemp("", "reverb-bench-scaling-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)

	// Redis.
	var redis []*redisProc
	defer func() {
		for _, r := range redis {
			r.stop()
		}
	}()
	if s.cluster {
		for i := 0; i < 3; i++ {
			dir := filepath.Join(tmp, "redis-"+strconv.Itoa(i))
			_ = os.MkdirAll(dir, 0o755)
			busPort, _ := freePort()
			r, err := startRedisProc("--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(busPort), "--cluster-node-timeout", "2000",
				"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--dir", dir)
			if err != nil {
				return res, err
			}
			redis = append(redis, r)
		}
		args := []string{"--cluster", "create"}
		for _, r := range redis {
			args = append(args, r.addr())
		}
		args = append(args, "--cluster-replicas", "0", "--cluster-yes")
		if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
			return res, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			ok := true
			for _, r := range redis {
				ok = ok && strings.Contains(r.cli("CLUSTER", "INFO"), "cluster_state:ok")
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				return res, fmt.Errorf("the cluster is not ok after 30s")
			}
		}
	} else {
		r, err := startRedisProc()
		if err != nil {
			return res, err
		}
		redis = append(redis, r)
	}
	var addrs []string
	for _, r := range redis {
		addrs = append(addrs, r.addr())
	}

	// Nodes and one client process per node.
	var nodes []*nodeProc
	var pool clientPool
	defer func() {
		pool.stop()
		for _, n := range nodes {
			n.stop()
		}
	}()
	for i := 0; i < scalingNodes; i++ {
		n, err := startNodeProc(s, strings.Join(addrs, ","), "n"+strconv.Itoa(i))
		if err != nil {
			return res, err
		}
		nodes = append(nodes, n)
	}
	for i, n := range nodes {
		c, err := startClient(n.addr, fmt.Sprintf("127.0.0.%d", 2+i), "", benchAppKey)
		if err != nil {
			return res, err
		}
		pool = append(pool, c)
	}
	// Subscribe: each client process subscribes its node's channels.
	perNode := make([][]string, scalingNodes)
	for i := 0; i < scalingChannels; i++ {
		for _, n := range nodesOf(i) {
			perNode[n] = append(perNode[n], scalingChannel(i))
		}
	}
	if err := subscribeAll(pool, perNode); err != nil {
		return res, err
	}
	time.Sleep(time.Second) // subscriptions settle (linger, heartbeats)

	// Measure.
	pubs := make([]*apiClient, scalingNodes)
	for i, n := range nodes {
		_, p, _ := net.SplitHostPort(n.addr)
		port, _ := strconv.Atoi(p)
		pubs[i] = newAPIClient(&benchApp{id: benchAppID, key: benchAppKey, secret: benchAppSecret, port: port})
	}
	if _, err := pool.all(func(int) clientCmd { return clientCmd{Op: "reset"} }); err != nil {
		return res, err
	}
	before := make([]nodeStats, len(nodes))
	cpuBefore := make([]float64, len(nodes))
	for i, n := range nodes {
		if before[i], err = n.stats(); err != nil {
			return res, err
		}
		_, cpuBefore[i] = treeUsage(n.cmd.Process.Pid)
	}
	redisOutBefore, redisCPUBefore := redisUsage(redis)
	start := time.Now()
	sent, expected := publishFor(pubs, rate, dur)
	elapsed := time.Since(start)
	time.Sleep(time.Second) // the last events arrive
	redisOutAfter, redisCPUAfter := redisUsage(redis)
	secs := elapsed.Seconds()
	res.events = float64(sent) / secs
	res.expected = expected
	for i, n := range nodes {
		after, err := n.stats()
		if err != nil {
			return res, err
		}
		_, cpu := treeUsage(n.cmd.Process.Pid)
		res.ingressMsgs = append(res.ingressMsgs, float64(after.Messages-before[i].Messages)/secs)
		res.ingressBytes = append(res.ingressBytes, float64(after.Bytes-before[i].Bytes)/secs)
		res.nodeCPU = append(res.nodeCPU, (cpu-cpuBefore[i])/secs)
		res.crossNode += float64(after.Broadcasts-before[i].Broadcasts) / secs
		res.useful += float64(after.Useful-before[i].Useful) / secs
	}
	res.redisOut = float64(redisOutAfter-redisOutBefore) / secs
	res.redisCPU = (redisCPUAfter - redisCPUBefore) / secs
	replies, err := pool.all(func(int) clientCmd { return clientCmd{Op: "report"} })
	if err != nil {
		return res, err
	}
	var h hist
	for _, r := range replies {
		res.received += r.Received
		if r.Latency != nil {
			h.merge(r.Latency)
		}
	}
	res.deliveries = float64(res.received) / secs
	res.p50, res.p99 = h.quantile(0.50), h.quantile(0.99)
	return res, nil
}

// subscribeAll subscribes one socket per channel of each node, the client
// processes in parallel.
func subscribeAll(pool clientPool, perNode [][]string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(pool))
	for i, c := range pool {
		wg.Add(1)
		go func(i int, c *clientProc) {
			defer wg.Done()
			for _, ch := range perNode[i] {
				r, err := c.do(clientCmd{Op: "connect", N: 1, Channel: ch, Concurrency: 1})
				if err == nil && r.OK != 1 {
					err = fmt.Errorf("subscribe %s on node %d: %s", ch, i, r.ErrSample)
				}
				if err != nil {
					errs[i] = err
					return
				}
			}
		}(i, c)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// publishFor posts rate events a second for dur, in batch_events requests
// of ten (random channels) to random nodes, and returns how many events
// were accepted and how many subscriber deliveries they make.
func publishFor(pubs []*apiClient, rate int, dur time.Duration) (sent int, expected uint64) {
	const batch = 10
	type job struct {
		node     int
		channels []int
	}
	jobs := make(chan job, 1024)
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if pubs[j.node].batchTo(j.channels) == nil {
					accepted.Add(int64(len(j.channels)))
				}
			}
		}()
	}
	interval := time.Second * batch / time.Duration(rate)
	tick := time.NewTicker(interval)
	deadline := time.Now().Add(dur)
	for time.Now().Before(deadline) {
		<-tick.C
		chs := make([]int, batch)
		for i := range chs {
			chs[i] = rand.IntN(scalingChannels)
			expected += uint64(len(nodesOf(chs[i])))
		}
		select {
		case jobs <- job{rand.IntN(len(pubs)), chs}:
		default: // the nodes cannot keep up: the rate reached is reported
			expected -= uint64(len(chs)) // approximate: not sent
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	return int(accepted.Load()), expected
}

// batchTo posts one batch_events request with one event per channel, each
// carrying the current time.
func (c *apiClient) batchTo(channels []int) error {
	var b strings.Builder
	b.WriteString(`{"batch":[`)
	for i, ch := range channels {
		if i > 0 {
			b.WriteByte(',')
		}
		data := `{\"t\":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `,\"s\":` + strconv.Itoa(i) + `}`
		b.WriteString(`{"name":"bench","channel":"` + scalingChannel(ch) + `","data":"` + data + `"}`)
	}
	b.WriteString(`]}`)
	return c.post("/apps/"+c.app.id+"/batch_events", []byte(b.String()))
}

func (r scalingResult) print() {
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(max(len(v), 1))
	}
	mx := func(v []float64) float64 {
		m := 0.0
		for _, x := range v {
			m = max(m, x)
		}
		return m
	}
	figure("events published", r.events, "events/s", nil)
	figure("per-node ingress from Redis (mean)", mean(r.ingressMsgs), "msgs/s", nil)
	figure("per-node ingress from Redis (busiest)", mx(r.ingressMsgs), "msgs/s", nil)
	figure("per-node ingress bytes (mean)", mean(r.ingressBytes)/1024, "KiB/s", nil)
	figure("per-node CPU (mean)", mean(r.nodeCPU)*100, "% core", nil)
	figure("cross-node event deliveries", r.crossNode, "msgs/s", nil)
	figure("  of them to a node with subscribers", r.useful, "msgs/s", nil)
	figure("deliveries to subscribers", r.deliveries, "frames/s", nil)
	figure("Redis output (all processes)", r.redisOut/1024, "KiB/s", nil)
	figure("Redis CPU (all processes)", r.redisCPU*100, "% core", nil)
	figure("end-to-end latency p50", float64(r.p50.Microseconds())/1000, "ms", nil)
	figure("end-to-end latency p99", float64(r.p99.Microseconds())/1000, "ms", nil)
	if r.expected > 0 && r.received < r.expected*99/100 {
		fmt.Printf("   note: %d of %d expected deliveries arrived\n", r.received, r.expected)
	}
}

func printScalingTable(rs []scalingResult) {
	if len(rs) == 0 {
		return
	}
	fmt.Println("   | setup | events/s | ingress/node msgs/s | ingress/node KiB/s | CPU/node | cross-node msgs/s | useful | Redis out KiB/s | Redis CPU | p50 | p99 |")
	fmt.Println("   |---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		var m, b, c float64
		for i := range r.ingressMsgs {
			m += r.ingressMsgs[i]
			b += r.ingressBytes[i]
			c += r.nodeCPU[i]
		}
		n := float64(len(r.ingressMsgs))
		fmt.Printf("   | %s | %.0f | %.0f | %.0f | %.1f%% | %.0f | %.0f | %.0f | %.1f%% | %.1f ms | %.1f ms |\n",
			r.setup.name, r.events, m/n, b/n/1024, c/n*100, r.crossNode, r.useful, r.redisOut/1024, r.redisCPU*100,
			float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000)
		summary = append(summary, fmt.Sprintf("scaling %-44s %6.0f msgs/s per node, %5.1f%% core per node, p99 %.1f ms",
			r.setup.name+":", m/n, c/n*100, float64(r.p99.Microseconds())/1000))
	}
}

// ---- processes ----

// redisProc is a redis-server started by the scenario.
type redisProc struct {
	cmd  *exec.Cmd
	port int
}

func startRedisProc(extra ...string) (*redisProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}, extra...)
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &redisProc{cmd: cmd, port: port}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r.cli("PING") == "PONG" {
			return r, nil
		}
	}
	r.stop()
	return nil, fmt.Errorf("redis-server on port %d did not start", port)
}

func (r *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisProc) cli(args ...string) string {
	out, _ := exec.Command("redis-cli", append([]string{"-p", strconv.Itoa(r.port)}, args...)...).Output()
	return strings.TrimSpace(string(out))
}

func (r *redisProc) stop() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// redisUsage is the bytes Redis sent to its clients and the CPU seconds it
// used, summed over the processes.
func redisUsage(rs []*redisProc) (out int64, cpu float64) {
	for _, r := range rs {
		for _, line := range strings.Split(r.cli("INFO", "stats"), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_net_output_bytes:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				out += n
			}
		}
		_, c := treeUsage(r.cmd.Process.Pid)
		cpu += c
	}
	return out, cpu
}

// nodeProc is one "_node" child process.
type nodeProc struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	addr string
	mu   sync.Mutex
}

func startNodeProc(s scalingSetup, redis, id string) (*nodeProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"_node", "-routing", s.routing, "-redis", redis, "-id", id}
	if s.cluster {
		args = append(args, "-cluster")
	}
	cmd := exec.Command(exe, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &nodeProc{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !n.out.Scan() {
		_ = cmd.Wait()
		return nil, fmt.Errorf("node %s did not start: %s", id, stderr.String())
	}
	var ready struct{ Ready string }
	if err := json.Unmarshal(n.out.Bytes(), &ready); err != nil || ready.Ready == "" {
		return nil, fmt.Errorf("node %s: %q", id, n.out.Text())
	}
	n.addr = ready.Ready
	// The node's HTTP side answers (its transport is live: Start waited).
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + n.addr + "/up"); err == nil {
			resp.Body.Close()
			break
		}
	}
	return n, nil
}

func (n *nodeProc) stats() (nodeStats, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var st nodeStats
	if _, err := io.WriteString(n.in, "stats\n"); err != nil {
		return st, err
	}
	if !n.out.Scan() {
		return st, fmt.Errorf("node %s exited", n.addr)
	}
	return st, json.Unmarshal(n.out.Bytes(), &st)
}

func (n *nodeProc) stop() {
	_, _ = io.WriteString(n.in, "quit\n")
	_ = n.in.Close()
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }() // owned by stop: ends when the node exits
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
}
