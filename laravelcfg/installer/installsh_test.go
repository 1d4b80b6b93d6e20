//go:build unix

package installer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// These tests drive the repository's install.sh (it installs the binary that
// `reverb install` then runs in the project, hence its home here).

func installSh(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "install.sh"))
	must(t, err)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("install.sh not found: %v", err)
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	return p
}

func runSh(t *testing.T, cwd string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("sh", args...)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestInstallShRefusals(t *testing.T) {
	script := installSh(t)
	laravel := t.TempDir()
	must(t, os.WriteFile(filepath.Join(laravel, "artisan"), []byte("#!/usr/bin/env php\n"), 0o755))
	plain := t.TempDir()
	tests := []struct {
		name string
		cwd  string
		env  []string
		args []string
		code int
		want string
	}{
		{"no argument outside a Laravel project", plain, nil, nil, 2, "no artisan file"},
		{"not a Laravel project", plain, nil, []string{plain}, 1, "has no artisan file"},
		{"missing directory", plain, nil, []string{filepath.Join(plain, "nope")}, 1, "no such directory"},
		{"no Go toolchain", plain, []string{"GO=/nonexistent/go"}, []string{laravel}, 1, "no Go toolchain found"},
		{"help", plain, nil, []string{"--help"}, 0, "Usage: ./install.sh [LARAVEL_DIR]"},
		{"too many arguments", plain, nil, []string{"a", "b"}, 2, "Usage:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runSh(t, tc.cwd, tc.env, append([]string{script}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want %d; output lacks %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(laravel, "reverb")); err == nil {
		t.Fatal("a binary was installed although Go was missing")
	}
}

func TestInstallShBuildsAndReplaces(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole binary; skipped with -short")
	}
	script := installSh(t)
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no Go toolchain on PATH")
	}
	laravel := t.TempDir()
	must(t, os.WriteFile(filepath.Join(laravel, "artisan"), []byte("#!/usr/bin/env php\n"), 0o755))

	// Default target: the current directory when it holds artisan.
	out, code := runSh(t, laravel, nil, script)
	if code != 0 {
		t.Fatalf("install.sh failed (%d):\n%s", code, out)
	}
	bin := filepath.Join(laravel, "reverb")
	first, err := os.Stat(bin)
	must(t, err)
	if first.Mode().Perm()&0o111 == 0 {
		t.Fatalf("binary not executable: %v", first.Mode())
	}
	help, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(help), "reverb <command> [options]") {
		t.Fatalf("installed binary does not run: %v\n%s", err, help)
	}

	// Again, with the folder as an argument: replaced by rename (new inode),
	// no temporary files left behind.
	out, code = runSh(t, t.TempDir(), nil, script, laravel)
	if code != 0 {
		t.Fatalf("second install.sh failed (%d):\n%s", code, out)
	}
	second, err := os.Stat(bin)
	must(t, err)
	if a, b := first.Sys().(*syscall.Stat_t), second.Sys().(*syscall.Stat_t); a != nil && b != nil && a.Ino == b.Ino {
		t.Error("binary rewritten in place instead of replaced atomically")
	}
	entries, _ := os.ReadDir(laravel)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".reverb.build") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
