package tlsrec

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// sClient is an `openssl s_client` process: stdin for lines and its
// single-letter commands (k: KeyUpdate, K: KeyUpdate with
// update_requested, Q: close), stdout collected.
type sClient struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	out   bytes.Buffer
	done  chan struct{}
}

func (c *sClient) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func startSClient(t *testing.T, addr string, args ...string) *sClient {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl CLI not installed")
	}
	p := getPKI(t)
	all := append([]string{"s_client", "-connect", addr, "-servername", "localhost",
		"-CAfile", filepath.Join(p.dir, "ca.pem"), "-verify_return_error"}, args...)
	c := &sClient{cmd: exec.Command("openssl", all...), done: make(chan struct{})}
	c.cmd.Stdout = c
	c.cmd.Stderr = c
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.stdin.Close()
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

func (c *sClient) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		t.Fatalf("writing to s_client: %v\n%s", err, c.output())
	}
}

func (c *sClient) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func (c *sClient) waitOutput(t *testing.T, want string) {
	t.Helper()
	c.waitCount(t, want, 1)
}

func (c *sClient) waitCount(t *testing.T, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(c.output(), want) < n {
		select {
		case <-c.done:
			if strings.Count(c.output(), want) >= n {
				return
			}
			t.Fatalf("s_client exited without printing %q:\n%s", want, c.output())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("s_client did not print %q:\n%s", want, c.output())
		}
	}
}

// lineEcho answers every line the peer sends with "echo:<line>"; the line
// "rekey" first asks the peer for a KeyUpdate.
func lineEcho(d *pushDriver) func([]byte) {
	var pending []byte
	return func(p []byte) {
		pending = append(pending, p...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				return
			}
			line := string(pending[:i])
			pending = pending[i+1:]
			if line == "rekey" {
				d.s.UpdateKeys(true)
			}
			_ = d.write([]byte("echo:" + line + "\n"))
		}
	}
}

// TestOpenSSLClient: `openssl s_client` on each TLS 1.3 suite, with and
// without a client certificate: lines echoed, KeyUpdate from the client
// (k and K) and from the server (answered by OpenSSL), then Q's
// close_notify.
func TestOpenSSLClient(t *testing.T) {
	p := getPKI(t)
	for _, suite := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
		for _, withCert := range []bool{false, true} {
			name := suite
			if withCert {
				name += "/client certificate"
			}
			t.Run(name, func(t *testing.T) {
				cfg := serverConfig(t)
				args := []string{"-tls1_3", "-ciphersuites", suite}
				if withCert {
					cfg.ClientAuth = tls.RequireAndVerifyClientCert
					cfg.ClientCAs = p.caPool
					args = append(args, "-cert", filepath.Join(p.dir, "client.pem"), "-key", filepath.Join(p.dir, "client.key"))
				}
				ln, ch := listen(t, cfg)
				sc := startSClient(t, ln.Addr().String(), args...)
				conn, d := handshakeFast(t, ch)
				if got := tls.CipherSuiteName(conn.ConnectionState().CipherSuite); got != suite {
					t.Fatalf("negotiated %s", got)
				}
				if withCert && len(conn.ConnectionState().PeerCertificates) == 0 {
					t.Fatal("no client certificate")
				}
				d.onData = lineEcho(d)
				go d.run(0)

				sc.send(t, "hello1")
				sc.waitOutput(t, "echo:hello1")
				secretsBefore := [2][48]byte{d.s.in.secret, d.s.out.secret}
				sc.send(t, "K")                 // KeyUpdate, update_requested
				sc.waitCount(t, "KEYUPDATE", 1) // s_client drops the rest of a command's read
				sc.send(t, "hello2")
				sc.waitOutput(t, "echo:hello2")
				if d.s.in.secret == secretsBefore[0] || d.s.out.secret == secretsBefore[1] {
					t.Fatal("K: both keys should have moved")
				}
				secretsBefore = [2][48]byte{d.s.in.secret, d.s.out.secret}
				sc.send(t, "k") // KeyUpdate, update_not_requested
				sc.waitCount(t, "KEYUPDATE", 2)
				sc.send(t, "hello3")
				sc.waitOutput(t, "echo:hello3")
				if d.s.in.secret == secretsBefore[0] || d.s.out.secret != secretsBefore[1] {
					t.Fatal("k: only the read key should have moved")
				}
				secretsBefore = [2][48]byte{d.s.in.secret, d.s.out.secret}
				sc.send(t, "rekey")
				sc.waitOutput(t, "echo:rekey")
				sc.send(t, "hello4")
				sc.waitOutput(t, "echo:hello4")
				if d.s.in.secret == secretsBefore[0] || d.s.out.secret == secretsBefore[1] {
					t.Fatal("server's update_requested: both keys should have moved")
				}
				long := strings.Repeat("L", 40000) // several records each way
				sc.send(t, long)
				sc.waitOutput(t, "echo:"+long)
				sc.send(t, "Q")
				if err := d.waitErr(t); !errors.Is(err, ErrCloseNotify) {
					t.Fatalf("after Q: %v\n%s", err, sc.output())
				}
			})
		}
	}
}
