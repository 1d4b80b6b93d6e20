package supervisor

import (
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server"
)

type fakeStats server.Stats

func (f fakeStats) Stats() server.Stats { return server.Stats(f) }

func TestPulseCountsFromStats(t *testing.T) {
	st := fakeStats{Apps: []server.AppSnapshot{{AppID: "a", TextFramesOut: 7, MessagesHandled: 3, MessagesIn: 4, MessagesOut: 5}}}
	got := pulseCounts(st)()
	if len(got) != 1 || got[0].AppID != "a" || got[0].Sent != 7 || got[0].Received != 3 {
		t.Fatalf("got %+v: sent must be every text frame, received every message handled without error", got)
	}
}

func TestMetricsAddrPrecedence(t *testing.T) {
	p := &laravelcfg.Project{}
	tests := []struct {
		name, flag, want string
	}{
		{"off by default", "", ""},
		{"flag", "127.0.0.1:9100", "127.0.0.1:9100"},
	}
	for _, tt := range tests {
		if got := metricsAddr(Config{MetricsAddr: tt.flag}, p); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
