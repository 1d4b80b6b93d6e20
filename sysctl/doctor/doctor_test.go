package doctor

import (
	"bytes"
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
