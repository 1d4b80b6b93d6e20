package supervisor

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server"
	"github.com/reverb-go/reverb/server/metrics"
	"github.com/reverb-go/reverb/supervisor/console"
)

// A control socket that cannot be created (a file system without socket
// files: a network or exFAT drive on Windows, a bind mount of Docker
// Desktop) turns off ./reverb status, not the Prometheus endpoint asked
// for with --metrics.
func TestMetricsServedWithoutControlSocket(t *testing.T) {
	dir := t.TempDir()
	// The socket's path is taken by a folder that cannot be removed.
	if err := os.MkdirAll(filepath.Join(dir, "storage", "reverb.sock", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	col := metrics.NewCollector(nil,
		func(context.Context) (metrics.Topology, error) { return metrics.Topology{}, nil },
		func(context.Context, metrics.Worker) (server.Stats, error) { return server.Stats{}, nil })
	var out bytes.Buffer
	con := console.New(&out)
	p := &laravelcfg.Project{BasePath: dir}
	ms := serveControl(col, p, Config{Dir: dir, MetricsAddr: "127.0.0.1:0"}, con)
	if ms == nil {
		t.Fatalf("monitoring off: %s", out.String())
	}
	defer ms.Close()
	srv, ok := ms.(*metrics.Server)
	if !ok || srv.MetricsAddr() == "" {
		t.Fatalf("no metrics listener: %T %s", ms, out.String())
	}
	resp, err := http.Get("http://" + srv.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	if !strings.Contains(out.String(), "reverb status") || !strings.Contains(out.String(), "reverb.sock") {
		t.Errorf("the warning does not say what is off and why: %s", out.String())
	}
}
