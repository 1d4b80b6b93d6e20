package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/server"
)

// fakeCluster is a settable topology and per-node stats.
type fakeCluster struct {
	topo  Topology
	stats map[string]server.Stats
	down  map[string]bool
}

func (f *fakeCluster) topology(context.Context) (Topology, error) { return f.topo, nil }

func (f *fakeCluster) fetch(_ context.Context, w Worker) (server.Stats, error) {
	if f.down[w.NodeID] {
		return server.Stats{}, errors.New("connection refused")
	}
	return f.stats[w.NodeID], nil
}

func app(id string, conns, in, out int64) server.AppSnapshot {
	return server.AppSnapshot{AppID: id, Connections: conns, ConnectionsTotal: conns, Subscriptions: conns, Channels: 1,
		MessagesIn: in, MessagesHandled: in, TextFramesOut: out, MessagesOut: out, BytesIn: in * 10, BytesOut: out * 10}
}

func find(st Status, id string) AppStatus {
	for _, a := range st.Apps {
		if a.ID == id {
			return a
		}
	}
	return AppStatus{}
}

func TestCollectorSumsAndRetires(t *testing.T) {
	f := &fakeCluster{
		topo: Topology{Mode: "supervisor", PID: 1, Started: time.Unix(100, 0), Generation: 1, Workers: []Worker{
			{NodeID: "g1w0", PID: 10, Generation: 1, Ready: true},
			{NodeID: "g1w1", PID: 11, Generation: 1, Ready: true},
		}},
		stats: map[string]server.Stats{
			"g1w0": {Apps: []server.AppSnapshot{app("a", 3, 5, 50)}, HandshakeFailures: map[string]int64{"426": 1}, BusErrors: 2, PeerNodes: 1},
			"g1w1": {Apps: []server.AppSnapshot{app("a", 2, 1, 20)}},
		},
		down: map[string]bool{},
	}
	c := NewCollector([]string{"a", "idle"}, f.topology, f.fetch)
	c.now = func() time.Time { return time.Unix(160, 0) }
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a := find(st, "a"); a.Connections != 5 || a.MessagesIn != 6 || a.MessagesOut != 70 || a.Channels != 2 {
		t.Fatalf("app a = %+v", a)
	}
	if _, ok := st.Handshake["426"]; !ok || len(st.Apps) != 2 || st.UptimeSeconds != 60 {
		t.Fatalf("status %+v", st)
	}

	// Restart: generation 2 replaces both; their counters stay in the totals.
	f.topo.Generation, f.topo.Restarts = 2, 1
	f.topo.Workers = []Worker{{NodeID: "g2w0", PID: 20, Generation: 2, Ready: true}, {NodeID: "g2w1", PID: 21, Generation: 2}}
	f.stats["g2w0"] = server.Stats{Apps: []server.AppSnapshot{app("a", 1, 2, 4)}}
	f.down["g2w1"] = true // starting, not answering yet
	st, err = c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a := find(st, "a")
	if a.Connections != 1 || a.MessagesIn != 8 || a.MessagesOut != 74 || a.ConnectionsTotal != 6 {
		t.Fatalf("after restart app a = %+v", a)
	}
	if st.Handshake["426"] != 1 || st.BusErrors != 2 {
		t.Fatalf("retired handshake failures lost: %v", st.Handshake)
	}
	if st.Workers[0].State != "serving" || !st.Workers[0].Up || st.Workers[1].State != "starting" || st.Workers[1].Up {
		t.Fatalf("workers %+v", st.Workers)
	}
	if len(st.Errors) != 0 {
		t.Fatalf("a starting worker not answering is no error: %v", st.Errors)
	}

	// A serving worker that stops answering keeps its last counters and is reported.
	f.down["g2w0"] = true
	f.topo.Workers[0].Draining = true
	st, _ = c.Status(context.Background())
	if a := find(st, "a"); a.MessagesIn != 8 {
		t.Fatalf("counters went back: %+v", a)
	}
	if st.Errors["g2w0"] == "" || st.Workers[0].State != "draining" {
		t.Fatalf("errors %v workers %+v", st.Errors, st.Workers)
	}
}

func TestPrometheusExposition(t *testing.T) {
	f := &fakeCluster{
		topo: Topology{Mode: "supervisor", Started: time.Unix(100, 0), Generation: 3, Restarts: 2, WorkerDeaths: 1,
			Workers: []Worker{{NodeID: "g3w0", Generation: 3, Ready: true}}},
		stats: map[string]server.Stats{"g3w0": {Apps: []server.AppSnapshot{app("123456", 7, 3, 9)}, PeerNodes: 3, BusErrors: 1,
			HandshakeFailures: map[string]int64{"over quota": 2}}},
	}
	f.stats["g3w0"].Apps[0].Webhooks = server.HookCounters{Events: 12, Failures: 2, DroppedQueueFull: 5}
	rec := httptest.NewRecorder()
	Handler(NewCollector(nil, f.topology, f.fetch)).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`reverb_connections{app="123456"} 7`,
		`reverb_messages_sent_total{app="123456"} 9`,
		`reverb_messages_received_total{app="123456"} 3`,
		`reverb_sent_bytes_total{app="123456"} 90`,
		`reverb_handshake_failures_total{reason="over quota"} 2`,
		`reverb_workers{state="serving"} 1`,
		`reverb_worker_up{generation="3",node="g3w0"} 1`,
		`reverb_generation 3`,
		`reverb_restarts_total 2`,
		`reverb_worker_deaths_total 1`,
		`reverb_cluster_peer_nodes{node="g3w0"} 3`,
		`reverb_bus_publish_errors_total 1`,
		`reverb_webhook_events_total{app="123456",target="webhooks"} 12`,
		`reverb_webhook_failed_attempts_total{app="123456",target="webhooks"} 2`,
		`reverb_webhook_events_dropped_total{app="123456",reason="queue_full",target="webhooks"} 5`,
		`reverb_webhook_events_dropped_total{app="123456",reason="gave_up",target="listeners"} 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q in\n%s", want, body)
		}
	}
}

func TestControlSocketRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "storage"), 0o777); err != nil {
		t.Fatal(err)
	}
	sock := ControlSocketPath(dir)
	if len(dir) < 80 && sock != filepath.Join(dir, "storage", "reverb.sock") {
		t.Fatalf("socket path %s", sock)
	}
	if _, err := FetchStatus(context.Background(), sock); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("before start: %v, want ErrNotRunning", err)
	}
	stats := func() server.Stats { return server.Stats{Apps: []server.AppSnapshot{app("a", 4, 0, 0)}} }
	srv, err := Serve(NewLocalCollector([]string{"a"}, "single", stats), ControlOptions{Socket: sock, MetricsAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := FetchStatus(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != "single" || find(st, "a").Connections != 4 || len(st.Workers) != 1 {
		t.Fatalf("status %+v", st)
	}
	// A second server on the same project is refused; a stale file is not.
	if _, err := Serve(NewLocalCollector(nil, "x", stats), ControlOptions{Socket: sock}); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second server: %v", err)
	}
	resp, err := httpGetURL("http://" + srv.MetricsAddr() + "/metrics")
	if err != nil || !strings.Contains(resp, `reverb_connections{app="a"} 4`) {
		t.Fatalf("metrics listener: %v\n%s", err, resp)
	}
	srv.Close()
	if _, err := FetchStatus(context.Background(), sock); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("after close: %v", err)
	}
	// Stale socket file (a crashed server): replaced.
	os.WriteFile(sock, nil, 0o666)
	srv2, err := Serve(NewLocalCollector(nil, "x", stats), ControlOptions{Socket: sock})
	if err != nil {
		t.Fatalf("over a stale file: %v", err)
	}
	srv2.Close()
}

func TestControlSocketPathFallback(t *testing.T) {
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 120))
	os.MkdirAll(filepath.Join(long, "storage"), 0o777)
	p := ControlSocketPath(long)
	if !strings.HasPrefix(p, os.TempDir()) || len(p) > maxSocketPath || p != ControlSocketPath(long+"/") {
		t.Fatalf("fallback path %q", p)
	}
	if q := ControlSocketPath(t.TempDir()); q == p || !strings.HasSuffix(q, ".sock") {
		t.Fatalf("no storage dir: %q", q)
	}
}

func TestNodeSocketServeAndFetch(t *testing.T) {
	addr := NodeSocket(os.Getpid(), "test-node")
	if strings.Contains(addr, "/") && !strings.HasPrefix(addr, os.TempDir()) {
		t.Fatalf("addr %s", addr)
	}
	ns, err := ServeNode(addr, func() server.Stats {
		return server.Stats{NodeID: "test-node", Apps: []server.AppSnapshot{app("a", 1, 2, 3)}}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	st, err := FetchNode(context.Background(), addr)
	if err != nil || st.NodeID != "test-node" || st.Apps[0].TextFramesOut != 3 {
		t.Fatalf("got %+v, %v", st, err)
	}
	if _, err := FetchNode(context.Background(), NodeSocket(os.Getpid(), "nobody")); err == nil {
		t.Fatal("fetch from a missing node succeeded")
	}
}

func httpGetURL(url string) (string, error) {
	resp, err := (&httpClient).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

var httpClient = http.Client{Timeout: 5 * time.Second}
