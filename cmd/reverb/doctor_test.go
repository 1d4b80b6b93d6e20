package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// doctor reads the restart flag where php artisan reverb:restart writes it:
// CACHE_STORE=database without its SQLite file is a problem (exit 1), not
// "No problems found".
func TestDoctorMissingSQLiteFile(t *testing.T) {
	env := "APP_ENV=local\nREVERB_HOST=localhost\nREVERB_PORT=8080\nREVERB_SCHEME=http\n"
	dir := writeProject(t, env+"CACHE_STORE=database\n")
	out, errOut, code := runCLI("doctor", "--dir", dir, "--no-snippets")
	if code != 1 || !strings.Contains(out, "PROBLEM  php artisan reverb:restart cannot reach this server: ") ||
		!strings.Contains(out, "database/database.sqlite] does not exist (run php artisan migrate, or set DB_DATABASE)") ||
		strings.Contains(out, "No problems found") {
		t.Fatalf("exit %d stderr %q\n%s", code, errOut, out)
	}
	out, _, _ = runCLI("doctor", "--dir", dir, "--json")
	var r struct {
		OK       bool
		Findings []struct{ Level, Code, Message string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range r.Findings {
		found = found || f.Level == "problem" && f.Code == "restart-flag"
	}
	if r.OK || !found {
		t.Errorf("json: %+v", r)
	}

	// The file store with a writable folder: read, and said where.
	dir = writeProject(t, env+"CACHE_STORE=file\n")
	out, _, code = runCLI("doctor", "--dir", dir, "--no-snippets")
	if !strings.Contains(out, "INFO     the restart flag is read from file storage/framework/cache/data/") || strings.Contains(out, "restart-flag") && code != 0 {
		t.Errorf("file store: exit %d\n%s", code, out)
	}
}

// Outside a Laravel project doctor says so and stops: no report made of
// defaults, no snippets filled in for a folder that is not the app. With
// --json, what reads the JSON still gets a report: the project finding,
// ok false, an empty list of snippets.
func TestDoctorOutsideAProject(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runCLI("doctor", "--dir", dir)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "reverb doctor: No Laravel project in "+dir) {
		t.Errorf("text: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	out, errOut, code = runCLI("doctor", "--dir", dir, "--json")
	var r struct {
		OK       bool
		Findings []struct{ Level, Code string }
		Snippets []any
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 || r.OK || r.Snippets == nil || len(r.Snippets) != 0 ||
		len(r.Findings) == 0 || r.Findings[0].Code != "project" || !strings.HasPrefix(errOut, "reverb doctor: No Laravel project in "+dir) {
		t.Errorf("json: exit %d, %v\nstdout %s\nstderr %s", code, err, out, errOut)
	}
}

// A project whose apps cannot be read (no REVERB_APP_KEY) still has its
// server read: the problem comes first and the snippets use the configured
// port. A configuration that cannot be read at all gives no snippets.
func TestDoctorSnippetsUseTheConfiguration(t *testing.T) {
	dir := writeProject(t, "CACHE_STORE=file\nREVERB_SERVER_PORT=9123\nREVERB_HOST=ws.example.com\nREVERB_PORT=443\nREVERB_SCHEME=https\n")
	env := strings.Replace(readFile(t, filepath.Join(dir, ".env")), "REVERB_APP_KEY=k\n", "", 1)
	writeFile(t, filepath.Join(dir, ".env"), env)
	out, _, code := runCLI("doctor", "--dir", dir)
	problem := strings.Index(out, "PROBLEM  cannot read the Laravel project: ")
	if code != 1 || problem < 0 || problem > strings.Index(out, "\nServer\n") || !strings.Contains(out, "missing key (REVERB_APP_KEY is not set") ||
		!strings.Contains(out, "listens on             ws://0.0.0.0:9123") || !strings.Contains(out, "proxy_pass http://127.0.0.1:9123;") ||
		strings.Contains(out, ":8080") {
		t.Errorf("missing key: exit %d\n%s", code, out)
	}

	writeFile(t, filepath.Join(dir, "config", "reverb.php"), "<?php return [")
	out, _, code = runCLI("doctor", "--dir", dir)
	if code != 1 || !strings.Contains(out, "listens on             unknown (the configuration cannot be read)") ||
		!strings.Contains(out, "Snippets withheld: the project's configuration cannot be read") ||
		strings.Contains(out, "proxy_pass") || strings.Contains(out, "[program:reverb]") || strings.Contains(out, ":8080") {
		t.Errorf("unreadable config: exit %d\n%s", code, out)
	}
	out, _, _ = runCLI("doctor", "--dir", dir, "--json")
	var r struct {
		Snippets         []any
		SnippetsWithheld string `json:"snippets_withheld"`
		Listen           struct{ From string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Snippets) != 0 || r.SnippetsWithheld == "" || r.Listen.From != "unknown" {
		t.Errorf("json: %v %+v", err, r)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Where Laravel's broadcast() sends events is checked: a project left at
// the log or null broadcaster, or at a connection it does not define, is
// told which .env key to set, and a broadcaster whose app id or secret no
// app here has is a problem (the HTTP API refuses its events; the key it
// sends along is not checked, as in Reverb).
func TestDoctorLaravelBroadcaster(t *testing.T) {
	env := "APP_ENV=local\nREVERB_HOST=localhost\nREVERB_PORT=8080\nREVERB_SCHEME=http\nCACHE_STORE=file\n"
	const mismatched = `<?php
return [
    'default' => 'reverb',
    'connections' => [
        'reverb' => ['driver' => 'reverb', 'key' => 'k', 'secret' => 'other', 'app_id' => '2'],
        'stale' => ['driver' => 'reverb', 'key' => 'old-key', 'secret' => 'old', 'app_id' => '1'],
    ],
];
`
	tests := []struct {
		name, env, broadcasting string
		code                    int
		want                    []string
	}{
		{"log", "BROADCAST_CONNECTION=log\n", "", 1, []string{`WARNING  Laravel broadcasts to the "log" connection (broadcasting.default: BROADCAST_CONNECTION in .env), ` +
			"so events fired with broadcast() or ShouldBroadcast are written to the log (storage/logs) and never reach this server: set BROADCAST_CONNECTION=reverb"}},
		{"unset: the framework's null", "", "", 1, []string{`Laravel broadcasts to the "null" connection`, "are dropped and never reach this server: set BROADCAST_CONNECTION=reverb"}},
		{"undefined connection", "BROADCAST_CONNECTION=revreb\n", "", 1, []string{`WARNING  Laravel's default broadcast connection is "revreb" (broadcasting.default: BROADCAST_CONNECTION in .env), ` +
			`which config/broadcasting.php does not define: every broadcast fails with "Broadcast connection [revreb] is not defined"; set BROADCAST_CONNECTION=reverb`}},
		{"reverb", "BROADCAST_CONNECTION=reverb\n", "", 0, nil},
		{"another app id", "", mismatched, 1, []string{
			`PROBLEM  Laravel's broadcaster (broadcasting.connections.reverb) sends its events to app id "2", which no app of this server has (reverb.apps.apps): ` +
				`every broadcast fails with "No matching application for ID [2]"; make REVERB_APP_ID the same`}},
		{"another secret; the key is not checked", "", strings.Replace(mismatched, "'default' => 'reverb'", "'default' => 'stale'", 1), 1, []string{
			`PROBLEM  Laravel's broadcaster (broadcasting.connections.stale) signs its events with another secret than app 1's: ` +
				`every broadcast fails with "Authentication signature invalid"; make REVERB_APP_SECRET the same`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeProject(t, env+tc.env)
			if err := os.MkdirAll(filepath.Join(dir, "routes"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "routes", "channels.php"), []byte("<?php\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.broadcasting != "" {
				if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "config", "broadcasting.php"), []byte(tc.broadcasting), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, errOut, code := runCLI("doctor", "--dir", dir, "--no-snippets")
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q\n%s", code, tc.code, errOut, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("lacks %q\n%s", w, out)
				}
			}
			if tc.want == nil && strings.Contains(out, "broadcast") {
				t.Errorf("a finding about broadcasting:\n%s", out)
			}
		})
	}
}

// A project without routes/channels.php (a Laravel 11+ app that never ran
// install:broadcasting) is told that private and presence channels cannot
// be authorized, and how to add the route; an info, as an app may use
// public channels only.
func TestDoctorChannelsRoute(t *testing.T) {
	env := "APP_ENV=local\nREVERB_HOST=localhost\nREVERB_PORT=8080\nREVERB_SCHEME=http\nCACHE_STORE=file\nBROADCAST_CONNECTION=reverb\n"
	dir := writeProject(t, env)
	out, errOut, code := runCLI("doctor", "--dir", dir, "--no-snippets")
	want := "INFO     routes/channels.php is missing: unless the app defines its channels elsewhere, Laravel has no /broadcasting/auth route " +
		"and private and presence channels cannot be joined " +
		"(pusher-js: status 404 from the channel-authorization endpoint): run php artisan install:broadcasting"
	if code != 0 || !strings.Contains(out, want) {
		t.Errorf("exit %d stderr %q\n%s", code, errOut, out)
	}
	if err := os.MkdirAll(filepath.Join(dir, "routes"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "routes", "channels.php"), []byte("<?php\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := runCLI("doctor", "--dir", dir, "--no-snippets"); strings.Contains(out, "channels.php") {
		t.Errorf("with routes/channels.php:\n%s", out)
	}
}

// In a release-folder deploy (Envoyer, Forge's zero-downtime deploys) the
// process manager must start the server in <app>/current: a snippet naming
// releases/<name> keeps serving that release after the next deploy and
// fails once it is deleted. doctor run from a release's real path (a
// deploy hook's cd {{ release }}), current or not yet, names the link.
func TestDoctorSnippetsInAReleaseNameTheCurrentLink(t *testing.T) {
	app := t.TempDir()
	if real, err := filepath.EvalSymlinks(app); err == nil {
		app = real
	}
	releases := filepath.Join(app, "releases")
	if err := os.Mkdir(releases, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"1", "2"} {
		if err := os.Rename(writeProject(t, "CACHE_STORE=file\n"), filepath.Join(releases, name)); err != nil {
			t.Fatal(err)
		}
	}
	current := filepath.Join(app, "current")
	if err := os.Symlink(filepath.Join("releases", "1"), current); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	for _, dir := range []string{current, filepath.Join(releases, "1"), filepath.Join(releases, "2")} {
		out, _, _ := runCLI("doctor", "--dir", dir, "--user", "forge")
		for _, want := range []string{
			"command=" + current + "/reverb start",
			"directory=" + current + "\n",
			"WorkingDirectory=" + current + "\n",
			"ExecStart=" + current + "/reverb start",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("doctor --dir %s: no %q in\n%s", dir, want, out)
			}
		}
		if i := strings.Index(out, "\nSnippets"); i < 0 || strings.Contains(out[i:], releases) {
			t.Errorf("doctor --dir %s: the snippets name a release folder:\n%s", dir, out)
		}
	}
}

// With the configuration cached (php artisan config:cache, as deploy
// scripts run it) Laravel does not read .env: the environment is
// config('app.env') from the cache, and doctor's production checks follow
// it, not a missing APP_ENV taken for production.
func TestDoctorReadsTheEnvironmentOfACachedConfig(t *testing.T) {
	dir := writeProject(t, "APP_ENV=local\nCACHE_STORE=file\n")
	writeFile(t, filepath.Join(dir, "bootstrap", "cache", "config.php"), `<?php return array (
  'app' => array ('env' => 'local', 'url' => 'http://localhost'),
  'cache' => array ('default' => 'file', 'stores' => array ('file' => array ('driver' => 'file', 'path' => '`+dir+`/storage/framework/cache/data'))),
  'reverb' => array (
    'default' => 'reverb',
    'servers' => array ('reverb' => array ('host' => '0.0.0.0', 'port' => 8080, 'hostname' => 'localhost')),
    'apps' => array ('apps' => array (0 => array ('app_id' => '1', 'key' => 'k', 'secret' => 's', 'allowed_origins' => array (0 => '*'), 'ping_interval' => 60, 'activity_timeout' => 30, 'max_message_size' => 10000,
      'options' => array ('host' => 'localhost', 'port' => 8080, 'scheme' => 'http')))),
  ),
);
`)
	out, _, _ := runCLI("doctor", "--dir", dir, "--json", "--no-snippets")
	var r struct {
		AppEnv   string `json:"app_env"`
		Findings []struct{ Level, Code, Message string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err, out)
	}
	if r.AppEnv != "local" {
		t.Errorf("app_env %q, want local (the cached config's app.env)\n%s", r.AppEnv, out)
	}
	for _, f := range r.Findings {
		if f.Code == "origins" {
			t.Errorf("a production finding in a local app: %+v", f)
		}
	}
}
