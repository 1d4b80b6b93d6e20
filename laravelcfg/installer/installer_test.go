package installer

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// seeded makes the generated credentials reproducible.
func seeded() *rand.ChaCha8 { return rand.NewChaCha8([32]byte{'r', 'e', 'v', 'e', 'r', 'b'}) }

// newProject copies one testdata case into a fresh Laravel-looking folder.
func newProject(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", name)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "artisan"), []byte("#!/usr/bin/env php\n"), 0o755))
	copyIf := func(from, to string) {
		if b, err := os.ReadFile(filepath.Join(src, from)); err == nil {
			must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, to)), 0o755))
			must(t, os.WriteFile(filepath.Join(dir, to), b, 0o644))
		}
	}
	copyIf("env", ".env")
	copyIf("env.example", ".env.example")
	copyIf("broadcasting.php", "config/broadcasting.php")
	copyIf("app.php", "config/app.php")
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestInstallGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata")
	must(t, err)
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			dir := newProject(t, c.Name())
			res, err := Install(Options{Dir: dir, Rand: seeded()})
			must(t, err)
			env, err := os.ReadFile(filepath.Join(dir, ".env"))
			must(t, err)
			golden(t, filepath.Join("testdata", c.Name(), "want.env"), env)
			report := strings.Join(res.Changes, "\n") + "\n--\n" + strings.Join(res.Notes, "\n") + "\n"
			golden(t, filepath.Join("testdata", c.Name(), "want.changes"), []byte(report))
			if b, err := os.ReadFile(filepath.Join(dir, "config", "broadcasting.php")); err == nil {
				golden(t, filepath.Join("testdata", c.Name(), "want.broadcasting.php"), b)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "config", "app.php")); err == nil {
				golden(t, filepath.Join("testdata", c.Name(), "want.app.php"), b)
			}
			published, err := os.ReadFile(filepath.Join(dir, "config", "reverb.php"))
			must(t, err)
			if !bytes.Equal(published, DefaultReverbConfig()) {
				t.Error("config/reverb.php is not the default")
			}

			// A second run with other randomness changes nothing.
			snap := snapshot(t, dir)
			res2, err := Install(Options{Dir: dir})
			must(t, err)
			if len(res2.Changes) != 0 {
				t.Errorf("second run changed %v", res2.Changes)
			}
			if after := snapshot(t, dir); !equalSnap(snap, after) {
				t.Error("second run modified files")
			}
			checkWithPHPDotenv(t, dir)
		})
	}
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	must(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = string(b) + "|" + fi.ModTime().String()
		}
		return err
	}))
	return out
}

func equalSnap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// checkWithPHPDotenv loads the written .env with the real phpdotenv and
// checks the Reverb values are what a Laravel app would read.
func checkWithPHPDotenv(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("php"); err != nil {
		t.Log("php not installed: .env not checked with phpdotenv")
		return
	}
	script := `require 'Dotenv/autoload.php';
$d = Dotenv\Dotenv::createArrayBacked($argv[1]);
echo json_encode($d->load());`
	out, err := exec.Command("php", "-r", script, dir).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("Failed opening required")) {
			t.Log("phpdotenv not installed: .env not checked")
			return
		}
		t.Fatalf("phpdotenv rejected the .env: %v\n%s", err, out)
	}
	var vars map[string]string
	must(t, json.Unmarshal(out, &vars))
	for _, k := range []string{"REVERB_APP_ID", "REVERB_APP_KEY", "REVERB_APP_SECRET", "REVERB_HOST", "REVERB_PORT", "REVERB_SCHEME"} {
		if vars[k] == "" {
			t.Errorf("phpdotenv: %s is empty", k)
		}
	}
	for _, k := range []string{"REVERB_APP_KEY", "REVERB_HOST", "REVERB_PORT", "REVERB_SCHEME"} {
		if vars["VITE_"+k] != vars[k] {
			t.Errorf("phpdotenv: VITE_%s=%q, %s=%q", k, vars["VITE_"+k], k, vars[k])
		}
	}
	if vars["BROADCAST_CONNECTION"] != "reverb" && vars["BROADCAST_DRIVER"] != "reverb" {
		t.Errorf("phpdotenv: broadcaster not reverb: %v", vars)
	}
}

func TestRefusesNonLaravelDir(t *testing.T) {
	_, err := Install(Options{Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "no artisan") {
		t.Fatalf("err %v", err)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	dir := newProject(t, "fresh")
	before := snapshot(t, dir)
	res, err := Install(Options{Dir: dir, DryRun: true})
	must(t, err)
	if len(res.Changes) == 0 {
		t.Fatal("dry run found nothing to do")
	}
	if !equalSnap(before, snapshot(t, dir)) {
		t.Fatal("dry run wrote files")
	}
}

func TestSymlinkedEnvStaysASymlink(t *testing.T) {
	dir := newProject(t, "fresh")
	shared := filepath.Join(t.TempDir(), "shared.env")
	must(t, os.Rename(filepath.Join(dir, ".env"), shared))
	must(t, os.Symlink(shared, filepath.Join(dir, ".env")))
	_, err := Install(Options{Dir: dir})
	must(t, err)
	fi, err := os.Lstat(filepath.Join(dir, ".env"))
	must(t, err)
	if fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal(".env symlink replaced by a file")
	}
	b, _ := os.ReadFile(shared)
	if !bytes.Contains(b, []byte("\nREVERB_APP_KEY=")) {
		t.Fatal("shared .env not updated")
	}
}

func TestCredentialsFormat(t *testing.T) {
	idRe := regexp.MustCompile(`^[1-9][0-9]{5}$`)
	keyRe := regexp.MustCompile(`^[a-z0-9]{20}$`)
	letters, digits := 0, 0
	for i := 0; i < 500; i++ {
		c, err := NewCredentials(nil2rand())
		must(t, err)
		if !idRe.MatchString(c.AppID) || !keyRe.MatchString(c.Key) || !keyRe.MatchString(c.Secret) {
			t.Fatalf("bad credentials %+v", c)
		}
		if c.Key == c.Secret {
			t.Fatal("key equals secret")
		}
		for _, r := range c.Key + c.Secret {
			if r >= '0' && r <= '9' {
				digits++
			} else {
				letters++
			}
		}
	}
	// Str::random keeps [A-Za-z0-9] uniformly; lowercased, letters are
	// 52/62 of the characters (about 5.2 letters per digit).
	ratio := float64(letters) / float64(digits)
	if ratio < 4.5 || ratio > 6 {
		t.Fatalf("letter/digit ratio %.2f, want about 5.2", ratio)
	}
}

func nil2rand() *rand.ChaCha8 {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.IntN(256))
	}
	return rand.NewChaCha8(seed)
}

func TestHasKey(t *testing.T) {
	tests := []struct {
		env  string
		key  string
		want bool
	}{
		{"A=1\nREVERB_HOST=x\n", "REVERB_HOST", true},
		{"REVERB_HOST=x\n", "REVERB_HOST", true}, // first line: Reverb misses it
		{"A=1\nexport REVERB_HOST=x\n", "REVERB_HOST", true},
		{"A=1\n#REVERB_HOST=x\n", "REVERB_HOST", false},
		{"A=1\nVITE_REVERB_HOST=x\n", "REVERB_HOST", false},
		{"A=1\r\nREVERB_HOST=x\r\n", "REVERB_HOST", true},
	}
	for _, tc := range tests {
		if got := HasKey([]byte(tc.env), tc.key); got != tc.want {
			t.Errorf("HasKey(%q, %q) = %v", tc.env, tc.key, got)
		}
	}
}

func TestSetBroadcastConnection(t *testing.T) {
	tests := []struct{ in, addKey, want string }{
		{"BROADCAST_CONNECTION=log\n", "BROADCAST_CONNECTION", "BROADCAST_CONNECTION=reverb\n"},
		{"BROADCAST_CONNECTION=\"log\"\r\nX=1\r\n", "BROADCAST_CONNECTION", "BROADCAST_CONNECTION=reverb\r\nX=1\r\n"},
		{"BROADCAST_DRIVER=pusher", "BROADCAST_CONNECTION", "BROADCAST_DRIVER=reverb"},
		{"# BROADCAST_DRIVER=pusher\n", "BROADCAST_DRIVER", "# BROADCAST_DRIVER=pusher\nBROADCAST_DRIVER=reverb\n"},
		{"X=1", "BROADCAST_CONNECTION", "X=1\nBROADCAST_CONNECTION=reverb\n"},
		{"BROADCAST_CONNECTION=reverb\n", "BROADCAST_CONNECTION", "BROADCAST_CONNECTION=reverb\n"},
		{"MY_BROADCAST_CONNECTION=x\n", "BROADCAST_CONNECTION", "MY_BROADCAST_CONNECTION=x\nBROADCAST_CONNECTION=reverb\n"},
	}
	for _, tc := range tests {
		got, _ := SetBroadcastConnection([]byte(tc.in), tc.addKey)
		if string(got) != tc.want {
			t.Errorf("SetBroadcastConnection(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDefaultConfigMatchesExample keeps the embedded copy equal to the
// bundled example app's config/reverb.php (go:embed cannot reach it).
func TestDefaultConfigMatchesExample(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "laravel", "config", "reverb.php"))
	must(t, err)
	if !bytes.Equal(example, DefaultReverbConfig()) {
		t.Fatal("laravelcfg/defaults/reverb.php differs from examples/laravel/config/reverb.php: copy it over")
	}
}

func FuzzAppendReverbVariables(f *testing.F) {
	f.Add([]byte("APP_NAME=x\nREVERB_HOST=y"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, env []byte) {
		c := Credentials{AppID: "123456", Key: "k", Secret: "s"}
		once, _ := AppendReverbVariables(env, c)
		twice, added := AppendReverbVariables(once, c)
		if !bytes.Equal(once, twice) || len(added) != 0 {
			t.Fatalf("not idempotent: %q then added %v", once, added)
		}
		if !bytes.HasPrefix(once, env) {
			t.Fatal("existing content changed")
		}
	})
}
