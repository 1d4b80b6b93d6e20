package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/cluster/phpwire"
)

func TestPendingMetricCodec(t *testing.T) {
	cfg := &laravelcfg.App{ID: "123456", Key: "k", Secret: "s", AllowedOrigins: []string{"*"}}
	s := phpEncodePendingMetric(pendingMetric{Key: "abcdefghij", App: "123456", Type: "channels",
		Options: json.RawMessage(`{"info":"user_count","filter":"presence-"}`), cfg: cfg})
	if !strings.Contains(s, phpwire.Application(cfg)) || !strings.Contains(s, `MetricType:CHANNELS";`) {
		t.Fatalf("encoded %q", s)
	}
	pm, ok := phpDecodePendingMetric(s)
	if !ok || pm.Key != "abcdefghij" || pm.App != "123456" || pm.Type != "channels" || pm.fromPHP {
		t.Fatalf("decoded %+v", pm)
	}
	if string(pm.Options) != `{"info":"user_count","filter":"presence-"}` {
		t.Fatalf("options %s", pm.Options)
	}
	// What a PHP node sends has no marker.
	php := phpwire.EncodePendingMetric(phpwire.PendingMetric{Key: "k", Application: cfg, Type: phpwire.MetricChannel})
	if pm, ok := phpDecodePendingMetric(php); !ok || !pm.fromPHP || string(pm.Options) != "[]" {
		t.Fatalf("PHP request decoded as %+v", pm)
	}
	if _, ok := phpDecodePendingMetric(`{"key":"json"}`); ok {
		t.Fatal("a JSON payload decoded as a PendingMetric")
	}
}

func TestReverbShape(t *testing.T) {
	all := `{"presence-room":{"occupied":true,"user_count":2,"subscription_count":3},"news":{"occupied":true,"subscription_count":1},"cache-x":{"occupied":true,"subscription_count":1,"cache":{"event":"e"}}}`
	for _, tc := range []struct {
		name    string
		typ     string
		options string
		fromPHP bool
		in      string
		want    string
	}{
		{"Go requester gets everything", "channels", `{"info":"user_count"}`, false, all, all},
		{"user_count only for presence", "channels", `{"info":"user_count"}`, true, all, `{"presence-room":{"user_count":2},"news":[],"cache-x":[]}`},
		{"subscription_count not for presence", "channels", `{"info":"occupied,subscription_count,cache"}`, true, all,
			`{"presence-room":{"occupied":true},"news":{"occupied":true,"subscription_count":1},"cache-x":{"occupied":true,"subscription_count":1,"cache":{"event":"e"}}}`},
		{"no channels", "channels", `{"info":"occupied"}`, true, `[]`, `[]`},
		{"channel, nothing asked", "channel", `{"channel":"news","info":""}`, true, `{"occupied":true,"subscription_count":1}`, `[]`},
		{"channel, no info option", "channel", `{"channel":"news"}`, true, `{"occupied":false}`, `[]`},
		{"channel unoccupied", "channel", `{"channel":"news","info":"occupied,subscription_count"}`, true, `{"occupied":false}`, `{"occupied":false}`},
		{"presence channel", "channel", `{"channel":"presence-room","info":"user_count,subscription_count"}`, true, `{"occupied":true,"user_count":2,"subscription_count":3}`, `{"user_count":2}`},
		{"other metrics untouched", "channel_users", `{"channel":"presence-room"}`, true, `[{"id":1}]`, `[{"id":1}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pm := pendingMetric{Type: tc.typ, Options: json.RawMessage(tc.options), fromPHP: tc.fromPHP}
			if got := string(reverbShape(pm, []byte(tc.in))); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
