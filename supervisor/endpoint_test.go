package supervisor

import (
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
)

func TestResolvePrecedence(t *testing.T) {
	cfg := laravelcfg.ServerSettings{Host: "0.0.0.0", Port: 8080, Path: "", Hostname: "localhost"}
	tests := []struct {
		name     string
		cli      CLI
		want     Endpoint
		addr     string
		line     string
		lineTLS  string
		hasError bool
	}{
		{
			name: "config only",
			want: Endpoint{Host: "0.0.0.0", Port: "8080", Hostname: "localhost"},
			addr: "0.0.0.0:8080",
			line: "Starting server on 0.0.0.0:8080 (localhost)",
		},
		{
			name: "cli wins when non-empty",
			cli:  CLI{Host: "127.0.0.1", Port: "9000", Path: "ws", Hostname: "127.0.0.1"},
			want: Endpoint{Host: "127.0.0.1", Port: "9000", Path: "ws", Hostname: "127.0.0.1"},
			addr: "127.0.0.1:9000",
			// path printed raw; hostname equal to host is not repeated
			line:    "Starting server on 127.0.0.1:9000ws",
			lineTLS: "Starting secure server on 127.0.0.1:9000ws",
		},
		{
			name: "ipv6 host",
			cli:  CLI{Host: "::1"},
			want: Endpoint{Host: "::1", Port: "8080", Hostname: "localhost"},
			addr: "[::1]:8080",
			line: "Starting server on ::1:8080 (localhost)",
		},
		{
			name: "bracketed ipv6 host",
			cli:  CLI{Host: "[::1]"},
			want: Endpoint{Host: "[::1]", Port: "8080", Hostname: "localhost"},
			addr: "[::1]:8080",
			line: "Starting server on [::1]:8080 (localhost)",
		},
		{
			name:     "bad port",
			cli:      CLI{Port: "http"},
			want:     Endpoint{Host: "0.0.0.0", Port: "http", Hostname: "localhost"},
			addr:     "0.0.0.0:http",
			line:     "Starting server on 0.0.0.0:http (localhost)",
			hasError: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Resolve(cfg, tt.cli)
			got.TLS = laravelcfg.TLSOptions{}
			if got != tt.want {
				t.Fatalf("Resolve = %+v, want %+v", got, tt.want)
			}
			if a := got.Addr(); a != tt.addr {
				t.Errorf("Addr = %q, want %q", a, tt.addr)
			}
			if l := got.StartLine(false); l != tt.line {
				t.Errorf("StartLine = %q, want %q", l, tt.line)
			}
			if tt.lineTLS != "" {
				if l := got.StartLine(true); l != tt.lineTLS {
					t.Errorf("StartLine(secure) = %q, want %q", l, tt.lineTLS)
				}
			}
			if err := got.Validate(); (err != nil) != tt.hasError {
				t.Errorf("Validate = %v, want error %v", err, tt.hasError)
			}
		})
	}
}
