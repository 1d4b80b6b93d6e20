//go:build unix

package installer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
	return runShell(t, []string{"sh"}, cwd, env, args...)
}

// runShell runs install.sh under the given shell command line.
func runShell(t *testing.T, shell []string, cwd string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(shell[0], append(shell[1:], args...)...)
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
		{"no Go toolchain points at --download", plain, []string{"GO=/nonexistent/go"}, []string{laravel}, 1, "./install.sh --download " + laravel},
		{"unknown option", plain, nil, []string{"--frobnicate", laravel}, 2, "unknown option --frobnicate"},
		{"--version without a value", plain, nil, []string{"--version"}, 2, "--version needs a value"},
		{"--version with --source", plain, nil, []string{"--source", "--version", "v1.2.3", laravel}, 2, "cannot be combined with --source"},
		{"help", plain, nil, []string{"--help"}, 0, "Usage: ./install.sh [--download [--version vX.Y.Z] | --source] [LARAVEL_DIR]"},
		{"too many arguments", plain, nil, []string{"a", "b"}, 2, "Usage:"},
	}
	for _, shell := range shells(t) {
		for _, tc := range tests {
			t.Run(strings.Join(shell, " ")+"/"+tc.name, func(t *testing.T) {
				out, code := runShell(t, shell, tc.cwd, tc.env, append([]string{script}, tc.args...)...)
				if code != tc.code || !strings.Contains(out, tc.want) {
					t.Fatalf("exit %d, want %d; output lacks %q:\n%s", code, tc.code, tc.want, out)
				}
			})
		}
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
	if err != nil || !strings.Contains(string(help), "Usage: reverb") {
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

// shells are the interpreters install.sh must work under on Linux, standing
// in for macOS's /bin/sh (bash 3.2 in POSIX mode): Debian's sh (dash, which
// knows nothing beyond POSIX) and bash --posix; BusyBox's ash when present.
func shells(t *testing.T) [][]string {
	t.Helper()
	var out [][]string
	for _, s := range [][]string{{"sh"}, {"bash", "--posix"}, {"busybox", "sh"}} {
		if _, err := exec.LookPath(s[0]); err == nil {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		t.Skip("no POSIX shell")
	}
	return out
}

// TestInstallShLint runs shellcheck in POSIX sh mode, which reports every
// bash-only construct (arrays, [[ ]], ${var,,}, mapfile, local ...) that
// macOS's bash 3.2 or dash would trip over.
func TestInstallShLint(t *testing.T) {
	script := installSh(t)
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck not installed (apt-get install shellcheck)")
	}
	out, err := exec.Command("shellcheck", "--shell=sh", "--severity=style", script).CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
	// GNU-only flags that BSD tools on macOS reject.
	src, _ := os.ReadFile(script)
	for _, bad := range []string{"sed -i", "readlink -f", "stat -c", "mktemp --", "grep -P", "\\?", "sha256sum -c", "tar --", "date -d"} {
		if bytes.Contains(src, []byte(bad)) {
			t.Errorf("install.sh uses %q, which macOS's BSD tools do not have", bad)
		}
	}
}

// fakeRelease lays out a folder like https://github.com/reverb-go/reverb/releases
// (download/<tag>/<file>, latest/download/<file>) with archives whose
// "reverb" is a script printing its name, for REVERB_DOWNLOAD_URL=file://.
func fakeRelease(t *testing.T, latest string, versions ...string) string {
	t.Helper()
	base := t.TempDir()
	for _, v := range versions {
		dir := filepath.Join(base, "download", v)
		must(t, os.MkdirAll(dir, 0o755))
		var sums strings.Builder
		for _, plat := range []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64"} {
			name := fmt.Sprintf("reverb_%s_%s.tar.gz", strings.TrimPrefix(v, "v"), plat)
			bin := fmt.Sprintf("#!/bin/sh\necho 'reverb %s %s'\n", v, plat)
			data := tarGz(t, map[string]string{"reverb": bin, "LICENSE": "MIT", "README.md": "#", "CHANGELOG.md": "#"})
			must(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
			sum := sha256.Sum256(data)
			fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), name)
		}
		fmt.Fprintf(&sums, "%s  reverb_%s_windows_amd64.zip\n", strings.Repeat("0", 64), strings.TrimPrefix(v, "v"))
		must(t, os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums.String()), 0o644))
	}
	must(t, os.MkdirAll(filepath.Join(base, "latest", "download"), 0o755))
	sums, err := os.ReadFile(filepath.Join(base, "download", latest, "SHA256SUMS"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(base, "latest", "download", "SHA256SUMS"), sums, 0o644))
	return base
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		mode := int64(0o644)
		if name == "reverb" {
			mode = 0o755
		}
		must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		must(t, err)
	}
	must(t, tw.Close())
	must(t, gz.Close())
	return buf.Bytes()
}

// stubUname puts a uname first on PATH that reports the given system and
// machine, so the macOS and arm64 branches run on a Linux test machine.
func stubUname(t *testing.T, system, machine string) string {
	t.Helper()
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in -s) echo '%s' ;; -m) echo '%s' ;; *) echo '%s' ;; esac\n", system, machine, system)
	must(t, os.WriteFile(filepath.Join(dir, "uname"), []byte(script), 0o755))
	return "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

func TestInstallShDownload(t *testing.T) {
	script := installSh(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed (the file:// release needs it)")
	}
	base := fakeRelease(t, "v9.9.9", "v9.9.8", "v9.9.9")
	url := "REVERB_DOWNLOAD_URL=file://" + base

	tests := []struct {
		name          string
		uname         [2]string
		args          []string
		code          int
		want, version string // want in the output; version printed by the installed binary
	}{
		{name: "latest for linux/amd64", uname: [2]string{"Linux", "x86_64"}, args: []string{"--download"},
			want: "Checksum OK", version: "reverb v9.9.9 linux_amd64"},
		{name: "latest for macOS on Apple silicon", uname: [2]string{"Darwin", "arm64"}, args: []string{"--download"},
			want: "/download/v9.9.9/reverb_9.9.9_darwin_arm64.tar.gz", version: "reverb v9.9.9 darwin_arm64"},
		{name: "macOS on Intel", uname: [2]string{"Darwin", "x86_64"}, args: []string{"--download"},
			version: "reverb v9.9.9 darwin_amd64"},
		{name: "linux/arm64 (aarch64)", uname: [2]string{"Linux", "aarch64"}, args: []string{"--download"},
			version: "reverb v9.9.9 linux_arm64"},
		{name: "pinned version without v", uname: [2]string{"Linux", "x86_64"}, args: []string{"--version", "9.9.8"},
			want: "/download/v9.9.8/SHA256SUMS", version: "reverb v9.9.8 linux_amd64"},
		{name: "pinned version with =", uname: [2]string{"Darwin", "arm64"}, args: []string{"--version=v9.9.8"},
			version: "reverb v9.9.8 darwin_arm64"},
		{name: "unknown version", uname: [2]string{"Linux", "x86_64"}, args: []string{"--version", "v1.0.0"},
			code: 1, want: "could not download file://" + base + "/download/v1.0.0/SHA256SUMS"},
		{name: "not a version", uname: [2]string{"Linux", "x86_64"}, args: []string{"--version", "latest"},
			code: 2, want: "--version vlatest is not a release version"},
		{name: "CPU without a release", uname: [2]string{"Linux", "riscv64"}, args: []string{"--download"},
			code: 1, want: "no release for the riscv64 CPU"},
		{name: "OS without a release", uname: [2]string{"FreeBSD", "amd64"}, args: []string{"--download"},
			code: 1, want: "no release for FreeBSD"},
		{name: "Git Bash on Windows", uname: [2]string{"MINGW64_NT-10.0-19045", "x86_64"}, args: []string{"--download"},
			code: 1, want: "Expand-Archive"},
	}
	for _, shell := range shells(t) {
		for _, tc := range tests {
			t.Run(strings.Join(shell, " ")+"/"+tc.name, func(t *testing.T) {
				laravel := t.TempDir()
				must(t, os.WriteFile(filepath.Join(laravel, "artisan"), []byte("#!/usr/bin/env php\n"), 0o755))
				env := []string{url, stubUname(t, tc.uname[0], tc.uname[1]), "TMPDIR=" + t.TempDir()}
				out, code := runShell(t, shell, t.TempDir(), env, append(append([]string{script}, tc.args...), laravel)...)
				if code != tc.code || !strings.Contains(out, tc.want) {
					t.Fatalf("exit %d, want %d; output lacks %q:\n%s", code, tc.code, tc.want, out)
				}
				checkLeftovers(t, laravel, env)
				if tc.code != 0 {
					if _, err := os.Stat(filepath.Join(laravel, "reverb")); err == nil {
						t.Fatal("a binary was installed although the download failed")
					}
					return
				}
				got, err := exec.Command(filepath.Join(laravel, "reverb")).Output()
				if err != nil || strings.TrimSpace(string(got)) != tc.version {
					t.Fatalf("installed binary says %q (%v), want %q", got, err, tc.version)
				}
				if !strings.Contains(out, "Installed "+laravel+"/reverb ("+tc.version+")") {
					t.Errorf("install line missing:\n%s", out)
				}
			})
		}
	}
}

// checkLeftovers fails when install.sh left its temporary files behind,
// in the project or in TMPDIR.
func checkLeftovers(t *testing.T, laravel string, env []string) {
	t.Helper()
	entries, _ := os.ReadDir(laravel)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".reverb.build") {
			t.Errorf("temporary file %s left in the project", e.Name())
		}
	}
	for _, kv := range env {
		if tmp, ok := strings.CutPrefix(kv, "TMPDIR="); ok {
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("temporary files left in TMPDIR: %v", left[0].Name())
			}
		}
	}
}

// A download whose bytes do not match SHA256SUMS installs nothing and keeps
// the binary already there.
func TestInstallShDownloadRefusesBadChecksum(t *testing.T) {
	script := installSh(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed (the file:// release needs it)")
	}
	base := fakeRelease(t, "v9.9.9", "v9.9.9")
	archive := filepath.Join(base, "download", "v9.9.9", "reverb_9.9.9_linux_amd64.tar.gz")
	data, err := os.ReadFile(archive)
	must(t, err)
	data[len(data)/2] ^= 0xff
	must(t, os.WriteFile(archive, data, 0o644))

	laravel := t.TempDir()
	must(t, os.WriteFile(filepath.Join(laravel, "artisan"), []byte("#!/usr/bin/env php\n"), 0o755))
	old := []byte("#!/bin/sh\necho old\n")
	must(t, os.WriteFile(filepath.Join(laravel, "reverb"), old, 0o755))
	env := []string{"REVERB_DOWNLOAD_URL=file://" + base, stubUname(t, "Linux", "x86_64"), "TMPDIR=" + t.TempDir()}
	out, code := runSh(t, laravel, env, script, "--download")
	if code != 1 || !strings.Contains(out, "checksum mismatch for reverb_9.9.9_linux_amd64.tar.gz") || !strings.Contains(out, "nothing was installed") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if got, _ := os.ReadFile(filepath.Join(laravel, "reverb")); !bytes.Equal(got, old) {
		t.Fatal("the installed binary was replaced by a download that failed its checksum")
	}
	checkLeftovers(t, laravel, env)
}

// Copied out of a checkout (or piped from curl), install.sh has no source
// to build and downloads by default; --source says why it cannot.
func TestInstallShOutsideCheckoutDownloads(t *testing.T) {
	script := installSh(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed (the file:// release needs it)")
	}
	src, err := os.ReadFile(script)
	must(t, err)
	alone := filepath.Join(t.TempDir(), "install.sh")
	must(t, os.WriteFile(alone, src, 0o755))
	base := fakeRelease(t, "v9.9.9", "v9.9.9")
	laravel := t.TempDir()
	must(t, os.WriteFile(filepath.Join(laravel, "artisan"), []byte("#!/usr/bin/env php\n"), 0o755))
	env := []string{"REVERB_DOWNLOAD_URL=file://" + base, stubUname(t, "Linux", "x86_64"), "TMPDIR=" + t.TempDir()}

	out, code := runSh(t, laravel, env, alone, "--source")
	if code != 1 || !strings.Contains(out, "--source needs the script inside a reverb checkout") {
		t.Fatalf("--source outside a checkout: exit %d:\n%s", code, out)
	}
	// As `curl ... | sh -s -- DIR` runs it: the script on stdin.
	cmd := exec.Command("sh", "-s", "--", laravel)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(src)
	piped, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(piped), "Checksum OK") {
		t.Fatalf("piped install: %v\n%s", err, piped)
	}
	if got, err := exec.Command(filepath.Join(laravel, "reverb")).Output(); err != nil || strings.TrimSpace(string(got)) != "reverb v9.9.9 linux_amd64" {
		t.Fatalf("installed binary says %q (%v)", got, err)
	}
}
