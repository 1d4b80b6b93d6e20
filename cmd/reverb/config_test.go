package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runConfigCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runConfig(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestConfigHuman(t *testing.T) {
	out, errOut, code := runConfigCmd(t, "--dir", "../../examples/laravel")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Laravel:       12 (composer.json constraint ^12.0)",
		"Files read:    .env, config/reverb.php",
		"port:                 8080",
		"app_id 123456",
		"secret:                    re*********et",
		"accept_client_events_from: members",
		"cache store:          file",
		"4fe44729b03e0a0a2586ebe0d445f50c083d0ff3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "reverb-secret") {
		t.Errorf("secret printed unmasked")
	}
	out, _, _ = runConfigCmd(t, "--dir=../../examples/laravel", "--show-secrets")
	if !strings.Contains(out, "reverb-secret") {
		t.Errorf("--show-secrets did not show the secret")
	}
}

func TestConfigJSON(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--json", "reverb.apps.apps.0.key"}, `"reverb-key"` + "\n"},
		{[]string{"--json", "reverb.servers.reverb.port"}, "8080\n"},
		{[]string{"--json=reverb.apps.apps.0.options"}, `{"host":"localhost","port":"8080","scheme":"http","useTLS":false}` + "\n"},
		{[]string{"--json", "cache.default"}, `"file"` + "\n"},
		{[]string{"--json", "reverb.apps.apps.0.allowed_origins"}, `["*"]` + "\n"},
		{[]string{"--json", "nope.nothing"}, "null\n"},
	}
	for _, c := range cases {
		out, errOut, code := runConfigCmd(t, append([]string{"--dir", "../../examples/laravel"}, c.args...)...)
		if code != 0 || out != c.want {
			t.Errorf("%v: exit %d out %q (stderr %q), want %q", c.args, code, out, errOut, c.want)
		}
	}
	out, _, code := runConfigCmd(t, "--dir", "../../examples/laravel", "--json")
	if code != 0 || !strings.HasPrefix(out, `{"reverb":{"default":"reverb"`) {
		t.Errorf("whole config: exit %d %.80s", code, out)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := writeProject(t, "")
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config", "reverb.php"), []byte("<?php\nreturn [\n  'servers' => ['reverb' => ['port' => 'abc']],\n];\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// What Laravel resolves is shown, then why reverb start refuses it.
	out, errOut, code := runConfigCmd(t, "--dir", dir)
	if code != 1 || !strings.Contains(out, "reverb.servers.reverb.port") || !strings.Contains(out, "abc") ||
		!strings.Contains(out, `Problems
  - reverb start refuses this configuration: config/reverb.php: reverb.servers.reverb.port: "abc" is not numeric`) {
		t.Errorf("exit %d stderr %q stdout:\n%s", code, errOut, out)
	}
	_, errOut, code = runConfigCmd(t, "--dir", filepath.Join(dir, "missing"))
	if code != 1 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("missing dir: exit %d stderr %q", code, errOut)
	}
	_, _, code = runConfigCmd(t, "--bogus")
	if code != 2 {
		t.Errorf("unknown option: exit %d", code)
	}
}

func TestMask(t *testing.T) {
	cases := map[string]string{"": "", "abc": "***", "reverb-secret": "re*********et", "1234567": "12***67"}
	for in, want := range cases {
		if got := mask(in, false); got != want {
			t.Errorf("mask(%q) = %q, want %q", in, got, want)
		}
	}
	if got := maskURL("redis://user:hunter22@h:6379", false); got != "redis://user:hu****22@h:6379" {
		t.Errorf("maskURL = %q", got)
	}
}

// A store's own warnings are printed beside the flag location.
func TestConfigStoreWarnings(t *testing.T) {
	dir := writeProject(t, "CACHE_STORE=memcached\n")
	cache := `<?php return ['stores' => ['memcached' => ['driver' => 'memcached', 'options' => [1 => 'x'], 'servers' => [['host' => '127.0.0.1', 'port' => 11211, 'weight' => 100]]]]];`
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config", "cache.php"), []byte(cache), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runConfigCmd(t, "--dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "  warning:              config cache.stores.memcached.options sets Memcached options") {
		t.Errorf("output lacks the store warning:\n%s", out)
	}
}

// An empty REVERB_APP_KEY is a problem for config and doctor, and start
// refuses it before it says it is starting, each naming the .env line and
// the fix.
func TestEmptyAppKeySaidByEveryCommand(t *testing.T) {
	dir := writeProject(t, "REVERB_APP_KEY=\nCACHE_STORE=file\n")
	want := "reverb.apps.apps.0.key: empty (from REVERB_APP_KEY on line 5 of .env; set REVERB_APP_KEY, or delete that line and run ./reverb install to generate it)"
	out, errOut, code := runCLI("config", "--dir", dir)
	if code != 1 || !strings.Contains(out, "Problems\n  - reverb start refuses this configuration: ") || !strings.Contains(out, want) {
		t.Errorf("config: exit %d stderr %q\n%s", code, errOut, out)
	}
	out, errOut, code = runCLI("doctor", "--dir", dir, "--no-snippets")
	if code != 1 || !strings.Contains(out, "PROBLEM") || !strings.Contains(out, want) || strings.Contains(out, "No problems found") {
		t.Errorf("doctor: exit %d stderr %q\n%s", code, errOut, out)
	}
	out, errOut, code = runCLI("start", "--dir", dir, "--host", "127.0.0.1", "--port", "19011", "--workers", "0")
	if code != 1 || !strings.Contains(out+errOut, want) || strings.Contains(out+errOut, "Starting server") {
		t.Errorf("start: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

// A wrong value read through env() names its variable and .env line.
func TestBadPortNamesItsVariable(t *testing.T) {
	dir := writeProject(t, "CACHE_STORE=file\nREVERB_SERVER_PORT=80a\n")
	want := `reverb.servers.reverb.port: "80a" is not numeric (from REVERB_SERVER_PORT on line 6 of .env)`
	out, errOut, code := runCLI("config", "--dir", dir)
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("config: exit %d stderr %q\n%s", code, errOut, out)
	}
	out, errOut, code = runCLI("start", "--dir", dir, "--workers", "0")
	if code != 1 || !strings.Contains(out+errOut, want) || strings.Contains(out+errOut, "Starting server") {
		t.Errorf("start: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

// A server value only PHP computes is one problem with its fix, not also a
// warning calling it unused.
func TestConfigNeedsPHPOnce(t *testing.T) {
	dir := writeProject(t, "CACHE_STORE=file\n")
	writeFile(t, filepath.Join(dir, "config", "reverb.php"), "<?php return ['servers' => ['reverb' => ['port' => config('services.reverb.port', 8080)]]];")
	out, errOut, code := runCLI("config", "--dir", dir)
	if code != 1 || strings.Count(out, "reverb.servers.reverb.port") != 2 || // the row, the problem
		!strings.Contains(out, "  - reverb start refuses this configuration: config/reverb.php: reverb.servers.reverb.port: cannot be computed without PHP") ||
		!strings.Contains(out, "or run php artisan config:cache") || strings.Contains(out, "unused by the server") {
		t.Errorf("exit %d stderr %q\n%s", code, errOut, out)
	}
}
