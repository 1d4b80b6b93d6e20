package supervisor

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
	"github.com/reverb-go/reverb/supervisor/console"
)

// A project whose apps come from a custom provider, answered by a stand-in
// artisan run by the real PHP; it counts its runs in RUNS.
func phpAppsProject(t *testing.T) string {
	t.Helper()
	phptest.Binary(t, "runs a stand-in artisan")
	dir := t.TempDir()
	files := map[string]string{
		"config/reverb.php": `<?php return ['apps' => ['provider' => 'tenants']];`,
		"artisan": `<?php
file_put_contents(__DIR__.'/RUNS', 'x', FILE_APPEND);
echo json_encode(['apps' => [['app_id' => '42', 'key' => 'k42', 'secret' => 's', 'ping_interval' => 60,
    'allowed_origins' => ['*'], 'max_message_size' => 100]]]);
`,
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runs(t *testing.T, dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, "RUNS"))
	return len(b)
}

// The supervisor runs PHP once and hands the answer to each worker on its
// stdin; workers load the same apps without running PHP.
func TestAppsPassedToWorkers(t *testing.T) {
	dir := phpAppsProject(t)
	var out bytes.Buffer
	c := Config{Dir: dir, Stdout: &out, Stderr: &out}
	c.apps = newAppsResolver(c, console.New(&out))
	p, err := c.load()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Reverb.Apps) != 1 || p.Reverb.Apps[0].ID != "42" || runs(t, dir) != 1 {
		t.Fatalf("supervisor load: %+v, %d runs", p.Reverb.Apps, runs(t, dir))
	}
	if appsRefresh(p, c) == nil {
		t.Fatal("no refresh source for PHP apps")
	}

	for i := 0; i < 3; i++ { // three workers
		cmd := exec.Command("reverb", WorkerCommand)
		passApps(cmd, c.apps)
		if !strings.HasSuffix(strings.Join(cmd.Args, " "), " "+appsStdinFlag) || cmd.Stdin == nil {
			t.Fatalf("worker args %q", cmd.Args)
		}
		wc := Config{Dir: dir}
		if wc.apps, err = workerAppsResolver(wc, true, cmd.Stdin); err != nil {
			t.Fatal(err)
		}
		wp, err := wc.load()
		if err != nil {
			t.Fatal(err)
		}
		if len(wp.Reverb.Apps) != 1 || wp.Reverb.Apps[0].Key != "k42" {
			t.Fatalf("worker apps %+v", wp.Reverb.Apps)
		}
	}
	if n := runs(t, dir); n != 1 {
		t.Errorf("PHP ran %d times for one supervisor and three workers", n)
	}

	// At run time a worker asks PHP itself.
	apps, err := appsRefresh(p, c)(context.Background())
	if err != nil || len(apps) != 1 || runs(t, dir) != 2 {
		t.Errorf("refresh: %v %v (%d runs)", apps, err, runs(t, dir))
	}
}

func TestAppsFromConfigNeedNoPHP(t *testing.T) {
	cmd := exec.Command("reverb", WorkerCommand)
	passApps(cmd, nil)
	if cmd.Stdin != nil || len(cmd.Args) != 2 {
		t.Errorf("args %q", cmd.Args)
	}
	p := &laravelcfg.Project{}
	if appsRefresh(p, Config{}) != nil {
		t.Error("refresh source for config apps")
	}
}
