package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/cluster"
	"github.com/reverb-go/reverb/supervisor/console"
)

// A server of a new in-process generation serves only once the servers
// already on the bus (the generation it replaces) answered its hello with
// their presence members, or joinWait passed, as a worker process does
// (joinwatch.go): a client that reconnects to it during a restart gets the
// whole member list, not one that lacks the members still on the old
// generation (who would then be announced as joining).
func TestInProcessGenerationServesOnceJoined(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := &inProcess{c: Config{Stderr: io.Discard}, con: console.New(io.Discard), workers: 1,
		bus: cluster.NewBus(), raw: ln, stats: map[string]statser{}}

	// The old generation's server, busy: it answers a hello once released.
	old := r.bus.Node()
	release := make(chan struct{})
	ctx := context.Background()
	old.Start(ctx, func(m []byte) {
		var env struct {
			Type string `json:"type"`
			Node string `json:"node"`
			For  string `json:"for"`
		}
		if json.Unmarshal(m, &env) != nil || env.Type != "reverb-go:hello" || env.For != "" || env.Node == "old" {
			return
		}
		go func() {
			<-release
			b, _ := json.Marshal(map[string]any{"type": "reverb-go:snapshot", "node": "old", "for": env.Node, "entries": []any{}})
			old.Publish(ctx, b)
		}()
	})
	defer old.Close()

	p := &laravelcfg.Project{BasePath: t.TempDir(), Reverb: laravelcfg.Settings{
		Server: laravelcfg.ServerSettings{Host: "127.0.0.1"},
		Apps:   []laravelcfg.App{{ID: "1", Key: "key", Secret: "secret", PingInterval: 60, ActivityTimeout: 30, AllowedOrigins: []string{"*"}}},
	}}
	built := make(chan *ipGen, 1)
	go func() {
		g, err := r.build(p, 2)
		if err != nil {
			t.Error(err)
		}
		built <- g
	}()
	select {
	case g := <-built:
		if g != nil {
			closeGeneration(g)
		}
		t.Fatal("the new generation was ready before the old one answered its hello")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	select {
	case g := <-built:
		if g != nil {
			closeGeneration(g)
		}
	case <-time.After(joinWait):
		t.Fatal("the new generation was not ready once the old one answered")
	}
}

// A restart asked for while a generation was being built runs once that
// one is done, also when it failed: the deploy that fixed what made it
// fail is not left unserved.
func TestInProcessRestartQueuedBehindFailedBuildRuns(t *testing.T) {
	r := &inProcess{c: Config{Dir: t.TempDir()}, con: console.New(io.Discard), workers: 1,
		events: make(chan any, 4), quit: make(chan struct{}), current: &ipGen{num: 1}}
	defer close(r.quit)
	r.pending, r.nextGen = 2, 2
	r.restart() // the flag changes again while generation 2 is built
	if !r.queued {
		t.Fatal("the second restart was not queued")
	}
	r.onBuilt(ipBuilt{num: 2, err: errors.New("config/reverb.php: broken")})
	if !r.loading {
		t.Fatal("the queued restart did not start after the failed one")
	}
	select {
	case ev := <-r.events:
		if _, ok := ev.(evLoaded); !ok {
			t.Fatalf("event %T, want the queued restart's config read", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the queued restart read no config")
	}
}
