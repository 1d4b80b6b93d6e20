package server

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/api"
	"github.com/reverb-go/reverb/server/cluster"
	"github.com/reverb-go/reverb/server/pusherauth"
)

// signinMsg is the pusher:signin pusher-js sends for userData, signed with
// secret as Laravel's broadcaster signs it.
func signinMsg(socketID, secret, userData string) string {
	auth := "reverb-key:" + pusherauth.UserSignature(secret, socketID, userData)
	return `{"event":"pusher:signin","data":{"auth":` + jsonString(auth) + `,"user_data":` + jsonString(userData) + `}}`
}

// signin signs c in as userData and reads signin_success.
func (c *client) signin(userData string) {
	c.t.Helper()
	c.send(signinMsg(c.id, "reverb-secret", userData))
	c.expect(`{"event":"pusher:signin_success","data":` + jsonString(`{"user_data":`+jsonString(userData)+`}`) + `}`)
}

// barrier sends pusher:ping and returns the frames before the pong.
func (c *client) barrier() []string {
	c.t.Helper()
	c.send(`{"event":"pusher:ping"}`)
	var got []string
	for {
		f := c.read()
		if f == `{"event":"pusher:pong"}` {
			return got
		}
		got = append(got, f)
	}
}

func TestSigninSuccessAndUserChannel(t *testing.T) {
	ts := startServer(t, Options{})
	a := ts.dial(t, "reverb-key")
	a.signin(`{"id":"7","user_info":{"name":"Ann"}}`)
	// pusher-js subscribes to its user channel after signin_success.
	a.send(`{"event":"pusher:subscribe","data":{"auth":"","channel":"#server-to-user-7"}}`)
	a.subscribed("#server-to-user-7")
	// Another user's channel is refused.
	a.send(`{"event":"pusher:subscribe","data":{"channel":"#server-to-user-8"}}`)
	a.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"Connection is unauthorized\"}"}`)
	// Signing in again as the same user is fine; as another is refused.
	a.signin(`{"id":"7"}`)
	a.send(signinMsg(a.id, "reverb-secret", `{"id":"8"}`))
	a.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"Connection is already signed in as another user.\"}"}`)
	if code, _ := a.expectClose(); code != 4009 {
		t.Errorf("close code %d", code)
	}
}

func TestSigninRefused(t *testing.T) {
	ts := startServer(t, Options{})
	const noID = `The returned user data must contain the \\\"id\\\" field.`
	for _, c := range []struct{ name, msg, want string }{
		{"bad signature", signinMsg("1.1", "reverb-secret", `{"id":"7"}`), "Connection not authorized."},
		{"wrong secret", "", "Connection not authorized."},
		{"no id", "", noID},
		{"empty id", "", noID},
		{"not JSON", "", noID},
		{"auth not a string", `{"event":"pusher:signin","data":{"auth":5,"user_data":"{\"id\":\"7\"}"}}`, "Connection not authorized."},
		{"no data", `{"event":"pusher:signin"}`, "Connection not authorized."},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := ts.dial(t, "reverb-key")
			msg := c.msg
			switch c.name {
			case "wrong secret":
				msg = signinMsg(cl.id, "other", `{"id":"7"}`)
			case "no id":
				msg = signinMsg(cl.id, "reverb-secret", `{"user_info":{}}`)
			case "empty id":
				msg = signinMsg(cl.id, "reverb-secret", `{"id":""}`)
			case "not JSON":
				msg = signinMsg(cl.id, "reverb-secret", `id=7`)
			}
			cl.send(msg)
			cl.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"` + c.want + `\"}"}`)
			if code, reason := cl.expectClose(); code != 4009 || reason != strings.ReplaceAll(c.want, `\\\"`, `"`) {
				t.Errorf("close %d %q", code, reason)
			}
		})
	}
}

func TestParseUserData(t *testing.T) {
	u, err := parseUserData(`{"id":12,"watchlist":["1",2,"1",null,"",3.5,"4"]}`, true)
	if err != nil || u.id != "12" || strings.Join(u.watchlist, ",") != "1,2,4" || u.truncated {
		t.Errorf("%+v %v", u, err)
	}
	if u, _ := parseUserData(`{"id":"a","watchlist":["1"]}`, false); u.watchlist != nil {
		t.Error("watchlist read without watchlist events")
	}
	var ids []string
	for i := 0; i < 150; i++ {
		ids = append(ids, `"u`+strings.Repeat("x", i%3)+string(rune('A'+i%26))+`"`, `"`+jsonNumber(i)+`"`)
	}
	u, _ = parseUserData(`{"id":"a","watchlist":[`+strings.Join(ids, ",")+`]}`, true)
	if len(u.watchlist) != watchlistMax || !u.truncated {
		t.Errorf("%d ids, truncated %v", len(u.watchlist), u.truncated)
	}
	for _, bad := range []string{`{"id":true}`, `{"id":["7"]}`, `{"id":null}`, `[]`, `"7"`, `{"ID":"7"}`} {
		if _, err := parseUserData(bad, true); err != errNoUserID {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func jsonNumber(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestEventsToUserReachEverySignedInSocket(t *testing.T) {
	a, b := twoNodes(t)
	x := a.dial(t, "reverb-key")
	y := b.dial(t, "reverb-key")
	other := a.dial(t, "reverb-key")
	x.signin(`{"id":"7"}`)
	y.signin(`{"id":"7"}`)
	other.signin(`{"id":"8"}`)
	// A client subscribed to the channel by name gets nothing: only the
	// user's signed-in sockets do.
	eaves := a.dial(t, "reverb-key")
	eaves.send(`{"event":"pusher:subscribe","data":{"channel":"#server-to-user-7"}}`)
	eaves.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"Connection is unauthorized\"}"}`)

	a.trigger(t, "123456", "hello", `{"n":1}`, "#server-to-user-7")
	want := `{"event":"hello","data":"{\"n\":1}","channel":"#server-to-user-7"}`
	x.expect(want)
	y.expect(want)
	// Excluding one socket, and a batch item.
	err := backend{b.s}.Publish(context.Background(), b.app("123456"), api.Event{Name: "again", Data: "2", Channels: []string{"#server-to-user-7"}, SocketID: y.id})
	if err != nil {
		t.Fatal(err)
	}
	x.expectContains(`"again"`)
	if err := (backend{b.s}).Publish(context.Background(), b.app("123456"), batchEvent("batched", "3", "#server-to-user-7")); err != nil {
		t.Fatal(err)
	}
	x.expect(`{"event":"batched","channel":"#server-to-user-7","data":"3"}`)
	y.expect(`{"event":"batched","channel":"#server-to-user-7","data":"3"}`)
	if got := other.barrier(); len(got) != 0 {
		t.Errorf("another user got %v", got)
	}
	if got := eaves.barrier(); len(got) != 0 {
		t.Errorf("a socket not signed in got %v", got)
	}
	// A client cannot send client events to a user.
	x.send(`{"event":"client-x","channel":"#server-to-user-8","data":{}}`)
	x.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"The client is not a member of the specified channel.\"}"}`)

	// terminate_connections reaches signed-in users on every node.
	if err := (backend{a.s}).TerminateUser(context.Background(), a.app("123456"), "7"); err != nil {
		t.Fatal(err)
	}
	if code, _ := x.expectClose(); code != 4009 {
		t.Errorf("x closed with %d", code)
	}
	if code, _ := y.expectClose(); code != 4009 {
		t.Errorf("y closed with %d", code)
	}
	if got := other.barrier(); len(got) != 0 {
		t.Errorf("another user got %v", got)
	}
}

func appWith(f func(a *laravelcfg.App)) laravelcfg.App {
	a := appA()
	a.AcceptClientEventsFrom = "all"
	f(&a)
	return a
}

func TestAuthorizationDeadline(t *testing.T) {
	app := appWith(func(a *laravelcfg.App) { a.UserAuthenticationTimeout = 300 * time.Millisecond })
	ts := startServer(t, Options{Apps: []laravelcfg.App{app}})
	idle := ts.dial(t, "reverb-key")
	public := ts.dial(t, "reverb-key")
	signed := ts.dial(t, "reverb-key")
	private := ts.dial(t, "reverb-key")
	public.subscribe("news", "", "")
	public.subscribed("news")
	signed.signin(`{"id":"1"}`)
	private.subscribe("private-x", "", "reverb-secret")
	private.subscribed("private-x")
	for _, c := range []*client{idle, public} {
		c.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"Connection not authorized within timeout.\"}"}`)
		if code, reason := c.expectClose(); code != 4009 || reason != "Connection not authorized within timeout." {
			t.Errorf("close %d %q", code, reason)
		}
	}
	time.Sleep(200 * time.Millisecond)
	for _, c := range []*client{signed, private} {
		if got := c.barrier(); len(got) != 0 {
			t.Errorf("an authorized connection got %v", got)
		}
	}
}

// A subscription that does not happen does not authorize the connection,
// as Pusher counts only connections subscribed to a private or presence
// channel: a join refused because the presence channel is full, and a
// private subscription refused for its channel_data, leave the deadline
// running.
func TestAuthorizationDeadlineCountsOnlySubscriptionsThatHappen(t *testing.T) {
	app := appWith(func(a *laravelcfg.App) {
		a.UserAuthenticationTimeout = 300 * time.Millisecond
		a.Limits.PresenceMembers = 1
	})
	ts := startServer(t, Options{Apps: []laravelcfg.App{app}})
	member := ts.dial(t, "reverb-key")
	member.subscribe("presence-room", `{"user_id":"1"}`, "reverb-secret")
	member.expectContains("subscription_succeeded")
	refused := ts.dial(t, "reverb-key")
	refused.subscribe("presence-room", `{"user_id":"2"}`, "reverb-secret")
	refused.expectContains("LimitReached")
	invalid := ts.dial(t, "reverb-key")
	invalid.subscribe("private-x", `5`, "reverb-secret")
	invalid.expect(`{"event":"pusher:error","data":"{\"code\":4200,\"message\":\"Invalid message format\"}"}`)
	for _, c := range []*client{refused, invalid} {
		c.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"Connection not authorized within timeout.\"}"}`)
		if code, _ := c.expectClose(); code != 4009 {
			t.Errorf("close %d", code)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if got := member.barrier(); len(got) != 0 {
		t.Errorf("the member got %v", got)
	}
}

func watchNodes(t *testing.T, hold time.Duration, mutate func(a *laravelcfg.App)) (*testServer, *testServer) {
	bus := cluster.NewBus()
	app := appWith(func(a *laravelcfg.App) {
		a.WatchlistEvents = true
		if mutate != nil {
			mutate(a)
		}
	})
	n1 := startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "n1", WebhookHold: hold})
	n2 := startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "n2", WebhookHold: hold})
	return n1, n2
}

const (
	online7  = `{"event":"pusher_internal:watchlist_events","data":"{\"events\":[{\"name\":\"online\",\"user_ids\":[\"7\"]}]}"}`
	offline7 = `{"event":"pusher_internal:watchlist_events","data":"{\"events\":[{\"name\":\"offline\",\"user_ids\":[\"7\"]}]}"}`
)

func TestWatchlistOnlineOfflineAcrossNodes(t *testing.T) {
	n1, n2 := watchNodes(t, 300*time.Millisecond, nil)
	w := n1.dial(t, "reverb-key")
	w.signin(`{"id":"1","watchlist":["7","8",9]}`)
	w.expect(`{"event":"pusher_internal:watchlist_events","data":"{\"events\":[{\"name\":\"offline\",\"user_ids\":[\"7\",\"8\",\"9\"]}]}"}`)
	// 7 comes online on the other node, twice: one event.
	u1 := n2.dial(t, "reverb-key")
	u1.signin(`{"id":"7"}`)
	w.expect(online7)
	u2 := n1.dial(t, "reverb-key")
	u2.signin(`{"id":"7","watchlist":["1"]}`)
	u2.expect(`{"event":"pusher_internal:watchlist_events","data":"{\"events\":[{\"name\":\"online\",\"user_ids\":[\"1\"]}]}"}`)
	// One socket leaves: still online.
	u1.ws.Close()
	time.Sleep(500 * time.Millisecond)
	if got := w.barrier(); len(got) != 0 {
		t.Errorf("watcher got %v while 7 is still online", got)
	}
	// The last one leaves and 7 is back within the hold: nothing.
	u2.ws.Close()
	time.Sleep(100 * time.Millisecond)
	u3 := n2.dial(t, "reverb-key")
	u3.signin(`{"id":"7"}`)
	time.Sleep(500 * time.Millisecond)
	if got := w.barrier(); len(got) != 0 {
		t.Errorf("a reconnect within the hold flapped: %v", got)
	}
	// Gone for good: offline after the hold, once.
	u3.ws.Close()
	w.expect(offline7)
	// A second watcher sees the current state at sign-in.
	w2 := n2.dial(t, "reverb-key")
	w2.signin(`{"id":"2","watchlist":["1","7"]}`)
	w2.expect(`{"event":"pusher_internal:watchlist_events","data":"{\"events\":[{\"name\":\"online\",\"user_ids\":[\"1\"]},{\"name\":\"offline\",\"user_ids\":[\"7\"]}]}"}`)
	if got := w.barrier(); len(got) != 0 {
		t.Errorf("watcher of 7 and 8 got %v", got)
	}
}

func TestWatchlistLimitAndDrain(t *testing.T) {
	n1, n2 := watchNodes(t, 200*time.Millisecond, nil)
	var ids []string
	for i := 0; i < 101; i++ {
		ids = append(ids, jsonNumber(i+100))
	}
	w := n2.dial(t, "reverb-key")
	w.signin(`{"id":"1","watchlist":[` + strings.Join(ids, ",") + `,7]}`)
	w.expect(`{"event":"pusher:error","data":"{\"code\":4302,\"message\":\"Watchlist limit exceeded. Only the first 100 user IDs are accepted.\"}"}`)
	w.expectContains(`offline`)

	w7 := n2.dial(t, "reverb-key")
	w7.signin(`{"id":"2","watchlist":["7"]}`)
	w7.expectContains(`offline`)
	u := n1.dial(t, "reverb-key")
	u.signin(`{"id":"7"}`)
	w7.expect(online7)
	// n1 drains: 7 reconnects to n2 before the drain ends; no offline.
	done := make(chan error, 1)
	go func() { done <- n1.s.Drain(context.Background(), 0) }()
	if code, _ := u.expectClose(); code != 4200 {
		t.Fatalf("drain closed with %d", code)
	}
	back := n2.dial(t, "reverb-key")
	back.signin(`{"id":"7"}`)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if got := w7.barrier(); len(got) != 0 {
		t.Errorf("a draining restart flapped: %v", got)
	}
	back.ws.Close()
	w7.expect(offline7)
}

func TestSubscriptionCountAcrossNodes(t *testing.T) {
	bus := cluster.NewBus()
	app := appWith(func(a *laravelcfg.App) { a.SubscriptionCount = true })
	n1 := startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "n1"})
	n2 := startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "n2"})
	count := func(ch string, n int) string {
		return `{"event":"pusher_internal:subscription_count","data":"{\"subscription_count\":` + jsonNumber(n) + `}","channel":"` + ch + `"}`
	}
	a := n1.dial(t, "reverb-key")
	a.subscribe("news", "", "")
	a.subscribed("news")
	a.expect(count("news", 1))
	b := n2.dial(t, "reverb-key")
	b.subscribe("news", "", "")
	b.subscribed("news")
	a.expect(count("news", 2))
	// b's node may deliver the count decided before b subscribed after b
	// became its subscriber: b then sees that count (1) first.
	if got := b.read(); got != count("news", 2) && got != count("news", 1) {
		t.Fatalf("b got %s", got)
	} else if got != count("news", 2) {
		b.expect(count("news", 2))
	}
	b.send(`{"event":"pusher:unsubscribe","data":{"channel":"news"}}`)
	a.expect(count("news", 1))
	if got := b.barrier(); len(got) != 0 {
		t.Errorf("an unsubscribed socket got %v", got)
	}
	// Presence channels have no subscription count.
	p := n2.dial(t, "reverb-key")
	p.subscribe("presence-room", `{"user_id":1}`, "reverb-secret")
	p.expectContains("subscription_succeeded")
	if got := p.barrier(); len(got) != 0 {
		t.Errorf("presence subscriber got %v", got)
	}
}

func TestPresenceMemberLimit(t *testing.T) {
	a, b := func() (*testServer, *testServer) {
		bus := cluster.NewBus()
		app := appWith(func(a *laravelcfg.App) { a.Limits.PresenceMembers = 2 })
		return startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "n1"}),
			startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "n2"})
	}()
	join := func(ts *testServer, uid string) *client {
		c := ts.dial(t, "reverb-key")
		c.subscribe("presence-room", `{"user_id":`+uid+`}`, "reverb-secret")
		return c
	}
	u1 := join(a, "1")
	u1.expectContains("subscription_succeeded")
	u2 := join(b, "2")
	u2.expectContains("subscription_succeeded")
	u1.expectContains("member_added")
	full := join(a, "3")
	full.expect(`{"event":"pusher:subscription_error","data":"{\"type\":\"LimitReached\",\"error\":\"The maximum members per presence channel limit was reached\",\"status\":4100}","channel":"presence-room"}`)
	// A user already present may open another socket.
	again := join(b, "1")
	again.expectContains("subscription_succeeded")
	for _, c := range []*client{u1, u2} {
		if got := c.barrier(); len(got) != 0 {
			t.Errorf("members saw %v", got)
		}
	}
	// Room again once someone leaves.
	u2.ws.Close()
	u1.expectContains("member_removed")
	join(a, "3").expectContains("subscription_succeeded")
}

func TestClientEventLimits(t *testing.T) {
	app := appWith(func(a *laravelcfg.App) { a.Limits.EventNameLength = 15; a.Limits.EventPayloadBytes = 10 })
	ts := startServer(t, Options{Apps: []laravelcfg.App{app}})
	c := ts.dial(t, "reverb-key")
	peer := ts.dial(t, "reverb-key")
	for _, x := range []*client{c, peer} {
		x.subscribe("private-x", "", "reverb-secret")
		x.subscribed("private-x")
	}
	c.send(`{"event":"client-abcdefgh","channel":"private-x","data":{"a":"12"}}`)
	c.send(`{"event":"client-é","channel":"private-x","data":{"a":12}}`)
	peer.expectContains("client-abcdefgh")
	peer.expectContains("client-é")
	c.send(`{"event":"client-abcdefghi","channel":"private-x","data":{}}`)
	c.expect(`{"event":"pusher:error","data":"{\"code\":null,\"message\":\"Event name is too long. Maximum allowed size is 15.\"}"}`)
	c.send(`{"event":"client-a","channel":"private-x","data":{"a":"123"}}`)
	c.expect(`{"event":"pusher:error","data":"{\"code\":null,\"message\":\"The data content of this event exceeds the allowed maximum (10 bytes). See https:\\\/\\\/pusher.com\\\/docs\\\/channels\\\/server_api\\\/http-api#publishing-events for more info\"}"}`)
	if got := peer.barrier(); len(got) != 0 {
		t.Errorf("refused client events were relayed: %v", got)
	}
}

// The subscription_count webhook and the clients' counts are one decision:
// the same counts, the webhook once for the cluster.
func TestSubscriptionCountWebhookMatchesClients(t *testing.T) {
	r := newHookReceiver(t, "reverb-secret")
	app := appWithHooks(r.srv.URL, "subscription_count")
	app.SubscriptionCount = true
	bus := cluster.NewBus()
	n1 := startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "n1"})
	n2 := startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "n2"})
	var seen []string
	a := n1.dial(t, "reverb-key")
	a.subscribe("news", "", "")
	a.subscribed("news")
	seen = append(seen, a.read())
	b := n2.dial(t, "reverb-key")
	b.subscribe("news", "", "")
	b.subscribed("news")
	seen = append(seen, a.read())
	b.ws.Close()
	seen = append(seen, a.read())
	got := r.wait(t, "subscription_count", 3)
	sort.Strings(got) // reported by the node of each change: any order
	want := []string{`channel="news" subscription_count=1`, `channel="news" subscription_count=1`, `channel="news" subscription_count=2`}
	if strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("webhooks %v", got)
	}
	for i, n := range []int{1, 2, 1} {
		if w := `"data":"{\"subscription_count\":` + jsonNumber(n) + `}"`; !strings.Contains(seen[i], w) {
			t.Errorf("client frame %d: %s", i, seen[i])
		}
	}
	time.Sleep(200 * time.Millisecond)
	if got := r.named("subscription_count"); len(got) != 3 {
		t.Errorf("webhooks sent more than once: %v", got)
	}
}

func TestPresenceWithoutChannelDataUsesTheSignedInUser(t *testing.T) {
	bus := cluster.NewBus()
	a := startServer(t, Options{Transport: bus.Node(), NodeID: "n1"})
	b := startServer(t, Options{Transport: bus.Node(), NodeID: "n2"})
	// Pusher: a signed-in connection's presence authorization may leave
	// channel_data out (signed as socket_id:channel); its member is then
	// the signed-in user, id and user_info.
	ann := a.dial(t, "reverb-key")
	ann.signin(`{"id":"7","user_info":{"name":"Ann"},"watchlist":["8"]}`)
	ann.subscribe("presence-room", "", "reverb-secret")
	ann.expect(`{"event":"pusher_internal:subscription_succeeded","data":"{\"presence\":{\"count\":1,\"ids\":[\"7\"],\"hash\":{\"7\":{\"name\":\"Ann\"}}}}","channel":"presence-room"}`)
	bob := b.dial(t, "reverb-key")
	bob.signin(`{"id":"8"}`)
	bob.subscribe("presence-room", "", "reverb-secret")
	bob.expect(`{"event":"pusher_internal:subscription_succeeded","data":"{\"presence\":{\"count\":2,\"ids\":[\"7\",\"8\"],\"hash\":{\"7\":{\"name\":\"Ann\"},\"8\":null}}}","channel":"presence-room"}`)
	ann.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":\"8\"}","channel":"presence-room"}`)
	// channel_data, when given, still decides the member.
	ann2 := b.dial(t, "reverb-key")
	ann2.signin(`{"id":"7","user_info":{"name":"Ann"}}`)
	ann2.subscribe("presence-room", `{"user_id":"9","user_info":{"name":"Nine"}}`, "reverb-secret")
	ann2.expectContains(`\"9\":{\"name\":\"Nine\"}`)
	ann.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":\"9\",\"user_info\":{\"name\":\"Nine\"}}","channel":"presence-room"}`)
	bob.ws.Close()
	ann.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":\"8\"}","channel":"presence-room"}`)
}

func TestThrottledSubscriptionCountArrivesWhenItsWindowEnds(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 5 s throttle window")
	}
	app := appWith(func(a *laravelcfg.App) { a.SubscriptionCount = true })
	bus := cluster.NewBus()
	nodes := []*testServer{
		startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "n1"}),
		startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "n2"}),
	}
	// 103 subscribers at once on two nodes: above 100 the counts are
	// throttled, but the last one (103) still reaches everyone when the
	// window ends.
	var subs []*client
	for i := range 103 {
		c := nodes[i%2].dial(t, "reverb-key")
		c.subscribe("live", "", "")
		subs = append(subs, c)
	}
	last := `{"event":"pusher_internal:subscription_count","data":"{\"subscription_count\":103}","channel":"live"}`
	for i, c := range []*client{subs[0], subs[1], subs[101], subs[102]} {
		_ = c.ws.SetReadDeadline(time.Now().Add(8 * time.Second))
		for {
			_, p, err := c.ws.ReadMessage()
			if err != nil {
				t.Fatalf("subscriber %d never got the count 103: %v", i, err)
			}
			if string(p) == last {
				break
			}
		}
	}
}

// A node that said it is gone (the end of its drain) takes no part in the
// cluster any more, though it still receives until it closes: two workers
// of one machine stopping together each end their drain within
// milliseconds, and the one that ended first hears the other's notice.
// Were it to claim the other, the user removals would be held by a node
// that is gone: nobody would commit them until its heartbeats were missed.
func TestGoneNodeClaimsNothing(t *testing.T) {
	bus := cluster.NewBus()
	app := appWith(func(a *laravelcfg.App) { a.WatchlistEvents = true })
	start := func(id string) *testServer {
		return startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: id,
			WebhookHold: 300 * time.Millisecond, HeartbeatInterval: time.Hour})
	}
	n1, n2, n3 := start("n1"), start("n2"), start("n3")
	var mu sync.Mutex
	var seen []envelope
	tap := bus.Node()
	if err := tap.Start(context.Background(), func(msg []byte) {
		var env envelope
		if json.Unmarshal(msg, &env) == nil {
			mu.Lock()
			seen = append(seen, env)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tap.Close() })

	w := n1.dial(t, "reverb-key")
	w.signin(`{"id":"1","watchlist":["7"]}`)
	w.expectContains(`offline`)
	u := n2.dial(t, "reverb-key")
	u.signin(`{"id":"7"}`)
	w.expect(online7)
	w.barrier()

	// n3 ends its drain (no sockets) and has not closed yet; then n2 ends
	// its drain: user 7 goes offline after the hold, through n1's claim.
	if err := n3.s.Drain(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if err := n2.s.Drain(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	w.expect(offline7)
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	gone := false
	for _, env := range seen {
		if env.Type == typeNodeGone && env.NodeID == "n3" {
			gone = true
			continue
		}
		// An empty snapshot is the answer it still owes a hello (its
		// answer waits for its earlier messages to come back, nodes.go):
		// nothing in the cluster any more.
		if gone && env.Node == "n3" && (env.Type != typeSnapshot || len(env.Entries) > 0) {
			t.Errorf("n3 published %s after its end-of-drain notice", env.Type)
		}
	}
	if !gone {
		t.Error("n3 sent no end-of-drain notice")
	}
}

// A node starting while another is between its end-of-drain notice and
// its exit gets an answer from it at once (its gate waits for every node
// its hello reached), and one with nothing in it: the drained users are
// not online again on the new node.
func TestGoneNodeAnswersANewNodeWithNothing(t *testing.T) {
	bus := cluster.NewBus()
	app := appWith(func(a *laravelcfg.App) { a.WatchlistEvents = true })
	start := func(id string) *testServer {
		return startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: id,
			WebhookHold: 100 * time.Millisecond, HeartbeatInterval: time.Hour, GatherTimeout: 10 * time.Second})
	}
	n1, n2 := start("n1"), start("n2")
	w := n1.dial(t, "reverb-key")
	w.signin(`{"id":"1","watchlist":["7"]}`)
	w.expectContains(`offline`)
	u := n2.dial(t, "reverb-key")
	u.signin(`{"id":"7"}`)
	w.expect(online7)
	if err := n2.s.Drain(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	w.expect(offline7)

	// n2 has not closed: n3's hello reaches it.
	n3 := start("n3")
	w3 := n3.dial(t, "reverb-key")
	w3.signin(`{"id":"3","watchlist":["7"]}`)
	w3.expect(`{"event":"pusher_internal:watchlist_events","data":"{\"events\":[{\"name\":\"offline\",\"user_ids\":[\"7\"]}]}"}`)
}
