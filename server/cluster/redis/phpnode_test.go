package redis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"
)

// A PHP node (phpredis, classes of Reverb's shape) and a Go node on one
// channel: the Go node's clients get the PHP node's broadcast, the Go node
// answers the PHP node's metrics request in Reverb's shape, and the PHP
// node unserialize()s the Go node's Application and PendingMetric, and the
// PHP node's terminate closes the user's socket on the Go node.
func TestInteropWithPHPNode(t *testing.T) {
	if _, err := exec.LookPath("php"); err != nil {
		t.Skip("php-cli not installed (CI installs it)")
	}
	if out, _ := exec.Command("php", "-r", "echo extension_loaded('redis') ? 'yes' : 'no';").Output(); string(out) != "yes" {
		t.Skip("php-redis not installed (CI installs it)")
	}
	r := startRedis(t)
	n := startNode(t, r, "go-node")
	c := n.dial(t)
	c.subscribe("news", "")

	cmd := exec.Command("php", "testdata/phpnode.php", strconv.Itoa(r.Port), "reverb")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	next := func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("php exited: %v\n%s", <-exited, stderr.String())
			}
			return l
		case <-time.After(20 * time.Second):
			t.Fatalf("php said nothing\n%s", stderr.String())
		}
		return ""
	}
	if l := next(); l != "published" {
		t.Fatalf("php: %s", l)
	}
	// PHP → Go: the broadcast reaches the Go node's subscriber.
	c.expect(`{"event":"from-php","data":"{\"n\":1}","channel":"news"}`)
	// Go-only presence traffic while the PHP node listens.
	p := n.dial(t)
	p.subscribe("presence-mixed", `{"user_id":5}`)

	// Go → PHP: a metrics request (its gathering waits for the PHP node,
	// which never answers: GatherTimeout) and a broadcast with toOthers.
	var conns struct {
		Connections int `json:"connections"`
	}
	n.getJSON(t, "/apps/"+appID+"/connections", &conns)
	if conns.Connections != 2 {
		t.Errorf("connections = %d", conns.Connections)
	}
	n.trigger(t, "news", "from-go", "x", "1.2")

	got := map[string]json.RawMessage{}
	for len(got) < 3 {
		var m map[string]json.RawMessage
		l := next()
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("php line %q: %v", l, err)
		}
		for k, v := range m {
			if k == "crash" {
				t.Fatalf("a PHP Reverb node would throw on %s", v)
			}
			got[k] = v
		}
	}
	// phpredis may block in its subscribed connection's shutdown: the
	// cleanup kills the process.

	// PHP's terminate closed the Go node's socket of user 5.
	_ = p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := p.ws.ReadMessage(); err != nil {
			var ce *gws.CloseError
			if !asClose(err, &ce) || ce.Code != 4009 {
				t.Fatalf("user 5's socket after PHP's terminate: %v", err)
			}
			break
		}
	}

	var msg struct {
		App      map[string]any  `json:"app"`
		Payload  json.RawMessage `json:"payload"`
		SocketID string          `json:"socket_id"`
	}
	if err := json.Unmarshal(got["message"], &msg); err != nil {
		t.Fatal(err)
	}
	if msg.App["id"] != appID || msg.App["key"] != appKey || msg.App["pingInterval"] != float64(60) || msg.SocketID != "1.2" {
		t.Errorf("PHP read our message as %s", got["message"])
	}
	if !strings.Contains(string(msg.Payload), `"event":"from-go"`) || !strings.Contains(string(msg.Payload), `"channels":["news"]`) {
		t.Errorf("payload %s", msg.Payload)
	}

	var metric struct {
		Key         string         `json:"key"`
		Type        string         `json:"type"`
		Application map[string]any `json:"application"`
		Subscribers any            `json:"subscribers"`
	}
	if err := json.Unmarshal(got["metrics"], &metric); err != nil {
		t.Fatal(err)
	}
	if len(metric.Key) != 10 || metric.Type != "connections" || metric.Application["id"] != appID || metric.Subscribers != nil {
		t.Errorf("PHP read our metrics request as %s", got["metrics"])
	}

	// Reverb's connections answer: socket id → {}.
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(got["response"], &resp); err != nil {
		t.Fatalf("response %s: %v", got["response"], err)
	}
	if _, ok := resp[c.id]; !ok || len(resp) > 2 { // the second socket may or may not be open yet
		t.Errorf("response %s, want our socket %s", got["response"], c.id)
	}
}
