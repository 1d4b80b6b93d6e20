package server

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
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
