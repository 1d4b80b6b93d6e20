package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writeProject makes a minimal Laravel 11 project whose .env selects the
// cache store.
func writeProject(t *testing.T, env string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"artisan":       "#!/usr/bin/env php\n<?php\n",
		"composer.json": `{"require": {"laravel/framework": "^11.0", "laravel/reverb": "^1.0"}}`,
		".env":          "APP_NAME=Laravel\nREVERB_APP_ID=1\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s\n" + env,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runRestartCmd(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := runRestart(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestRestartWritesFileFlag(t *testing.T) {
	dir := writeProject(t, "CACHE_STORE=file\n")
	out, errOut, code := runRestartCmd("--dir", dir, "-v")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "\n   INFO  Broadcasting Reverb restart signal.\n\n") {
		t.Errorf("output %q", out)
	}
	if !strings.Contains(out, "file storage/framework/cache/data/4f/e4/4fe44729b03e0a0a2586ebe0d445f50c083d0ff3 (relative to project)") {
		t.Errorf("-v output lacks the location: %q", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "storage/framework/cache/data/4f/e4/4fe44729b03e0a0a2586ebe0d445f50c083d0ff3"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^9999999999i:[0-9]{10};$`).Match(b) {
		t.Errorf("flag file %q", b)
	}
}

func TestRestartErrors(t *testing.T) {
	tests := []struct {
		name, env, want string
	}{
		{"array store", "CACHE_STORE=array\n", "cannot reach a running server"},
		{"sqlite not migrated", "CACHE_STORE=database\n", "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runRestartCmd("--dir", writeProject(t, tc.env))
			if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d out %q stderr %q, want exit 1 and %q", code, out, errOut, tc.want)
			}
		})
	}
	if _, _, code := runRestartCmd("extra"); code != 2 {
		t.Errorf("unexpected argument: exit %d", code)
	}
}

// reverb:restart needs only the cache config: a config/reverb.php the
// server could not start with does not stop the signal.
func TestRestartIgnoresBrokenReverbConfig(t *testing.T) {
	dir := writeProject(t, "CACHE_STORE=file\n")
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config", "reverb.php"), []byte("<?php return ['servers' => ['reverb' => ['port' => 'abc']]];"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runRestartCmd("--dir", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "storage/framework/cache/data/4f/e4/4fe44729b03e0a0a2586ebe0d445f50c083d0ff3")); err != nil {
		t.Errorf("flag not written: %v", err)
	}
}
