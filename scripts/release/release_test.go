package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestCheckVersion(t *testing.T) {
	good := []string{"v0.1.0", "v1.2.3", "v10.20.30", "v1.3.0-rc.1", "v1.0.0-alpha", "v1.0.0-alpha.beta.1", "v1.0.0-0.3.7", "v1.0.0-x-y-z.--"}
	bad := []string{"", "1.2.3", "v1.2", "v1", "v1.2.3.4", "v01.2.3", "v1.02.3", "v1.2.03", "v1.2.3-", "v1.2.3-01",
		"v1.2.3+build.5", "v1.2.3-rc..1", "V1.2.3", "v1.2.3 ", "v1.2.3/../x", "latest", "v1.2.3-rc_1"}
	for _, v := range good {
		if err := CheckVersion(v); err != nil {
			t.Errorf("%q refused: %v", v, err)
		}
	}
	for _, v := range bad {
		if err := CheckVersion(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, `VERSION "" is not a release version`},
		{[]string{"-version", "1.2.3"}, `VERSION "1.2.3" is not a release version`},
		{[]string{"-version", "v1.2.3", "-targets", "plan9/amd64"}, `unknown target "plan9/amd64"`},
		{[]string{"-version", "v1.2.3", "extra"}, `unexpected argument "extra"`},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

func TestArchiveNames(t *testing.T) {
	want := []string{"reverb_1.2.3_linux_amd64.tar.gz", "reverb_1.2.3_linux_arm64.tar.gz",
		"reverb_1.2.3_darwin_amd64.tar.gz", "reverb_1.2.3_darwin_arm64.tar.gz", "reverb_1.2.3_windows_amd64.zip"}
	for i, tg := range Targets {
		if got := ArchiveName("v1.2.3", tg); got != want[i] {
			t.Errorf("%s: %s, want %s", tg, got, want[i])
		}
	}
	if got := ArchiveName("v1.3.0-rc.1", Target{"linux", "amd64"}); got != "reverb_1.3.0-rc.1_linux_amd64.tar.gz" {
		t.Errorf("pre-release: %s", got)
	}
}

// The packers' output depends only on the entries and the date: not on the
// order the files come in, the time of day, or the time zone.
func TestPackersAreDeterministic(t *testing.T) {
	date := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	entries := func(reversed bool) []entry {
		e := []entry{{"reverb", 0o755, []byte("\x7fELF binary")}, {"LICENSE", 0o644, []byte("MIT")},
			{"README.md", 0o644, []byte("# reverb")}, {"CHANGELOG.md", 0o644, []byte("# Changelog")}}
		if reversed {
			for i, j := 0, len(e)-1; i < j; i, j = i+1, j-1 {
				e[i], e[j] = e[j], e[i]
			}
		}
		return e
	}
	for _, pack := range []struct {
		name string
		fn   func(io.Writer, []entry, time.Time) error
		list func(t *testing.T, b []byte) []string
	}{{"tar.gz", writeTarGz, listTarGz}, {"zip", writeZip, listZip}} {
		t.Run(pack.name, func(t *testing.T) {
			var a, b bytes.Buffer
			if err := pack.fn(&a, entries(false), date); err != nil {
				t.Fatal(err)
			}
			t.Setenv("TZ", "America/Los_Angeles")
			if err := pack.fn(&b, entries(true), date.In(time.FixedZone("X", 5*3600))); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("same entries and date, different bytes")
			}
			got := strings.Join(pack.list(t, a.Bytes()), "\n")
			want := "CHANGELOG.md 0644 2025-01-02T03:04:05Z\nLICENSE 0644 2025-01-02T03:04:05Z\n" +
				"README.md 0644 2025-01-02T03:04:05Z\nreverb 0755 2025-01-02T03:04:05Z"
			if got != want {
				t.Fatalf("entries:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// listTarGz checks the reproducibility-relevant header fields and returns
// "name mode mtime" per entry.
func listTarGz(t *testing.T, b []byte) []string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header carries name %q / time %v", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || h.Typeflag != tar.TypeReg || strings.Contains(h.Name, "/") {
			t.Errorf("%s: uid %d gid %d %q %q type %c", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.Typeflag)
		}
		out = append(out, h.Name+" "+modeString(h.FileInfo().Mode())+" "+h.ModTime.UTC().Format(time.RFC3339))
	}
	return out
}

func listZip(t *testing.T, b []byte) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range zr.File {
		out = append(out, f.Name+" "+modeString(f.Mode())+" "+f.Modified.UTC().Format(time.RFC3339))
	}
	return out
}

func modeString(m os.FileMode) string { return fmt.Sprintf("%04o", m.Perm()) }

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// copyTree copies the files git would build from (tracked, and untracked
// but not ignored) into dst: a checkout at another path.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	out, err := exec.Command("git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join(src, rel))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil { // other modes than the checkout's
			t.Fatal(err)
		}
	}
}

// TestReleaseIsReproducible runs the release command twice per target —
// from this checkout (commit and date from git) and from a copy at another
// path with other file modes, another time zone, the commit given with
// -commit and the date with SOURCE_DATE_EPOCH — and requires identical
// archives and SHA256SUMS. The command runs as its own process: packing
// inside this (possibly -race) test binary would be ten times slower. Each
// target compiles from scratch the first time (one to several minutes on two
// busy cores), so by default only linux/amd64 is built;
// REVERB_RELEASE_TEST_TARGETS=all (make release-test) builds all five.
func TestReleaseIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles release binaries; skipped with -short")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	root := repoRoot(t)
	commit, date, dirty, err := GitInfo(context.Background(), root)
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	if dirty {
		commit += "-dirty"
	}
	spec := os.Getenv("REVERB_RELEASE_TEST_TARGETS")
	if spec == "" {
		spec = "linux/amd64"
	}
	targets, err := ParseTargets(spec)
	if err != nil {
		t.Fatal(err)
	}
	selected := map[Target]bool{}
	for _, tg := range targets {
		selected[tg] = true
	}

	tool := filepath.Join(t.TempDir(), "release")
	if out, err := exec.Command("go", "build", "-o", tool, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the release command: %v\n%s", err, out)
	}
	copyRoot := t.TempDir()
	copyTree(t, root, copyRoot)
	const version = "v0.0.1-test.1"
	release := func(t *testing.T, src, out string, env []string, args ...string) (string, error) {
		cmd := exec.Command(tool, append([]string{"-version", version, "-src", src, "-out", out}, args...)...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), env...)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}

	for _, tg := range Targets {
		t.Run(strings.ReplaceAll(tg.String(), "/", "_"), func(t *testing.T) {
			if !selected[tg] {
				t.Skipf("not built by this run (REVERB_RELEASE_TEST_TARGETS=%s); make release-test builds all five", spec)
			}
			dir1, dir2 := t.TempDir(), t.TempDir()
			out, err := release(t, root, dir1, []string{"SOURCE_DATE_EPOCH="}, "-targets", tg.String(), "-allow-dirty")
			if err != nil && tg.OS != "linux" && strings.Contains(out, "go build for "+tg.String()) {
				t.Skipf("%s does not compile yet, so it cannot be released: %s", tg, firstLines(out[strings.Index(out, "go build for"):], 4))
			}
			if err != nil {
				t.Fatalf("release from the checkout: %v\n%s", err, out)
			}
			out, err = release(t, copyRoot, dir2, []string{"TZ=Asia/Kolkata", fmt.Sprintf("SOURCE_DATE_EPOCH=%d", date.Unix())},
				"-targets", tg.String(), "-commit", commit)
			if err != nil {
				t.Fatalf("release from a copy: %v\n%s", err, out)
			}
			name := ArchiveName(version, tg)
			for _, f := range []string{name, "SHA256SUMS"} {
				a, err1 := os.ReadFile(filepath.Join(dir1, f))
				b, err2 := os.ReadFile(filepath.Join(dir2, f))
				if err1 != nil || err2 != nil {
					t.Fatalf("%s: %v %v", f, err1, err2)
				}
				if !bytes.Equal(a, b) {
					t.Fatalf("%s differs between two builds of the same commit (%d vs %d bytes)", f, len(a), len(b))
				}
			}
			checkSums(t, dir1, []string{name})
			if tg.OS == runtime.GOOS && tg.Arch == runtime.GOARCH {
				checkStamp(t, filepath.Join(dir1, name), version, commit, date)
			}
		})
	}
}

// checkSums checks SHA256SUMS lists exactly names, in sha256sum's format,
// with the right digests.
func checkSums(t *testing.T, dir string, names []string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&want, "%x  %s\n", sum, n)
	}
	if string(got) != want.String() {
		t.Fatalf("SHA256SUMS:\n%s\nwant:\n%s", got, want.String())
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum --check: %v\n%s", err, out)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(names)+1 {
		t.Errorf("%d files in the output folder, want %d (no staging leftovers)", len(entries), len(names)+1)
	}
}

// checkStamp unpacks the binary for this machine and asks it its version.
func checkStamp(t *testing.T, archive, version, commit string, date time.Time) {
	t.Helper()
	data, _ := os.ReadFile(archive)
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	bin := filepath.Join(t.TempDir(), "reverb")
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no reverb in %s: %v", archive, err)
		}
		if h.Name == "reverb" {
			f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(f, tr)
			f.Close()
			break
		}
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("reverb version --json: %v", err)
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := map[string]string{"version": version, "commit": commit, "date": date.UTC().Format(time.RFC3339),
		"os": runtime.GOOS, "arch": runtime.GOARCH}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if !strings.HasPrefix(got["go"], "go1.") {
		t.Errorf("go = %q", got["go"])
	}
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "; ")
}
