package server

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/api"
	"github.com/reverb-go/reverb/server/cluster"
)

func intp(i int) *int { return &i }

// The apps of §15.
func appA() laravelcfg.App {
	return laravelcfg.App{ID: "123456", Key: "reverb-key", Secret: "reverb-secret", PingInterval: 60, ActivityTimeout: 30,
		AllowedOrigins: []string{"*"}, MaxMessageSize: 10000, AcceptClientEventsFrom: "members"}
}

func appB() laravelcfg.App {
	return laravelcfg.App{ID: "654321", Key: "reverb-key-2", Secret: "reverb-secret-2", PingInterval: 10, ActivityTimeout: 30,
		AllowedOrigins: []string{"*"}, MaxMessageSize: 1000000, MaxConnections: intp(1), AcceptClientEventsFrom: "members"}
}

func appC() laravelcfg.App {
	return laravelcfg.App{ID: "987654", Key: "reverb-key-3", Secret: "reverb-secret-3", PingInterval: 60, ActivityTimeout: 30,
		AllowedOrigins: []string{"laravel.com"}, MaxMessageSize: 1, AcceptClientEventsFrom: "members"}
}

type testServer struct {
	s    *Server
	addr string
}

func startServer(t testing.TB, opts Options) *testServer {
	t.Helper()
	if opts.Apps == nil {
		opts.Apps = []laravelcfg.App{appA(), appB(), appC()}
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close(); _ = ln.Close() })
	return &testServer{s: s, addr: ln.Addr().String()}
}

type client struct {
	t  testing.TB
	ws *gws.Conn
	id string
	// resp is the handshake response.
	resp *http.Response
}

// dialRaw connects without reading anything.
func (ts *testServer) dialRaw(t testing.TB, key string, hdr http.Header) *client {
	t.Helper()
	d := gws.Dialer{HandshakeTimeout: 3 * time.Second}
	ws, resp, err := d.Dial("ws://"+ts.addr+"/app/"+key+"?protocol=7&client=js&version=8.4.0", hdr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return &client{t: t, ws: ws, resp: resp}
}

// dial connects and reads connection_established.
func (ts *testServer) dial(t testing.TB, key string) *client {
	t.Helper()
	c := ts.dialRaw(t, key, nil)
	msg := c.read()
	var env struct {
		Event string `json:"event"`
		Data  string `json:"data"`
	}
	if err := json.Unmarshal([]byte(msg), &env); err != nil || env.Event != "pusher:connection_established" {
		t.Fatalf("first frame %q", msg)
	}
	var d struct {
		SocketID string `json:"socket_id"`
	}
	_ = json.Unmarshal([]byte(env.Data), &d)
	c.id = d.SocketID
	return c
}

func (c *client) send(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(gws.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) read() string {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, p, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return string(p)
}

func (c *client) expect(want string) {
	c.t.Helper()
	if got := c.read(); got != want {
		c.t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func (c *client) expectContains(want string) string {
	c.t.Helper()
	got := c.read()
	if !strings.Contains(got, want) {
		c.t.Fatalf("got %s\nwant it to contain %s", got, want)
	}
	return got
}

// expectClose reads until a close frame and returns its code and text.
func (c *client) expectClose() (int, string) {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		_, p, err := c.ws.ReadMessage()
		if err != nil {
			if ce, ok := err.(*gws.CloseError); ok {
				return ce.Code, ce.Text
			}
			c.t.Fatalf("expected close frame, got %v", err)
		}
		_ = p
	}
}

func sign(secret, s string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// subscribe sends pusher:subscribe, with a valid auth for private types
// when secret is non-empty.
func (c *client) subscribe(channel, channelData, secret string) {
	c.t.Helper()
	d := `{"channel":` + jsonString(channel)
	if secret != "" {
		toSign := c.id + ":" + channel
		if channelData != "" {
			toSign += ":" + channelData
		}
		d += `,"auth":` + jsonString("reverb-key:"+sign(secret, toSign))
	}
	if channelData != "" {
		d += `,"channel_data":` + jsonString(channelData)
	}
	c.send(`{"event":"pusher:subscribe","data":` + d + `}}`)
}

func (c *client) subscribed(channel string) {
	c.t.Helper()
	c.expect(`{"event":"pusher_internal:subscription_succeeded","data":"{}","channel":"` + channel + `"}`)
}

func (ts *testServer) app(id string) *laravelcfg.App {
	a, ok := backend{ts.s}.AppByID(id)
	if !ok {
		panic("no app " + id)
	}
	return a
}

func (ts *testServer) trigger(t testing.TB, appID, name, data string, channels ...string) {
	t.Helper()
	err := backend{ts.s}.Publish(context.Background(), ts.app(appID), api.Event{Name: name, Data: data, Channels: channels})
	if err != nil {
		t.Fatal(err)
	}
}

// twoNodes links two servers through an in-memory bus (a routed one while
// routedTests is set: routing_test.go runs the cluster tests again in the
// interest-routed mode).
func twoNodes(t testing.TB) (*testServer, *testServer) {
	if routedTests {
		bus := cluster.NewRoutedBus()
		a := startServer(t, Options{Transport: bus.Node(), NodeID: "node-a"})
		b := startServer(t, Options{Transport: bus.Node(), NodeID: "node-b"})
		return a, b
	}
	bus := cluster.NewBus()
	a := startServer(t, Options{Transport: bus.Node(), NodeID: "node-a"})
	b := startServer(t, Options{Transport: bus.Node(), NodeID: "node-b"})
	return a, b
}

// testBusNodes returns a function making nodes of one in-memory bus, a
// routed one while routedTests is set.
func testBusNodes() func() cluster.Transport {
	if routedTests {
		bus := cluster.NewRoutedBus()
		return func() cluster.Transport { return bus.Node() }
	}
	return cluster.NewBus().Node
}

func apiEvent(name, data, socketID string, channels ...string) api.Event {
	return api.Event{Name: name, Data: data, SocketID: socketID, Channels: channels}
}

func batchEvent(name, data, channel string) api.Event {
	return api.Event{Name: name, Data: data, Channels: []string{channel}, Batch: true}
}

// rawSubscriber opens a WebSocket by hand and subscribes, keeping no
// goroutine, so the process's memory growth is mostly the server's.
func rawSubscriber(t testing.TB, addr string) net.Conn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = nc.Write([]byte("GET /app/reverb-key HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v", err)
	}
	msg := `{"event":"pusher:subscribe","data":{"channel":"idle"}}`
	frame := []byte{0x81, 0x80 | byte(len(msg)), 0, 0, 0, 0}
	frame = append(frame, msg...)
	_, _ = nc.Write(frame)
	// Read established + succeeded.
	buf := make([]byte, 512)
	got := ""
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !strings.Contains(got, "subscription_succeeded") {
		n, err := br.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += string(buf[:n])
	}
	return nc
}
