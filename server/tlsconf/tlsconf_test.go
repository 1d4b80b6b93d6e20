package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

func boolp(b bool) *bool { return &b }

func TestLoadConfigured(t *testing.T) {
	pki := newPKI(t)
	dir := t.TempDir()
	serverKey := pemPKCS8(t, pki.serverKey)
	files := map[string]string{
		"cert":          writeFile(t, dir, "cert.pem", pki.serverPEM, pki.caPEM),
		"key":           writeFile(t, dir, "key.pem", serverKey),
		"combined":      writeFile(t, dir, "combined.pem", pki.serverPEM, serverKey),
		"rsa":           writeFile(t, dir, "rsa.pem", pki.rsaPEM),
		"legacy":        writeFile(t, dir, "legacy.key", pemLegacyEncrypted(t, pki.rsaKey, "s3cret")),
		"pkcs8enc":      writeFile(t, dir, "pkcs8enc.key", pemPKCS8Encrypted(t, pki.serverKey, "s3cret")),
		"otherkey":      writeFile(t, dir, "other.key", pemPKCS8(t, pki.clientKey)),
		"ca":            writeFile(t, dir, "ca.pem", pki.caPEM),
		"notpem":        writeFile(t, dir, "notpem.txt", []byte("hello\n")),
		"combinedNoKey": writeFile(t, dir, "nokey.pem", pki.serverPEM),
	}
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name    string
		opts    laravelcfg.TLSOptions
		wantErr string // substring; "" means success
		errIs   error
		auth    tls.ClientAuthType
	}{
		{name: "cert and key files", opts: laravelcfg.TLSOptions{LocalCert: files["cert"], LocalPK: files["key"]}},
		{name: "key inside local_cert", opts: laravelcfg.TLSOptions{LocalCert: files["combined"]}},
		{name: "legacy encrypted PEM key", opts: laravelcfg.TLSOptions{LocalCert: files["rsa"], LocalPK: files["legacy"], Passphrase: "s3cret"}},
		{name: "legacy wrong passphrase", opts: laravelcfg.TLSOptions{LocalCert: files["rsa"], LocalPK: files["legacy"], Passphrase: "nope"},
			wantErr: files["legacy"], errIs: ErrWrongPassphrase},
		{name: "legacy no passphrase", opts: laravelcfg.TLSOptions{LocalCert: files["rsa"], LocalPK: files["legacy"]},
			wantErr: "passphrase is not set"},
		{name: "PKCS#8 encrypted key", opts: laravelcfg.TLSOptions{LocalCert: files["cert"], LocalPK: files["pkcs8enc"], Passphrase: "s3cret"}},
		{name: "PKCS#8 wrong passphrase", opts: laravelcfg.TLSOptions{LocalCert: files["cert"], LocalPK: files["pkcs8enc"], Passphrase: "nope"},
			wantErr: files["pkcs8enc"], errIs: ErrWrongPassphrase},
		{name: "PKCS#8 no passphrase", opts: laravelcfg.TLSOptions{LocalCert: files["cert"], LocalPK: files["pkcs8enc"]},
			wantErr: "passphrase is not set"},
		{name: "key does not match", opts: laravelcfg.TLSOptions{LocalCert: files["cert"], LocalPK: files["otherkey"]},
			wantErr: "does not match the certificate in " + files["cert"]},
		{name: "missing cert", opts: laravelcfg.TLSOptions{LocalCert: missing, LocalPK: files["key"]}, wantErr: missing},
		{name: "missing key", opts: laravelcfg.TLSOptions{LocalCert: files["cert"], LocalPK: missing}, wantErr: missing},
		{name: "cert not PEM", opts: laravelcfg.TLSOptions{LocalCert: files["notpem"], LocalPK: files["key"]},
			wantErr: files["notpem"], errIs: ErrNoCertificate},
		{name: "key not PEM", opts: laravelcfg.TLSOptions{LocalCert: files["cert"], LocalPK: files["notpem"]},
			wantErr: "local_pk " + files["notpem"] + ": no PEM private key"},
		{name: "no key anywhere", opts: laravelcfg.TLSOptions{LocalCert: files["combinedNoKey"]}, wantErr: "holds no private key"},
		{name: "only local_pk", opts: laravelcfg.TLSOptions{LocalPK: files["key"]}, wantErr: "local_cert is not"},
		{name: "verify_peer with cafile", opts: laravelcfg.TLSOptions{LocalCert: files["combined"], CAFile: files["ca"], VerifyPeer: boolp(true)},
			auth: tls.RequireAndVerifyClientCert},
		{name: "verify_peer with capath", opts: laravelcfg.TLSOptions{LocalCert: files["combined"], CAPath: dir, VerifyPeer: boolp(true)},
			auth: tls.RequireAndVerifyClientCert},
		{name: "cafile, verify_peer unset", opts: laravelcfg.TLSOptions{LocalCert: files["combined"], CAFile: files["ca"]},
			auth: tls.VerifyClientCertIfGiven},
		{name: "cafile, verify_peer false", opts: laravelcfg.TLSOptions{LocalCert: files["combined"], CAFile: files["ca"], VerifyPeer: boolp(false)},
			auth: tls.NoClientCert},
		{name: "verify_peer without CA", opts: laravelcfg.TLSOptions{LocalCert: files["combined"], VerifyPeer: boolp(true)},
			auth: tls.VerifyClientCertIfGiven},
		{name: "cafile not PEM", opts: laravelcfg.TLSOptions{LocalCert: files["combined"], CAFile: files["notpem"]},
			wantErr: "cafile " + files["notpem"]},
		{name: "cafile missing", opts: laravelcfg.TLSOptions{LocalCert: files["combined"], CAFile: missing}, wantErr: missing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Load(Request{TLS: tc.opts, Home: t.TempDir()})
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("want error containing %q, got none", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q does not contain %q", err, tc.wantErr)
				}
				if tc.errIs != nil && !errors.Is(err, tc.errIs) {
					t.Fatalf("error %q is not %v", err, tc.errIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Source != SourceConfig || res.Config == nil {
				t.Fatalf("source %q config %v", res.Source, res.Config)
			}
			if res.ClientAuth != tc.auth || res.Config.ClientAuth != tc.auth {
				t.Fatalf("client auth %v, want %v", res.Config.ClientAuth, tc.auth)
			}
		})
	}
}

func TestLoadOff(t *testing.T) {
	res, err := Load(Request{Home: t.TempDir(), Hostname: "nothing.test"})
	if err != nil || res.Config != nil || res.Source != SourceNone {
		t.Fatalf("got %+v, %v", res, err)
	}
	cfg, src, err := Config(laravelcfg.TLSOptions{}, "", "production", t.TempDir())
	if err != nil || cfg != nil || src != SourceNone {
		t.Fatalf("got %v %q %v", cfg, src, err)
	}
}

func TestRelativePathsUseBaseDir(t *testing.T) {
	pki := newPKI(t)
	dir := t.TempDir()
	writeFile(t, dir, "certs/site.pem", pki.serverPEM, pemPKCS8(t, pki.serverKey))
	res, err := Load(Request{TLS: laravelcfg.TLSOptions{LocalCert: "certs/site.pem"}, BaseDir: dir, Home: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.CertFile != filepath.Join(dir, "certs/site.pem") {
		t.Fatalf("cert file %q", res.CertFile)
	}
}

func TestIgnoredKeys(t *testing.T) {
	arr := php.NewArray()
	arr.Set(php.StringKey("local_cert"), php.StringValue("x"))
	arr.Set(php.StringKey("verify_peer"), php.BoolValue(false))
	arr.Set(php.StringKey("ciphers"), php.StringValue("HIGH"))
	arr.Set(php.StringKey("crypto_method"), php.IntValue(9))
	got := ignoredKeys(laravelcfg.TLSOptions{Raw: php.ArrayValue(arr)})
	if strings.Join(got, ",") != "ciphers,crypto_method" {
		t.Fatalf("ignored %v", got)
	}
}

func TestHerdValetLookup(t *testing.T) {
	pki := newPKI(t)
	key := pemPKCS8(t, pki.serverKey)
	herd := filepath.Join("Library", "Application Support", "Herd", "config", "valet", "Certificates")
	valet := filepath.Join(".config", "valet", "Certificates")

	tests := []struct {
		name     string
		files    []string // relative to HOME
		hostname string
		goos     string
		appEnv   string
		want     Source
		wantDir  string
		auth     tls.ClientAuthType
	}{
		{name: "herd", files: []string{herd + "/laravel.test.crt", herd + "/laravel.test.key"},
			hostname: "laravel.test", want: SourceHerd, wantDir: herd},
		{name: "herd wins over valet", files: []string{herd + "/laravel.test.crt", herd + "/laravel.test.key",
			valet + "/laravel.test.crt", valet + "/laravel.test.key"}, hostname: "laravel.test", want: SourceHerd, wantDir: herd},
		{name: "valet when herd has only the crt", files: []string{herd + "/laravel.test.crt",
			valet + "/laravel.test.crt", valet + "/laravel.test.key"}, hostname: "laravel.test", want: SourceValet, wantDir: valet},
		{name: "url hostname", files: []string{valet + "/laravel.test.crt", valet + "/laravel.test.key"},
			hostname: "https://laravel.test:8080", want: SourceValet, wantDir: valet},
		{name: "production verifies peers", files: []string{valet + "/laravel.test.crt", valet + "/laravel.test.key"},
			hostname: "laravel.test", appEnv: "production", want: SourceValet, wantDir: valet, auth: tls.VerifyClientCertIfGiven},
		{name: "windows herd folder", files: []string{".config/herd/config/valet/Certificates/laravel.test.crt",
			".config/herd/config/valet/Certificates/laravel.test.key"}, hostname: "laravel.test", goos: "windows",
			want: SourceHerd, wantDir: ".config/herd/config/valet/Certificates"},
		{name: "other host", files: []string{valet + "/laravel.test.crt", valet + "/laravel.test.key"},
			hostname: "other.test", want: SourceNone},
		{name: "only key", files: []string{valet + "/laravel.test.key"}, hostname: "laravel.test", want: SourceNone},
		{name: "no hostname", files: []string{valet + "/laravel.test.crt", valet + "/laravel.test.key"}, want: SourceNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			for _, f := range tc.files {
				if strings.HasSuffix(f, ".crt") {
					writeFile(t, home, f, pki.serverPEM)
				} else {
					writeFile(t, home, f, key)
				}
			}
			goos := tc.goos
			if goos == "" {
				goos = "linux"
			}
			res, err := Load(Request{Hostname: tc.hostname, Home: home, AppEnv: tc.appEnv, GOOS: goos})
			if err != nil {
				t.Fatal(err)
			}
			if res.Source != tc.want {
				t.Fatalf("source %q, want %q", res.Source, tc.want)
			}
			if tc.want == SourceNone {
				if res.Config != nil {
					t.Fatal("config without a certificate")
				}
				return
			}
			wantCert := filepath.Join(home, tc.wantDir, "laravel.test.crt")
			if res.CertFile != wantCert || res.KeyFile != strings.TrimSuffix(wantCert, ".crt")+".key" {
				t.Fatalf("files %q %q, want %q", res.CertFile, res.KeyFile, wantCert)
			}
			if res.Config.ClientAuth != tc.auth {
				t.Fatalf("client auth %v, want %v", res.Config.ClientAuth, tc.auth)
			}
		})
	}
}

// Reverb's Certificate::herdPath()/valetPath() per OS: the folders, and the
// environment variable each is built from, checked on Linux by injecting
// GOOS and the environment.
func TestSiteCertificateDirsPerOS(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	j := filepath.Join
	macHerd := func(home string) string {
		return j(home, "Library", "Application Support", "Herd", "config", "valet", "Certificates")
	}
	valet := func(home string) string { return j(home, ".config", "valet", "Certificates") }
	winHerd := func(profile string) string { return j(profile, ".config", "herd", "config", "valet", "Certificates") }
	tests := []struct {
		name string
		goos string
		env  func(string) string
		want []CertDir
	}{
		{"macOS: Herd, then Valet, both under HOME", "darwin", env("HOME", "/Users/taylor", "USERPROFILE", "/ignored"),
			[]CertDir{{SourceHerd, macHerd("/Users/taylor")}, {SourceValet, valet("/Users/taylor")}}},
		{"Linux: the same folders as macOS (Valet Linux uses the second)", "linux", env("HOME", "/home/taylor"),
			[]CertDir{{SourceHerd, macHerd("/home/taylor")}, {SourceValet, valet("/home/taylor")}}},
		{"Windows: Herd under USERPROFILE, Valet under HOME", "windows", env("USERPROFILE", `C:\Users\taylor`, "HOME", "/c/Users/taylor"),
			[]CertDir{{SourceHerd, winHerd(`C:\Users\taylor`)}, {SourceValet, valet("/c/Users/taylor")}}},
		{"Windows without HOME: Herd only", "windows", env("USERPROFILE", `C:\Users\taylor`),
			[]CertDir{{SourceHerd, winHerd(`C:\Users\taylor`)}}},
		{"Windows without USERPROFILE: Herd falls back to HOME", "windows", env("HOME", "/c/Users/taylor"),
			[]CertDir{{SourceHerd, winHerd("/c/Users/taylor")}, {SourceValet, valet("/c/Users/taylor")}}},
		{"no home at all: nothing searched (not the file system root)", "darwin", env(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SiteCertificateDirs(tc.goos, tc.env)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

// The whole lookup through Load with the Windows layout and environment:
// a Herd for Windows certificate under USERPROFILE is found although HOME
// points elsewhere, and Valet's folder is read from HOME.
func TestHerdForWindowsThroughLoad(t *testing.T) {
	pki := newPKI(t)
	key := pemPKCS8(t, pki.serverKey)
	profile, home := t.TempDir(), t.TempDir()
	getenv := func(k string) string {
		return map[string]string{"USERPROFILE": profile, "HOME": home}[k]
	}
	herd := filepath.Join(profile, ".config", "herd", "config", "valet", "Certificates")
	writeFile(t, herd, "app.test.crt", pki.serverPEM)
	writeFile(t, herd, "app.test.key", key)
	valet := filepath.Join(home, ".config", "valet", "Certificates")
	writeFile(t, valet, "other.test.crt", pki.serverPEM)
	writeFile(t, valet, "other.test.key", key)

	for host, want := range map[string]Source{"app.test": SourceHerd, "other.test": SourceValet, "none.test": SourceNone} {
		res, err := Load(Request{Hostname: host, GOOS: "windows", Getenv: getenv, AppEnv: "local"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Source != want {
			t.Errorf("%s: source %q, want %q", host, res.Source, want)
		}
	}
	// macOS reads neither of these folders for app.test.
	res, err := Load(Request{Hostname: "app.test", GOOS: "darwin", Getenv: getenv})
	if err != nil || res.Source != SourceNone {
		t.Fatalf("darwin: %v %q", err, res.Source)
	}
}

// verify_peer is app()->environment() === 'production': strict.
func TestSiteCertificateVerifiesPeersOnlyInProduction(t *testing.T) {
	pki := newPKI(t)
	home := t.TempDir()
	valet := filepath.Join(home, ".config", "valet", "Certificates")
	writeFile(t, valet, "app.test.crt", pki.serverPEM)
	writeFile(t, valet, "app.test.key", pemPKCS8(t, pki.serverKey))
	for env, want := range map[string]tls.ClientAuthType{
		"production": tls.VerifyClientCertIfGiven, "Production": tls.NoClientCert, "local": tls.NoClientCert, "": tls.NoClientCert,
	} {
		res, err := Load(Request{Hostname: "app.test", Home: home, GOOS: "darwin", AppEnv: env})
		if err != nil {
			t.Fatal(err)
		}
		if res.ClientAuth != want {
			t.Errorf("APP_ENV=%q: client auth %v, want %v", env, res.ClientAuth, want)
		}
	}
}

func TestConfiguredTLSSkipsHerd(t *testing.T) {
	pki := newPKI(t)
	home := t.TempDir()
	valet := filepath.Join(home, ".config", "valet", "Certificates")
	writeFile(t, valet, "laravel.test.crt", pki.serverPEM)
	writeFile(t, valet, "laravel.test.key", pemPKCS8(t, pki.serverKey))
	own := writeFile(t, home, "own.pem", pki.serverPEM, pemPKCS8(t, pki.serverKey))
	res, err := Load(Request{TLS: laravelcfg.TLSOptions{LocalCert: own}, Hostname: "laravel.test", Home: home})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != SourceConfig || res.CertFile != own {
		t.Fatalf("got %q %q", res.Source, res.CertFile)
	}
}

func TestHostPart(t *testing.T) {
	// Expected values checked against PHP 8.2: parse_url($h, PHP_URL_HOST) ?: $h.
	tests := map[string]string{
		"laravel.test":                "laravel.test",
		"laravel.test:8080":           "laravel.test",
		"laravel.test:80/x":           "laravel.test",
		"https://laravel.test:8080/x": "laravel.test",
		"//laravel.test":              "laravel.test",
		"ws.laravel.com/path":         "ws.laravel.com/path",
		"localhost":                   "localhost",
		"laravel.test:abc":            "laravel.test:abc",
		"laravel.test:":               "laravel.test:",
		"http://[::1]:80":             "[::1]",
		"user@laravel.test:80":        "laravel.test",
		"wss://user:pw@site.test/app": "site.test",
		"0:80":                        "0:80",
		"https://h:99999/":            "https://h:99999/",
	}
	for in, want := range tests {
		if got := HostPart(in); got != want {
			t.Errorf("HostPart(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHandshake proves the configs work on the wire: a client trusting the
// test CA connects; client certificates are required when configured.
func TestHandshake(t *testing.T) {
	pki := newPKI(t)
	dir := t.TempDir()
	site := writeFile(t, dir, "site.pem", pki.serverPEM, pki.caPEM, pemPKCS8(t, pki.serverKey))
	ca := writeFile(t, dir, "ca.pem", pki.caPEM)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pki.caPEM)
	clientCert := tls.Certificate{Certificate: [][]byte{mustDER(t, pki.clientPEM)}, PrivateKey: pki.clientKey}

	tests := []struct {
		name       string
		opts       laravelcfg.TLSOptions
		withClient bool
		wantOK     bool
	}{
		{"plain server TLS", laravelcfg.TLSOptions{LocalCert: site}, false, true},
		{"client cert required, none sent", laravelcfg.TLSOptions{LocalCert: site, CAFile: ca, VerifyPeer: boolp(true)}, false, false},
		{"client cert required and sent", laravelcfg.TLSOptions{LocalCert: site, CAFile: ca, VerifyPeer: boolp(true)}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := Config(tc.opts, "", "", dir)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan error, 1)
			go func() { // owned by this subtest; ends when the one connection does
				c, err := ln.Accept()
				if err != nil {
					done <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if err := c.(*tls.Conn).Handshake(); err != nil {
					done <- err
					return
				}
				_, err = c.Write([]byte("ok"))
				done <- err
			}()
			ccfg := &tls.Config{RootCAs: roots, ServerName: "localhost"}
			if tc.withClient {
				ccfg.Certificates = []tls.Certificate{clientCert}
			}
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), ccfg)
			var got []byte
			if err == nil {
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				got, err = io.ReadAll(conn)
				conn.Close()
			}
			serr := <-done
			ok := err == nil && serr == nil && string(got) == "ok"
			if ok != tc.wantOK {
				t.Fatalf("handshake ok=%v (client err %v, server err %v), want %v", ok, err, serr, tc.wantOK)
			}
			if conn != nil && ok && conn.ConnectionState().NegotiatedProtocol != "" && conn.ConnectionState().NegotiatedProtocol != "http/1.1" {
				t.Fatalf("negotiated %q", conn.ConnectionState().NegotiatedProtocol)
			}
		})
	}
}

// TestReloadReadsFilesAgain: each Load reads the files at call time, so a
// renewed certificate is served after a restart.
func TestReloadReadsFilesAgain(t *testing.T) {
	pki := newPKI(t)
	dir := t.TempDir()
	key := pemPKCS8(t, pki.serverKey)
	site := writeFile(t, dir, "site.pem", pki.serverPEM, key)
	first, err := Load(Request{TLS: laravelcfg.TLSOptions{LocalCert: site}, Home: dir})
	if err != nil {
		t.Fatal(err)
	}
	renewed, _ := pki.issue(t, "localhost", &pki.serverKey.PublicKey, x509.ExtKeyUsageServerAuth)
	if err := os.WriteFile(site, append(renewed, key...), 0o600); err != nil {
		t.Fatal(err)
	}
	second, err := Load(Request{TLS: laravelcfg.TLSOptions{LocalCert: site}, Home: dir})
	if err != nil {
		t.Fatal(err)
	}
	a := first.Config.Certificates[0].Leaf.SerialNumber
	b := second.Config.Certificates[0].Leaf.SerialNumber
	if a.Cmp(b) == 0 {
		t.Fatalf("serial %v served again after renewal", a)
	}
}

func mustDER(t *testing.T, p []byte) []byte {
	t.Helper()
	c, _ := pemDecodeCert(p)
	if c == nil {
		t.Fatal("bad PEM")
	}
	return c
}

func FuzzDecryptPKCS8(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01}, "pw")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, der []byte, pw string) {
		_, _ = decryptPKCS8(der, []byte(pw)) // must never panic
	})
}
