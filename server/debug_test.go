package server

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"
)

func TestDebugOutput(t *testing.T) {
	var buf syncBuffer
	ts := startServer(t, Options{Debug: true, DebugOut: &buf})
	c := ts.dial(t, "reverb-key")
	c.send(`{"event":"pusher:subscribe","data":"{\"channel\":\"x\",\"channel_data\":\"{\\\"user_id\\\":1}\"}"}`)
	c.subscribed("x")
	time.Sleep(50 * time.Millisecond)
	out := buf.String()
	for _, want := range []string{"Connection Established", "Message Received", "Message Handled", `"event": "pusher:subscribe"`, `"user_id": 1`} {
		if !strings.Contains(out, want) {
			t.Errorf("debug output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, `"event"`) > strings.Index(out, `"data"`) {
		t.Errorf("key order not kept:\n%s", out)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// --debug shows a close readably, and once, whichever side begins it.
func TestDebugCloses(t *testing.T) {
	var buf syncBuffer
	ts := startServer(t, Options{Debug: true, DebugOut: &buf})
	count := func(what string) int { return strings.Count(buf.String(), what) }
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for !strings.Contains(buf.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in:\n%s", what, buf.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// The client closes: its frame, decoded, then the connection closed.
	c := ts.dial(t, "reverb-key")
	_ = c.ws.WriteMessage(gws.CloseMessage, gws.FormatCloseMessage(1000, "bye"))
	waitFor("Connection Closed")
	out := buf.String()
	if !strings.Contains(out, "Control Frame Received") || !strings.Contains(out, "\nClose 1000 (normal closure): bye\n") || strings.Contains(out, "\x03\xe8") {
		t.Errorf("client close:\n%s", out)
	}

	// The server closes (an unknown app): one "Close Frame Sent" line, the
	// client's echo not printed again.
	buf.mu.Lock()
	buf.buf.Reset()
	buf.mu.Unlock()
	r := ts.dialRaw(t, "nope", nil)
	code, _ := r.expectClose()
	if code != 4001 {
		t.Fatalf("close code %d", code)
	}
	_ = r.ws.WriteMessage(gws.CloseMessage, gws.FormatCloseMessage(4001, "Application does not exist"))
	time.Sleep(100 * time.Millisecond)
	out = buf.String()
	if n := count("Close 4001"); n != 1 || !strings.Contains(out, "Close 4001 (Pusher: do not reconnect): Application does not exist") || strings.Contains(out, "Control Frame Received") {
		t.Errorf("server close (%d lines):\n%s", n, out)
	}

	// Ping payloads that are not text are quoted.
	p := ts.dial(t, "reverb-key")
	_ = p.ws.WriteControl(gws.PingMessage, []byte{0, 1, 'x'}, time.Now().Add(time.Second))
	waitFor(`Ping "\x00\x01x"`)
}

// --debug names a message's failure as Reverb's Server::error does: a
// Pusher exception (a refused subscription) is "a pusher error" followed by
// its message, anything else (a message that is not JSON, an unknown
// pusher: event: Reverb's 4200 Invalid message format) "an unknown error".
func TestDebugMessageErrors(t *testing.T) {
	var buf syncBuffer
	ts := startServer(t, Options{Debug: true, DebugOut: &buf})
	c := ts.dial(t, "reverb-key")
	c.send(`not json`)
	c.expectContains(`4200`)
	c.send(`{"event":"pusher:subscribe","data":{"channel":"private-x","auth":"reverb-key:bad"}}`)
	c.expectContains(`4009`)
	deadline := time.Now().Add(3 * time.Second)
	for strings.Count(buf.String(), "[ERROR]") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	out := buf.String()
	for _, want := range []string{
		" [ERROR] Message from " + c.id + " resulted in an unknown error\n",
		" [ERROR] Message from " + c.id + " resulted in a pusher error\n\n  Connection is unauthorized\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("debug output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "resulted in a pusher error"); n != 1 {
		t.Errorf("%d pusher errors, want 1:\n%s", n, out)
	}
}
