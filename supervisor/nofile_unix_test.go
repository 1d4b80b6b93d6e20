//go:build unix

package supervisor

import (
	"strings"
	"testing"
)

// The start-up warning about a low open-files limit names the settings of
// the system it runs on, and an unlimited hard limit as such.
func TestLowNoFileWarningPerOS(t *testing.T) {
	if got := lowNoFileWarning("linux", 65536, 65536); got != "" {
		t.Errorf("a limit that is not low warns: %q", got)
	}
	tests := []struct {
		goos     string
		cur, max uint64
		want     []string
		notWant  []string
	}{
		{"linux", 1024, 4096, []string{"Open files limit is 1024 (hard limit 4096)", "LimitNOFILE="}, []string{"launchctl"}},
		{"darwin", 4096, 1<<63 - 1, []string{"Open files limit is 4096 (hard limit unlimited)", "kern.maxfilesperproc", "launchctl limit maxfiles", "ulimit -n"},
			[]string{"LimitNOFILE", "minfds", "9223372036854775807"}},
	}
	for _, tc := range tests {
		t.Run(tc.goos, func(t *testing.T) {
			got := lowNoFileWarning(tc.goos, tc.cur, tc.max)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("%q has %q", got, w)
				}
			}
		})
	}
}
