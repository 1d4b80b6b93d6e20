package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/cluster"
	"github.com/reverb-go/reverb/server/webhooks"
)

// hookReceiver is a webhook endpoint that checks Pusher's signature and
// keeps every event it got.
type hookReceiver struct {
	t   testing.TB
	srv *httptest.Server
	mu  sync.Mutex
	evs []map[string]any
}

func newHookReceiver(t testing.TB, secret string) *hookReceiver {
	r := &hookReceiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if req.Header.Get("X-Pusher-Signature") != webhooks.Sign(secret, b) || req.Header.Get("X-Pusher-Key") == "" {
			t.Errorf("bad signature on %s", b)
			w.WriteHeader(401)
			return
		}
		var body struct {
			TimeMS int64            `json:"time_ms"`
			Events []map[string]any `json:"events"`
		}
		if err := json.Unmarshal(b, &body); err != nil || body.TimeMS == 0 {
			t.Errorf("body %s: %v", b, err)
		}
		r.mu.Lock()
		r.evs = append(r.evs, body.Events...)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// named returns the events named name, each rendered as sorted k=v pairs.
func (r *hookReceiver) named(name string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		if e["name"] != name {
			continue
		}
		var kv []string
		for k, v := range e {
			if k == "name" {
				continue
			}
			b, _ := json.Marshal(v)
			kv = append(kv, k+"="+string(b))
		}
		sort.Strings(kv)
		out = append(out, strings.Join(kv, " "))
	}
	return out
}

func (r *hookReceiver) wait(t *testing.T, name string, n int) []string {
	t.Helper()
	waitFor(t, name+" webhooks", func() bool { return len(r.named(name)) >= n })
	return r.named(name)
}

var allWebhookTypes = []string{"channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss", "subscription_count"}

func appWithHooks(url string, types ...string) laravelcfg.App {
	a := appA()
	if len(types) == 0 {
		types = allWebhookTypes
	}
	a.Webhooks = []laravelcfg.Webhook{{URL: url, EventTypes: types}}
	return a
}

func TestWebhookEventsAndFields(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	ts := startServer(t, Options{Apps: []laravelcfg.App{appWithHooks(r.srv.URL)}, WebhookHold: 50 * time.Millisecond})
	a := ts.dial(t, "reverb-key")
	b := ts.dial(t, "reverb-key")
	a.subscribe("presence-room", `{"user_id":7,"user_info":{"n":1}}`, "reverb-secret")
	a.read()
	b.subscribe("presence-room", `{"user_id":"8"}`, "reverb-secret")
	b.read()
	a.read() // member_added 8
	b.send(`{"event":"client-typing","channel":"presence-room","data":{"x":"é"}}`)
	a.expectContains("client-typing")
	a.subscribe("private-x", "", "reverb-secret")
	a.read()
	a.send(`{"event":"client-s","channel":"private-x","data":"{\"a\":1}"}`)
	a.subscribe("cache-c", "", "")
	a.read()
	a.read()

	if got := r.wait(t, "member_added", 2); strings.Join(got, "|") != `channel="presence-room" user_id="7"|channel="presence-room" user_id="8"` {
		t.Errorf("member_added %v", got)
	}
	got := r.wait(t, "client_event", 2)
	want := []string{
		`channel="presence-room" data="{\"x\":\"é\"}" event="client-typing" socket_id="` + b.id + `" user_id="8"`,
		`channel="private-x" data="{\"a\":1}" event="client-s" socket_id="` + a.id + `"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("client_event\n got %v\nwant %v", got, want)
	}
	if got := r.wait(t, "cache_miss", 1); got[0] != `channel="cache-c"` {
		t.Errorf("cache_miss %v", got)
	}
	occ := r.wait(t, "channel_occupied", 3)
	sort.Strings(occ)
	if strings.Join(occ, "|") != `channel="cache-c"|channel="presence-room"|channel="private-x"` {
		t.Errorf("occupied %v", occ)
	}
	// subscription_count: not for presence channels.
	if got := r.wait(t, "subscription_count", 2); strings.Join(got, "|") != `channel="private-x" subscription_count=1|channel="cache-c" subscription_count=1` {
		t.Errorf("subscription_count %v", got)
	}

	// b leaves: member_removed 8 after the hold; the channel stays.
	_ = b.ws.Close()
	if got := r.wait(t, "member_removed", 1); got[0] != `channel="presence-room" user_id="8"` {
		t.Errorf("member_removed %v", got)
	}
	a.send(`{"event":"pusher:unsubscribe","data":{"channel":"private-x"}}`)
	if got := r.wait(t, "channel_vacated", 1); got[0] != `channel="private-x"` {
		t.Errorf("vacated %v", got)
	}
	if got := r.wait(t, "subscription_count", 3); got[2] != `channel="private-x" subscription_count=0` {
		t.Errorf("subscription_count %v", got)
	}
}

func TestWebhookHoldCancelledByRejoin(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	ts := startServer(t, Options{Apps: []laravelcfg.App{appWithHooks(r.srv.URL)}, WebhookHold: 300 * time.Millisecond})
	a := ts.dial(t, "reverb-key")
	a.subscribe("presence-r", `{"user_id":1}`, "reverb-secret")
	a.read()
	r.wait(t, "member_added", 1)
	_ = a.ws.Close()
	// Back within the hold (a page reload): no vacate, no removal, and no
	// second occupied or added either.
	a2 := ts.dial(t, "reverb-key")
	a2.subscribe("presence-r", `{"user_id":1}`, "reverb-secret")
	a2.read()
	time.Sleep(600 * time.Millisecond)
	if n := len(r.named("channel_vacated")) + len(r.named("member_removed")); n != 0 {
		t.Errorf("vacated/removed sent although the user came back: %d", n)
	}
	if len(r.named("channel_occupied")) != 1 || len(r.named("member_added")) != 1 {
		t.Errorf("occupied %v added %v", r.named("channel_occupied"), r.named("member_added"))
	}
	// Gone for good: both after the hold.
	_ = a2.ws.Close()
	r.wait(t, "channel_vacated", 1)
	r.wait(t, "member_removed", 1)
}

func TestWebhookFilters(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	app := appA()
	app.Webhooks = []laravelcfg.Webhook{
		{URL: r.srv.URL, EventTypes: []string{"channel_occupied"}, ChannelPrefix: "private-", ChannelSuffix: "-beta"},
		{URL: r.srv.URL, EventTypes: []string{"channel_occupied"}, ChannelPrefix: "news"},
	}
	ts := startServer(t, Options{Apps: []laravelcfg.App{app}})
	c := ts.dial(t, "reverb-key")
	for _, ch := range []string{"private-a-beta", "private-a", "a-beta", "news-1"} {
		if strings.HasPrefix(ch, "private-") {
			c.subscribe(ch, "", "reverb-secret")
		} else {
			c.subscribe(ch, "", "")
		}
		c.read()
	}
	r.wait(t, "channel_occupied", 2)
	time.Sleep(400 * time.Millisecond) // one batch window: nothing else comes
	got := r.named("channel_occupied")
	sort.Strings(got)
	if strings.Join(got, "|") != `channel="news-1"|channel="private-a-beta"` {
		t.Errorf("filtered %v", got)
	}
}

// TestWebhooksExactlyOnceAcrossNodes runs three nodes on one bus, all with
// the same webhook: every event once, whichever node's socket caused it.
func TestWebhooksExactlyOnceAcrossNodes(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	newNode := testBusNodes()
	apps := []laravelcfg.App{appWithHooks(r.srv.URL)}
	var nodes []*testServer
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes = append(nodes, startServer(t, Options{Apps: apps, Transport: newNode(), NodeID: id, WebhookHold: 100 * time.Millisecond}))
	}
	var cs []*client
	for _, n := range nodes {
		c := n.dial(t, "reverb-key")
		c.subscribe("news", "", "")
		c.read()
		c.subscribe("presence-p", `{"user_id":42}`, "reverb-secret")
		c.read()
		cs = append(cs, c)
	}
	r.wait(t, "channel_occupied", 2)
	r.wait(t, "member_added", 1)
	for _, c := range cs {
		_ = c.ws.Close()
	}
	r.wait(t, "channel_vacated", 2)
	r.wait(t, "member_removed", 1)
	time.Sleep(400 * time.Millisecond)
	for name, want := range map[string]int{"channel_occupied": 2, "channel_vacated": 2, "member_added": 1, "member_removed": 1} {
		if got := r.named(name); len(got) != want {
			t.Errorf("%s: %v, want %d", name, got, want)
		}
	}
	// subscription_count went 1, 2, 3, then down to 0 (news only; the
	// nodes' batches may arrive in any order).
	got := r.named("subscription_count")
	sort.Strings(got)
	if strings.Join(got, "|") != strings.Repeat(`channel="news" subscription_count=`, 1)+`0|channel="news" subscription_count=1|channel="news" subscription_count=1|channel="news" subscription_count=2|channel="news" subscription_count=2|channel="news" subscription_count=3` {
		t.Errorf("subscription_count %v", got)
	}
}

// TestWebhooksNodeGoneIsClaimedOnce: a node dies (the supervisor's
// node_gone notice): its channels and members are reported gone once, by
// one survivor, after the hold.
func TestWebhooksNodeGoneIsClaimedOnce(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	bus := cluster.NewBus()
	apps := []laravelcfg.App{appWithHooks(r.srv.URL, "channel_occupied", "channel_vacated", "member_added", "member_removed")}
	n1 := startServer(t, Options{Apps: apps, Transport: bus.Node(), NodeID: "n1", WebhookHold: 100 * time.Millisecond})
	startServer(t, Options{Apps: apps, Transport: bus.Node(), NodeID: "n2", WebhookHold: 100 * time.Millisecond})
	doomed := startServer(t, Options{Apps: apps, Transport: bus.Node(), NodeID: "doomed", WebhookHold: 100 * time.Millisecond})
	keep := n1.dial(t, "reverb-key")
	keep.subscribe("shared", "", "")
	keep.read()
	d := doomed.dial(t, "reverb-key")
	for _, ch := range []string{"shared", "only-doomed"} {
		d.subscribe(ch, "", "")
		d.read()
	}
	d.subscribe("presence-p", `{"user_id":9}`, "reverb-secret")
	d.read()
	r.wait(t, "member_added", 1)
	r.wait(t, "channel_occupied", 3)

	// The supervisor's notice: the node is gone (it never said goodbye).
	doomed.s.draining.Store(true) // its closing sockets publish no leaves
	_ = doomed.s.Close()
	hub := bus.Node()
	if err := hub.Start(context.Background(), func([]byte) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Publish(context.Background(), []byte(`{"type":"reverb-go:node_gone","node_id":"doomed"}`)); err != nil {
		t.Fatal(err)
	}
	r.wait(t, "channel_vacated", 2)
	r.wait(t, "member_removed", 1)
	time.Sleep(400 * time.Millisecond)
	vac := r.named("channel_vacated")
	sort.Strings(vac)
	if strings.Join(vac, "|") != `channel="only-doomed"|channel="presence-p"` || len(r.named("member_removed")) != 1 {
		t.Errorf("vacated %v removed %v", vac, r.named("member_removed"))
	}
}

func TestListenerEvents(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	app := appA()
	app.Listeners = &laravelcfg.Listeners{URL: r.srv.URL, Events: []string{"message_received", "message_sent", "channel_created", "channel_removed", "connection_pruned"}}
	ts := startServer(t, Options{Apps: []laravelcfg.App{app}})
	hdr := http.Header{"Origin": {"https://shop.test"}}
	c := ts.dialRaw(t, "reverb-key", hdr)
	c.read()
	waitFor(t, "established", func() bool { return len(r.named("message_sent")) >= 1 })
	sent := r.named("message_sent")[0]
	var id string
	if i := strings.Index(sent, `socket_id="`); i >= 0 {
		id = sent[i+11:]
		id = id[:strings.IndexByte(id, '"')]
	}
	c.send(`{"event":"pusher:subscribe","data":{"channel":"news"}}`)
	c.read()
	ts.trigger(t, "123456", "E", "d", "news")
	c.read()
	c.send(`{"event":"pusher:ping","data":{}}`)
	c.read()
	c.send(`{"event":"pusher:unsubscribe","data":{"channel":"news"}}`)

	recv := r.wait(t, "message_received", 3)
	want := []string{
		`app_id="123456" channel="news" message="{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"news\"}}" origin="https://shop.test" socket_id="` + id + `"`,
		`app_id="123456" message="{\"event\":\"pusher:ping\",\"data\":{}}" origin="https://shop.test" socket_id="` + id + `"`,
		`app_id="123456" channel="news" message="{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"news\"}}" origin="https://shop.test" socket_id="` + id + `"`,
	}
	if strings.Join(recv, "\n") != strings.Join(want, "\n") {
		t.Errorf("message_received\n got %v\nwant %v", recv, want)
	}
	// established, succeeded, E, pong (a frame queued by one goroutine
	// may be reported after one queued later by another).
	sent4 := strings.Join(r.wait(t, "message_sent", 4), "\n")
	if !strings.Contains(sent4, `channel="news" message="{\"event\":\"E\",\"data\":\"d\",\"channel\":\"news\"}" origin="https://shop.test" socket_id="`+id+`"`) ||
		!strings.Contains(sent4, `message="{\"event\":\"pusher:pong\"}"`) {
		t.Errorf("message_sent %v", sent4)
	}
	if got := r.wait(t, "channel_created", 1); got[0] != `app_id="123456" channel="news"` {
		t.Errorf("created %v", got)
	}
	if got := r.wait(t, "channel_removed", 1); got[0] != `app_id="123456" channel="news"` {
		t.Errorf("removed %v", got)
	}
}

// ConnectionPruned carries what Reverb's carries: the pruned socket's
// channel connection, whose data() is the channel_data of its first
// channel (a presence member's user_id and user_info), [] for a socket
// whose first channel took none.
func TestListenerConnectionPrunedCarriesChannelData(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	app := appA()
	app.PingInterval = 0
	app.Listeners = &laravelcfg.Listeners{URL: r.srv.URL, Events: []string{"connection_pruned"}}
	ts := startServer(t, Options{Apps: []laravelcfg.App{app}, PingSweepInterval: 150 * time.Millisecond})

	member := ts.dial(t, "reverb-key")
	member.subscribe("presence-room", `{"user_id":7,"user_info":{"name":"Ana"}}`, "reverb-secret")
	member.expectContains(`pusher_internal:subscription_succeeded`)
	member.subscribe("news", "", "")
	member.subscribed("news")
	plain := ts.dial(t, "reverb-key")
	plain.subscribe("news", "", "")
	plain.subscribed("news")

	got := strings.Join(r.wait(t, "connection_pruned", 2), "\n")
	if !strings.Contains(got, `data={"user_id":7,"user_info":{"name":"Ana"}} origin=null socket_id="`+member.id+`"`) {
		t.Errorf("the presence member's prune lacks its channel data:\n%s", got)
	}
	if !strings.Contains(got, `app_id="123456" origin=null socket_id="`+plain.id+`"`) {
		t.Errorf("the plain subscriber's prune:\n%s", got)
	}
}

// The order in which a presence channel's events reach the endpoint is
// Pusher's (and soketi's): channel_occupied before the first member_added,
// the last member_removed before channel_vacated.
func TestWebhookPresenceOrder(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	ts := startServer(t, Options{Apps: []laravelcfg.App{appWithHooks(r.srv.URL, "channel_occupied", "channel_vacated", "member_added", "member_removed")}, WebhookHold: 50 * time.Millisecond})
	a := ts.dial(t, "reverb-key")
	a.subscribe("presence-room", `{"user_id":7}`, "reverb-secret")
	a.read()
	r.wait(t, "member_added", 1)
	_ = a.ws.Close()
	r.wait(t, "channel_vacated", 1)
	r.mu.Lock()
	var got []string
	for _, e := range r.evs {
		got = append(got, e["name"].(string))
	}
	r.mu.Unlock()
	if want := "channel_occupied member_added member_removed channel_vacated"; strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

// A server that stops (no new generation takes its sockets over) reports
// its connections' departures itself, after the hold, in Pusher's order; a
// drain for a restart leaves them to the node that claims it.
func TestStopReportsDepartures(t *testing.T) {
	for _, stop := range []bool{false, true} {
		r := newHookReceiver(t, "reverb-secret")
		app := appWithHooks(r.srv.URL, "channel_occupied", "channel_vacated", "member_added", "member_removed")
		app.WatchlistEvents = true // a signed-in user's sign-out is a departure too
		ts := startServer(t, Options{Apps: []laravelcfg.App{app}, WebhookHold: 50 * time.Millisecond})
		u := ts.dial(t, "reverb-key")
		u.signin(`{"id":"9","watchlist":["7"]}`)
		u.read()
		a := ts.dial(t, "reverb-key")
		a.subscribe("presence-room", `{"user_id":7}`, "reverb-secret")
		a.read()
		p := ts.dial(t, "reverb-key")
		p.subscribe("public", "", "")
		p.subscribed("public")
		r.wait(t, "channel_occupied", 2)
		r.wait(t, "member_added", 1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		if stop {
			err = ts.s.Stop(ctx, 0)
		} else {
			err = ts.s.Drain(ctx, 0)
		}
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		ts.s.Close()                 // the webhooks' last try
		got := map[string][]string{} // channel → its events in order
		r.mu.Lock()
		for _, e := range r.evs {
			ch := e["channel"].(string)
			got[ch] = append(got[ch], e["name"].(string))
		}
		r.mu.Unlock()
		want := map[string][]string{
			"presence-room": {"channel_occupied", "member_added"},
			"public":        {"channel_occupied"},
		}
		if stop {
			want["presence-room"] = append(want["presence-room"], "member_removed", "channel_vacated")
			want["public"] = append(want["public"], "channel_vacated")
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("stop %v:\ngot  %v\nwant %v", stop, got, want)
		}
	}
}

// A stopping server's departures are held like any other: a member whose
// client reconnected to another server is not removed, and a channel it
// subscribed there again is not vacated.
func TestStopDeparturesCancelledByAReturn(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	bus := cluster.NewBus()
	app := appWithHooks(r.srv.URL, "channel_occupied", "channel_vacated", "member_added", "member_removed")
	na := startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "a", WebhookHold: 500 * time.Millisecond})
	nb := startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "b", WebhookHold: 500 * time.Millisecond})
	moves := na.dial(t, "reverb-key")
	moves.subscribe("presence-room", `{"user_id":7}`, "reverb-secret")
	moves.read()
	leaves := na.dial(t, "reverb-key")
	leaves.subscribe("presence-room", `{"user_id":8}`, "reverb-secret")
	leaves.read()
	r.wait(t, "member_added", 2)
	done := make(chan error, 1)
	go func() { done <- na.s.Stop(context.Background(), 0) }()
	moves.expectClose()
	back := nb.dial(t, "reverb-key")
	back.subscribe("presence-room", `{"user_id":7}`, "reverb-secret")
	back.read()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	na.s.Close()
	nb.s.Close()
	if got := r.named("member_removed"); len(got) != 1 || !strings.Contains(got[0], `"8"`) {
		t.Errorf("member_removed: %v, want user 8's only", got)
	}
	if got := r.named("channel_vacated"); len(got) != 0 {
		t.Errorf("channel_vacated: %v", got)
	}
}

// A stop that comes while the server drains for a restart (SIGTERM right
// after `reverb:restart`) leaves no generation to claim the drained
// sockets: the drain ends as a stop does, reporting their departures,
// whether the stop came before the drain began, during its closes or
// during the presence members' rejoin grace.
func TestStopDuringRestartDrainReportsDepartures(t *testing.T) {
	for _, when := range []string{"before", "closing", "grace"} {
		t.Run(when, func(t *testing.T) {
			r := newHookReceiver(t, "reverb-secret")
			app := appWithHooks(r.srv.URL, "channel_occupied", "channel_vacated", "member_added", "member_removed")
			ts := startServer(t, Options{Apps: []laravelcfg.App{app}, WebhookHold: 50 * time.Millisecond})
			a := ts.dial(t, "reverb-key")
			a.subscribe("presence-room", `{"user_id":7}`, "reverb-secret")
			a.read()
			p := ts.dial(t, "reverb-key")
			p.subscribe("public", "", "")
			p.subscribed("public")
			r.wait(t, "channel_occupied", 2)
			r.wait(t, "member_added", 1)
			window := time.Duration(0)
			if when == "closing" {
				window = 600 * time.Millisecond
			}
			if when == "before" {
				ts.s.Stopping(0)
			}
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				done <- ts.s.Drain(ctx, window)
			}()
			switch when {
			case "closing":
				time.Sleep(100 * time.Millisecond)
				ts.s.Stopping(0)
			case "grace":
				a.expectClose()
				p.expectClose()
				time.Sleep(200 * time.Millisecond)
				ts.s.Stopping(0)
			}
			started := time.Now()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if when == "grace" && time.Since(started) > time.Second {
				t.Errorf("the drain waited out its rejoin grace after the stop (%v)", time.Since(started))
			}
			ts.s.Close()
			got := map[string][]string{}
			r.mu.Lock()
			for _, e := range r.evs {
				ch := e["channel"].(string)
				got[ch] = append(got[ch], e["name"].(string))
			}
			r.mu.Unlock()
			want := map[string][]string{
				"presence-room": {"channel_occupied", "member_added", "member_removed", "channel_vacated"},
				"public":        {"channel_occupied", "channel_vacated"},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}
}

// A node that joins the cluster while another holds a departure (a worker
// replaced after a crash, whose members' removal the survivor holds) learns
// of the hold: a member who comes back to the new node within it is neither
// removed nor added again, and a channel subscribed there again is neither
// vacated nor occupied again.
func TestNewNodeLearnsHeldDepartures(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	bus := cluster.NewBus()
	apps := []laravelcfg.App{appWithHooks(r.srv.URL, "channel_occupied", "channel_vacated", "member_added", "member_removed")}
	hold := 800 * time.Millisecond
	startServer(t, Options{Apps: apps, Transport: bus.Node(), NodeID: "n1", WebhookHold: hold})
	doomed := startServer(t, Options{Apps: apps, Transport: bus.Node(), NodeID: "doomed", WebhookHold: hold})
	d := doomed.dial(t, "reverb-key")
	d.subscribe("presence-p", `{"user_id":9}`, "reverb-secret")
	d.read()
	d.subscribe("public", "", "")
	d.read()
	r.wait(t, "member_added", 1)
	r.wait(t, "channel_occupied", 2)

	doomed.s.draining.Store(true) // it crashed: its closing sockets publish no leaves
	_ = doomed.s.Close()
	hub := bus.Node()
	if err := hub.Start(context.Background(), func([]byte) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Publish(context.Background(), []byte(`{"type":"reverb-go:node_gone","node_id":"doomed"}`)); err != nil {
		t.Fatal(err)
	}
	hub.Close()
	// The replacement joins during the hold; the client comes back to it.
	repl := startServer(t, Options{Apps: apps, Transport: bus.Node(), NodeID: "replacement", WebhookHold: hold})
	back := repl.dial(t, "reverb-key")
	back.subscribe("presence-p", `{"user_id":9}`, "reverb-secret")
	back.read()
	back.subscribe("public", "", "")
	back.read()
	time.Sleep(2 * hold)
	r.mu.Lock()
	var got []string
	for _, e := range r.evs {
		got = append(got, e["name"].(string)+" "+e["channel"].(string))
	}
	r.mu.Unlock()
	sort.Strings(got)
	if want := "channel_occupied presence-p|channel_occupied public|member_added presence-p"; strings.Join(got, "|") != want {
		t.Errorf("webhooks:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
}

// slowPublisher is a bus node whose publishes wait lag first, as those of
// a node whose connection to Redis is slow: what it sent is not in the
// bus yet when a message published after by another node is.
type slowPublisher struct {
	cluster.Transport
	lag    atomic.Int64 // nanoseconds
	counts atomic.Int64 // ledger count messages whose publish began
}

func (l *slowPublisher) Publish(ctx context.Context, msg []byte) (int, error) {
	if strings.Contains(string(msg), `"type":"reverb-go:count"`) {
		l.counts.Add(1)
	}
	if d := l.lag.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	return l.Transport.Publish(ctx, msg)
}

// A node that joins while another's last subscriber's leave is still on
// its way learns the vacate that leave starts: a client subscribing on the
// new node within the hold is no second channel_occupied.
func TestNewNodeLearnsAVacateItsHelloOvertook(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	bus := cluster.NewBus()
	apps := []laravelcfg.App{appWithHooks(r.srv.URL, "channel_occupied", "channel_vacated")}
	hold := 800 * time.Millisecond
	slow := &slowPublisher{Transport: bus.Node()}
	n1 := startServer(t, Options{Apps: apps, Transport: slow, NodeID: "n1", WebhookHold: hold})
	c := n1.dial(t, "reverb-key")
	c.subscribe("public", "", "")
	c.subscribed("public")
	r.wait(t, "channel_occupied", 1)

	slow.lag.Store(int64(100 * time.Millisecond))
	counts := slow.counts.Load()
	c.send(`{"event":"pusher:unsubscribe","data":{"channel":"public"}}`)
	waitFor(t, "n1's count 0 in its publish", func() bool { return slow.counts.Load() > counts })
	n2 := startServer(t, Options{Apps: apps, Transport: bus.Node(), NodeID: "n2", WebhookHold: hold})
	back := n2.dial(t, "reverb-key")
	back.subscribe("public", "", "")
	back.subscribed("public")
	time.Sleep(2 * hold)
	if got := r.named("channel_occupied"); len(got) != 1 {
		t.Errorf("channel_occupied %d times, want once: %v", len(got), got)
	}
	if got := r.named("channel_vacated"); len(got) != 0 {
		t.Errorf("channel_vacated while a subscriber came back within the hold: %v", got)
	}
}

// A stop during a restart's drain closes the sockets still open over the
// stop's window, not the rest of the restart's (stretched for reconnects
// that no longer come): process managers wait for the stop's window only.
func TestStopDuringRestartDrainKeepsTheStopWindow(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	app := appWithHooks(r.srv.URL, "channel_occupied", "channel_vacated")
	ts := startServer(t, Options{Apps: []laravelcfg.App{app}, WebhookHold: 50 * time.Millisecond})
	for i := 0; i < 6; i++ {
		c := ts.dial(t, "reverb-key")
		c.subscribe("public", "", "")
		c.subscribed("public")
	}
	r.wait(t, "channel_occupied", 1)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- ts.s.Drain(ctx, 20*time.Second) // a restart's long window
	}()
	time.Sleep(100 * time.Millisecond)
	started := time.Now()
	ts.s.Stopping(200 * time.Millisecond)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the drain went on at the restart's pace after the stop")
	}
	if d := time.Since(started); d > 2*time.Second {
		t.Errorf("stopped after %v", d)
	}
	r.wait(t, "channel_vacated", 1)
}
