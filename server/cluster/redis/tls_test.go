package redis

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/internal/testsvc"
	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
)

// A TLS-only redis-server that demands a client certificate from a private
// CA and an ACL user: the scaling connection of config/database.php carries
// them (phpredis context options), and two nodes exchange messages over it.
func TestTLSClientCertificateACL(t *testing.T) {
	pki := testsvc.NewPKI(t)
	port := testsvc.Process(t, "redis-server", func(p int) []string {
		return []string{"--port", "0", "--tls-port", strconv.Itoa(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--tls-cert-file", pki.ServerCertFile, "--tls-key-file", pki.ServerKeyFile, "--tls-ca-cert-file", pki.CAFile,
			"--tls-auth-clients", "yes", "--user", "default", "off", "--user", "reverb", "on", ">scale-pw", "~*", "&*", "+@all"}
	})
	p := &laravelcfg.Project{Config: phptest.Arr("database", phptest.Arr("redis", phptest.Arr(
		"client", "phpredis",
		"scaling", phptest.Arr("url", "rediss://127.0.0.1:"+strconv.Itoa(port), "username", "reverb", "password", "scale-pw",
			"context", phptest.Arr("stream", phptest.Arr("cafile", pki.CAFile, "local_cert", pki.ClientCertFile, "local_pk", pki.ClientKeyFile))),
	)))}
	d, err := redisconn.Resolve(p, "scaling")
	if err != nil {
		t.Fatal(err)
	}
	if d.TLS == nil || d.Username != "reverb" {
		t.Fatalf("resolved %+v", d)
	}
	sa, sb := newSink(), newSink()
	a := startOn(t, d, sa)
	_ = startOn(t, d, sb)
	n, err := a.Publish(context.Background(), []byte("over tls"))
	if err != nil || n != 2 {
		t.Fatalf("Publish = %d, %v", n, err)
	}
	sa.expect(t, "over tls")
	sb.expect(t, "over tls")

	// Reverb's own scaling.server cannot name a CA: the private
	// certificate is refused, and the log says so.
	log := &syncBuffer{}
	bad, err := New(Options{Server: laravelcfg.RedisServer{Host: "127.0.0.1", Port: strconv.Itoa(port), Scheme: "tls"}, Log: log, StartWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_ = bad.Start(context.Background(), func([]byte) {})
	waitFor(t, "a certificate error in the log", func() bool { return strings.Contains(log.String(), "certificate") })
}

// startOn starts a transport on d with short backoffs, closed at cleanup.
func startOn(t *testing.T, d *redisconn.Deployment, s *sink) *Transport {
	t.Helper()
	tr, err := New(Options{Redis: d, Channel: "reverb", Log: &syncBuffer{}, MinBackoff: 20 * time.Millisecond, StartWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	if err := tr.Start(context.Background(), s.deliver); err != nil {
		t.Fatal(err)
	}
	return tr
}
