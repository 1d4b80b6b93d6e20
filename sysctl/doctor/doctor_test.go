package doctor

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/cachestore"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/sysctl"
)

const gib = 1 << 30

var goodLimits = sysctl.Limits{NoFileSoft: 65536, NoFileHard: 65536, FileMax: 1 << 63, NrOpen: 1 << 20,
	PortLow: 1024, PortHigh: 65535, Somaxconn: 4096, TCPMaxSynBacklog: 4096, MemTotal: 2 * gib, MemAvailable: 1 * gib}

// scenario is a hand-built project: server settings, one app and the env.
type scenario struct {
	env        map[string]string
	host       string
	port       int
	tls        laravelcfg.TLSOptions
	hostname   string
	origins    []string
	maxConns   *int
	appOptions map[string]php.Value // nil: the app has no options array
	limits     *sysctl.Limits
	flagErr    error
	flagWhere  string
	loadErr    error
	rootErr    error
	envMissing error
	noApps     bool
	now        time.Time
}

func (s scenario) input(t *testing.T) Input {
	t.Helper()
	host, port := s.host, s.port
	if host == "" {
		host = "0.0.0.0"
	}
	if port == 0 {
		port = 8080
	}
	origins := s.origins
	if origins == nil {
		origins = []string{"*"}
	}
	app := laravelcfg.App{ID: "123456", Key: "key", Secret: "secret", PingInterval: 60, ActivityTimeout: 30,
		AllowedOrigins: origins, MaxConnections: s.maxConns}
	if s.appOptions != nil {
		arr := php.NewArray()
		for _, k := range []string{"host", "port", "scheme"} {
			if v, ok := s.appOptions[k]; ok {
				arr.Set(php.StringKey(k), v)
			}
		}
		app.OptionsRaw = php.ArrayValue(arr)
	}
	p := &laravelcfg.Project{Reverb: laravelcfg.Settings{
		Server: laravelcfg.ServerSettings{Host: host, Port: port, TLS: s.tls, Hostname: s.hostname},
		Apps:   []laravelcfg.App{app},
	}}
	if s.noApps {
		p.Reverb.Apps = nil
	}
	limits := goodLimits
	if s.limits != nil {
		limits = *s.limits
	}
	env := s.env
	if env == nil {
		env = map[string]string{"APP_ENV": "local", "REVERB_HOST": "localhost", "REVERB_PORT": "8080", "REVERB_SCHEME": "http"}
	}
	in := Input{
		Dir: t.TempDir(), Project: p, Limits: limits, Workers: 2, DrainWindow: 10 * time.Second,
		User: "forge", Home: t.TempDir(), Now: s.now,
		Getenv: func(n string) (string, bool) { v, ok := env[n]; return v, ok },
		CheckFlag: func(*laravelcfg.Project) (string, error) {
			return s.flagWhere, s.flagErr
		},
		RootErr: s.rootErr, EnvMissing: s.envMissing,
	}
	if s.loadErr != nil {
		in.Project, in.LoadErr = nil, s.loadErr
	}
	if s.rootErr != nil {
		in.Project = nil
	}
	return in
}

func intp(i int) *int { return &i }

func TestBuild(t *testing.T) {
	certFile := writeSelfSigned(t)
	prod := func(host, port, scheme string) map[string]string {
		return map[string]string{"APP_ENV": "production", "REVERB_HOST": host, "REVERB_PORT": port, "REVERB_SCHEME": scheme}
	}
	local := func(host, port, scheme string) map[string]string {
		m := prod(host, port, scheme)
		m["APP_ENV"] = "local"
		return m
	}
	low := goodLimits
	low.NoFileHard, low.NoFileSoft = 4096, 1024
	fewPorts := goodLimits
	fewPorts.PortLow, fewPorts.PortHigh = 32768, 33000
	tracked := goodLimits
	tracked.ConntrackMax = 65536

	tests := []struct {
		name  string
		s     scenario
		ok    bool
		codes []string // level:code of every finding, in order
	}{
		{"local defaults are fine", scenario{}, true, nil},
		{"production behind nginx", scenario{env: prod("ws.example.com", "443", "https"), origins: []string{"example.com"}}, true,
			[]string{"info:clients"}},
		{"origins * in production", scenario{env: prod("ws.example.com", "443", "https")}, false,
			[]string{"info:clients", "warning:origins"}},
		{"https on the server's own port without TLS", scenario{env: local("localhost", "8080", "https")}, false,
			[]string{"problem:clients"}},
		{"http to a TLS server", scenario{env: local("localhost", "8080", "http"), tls: laravelcfg.TLSOptions{LocalCert: certFile}}, false,
			[]string{"problem:clients"}},
		{"https to a TLS server", scenario{env: local("localhost", "8080", "https"), tls: laravelcfg.TLSOptions{LocalCert: certFile}}, true, nil},
		{"certificate expiring soon", scenario{env: local("localhost", "8080", "https"), tls: laravelcfg.TLSOptions{LocalCert: certFile},
			now: time.Now().Add(85 * 24 * time.Hour)}, false, []string{"warning:tls"}},
		{"certificate expired", scenario{env: local("localhost", "8080", "https"), tls: laravelcfg.TLSOptions{LocalCert: certFile},
			now: time.Now().Add(91 * 24 * time.Hour)}, false, []string{"problem:tls"}},
		{"certificate for another host", scenario{env: local("ws.example.com", "8080", "https"), tls: laravelcfg.TLSOptions{LocalCert: certFile}},
			false, []string{"warning:tls"}},
		{"TLS file missing", scenario{tls: laravelcfg.TLSOptions{LocalCert: "/nonexistent/cert.pem"}}, false,
			[]string{"problem:tls", "problem:clients"}},
		{"port mismatch without TLS", scenario{env: local("localhost", "6001", "http")}, false, []string{"warning:clients"}},
		{"REVERB_HOST empty", scenario{env: map[string]string{"APP_ENV": "local"}}, false, []string{"warning:clients"}},
		{"bad scheme", scenario{env: local("localhost", "8080", "wss")}, false, []string{"problem:clients"}},
		{"REVERB_HOST with a scheme, server on loopback", scenario{host: "127.0.0.1", env: local("http://localhost", "8080", "http")}, false,
			[]string{"problem:clients"}},
		{"REVERB_HOST with a port", scenario{env: local("localhost:8080", "8080", "http")}, false, []string{"problem:clients"}},
		{"REVERB_HOST an IPv6 address", scenario{env: local("::1", "8080", "http")}, true, nil},
		{"localhost in production", scenario{env: prod("localhost", "8080", "http"), origins: []string{"example.com"}}, false,
			[]string{"warning:clients"}},
		{"loopback listener told to the world", scenario{host: "127.0.0.1", env: local("ws.example.com", "8080", "http")}, false,
			[]string{"warning:clients"}},
		{"app options win over env", scenario{env: local("localhost", "8080", "http"),
			appOptions: map[string]php.Value{"host": php.StringValue("localhost"), "port": php.IntValue(8080), "scheme": php.StringValue("https")}},
			false, []string{"problem:clients"}},
		{"cache store cannot carry the flag", scenario{flagErr: fmt.Errorf(`cache store "array" keeps values in memory: %w`, cachestore.ErrNotShared)}, false,
			[]string{"warning:restart-flag"}},
		{"flag store cannot be read", scenario{flagWhere: "sqlite:/app/database/database.sqlite table cache",
			flagErr: errors.New("database file does not exist")}, false, []string{"problem:restart-flag"}},
		{"flag store read", scenario{flagWhere: "file storage/framework/cache/data"}, true, []string{"info:restart-flag"}},
		{"not a Laravel project", scenario{rootErr: errors.New("No Laravel project in /tmp/x: there is no artisan file")}, false,
			[]string{"problem:project"}},
		{"no .env, then the settings fail", scenario{envMissing: errors.New("No .env file in /app"), loadErr: errors.New("missing app_id")}, false,
			[]string{"warning:env", "problem:project"}},
		{"low open-files limit", scenario{limits: &low}, false, []string{"warning:open-files", "info:open-files"}},
		{"max_connections beyond capacity", scenario{maxConns: intp(10_000_000)}, false, []string{"warning:capacity"}},
		{"no apps", scenario{noApps: true}, false, []string{"problem:apps"}},
		{"ephemeral ports below capacity, production", scenario{limits: &fewPorts, env: prod("ws.example.com", "443", "https"), origins: []string{"example.com"}},
			true, []string{"info:clients", "info:ports"}},
		{"no ephemeral-port note on a development machine", scenario{limits: &fewPorts}, true, nil},
		{"a small conntrack table bounds the restart", scenario{limits: &tracked}, true, []string{"info:conntrack"}},
		{"project unreadable", scenario{loadErr: errors.New(".env:3: unexpected quote")}, false,
			[]string{"problem:project"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Build(tc.s.input(t))
			var codes []string
			for _, f := range r.Findings {
				codes = append(codes, f.Level+":"+f.Code)
			}
			if !slices.Equal(codes, tc.codes) || r.OK != tc.ok {
				t.Fatalf("ok=%v findings %v; want ok=%v %v\n%+v", r.OK, codes, tc.ok, tc.codes, r.Findings)
			}
			for _, f := range r.Findings {
				if f.Message == "" {
					t.Fatalf("empty message for %s", f.Code)
				}
			}
		})
	}
}

func TestHerdCertificateSwitchesToTLS(t *testing.T) {
	s := scenario{hostname: "laravel.test", env: map[string]string{"APP_ENV": "local", "REVERB_HOST": "laravel.test", "REVERB_PORT": "8080", "REVERB_SCHEME": "https"}}
	in := s.input(t)
	dir := filepath.Join(in.Home, ".config", "valet", "Certificates")
	cert := writeSelfSigned(t, "laravel.test")
	b, _ := os.ReadFile(cert)
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "laravel.test.crt"), b, 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "laravel.test.key"), b, 0o600))
	r := Build(in)
	if r.Listen.Scheme != "https" || r.TLSSource != "valet" || !r.OK {
		t.Fatalf("listen %+v source %q ok %v findings %+v", r.Listen, r.TLSSource, r.OK, r.Findings)
	}
}

func TestTextAndJSON(t *testing.T) {
	r := Build(scenario{env: map[string]string{"APP_ENV": "production", "REVERB_HOST": "ws.example.com", "REVERB_PORT": "443", "REVERB_SCHEME": "https"}}.input(t))
	var buf bytes.Buffer
	r.WriteText(&buf, true)
	out := buf.String()
	for _, want := range []string{"listens on", "ws://0.0.0.0:8080", "wss://ws.example.com:443", "binding limit: memory",
		"WARNING  app 123456 allows every origin", "LimitNOFILE=", "minfds=", "location ^~ /app/", "exit status 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	js, err := json.Marshal(r)
	must(t, err)
	var back map[string]any
	must(t, json.Unmarshal(js, &back))
	for _, k := range []string{"listen", "clients", "limits", "capacity", "findings", "snippets", "ok"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if back["ok"] != false {
		t.Error("JSON ok should be false")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeSelfSigned writes a PEM file holding a certificate and its key.
func writeSelfSigned(t *testing.T, names ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour), DNSNames: append([]string{"localhost"}, names...)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	must(t, err)
	p := filepath.Join(t.TempDir(), "site.pem")
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...)
	must(t, os.WriteFile(p, data, 0o600))
	return p
}

// The report says what applies on the OS it runs on; every OS's report is
// built here from injected readings.
func TestReportPerOS(t *testing.T) {
	darwin := sysctl.Limits{OS: "darwin", SingleProcess: true, NoFileSoft: 256, NoFileHard: sysctl.Unlimited, LaunchdSoft: 256, LaunchdHard: sysctl.Unlimited,
		MaxFilesPerProc: 24576, MaxFiles: 49152, Somaxconn: 128, PortLow: 49152, PortHigh: 65535, MemTotal: 16 * gib}
	lowMac := darwin
	lowMac.MaxFilesPerProc = 4096
	windows := sysctl.Limits{OS: "windows", SingleProcess: true, PortLow: 49152, PortHigh: 65535, MemTotal: 8 * gib, MemAvailable: 4 * gib}
	tests := []struct {
		name    string
		limits  sysctl.Limits
		codes   []string
		want    []string
		notWant []string
	}{
		{"linux", goodLimits, nil,
			[]string{"System limits (Linux)", "fs.file-max", "LimitNOFILE=", "/etc/security/limits.conf", "open files per worker"},
			[]string{"Not applicable", "launchctl"}},
		{"macOS", darwin, nil,
			[]string{"System limits (macOS)", "launchctl maxfiles", "soft 256 / hard unlimited", "kern.maxfilesperproc   24,576", "kern.maxfiles          49,152",
				"one process serves every connection (worker processes are Linux-only)", "open files (one process)", "kern.maxfilesperproc 24576 − 64 reserved",
				"sudo launchctl limit maxfiles", "/Library/LaunchDaemons/limit.maxfiles.plist", "Not applicable on macOS", "systemd", "nginx on this machine"},
			[]string{"LimitNOFILE=", "/etc/security/limits.conf", "----- /etc/nginx", "fs.file-max", "minfds="}},
		{"macOS with a low per-process cap", lowMac, []string{"warning:open-files"},
			[]string{"a process may open 4096 files (kern.maxfilesperproc 4096, hard limit unlimited): raise them with launchctl and sysctl"}, nil},
		{"Windows", windows, nil,
			[]string{"System limits (Windows)", "no per-process limit for sockets on Windows", "dynamic ports", "Not applicable on Windows", "Herd for Windows", "binding limit: memory"},
			[]string{"Snippets (filled in", "LimitNOFILE=", "launchctl", "fs.file-max", "ulimit"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Build(scenario{limits: &tc.limits}.input(t))
			var codes []string
			for _, f := range r.Findings {
				codes = append(codes, f.Level+":"+f.Code)
			}
			if !slices.Equal(codes, tc.codes) {
				t.Errorf("findings %v, want %v: %+v", codes, tc.codes, r.Findings)
			}
			var buf bytes.Buffer
			r.WriteText(&buf, true)
			assertMentions(t, buf.String(), tc.want, tc.notWant)
		})
	}
}

// reverb start repeats doctor's problems about where clients connect, and
// names the configuration keys without effect, once.
func TestStartWarnings(t *testing.T) {
	type proj struct {
		p   *laravelcfg.Project
		env func(string) (string, bool)
	}
	project := func(env map[string]string, server laravelcfg.ServerSettings) proj {
		in := scenario{env: env}.input(t)
		in.Project.Reverb.Server = server
		return proj{in.Project, in.Getenv}
	}
	StartWarnings := func(p proj, host string, port int, path string, secure bool) []string {
		return startWarnings(p.p, p.env, host, port, path, secure)
	}
	local := map[string]string{"APP_ENV": "local", "REVERB_HOST": "localhost", "REVERB_PORT": "8080", "REVERB_SCHEME": "https"}
	plain := laravelcfg.ServerSettings{Host: "0.0.0.0", Port: 8080}
	got := StartWarnings(project(local, plain), "0.0.0.0", 8080, "", false)
	if len(got) != 1 || !strings.HasPrefix(got[0], "Clients are told wss://localhost:8080 (REVERB_SCHEME=https, REVERB_PORT=8080) but the server listens without TLS on port 8080") ||
		!strings.Contains(got[0], "set REVERB_SCHEME=http") || !strings.Contains(got[0], "REVERB_PORT=443") ||
		!strings.Contains(got[0], "(usually 443, ./reverb doctor prints an nginx snippet for it)") || strings.Contains(got[0], "below") {
		t.Errorf("https to a plain server: %q", got)
	}
	// A scheme in REVERB_HOST: Echo's URL is broken, whatever else holds.
	withScheme := map[string]string{"APP_ENV": "local", "REVERB_HOST": "http://localhost", "REVERB_PORT": "8080", "REVERB_SCHEME": "http"}
	got = StartWarnings(project(withScheme, plain), "127.0.0.1", 8080, "", false)
	if len(got) != 1 || !strings.HasPrefix(got[0], `The host clients are told, "http://localhost" (the first app's options.host: REVERB_HOST in Reverb's config), must be a host name or IP address alone, without a scheme (localhost, ws.example.com): `+
		"Echo given it (VITE_REVERB_HOST) builds ws://http://localhost:8080") {
		t.Errorf("scheme in REVERB_HOST: %q", got)
	}
	if got := StartWarnings(project(local, plain), "0.0.0.0", 8080, "", true); len(got) != 0 {
		t.Errorf("https to a TLS server: %q", got)
	}
	http := map[string]string{"APP_ENV": "local", "REVERB_HOST": "localhost", "REVERB_PORT": "8080", "REVERB_SCHEME": "http"}
	got = StartWarnings(project(http, plain), "0.0.0.0", 8080, "", true)
	if len(got) != 1 || !strings.Contains(got[0], "REVERB_SCHEME=http") || !strings.Contains(got[0], "set REVERB_SCHEME=https") {
		t.Errorf("http to a TLS server: %q", got)
	}
	// Behind a proxy (clients on 443, server plain on 8080) is normal.
	proxied := map[string]string{"APP_ENV": "production", "REVERB_HOST": "ws.example.com", "REVERB_PORT": "443", "REVERB_SCHEME": "https"}
	if got := StartWarnings(project(proxied, plain), "0.0.0.0", 8080, "", false); len(got) != 0 {
		t.Errorf("behind a proxy: %q", got)
	}
	cert := writeSelfSigned(t)
	arr := php.NewArray()
	arr.Set(php.StringKey("local_cert"), php.StringValue(cert))
	arr.Set(php.StringKey("ciphers"), php.StringValue("HIGH"))
	arr.Set(php.StringKey("crypto_method"), php.IntValue(1))
	odd := laravelcfg.ServerSettings{Host: "0.0.0.0", Port: 8080, IgnoredOptions: []string{"tcp.tcp_nodelay", "unix"},
		TLS: laravelcfg.TLSOptions{LocalCert: cert, Raw: php.ArrayValue(arr)}}
	got = StartWarnings(project(http, odd), "0.0.0.0", 8080, "", false)
	joined := strings.Join(got, "\n")
	if !strings.Contains(joined, "servers.reverb.options keys without effect here: tcp.tcp_nodelay, unix") ||
		!strings.Contains(joined, "servers.reverb.options.tls keys without effect here: ciphers, crypto_method") {
		t.Errorf("keys without effect: %q", got)
	}
}

// URL joins host and port as Echo does; only an IPv6 address is bracketed.
func TestEndpointURL(t *testing.T) {
	for host, want := range map[string]string{
		"ws.example.com": "ws://ws.example.com:8080/p", "::1": "ws://[::1]:8080/p", "[::1]": "ws://[::1]:8080/p",
		"http://localhost": "ws://http://localhost:8080/p", "": "ws://(unset):8080/p",
	} {
		if got := (Endpoint{Scheme: "http", Host: host, Port: 8080, Path: "/p"}).URL(); got != want {
			t.Errorf("%q: %s, want %s", host, got, want)
		}
	}
}

// What clients may be told as a host: a name or an address alone.
func TestNotAHost(t *testing.T) {
	for h, want := range map[string]string{
		"localhost": "", "ws.example.com": "", "127.0.0.1": "", "::1": "", "[::1]": "", "2001:db8::1": "",
		"fe80::1%eth0": "", "[fe80::1%25eth0]": "",
		"http://localhost": "without a scheme", "localhost/ws": "without a scheme, path or spaces",
		"localhost:8080": "without a port",
	} {
		if got := notAHost(h); got != want {
			t.Errorf("notAHost(%q) = %q, want %q", h, got, want)
		}
	}
}

// When the restart flag cannot reach the server, doctor names the restart
// that still works on the system it runs on: Windows has no SIGHUP, and
// macOS no systemctl.
func TestRestartFallbackPerOS(t *testing.T) {
	notShared := fmt.Errorf(`cache store "array" keeps values in memory: %w`, cachestore.ErrNotShared)
	darwin := sysctl.Limits{OS: "darwin", SingleProcess: true, NoFileHard: 1 << 20, MaxFilesPerProc: 1 << 20, MemTotal: 16 * gib}
	windows := sysctl.Limits{OS: "windows", SingleProcess: true, MemTotal: 8 * gib}
	tests := []struct {
		name    string
		limits  *sysctl.Limits
		want    []string
		notWant []string
	}{
		{"linux", nil, []string{"kill -HUP", "systemctl reload"}, nil},
		{"macOS", &darwin, []string{"kill -HUP"}, []string{"systemctl"}},
		{"Windows", &windows, []string{"stop", "start it again"}, []string{"SIGHUP", "kill -HUP", "systemctl"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Build(scenario{limits: tc.limits, flagErr: notShared}.input(t))
			var msg string
			for _, f := range r.Findings {
				if f.Code == "restart-flag" {
					msg = f.Message
				}
			}
			if msg == "" {
				t.Fatalf("no restart-flag finding: %+v", r.Findings)
			}
			assertMentions(t, msg, tc.want, tc.notWant)
		})
	}
}

// assertMentions checks that text has every string of want and none of
// notWant.
func assertMentions(t *testing.T, text string, want, notWant []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("lacks %q:\n%s", w, text)
		}
	}
	for _, w := range notWant {
		if strings.Contains(text, w) {
			t.Errorf("has %q:\n%s", w, text)
		}
	}
}

// Laravel's broadcaster posts to options.host (REVERB_HOST): a name this
// machine cannot resolve is a warning naming the host, the error every
// broadcast() then fails with and what to set; a name that resolves, an
// IP address or localhost is not said.
func TestBroadcasterHostResolves(t *testing.T) {
	obj := func(kv ...any) php.Value {
		a := php.NewArray()
		for i := 0; i < len(kv); i += 2 {
			v, ok := kv[i+1].(php.Value)
			if !ok {
				v = php.StringValue(kv[i+1].(string))
			}
			a.Set(php.StringKey(kv[i].(string)), v)
		}
		return php.ArrayValue(a)
	}
	for _, tc := range []struct {
		host string
		warn bool
	}{{"ws.example.com", true}, {"ws.example.org", false}, {"127.0.0.1", false}, {"", false}} {
		in := scenario{}.input(t)
		if err := os.MkdirAll(filepath.Join(in.Dir, "routes"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(in.Dir, "routes", "channels.php"), []byte("<?php\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		in.Project.Config = obj("broadcasting", obj("default", "reverb", "connections", obj("reverb", obj(
			"driver", "reverb", "key", "key", "secret", "secret", "app_id", "123456", "options", obj("host", tc.host, "port", "8080", "scheme", "http")))))
		var asked []string
		in.LookupHost = func(_ context.Context, h string) ([]string, error) {
			asked = append(asked, h)
			if h == "ws.example.com" {
				return nil, &net.DNSError{Err: "no such host", Name: h, IsNotFound: true}
			}
			return []string{"192.0.2.1"}, nil
		}
		r := Build(in)
		var got []string
		for _, f := range r.Findings {
			if f.Code == "broadcasting" {
				got = append(got, f.Level+": "+f.Message)
			}
		}
		want := []string(nil)
		if tc.warn {
			want = []string{`warning: Laravel's broadcaster (broadcasting.connections.reverb) sends its events to host "ws.example.com" (options.host: REVERB_HOST), ` +
				`which this machine cannot resolve (lookup ws.example.com: no such host): broadcast() run here fails with "cURL error 6: Could not resolve host"; ` +
				`in development set REVERB_HOST=localhost, in production point options.host in config/broadcasting.php at where the server listens if the public name is not reachable from the app`}
		}
		if !slices.Equal(got, want) {
			t.Errorf("host %q: findings\n%q\nwant\n%q", tc.host, got, want)
		}
		if wantAsked := tc.host != "" && tc.host != "127.0.0.1"; wantAsked != (len(asked) == 1) {
			t.Errorf("host %q: looked up %q", tc.host, asked)
		}
	}
}
