package phpeval

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
)

// envSets are the environments every golden config file is evaluated
// under, by phpeval and by real PHP. Values are raw strings as .env
// parsing leaves them; env() conversions apply on both sides.
var envSets = map[string]map[string]string{
	"empty": {},
	"installer": {
		"APP_NAME": "Laravel", "APP_ENV": "local", "APP_URL": "http://localhost",
		"REVERB_APP_ID": "123456", "REVERB_APP_KEY": "abcdefghijklmnopqrst", "REVERB_APP_SECRET": "tsrqponmlkjihgfedcba",
		"REVERB_HOST": "localhost", "REVERB_PORT": "8080", "REVERB_SCHEME": "http",
		"CACHE_STORE": "file", "DB_CONNECTION": "sqlite", "REDIS_PASSWORD": "null",
	},
	"odd": {
		"APP_NAME": "My Café App@Work", "APP_ENV": "production", "APP_URL": "https://app.example.com/",
		"REVERB_SERVER_PORT": "'9000'", "REVERB_SCALING_ENABLED": "true", "REVERB_SCHEME": "https",
		"REDIS_URL": "rediss://user:pa%40ss@redis.example.com:6380/2", "REDIS_PASSWORD": "(null)",
		"CACHE_PREFIX": "", "CACHE_DRIVER": "redis", "CACHE_STORE": "redis", "REDIS_CACHE_DB": "3",
		"REVERB_ALLOWED_ORIGINS":     "https://a.example.com, B.example.com,,*.c.example.com ",
		"REVERB_APP_MAX_CONNECTIONS": "empty", "REVERB_APP_ACTIVITY_TIMEOUT": "\"45\"",
		"REVERB_APP_KEY_2": "key-two", "REVERB_APP_SECRET_2": "secret-two", "REVERB_APP_ID_2": "222222",
		"REVERB_APP_RATE_LIMITING_ENABLED": "TRUE", "REVERB_APP_RATE_LIMIT_TERMINATE": "(false)",
		"LARAVEL_STORAGE_PATH": "/srv/storage", "DB_CONNECTION": "mysql", "MYSQL_ATTR_SSL_CA": "/etc/ca.pem",
		"REVERB_TLS_CERT_PATH": "/etc/cert.pem", "MODE": "a", "REDIS_PREFIX": "",
		"REVERB_MAX_REQUEST_SIZE": "1_000", "REVERB_APP_PING_INTERVAL": " 30",
	},
}

func phpPath(t *testing.T) string {
	t.Helper()
	// env() and Str::slug are the oracle.
	return phptest.RequireClasses(t, `Illuminate\Support\Str`, `Illuminate\Support\Env`)
}

// goldenFiles lists the config files the golden tests evaluate: the
// fixtures in testdata/configs and the embedded framework defaults of
// laravelcfg/defaults (evaluated in place, so they need no copies here).
func goldenFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"testdata/configs/*.php", "../defaults/*/*.php"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	return files
}

// goldenName names a golden file in subtest names ("l10-cache.php",
// "defaults-12-cache.php").
func goldenName(file string) string {
	if rest, ok := strings.CutPrefix(filepath.ToSlash(file), "../defaults/"); ok {
		return "defaults-" + strings.ReplaceAll(rest, "/", "-")
	}
	return filepath.Base(file)
}

// TestGoldenAgainstPHP evaluates every testdata/configs file under every
// env set with phpeval and with real PHP, and compares json_encode output.
func TestGoldenAgainstPHP(t *testing.T) {
	phpBin := phpPath(t)
	files := goldenFiles(t)
	names := make([]string, 0, len(envSets))
	for n := range envSets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, file := range files {
		for _, envName := range names {
			env := envSets[envName]
			t.Run(goldenName(file)+"/"+envName, func(t *testing.T) {
				res, err := EvalFile(file, Options{BasePath: "/base", Getenv: mapEnv(env)})
				if err != nil {
					t.Fatalf("phpeval: %v", err)
				}
				got, err := php.EncodeJSON(res.Value, php.JSONOptions{})
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				cmd := exec.Command(phpBin, "testdata/oracle.php", file)
				cmd.Env = envList(env)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				want, err := cmd.Output()
				if err != nil {
					t.Fatalf("php: %v\n%s", err, stderr.String())
				}
				if !bytes.Equal(got, want) {
					t.Errorf("phpeval and PHP differ\n go: %s\nphp: %s\nfirst difference at byte %d", got, want, firstDiff(got, want))
				}
			})
		}
	}
}

// TestConfigCacheRoundTrip has PHP write each golden result the way
// config:cache does (var_export) and checks phpeval reads it back to the
// same JSON.
func TestConfigCacheRoundTrip(t *testing.T) {
	phpBin := phpPath(t)
	for _, file := range goldenFiles(t) {
		t.Run(goldenName(file), func(t *testing.T) {
			env := envSets["odd"]
			run := func(args ...string) []byte {
				cmd := exec.Command(phpBin, append([]string{"testdata/oracle.php", file}, args...)...)
				cmd.Env = envList(env)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("php: %v\n%s", err, stderr.String())
				}
				return out
			}
			exported := run("var_export")
			want := run()
			res, err := Eval(exported, Options{File: "bootstrap/cache/config.php"})
			if err != nil {
				t.Fatalf("phpeval on var_export output: %v\n%s", err, exported)
			}
			got, err := php.EncodeJSON(res.Value, php.JSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("differ\n go: %s\nphp: %s", got, want)
			}
		})
	}
}

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestGoldenFilesParse keeps the fixtures evaluable without PHP too.
func TestGoldenFilesParse(t *testing.T) {
	for _, f := range goldenFiles(t) {
		res, err := EvalFile(f, Options{BasePath: "/base", Getenv: mapEnv(envSets["installer"])})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if res.Value.Kind() != php.Array {
			t.Errorf("%s: returned %s", f, res.Value.TypeName())
		}
		if _, err := php.EncodeJSON(res.Value, php.JSONOptions{}); err != nil && !strings.Contains(err.Error(), "not computable") {
			t.Errorf("%s: %v", f, err)
		}
	}
}
