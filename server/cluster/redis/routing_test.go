package redis

// The interest-routed mode on real redis-server processes: three whole
// servers on one Redis server (topics are classic channels on each node's
// one subscriber connection) and on a Redis Cluster of three masters
// (topics are shard channels on their masters). Whatever node a client or
// the API talks to, the answers are the classic mode's, while a node only
// receives the broadcasts of channels it has subscribers on.

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"
	goredis "github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/internal/testsvc"
	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
	"github.com/reverb-go/reverb/server"
)

// routedNode is a node of the interest-routed mode, counting the
// broadcasts it receives from Redis.
type routedNode struct {
	*node
	router    *Router
	broadcast atomic.Int64
}

type countingRouter struct {
	*Router
	n *routedNode
}

func (c countingRouter) Start(ctx context.Context, deliver func([]byte)) error {
	return c.Router.Start(ctx, func(m []byte) {
		if strings.Contains(string(m), `"type":"message"`) {
			c.n.broadcast.Add(1)
		}
		deliver(m)
	})
}

func startRouted(t *testing.T, d *redisconn.Deployment, name string, apps []laravelcfg.App, linger time.Duration) *routedNode {
	t.Helper()
	log := &syncBuffer{}
	r, err := NewRouter(Options{Redis: d, Channel: "reverb", Log: log, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		StartWait: 10 * time.Second, Linger: linger})
	if err != nil {
		t.Fatal(err)
	}
	if apps == nil {
		apps = []laravelcfg.App{testApp()}
	}
	n := &routedNode{router: r}
	srv, err := server.New(server.Options{Apps: apps, Transport: countingRouter{r, n}, NodeID: name, HeartbeatInterval: 200 * time.Millisecond,
		GatherTimeout: 3 * time.Second, ErrorLog: log, WebhookHold: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); _ = ln.Close() })
	n.node = &node{srv: srv, tr: r.Transport, addr: ln.Addr().String(), log: log}
	return n
}

func testApp() laravelcfg.App {
	return laravelcfg.App{ID: appID, Key: appKey, Secret: appSecret, PingInterval: 60, ActivityTimeout: 30,
		AllowedOrigins: []string{"*"}, MaxMessageSize: 10000, AcceptClientEventsFrom: "all"}
}

func standaloneDeployment(t *testing.T) *redisconn.Deployment {
	t.Helper()
	r := startRedis(t)
	d, err := redisconn.FromReverbServer(serverFor(r))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func threeMasters(t *testing.T) *redisconn.Deployment {
	t.Helper()
	c := testsvc.StartCluster(t, testsvc.ClusterOptions{Password: "cluster-pw", ReplicasPerMaster: -1})
	return clusterDeployment(t, c)
}

// subscribers is how many nodes Redis has on a topic's channel (shard
// channel on a cluster).
func subscribers(t *testing.T, r *Router, topic string) int {
	t.Helper()
	name := r.nameOf(topic)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	node, err := redisconn.NodeFor(ctx, r.client, name)
	if err != nil {
		t.Fatal(err)
	}
	var counts map[string]int64
	if r.sharded {
		counts, err = node.PubSubShardNumSub(ctx, name).Result()
	} else {
		counts, err = node.PubSubNumSub(ctx, name).Result()
	}
	if err != nil {
		t.Fatal(err)
	}
	return int(counts[name])
}

func channelTopic(channel string) string {
	return "c:" + strconv.Itoa(len(appID)) + ":" + appID + ":" + channel
}

func TestRoutedStandalone(t *testing.T) { routedScenario(t, standaloneDeployment(t)) }

func TestRoutedClusterShards(t *testing.T) { routedScenario(t, threeMasters(t)) }

// routedScenario: broadcasts, toOthers, client events, presence, cache
// channels, the API's queries and terminate across three nodes, and what
// each node receives.
func routedScenario(t *testing.T, d *redisconn.Deployment) {
	n1, n2, n3 := startRouted(t, d, "n1", nil, 300*time.Millisecond), startRouted(t, d, "n2", nil, 300*time.Millisecond), startRouted(t, d, "n3", nil, 300*time.Millisecond)
	if n1.router.sharded {
		// The nodes started: the version check read every master's
		// redis_version and found sharded pub/sub (version.go).
		vs, err := n1.router.masterVersions(t.Context())
		if err != nil || len(vs) != 3 {
			t.Fatalf("masters' versions: %v, %v", vs, err)
		}
		for addr, v := range vs {
			if ok, known := shardedPubSub(v); !ok || !known {
				t.Errorf("master %s: redis_version %q", addr, v)
			}
		}
	}
	c1, c2, c3 := n1.dial(t), n2.dial(t), n3.dial(t)
	c1.subscribe("news", "")
	c2.subscribe("news", "")
	c3.subscribe("other", "")
	if n := subscribers(t, n1.router, channelTopic("news")); n != 2 {
		t.Fatalf("%d nodes subscribed to news, want 2", n)
	}

	// A broadcast through node 3 reaches nodes 1 and 2; node 3 receives
	// nothing of it.
	n3.trigger(t, "news", "e", "d1", "")
	c1.expect(`{"event":"e","data":"d1","channel":"news"}`)
	c2.expect(`{"event":"e","data":"d1","channel":"news"}`)
	// toOthers: the excluded socket lives on node 2.
	n3.trigger(t, "news", "e", "d2", c2.id)
	c1.expect(`{"event":"e","data":"d2","channel":"news"}`)
	c2.nothingPending()
	// A client event from node 1 reaches node 2 only.
	c1.send(`{"event":"client-typing","channel":"news","data":{"who":"1"}}`)
	c2.expect(`{"event":"client-typing","channel":"news","data":{"who":"1"}}`)
	c1.nothingPending()
	// Node 1 receives its own client event back on the channel's Redis
	// channel (it delivers nothing of it): give that a moment to arrive.
	deadline := time.Now().Add(2 * time.Second)
	for n1.broadcast.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := []int64{n1.broadcast.Load(), n2.broadcast.Load(), n3.broadcast.Load()}; got[0] != 3 || got[1] != 3 || got[2] != 0 {
		t.Errorf("broadcasts received by nodes 1, 2, 3: %v, want [3 3 0]", got)
	}

	// Presence: member_added once per user cluster-wide.
	ch := "presence-room"
	p1 := n1.dial(t)
	p1.subscribe(ch, `{"user_id":1,"user_info":{"name":"a"}}`)
	p2 := n2.dial(t)
	p2.subscribe(ch, `{"user_id":2}`)
	p1.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":2}","channel":"presence-room"}`)
	p3 := n3.dial(t)
	p3.send(subscribeFrame(p3.id, ch, `{"user_id":1,"user_info":{"name":"a"}}`))
	p3.expect(`{"event":"pusher_internal:subscription_succeeded","data":"{\"presence\":{\"count\":2,\"ids\":[1,2],\"hash\":{\"1\":{\"name\":\"a\"},\"2\":null}}}","channel":"presence-room"}`)
	p1.nothingPending()
	p2.nothingPending()

	// Cache channels: the last event reaches a subscriber on a node that
	// had none.
	c1.subscribe("cache-x", "")
	c1.expect(`{"event":"pusher:cache_miss","channel":"cache-x"}`)
	n2.trigger(t, "cache-x", "e", "cached", "")
	c1.expect(`{"event":"e","data":"cached","channel":"cache-x"}`)
	c3.subscribe("cache-x", "")
	c3.expect(`{"event":"e","data":"cached","channel":"cache-x"}`)

	// The API's queries give the whole cluster's answer on every node.
	for _, n := range []*routedNode{n1, n2, n3} {
		var conns struct {
			Connections int `json:"connections"`
		}
		n.getJSON(t, "/apps/"+appID+"/connections", &conns)
		if conns.Connections != 6 {
			t.Errorf("%s /connections = %d, want 6", n.addr, conns.Connections)
		}
		var chans struct {
			Channels map[string]map[string]any `json:"channels"`
		}
		n.getJSON(t, "/apps/"+appID+"/channels?info=subscription_count", &chans)
		if got := chans.Channels["news"]["subscription_count"]; got != float64(2) {
			t.Errorf("%s /channels = %v", n.addr, chans.Channels)
		}
		var info map[string]any
		n.getJSON(t, "/apps/"+appID+"/channels/"+ch+"?info=user_count,subscription_count", &info)
		if info["user_count"] != float64(2) || info["occupied"] != true {
			t.Errorf("%s %s info = %v", n.addr, ch, info)
		}
		n.getJSON(t, "/apps/"+appID+"/channels/news?info=subscription_count", &info)
		if info["subscription_count"] != float64(2) {
			t.Errorf("%s news info = %v", n.addr, info)
		}
		var users struct {
			Users []struct {
				ID any `json:"id"`
			} `json:"users"`
		}
		n.getJSON(t, "/apps/"+appID+"/channels/"+ch+"/users", &users)
		if len(users.Users) != 2 {
			t.Errorf("%s users = %+v", n.addr, users.Users)
		}
	}

	// Terminate user 2 through node 3: node 2 closes its socket, the
	// others are told once.
	if code, body := n3.api(t, "POST", "/apps/"+appID+"/users/2/terminate_connections", "{}"); code != 200 {
		t.Fatalf("terminate: %d %s", code, body)
	}
	expectClose(t, p2, 4009)
	p1.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":2}","channel":"presence-room"}`)
	p3.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":2}","channel":"presence-room"}`)

	// Node 2 has no subscriber of news any more: after the linger it
	// unsubscribes, and receives nothing more of it.
	c2.send(`{"event":"pusher:unsubscribe","data":{"channel":"news"}}`)
	waitFor(t, "node 2 unsubscribed from news", func() bool { return subscribers(t, n1.router, channelTopic("news")) == 1 })
	before := n2.broadcast.Load()
	n3.trigger(t, "news", "e", "d3", "")
	c1.expect(`{"event":"e","data":"d3","channel":"news"}`)
	c1.nothingPending()
	if n2.broadcast.Load() != before {
		t.Errorf("node 2 still receives news")
	}
}

func subscribeFrame(socketID, channel, channelData string) string {
	msg := map[string]any{"channel": channel}
	if strings.HasPrefix(channel, "private-") || strings.HasPrefix(channel, "presence-") {
		sig := socketID + ":" + channel
		if channelData != "" {
			sig += ":" + channelData
			msg["channel_data"] = channelData
		}
		msg["auth"] = appKey + ":" + sign(sig)
	}
	b, _ := json.Marshal(map[string]any{"event": "pusher:subscribe", "data": msg})
	return string(b)
}

func expectClose(t *testing.T, c *wsClient, code int) {
	t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ws.ReadMessage()
		if err != nil {
			var ce *gws.CloseError
			if !asClose(err, &ce) || ce.Code != code {
				t.Fatalf("closed with %v, want %d", err, code)
			}
			return
		}
	}
}

// A refused subscription takes no interest: a bad signature, or a full
// presence channel whose members are on another node, leaves this node
// without the channel's Redis subscription, while the channel itself stays
// (empty) until the next cleanup, as in Reverb.
func TestRoutedRefusedSubscribeTakesNoInterest(t *testing.T) {
	d := standaloneDeployment(t)
	app := testApp()
	app.Limits.PresenceMembers = 1
	apps := []laravelcfg.App{app}
	n1 := startRouted(t, d, "n1", apps, 300*time.Millisecond)
	n2 := startRouted(t, d, "n2", apps, 300*time.Millisecond)
	c := n1.dial(t)

	// A private channel with a bad signature.
	c.send(`{"event":"pusher:subscribe","data":{"channel":"private-secret","auth":"` + appKey + `:0000"}}`)
	c.expectContains(`Connection is unauthorized`)
	// A good subscription after it: held until its own topic is live, so
	// a subscription of the refused one, sent first, would show by now.
	c.subscribe("news", "")
	if n := subscribers(t, n1.router, channelTopic("news")); n != 1 {
		t.Fatalf("%d nodes subscribed to news, want 1", n)
	}
	if w := wants(n1.router, channelTopic("private-secret")); w != 0 {
		t.Errorf("node 1 wants private-secret %d time(s) after a refused subscribe", w)
	}
	if n := subscribers(t, n1.router, channelTopic("private-secret")); n != 0 {
		t.Errorf("%d nodes subscribed to private-secret after a refused subscribe", n)
	}

	// A presence channel full with a member on node 2: node 1's joiner is
	// refused, and node 1 lets go of the topic its join took.
	room := "presence-room"
	m := n2.dial(t)
	m.subscribe(room, `{"user_id":1}`)
	c.send(subscribeFrame(c.id, room, `{"user_id":2}`))
	c.expectContains(`4100`)
	if w := wants(n1.router, channelTopic(room)); w != 0 {
		t.Errorf("node 1 wants %s %d time(s) after a refused join", room, w)
	}
	waitFor(t, "node 1 unsubscribed from "+room, func() bool { return subscribers(t, n2.router, channelTopic(room)) == 1 })
	// Node 1's next joiner is admitted once the member left, and gets the
	// channel's events.
	m.send(`{"event":"pusher:unsubscribe","data":{"channel":"` + room + `"}}`)
	waitFor(t, "the member left", func() bool {
		var users struct {
			Users []any `json:"users"`
		}
		n1.getJSON(t, "/apps/"+appID+"/channels/"+room+"/users", &users)
		return len(users.Users) == 0
	})
	c.subscribe(room, `{"user_id":2}`)
	n2.trigger(t, room, "e", "d", "")
	c.expect(`{"event":"e","data":"d","channel":"presence-room"}`)
}

// wants is the Want count of topic at r.
func wants(r *Router, topic string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if tp := r.topics[topic]; tp != nil {
		return tp.wants
	}
	return 0
}

func TestRoutedGainingInterestStandalone(t *testing.T) {
	gainingInterest(t, standaloneDeployment(t))
}

func TestRoutedGainingInterestCluster(t *testing.T) { gainingInterest(t, threeMasters(t)) }

// gainingInterest: events flow on a channel from the API of node 1 while
// a client of node 2 (which had no subscriber of it) subscribes; every
// event published after its subscription_succeeded reaches it, in order.
// Repeated on fresh channels, so the subscription is new to Redis each
// time.
func gainingInterest(t *testing.T, d *redisconn.Deployment) {
	n1, n2 := startRouted(t, d, "n1", nil, 0), startRouted(t, d, "n2", nil, 0)
	for round := 0; round < 5; round++ {
		channel := "flow-" + strconv.Itoa(round)
		watch := n1.dial(t)
		watch.subscribe(channel, "")
		var published atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // owned by this round: stopped below
			defer wg.Done()
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Counted when the request starts: an event counted after
				// the acknowledgement was published after it.
				published.Store(int64(i))
				body, _ := json.Marshal(map[string]any{"name": "seq", "channel": channel, "data": strconv.Itoa(i)})
				if code, _ := n1.apiQuiet("POST", "/apps/"+appID+"/events", string(body)); code != 200 {
					return
				}
			}
		}()
		time.Sleep(20 * time.Millisecond)
		c := n2.dial(t)
		c.send(subscribeFrame(c.id, channel, ""))
		c.expect(`{"event":"pusher_internal:subscription_succeeded","data":"{}","channel":"` + channel + `"}`)
		acked := published.Load()
		time.Sleep(100 * time.Millisecond)
		close(stop)
		wg.Wait()
		last := published.Load()
		next := int64(-1)
		for next <= last {
			var ev struct{ Data string }
			_ = json.Unmarshal([]byte(c.read()), &ev)
			seq, _ := strconv.ParseInt(ev.Data, 10, 64)
			if next < 0 {
				if seq > acked+1 {
					t.Fatalf("round %d: first event %d, but %d was published after the acknowledgement", round, seq, acked+1)
				}
				next = seq
			}
			if seq != next {
				t.Fatalf("round %d: event %d, want %d (acknowledged at %d)", round, seq, next, acked)
			}
			next++
		}
		t.Logf("round %d: acknowledged after event %d; %d events published, none missed after it", round, acked, last)
	}
}

// apiQuiet is api without the test's Fatal (for helper goroutines).
func (n *node) apiQuiet(method, path, body string) (int, string) {
	req, err := signedRequest(method, "http://"+n.addr, path, body)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRoutedWebhooksExactlyOnceStandalone(t *testing.T) {
	webhooksOnce(t, standaloneDeployment(t))
}

func TestRoutedWebhooksExactlyOnceCluster(t *testing.T) { webhooksOnce(t, threeMasters(t)) }

// webhooksOnce: three nodes with the same webhook; every decision is
// reported once, whichever node's socket caused it.
func webhooksOnce(t *testing.T, d *redisconn.Deployment) {
	var mu sync.Mutex
	var names []string
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Events []map[string]any `json:"events"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		mu.Lock()
		for _, e := range body.Events {
			names = append(names, e["name"].(string)+" "+strings.TrimSpace(e["channel"].(string)))
		}
		mu.Unlock()
	}))
	defer hooks.Close()
	app := testApp()
	app.Webhooks = []laravelcfg.Webhook{{URL: hooks.URL, EventTypes: []string{"channel_occupied", "channel_vacated", "member_added", "member_removed"}}}
	apps := []laravelcfg.App{app}
	nodes := []*routedNode{startRouted(t, d, "n1", apps, 0), startRouted(t, d, "n2", apps, 0), startRouted(t, d, "n3", apps, 0)}
	var cs []*wsClient
	for _, n := range nodes {
		c := n.dial(t)
		c.subscribe("news", "")
		c.subscribe("presence-p", `{"user_id":42}`)
		cs = append(cs, c)
	}
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := append([]string(nil), names...)
		sort.Strings(out)
		return out
	}
	waitFor(t, "occupied and member_added", func() bool { return len(got()) >= 3 })
	for _, c := range cs {
		_ = c.ws.Close()
	}
	waitFor(t, "vacated and member_removed", func() bool { return len(got()) >= 6 })
	time.Sleep(500 * time.Millisecond) // a hold and a batch: nothing else comes
	want := "channel_occupied news|channel_occupied presence-p|channel_vacated news|channel_vacated presence-p|member_added presence-p|member_removed presence-p"
	if g := strings.Join(got(), "|"); g != want {
		t.Errorf("webhooks:\n got %s\nwant %s", g, want)
	}
}

// Redis restarted under a routed cluster: local delivery goes on, the
// topics are subscribed again, what was published meanwhile reaches the
// other node, and cross-node delivery resumes.
func TestRoutedSurvivesRedisRestart(t *testing.T) {
	r := startRedis(t)
	d, err := redisconn.FromReverbServer(serverFor(r))
	if err != nil {
		t.Fatal(err)
	}
	na, nb := startRouted(t, d, "a", nil, 0), startRouted(t, d, "b", nil, 0)
	a, b := na.dial(t), nb.dial(t)
	a.subscribe("news", "")
	b.subscribe("news", "")
	na.trigger(t, "news", "e", "before", "")
	a.expect(`{"event":"e","data":"before","channel":"news"}`)
	b.expect(`{"event":"e","data":"before","channel":"news"}`)

	r.Stop()
	waitFor(t, "node a sees Redis gone", func() bool {
		na.tr.mu.Lock()
		defer na.tr.mu.Unlock()
		return !na.tr.subUp
	})
	na.trigger(t, "news", "e", "during", "")
	a.expect(`{"event":"e","data":"during","channel":"news"}`)
	// A subscriber new to the node is acknowledged after LiveWait.
	a2 := na.dial(t)
	a2.send(subscribeFrame(a2.id, "later", ""))
	a2.expect(`{"event":"pusher_internal:subscription_succeeded","data":"{}","channel":"later"}`)

	r.Start()
	b.expect(`{"event":"e","data":"during","channel":"news"}`)
	waitFor(t, "both nodes reconnected", func() bool {
		for _, n := range []*routedNode{na, nb} {
			n.tr.mu.Lock()
			ok := n.tr.subUp && len(n.tr.queue) == 0 && !n.tr.pubBroken && len(n.tr.waiting) == 0
			n.tr.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
	nb.trigger(t, "news", "e", "after", "")
	a.expect(`{"event":"e","data":"after","channel":"news"}`)
	b.expect(`{"event":"e","data":"after","channel":"news"}`)
	a.nothingPending() // "during" was not delivered twice
	nb.trigger(t, "later", "e", "later", "")
	a2.expect(`{"event":"e","data":"later","channel":"later"}`)
}

// startHARouted is startHANode in the interest-routed mode: the node wants
// topic and publishes on it.
func startHARouted(t *testing.T, d *redisconn.Deployment, name, topic string) *haNode {
	t.Helper()
	n := &haNode{name: name, log: &syncBuffer{}, got: map[string][]int{}, at: map[string]time.Time{}, topic: topic}
	r, err := NewRouter(Options{Redis: d, Channel: "reverb", Log: n.log, StartWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n.router, n.tr = r, r.Transport
	t.Cleanup(func() { _ = r.Close() })
	r.Want(topic)
	if err := r.Start(context.Background(), n.deliver); err != nil {
		t.Fatal(err)
	}
	waitFor(t, name+" subscribed to "+topic, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.liveNameLocked(r.nameOf(topic))
	})
	return n
}

// topicElsewhere is a topic whose shard channel lives on another master
// than the control channel: killing it leaves the control stream alone.
func topicElsewhere(t *testing.T, c *testsvc.ClusterSet, r *Router) string {
	t.Helper()
	for i := 0; ; i++ {
		topic := channelTopic("failover-" + strconv.Itoa(i))
		if c.MasterOf(r.nameOf(topic)) != c.MasterOf("reverb") {
			return topic
		}
	}
}

// A master serving a topic's shard channels is killed while two nodes
// exchange messages on it: the shard links reconnect to the promoted
// replica, and every message published after the failure arrives once.
func TestRoutedClusterMasterKilledMidTraffic(t *testing.T) {
	c := testsvc.StartCluster(t, testsvc.ClusterOptions{Password: "cluster-pw"})
	d := clusterDeployment(t, c)
	probe, _ := NewRouter(Options{Redis: d, Channel: "reverb"})
	topic := topicElsewhere(t, c, probe)
	_ = probe.Close()
	a, b := startHARouted(t, d, "a", topic), startHARouted(t, d, "b", topic)
	t.Cleanup(func() {
		if t.Failed() {
			name := a.tr.nameOf(topic)
			t.Logf("slot master now %s", c.MasterOf(name))
			for _, addr := range c.Addrs() {
				cl := goredis.NewClient(&goredis.Options{Addr: addr, Password: "cluster-pw", Protocol: 2})
				n, err := cl.PubSubShardNumSub(context.Background(), name).Result()
				role, _ := cl.Do(context.Background(), "ROLE").Slice()
				t.Logf("%s: shardnumsub %v %v role %v", addr, n, err, role)
				cl.Close()
			}
			for _, n := range []*haNode{a, b} {
				n.tr.mu.Lock()
				tp := n.tr.byName[n.tr.nameOf(topic)]
				t.Logf("%s: topic %+v link %+v queue %d broken %v subUp %v flushReady %v got %v\n%s", n.name, *tp, tp.link, len(n.tr.queue), n.tr.pubBroken, n.tr.subUp, n.tr.flushReady, n.got, n.log)
				n.tr.mu.Unlock()
			}
		}
	})
	gap, _ := runFailover(t, a, b, 0, func() { c.KillMasterOf(a.router.nameOf(topic)) })
	t.Logf("Cluster, interest routing, the topic's master killed: messages stopped crossing for %v", gap.Round(10*time.Millisecond))
}

// CLUSTER FAILOVER of a topic's master: the links move to the new master
// (the old one stays up as a replica and would keep the subscriptions).
func TestRoutedClusterPlannedFailover(t *testing.T) {
	c := testsvc.StartCluster(t, testsvc.ClusterOptions{Password: "cluster-pw"})
	d := clusterDeployment(t, c)
	probe, _ := NewRouter(Options{Redis: d, Channel: "reverb"})
	topic := topicElsewhere(t, c, probe)
	_ = probe.Close()
	a, b := startHARouted(t, d, "a", topic), startHARouted(t, d, "b", topic)
	name := a.router.nameOf(topic)
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range []*haNode{a, b} {
				t.Logf("%s: got %v\n%s", n.name, n.got, n.log)
			}
		}
	})
	gap, lost := runFailover(t, a, b, plannedFailoverLoss, func() {
		old := c.FailoverMasterOf(name)
		c.WaitNewMaster(name, old, 30*time.Second)
		waitFor(t, "both links on the new master", func() bool {
			for _, n := range []*haNode{a, b} {
				n.tr.mu.Lock()
				tp := n.tr.byName[name]
				on := tp != nil && tp.link != nil && tp.link.addr == c.MasterOf(name) && tp.live()
				n.tr.mu.Unlock()
				if !on {
					return false
				}
			}
			return true
		})
	})
	t.Logf("Cluster, interest routing, CLUSTER FAILOVER: longest interruption %v, %d messages lost", gap.Round(10*time.Millisecond), lost)
}

// CLUSTER FAILOVER of the control channel's master in the interest
// routing: the control subscription moves to the new master as in the
// classic routing (the old master, now a replica, would still deliver but
// PUBLISH's reply would no longer count the nodes), and the topics stay.
func TestRoutedClusterControlFailover(t *testing.T) {
	c := testsvc.StartCluster(t, testsvc.ClusterOptions{Password: "cluster-pw"})
	d := clusterDeployment(t, c)
	probe, _ := NewRouter(Options{Redis: d, Channel: "reverb"})
	topic := topicElsewhere(t, c, probe)
	_ = probe.Close()
	a, b := startHARouted(t, d, "a", topic), startHARouted(t, d, "b", topic)
	gap, lost := runFailover(t, a, b, plannedFailoverLoss, func() {
		old := c.FailoverMasterOf("reverb")
		now := c.WaitNewMaster("reverb", old, 30*time.Second)
		waitFor(t, "both control subscriptions on the new master", func() bool {
			return a.tr.subscribedOn() == now && b.tr.subscribedOn() == now
		})
	})
	t.Logf("Cluster, interest routing, CLUSTER FAILOVER of the control channel's master: longest interruption %v, %d messages lost", gap.Round(10*time.Millisecond), lost)
}

// The partitions' slots are Redis Cluster's: CRC-16/XMODEM of the hash tag.
func TestPartitionSlots(t *testing.T) {
	if got := crc16([]byte("123456789")); got != 0x31c3 {
		t.Fatalf("crc16 check value %#x, want 0x31c3", got)
	}
	r := &Transport{opts: Options{Channel: "reverb"}}
	name, p := r.nameAndPart("c:6:123456:news")
	if tag, q := partOfName(name); q != p || tag != strconv.Itoa(p) || !strings.HasPrefix(name, "reverb:{"+tag+"}:") {
		t.Fatalf("%s: partition %d, read back %q %d", name, p, tag, q)
	}
}

// On Redis Cluster in the interest routing, one node's shard subscriber
// connection is closed while the master stays up (CLIENT KILL): the node
// subscribes its channels again at once, so it misses a round trip of the
// other node's messages, not a backoff's worth.
func TestRoutedClusterShardLinkKilledResubscribesAtOnce(t *testing.T) {
	c := testsvc.StartCluster(t, testsvc.ClusterOptions{Password: "cluster-pw", ReplicasPerMaster: -1})
	d := clusterDeployment(t, c)
	probe, _ := NewRouter(Options{Redis: d, Channel: "reverb"})
	topic := topicElsewhere(t, c, probe)
	_ = probe.Close()
	a := startHARouted(t, d, "a", topic)
	cl := goredis.NewClient(&goredis.Options{Addr: c.MasterOf(a.router.nameOf(topic)), Password: "cluster-pw", Protocol: 2})
	defer cl.Close()
	aIDs := pubsubClients(t, cl) // a's shard link, alone on that master so far
	b := startHARouted(t, d, "b", topic)
	pb := b.publishEvery(5 * time.Millisecond)
	waitFor(t, "traffic flowing", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.got["b"]) > 20
	})
	kill := time.Now()
	for _, id := range aIDs {
		if err := cl.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err(); err != nil {
			t.Fatal(err)
		}
	}
	first := pb.firstAfter(kill)
	waitFor(t, "a's shard link subscribed again", func() bool {
		a.tr.mu.Lock()
		defer a.tr.mu.Unlock()
		return a.tr.liveNameLocked(a.tr.nameOf(topic)) && strings.Contains(a.log.String(), "Disconnected from Redis (shard subscriber")
	})
	time.Sleep(200 * time.Millisecond)
	last := pb.halt()
	lost, _ := checkStream(t, a, b, first, last, 1000)
	gap := interruption(a, "b", first, last, kill)
	if lost > 6 || gap > 200*time.Millisecond {
		t.Errorf("a missed %d of b's messages (one every 5ms) and went %v without one after its shard link was killed; want a prompt resubscription\n%s", lost, gap, a.log.String())
	}
}
