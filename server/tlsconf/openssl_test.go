package tlsconf

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
)

// TestOpenSSLKeys reads keys written by the openssl CLI itself: PKCS#8
// PBES2 (openssl 3's default for -aes256) and the legacy "traditional" PEM.
func TestOpenSSLKeys(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl CLI not installed: interop with its encrypted keys not checked")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command("openssl", args...).CombinedOutput()
		if err != nil {
			t.Skipf("openssl %v: %v\n%s", args, err, out)
		}
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes256", "-pass", "pass:s3cret", "-out", p("pkcs8.key"))
	run("req", "-new", "-x509", "-key", p("pkcs8.key"), "-passin", "pass:s3cret", "-subj", "/CN=localhost", "-days", "1", "-out", p("pkcs8.crt"))
	run("genrsa", "-aes128", "-traditional", "-passout", "pass:s3cret", "-out", p("legacy.key"), "2048")
	run("req", "-new", "-x509", "-key", p("legacy.key"), "-passin", "pass:s3cret", "-subj", "/CN=localhost", "-days", "1", "-out", p("legacy.crt"))

	for _, name := range []string{"pkcs8", "legacy"} {
		t.Run(name, func(t *testing.T) {
			opts := laravelcfg.TLSOptions{LocalCert: p(name + ".crt"), LocalPK: p(name + ".key"), Passphrase: "s3cret"}
			if _, err := Load(Request{TLS: opts, Home: dir}); err != nil {
				t.Fatal(err)
			}
			opts.Passphrase = "wrong"
			if _, err := Load(Request{TLS: opts, Home: dir}); err == nil {
				t.Fatal("wrong passphrase accepted")
			}
		})
	}
}
