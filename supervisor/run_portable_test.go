//go:build !linux || portable

package supervisor

import (
	"strings"
	"testing"
)

// At the open-files limit the one process names the settings of the system
// it runs on: launchd and sysctl on macOS, not systemd or limits.conf.
func TestOneProcessAdvicePerOS(t *testing.T) {
	tests := []struct {
		goos    string
		want    []string
		notWant []string
	}{
		{"linux", []string{"LimitNOFILE=", "limits.conf", "this one process serves every connection"}, nil},
		{"darwin", []string{"launchctl limit maxfiles", "kern.maxfilesperproc", "ulimit -n", "reverb doctor", "this one process serves every connection"},
			[]string{"systemd", "LimitNOFILE", "limits.conf", "minfds"}},
	}
	for _, tc := range tests {
		t.Run(tc.goos, func(t *testing.T) {
			got := oneProcessAdviceFor(tc.goos, 10240)
			for _, w := range append(tc.want, "10240") {
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
