// Command release builds reverb's release archives, reproducibly:
//
//	go run ./scripts/release -version v1.2.3      (what `make release VERSION=v1.2.3` runs)
//
// It writes into -out (default dist/) reverb_<version>_<os>_<arch>.tar.gz
// (.zip for Windows) for linux/amd64, linux/arm64, darwin/amd64,
// darwin/arm64 and windows/amd64, each holding the binary (reverb,
// reverb.exe), LICENSE, README.md and CHANGELOG.md at the archive root, and
// SHA256SUMS. The binaries are static (CGO_ENABLED=0), built with -trimpath
// and -buildvcs=false, and stamped with the version, the commit and the
// commit's date (SOURCE_DATE_EPOCH wins when set); archive entries carry that
// date, owner 0 and fixed modes, so the same commit and Go toolchain give
// the same bytes. -verify builds everything a second time and compares.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "", "the release version: vMAJOR.MINOR.PATCH[-pre] (required)")
	out := fs.String("out", "dist", "where the archives and SHA256SUMS are written")
	src := fs.String("src", ".", "the repository root")
	targetsFlag := fs.String("targets", "all", "comma-separated GOOS/GOARCH list, or all")
	commit := fs.String("commit", "", "the commit to stamp (default: git rev-parse HEAD)")
	allowDirty := fs.Bool("allow-dirty", false, "build from a checkout with uncommitted changes (its commit is stamped with -dirty)")
	docker := fs.String("docker", "", "instead of archives, write the container build context (Dockerfile, binary, CA certificates, passwd) into this folder; -version may be dev, -targets one linux target (default: this machine's architecture)")
	caFile := fs.String("ca", "", "with -docker: the CA bundle to copy in (default: the build machine's, e.g. /etc/ssl/certs/ca-certificates.crt)")
	verify := fs.Bool("verify", false, "build everything again into a temporary folder and fail unless SHA256SUMS is identical")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "release: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *docker != "" && *version == "" {
		*version = "dev"
	}
	if err := CheckVersion(*version); err != nil && !(*docker != "" && *version == "dev") {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 2
	}
	if *docker != "" && *targetsFlag == "all" {
		*targetsFlag = "linux/" + runtime.GOARCH
	}
	targets, err := ParseTargets(*targetsFlag)
	if err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 2
	}
	root, err := filepath.Abs(*src)
	if err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 1
	}
	r := Release{Version: *version, Src: root, Go: os.Getenv("GO")}
	// An image is also built for local use: a modified checkout is fine
	// there (stamped -dirty); a release archive is not.
	if r.Commit, r.Date, err = stamp(ctx, root, *commit, *allowDirty || *docker != ""); err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 1
	}
	if *docker != "" {
		if len(targets) != 1 {
			fmt.Fprintln(stderr, "release: -docker builds one image: pass one -targets linux/ARCH")
			return 2
		}
		if err := r.DockerContext(ctx, targets[0], *docker, *caFile); err != nil {
			fmt.Fprintf(stderr, "release: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "reverb %s (commit %s) for %s: container build context in %s/\n", r.Version, r.Commit, targets[0], *docker)
		return 0
	}
	if tags := TagAt(ctx, root); *commit == "" && !slices.Contains(tags, r.Version) {
		fmt.Fprintf(stderr, "release: warning: HEAD is not tagged %s (tags here: %v); tag the commit you release\n", r.Version, tags)
	}
	fmt.Fprintf(stdout, "reverb %s (commit %s, %s) into %s/\n", r.Version, r.Commit, r.Date.Format(time.RFC3339), *out)
	files, err := r.Run(ctx, targets, *out, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 1
	}
	if *verify {
		again, err := os.MkdirTemp("", "reverb-release-verify-")
		if err != nil {
			fmt.Fprintf(stderr, "release: %v\n", err)
			return 1
		}
		defer os.RemoveAll(again)
		fmt.Fprintln(stdout, "verifying: building again")
		if _, err := r.Run(ctx, targets, again, io.Discard); err != nil {
			fmt.Fprintf(stderr, "release: verify: %v\n", err)
			return 1
		}
		a, _ := os.ReadFile(filepath.Join(*out, "SHA256SUMS"))
		b, _ := os.ReadFile(filepath.Join(again, "SHA256SUMS"))
		if !bytes.Equal(a, b) {
			fmt.Fprintf(stderr, "release: NOT reproducible: a second build differs\nfirst:\n%s\nsecond:\n%s", a, b)
			return 1
		}
		fmt.Fprintln(stdout, "verified: a second build gives the same bytes")
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	return 0
}

// stamp decides the commit and the date stamped into the binaries: -commit
// or git's HEAD ("-dirty" appended for a modified tree, which is refused
// unless allowDirty), and SOURCE_DATE_EPOCH or the commit's time. Outside a
// git checkout both -commit and SOURCE_DATE_EPOCH are needed.
func stamp(ctx context.Context, root, commitFlag string, allowDirty bool) (string, time.Time, error) {
	epoch, epochSet, err := SourceDateEpoch()
	if err != nil {
		return "", time.Time{}, err
	}
	commit, date, dirty, gitErr := GitInfo(ctx, root)
	if gitErr != nil {
		if commitFlag == "" || !epochSet {
			return "", time.Time{}, fmt.Errorf("%s is not a git checkout (%v): pass -commit and set SOURCE_DATE_EPOCH", root, gitErr)
		}
		return commitFlag, epoch, nil
	}
	if dirty {
		if !allowDirty {
			return "", time.Time{}, fmt.Errorf("the checkout has uncommitted changes: a release is built from a commit (commit or stash them, or pass -allow-dirty)")
		}
		commit += "-dirty"
	}
	if commitFlag != "" {
		commit = commitFlag
	}
	if epochSet {
		date = epoch
	}
	return commit, date, nil
}
