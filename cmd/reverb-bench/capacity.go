package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The capacity scenario: `reverb start` with no flags holds capConns idle
// subscribed connections (200,000 by default) from several client
// processes on several loopback source addresses, each under the 20,000
// open-files limit, while the server's own processes have the same limit:
// the worker pool must grow by itself. It reports the connections held,
// failed and refused, the workers started, the memory per connection
// (RSS of the supervisor plus every worker, and PSS, which counts the
// pages the processes share — the binary — once), whether the HTTP API
// answered throughout, a presence check across the workers (members that
// joined before and after the pool grew, and one joining last, which must
// see them all), and a restart under that load (`reverb restart`: every
// client reconnects at once when its worker drains it, as pusher-js does).

const capacityPresence = "presence-capacity"

func capacityScenario(cfg config) error {
	n := cfg.capConns
	if cfg.quick {
		n = min(n, 20000)
	}
	clients := (n + cfg.perClient - 1) / cfg.perClient
	return withServer(cfg, 0, clients, func(a *benchApp, srv *runningServer, pool clientPool) error {
		// A restart needs two connection-tracking entries per connection:
		// the closed one stays tracked for 2 minutes (TIME_WAIT).
		if tracked := conntrackMax(); tracked > 0 && tracked < 2*int64(n)+int64(n)/4 {
			fmt.Printf("   note: nf_conntrack_max is %d: the restart needs about %d entries; past the table's size the kernel drops new connections' SYNs (reverb doctor prints the sysctl)\n", tracked, 2*n+n/4)
		}
		rss0 := treeMemory(srv.pid())
		fmt.Printf("   server before: %d processes, RSS %.1f MiB, PSS %.1f MiB\n", rss0.procs, mib(rss0.rss), mib(rss0.pss))
		api := newAPIClient(a)
		probe := startAPIProbe(api)
		defer probe.stop()

		// Presence members before the load (on the first workers) ...
		var members []*wsConn
		defer func() {
			for _, m := range members {
				m.Close()
			}
		}()
		const perPhase = 100
		join := func(prefix string) error {
			for i := 0; i < perPhase; i++ {
				c, err := presenceMember(a, fmt.Sprintf("%s%d", prefix, i))
				if err != nil {
					return fmt.Errorf("presence member %s%d: %w", prefix, i, err)
				}
				members = append(members, c)
			}
			return nil
		}
		if err := join("early-"); err != nil {
			return err
		}
		ok, failed, refused, connect, elapsed, err := connectSpread(pool, n, "capacity", 128, true)
		if err != nil {
			return err
		}
		// ... and after it (on the workers added last).
		if err := join("late-"); err != nil {
			return err
		}
		time.Sleep(5 * time.Second) // let the runtime settle (GC, stacks)
		mem := treeMemory(srv.pid())
		held := ok + len(members)
		workers := mem.procs - 1
		fmt.Printf("   %d connected, %d failed, %d refused in %.1fs (p99 connect+subscribe %.0f ms) from %d client processes; %d workers\n",
			ok, failed, refused, elapsed.Seconds(), ms(connect.quantile(0.99)), clients, workers)
		figure("capacity: connections held", float64(held), "conns", ge(float64(n)))
		figure("capacity: connections failed or refused", float64(failed+refused), "conns", le(0))
		figure("capacity: workers started", float64(workers), "workers", nil)
		figure(fmt.Sprintf("capacity: RSS per connection (%d, all processes)", held), float64(mem.rss)/float64(held)/1024, "KiB", le(3))
		figure(fmt.Sprintf("capacity: PSS per connection (%d, shared pages once)", held), float64(mem.pss)/float64(held)/1024, "KiB", nil)
		fmt.Printf("   server RSS %.1f MiB (anonymous %.1f, binary and libraries %.1f), PSS %.1f MiB; per worker: %s\n",
			mib(mem.rss), mib(mem.anon), mib(mem.rss-mem.anon), mib(mem.pss), mem.perProcess)

		// The API's view: every connection and every presence member,
		// whichever worker holds it.
		if err := checkCapacityAPI(a, api, held, len(members)); err != nil {
			fmt.Printf("   API check: %v\n", err)
			figure("capacity: presence and counts exact", 0, "", ge(1))
		} else {
			last, count, err := presenceJoin(a, "last")
			if err == nil {
				members = append(members, last)
			}
			exact := err == nil && count == len(members)
			fmt.Printf("   a member joining last sees %d members (want %d)\n", count, len(members))
			figure("capacity: presence and counts exact", b2f(exact), "", ge(1))
		}
		calls, fails, worst := probe.snapshot()
		figure("capacity: API calls failed while connecting", float64(fails), "", le(0))
		fmt.Printf("   API answered %d calls, slowest %.0f ms\n", calls, ms(worst))

		// A restart under the load: every client reconnects.
		if _, err := resetAll(pool); err != nil {
			return err
		}
		probe.reset()
		t0 := time.Now()
		out, err := exec.Command(cfg.server, "restart", "--dir", a.dir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("reverb restart: %v: %s", err, out)
		}
		logFrom := len(srv.log.String())
		var open int64
		var reconnects uint64
		var errSample string
		var timeline []string // every 10 reports: reconnected so far, the kernel's listen-queue overflows and conntrack drops
		overflows0, drops0 := listenOverflows(), conntrackDrops()
		deadline := time.Now().Add(3 * time.Minute)
		for i := 1; time.Now().Before(deadline); i++ {
			time.Sleep(time.Second)
			open, reconnects = 0, 0
			replies, err := pool.all(func(int) clientCmd { return clientCmd{Op: "report"} })
			if err != nil {
				return err
			}
			for _, r := range replies {
				open += r.Open
				reconnects += r.Reconnects
				if r.ErrSample != "" && errSample == "" {
					errSample = r.ErrSample
					fmt.Printf("   (client error sample at %.0fs: %s)\n", time.Since(t0).Seconds(), errSample)
				}
			}
			if i%10 == 0 {
				mark := fmt.Sprintf("%.0fs %d (%d", time.Since(t0).Seconds(), reconnects, listenOverflows()-overflows0)
				if drops0 >= 0 {
					mark += fmt.Sprintf(", %d", conntrackDrops()-drops0)
				}
				timeline = append(timeline, mark+")")
			}
			if reconnects >= uint64(ok) && open >= int64(ok) && strings.Contains(srv.log.String(), "Generation 1 gone") {
				break
			}
		}
		moved := time.Since(t0)
		fmt.Printf("   reconnected (listen-queue overflows, conntrack drops) since the restart: %s\n", strings.Join(timeline, ", "))
		others := 0
		for _, line := range strings.Split(srv.log.String()[logFrom:], "\n") {
			switch {
			case strings.Contains(line, "eneration") || strings.Contains(line, "Draining"):
			case strings.TrimSpace(line) != "" && others < 20:
				others++ // warnings and the like, the first 20
			default:
				continue
			}
			fmt.Printf("   server: %s\n", strings.TrimSpace(line))
		}
		_, _, _, _, rrefused, _, _ := reportAll(pool)
		time.Sleep(5 * time.Second)
		after := treeMemory(srv.pid())
		m := regexp.MustCompile(`Starting (\d+) workers for the (\d+) connections`).FindStringSubmatch(srv.log.String())
		sized := "the --workers default"
		if m != nil {
			sized = m[1] + " workers for " + m[2] + " connections"
		}
		window := "unknown"
		if m := regexp.MustCompile(`Draining generation 1: [^\n]*?window ([0-9.]+[a-z]+)`).FindStringSubmatch(srv.log.String()); m != nil {
			window = m[1]
		}
		fmt.Printf("   restart: %d of %d clients reconnected in %.1fs (drain window %s); new generation: %s; %d workers after\n",
			reconnects, ok, moved.Seconds(), window, sized, after.procs-1)
		figure("capacity restart: connections held after", float64(open), "conns", ge(float64(ok)))
		figure("capacity restart: refused reconnects", float64(rrefused), "", le(0))
		calls, fails, worst = probe.snapshot()
		figure("capacity restart: API calls failed", float64(fails), "", le(0))
		fmt.Printf("   API answered %d calls during the restart, slowest %.0f ms\n", calls, ms(worst))
		figure(fmt.Sprintf("capacity restart: RSS per connection (%d), 5 s after", open), float64(after.rss)/float64(max(open, 1))/1024, "KiB", nil)
		// The new workers allocated for the reconnect wave; what they hold
		// beyond their live heap goes back once they are quiet (a worker's
		// memory trimmer looks every 5 s), so memory is held to the target
		// once the restart has settled.
		time.Sleep(settleAfterRestart - 5*time.Second)
		settled := treeMemory(srv.pid())
		figure(fmt.Sprintf("capacity restart: RSS per connection (%d), %.0f s after", open, settleAfterRestart.Seconds()),
			float64(settled.rss)/float64(max(open, 1))/1024, "KiB", le(3))
		return nil
	})
}

// settleAfterRestart is when the capacity run measures memory again after
// a restart, against the same target as before it.
const settleAfterRestart = 30 * time.Second

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// serverMemory is the memory of a server process tree.
type serverMemory struct {
	procs          int
	rss, pss, anon int64
	perProcess     string // "RSS/anon MiB" of each worker
}

// treeMemory sums RSS (and its anonymous part) and PSS over root and its
// descendants, from /proc/PID/status and smaps_rollup.
func treeMemory(root int) serverMemory {
	var m serverMemory
	var per []string
	for i, pid := range procTree(root) {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		m.procs++
		rss, anon := statusKB(st, "VmRSS:"), statusKB(st, "RssAnon:")
		m.rss += rss
		m.anon += anon
		if sm, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
			m.pss += statusKB(sm, "Pss:")
		}
		if i > 0 {
			per = append(per, fmt.Sprintf("%.0f/%.0f", mib(rss), mib(anon)))
		}
	}
	m.perProcess = strings.Join(per, " ") + " MiB (RSS/anonymous)"
	return m
}

// statusKB is a "Name:   123 kB" field of a /proc file, in bytes.
func statusKB(b []byte, name string) int64 {
	i := bytes.Index(b, []byte("\n"+name))
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1+len(name):]))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n << 10
}

// apiProbe calls the HTTP API every 100 ms (the app's broadcasts and
// queries) and counts failures and the slowest answer.
type apiProbe struct {
	stopc   chan struct{}
	done    chan struct{}
	calls   atomic.Int64
	fails   atomic.Int64
	mu      sync.Mutex
	slowest time.Duration
}

func startAPIProbe(api *apiClient) *apiProbe {
	p := &apiProbe{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() { // owned by the probe; ends at stop
		defer close(p.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.stopc:
				return
			case <-t.C:
			}
			t0 := time.Now()
			var err error
			if i%2 == 0 {
				err = api.trigger("capacity-api", i)
			} else {
				_, err = api.get("/apps/"+api.app.id+"/channels", nil)
			}
			d := time.Since(t0)
			p.calls.Add(1)
			if err != nil {
				p.fails.Add(1)
			}
			p.mu.Lock()
			p.slowest = max(p.slowest, d)
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *apiProbe) snapshot() (calls, fails int64, slowest time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls.Load(), p.fails.Load(), p.slowest
}

func (p *apiProbe) reset() {
	p.mu.Lock()
	p.calls.Store(0)
	p.fails.Store(0)
	p.slowest = 0
	p.mu.Unlock()
}

func (p *apiProbe) stop() {
	select {
	case <-p.stopc:
	default:
		close(p.stopc)
	}
	<-p.done
}

// get sends a signed GET and returns the body.
func (c *apiClient) get(path string, query map[string]string) ([]byte, error) {
	resp, err := c.http.Get(c.signedURL("GET", path, nil, query))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("GET %s: %s %s", path, resp.Status, b)
	}
	return b, err
}

// checkCapacityAPI compares the API's cluster-wide answers with what the
// bench holds: connections, the public channel's subscribers and the
// presence members.
func checkCapacityAPI(a *benchApp, api *apiClient, conns, members int) error {
	b, err := api.get("/apps/"+a.id+"/connections", nil)
	if err != nil {
		return err
	}
	var cn struct{ Connections int }
	if err := json.Unmarshal(b, &cn); err != nil || cn.Connections != conns {
		return fmt.Errorf("connections: %s, want %d", b, conns)
	}
	b, err = api.get("/apps/"+a.id+"/channels/"+capacityPresence+"/users", nil)
	if err != nil {
		return err
	}
	var us struct{ Users []struct{ ID string } }
	if err := json.Unmarshal(b, &us); err != nil || len(us.Users) != members {
		return fmt.Errorf("presence users: %d, want %d", len(us.Users), members)
	}
	b, err = api.get("/apps/"+a.id+"/channels/capacity", map[string]string{"info": "subscription_count"})
	if err != nil {
		return err
	}
	var ch struct {
		SubscriptionCount int `json:"subscription_count"`
	}
	if err := json.Unmarshal(b, &ch); err != nil || ch.SubscriptionCount != conns-members {
		return fmt.Errorf("capacity channel: %s, want %d subscriptions", b, conns-members)
	}
	return nil
}

// presenceMember opens one socket from this process and joins the
// presence channel as user id, signing like Laravel's broadcaster.
func presenceMember(a *benchApp, id string) (*wsConn, error) {
	c, _, err := presenceJoin(a, id)
	return c, err
}

// presenceJoin is presenceMember, also returning the member count of the
// subscription_succeeded it got.
func presenceJoin(a *benchApp, id string) (*wsConn, int, error) {
	c, err := dialPusher(a.addr(), "", "", a.key, benchTLS, 10*time.Second)
	if err != nil {
		return nil, 0, err
	}
	data := `{"user_id":"` + id + `","user_info":{"name":"` + id + `"}}`
	mac := hmac.New(sha256.New, []byte(a.secret))
	mac.Write([]byte(c.SocketID + ":" + capacityPresence + ":" + data))
	auth := a.key + ":" + hex.EncodeToString(mac.Sum(nil))
	msg, _ := json.Marshal(map[string]any{"event": "pusher:subscribe", "data": map[string]string{
		"channel": capacityPresence, "auth": auth, "channel_data": data}})
	if err := c.sendText(msg); err != nil {
		c.Close()
		return nil, 0, err
	}
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.c.SetReadDeadline(time.Time{})
	for {
		op, payload, err := c.readFrame()
		if err != nil {
			c.Close()
			return nil, 0, err
		}
		if op == 1 && bytes.Contains(payload, []byte("subscription_succeeded")) {
			var f struct{ Data string }
			var d struct{ Presence struct{ Count int } }
			count := -1
			if json.Unmarshal(payload, &f) == nil && json.Unmarshal([]byte(f.Data), &d) == nil {
				count = d.Presence.Count
			}
			return c, count, nil
		}
		if op == 1 && bytes.Contains(payload, []byte("pusher:error")) || op == 8 {
			c.Close()
			return nil, 0, fmt.Errorf("refused: %q", payload)
		}
	}
}
