package laravelcfg

import (
	"os"
	"path/filepath"
	"testing"
)

func TestServingDir(t *testing.T) {
	app := t.TempDir()
	if real, err := filepath.EvalSymlinks(app); err == nil {
		app = real // macOS: /var is a link to /private/var
	}
	r1 := filepath.Join(app, "releases", "r1")
	r2 := filepath.Join(app, "releases", "r2")
	for _, d := range []string{r1, r2} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	current := filepath.Join(app, "current")
	if err := os.Symlink(filepath.Join("releases", "r1"), current); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	plain := t.TempDir()

	cases := []struct {
		name, dir, want string
		inRelease       bool
	}{
		{"the current release by its real path", r1, current, true},
		{"the current link", current, current, true},
		{"an older release", r2, r2, false},
		{"a folder outside any release layout", plain, plain, false},
		{"a folder that does not exist", filepath.Join(plain, "nope"), filepath.Join(plain, "nope"), false},
	}
	for _, tc := range cases {
		got, in, err := ServingDir(tc.dir)
		if err != nil || got != tc.want || in != tc.inRelease {
			t.Errorf("%s: ServingDir(%s) = %s, %v, %v; want %s, %v", tc.name, tc.dir, got, in, err, tc.want, tc.inRelease)
		}
	}

	// Where a process manager starts the server: the link, from any release.
	for _, d := range []string{r1, r2, current} {
		if got, ok := CurrentLink(d); got != current || !ok {
			t.Errorf("CurrentLink(%s) = %s, %v; want %s", d, got, ok, current)
		}
	}
	if got, ok := CurrentLink(plain); ok {
		t.Errorf("CurrentLink(%s) = %s outside a release layout", plain, got)
	}

	// A deploy moves the link: the same serving folder now reads r2.
	if err := os.Remove(current); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("releases", "r2"), current); err != nil {
		t.Fatal(err)
	}
	if got, _ := filepath.EvalSymlinks(current); got != r2 {
		t.Fatalf("current now resolves to %s", got)
	}
	if got, in, _ := ServingDir(r1); got != r1 || in {
		t.Errorf("r1 after the deploy: %s, %v (no longer current, served as asked)", got, in)
	}
}
