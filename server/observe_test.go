package server

import (
	"sync"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
)

// recorder is a test observer: it keeps copies of the events it wants.
type recorder struct {
	want EventKind
	mu   sync.Mutex
	evs  []Event
}

func (r *recorder) Interest(*laravelcfg.App) EventKind { return r.want }

func (r *recorder) Observe(e Event) {
	e.Data = append([]byte(nil), e.Data...)
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) of(k EventKind) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// waitFor polls cond for up to 3 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestObserverSeesLifecycleEvents(t *testing.T) {
	rec := &recorder{want: ConnectionOpened | ConnectionClosed | MessageReceived | Broadcast | ClientEvent | CacheMiss | Subscribed | Unsubscribed}
	ts := startServer(t, Options{Observers: []Observer{rec}})
	a := ts.dial(t, "reverb-key")
	b := ts.dial(t, "reverb-key")
	b.subscribe("presence-room", `{"user_id":7}`, "reverb-secret")
	b.read() // subscription_succeeded
	a.subscribe("presence-room", `{"user_id":8}`, "reverb-secret")
	a.read()
	b.read() // member_added 8
	a.send(`{"event":"client-typing","channel":"presence-room","data":{"x":1}}`)
	b.expectContains(`client-typing`)
	a.subscribe("cache-x", "", "")
	a.read()
	a.expectContains("pusher:cache_miss")

	waitFor(t, "events", func() bool {
		return len(rec.of(ClientEvent)) == 1 && len(rec.of(CacheMiss)) == 1 && len(rec.of(MessageReceived)) == 4 &&
			len(rec.of(Broadcast)) == 3
	})
	ce := rec.of(ClientEvent)[0]
	if ce.Channel != "presence-room" || ce.Name != "client-typing" || string(ce.Data) != `{"x":1}` || ce.UserID != "8" || ce.SocketID != a.id {
		t.Errorf("client event %+v (data %s)", ce, ce.Data)
	}
	if ce.App == nil || ce.App.ID != "123456" {
		t.Errorf("client event app %+v", ce.App)
	}
	if m := rec.of(CacheMiss); len(m) != 1 || m[0].Channel != "cache-x" || m[0].SocketID != a.id {
		t.Errorf("cache misses %+v", m)
	}
	if o := rec.of(ConnectionOpened); len(o) != 2 {
		t.Errorf("opened %d", len(o))
	}
	// One Broadcast per channel broadcast, with the deliveries counted:
	// member_added 7 to nobody (the joiner is skipped), member_added 8 to
	// b, and the client event to b (not the sender).
	var counts []int
	for _, e := range rec.of(Broadcast) {
		counts = append(counts, e.Count)
	}
	if len(counts) != 3 || counts[0] != 0 || counts[1] != 1 || counts[2] != 1 {
		t.Errorf("broadcast counts %v", counts)
	}
	sub := rec.of(Subscribed)
	if len(sub) != 3 || sub[1].Count != 2 || sub[1].Channel != "presence-room" {
		t.Errorf("subscribed %+v", sub)
	}
	if n := len(rec.of(MessageReceived)); n != 4 {
		t.Errorf("messages received %d, want 4 (3 subscribes, 1 client event)", n)
	}

	_ = a.ws.Close()
	waitFor(t, "close", func() bool { return len(rec.of(ConnectionClosed)) == 1 })
	if c := rec.of(ConnectionClosed)[0]; !c.Established || c.SocketID != a.id {
		t.Errorf("closed %+v", c)
	}
	if u := rec.of(Unsubscribed); len(u) != 2 {
		t.Errorf("unsubscribed %+v", u)
	}
	st := ts.s.Stats().Apps[0]
	if st.Connections != 1 || st.ConnectionsTotal != 2 || st.Subscriptions != 1 || st.Channels != 1 || st.MessagesHandled != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestMessageDeliveredOnlyWhenAsked(t *testing.T) {
	quiet := &recorder{want: Broadcast}
	ts := startServer(t, Options{Observers: []Observer{quiet}})
	subs := make([]*client, 3)
	for i := range subs {
		subs[i] = ts.dial(t, "reverb-key")
		subs[i].subscribe("news", "", "")
		subs[i].subscribed("news")
	}
	ts.trigger(t, "123456", "E", "d", "news")
	for _, c := range subs {
		c.expectContains(`"event":"E"`)
	}
	if len(quiet.of(MessageDelivered)) != 0 {
		t.Fatal("MessageDelivered reported to an observer that did not ask")
	}
	if b := quiet.of(Broadcast); len(b) != 1 || b[0].Count != 3 {
		t.Fatalf("broadcasts %+v", b)
	}

	loud := &recorder{want: MessageDelivered | MessageSent}
	ts2 := startServer(t, Options{Observers: []Observer{loud}})
	c := ts2.dial(t, "reverb-key")
	c.subscribe("news", "", "")
	c.subscribed("news")
	ts2.trigger(t, "123456", "E", "d", "news")
	c.expectContains(`"event":"E"`)
	waitFor(t, "delivery", func() bool { return len(loud.of(MessageDelivered)) == 1 })
	d := loud.of(MessageDelivered)[0]
	if d.SocketID != c.id || d.Channel != "news" || string(d.Data) != `{"event":"E","data":"d","channel":"news"}` {
		t.Errorf("delivery %+v %s", d, d.Data)
	}
	// connection_established and subscription_succeeded are MessageSent.
	if s := loud.of(MessageSent); len(s) != 2 || string(s[1].Data) != `{"event":"pusher_internal:subscription_succeeded","data":"{}","channel":"news"}` {
		t.Errorf("sent %+v", s)
	}
}

func TestFramePayload(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 70000} {
		text := make([]byte, n)
		for i := range text {
			text[i] = byte('a' + i%26)
		}
		if got := framePayload(textFrame(text)); string(got) != string(text) {
			t.Errorf("len %d: payload of %d bytes", n, len(got))
		}
	}
	if framePayload([]byte{0x81}) != nil || framePayload([]byte{0x81, 5, 'a'}) != nil {
		t.Error("truncated frames must give nil")
	}
}

// Reverb refuses a client event to a channel the sender is not in (4009)
// or on an app without client events (4301) by sending the error and
// returning: the message was handled, so MessageReceived fires (and Pulse
// counts it), as for any other handled message.
func TestMessageReceivedForRefusedClientEvents(t *testing.T) {
	members := appA()
	none := appB()
	none.MaxConnections = nil
	none.AcceptClientEventsFrom = "none"
	rec := &recorder{want: MessageReceived | MessageError}
	ts := startServer(t, Options{Apps: []laravelcfg.App{members, none}, Observers: []Observer{rec}})

	c := ts.dial(t, "reverb-key")
	notMember := `{"event":"client-typing","channel":"private-chat","data":{}}`
	c.send(notMember)
	c.expectContains(`4009`)
	d := ts.dial(t, "reverb-key-2")
	disabled := `{"event":"client-typing","channel":"chat","data":{}}`
	d.send(disabled)
	d.expectContains(`4301`)

	waitFor(t, "two MessageReceived", func() bool { return len(rec.of(MessageReceived)) == 2 })
	got := map[string]bool{}
	for _, e := range rec.of(MessageReceived) {
		got[string(e.Data)] = true
	}
	if !got[notMember] || !got[disabled] {
		t.Errorf("MessageReceived for %v", got)
	}
	if n := len(rec.of(MessageError)); n != 0 {
		t.Errorf("%d MessageError events for refusals Reverb sends without an error", n)
	}
}
