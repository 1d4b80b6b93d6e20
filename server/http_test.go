package server

import (
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The HTTP API and the WebSocket endpoint share the listener: a signed
// POST /apps/{id}/events reaches a subscriber; /up answers.
func TestHTTPAPIOnSameListener(t *testing.T) {
	ts := startServer(t, Options{})
	c := ts.dial(t, "reverb-key")
	c.subscribe("test-channel", "", "")
	c.subscribed("test-channel")

	body := `{"name":"App\\Events\\TestEvent","channel":"test-channel","data":"{\"foo\":\"bar\"}"}`
	sum := md5.Sum([]byte(body))
	query := "auth_key=reverb-key&auth_timestamp=1700000000&auth_version=1.0&body_md5=" + hex.EncodeToString(sum[:])
	sig := sign("reverb-secret", "POST\n/apps/123456/events\n"+query)
	resp, err := http.Post("http://"+ts.addr+"/apps/123456/events?"+query+"&auth_signature="+sig, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "{}" {
		t.Fatalf("events: %d %s", resp.StatusCode, b)
	}
	c.expect(`{"event":"App\\Events\\TestEvent","data":"{\"foo\":\"bar\"}","channel":"test-channel"}`)

	resp, err = http.Get("http://" + ts.addr + "/up")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `{"health":"OK"}` {
		t.Fatalf("up: %d %s", resp.StatusCode, b)
	}

	// A plain GET on the WebSocket route is a failed handshake, not API.
	resp, err = http.Get("http://" + ts.addr + "/app/reverb-key")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 426 {
		t.Fatalf("plain GET on /app/key: %d", resp.StatusCode)
	}
}
