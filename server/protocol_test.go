package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/tlsrec"
)

// §15 case 1 and 3.
func TestConnectionEstablished(t *testing.T) {
	ts := startServer(t, Options{})
	c := ts.dialRaw(t, "reverb-key", nil)
	if got := c.resp.Header.Get("X-Powered-By"); got != "Laravel Reverb" {
		t.Errorf("X-Powered-By = %q", got)
	}
	msg := c.read()
	re := regexp.MustCompile(`^\{"event":"pusher:connection_established","data":"\{\\"socket_id\\":\\"\d+\.\d+\\",\\"activity_timeout\\":30\}"\}$`)
	if !re.MatchString(msg) {
		t.Fatalf("got %s", msg)
	}
}

// §15 cases 2, 4, 6: errors at connect, then a close frame with the code.
func TestConnectRefused(t *testing.T) {
	ts := startServer(t, Options{})
	holder := ts.dial(t, "reverb-key-2") // app B allows one socket
	_ = holder
	cases := []struct {
		name, key, origin, frame string
		code                     int
	}{
		{"unknown app", "invalid-key", "", `{"event":"pusher:error","data":"{\"code\":4001,\"message\":\"Application does not exist\"}"}`, 4001},
		{"origin missing", "reverb-key-3", "", `{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"Origin not allowed\"}"}`, 4009},
		{"over quota", "reverb-key-2", "", `{"event":"pusher:error","data":"{\"code\":4004,\"message\":\"Application is over connection quota\"}"}`, 4004},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			c := ts.dialRaw(t, tc.key, h)
			c.expect(tc.frame)
			if code, _ := c.expectClose(); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
		})
	}
	h := http.Header{"Origin": {"http://laravel.com"}}
	c := ts.dialRaw(t, "reverb-key-3", h)
	c.expectContains("pusher:connection_established")
}

// §15 case 5.
func TestOriginAllowed(t *testing.T) {
	cases := []struct {
		origin  string
		allowed []string
		ok      bool
	}{
		{"http://localhost", []string{"localhost"}, true},
		{"http://localhost:3000", []string{"localhost"}, true},
		{"http://sub.localhost", []string{"localhost", "*.localhost"}, true},
		{"http://localhost", []string{"laravel.com"}, false},
		{"http://sub.laravel.com", []string{"laravel.com"}, false},
		{"http://laravel.com", []string{"*.laravel.com"}, false},
		{"", []string{"laravel.com"}, false},
		{"", []string{"*"}, true},
		{"https://a.b.example.com", []string{"*.example.com"}, true},
		{"https://x", []string{"https://x"}, false},
		{"http://Laravel.com", []string{"laravel.com"}, false},
		// The host is PHP's parse_url($origin, PHP_URL_HOST), odd corners included.
		{"laravel.com:8080", []string{"laravel.com"}, true},
		{"http://[::1]:8080", []string{"[::1]"}, true},
		{"http://[::1]:8080", []string{"::1"}, false},
		{"http://laravel.com:99999", []string{"laravel.com"}, false},
		{"http://laravel.com:99999", []string{""}, true},
		{"http://laravel.com%2e", []string{"laravel.com%2e"}, true},
		{"http://exa mple.com", []string{"exa mple.com"}, true},
		{"http://h.com\\@laravel.com", []string{"laravel.com"}, true},
		{"laravel.com", []string{"laravel.com"}, false},
		{"laravel.com", []string{""}, true},
		{" http://laravel.com", []string{"laravel.com"}, false},
	}
	for _, tc := range cases {
		if got := originAllowed(tc.allowed, tc.origin); got != tc.ok {
			t.Errorf("originAllowed(%v, %q) = %v", tc.allowed, tc.origin, got)
		}
	}
}

// §15 cases 7, 8, 9, 16, 26, 19.
func TestSubscribe(t *testing.T) {
	ts := startServer(t, Options{})
	c := ts.dial(t, "reverb-key")
	c.subscribe("test-channel", "", "")
	c.subscribed("test-channel")
	c.subscribe("private-test-channel", "", "reverb-secret")
	c.subscribed("private-test-channel")
	c.subscribe("private-encrypted-x", "", "reverb-secret")
	c.subscribed("private-encrypted-x")
	for _, ch := range []string{"private-x", "presence-x", "private-cache-x", "presence-cache-x"} {
		c.send(`{"event":"pusher:subscribe","data":{"channel":"` + ch + `","auth":"invalid-signature"}}`)
		c.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"Connection is unauthorized\"}"}`)
		c.send(`{"event":"pusher:subscribe","data":{"channel":"` + ch + `","auth":null}}`)
		c.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"Connection is unauthorized\"}"}`)
	}
	for _, ch := range []string{"cache-test-channel", "private-cache-test-channel"} {
		secret := ""
		if strings.HasPrefix(ch, "private") {
			secret = "reverb-secret"
		}
		c.subscribe(ch, "", secret)
		c.subscribed(ch)
		c.expect(`{"event":"pusher:cache_miss","channel":"` + ch + `"}`)
	}
	c.subscribe("presence-cache-test-channel", `{"user_id":1}`, "reverb-secret")
	c.expectContains(`"pusher_internal:subscription_succeeded"`)
	c.expect(`{"event":"pusher:cache_miss","channel":"presence-cache-test-channel"}`)
	c.send(`{"event":"pusher:subscribe","data":{"channel":""}}`)
	c.expect(`{"event":"pusher_internal:subscription_succeeded","data":"{}"}`)
	c.send(`{"event":"pusher:ping"}`)
	c.expect(`{"event":"pusher:pong"}`)
	c.send(`{"event":"pusher:subscribe","data":{"channel":123}}`)
	c.subscribed("123")
}

// §15 cases 10–15: presence.
func TestPresence(t *testing.T) {
	ts := startServer(t, Options{})
	ch := "presence-test-channel"
	user := func(id int) string {
		n := map[int]string{1: "Test User", 2: "Test User 2", 3: "Test User 3"}[id]
		return `{"user_id":` + string(rune('0'+id)) + `,"user_info":{"name":"` + n + `"}}`
	}
	c1 := ts.dial(t, "reverb-key")
	c1.subscribe(ch, user(1), "reverb-secret")
	c1.expect(`{"event":"pusher_internal:subscription_succeeded","data":"{\"presence\":{\"count\":1,\"ids\":[1],\"hash\":{\"1\":{\"name\":\"Test User\"}}}}","channel":"presence-test-channel"}`)
	c2 := ts.dial(t, "reverb-key")
	c2.subscribe(ch, user(2), "reverb-secret")
	c2.expectContains(`\"count\":2,\"ids\":[1,2]`)
	c1.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":2,\"user_info\":{\"name\":\"Test User 2\"}}","channel":"presence-test-channel"}`)
	c3 := ts.dial(t, "reverb-key")
	c3.subscribe(ch, user(3), "reverb-secret")
	c3.expectContains(`\"count\":3`)
	c1.expectContains(`\"user_id\":3`)
	c2.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":3,\"user_info\":{\"name\":\"Test User 3\"}}","channel":"presence-test-channel"}`)

	// Same user on a second socket: no member_added; that socket leaving:
	// no member_removed.
	c1b := ts.dial(t, "reverb-key")
	c1b.subscribe(ch, user(1), "reverb-secret")
	c1b.expectContains(`\"count\":3,\"ids\":[1,2,3]`)
	_ = c1b.ws.Close()
	time.Sleep(50 * time.Millisecond)

	// Users list and counts.
	ids, exists, err := backend{ts.s}.Users(context.Background(), ts.app("123456"), ch)
	if err != nil || !exists || len(ids) != 3 {
		t.Fatalf("users %v %v %v", ids, exists, err)
	}

	_ = c3.ws.Close()
	c1.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":3}","channel":"presence-test-channel"}`)
	c2.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":3}","channel":"presence-test-channel"}`)
	// c1 got nothing about c1b.
	c1.send(`{"event":"pusher:ping"}`)
	c1.expect(`{"event":"pusher:pong"}`)
}

// A socket that subscribes to a presence channel again, without
// unsubscribing, with another user's channel_data: its membership is
// replaced, as in Reverb, and the others are told, as Reverb tells them
// member_added for a user not present yet; they are also told
// member_removed for the user it was when no other socket keeps that user
// (Reverb leaves them a member no one is).
func TestPresenceResubscribeAsAnotherUser(t *testing.T) {
	ts := startServer(t, Options{})
	ch := "presence-again"
	user := func(id int) string {
		return `{"user_id":` + strconv.Itoa(id) + `,"user_info":{"n":` + strconv.Itoa(id) + `}}`
	}
	added := func(id int) string {
		return `{"event":"pusher_internal:member_added","data":"{\"user_id\":` + strconv.Itoa(id) + `,\"user_info\":{\"n\":` + strconv.Itoa(id) + `}}","channel":"presence-again"}`
	}
	removed := func(id int) string {
		return `{"event":"pusher_internal:member_removed","data":"{\"user_id\":` + strconv.Itoa(id) + `}","channel":"presence-again"}`
	}
	users := func(want string) {
		t.Helper()
		ids, _, err := backend{ts.s}.Users(context.Background(), ts.app("123456"), ch)
		var got []string
		for _, id := range ids {
			got = append(got, phpString(id))
		}
		if fmt.Sprint(got) != want || err != nil {
			t.Fatalf("users %v (%v), want %s", got, err, want)
		}
	}
	c1 := ts.dial(t, "reverb-key")
	c1.subscribe(ch, user(1), "reverb-secret")
	c1.expectContains(`\"ids\":[1]`)
	c2 := ts.dial(t, "reverb-key")
	c2.subscribe(ch, user(2), "reverb-secret")
	c2.expectContains(`\"count\":2,\"ids\":[1,2]`)
	c1.expect(added(2))

	// User 2's socket subscribes again as user 3.
	c2.subscribe(ch, user(3), "reverb-secret")
	c2.expectContains(`\"count\":2,\"ids\":[1,3]`)
	c1.expect(removed(2))
	c1.expect(added(3))
	users("[1 3]")

	// Again as user 3: nothing changes for the others.
	c2.subscribe(ch, user(3), "reverb-secret")
	c2.expectContains(`\"count\":2,\"ids\":[1,3]`)
	c1.send(`{"event":"pusher:ping"}`)
	c1.expect(`{"event":"pusher:pong"}`)

	// As user 1, whom c1 keeps present: user 3 is gone, no one joined.
	c2.subscribe(ch, user(1), "reverb-secret")
	c2.expectContains(`\"count\":1,\"ids\":[1]`)
	c1.expect(removed(3))
	c1.send(`{"event":"pusher:ping"}`)
	c1.expect(`{"event":"pusher:pong"}`)
	users("[1]")
}

func TestPresenceDataShapes(t *testing.T) {
	ts := startServer(t, Options{})
	cases := []struct{ name, data, want string }{
		{"no channel_data", "", `{"presence":{"count":0,"ids":[],"hash":[]}}`},
		{"no user_info", `{"user_id":"abc"}`, `{"presence":{"count":1,"ids":["abc"],"hash":{"abc":null}}}`},
		{"user zero", `{"user_id":0,"user_info":{"a":1}}`, `{"presence":{"count":1,"ids":[0],"hash":[{"a":1}]}}`},
		{"string id", `{"user_id":"1","user_info":{"name":"Joe"}}`, `{"presence":{"count":1,"ids":["1"],"hash":{"1":{"name":"Joe"}}}}`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := "presence-shape-" + string(rune('a'+i))
			c := ts.dial(t, "reverb-key")
			c.subscribe(ch, tc.data, "reverb-secret")
			c.expect(`{"event":"pusher_internal:subscription_succeeded","data":` + jsonString(tc.want) + `,"channel":"` + ch + `"}`)
		})
	}
}

// §15 cases 17, 18, 34.
func TestBroadcastAndCache(t *testing.T) {
	ts := startServer(t, Options{})
	var subs []*client
	for i := 0; i < 3; i++ {
		c := ts.dial(t, "reverb-key")
		c.subscribe("test-channel", "", "")
		c.subscribed("test-channel")
		subs = append(subs, c)
	}
	ts.trigger(t, "123456", `App\Events\TestEvent`, `{"foo":"bar"}`, "test-channel")
	for _, c := range subs {
		c.expect(`{"event":"App\\Events\\TestEvent","data":"{\"foo\":\"bar\"}","channel":"test-channel"}`)
	}
	// socket_id exclusion.
	err := backend{ts.s}.Publish(context.Background(), ts.app("123456"), apiEvent("x", "{}", subs[0].id, "test-channel"))
	if err != nil {
		t.Fatal(err)
	}
	subs[1].expect(`{"event":"x","data":"{}","channel":"test-channel"}`)
	subs[2].expect(`{"event":"x","data":"{}","channel":"test-channel"}`)
	subs[0].send(`{"event":"pusher:ping"}`)
	subs[0].expect(`{"event":"pusher:pong"}`)

	// Cache: trigger on a channel without subscribers caches nothing.
	ts.trigger(t, "123456", "ev", `{"a":1}`, "cache-test-channel")
	c := ts.dial(t, "reverb-key")
	c.subscribe("cache-test-channel", "", "")
	c.subscribed("cache-test-channel")
	c.expect(`{"event":"pusher:cache_miss","channel":"cache-test-channel"}`)
	ts.trigger(t, "123456", `App\Events\TestEvent`, `{"foo":"bar"}`, "cache-test-channel")
	c.expect(`{"event":"App\\Events\\TestEvent","data":"{\"foo\":\"bar\"}","channel":"cache-test-channel"}`)
	d := ts.dial(t, "reverb-key")
	d.subscribe("cache-test-channel", "", "")
	d.subscribed("cache-test-channel")
	d.expect(`{"event":"App\\Events\\TestEvent","data":"{\"foo\":\"bar\"}","channel":"cache-test-channel"}`)

	// Batch key order.
	err = backend{ts.s}.Publish(context.Background(), ts.app("123456"), batchEvent("b", "d", "test-channel"))
	if err != nil {
		t.Fatal(err)
	}
	subs[1].expect(`{"event":"b","channel":"test-channel","data":"d"}`)
}

// §15 cases 20–24.
func TestClientEvents(t *testing.T) {
	all := appA()
	all.ID, all.Key, all.AcceptClientEventsFrom = "1", "all-key", "all"
	none := appA()
	none.ID, none.Key, none.AcceptClientEventsFrom = "2", "none-key", "none"
	ts := startServer(t, Options{Apps: []laravelcfg.App{appA(), all, none}})

	a := ts.dial(t, "reverb-key")
	b := ts.dial(t, "reverb-key")
	for _, c := range []*client{a, b} {
		c.subscribe("test-channel", "", "")
		c.subscribed("test-channel")
	}
	a.send(`{"event":"client-start-typing","channel":"test-channel","data":{"id":123,"name":"Joe Dixon"}}`)
	b.expect(`{"event":"client-start-typing","channel":"test-channel","data":{"id":123,"name":"Joe Dixon"}}`)
	a.send(`{"event":"client-x","channel":"test-channel"}`)
	b.expect(`{"event":"client-x","channel":"test-channel","data":null}`)
	a.send(`{"event":"client-x","channel":"test-channel","data":"{\"k\":{}}"}`)
	b.expect(`{"event":"client-x","channel":"test-channel","data":{"k":{}}}`)
	a.send(`{"event":"test-message","channel":"test-channel","data":{}}`)
	a.send(`{"event":"client-x","channel":"other","data":{}}`)
	a.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"The client is not a member of the specified channel.\"}"}`)
	b.send(`{"event":"pusher:ping"}`)
	b.expect(`{"event":"pusher:pong"}`)
	a.send(`{"event":"pusher:ping"}`)
	a.expect(`{"event":"pusher:pong"}`)

	// user_id from channel_data.
	p1 := ts.dial(t, "reverb-key")
	p2 := ts.dial(t, "reverb-key")
	p1.subscribe("private-chat", `{"user_id":"1"}`, "reverb-secret")
	p1.subscribed("private-chat")
	p2.subscribe("private-chat", "", "reverb-secret")
	p2.subscribed("private-chat")
	p1.send(`{"event":"client-foo","channel":"private-chat","data":{"foo":"bar"}}`)
	p2.expect(`{"event":"client-foo","channel":"private-chat","data":{"foo":"bar"},"user_id":"1"}`)

	// all: relayed with every key in the client's order, no membership.
	x := ts.dial(t, "all-key")
	y := ts.dial(t, "all-key")
	y.subscribe("c", "", "")
	y.subscribed("c")
	x.send(`{"channel":"c","event":"client-a","data":{"z":1},"extra":[1]}`)
	y.expect(`{"channel":"c","event":"client-a","data":{"z":1},"extra":[1]}`)

	n := ts.dial(t, "none-key")
	n.send(`{"event":"client-a","channel":"c","data":{}}`)
	n.expect(`{"event":"pusher:error","data":"{\"code\":4301,\"message\":\"The app does not have client messaging enabled.\"}"}`)
}

// Laravel's validator treats a string of only spaces, tabs, newlines, NUL
// or vertical tabs (PHP's trim set) as empty: a required event name or
// client-event channel made of them is refused with 4200, and a client
// event's data made of them skips the array rule and is relayed as sent.
func TestClientEventBlankStrings(t *testing.T) {
	ts := startServer(t, Options{})
	a := ts.dial(t, "reverb-key")
	b := ts.dial(t, "reverb-key")
	for _, c := range []*client{a, b} {
		c.subscribe("news", "", "")
		c.subscribed("news")
	}
	invalid := `{"event":"pusher:error","data":"{\"code\":4200,\"message\":\"Invalid message format\"}"}`
	a.send(`{"event":"  ","channel":"news","data":{"a":1}}`)
	a.expect(invalid)
	a.send(`{"event":"client-x","channel":" \t","data":{"a":1}}`)
	a.expect(invalid)
	for _, data := range []string{`""`, `"  "`, `"\t\n\r"`, `"\u0000\u000b"`} {
		a.send(`{"event":"client-x","channel":"news","data":` + data + `}`)
		b.expect(`{"event":"client-x","channel":"news","data":` + data + `}`)
	}
	// A form feed is not in PHP's trim set: a string, not an array.
	a.send(`{"event":"client-x","channel":"news","data":"\f"}`)
	a.expect(invalid)
	a.send(`{"event":"client-x","channel":"elsewhere","data":""}`)
	a.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"The client is not a member of the specified channel.\"}"}`)
	b.send(`{"event":"pusher:ping"}`)
	b.expect(`{"event":"pusher:pong"}`)
}

// §15 case 25.
func TestMalformed(t *testing.T) {
	ts := startServer(t, Options{})
	c := ts.dial(t, "reverb-key")
	inputs := []string{
		`Hi`,
		`{"event":[]}`,
		`{"event":"pusher:subscribe","data":"sfsfsfs"}`,
		`{"event":"pusher:subscribe","data":{"channel":[]}}`,
		`{"event":"pusher:subscribe","data":{"channel":null}}`,
		`{"event":"pusher:subscribe","data":{"channel":"x","auth":[]}}`,
		`{"event":"pusher:subscribe","data":{"channel":"x","channel_data":[]}}`,
		`{"event":"pusher:subscribe","data":{"channel":"x","channel_data":"Hello"}}`,
		`{"event":"client-x","channel":[]}`,
		`{"event":"pusher:unknown"}`,
		`{"event":"hello"}`,
		`{"event":"client-x","channel":"c","data":"plain text"}`,
		`[]`,
		`"str"`,
		`{"event":""}`,
	}
	for _, in := range inputs {
		c.send(in)
		c.expect(`{"event":"pusher:error","data":"{\"code\":4200,\"message\":\"Invalid message format\"}"}`)
	}
	c.send(`{"event":"pusher:ping"}`)
	c.expect(`{"event":"pusher:pong"}`)
}

// §15 case 27.
func TestMaxMessageSize(t *testing.T) {
	ts := startServer(t, Options{})
	c := ts.dialRaw(t, "reverb-key-3", http.Header{"Origin": {"http://laravel.com"}})
	c.read()
	c.send(`{"event":"pusher:ping"}`)
	if code, text := c.expectClose(); code != 1009 || text != "Maximum message size exceeded" {
		t.Fatalf("close %d %q", code, text)
	}
	a := ts.dial(t, "reverb-key")
	a.send(`{"event":"pusher:subscribe","data":{"channel":"` + strings.Repeat("x", 10001) + `"}}`)
	if code, _ := a.expectClose(); code != 1009 {
		t.Fatalf("close %d", code)
	}
	b := ts.dial(t, "reverb-key-2")
	long := strings.Repeat("y", 20000)
	b.send(`{"event":"pusher:subscribe","data":{"channel":"` + long + `"}}`)
	b.subscribed(long)
}

// §15 case 28 and 41.
func TestUnsubscribeAndMetrics(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := context.Background()
	be := backend{ts.s}
	app := ts.app("123456")
	c := ts.dial(t, "reverb-key")
	c.subscribe("test-channel", "", "")
	c.subscribed("test-channel")
	c.subscribe("other", "", "")
	c.subscribed("other")
	d := ts.dial(t, "reverb-key")
	d.subscribe("test-channel", "", "")
	d.subscribed("test-channel")
	e := ts.dial(t, "reverb-key")
	_ = e
	n, err := be.Connections(ctx, app)
	if err != nil || n != 3 {
		t.Fatalf("connections %d %v (every open socket counts)", n, err)
	}
	list, _ := be.Channels(ctx, app, "")
	if len(list) != 2 || list[0].Name != "test-channel" || list[0].SubscriptionCount != 2 || list[1].Name != "other" {
		t.Fatalf("channels %+v", list)
	}
	c.send(`{"event":"pusher:unsubscribe","data":{"channel":"other"}}`)
	c.send(`{"event":"pusher:ping"}`)
	c.expect(`{"event":"pusher:pong"}`)
	info, _ := be.Channel(ctx, app, []string{"other", "test-channel"})
	if info[0].Exists || !info[1].Exists || info[1].SubscriptionCount != 2 {
		t.Fatalf("channel info %+v", info)
	}
	list, _ = be.Channels(ctx, app, "test")
	if len(list) != 1 {
		t.Fatalf("filtered %+v", list)
	}
}

// §15 case 29.
func TestControlFrames(t *testing.T) {
	ts := startServer(t, Options{})
	c := ts.dial(t, "reverb-key")
	got := make(chan string, 1)
	c.ws.SetPongHandler(func(p string) error { got <- p; return nil })
	if err := c.ws.WriteControl(gws.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	c.send(`{"event":"pusher:ping"}`)
	c.expect(`{"event":"pusher:pong"}`)
	select {
	case p := <-got:
		if p != "hi" {
			t.Fatalf("pong payload %q", p)
		}
	default:
		t.Fatal("no pong frame")
	}
}

// §15 case 30 (sweep shortened).
func TestPingAndPrune(t *testing.T) {
	app := appA()
	app.PingInterval = 0
	ts := startServer(t, Options{Apps: []laravelcfg.App{app}, PingSweepInterval: 150 * time.Millisecond})
	c := ts.dial(t, "reverb-key")
	c.expect(`{"event":"pusher:ping"}`)
	c.expect(`{"event":"pusher:error","data":"{\"code\":4201,\"message\":\"Pong reply not received in time\"}"}`)
	if code, _ := c.expectClose(); code != 4201 {
		t.Fatalf("close %d", code)
	}
	// A control-frame user is pinged with a ping frame.
	d := ts.dial(t, "reverb-key")
	pinged := make(chan struct{}, 4)
	d.ws.SetPingHandler(func(string) error { pinged <- struct{}{}; return nil })
	_ = d.ws.WriteControl(gws.PongMessage, nil, time.Now().Add(time.Second))
	go func() {
		_ = d.ws.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			if _, _, err := d.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-pinged:
	case <-time.After(3 * time.Second):
		t.Fatal("no ping frame")
	}
}

// §15 case 31.
func TestRateLimit(t *testing.T) {
	for _, terminate := range []bool{false, true} {
		app := appA()
		app.RateLimiting = &laravelcfg.RateLimiting{Enabled: true, MaxAttempts: 3, DecaySeconds: 1, TerminateOnLimit: terminate}
		ts := startServer(t, Options{Apps: []laravelcfg.App{app}})
		c := ts.dial(t, "reverb-key")
		for i := 0; i < 3; i++ {
			c.send(`{"event":"pusher:ping"}`)
			c.expect(`{"event":"pusher:pong"}`)
		}
		c.send(`{"event":"pusher:ping"}`)
		c.expect(`{"event":"pusher:error","data":"{\"code\":4301,\"message\":\"Rate limit exceeded\"}"}`)
		if terminate {
			if code, _ := c.expectClose(); code != 4301 {
				t.Fatalf("close %d", code)
			}
			continue
		}
		time.Sleep(1100 * time.Millisecond)
		c.send(`{"event":"pusher:ping"}`)
		c.expect(`{"event":"pusher:pong"}`)
	}
}

// §15 case 42.
func TestTerminate(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := context.Background()
	c := ts.dial(t, "reverb-key")
	c.subscribe("test-channel", "", "")
	c.subscribed("test-channel")
	c.subscribe("presence-room", `{"user_id":"456"}`, "reverb-secret")
	c.expectContains("subscription_succeeded")
	other := ts.dial(t, "reverb-key")
	other.subscribe("presence-room", `{"user_id":7}`, "reverb-secret")
	other.expectContains("subscription_succeeded")
	if err := (backend{ts.s}).TerminateUser(ctx, ts.app("123456"), "456"); err != nil {
		t.Fatal(err)
	}
	ids, _, _ := backend{ts.s}.Users(ctx, ts.app("123456"), "presence-room")
	if len(ids) != 1 {
		t.Fatalf("users after terminate %v", ids)
	}
	if code, _ := c.expectClose(); code != 4009 {
		t.Fatalf("close %d", code)
	}
	other.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":\"456\"}","channel":"presence-room"}`)
}

func TestClientClose(t *testing.T) {
	ts := startServer(t, Options{})
	c := ts.dial(t, "reverb-key")
	_ = c.ws.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(4000, "bye"), time.Now().Add(time.Second))
	if code, text := c.expectClose(); code != 4000 || text != "bye" {
		t.Fatalf("echo %d %q", code, text)
	}
}

func TestDrain(t *testing.T) {
	ts := startServer(t, Options{})
	var cs []*client
	for i := 0; i < 5; i++ {
		cs = append(cs, ts.dial(t, "reverb-key"))
	}
	done := make(chan error, 1)
	go func() { done <- ts.s.Drain(context.Background(), 200*time.Millisecond) }()
	for _, c := range cs {
		if code, _ := c.expectClose(); code != 4200 {
			t.Fatalf("close %d", code)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A paused drain closes nothing until resumed, and then closes every
// socket on the schedule moved on by the pause.
func TestDrainPause(t *testing.T) {
	ts := startServer(t, Options{})
	var cs []*client
	for i := 0; i < 5; i++ {
		cs = append(cs, ts.dial(t, "reverb-key"))
	}
	ts.s.PauseDrain(true)
	done := make(chan error, 1)
	go func() { done <- ts.s.Drain(context.Background(), 200*time.Millisecond) }()
	time.Sleep(500 * time.Millisecond) // past the whole window
	if n := ts.s.openSockets(); n != 5 {
		t.Fatalf("%d of 5 sockets open while the drain was paused", n)
	}
	ts.s.PauseDrain(false)
	for _, c := range cs {
		if code, _ := c.expectClose(); code != 4200 {
			t.Fatalf("close %d", code)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A socket whose upgrade completes after Drain took its list (it was handed
// to this generation just before the restart switched) is closed with 4200
// too, at once, rather than when the worker exits.
func TestDrainClosesSocketOpenedLate(t *testing.T) {
	ts := startServer(t, Options{})
	early := ts.dial(t, "reverb-key")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ts.s.Drain(ctx, 3*time.Second) }()
	for !ts.s.draining.Load() {
		time.Sleep(time.Millisecond)
	}
	late := ts.dial(t, "reverb-key")
	if code, text := late.expectClose(); code != 4200 || text != "Server restarting" {
		t.Fatalf("late socket closed with %d %q", code, text)
	}
	if code, _ := early.expectClose(); code != 4200 {
		t.Fatalf("early socket closed with %d", code)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A subscriber that stops reading is closed with 4100 once its queue is
// full; the others keep receiving everything.
func TestSlowConsumer(t *testing.T) {
	app := appA()
	app.MaxMessageSize = 0
	ts := startServer(t, Options{Apps: []laravelcfg.App{app}})
	slow := rawSubscriber(t, ts.addr)
	defer slow.Close()
	fast := ts.dial(t, "reverb-key")
	fast.subscribe("idle", "", "")
	fast.subscribed("idle")
	got := make(chan int, 1)
	var read atomic.Int64
	go func() {
		n := 0
		for {
			_ = fast.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := fast.ws.ReadMessage(); err != nil {
				got <- n
				return
			}
			n++
			read.Store(int64(n))
			if n == 200 {
				got <- n
				return
			}
		}
	}()
	// The fast subscriber is kept at most 8 events (800 KiB) behind, far
	// from its 4 MiB queue, however slowly a loaded machine runs its
	// reader; the slow one falls behind by all 200 (20 MiB).
	big := strings.Repeat("x", 100<<10)
	for i := 0; i < 200; i++ {
		for wait := time.Now().Add(10 * time.Second); read.Load() < int64(i-8) && time.Now().Before(wait); {
			time.Sleep(time.Millisecond)
		}
		ts.trigger(t, "123456", "e", big, "idle")
	}
	if n := <-got; n != 200 {
		t.Fatalf("fast subscriber got %d of 200", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ts.s.Stats().Apps[0].SlowConsumersClosed == 0 {
		if time.Now().After(deadline) {
			t.Fatal("slow consumer never closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Events as large as a raised max_request_size allows are delivered, also
// several back to back: Reverb has no outbound limit, and a subscriber that
// reads is no slow consumer because one event is larger than 4 MiB.
func TestLargeEventsDelivered(t *testing.T) {
	ts := startServer(t, Options{Apps: []laravelcfg.App{appA()}, MaxRequestSize: 12 << 20})
	c := ts.dial(t, "reverb-key")
	c.subscribe("large", "", "")
	c.subscribed("large")
	sizes := []int{5 << 20, 5 << 20, 6 << 20}
	done := make(chan error, 1)
	go func() { // reading while the events are published, as a client does
		for i, n := range sizes {
			_ = c.ws.SetReadDeadline(time.Now().Add(60 * time.Second))
			_, p, err := c.ws.ReadMessage()
			if err != nil {
				done <- fmt.Errorf("event %d: %v (slow consumers closed: %d)", i, err, ts.s.Stats().Apps[0].SlowConsumersClosed)
				return
			}
			// Compared as bytes: decoding 5 MiB of JSON under -race takes
			// longer than the server waits for a client that reads nothing.
			head := `{"event":"e","data":"` + strconv.Itoa(i)
			if !bytes.HasPrefix(p, []byte(head)) || len(p) != len(`{"event":"e","data":"","channel":"large"}`)+n+1 {
				done <- fmt.Errorf("event %d: %d bytes %.100s", i, len(p), p)
				return
			}
		}
		done <- nil
	}()
	for i, n := range sizes {
		ts.trigger(t, "123456", "e", strconv.Itoa(i)+strings.Repeat("x", n), "large")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := ts.s.Stats().Apps[0].SlowConsumersClosed; n != 0 {
		t.Fatalf("%d slow consumers closed", n)
	}
}

// largeEventSubscriber starts a server that takes events up to 24 MiB
// with a write timeout of 300 ms, and subscribes a raw client with a 64 KiB
// receive buffer to "idle".
func largeEventSubscriber(t *testing.T) (*testServer, net.Conn) {
	t.Helper()
	old := writeTimeout
	writeTimeout = 300 * time.Millisecond
	t.Cleanup(func() { writeTimeout = old })
	ts := startServer(t, Options{Apps: []laravelcfg.App{appA()}, MaxRequestSize: 24 << 20})
	nc := rawSubscriber(t, ts.addr)
	_ = nc.(*net.TCPConn).SetReadBuffer(64 << 10)
	return ts, nc
}

// A subscriber that reads a large event slowly but steadily is not dropped
// when writing it takes longer than the write timeout: only a client that
// accepts nothing for that long is.
func TestSlowSteadyReaderKept(t *testing.T) {
	ts, nc := largeEventSubscriber(t)
	defer nc.Close()
	smallSendBuffers(t, ts)
	const size = 8 << 20
	ts.trigger(t, "123456", "e", strings.Repeat("x", size), "idle")
	buf := make([]byte, 64<<10)
	total := 0
	start := time.Now()
	for total < size {
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := nc.Read(buf)
		total += n
		if err != nil {
			t.Fatalf("after %d of %d bytes in %v: %v", total, size, time.Since(start), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if time.Since(start) < writeTimeout {
		t.Logf("read in %v, less than the write timeout: the test proved nothing", time.Since(start))
	}
}

// smallSendBuffers gives the server's sockets small kernel send buffers,
// so a blocking write sees a reader's progress in small steps (the kernel
// wakes a writer once a third of the buffer is free).
func smallSendBuffers(t *testing.T, ts *testServer) {
	t.Helper()
	for _, a := range ts.s.table.Load().byKey {
		a.mu.Lock()
		for _, c := range a.conns {
			nc := c.nc
			if rc, ok := nc.(*tlsrec.Conn); ok {
				nc = rc.Raw()
			}
			if tcp, ok := nc.(*net.TCPConn); ok {
				_ = tcp.SetWriteBuffer(64 << 10)
			}
		}
		a.mu.Unlock()
	}
}

// A slow but steady reader whose socket the server closes meanwhile (here
// as a drain would) gets one write timeout for the rest of its backlog,
// not as long as it keeps reading a trickle.
func TestClosedSlowReaderDropped(t *testing.T) {
	ts, nc := largeEventSubscriber(t)
	defer nc.Close()
	smallSendBuffers(t, ts)
	const size = 8 << 20
	ts.trigger(t, "123456", "e", strings.Repeat("x", size), "idle")
	buf := make([]byte, 8<<10)
	total, closedAt := 0, 0
	for {
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := nc.Read(buf)
		total += n
		if err != nil {
			break
		}
		if closedAt == 0 && total > 1<<20 {
			closedAt = total
			for _, a := range ts.s.table.Load().byKey {
				a.mu.Lock()
				for _, c := range a.conns {
					go c.closeNow(4200, "Server closing", false)
				}
				a.mu.Unlock()
			}
		}
		time.Sleep(20 * time.Millisecond) // ~400 KB/s
	}
	if closedAt == 0 || total >= size {
		t.Fatalf("read %d of %d bytes (closed after %d): the closed socket's backlog was written to the end", total, size, closedAt)
	}
}

// A subscriber that accepts nothing at all for the write timeout is dropped.
func TestStalledReaderDropped(t *testing.T) {
	ts, nc := largeEventSubscriber(t)
	defer nc.Close()
	ts.trigger(t, "123456", "e", strings.Repeat("x", 8<<20), "idle")
	deadline := time.Now().Add(10 * time.Second)
	for ts.s.Stats().Apps[0].Connections > 0 {
		if time.Now().After(deadline) {
			t.Fatal("a client that reads nothing was never dropped")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A handshake larger than max_request_size is refused with Reverb's 413.
func TestHandshakeTooLarge(t *testing.T) {
	app := appA()
	ts := startServer(t, Options{Apps: []laravelcfg.App{app}, MaxRequestSize: 300})
	h := http.Header{"X-Filler": {strings.Repeat("f", 400)}}
	d := gws.Dialer{HandshakeTimeout: 3 * time.Second}
	_, resp, err := d.Dial("ws://"+ts.addr+"/app/reverb-key", h)
	if err == nil {
		t.Fatal("handshake accepted")
	}
	if resp == nil || resp.StatusCode != 413 {
		t.Fatalf("resp %v err %v", resp, err)
	}
}

// A presence user_id that is a JSON object or list is refused as Reverb
// refuses it (its ?string parameter throws): 4200, not subscribed, not a
// member.
func TestPresenceUserIDArrayIsRefused(t *testing.T) {
	ts := startServer(t, Options{})
	for _, data := range []string{`{"user_id":{"a":1}}`, `{"user_id":[1]}`, `{"user_id":[]}`} {
		c := ts.dial(t, "reverb-key")
		c.subscribe("presence-room", data, "reverb-secret")
		c.expect(`{"event":"pusher:error","data":"{\"code\":4200,\"message\":\"Invalid message format\"}"}`)
	}
	m := ts.dial(t, "reverb-key")
	m.subscribe("presence-room", `{"user_id":7}`, "reverb-secret")
	m.expect(`{"event":"pusher_internal:subscription_succeeded","data":"{\"presence\":{\"count\":1,\"ids\":[7],\"hash\":{\"7\":null}}}","channel":"presence-room"}`)
}

// A refused subscription leaves its channel behind, as Reverb creates the
// channel before checking the signature: events sent to it are cached.
// Unsubscribing from another channel removes only that one; a disconnect
// removes every empty channel, as Reverb's unsubscribeFromAll does.
func TestChannelLeftByARefusedSubscription(t *testing.T) {
	ts := startServer(t, Options{})
	refused := ts.dial(t, "reverb-key")
	refused.send(`{"event":"pusher:subscribe","data":{"channel":"private-cache-a","auth":"reverb-key:bad"}}`)
	refused.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"Connection is unauthorized\"}"}`)
	other := ts.dial(t, "reverb-key")
	other.subscribe("news", "", "")
	other.subscribed("news")
	other.send(`{"event":"pusher:unsubscribe","data":{"channel":"news"}}`)
	other.send(`{"event":"pusher:unsubscribe","data":{"channel":"unknown"}}`)
	other.barrier()
	ts.trigger(t, "123456", "sent", `{"m":1}`, "private-cache-a")
	late := ts.dial(t, "reverb-key")
	late.subscribe("private-cache-a", "", "reverb-secret")
	late.subscribed("private-cache-a")
	late.expect(`{"event":"sent","data":"{\"m\":1}","channel":"private-cache-a"}`)
	// Once every socket left and one disconnected, the channel is gone
	// with its cache.
	late.send(`{"event":"pusher:unsubscribe","data":{"channel":"private-cache-a"}}`)
	late.barrier()
	refused.send(`{"event":"pusher:subscribe","data":{"channel":"private-cache-b","auth":"reverb-key:bad"}}`)
	refused.expect(`{"event":"pusher:error","data":"{\"code\":4009,\"message\":\"Connection is unauthorized\"}"}`)
	ts.trigger(t, "123456", "sent", `{"m":2}`, "private-cache-b")
	_ = other.ws.Close()
	time.Sleep(100 * time.Millisecond)
	late.subscribe("private-cache-b", "", "reverb-secret")
	late.subscribed("private-cache-b")
	late.expect(`{"event":"pusher:cache_miss","channel":"private-cache-b"}`)
}

// terminate_connections closes the user's sockets in Reverb's order: the
// app's channels in creation order, each channel's subscribers in the
// order they joined. So the others see member_removed in Reverb's order.
func TestTerminateOrder(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := context.Background()
	obs := ts.dial(t, "reverb-key")
	const n = 6
	for i := 0; i < n; i++ {
		ch := fmt.Sprintf("presence-p%d", i)
		obs.subscribe(ch, `{"user_id":"obs"}`, "reverb-secret")
		obs.expectContains("subscription_succeeded")
	}
	victims := make([]*client, n)
	for i := n - 1; i >= 0; i-- {
		v := ts.dial(t, "reverb-key")
		v.subscribe(fmt.Sprintf("presence-p%d", i), fmt.Sprintf(`{"user_id":"v","user_info":%d}`, i), "reverb-secret")
		v.expectContains("subscription_succeeded")
		obs.expectContains("member_added")
		victims[i] = v
	}
	if err := (backend{ts.s}).TerminateUser(ctx, ts.app("123456"), "v"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		obs.expect(fmt.Sprintf(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":\"v\"}","channel":"presence-p%d"}`, i))
	}
	for _, v := range victims {
		if code, _ := v.expectClose(); code != 4009 {
			t.Fatalf("close %d", code)
		}
	}
}
