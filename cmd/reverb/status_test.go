package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/server"
	"github.com/reverb-go/reverb/server/metrics"
)

func TestStatusNotRunning(t *testing.T) {
	dir := writeProject(t, "")
	os.Mkdir(filepath.Join(dir, "storage"), 0o777)
	var out, errb bytes.Buffer
	if code := runStatus([]string{"--dir", dir}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "No Reverb server is running") || out.Len() != 0 {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestStatusAgainstControlSocket(t *testing.T) {
	dir := writeProject(t, "")
	os.Mkdir(filepath.Join(dir, "storage"), 0o777)
	n := int64(0)
	stats := func() server.Stats {
		n += 10
		return server.Stats{Apps: []server.AppSnapshot{{AppID: "123456", Connections: 3, Channels: 2, Subscriptions: 4, MessagesIn: n, TextFramesOut: 2 * n}},
			HandshakeFailures: map[string]int64{"426": 1}, OpenFilesRefused: 7}
	}
	srv, err := metrics.Serve(metrics.NewLocalCollector([]string{"123456"}, "single", stats), metrics.ControlOptions{Socket: metrics.ControlSocketPath(dir)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var out, errb bytes.Buffer
	if code := runStatus([]string{"--dir", dir, "--interval", "100ms"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"Reverb is running (single, pid ", "Generation 1 (0 restarts, 0 worker deaths); workers: 1 serving", "123456  3", "Refused handshakes: 426: 1",
		"Refused at the open-files limit: 7"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := runStatus([]string{"--dir", dir, "--json", "--interval", "0"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"connections": 3`) {
		t.Fatalf("json exit %d:\n%s", code, out.String())
	}
}

func TestRates(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := metrics.Status{SampledAt: t0, Apps: []metrics.AppStatus{{ID: "x", MessagesIn: 10, MessagesOut: 100}}}
	tests := []struct {
		name string
		b    metrics.Status
		want metrics.Rate
	}{
		{"two seconds", metrics.Status{SampledAt: t0.Add(2 * time.Second), Apps: []metrics.AppStatus{{ID: "x", MessagesIn: 14, MessagesOut: 200}}}, metrics.Rate{In: 2, Out: 50}},
		{"counter went back", metrics.Status{SampledAt: t0.Add(time.Second), Apps: []metrics.AppStatus{{ID: "x", MessagesIn: 1, MessagesOut: 1}}}, metrics.Rate{}},
		{"new app", metrics.Status{SampledAt: t0.Add(time.Second), Apps: []metrics.AppStatus{{ID: "y", MessagesIn: 3}}}, metrics.Rate{In: 3}},
	}
	for _, tt := range tests {
		got := rates(a, tt.b)
		for id, r := range got {
			if r != tt.want {
				t.Errorf("%s: %s = %+v, want %+v", tt.name, id, r, tt.want)
			}
		}
	}
	if len(rates(a, a)) != 0 {
		t.Error("zero interval gives rates")
	}
}
