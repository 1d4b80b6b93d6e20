package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := func(rev, tm, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: tm}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  Info
	}{
		{name: "stamped release wins over everything",
			version: "v1.2.3", commit: rev, date: "2025-01-02T03:04:05Z",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("ffff", "2020-01-01T00:00:00Z", "true")},
			want: Info{Version: "v1.2.3", Commit: rev, Date: "2025-01-02T03:04:05Z", Go: "go1.26.8"}},
		{name: "plain go build in a checkout",
			version: "dev",
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20250102030405-0123456789ab+dirty"}, Settings: vcs(rev, "2025-01-02T03:04:05Z", "true")},
			want:    Info{Version: "dev", Commit: rev + "-dirty", Date: "2025-01-02T03:04:05Z", Go: "go1.26.8"}},
		{name: "plain go build of a clean checkout",
			version: "dev",
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.4-0.20250102030405-0123456789ab"}, Settings: vcs(rev, "2025-01-02T03:04:05Z", "false")},
			want:    Info{Version: "dev", Commit: rev, Date: "2025-01-02T03:04:05Z", Go: "go1.26.8"}},
		{name: "go install at a tag",
			version: "dev",
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			want:    Info{Version: "v1.2.3", Commit: "unknown", Date: "unknown", Go: "go1.26.8"}},
		{name: "go install at a pre-release tag",
			version: "dev",
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.3.0-rc.1"}},
			want:    Info{Version: "v1.3.0-rc.1", Commit: "unknown", Date: "unknown", Go: "go1.26.8"}},
		{name: "pre-release pseudo-version",
			version: "dev",
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.3.0-rc.1.0.20250102030405-0123456789ab"}},
			want:    Info{Version: "dev", Commit: "unknown", Date: "unknown", Go: "go1.26.8"}},
		{name: "no build information",
			version: "dev",
			want:    Info{Version: "dev", Commit: "unknown", Date: "unknown", Go: runtime.Version()}},
		{name: "stamped commit without date",
			version: "v2.0.0", commit: rev,
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: Info{Version: "v2.0.0", Commit: rev, Date: "unknown", Go: "go1.26.8"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.OS, tc.want.Arch = runtime.GOOS, runtime.GOARCH
			if got := resolve(tc.version, tc.commit, tc.date, tc.bi); got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestGetUnstamped(t *testing.T) {
	// Test binaries are not stamped: the version is "dev" (or a module
	// version) and the rest is filled in.
	got := Get()
	if got.Version == "" || got.Commit == "" || got.Date == "" || got.Go == "" {
		t.Fatalf("empty field in %+v", got)
	}
	if got.OS != runtime.GOOS || got.Arch != runtime.GOARCH {
		t.Fatalf("platform %s/%s", got.OS, got.Arch)
	}
}
