package phpapps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
)

// artisan is a stand-in for a Laravel app's artisan run by the real PHP: it
// answers `reverb:apps --json` as the file MODE (next to it) says.
const artisan = `<?php
$mode = trim(@file_get_contents(__DIR__.'/MODE'));
if (($argv[1] ?? '') !== 'reverb:apps' || ($argv[2] ?? '') !== '--json') {
    fwrite(STDERR, "unexpected arguments: ".implode(' ', $argv)."\n");
    exit(2);
}
file_put_contents(__DIR__.'/ARGS', implode(' ', array_slice($argv, 1)));
$app = ['app_id' => '1001', 'key' => 'tenant-key', 'secret' => 'tenant-secret', 'ping_interval' => 60,
    'activity_timeout' => 30, 'allowed_origins' => ['*'], 'max_message_size' => 10000, 'max_connections' => null,
    'accept_client_events_from' => 'members', 'rate_limiting' => null, 'options' => ['host' => 'example.com'], 'plan' => 'pro'];
switch ($mode) {
case 'ok':
    echo json_encode(['apps' => [$app]]), "\n";
    break;
case 'noise':
    trigger_error('deprecated thing', E_USER_DEPRECATED); // display_errors=stderr
    echo "Some package printed this\n", json_encode(['apps' => [$app]]), "\n";
    break;
case 'bad-value':
    $b = $app; $b['app_id'] = '1002'; $b['key'] = 'k2'; $b['ping_interval'] = 'often';
    echo json_encode(['apps' => [$app, $b]]);
    break;
case 'duplicate':
    echo json_encode(['apps' => [$app, $app]]);
    break;
case 'fail':
    fwrite(STDERR, "\n   Illuminate\\Database\\QueryException\n\n  SQLSTATE[HY000] [2002] Connection refused\n  more\n  and more\n  and more\n  hidden\n");
    exit(1);
case 'undefined':
    // Laravel prints this on stdout.
    echo "\n   ERROR  Command \"reverb:apps\" is not defined. Did you mean one of these?\n\n  ⇂ reverb:install\n";
    exit(1);
case 'boot-failure':
    // An exception thrown while the app boots, before the command runs:
    // Laravel renders it on stdout.
    echo "\nIn AppServiceProvider.php line 22:\n\n  boot failed: Redis connection refused\n\n";
    exit(1);
case 'slow':
    sleep(20);
    break;
case 'not-json':
    echo "<html>oops</html>";
    break;
case 'empty':
    echo json_encode(['apps' => []]);
    break;
}
`

func fixture(t *testing.T, mode string) Runner {
	t.Helper()
	php := phptest.Binary(t, "runs a stand-in artisan")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "artisan"), []byte(artisan), 0o644); err != nil {
		t.Fatal(err)
	}
	setMode(t, dir, mode)
	return Runner{PHP: php, Dir: dir, Timeout: 10 * time.Second}
}

func setMode(t *testing.T, dir, mode string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "MODE"), []byte(mode), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunnerApps(t *testing.T) {
	for _, mode := range []string{"ok", "noise"} {
		t.Run(mode, func(t *testing.T) {
			r := fixture(t, mode)
			r.EnvName = "staging"
			apps, out, err := r.Apps(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(apps) != 1 {
				t.Fatalf("apps = %+v", apps)
			}
			a := apps[0]
			if a.ID != "1001" || a.Key != "tenant-key" || a.Secret != "tenant-secret" || a.PingInterval != 60 ||
				a.AcceptClientEventsFrom != "members" || a.MaxConnections != nil || a.MaxMessageSize != 10000 {
				t.Errorf("app = %+v", a)
			}
			if h, _ := a.OptionsRaw.ArrayVal().GetString("host"); h.ToString() != "example.com" {
				t.Errorf("options = %v", a.OptionsRaw)
			}
			if !strings.Contains(string(out), `"plan":"pro"`) {
				t.Errorf("raw output lost: %s", out)
			}
			args, _ := os.ReadFile(filepath.Join(r.Dir, "ARGS"))
			if string(args) != "reverb:apps --json --no-interaction --no-ansi --env=staging" {
				t.Errorf("artisan got %q", args)
			}
		})
	}
}

func TestRunnerErrors(t *testing.T) {
	cases := []struct {
		mode    string
		timeout time.Duration
		want    []string
	}{
		{"fail", 0, []string{"php artisan reverb:apps --json (", "-d display_errors=stderr artisan reverb:apps --json --no-interaction --no-ansi, in ", "exit status 1",
			`Illuminate\Database\QueryException | SQLSTATE[HY000] [2002] Connection refused | more | and more | and more`}},
		{"undefined", 0, []string{"exit status 1", `Command "reverb:apps" is not defined.`, "composer require reverb-go/laravel"}},
		{"boot-failure", 0, []string{"exit status 1", "In AppServiceProvider.php line 22: | boot failed: Redis connection refused"}},
		{"slow", 500 * time.Millisecond, []string{"no answer within 500ms"}},
		{"bad-value", 0, []string{`php artisan reverb:apps --json: apps.1.ping_interval: "often" is not numeric`}},
		{"duplicate", 0, []string{`apps.1.app_id: "1001" is also the app_id of apps.0`}},
		{"not-json", 0, []string{"the output is not JSON", "<html>oops</html>"}},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			r := fixture(t, c.mode)
			if c.timeout > 0 {
				r.Timeout = c.timeout
			}
			start := time.Now()
			_, _, err := r.Apps(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hidden") {
				t.Errorf("error quotes more than the first lines: %q", err)
			}
			if time.Since(start) > 8*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
	t.Run("no php", func(t *testing.T) {
		r := Runner{PHP: filepath.Join(t.TempDir(), "php-missing"), Dir: t.TempDir()}
		_, _, err := r.Apps(context.Background())
		if err == nil || !strings.Contains(err.Error(), BinaryEnv) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestParseShapes(t *testing.T) {
	for in, want := range map[string]string{
		`[]`:                   "apps: missing",
		`"x"`:                  "is string",
		`{"other":1}`:          "apps: missing",
		`{"apps":{"a":{}}}`:    "apps: an object, not a list",
		`{"apps":5}`:           "apps: 5 is not a list of apps",
		`{"apps":[{"key":1}]}`: "apps.0: missing app_id",
	} {
		_, _, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", in, err, want)
		}
	}
	apps, warns, err := Parse([]byte(`{"apps":[]}`))
	if err != nil || len(apps) != 0 || len(warns) != 1 {
		t.Errorf("empty list: %v %v %v", apps, warns, err)
	}
}

// project loads a minimal Laravel project whose apps need PHP.
func project(t *testing.T, dir string) *laravelcfg.Project {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config", "reverb.php"), []byte(`<?php return ['apps' => ['provider' => 'tenants']];`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := laravelcfg.Load(laravelcfg.LoadOptions{Dir: dir, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if p.Reverb.AppsFromPHP == "" {
		t.Fatal("apps do not need PHP")
	}
	return p
}

func TestResolverKeepsLastGood(t *testing.T) {
	base := fixture(t, "ok")
	p := project(t, base.Dir)
	var warned []string
	r := &Resolver{KeepLastGood: true, Warn: func(m string) { warned = append(warned, m) }, Runner: func(Runner) Runner { return base }}

	setMode(t, base.Dir, "fail")
	if _, err := r.ResolveApps(p); err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("first run must fail hard: %v", err)
	}
	setMode(t, base.Dir, "ok")
	apps, err := r.ResolveApps(p)
	if err != nil || len(apps) != 1 || r.LastJSON() == nil {
		t.Fatalf("%v %v", apps, err)
	}
	setMode(t, base.Dir, "fail")
	apps, err = r.ResolveApps(p)
	if err != nil || len(apps) != 1 || apps[0].ID != "1001" {
		t.Fatalf("after a failure: %v %v", apps, err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "exit status 1") || !strings.Contains(warned[0], "keeping the 1 app(s)") {
		t.Errorf("warnings: %q", warned)
	}

	strict := &Resolver{Runner: func(Runner) Runner { return base }}
	setMode(t, base.Dir, "ok")
	if _, err := strict.ResolveApps(p); err != nil {
		t.Fatal(err)
	}
	setMode(t, base.Dir, "fail")
	if _, err := strict.ResolveApps(p); err == nil {
		t.Error("without KeepLastGood a failure is an error")
	}

	// Through Load: the hook fills the project's apps.
	setMode(t, base.Dir, "ok")
	lp, err := laravelcfg.Load(laravelcfg.LoadOptions{Dir: base.Dir, LookupEnv: func(string) (string, bool) { return "", false }, Apps: strict})
	if err != nil || len(lp.Reverb.Apps) != 1 {
		t.Fatalf("Load: %v", err)
	}
	apps, err = Static(r.LastJSON()).ResolveApps(nil)
	if err != nil || len(apps) != 1 {
		t.Errorf("Static: %v %v", apps, err)
	}
}

func TestForProjectBinary(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("REVERB_PHP_BINARY=/opt/php83/bin/php\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := project(t, dir)
	r := ForProject(p, "")
	if r.PHP != "/opt/php83/bin/php" || r.Dir != p.BasePath || r.Args()[0] != "/opt/php83/bin/php" {
		t.Errorf("%+v", r)
	}
	if got := (Runner{}).Args()[0]; got != "php" {
		t.Errorf("default binary %q", got)
	}
}
