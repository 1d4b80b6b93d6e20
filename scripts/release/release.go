package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Target is one GOOS/GOARCH pair that is released.
type Target struct{ OS, Arch string }

func (t Target) String() string { return t.OS + "/" + t.Arch }

// Targets are the released platforms, in the order they are built.
var Targets = []Target{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"},
}

// ParseTargets reads "linux/amd64,darwin/arm64"; "all" or "" is Targets.
func ParseTargets(s string) ([]Target, error) {
	if s == "" || s == "all" {
		return Targets, nil
	}
	var out []Target
	for _, f := range strings.Split(s, ",") {
		found := false
		for _, t := range Targets {
			if t.String() == strings.TrimSpace(f) {
				out, found = append(out, t), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown target %q (released targets: %s)", f, targetList())
		}
	}
	return out, nil
}

func targetList() string {
	var s []string
	for _, t := range Targets {
		s = append(s, t.String())
	}
	return strings.Join(s, ", ")
}

// modulePath is where the version is stamped.
const buildinfoPkg = "github.com/reverb-go/reverb/internal/buildinfo"

// docs are the files shipped beside the binary, from the repository root.
var docs = []string{"CHANGELOG.md", "LICENSE", "README.md"}

// Release is everything that goes into the archives. Two builds with equal
// Releases (and the same Go toolchain) produce the same bytes.
type Release struct {
	Version string    // v1.2.3 or v1.2.3-rc.1
	Commit  string    // full commit hash, "-dirty" appended for a modified tree
	Date    time.Time // the commit's time (or SOURCE_DATE_EPOCH): every archive entry's mtime
	Src     string    // repository root
	Go      string    // go command
}

// semver is vMAJOR.MINOR.PATCH with an optional -pre-release, as semver.org
// defines them (no leading zeros in numbers; build metadata is not allowed:
// it would end up in file names and means nothing to a download).
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-((?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?$`)

// CheckVersion accepts vX.Y.Z and vX.Y.Z-pre.
func CheckVersion(v string) error {
	if !semver.MatchString(v) {
		return fmt.Errorf("VERSION %q is not a release version: want vMAJOR.MINOR.PATCH with an optional -pre-release (v1.2.3, v1.3.0-rc.1)", v)
	}
	return nil
}

// ArchiveName is the released file name for the target:
// reverb_1.2.3_linux_amd64.tar.gz, reverb_1.2.3_windows_amd64.zip.
func ArchiveName(version string, t Target) string {
	ext := ".tar.gz"
	if t.OS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("reverb_%s_%s_%s%s", strings.TrimPrefix(version, "v"), t.OS, t.Arch, ext)
}

// SourceDateEpoch reads SOURCE_DATE_EPOCH (reproducible-builds.org): the
// date to stamp instead of the commit's.
func SourceDateEpoch() (date time.Time, set bool, err error) {
	env := os.Getenv("SOURCE_DATE_EPOCH")
	if env == "" {
		return time.Time{}, false, nil
	}
	sec, err := strconv.ParseInt(env, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, false, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a Unix time in seconds", env)
	}
	return time.Unix(sec, 0).UTC(), true, nil
}

// GitInfo reads the commit at HEAD of the checkout at src, its commit time,
// and whether the tree has uncommitted changes or untracked files.
func GitInfo(ctx context.Context, src string) (commit string, date time.Time, dirty bool, err error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", src}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(ee.Stderr))
			}
			return "", fmt.Errorf("git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	if commit, err = git("rev-parse", "HEAD"); err != nil {
		return "", time.Time{}, false, err
	}
	ct, err := git("log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return "", time.Time{}, false, err
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return "", time.Time{}, false, fmt.Errorf("git log: commit time %q: %v", ct, err)
	}
	// Untracked files count: a new .go file would be compiled in. Ignored
	// ones (bin/, dist/) do not.
	status, err := git("status", "--porcelain")
	if err != nil {
		return "", time.Time{}, false, err
	}
	return commit, time.Unix(sec, 0).UTC(), status != "", nil
}

// buildEnv is the environment of `go build`: the caller's, minus anything
// that changes the output (GOFLAGS, GOAMD64, GOEXPERIMENT, CGO_*...), plus
// the pinned values.
func buildEnv(t Target) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "GOFLAGS", k == "GOOS", k == "GOARCH", k == "GOEXPERIMENT", k == "GO386",
			strings.HasPrefix(k, "GOAMD64"), strings.HasPrefix(k, "GOARM"), strings.HasPrefix(k, "CGO_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GOOS="+t.OS, "GOARCH="+t.Arch, "CGO_ENABLED=0", "GOFLAGS=",
		"GOAMD64=v1", "GOARM64=v8.0")
}

// Build compiles the binary for t into dir and returns its path.
func (r Release) Build(ctx context.Context, t Target, dir string) (string, error) {
	name := "reverb"
	if t.OS == "windows" {
		name += ".exe"
	}
	out := filepath.Join(dir, name)
	ldflags := strings.Join([]string{"-s", "-w",
		"-X", buildinfoPkg + ".Version=" + r.Version,
		"-X", buildinfoPkg + ".Commit=" + r.Commit,
		"-X", buildinfoPkg + ".Date=" + r.Date.UTC().Format(time.RFC3339),
	}, " ")
	goCmd := r.Go
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, "./cmd/reverb")
	cmd.Dir = r.Src
	cmd.Env = buildEnv(t)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return "", &BuildError{Target: t, Err: err, Output: strings.TrimSpace(stderr.String())}
	}
	return out, nil
}

// BuildError is a failed `go build`, with the compiler's output.
type BuildError struct {
	Target Target
	Err    error
	Output string
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("go build for %s: %v\n%s", e.Target, e.Err, e.Output)
}

// entry is one file of an archive.
type entry struct {
	name string
	mode int64 // 0o755 or 0o644: the file's own mode (umask, checkout) never leaks in
	data []byte
}

// Archive builds the binary for t and writes its archive into outDir; it
// returns the archive's path. tmp holds the binary while it is packed.
func (r Release) Archive(ctx context.Context, t Target, outDir, tmp string) (string, error) {
	bin, err := r.Build(ctx, t, tmp)
	if err != nil {
		return "", err
	}
	entries := make([]entry, 0, len(docs)+1)
	binData, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	entries = append(entries, entry{filepath.Base(bin), 0o755, binData})
	for _, d := range docs {
		b, err := os.ReadFile(filepath.Join(r.Src, d))
		if err != nil {
			return "", fmt.Errorf("%s is shipped in every archive: %w", d, err)
		}
		entries = append(entries, entry{d, 0o644, b})
	}
	var buf bytes.Buffer
	if t.OS == "windows" {
		err = writeZip(&buf, entries, r.Date)
	} else {
		err = writeTarGz(&buf, entries, r.Date)
	}
	if err != nil {
		return "", err
	}
	path := filepath.Join(outDir, ArchiveName(r.Version, t))
	return path, os.WriteFile(path, buf.Bytes(), 0o644)
}

func sortEntries(entries []entry) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
}

// writeTarGz writes a gzip'd tar whose bytes depend only on the entries and
// the date: names sorted, every mtime the date, owner 0:0 without names,
// fixed modes, ustar headers (no PAX access times), and a gzip header
// without a name or a time.
func writeTarGz(w io.Writer, entries []entry, date time.Time) error {
	sortEntries(entries)
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Mode:     e.mode,
			Size:     int64(len(e.data)),
			ModTime:  date.UTC().Truncate(time.Second),
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// writeZip writes a zip (what Windows' Expand-Archive and Explorer open)
// whose bytes depend only on the entries and the date: names sorted, every
// modification time the date in UTC, Unix modes recorded.
func writeZip(w io.Writer, entries []entry, date time.Time) error {
	sortEntries(entries)
	zw := zip.NewWriter(w)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: date.UTC().Truncate(time.Second)}
		hdr.SetMode(os.FileMode(e.mode))
		f, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := f.Write(e.data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// WriteSums writes SHA256SUMS for the files (sha256sum's format: the hex
// digest, two spaces, the file name; sorted by name) into dir.
func WriteSums(dir string, files []string) (string, error) {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Base(f)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), n)
	}
	path := filepath.Join(dir, "SHA256SUMS")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// Run builds the archives of every target and SHA256SUMS into outDir. They
// are staged beside it and moved in only when every target has built, so a
// failed run leaves outDir as it was.
func (r Release) Run(ctx context.Context, targets []Target, outDir string, progress io.Writer) ([]string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(outDir, ".staging-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	tmp, err := os.MkdirTemp("", "reverb-release-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var staged []string
	for _, t := range targets {
		start := time.Now()
		f, err := r.Archive(ctx, t, stage, tmp)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "  %-45s %s\n", filepath.Base(f), time.Since(start).Round(100*time.Millisecond))
		staged = append(staged, f)
	}
	sums, err := WriteSums(stage, staged)
	if err != nil {
		return nil, err
	}
	staged = append(staged, sums)

	// Archives of an earlier run (another version) would otherwise sit
	// beside the new ones without being in SHA256SUMS.
	stale, _ := filepath.Glob(filepath.Join(outDir, "reverb_*"))
	for _, f := range append(stale, filepath.Join(outDir, "SHA256SUMS")) {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	var files []string
	for _, f := range staged {
		dst := filepath.Join(outDir, filepath.Base(f))
		if err := os.Rename(f, dst); err != nil {
			return nil, err
		}
		files = append(files, dst)
	}
	return files, nil
}

// TagAt returns the tags pointing at HEAD of the checkout at src.
func TagAt(ctx context.Context, src string) []string {
	out, err := exec.CommandContext(ctx, "git", "-C", src, "tag", "--points-at", "HEAD").Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}
