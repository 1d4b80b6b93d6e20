package phptest

import (
	"strings"
	"testing"
)

func TestRequire(t *testing.T) {
	tests := []struct {
		name    string
		classes []string
	}{
		{"illuminate", []string{`Illuminate\Support\Str`}},
		{"dotenv and illuminate", []string{`Dotenv\Dotenv`, `Illuminate\Support\Env`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p := RequireClasses(t, tt.classes...); p == "" {
				t.Fatal("empty php path")
			}
		})
	}
	RequireExtension(t, "json")
}

// A class PHP cannot load skips the test instead of failing it.
func TestRequireSkipsForMissingClass(t *testing.T) {
	Binary(t, "probe")
	skipped := false
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		RequireClasses(t, `Illuminate\NoSuchClass`)
	})
	if !skipped {
		t.Error("a missing class did not skip the test")
	}
}

func TestLines(t *testing.T) {
	p := Binary(t, "runs php")
	tests := []struct {
		stdin string
		want  []string
	}{
		{"", nil},
		{"a\nb\n", []string{"A", "B"}},
		{"x", []string{"X"}},
	}
	for _, tt := range tests {
		got := Lines(t, p, tt.stdin, "-r", `while (($l = fgets(STDIN)) !== false) echo strtoupper(trim($l)), "\n";`)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("Lines(%q) = %q, want %q", tt.stdin, got, tt.want)
		}
	}
}
