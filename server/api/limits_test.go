package api

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
)

func TestPusherLimits(t *testing.T) {
	fb := newFake()
	fb.apps[0].Limits = laravelcfg.Limits{EventChannels: 3, EventNameLength: 5, EventPayloadBytes: 10, EventBatchSize: 2}
	srv := httptest.NewServer(NewHandler(fb, Options{}))
	defer srv.Close()
	event := func(name, data string, channels ...string) string {
		b, _ := json.Marshal(map[string]any{"name": name, "data": data, "channels": channels})
		return string(b)
	}
	item := func(name, data string) map[string]string {
		return map[string]string{"name": name, "data": data, "channel": "c"}
	}
	batch := func(items ...map[string]string) string {
		b, _ := json.Marshal(map[string]any{"batch": items})
		return string(b)
	}
	const tooLarge = "The data content of this event exceeds the allowed maximum (10 bytes). See https://pusher.com/docs/channels/server_api/http-api#publishing-events for more info"
	for _, c := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"within every limit", "events", event("héllo", "0123456789", "a", "b", "c"), 200, "{}"},
		{"too many channels", "events", event("e", "d", "a", "b", "c", "d"), 400, "Cannot broadcast to more than 3 channels at once"},
		{"name too long", "events", event("héllo!", "d", "a"), 400, "Event name is too long. Maximum allowed size is 5."},
		{"data too large", "events", event("e", "0123456789a", "a"), 413, tooLarge},
		{"data in bytes", "events", event("e", "ééééé_", "a"), 413, tooLarge},
		{"Reverb's validation first", "events", `{"name":"e","channels":["a","b","c","d"]}`, 422, `{"data":["The data field is required."]}`},
		{"batch within", "batch_events", batch(item("a", "1"), item("b", "2")), 200, `{"batch":{}}`},
		{"batch too large", "batch_events", batch(item("a", "1"), item("b", "2"), item("c", "3")), 400, "Cannot batch-send more than 2 messages at once"},
		{"batch item name", "batch_events", batch(item("a", "1"), item("abcdef", "2")), 400, "Event name is too long. Maximum allowed size is 5."},
		{"batch item data", "batch_events", batch(item("a", strings.Repeat("x", 11))), 413, tooLarge},
	} {
		before := len(fb.published)
		r := signed(t, srv, "POST", "/apps/123456/"+c.path, nil, c.body, "")
		if r.status != c.status || !jsonEqual(r.body, c.want) {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.body, c.status, c.want)
		}
		if c.status != 200 && len(fb.published) != before {
			t.Errorf("%s: published %v", c.name, fb.published[before:])
		}
		if c.status == 400 || c.status == 413 {
			if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("%s: content type %q", c.name, ct)
			}
		}
	}
	// Another app has no limits: Reverb's behaviour.
	many := make([]string, 150)
	for i := range many {
		many[i] = fmt.Sprint("c", i)
	}
	body := fmt.Sprintf(`{"name":%q,"data":%q,"channels":%s}`, strings.Repeat("n", 300), strings.Repeat("d", 5000), mustJSON(many))
	if r := do(t, srv, "POST", "/apps/654321/events?"+sign("reverb-secret-2", "POST", "/apps/654321/events", nil, body), body); r.status != 200 {
		t.Errorf("app without limits: %d %s", r.status, r.body)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
