package laravelcfg

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInspectRoot(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		env        map[string]string
		notLaravel bool
		missingEnv string // part of the fix, "" when .env is not missing
	}{
		{"a project", map[string]string{"artisan": "", ".env": baseEnv}, nil, false, ""},
		{"no artisan", map[string]string{".env": baseEnv}, nil, true, ""},
		{"no .env, an example", map[string]string{"artisan": "", ".env.example": ""}, nil, false, "cp .env.example .env && php artisan key:generate"},
		{"no .env, no example", map[string]string{"artisan": ""}, nil, false, "./reverb install, which creates one"},
		{"no .env, cached config", map[string]string{"artisan": "", "bootstrap/cache/config.php": "<?php return [];"}, nil, false, ""},
		{"no .env, settings in the environment", map[string]string{"artisan": ""}, map[string]string{"REVERB_APP_KEY": "k"}, false, ""},
		{"only .env.staging with --env", map[string]string{"artisan": "", ".env.staging": baseEnv}, nil, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := project(t, tc.files)
			r, err := InspectRoot(dir, "staging", envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if r.Dir != dir {
				t.Errorf("dir %q", r.Dir)
			}
			if got := r.NotLaravel() != nil; got != tc.notLaravel {
				t.Errorf("NotLaravel = %v", r.NotLaravel())
			}
			e := r.MissingEnv()
			switch {
			case tc.missingEnv == "" && e != nil:
				t.Errorf("MissingEnv = %v", e)
			case tc.missingEnv != "" && (e == nil || !strings.Contains(e.Error(), tc.missingEnv) || !strings.Contains(e.Error(), "No .env file in "+dir)):
				t.Errorf("MissingEnv = %v, want a fix with %q", e, tc.missingEnv)
			}
		})
	}
	// In a subfolder of a project (app/, public/) the project is named.
	dir := project(t, map[string]string{"artisan": "", ".env": baseEnv, "public/index.php": "<?php"})
	r, err := InspectRoot(filepath.Join(dir, "public"), "", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if e := r.NotLaravel(); e == nil || !strings.Contains(e.Error(), "No Laravel project in "+filepath.Join(dir, "public")+": there is no artisan file. "+
		"This folder is inside the Laravel project "+dir+" (artisan is there): run reverb from that folder (cd "+dir+"), or pass --dir="+dir) {
		t.Errorf("subfolder: %v", e)
	}

	// Run from elsewhere, a binary that lives in a project names it.
	defer func(f func() (string, error)) { executable = f }(executable)
	executable = func() (string, error) { return filepath.Join(dir, "reverb"), nil }
	if err := os.WriteFile(filepath.Join(dir, "reverb"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	r, err = InspectRoot(elsewhere, "", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if e := r.NotLaravel(); e == nil || !strings.Contains(e.Error(), "No Laravel project in "+elsewhere+": there is no artisan file. "+
		"This reverb binary is in the Laravel project "+dir+" (artisan is there): run it from that folder (cd "+dir+"; a supervisor program's directory=, "+
		"a systemd unit's WorkingDirectory=), or pass --dir="+dir) {
		t.Errorf("binary in a project: %v", e)
	}
	_, err = InspectRoot(filepath.Join(t.TempDir(), "gone"), "", envOf(nil))
	var re *RootError
	if !errors.As(err, &re) || !strings.Contains(re.Problem, "does not exist") || !strings.Contains(re.Fix, "--dir=") {
		t.Errorf("missing folder: %v", err)
	}
}

// A missing credential names the variable the published config reads, and
// the command that adds it; without vendor/, the defaults are not named by
// a path that does not exist.
func TestMissingCredentialHint(t *testing.T) {
	dir := project(t, map[string]string{".env": "APP_NAME=Laravel\n"})
	_, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
	if err == nil || err.Error() != "Reverb's default config/reverb.php (not published): reverb.apps.apps.0: missing app_id "+
		"(REVERB_APP_ID is not set in .env or the environment: ./reverb install adds REVERB_APP_ID, REVERB_APP_KEY and REVERB_APP_SECRET)" {
		t.Errorf("error %v", err)
	}
	// Set but empty is another problem: no hint that it is unset.
	dir = project(t, map[string]string{".env": "REVERB_APP_ID=1\nREVERB_APP_SECRET=s\n"})
	_, err = Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
	if err == nil || !strings.Contains(err.Error(), "missing key (REVERB_APP_KEY is not set") {
		t.Errorf("error %v", err)
	}
	// With SkipReverbSettings the project loads and says why.
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil), SkipReverbSettings: true})
	if err != nil || p.SettingsErr == nil || !strings.Contains(p.SettingsErr.Error(), "missing key") {
		t.Errorf("p %v err %v", p, err)
	}
}

func TestTCPOptions(t *testing.T) {
	conf := func(options string) map[string]string {
		return map[string]string{".env": baseEnv, "config/reverb.php": "<?php return ['servers' => ['reverb' => ['port' => 8080, 'options' => " + options + "]]];"}
	}
	tr := true
	tests := []struct {
		options string
		want    TCPOptions
		ignored string
	}{
		{"['tls' => []]", TCPOptions{}, ""},
		{"['tcp' => ['backlog' => '2048', 'so_reuseport' => 1, 'ipv6_v6only' => true]]", TCPOptions{Backlog: 2048, ReusePort: true, IPv6Only: &tr}, ""},
		{"['tcp' => ['backlog' => null, 'tcp_nodelay' => true, 'bindto' => '0:0'], 'unix' => [], 'dns' => null]", TCPOptions{}, "tcp.tcp_nodelay tcp.bindto unix"},
	}
	for _, tc := range tests {
		p, err := Load(LoadOptions{Dir: project(t, conf(tc.options)), LookupEnv: noEnv(nil)})
		if err != nil {
			t.Fatalf("%s: %v", tc.options, err)
		}
		got := p.Reverb.Server.TCP
		if got.Backlog != tc.want.Backlog || got.ReusePort != tc.want.ReusePort || (got.IPv6Only == nil) != (tc.want.IPv6Only == nil) {
			t.Errorf("%s: %+v", tc.options, got)
		}
		if strings.Join(p.Reverb.Server.IgnoredOptions, " ") != tc.ignored {
			t.Errorf("%s: ignored %q, want %q", tc.options, p.Reverb.Server.IgnoredOptions, tc.ignored)
		}
	}
	for _, bad := range []string{"['tcp' => 'yes']", "['tcp' => ['backlog' => 'lots']]", "['tcp' => ['backlog' => -1]]"} {
		if _, err := Load(LoadOptions{Dir: project(t, conf(bad)), LookupEnv: noEnv(nil)}); err == nil || !strings.Contains(err.Error(), "reverb.servers.reverb.options.tcp") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
}

// An app_id or key set but empty is refused, naming the variable, where it
// is set and the fix; a wrong value from env() names its variable too.
func TestEmptyCredentialAndEnvOrigin(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		real  map[string]string
		want  string
	}{
		{"empty key in .env", map[string]string{".env": "APP_NAME=Laravel\nREVERB_APP_ID=1\nREVERB_APP_KEY=\nREVERB_APP_SECRET=s\n"}, nil,
			"Reverb's default config/reverb.php (not published): reverb.apps.apps.0.key: empty (from REVERB_APP_KEY on line 3 of .env; " +
				"set REVERB_APP_KEY, or delete that line and run ./reverb install to generate it)"},
		{"empty app_id in the environment", map[string]string{".env": "REVERB_APP_ID=1\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s\n"}, map[string]string{"REVERB_APP_ID": ""},
			"reverb.apps.apps.0.app_id: empty (from REVERB_APP_ID in the environment; set REVERB_APP_ID to a non-empty value)"},
		{"empty key written in config/reverb.php", map[string]string{".env": baseEnv,
			"config/reverb.php": `<?php return ['apps' => ['apps' => [['app_id' => 1, 'key' => '', 'secret' => 's', 'allowed_origins' => ['*'], 'ping_interval' => 60, 'max_message_size' => 100]]]];`}, nil,
			"config/reverb.php: reverb.apps.apps.0.key: empty (give the app a non-empty app_id and key in config/reverb.php)"},
		{"port from REVERB_SERVER_PORT", map[string]string{".env": baseEnv + "REVERB_SERVER_PORT=80a\n"}, nil,
			`reverb.servers.reverb.port: "80a" is not numeric (from REVERB_SERVER_PORT on line 5 of .env)`},
		{"port from a variable of the app's own", map[string]string{".env": baseEnv + "\nMY_PORT=99999\n",
			"config/reverb.php": `<?php return ['servers' => ['reverb' => ['port' => env('MY_PORT', 8080)]]];`}, nil,
			`config/reverb.php: reverb.servers.reverb.port: 99999 is not a TCP port (from MY_PORT on line 6 of .env)`},
		{"an empty app_id from the app's own variable names no other empty one", map[string]string{".env": baseEnv + "DB_PASSWORD=\n",
			"config/reverb.php": `<?php return ['apps' => ['apps' => [['app_id' => env('MY_APP_ID', ''), 'key' => env('DB_PASSWORD', 'k'), 'secret' => 's', 'allowed_origins' => ['*'], 'ping_interval' => 60, 'max_message_size' => 100]]]];`}, nil,
			"config/reverb.php: reverb.apps.apps.0.app_id: empty (give the app a non-empty app_id and key in config/reverb.php)"},
		{"literal port names no variable", map[string]string{".env": baseEnv + "REVERB_SERVER_PORT=8080\n",
			"config/reverb.php": `<?php return ['servers' => ['reverb' => ['port' => '80a']]];`}, nil,
			`config/reverb.php: reverb.servers.reverb.port: "80a" is not numeric`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := project(t, c.files)
			_, err := Load(LoadOptions{Dir: dir, LookupEnv: envOf(c.real)})
			if err == nil || !strings.HasSuffix(err.Error(), c.want) {
				t.Errorf("err = %v\nwant …%s", err, c.want)
			}
			p, err := Load(LoadOptions{Dir: dir, LookupEnv: envOf(c.real), SkipReverbSettings: true})
			if err != nil || p.SettingsErr == nil || !strings.HasSuffix(p.SettingsErr.Error(), c.want) {
				t.Errorf("SkipReverbSettings: %v, %v", p.SettingsErr, err)
			}
		})
	}
}

// A server value only PHP can compute says what to do, and is not also
// listed as an unused value; once config:cache has computed it, it loads.
func TestNeedsPHPSaysWhatToDo(t *testing.T) {
	files := map[string]string{".env": baseEnv + "REVERB_SERVER_PORT=9100\n",
		"config/reverb.php": "<?php return ['servers' => ['reverb' => [\n'port' => config('services.reverb.port', env('REVERB_SERVER_PORT', 8080)),\n]]];"}
	dir := project(t, files)
	want := "config/reverb.php: reverb.servers.reverb.port: cannot be computed without PHP (config/reverb.php:2: unsupported construct call to config()). " +
		"Write that value in config/reverb.php with env() or as a literal, as Reverb's published file does, or run php artisan config:cache: " +
		"reverb then reads bootstrap/cache/config.php, where PHP has computed every value (run it again after each change to .env or config/)"
	if _, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)}); err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil), SkipReverbSettings: true})
	if err != nil || p.SettingsErr == nil || p.SettingsErr.Error() != want {
		t.Fatalf("SkipReverbSettings: %v, %v", p.SettingsErr, err)
	}
	for _, w := range p.Warnings {
		if strings.Contains(w, "reverb.servers.reverb.port: not computed") {
			t.Errorf("the failing value is also a warning: %q", w)
		}
	}
	// What php artisan config:cache writes: the values computed.
	files["bootstrap/cache/config.php"] = "<?php return ['reverb' => ['servers' => ['reverb' => ['port' => 9100]], 'apps' => ['apps' => [" +
		"['app_id' => '1', 'key' => 'k', 'secret' => 's', 'allowed_origins' => ['*'], 'ping_interval' => 60, 'max_message_size' => 100]]]]];"
	p, err = Load(LoadOptions{Dir: project(t, files), LookupEnv: noEnv(nil)})
	if err != nil || p.Reverb.Server.Port != 9100 {
		t.Errorf("config cache: %v %+v", err, p)
	}
}
