package supervisor

import (
	"bytes"
	"context"
	"os"
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

// The supervisor runs PHP once and saves the answer; workers start from it
// without running PHP, save what their own refreshes find, and a restart
// whose PHP run fails falls back to the newest saved answer.
func TestAppsSharedWithWorkers(t *testing.T) {
	dir := phpAppsProject(t)
	var out bytes.Buffer
	c := Config{Dir: dir, Stdout: &out, Stderr: &out}
	var cleanup func()
	c.apps, cleanup = newAppsResolver(c, console.New(&out))
	p, err := c.load()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Reverb.Apps) != 1 || p.Reverb.Apps[0].ID != "42" || runs(t, dir) != 1 {
		t.Fatalf("supervisor load: %+v, %d runs", p.Reverb.Apps, runs(t, dir))
	}
	args := workerAppsArgs(c.apps) // what a worker is started with (workerArgs)
	if args[len(args)-2] != appsFileFlag {
		t.Fatalf("worker args %q", args)
	}
	shared := args[len(args)-1]
	if fi, err := os.Stat(filepath.Dir(shared)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("shared folder: %v %v", fi, err)
	}

	for i := 0; i < 3; i++ { // three workers
		wc := Config{Dir: dir, appsFile: shared, Stderr: &out}
		if wc.apps, err = workerAppsResolver(wc); err != nil {
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

	// At run time a worker asks PHP itself and saves a new tenant.
	writeArtisan(t, dir, `[['app_id' => '42', 'key' => 'k42', 'secret' => 's', 'ping_interval' => 60, 'allowed_origins' => ['*'], 'max_message_size' => 100],
	    ['app_id' => '43', 'key' => 'k43', 'secret' => 's', 'ping_interval' => 60, 'allowed_origins' => ['*'], 'max_message_size' => 100]]`)
	apps, err := appsRefresh(p, Config{Dir: dir, appsFile: shared})(context.Background())
	if err != nil || len(apps) != 2 || runs(t, dir) != 2 {
		t.Fatalf("refresh: %v %v (%d runs)", apps, err, runs(t, dir))
	}

	// The provider fails at a restart: the worker's newer answer is used.
	writeArtisan(t, dir, `throw new RuntimeException('database is down')`)
	p, err = c.load()
	if err != nil || len(p.Reverb.Apps) != 2 {
		t.Fatalf("restart with a failing provider: %v %+v", err, p)
	}
	if !strings.Contains(out.String(), "Restart: php artisan reverb:apps --json") || !strings.Contains(out.String(), "keeping the 2 app(s)") {
		t.Errorf("warning: %s", out.String())
	}

	cleanup()
	if _, err := os.Stat(shared); !os.IsNotExist(err) {
		t.Errorf("shared answer left behind: %v", err)
	}
}

// writeArtisan makes the stand-in artisan answer with the PHP expression
// apps (or run the statement given).
func writeArtisan(t *testing.T, dir, apps string) {
	t.Helper()
	body := "<?php\nfile_put_contents(__DIR__.'/RUNS', 'x', FILE_APPEND);\n"
	if strings.HasPrefix(apps, "throw") {
		body += apps + ";\n"
	} else {
		body += "echo json_encode(['apps' => " + apps + "]);\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "artisan"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAppsFromConfigNeedNoPHP(t *testing.T) {
	if args := workerAppsArgs(nil); args != nil {
		t.Errorf("args %q", args)
	}
	p := &laravelcfg.Project{}
	if appsRefresh(p, Config{}) != nil {
		t.Error("refresh source for config apps")
	}
}
