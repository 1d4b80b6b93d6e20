package redis

// Whole servers in one test process, each with its own Redis transport on
// one real redis-server: what a client of any node sees (§15 case 48 and
// the README's cluster decisions).

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server"
)

const (
	appID     = "123456"
	appKey    = "reverb-key"
	appSecret = "reverb-secret"
)

type node struct {
	srv  *server.Server
	tr   *Transport
	addr string
	log  *syncBuffer
}

func startNode(t *testing.T, r *redisServer, name string) *node {
	t.Helper()
	log := &syncBuffer{}
	tr, err := New(Options{Server: serverFor(r), Channel: "reverb", Log: log, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	apps := []laravelcfg.App{{ID: appID, Key: appKey, Secret: appSecret, PingInterval: 60, ActivityTimeout: 30,
		AllowedOrigins: []string{"*"}, MaxMessageSize: 10000, AcceptClientEventsFrom: "all"}}
	srv, err := server.New(server.Options{Apps: apps, Transport: tr, NodeID: name, HeartbeatInterval: 200 * time.Millisecond,
		GatherTimeout: 2 * time.Second, ErrorLog: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); _ = ln.Close() })
	return &node{srv: srv, tr: tr, addr: ln.Addr().String(), log: log}
}

// ---- a small Pusher client ----

type wsClient struct {
	t  *testing.T
	ws *gws.Conn
	id string
}

func (n *node) dial(t *testing.T) *wsClient {
	t.Helper()
	ws, _, err := gws.DefaultDialer.Dial("ws://"+n.addr+"/app/"+appKey+"?protocol=7", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &wsClient{t: t, ws: ws}
	var est struct {
		Event string `json:"event"`
		Data  string `json:"data"`
	}
	if err := json.Unmarshal([]byte(c.read()), &est); err != nil || est.Event != "pusher:connection_established" {
		t.Fatalf("first frame: %+v %v", est, err)
	}
	var d struct {
		SocketID string `json:"socket_id"`
	}
	_ = json.Unmarshal([]byte(est.Data), &d)
	c.id = d.SocketID
	return c
}

func (c *wsClient) read() string {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, m, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return string(m)
}

func (c *wsClient) send(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(gws.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads frames until one equals want; pings and unrelated
// internal frames in between are an error except for those skipped.
func (c *wsClient) expect(want string) {
	c.t.Helper()
	if got := c.read(); got != want {
		c.t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func (c *wsClient) expectContains(part string) string {
	c.t.Helper()
	got := c.read()
	if !strings.Contains(got, part) {
		c.t.Fatalf("got %s\nwant it to contain %s", got, part)
	}
	return got
}

// nothingPending proves no frame is queued: a ping's pong comes next.
func (c *wsClient) nothingPending() {
	c.t.Helper()
	c.send(`{"event":"pusher:ping"}`)
	c.expect(`{"event":"pusher:pong"}`)
}

func (c *wsClient) subscribe(channel, channelData string) {
	c.t.Helper()
	msg := map[string]any{"channel": channel}
	if strings.HasPrefix(channel, "private-") || strings.HasPrefix(channel, "presence-") {
		sig := c.id + ":" + channel
		if channelData != "" {
			sig += ":" + channelData
			msg["channel_data"] = channelData
		}
		msg["auth"] = appKey + ":" + sign(sig)
	}
	b, _ := json.Marshal(map[string]any{"event": "pusher:subscribe", "data": msg})
	c.send(string(b))
	c.expectContains("pusher_internal:subscription_succeeded")
}

// ---- the signed HTTP API ----

func (n *node) api(t *testing.T, method, path string, body string) (int, string) {
	t.Helper()
	req, err := signedRequest(method, "http://"+n.addr, path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// signedRequest is a request of the HTTP API signed with the app's secret.
func signedRequest(method, base, path, body string) (*http.Request, error) {
	q := url.Values{}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		extra, _ := url.ParseQuery(path[i+1:])
		for k, v := range extra {
			q[k] = v
		}
		path = path[:i]
	}
	q.Set("auth_key", appKey)
	q.Set("auth_timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	q.Set("auth_version", "1.0")
	if body != "" {
		sum := md5.Sum([]byte(body))
		q.Set("body_md5", hex.EncodeToString(sum[:]))
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+q.Get(k))
	}
	q.Set("auth_signature", sign(method+"\n"+path+"\n"+strings.Join(parts, "&")))
	req, err := http.NewRequest(method, base+path+"?"+q.Encode(), strings.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, err
}

// sign is the hex HMAC-SHA256 of s with the app's secret.
func sign(s string) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(s))
	return hex.EncodeToString(mac.Sum(nil))
}

func (n *node) trigger(t *testing.T, channel, event, data, socketID string) {
	t.Helper()
	ev := map[string]any{"name": event, "channels": []string{channel}, "data": data}
	if socketID != "" {
		ev["socket_id"] = socketID
	}
	b, _ := json.Marshal(ev)
	if code, body := n.api(t, "POST", "/apps/"+appID+"/events", string(b)); code != 200 {
		t.Fatalf("POST events: %d %s", code, body)
	}
}

func (n *node) getJSON(t *testing.T, path string, into any) {
	t.Helper()
	code, body := n.api(t, "GET", path, "")
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), into); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// ---- tests ----

// An event posted to one node reaches the subscribers of every node;
// toOthers (socket_id) excludes a socket of another node; /connections
// and /channels on any node count the whole cluster.
func TestThreeNodesBroadcast(t *testing.T) {
	r := startRedis(t)
	nodes := []*node{startNode(t, r, "n1"), startNode(t, r, "n2"), startNode(t, r, "n3")}
	var clients []*wsClient
	for _, n := range nodes {
		c := n.dial(t)
		c.subscribe("test-channel", "")
		clients = append(clients, c)
	}
	nodes[0].trigger(t, "test-channel", "e", "d1", "")
	for _, c := range clients {
		c.expect(`{"event":"e","data":"d1","channel":"test-channel"}`)
	}
	// toOthers: the excluded socket lives on node 3.
	nodes[0].trigger(t, "test-channel", "e", "d2", clients[2].id)
	clients[0].expect(`{"event":"e","data":"d2","channel":"test-channel"}`)
	clients[1].expect(`{"event":"e","data":"d2","channel":"test-channel"}`)
	clients[2].nothingPending()

	// A client event (whisper) from node 2 reaches nodes 1 and 3, not
	// its sender.
	clients[1].send(`{"event":"client-typing","channel":"test-channel","data":{"who":"b"}}`)
	clients[0].expect(`{"event":"client-typing","channel":"test-channel","data":{"who":"b"}}`)
	clients[2].expect(`{"event":"client-typing","channel":"test-channel","data":{"who":"b"}}`)
	clients[1].nothingPending()

	for _, n := range nodes {
		var conns struct {
			Connections int `json:"connections"`
		}
		n.getJSON(t, "/apps/"+appID+"/connections", &conns)
		if conns.Connections != 3 {
			t.Errorf("%s /connections = %d, want 3", n.addr, conns.Connections)
		}
		var chans struct {
			Channels map[string]map[string]any `json:"channels"`
		}
		n.getJSON(t, "/apps/"+appID+"/channels?info=subscription_count", &chans)
		if got := chans.Channels["test-channel"]["subscription_count"]; got != float64(3) {
			t.Errorf("%s /channels = %v", n.addr, chans.Channels)
		}
	}
}

// Presence: member_added once per user for the cluster, users and counts
// cluster-wide, terminate_connections closes the user's sockets on other
// nodes, and a node that stops answering is dropped after missed
// heartbeats (its members leave).
func TestPresenceAcrossNodes(t *testing.T) {
	r := startRedis(t)
	na, nb, nc := startNode(t, r, "na"), startNode(t, r, "nb"), startNode(t, r, "nc")
	ch := "presence-room"
	a := na.dial(t)
	a.subscribe(ch, `{"user_id":1,"user_info":{"name":"a"}}`)
	b := nb.dial(t)
	b.subscribe(ch, `{"user_id":2}`)
	a.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":2}","channel":"presence-room"}`)

	// User 1 again, on node b: nobody is told.
	b2 := nb.dial(t)
	b2.subscribe(ch, `{"user_id":1,"user_info":{"name":"a"}}`)
	a.nothingPending()
	b.nothingPending()

	for _, n := range []*node{na, nb, nc} {
		var users struct {
			Users []struct {
				ID any `json:"id"`
			} `json:"users"`
		}
		n.getJSON(t, "/apps/"+appID+"/channels/"+ch+"/users", &users)
		if len(users.Users) != 2 {
			t.Errorf("%s users = %+v", n.addr, users.Users)
		}
		var info map[string]any
		n.getJSON(t, "/apps/"+appID+"/channels/"+ch+"?info=user_count,subscription_count", &info)
		if info["user_count"] != float64(2) || info["occupied"] != true {
			t.Errorf("%s info = %v", n.addr, info)
		}
	}

	// User 3 joins on node c, which then loses Redis for good.
	c := nc.dial(t)
	c.subscribe(ch, `{"user_id":3}`)
	a.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":3}","channel":"presence-room"}`)
	b.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":3}","channel":"presence-room"}`)
	b2.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":3}","channel":"presence-room"}`)
	_ = nc.tr.Close()
	a.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":3}","channel":"presence-room"}`)

	// Terminate user 2 through node a: node b closes its socket.
	if code, body := na.api(t, "POST", "/apps/"+appID+"/users/2/terminate_connections", "{}"); code != 200 {
		t.Fatalf("terminate: %d %s", code, body)
	}
	_ = b.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := b.ws.ReadMessage()
		if err != nil {
			var ce *gws.CloseError
			if !asClose(err, &ce) || ce.Code != 4009 {
				t.Fatalf("terminated socket: %v", err)
			}
			break
		}
	}
	a.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":2}","channel":"presence-room"}`)
}

func asClose(err error, ce **gws.CloseError) bool {
	e, ok := err.(*gws.CloseError)
	if ok {
		*ce = e
	}
	return ok
}

// Redis stopped and started mid-test: local delivery continues, the
// other node gets what was published meanwhile once Redis is back, and
// cross-node delivery resumes. Nothing crashes.
func TestClusterSurvivesRedisRestart(t *testing.T) {
	r := startRedis(t)
	na, nb := startNode(t, r, "a"), startNode(t, r, "b")
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
	// A new local client is served too.
	a2 := na.dial(t)
	a2.subscribe("news", "")
	a2.nothingPending()

	r.Start()
	b.expect(`{"event":"e","data":"during","channel":"news"}`)
	waitFor(t, "both nodes reconnected", func() bool {
		for _, n := range []*node{na, nb} {
			n.tr.mu.Lock()
			ok := n.tr.subUp && len(n.tr.queue) == 0 && !n.tr.pubBroken
			n.tr.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
	nb.trigger(t, "news", "e", "after", "")
	for _, c := range []*wsClient{a, a2, b} {
		c.expect(`{"event":"e","data":"after","channel":"news"}`)
	}
	a.nothingPending() // "during" was not delivered twice
	for _, want := range []string{"Disconnected from Redis", "Attempting reconnection to Redis", "Redis connection established"} {
		if !strings.Contains(na.log.String(), want) {
			t.Errorf("node a log lacks %q:\n%s", want, na.log)
		}
	}
}

// An outage longer than three heartbeats: each node forgets the other's
// presence members (member_removed), and learns them again when Redis is
// back (member_added, users), without anyone reconnecting.
func TestPresenceResyncAfterLongOutage(t *testing.T) {
	r := startRedis(t)
	na, nb := startNode(t, r, "na"), startNode(t, r, "nb")
	ch := "presence-resync"
	a := na.dial(t)
	a.subscribe(ch, `{"user_id":1}`)
	b := nb.dial(t)
	b.subscribe(ch, `{"user_id":2}`)
	a.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":2}","channel":"presence-resync"}`)

	r.Stop()
	a.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":2}","channel":"presence-resync"}`)
	b.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":1}","channel":"presence-resync"}`)

	r.Start()
	a.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":2}","channel":"presence-resync"}`)
	b.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":1}","channel":"presence-resync"}`)
	for _, n := range []*node{na, nb} {
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
	a.nothingPending()
	b.nothingPending()
}
