package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/cluster"
)

func tenantApp() laravelcfg.App {
	return laravelcfg.App{ID: "777", Key: "tenant-key", Secret: "tenant-secret", PingInterval: 60, ActivityTimeout: 30,
		AllowedOrigins: []string{"*"}, MaxMessageSize: 10000, AcceptClientEventsFrom: "members"}
}

// source is a refresh source whose answer a test changes; it counts runs.
type source struct {
	mu    sync.Mutex
	apps  []laravelcfg.App
	err   error
	delay time.Duration
	runs  atomic.Int32
}

func (s *source) set(apps []laravelcfg.App, err error) {
	s.mu.Lock()
	s.apps, s.err = apps, err
	s.mu.Unlock()
}

func (s *source) fetch(ctx context.Context) ([]laravelcfg.App, error) {
	s.runs.Add(1)
	s.mu.Lock()
	apps, err, delay := s.apps, s.err, s.delay
	s.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return apps, err
}

func TestAppAddedAtRunTime(t *testing.T) {
	src := &source{apps: []laravelcfg.App{appA()}}
	log := &syncBuffer{}
	ts := startServer(t, Options{Apps: []laravelcfg.App{appA()}, Refresh: src.fetch, RefreshInterval: 300 * time.Millisecond, ErrorLog: log})

	// Unknown to the source too: refused as Reverb does, after one run.
	c := ts.dialRaw(t, "tenant-key", nil)
	c.expect(`{"event":"pusher:error","data":"{\"code\":4001,\"message\":\"Application does not exist\"}"}`)
	if code, _ := c.expectClose(); code != 4001 {
		t.Fatalf("close %d", code)
	}
	if n := src.runs.Load(); n != 1 {
		t.Fatalf("runs = %d", n)
	}

	// The tenant is created: the next client is served, within the rate
	// limit's delay, without a restart.
	src.set([]laravelcfg.App{appA(), tenantApp()}, nil)
	start := time.Now()
	tc := ts.dial(t, "tenant-key")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("waited %v", d)
	}
	tc.subscribe("news", "", "")
	tc.subscribed("news")
	ts.trigger(t, "777", "e", "d", "news")
	tc.expect(`{"event":"e","data":"d","channel":"news"}`)
	if !strings.Contains(log.String(), "apps: now serving app_id 777 (key tenant-key)") {
		t.Errorf("log: %s", log.String())
	}
	// Known now: no more runs.
	runs := src.runs.Load()
	ts.dial(t, "tenant-key")
	if src.runs.Load() != runs {
		t.Error("a known key ran the source")
	}
	// The first app object stays: existing connections keep working.
	if ts.s.appByID("123456") != ts.s.appList()[0] {
		t.Error("app state replaced")
	}
}

func TestAppRefreshByAPI(t *testing.T) {
	src := &source{apps: []laravelcfg.App{appA(), tenantApp()}}
	ts := startServer(t, Options{Apps: nil, Refresh: src.fetch, RefreshInterval: 50 * time.Millisecond})
	if len(ts.s.appList()) != 3 {
		t.Fatal("helper apps missing")
	}
	a, ok := backend{ts.s}.AppByID("777")
	if !ok || a.Key != "tenant-key" {
		t.Fatalf("AppByID: %v %v", a, ok)
	}
	if _, ok := (backend{ts.s}).AppByID("nope"); ok {
		t.Error("unknown app found")
	}
}

// Misses share one run; runs are at least the interval apart.
func TestAppRefreshRateLimited(t *testing.T) {
	src := &source{apps: []laravelcfg.App{appA()}, delay: 100 * time.Millisecond}
	interval := time.Second
	ts := startServer(t, Options{Apps: []laravelcfg.App{appA()}, Refresh: src.fetch, RefreshInterval: interval})
	start := time.Now()
	ts.s.appByIDRefreshing(context.Background(), "missing") // first run: at once
	if n := src.runs.Load(); n != 1 || time.Since(start) > interval/2 {
		t.Fatalf("runs = %d after %v", n, time.Since(start))
	}
	// Twenty misses within the interval all wait for one second run.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ts.s.appByIDRefreshing(context.Background(), "missing") != nil {
				t.Error("found a missing app")
			}
		}()
	}
	wg.Wait()
	if n := src.runs.Load(); n != 2 {
		t.Fatalf("20 concurrent misses ran the source %d more times", n-1)
	}
	if d := time.Since(start); d < interval {
		t.Errorf("second run after %v, want at least %v", d, interval)
	}
}

func TestAppRefreshFailureKeepsApps(t *testing.T) {
	src := &source{}
	src.set(nil, errors.New("php artisan reverb:apps --json: exit status 1: SQLSTATE[HY000] [2002] Connection refused"))
	log := &syncBuffer{}
	ts := startServer(t, Options{Apps: []laravelcfg.App{appA()}, Refresh: src.fetch, RefreshInterval: 50 * time.Millisecond, ErrorLog: log})
	c := ts.dialRaw(t, "tenant-key", nil)
	c.expectContains(`4001`)
	if !strings.Contains(log.String(), "apps: refresh failed, still serving the 1 known app(s): php artisan reverb:apps --json: exit status 1: SQLSTATE") {
		t.Errorf("log: %s", log.String())
	}
	ts.dial(t, "reverb-key") // the known app is untouched

	// A changed key or id is not applied while running.
	other := tenantApp()
	other.ID, other.Key = "123456", "rotated"
	src.set([]laravelcfg.App{other}, nil)
	if ts.s.appByIDRefreshing(context.Background(), "x") != nil {
		t.Fatal("found x")
	}
	if !strings.Contains(log.String(), "apps: app_id 123456 now has key rotated (was reverb-key): the change takes effect at the next restart") {
		t.Errorf("log: %s", log.String())
	}
	ts.dial(t, "reverb-key")

	// A tenant without a key is skipped with its own reason, and a skip is
	// logged once however many refreshes see it again.
	keyless := tenantApp()
	keyless.ID, keyless.Key = "777", ""
	src.set([]laravelcfg.App{other, keyless}, nil)
	for i := 0; i < 2; i++ {
		time.Sleep(60 * time.Millisecond) // past the refresh interval
		if ts.s.appByIDRefreshing(context.Background(), "y") != nil {
			t.Fatal("found y")
		}
	}
	text := log.String()
	if n := strings.Count(text, "apps: app_id 123456 now has key rotated"); n != 1 {
		t.Errorf("the rotated key is logged %d times: %s", n, text)
	}
	if !strings.Contains(text, `apps: an app with an empty app_id ("777") or key ("") is ignored`+"\n") {
		t.Errorf("log: %s", text)
	}
}

func TestNewWithoutApps(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("no apps and no refresh source: want an error")
	}
	src := &source{}
	s, err := New(Options{Refresh: src.fetch})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// Close ends a wait for the rate limit at once.
func TestAppRefreshClose(t *testing.T) {
	src := &source{}
	s, err := New(Options{Refresh: src.fetch, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s.appByIDRefreshing(context.Background(), "a") // first run: immediate
	done := make(chan struct{})
	go func() {
		s.appByIDRefreshing(context.Background(), "b") // waits an hour
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	s.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting lookup outlived Close")
	}
}

// A node that learns an app later than another asks for the presence
// members it ignored meanwhile, so its clients see the whole channel.
func TestAppAddedPresenceConverges(t *testing.T) {
	bus := cluster.NewBus()
	srcA := &source{apps: []laravelcfg.App{tenantApp()}}
	srcB := &source{apps: []laravelcfg.App{tenantApp()}}
	na := startServer(t, Options{Apps: []laravelcfg.App{appA()}, Transport: bus.Node(), NodeID: "node-a", Refresh: srcA.fetch})
	nb := startServer(t, Options{Apps: []laravelcfg.App{appA()}, Transport: bus.Node(), NodeID: "node-b", Refresh: srcB.fetch})

	ch := "presence-room"
	a1 := na.dial(t, "tenant-key")
	a1.subscribe(ch, `{"user_id":1}`, "tenant-secret")
	a1.expectContains(`\"count\":1`)
	// node b has never heard of the tenant: it ignored that join.
	if nb.s.appByID("777") != nil {
		t.Fatal("node b knows the tenant already")
	}

	b1 := nb.dial(t, "tenant-key")
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := nb.s.appByID("777")
		a.mu.Lock()
		pc := a.presence[ch]
		n := 0
		if pc != nil {
			n = len(pc.members)
		}
		a.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node b never learned node a's member")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b1.subscribe(ch, `{"user_id":2}`, "tenant-secret")
	b1.expect(`{"event":"pusher_internal:subscription_succeeded","data":"{\"presence\":{\"count\":2,\"ids\":[1,2],\"hash\":{\"1\":null,\"2\":null}}}","channel":"presence-room"}`)
	a1.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":2}","channel":"presence-room"}`)
}

// BenchmarkAppLookup is the cost the copy-on-write table adds to every bus
// message, connection and API request: one atomic load before the map
// lookup the immutable table did ("map" is that old lookup alone).
func BenchmarkAppLookup(b *testing.B) {
	s, err := New(Options{Apps: []laravelcfg.App{appA(), appB(), appC()}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("table", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if s.appByID("654321") == nil {
					b.Fatal("missing")
				}
			}
		})
	})
	m := s.table.Load().byID
	b.Run("map", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if m["654321"] == nil {
					b.Fatal("missing")
				}
			}
		})
	})
}

// A provider's app without an app_id or key (a tenant row not filled in
// yet) is skipped with a log line, at start as at run time: the other apps
// are served, instead of the start (or a restart) failing for all of them.
func TestAppWithEmptyKeyFromProviderIsSkippedAtStart(t *testing.T) {
	src := &source{}
	noKey := tenantApp()
	noKey.Key = ""
	log := &syncBuffer{}
	ts := startServer(t, Options{Apps: []laravelcfg.App{appA(), noKey}, Refresh: src.fetch, RefreshInterval: 50 * time.Millisecond, ErrorLog: log})
	ts.dial(t, "reverb-key")
	if ts.s.appByID("777") != nil {
		t.Error("the app without a key is served")
	}
	if !strings.Contains(log.String(), `apps: an app with an empty app_id ("777") or key ("") is ignored`) {
		t.Errorf("log: %s", log.String())
	}
	if _, err := New(Options{Apps: []laravelcfg.App{noKey}}); err == nil {
		t.Error("no usable app and no refresh source: want an error")
	}
}
