package server

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/cluster"
	"github.com/reverb-go/reverb/server/cluster/phpwire"
	"github.com/reverb-go/reverb/server/phpjson"
)

// phpPeer is a PHP Reverb node on the bus, as far as metrics go: it sends
// Reverb's PendingMetric requests and collects the answers published
// under their key.
type phpPeer struct {
	tr      cluster.Transport
	mu      sync.Mutex
	answers map[string][]json.RawMessage
	// reply, when set, answers the other nodes' metrics requests as a PHP
	// node holding its own sockets would (nil: no answer).
	reply func(typ phpwire.MetricType, opts php.Value) string
}

func newPHPPeer(t *testing.T, node cluster.Transport, reply func(phpwire.MetricType, php.Value) string) *phpPeer {
	p := &phpPeer{tr: node, answers: map[string][]json.RawMessage{}, reply: reply}
	if err := node.Start(context.Background(), func(b []byte) {
		var m struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(b, &m) != nil {
			return
		}
		if m.Type == "metrics" && p.reply != nil {
			var str string
			_ = json.Unmarshal(m.Payload, &str)
			pm, err := phpwire.DecodePendingMetric(str)
			if err != nil {
				t.Errorf("PHP node cannot read %s: %v", b, err)
				return
			}
			if r := p.reply(pm.Type, pm.Options); r != "" {
				ans := []byte(`{"type":`)
				ans = phpjson.AppendString(ans, pm.Key)
				ans = append(ans, `,"payload":`...)
				ans = append(ans, r...)
				ans = append(ans, '}')
				go func() { _, _ = p.tr.Publish(context.Background(), ans) }()
			}
			return
		}
		if len(m.Type) != 10 {
			return
		}
		p.mu.Lock()
		p.answers[m.Type] = append(p.answers[m.Type], m.Payload)
		p.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Close() })
	return p
}

// ask publishes a PHP node's metrics request and returns the answers of
// the other nodes (want of them).
func (p *phpPeer) ask(t *testing.T, ts *testServer, key string, typ phpwire.MetricType, opts map[string]string, want int) []json.RawMessage {
	t.Helper()
	o := php.NewArray()
	for k, v := range opts {
		o.Set(php.StringKey(k), php.StringValue(v))
	}
	req := []byte(`{"type":"metrics","payload":`)
	req = phpjson.AppendString(req, phpwire.EncodePendingMetric(phpwire.PendingMetric{Key: key, AppID: "123456",
		Application: ts.app("123456"), Type: typ, Options: php.ArrayValue(o)}))
	req = append(req, '}')
	if _, err := p.tr.Publish(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		got := p.answers[key]
		p.mu.Unlock()
		if len(got) >= want {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%d answers to %s, want %d", len(p.answers[key]), key, want)
	return nil
}

// A PHP Reverb node sums the user_count every node answers (Reverb's
// MetricsHandler::mergeChannel): each node of ours answers with the users
// of its own sockets, as a PHP node does, not with the cluster-wide count
// it keeps, which the PHP node would add up once per node.
func TestPHPNodeUserCountIsPerNode(t *testing.T) {
	bus := cluster.NewBus()
	na := startServer(t, Options{Transport: bus.Node(), NodeID: "node-a"})
	nb := startServer(t, Options{Transport: bus.Node(), NodeID: "node-b"})
	peer := newPHPPeer(t, bus.Node(), nil)
	ch := "presence-room"
	a := na.dial(t, "reverb-key")
	a.subscribe(ch, `{"user_id":1}`, "reverb-secret")
	a.expectContains(`\"count\":1`)
	b := nb.dial(t, "reverb-key")
	b.subscribe(ch, `{"user_id":2}`, "reverb-secret")
	b.expectContains(`\"count\":2`)
	b2 := nb.dial(t, "reverb-key")
	b2.subscribe(ch, `{"user_id":2}`, "reverb-secret")
	b2.expectContains(`\"count\":2`)

	sum := func(answers []json.RawMessage, pick func(json.RawMessage) json.RawMessage) int {
		n := 0
		for _, r := range answers {
			var info struct {
				UserCount int `json:"user_count"`
			}
			if err := json.Unmarshal(pick(r), &info); err != nil {
				t.Fatalf("answer %s: %v", r, err)
			}
			n += info.UserCount
		}
		return n
	}
	channels := peer.ask(t, na, "chanskey01", phpwire.MetricChannels, map[string]string{"info": "user_count"}, 2)
	if n := sum(channels, func(r json.RawMessage) json.RawMessage {
		var m map[string]json.RawMessage
		_ = json.Unmarshal(r, &m)
		return m[ch]
	}); n != 2 {
		t.Fatalf("channels answers %s add up to %d users, want 2", channels, n)
	}
	one := peer.ask(t, na, "chankey001", phpwire.MetricChannel, map[string]string{"channel": ch, "info": "user_count"}, 2)
	if n := sum(one, func(r json.RawMessage) json.RawMessage { return r }); n != 2 {
		t.Fatalf("channel answers %s add up to %d users, want 2", one, n)
	}
}

// A Go node's presence answers count the members a PHP Reverb node holds
// too (a migration runs both): user_count adds the PHP node's users to the
// cluster-wide ones, /users lists them, and a presence channel only the
// PHP node has exists with its users.
func TestPHPNodeMembersInGoAnswers(t *testing.T) {
	bus := cluster.NewBus()
	na := startServer(t, Options{Transport: bus.Node(), NodeID: "node-a"})
	nb := startServer(t, Options{Transport: bus.Node(), NodeID: "node-b"})
	newPHPPeer(t, bus.Node(), func(typ phpwire.MetricType, opts php.Value) string {
		switch typ {
		case phpwire.MetricChannels:
			return `{"presence-room":{"occupied":true,"user_count":1},"presence-php":{"occupied":true,"user_count":1}}`
		case phpwire.MetricChannel:
			return `{"occupied":true,"user_count":1}`
		case phpwire.MetricChannelUsers:
			return `[{"id":"p1"}]`
		case phpwire.MetricConnections:
			return `{"111.222":[]}`
		}
		return ""
	})
	ch := "presence-room"
	a := na.dial(t, "reverb-key")
	a.subscribe(ch, `{"user_id":"g1"}`, "reverb-secret")
	a.expectContains(`\"count\":1`)
	b := nb.dial(t, "reverb-key")
	b.subscribe(ch, `{"user_id":"g2"}`, "reverb-secret")
	b.expectContains(`\"count\":2`)
	time.Sleep(50 * time.Millisecond) // heartbeats: the Go nodes know each other

	ctx := context.Background()
	for _, n := range []*testServer{na, nb} {
		info, err := backend{n.s}.Channel(ctx, n.app("123456"), []string{ch, "presence-php"})
		if err != nil || info[0].UserCount != 3 || info[1].UserCount != 1 || !info[1].Exists {
			t.Fatalf("info on %s: %+v %v", n.s.nodeID, info, err)
		}
		list, _ := backend{n.s}.Channels(ctx, n.app("123456"), "presence-")
		for _, ci := range list {
			if want := map[string]int{ch: 3, "presence-php": 1}[ci.Name]; ci.UserCount != want {
				t.Fatalf("channels on %s: %+v", n.s.nodeID, list)
			}
		}
		ids, exists, _ := backend{n.s}.Users(ctx, n.app("123456"), ch)
		if !exists || len(ids) != 3 {
			t.Fatalf("users on %s: %v", n.s.nodeID, ids)
		}
		ids, exists, _ = backend{n.s}.Users(ctx, n.app("123456"), "presence-php")
		if !exists || len(ids) != 1 || ids[0].ToString() != "p1" {
			t.Fatalf("users of the PHP node's channel on %s: %v %v", n.s.nodeID, ids, exists)
		}
	}
}
