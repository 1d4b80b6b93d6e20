// Package buildinfo says which build of reverb is running.
//
// Release builds stamp the three variables with the linker
// (scripts/release does it for `make release`):
//
//	go build -ldflags "-X github.com/reverb-go/reverb/internal/buildinfo.Version=v1.2.3 \
//	  -X github.com/reverb-go/reverb/internal/buildinfo.Commit=<sha> \
//	  -X github.com/reverb-go/reverb/internal/buildinfo.Date=2025-01-02T03:04:05Z" ./cmd/reverb
//
// A plain `go build` stamps nothing: Version is then "dev", or the module
// version when the binary was installed with `go install ...@v1.2.3`, and
// Commit and Date come from the VCS information the go command embeds when it
// builds inside a git checkout (with "-dirty" appended to Commit when the
// checkout had uncommitted changes).
package buildinfo

import (
	"regexp"
	"runtime"
	"runtime/debug"
	"sync"
)

// Stamped by -ldflags -X; they must stay string variables initialised with
// constants (or not at all) for the linker to set them. Read them through
// Get, which fills in what a plain build leaves unstamped.
var (
	// Version is the release tag ("v1.2.3", "v1.3.0-rc.1"); "dev" when not
	// stamped.
	Version = "dev"
	// Commit is the full git commit the build was made from.
	Commit string
	// Date is the commit's time in UTC, RFC 3339 ("2025-01-02T03:04:05Z").
	Date string
)

// Info is the resolved build information.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Date    string `json:"date"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

var (
	once     sync.Once
	resolved Info
)

// Get returns the build information: the stamped values, with the defaults
// described in the package comment for those left empty.
func Get() Info {
	once.Do(func() {
		bi, _ := debug.ReadBuildInfo()
		resolved = resolve(Version, Commit, Date, bi)
	})
	return resolved
}

// pseudoVersion matches the versions the go command makes up for untagged
// commits (v0.0.0-20250102030405-0123456789ab) and for dirty trees
// (+dirty): neither is a release.
var pseudoVersion = regexp.MustCompile(`-(?:[0-9A-Za-z.]+\.)?\d{14}-[0-9a-f]{12}|\+dirty$`)

func resolve(version, commit, date string, bi *debug.BuildInfo) Info {
	info := Info{Version: version, Commit: commit, Date: date, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi != nil {
		if bi.GoVersion != "" {
			info.Go = bi.GoVersion
		}
		if info.Version == "" || info.Version == "dev" {
			if v := bi.Main.Version; v != "" && v != "(devel)" && !pseudoVersion.MatchString(v) {
				info.Version = v
			}
		}
		var modified bool
		vcsRevision, vcsTime := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				vcsRevision = s.Value
			case "vcs.time":
				vcsTime = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if info.Commit == "" && vcsRevision != "" {
			info.Commit = vcsRevision
			if modified {
				info.Commit += "-dirty"
			}
		}
		if info.Date == "" {
			info.Date = vcsTime
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	if info.Date == "" {
		info.Date = "unknown"
	}
	return info
}
