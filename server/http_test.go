package server

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net"
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

// A fragment in the request target is not part of the request, as for
// Reverb (Guzzle's URI drops it): routing, the query and the signature
// see the target without it.
func TestHTTPAPIIgnoresFragment(t *testing.T) {
	ts := startServer(t, Options{})
	query := "auth_key=reverb-key&auth_timestamp=1700000000&auth_version=1.0"
	sig := sign("reverb-secret", "GET\n/apps/123456/channels\n"+query)
	for _, target := range []string{
		"/apps/123456/channels?" + query + "&auth_signature=" + sig + "#frag",
		"/apps/123456/channels?" + query + "&auth_signature=" + sig + "#",
		"/apps/123456/channels?" + query + "&auth_signature=" + sig + "#a?b=c#d",
	} {
		status, body := rawGet(t, ts.addr, target)
		if status != 200 || body != `{"channels":[]}` {
			t.Errorf("GET %s: %d %s", target, status, body)
		}
	}
	// Everything after '#' is the fragment, a '?' included: no query, no
	// signature.
	status, body := rawGet(t, ts.addr, "/apps/123456/channels#x?"+query+"&auth_signature="+sig)
	if status != 401 || body != "Authentication signature invalid." {
		t.Errorf("query in the fragment: %d %s", status, body)
	}
	status, body = rawGet(t, ts.addr, "/up#x")
	if status != 200 || body != `{"health":"OK"}` {
		t.Errorf("/up#x: %d %s", status, body)
	}
}

// rawGet sends target as written (net/http's client would drop a
// fragment) and returns the status and body.
func rawGet(t *testing.T, addr, target string) (int, string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = nc.Write([]byte("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// Reverb buffers the whole request, body included, before routing: a
// request to the WebSocket route whose body takes it over
// max_request_size is 413, before the method and handshake checks.
func TestWebSocketRouteOversizedBody(t *testing.T) {
	ts := startServer(t, Options{})
	body := strings.Repeat("x", 12000)
	for _, method := range []string{"GET", "HEAD"} {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = nc.Write([]byte(method + " /app/reverb-key HTTP/1.1\r\nHost: x\r\nContent-Length: 12000\r\n\r\n" + body))
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		nc.Close()
		if resp.StatusCode != 413 {
			t.Errorf("%s with a body over max_request_size: %d", method, resp.StatusCode)
		}
	}
}
