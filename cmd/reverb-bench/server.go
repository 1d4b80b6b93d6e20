package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// benchApp is a copy of the example Laravel project with bench-friendly
// settings (long ping interval so no pings interfere, no message size issue).
type benchApp struct {
	dir             string
	id, key, secret string
	port            int
}

func prepareApp(example string) (*benchApp, error) {
	dir, err := os.MkdirTemp("", "reverb-bench-app-")
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"config", "storage/framework/cache/data"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	for _, f := range []string{"artisan", "config/reverb.php", "composer.json"} {
		b, err := os.ReadFile(filepath.Join(example, f))
		if err != nil {
			return nil, fmt.Errorf("example app: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	a := &benchApp{dir: dir, id: "123456", key: "reverb-key", secret: "reverb-secret", port: port}
	if benchTLS {
		if err := enableTLS(dir); err != nil {
			return nil, err
		}
	}
	env := fmt.Sprintf(`APP_NAME=Bench
APP_ENV=local
CACHE_STORE=file
REVERB_APP_ID=%s
REVERB_APP_KEY=%s
REVERB_APP_SECRET=%s
REVERB_SERVER_HOST=127.0.0.1
REVERB_SERVER_PORT=%d
REVERB_HOST=127.0.0.1
REVERB_PORT=%d
REVERB_SCHEME=%s
REVERB_APP_PING_INTERVAL=3600
REVERB_APP_ACTIVITY_TIMEOUT=120
REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM=all
REVERB_MAX_REQUEST_SIZE=1000000
`, a.id, a.key, a.secret, port, port, scheme())
	return a, os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o644)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (a *benchApp) addr() string { return "127.0.0.1:" + strconv.Itoa(a.port) }

// runningServer is a `reverb start` process tree.
type runningServer struct {
	cmd *exec.Cmd
	log *syncBuffer
}

// syncBuffer is the server's output, read while the server writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startServer(bin string, a *benchApp, workers int, extra ...string) (*runningServer, error) {
	args := []string{"start", "--dir", a.dir, "--host", "127.0.0.1", "--port", strconv.Itoa(a.port)}
	if workers > 0 {
		args = append(args, "--workers", strconv.Itoa(workers))
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = a.dir
	log := &syncBuffer{}
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = ownGroup()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &runningServer{cmd: cmd, log: log}
	deadline := time.Now().Add(20 * time.Second)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS}}
	for time.Now().Before(deadline) {
		resp, err := hc.Get(scheme() + "://" + a.addr() + "/up")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				// Workers may still be coming up behind the first one.
				time.Sleep(500 * time.Millisecond)
				return s, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("server did not answer /up within 20s; output:\n%s", log.String())
}

func (s *runningServer) pid() int { return s.cmd.Process.Pid }

func (s *runningServer) stop() {
	_ = terminate(s.cmd.Process)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		killGroup(s.cmd.Process)
		<-done
	}
}

// apiClient sends signed requests to the HTTP API with keep-alive.
type apiClient struct {
	app  *benchApp
	http *http.Client
}

func newAPIClient(a *benchApp) *apiClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64, TLSClientConfig: clientTLS}
	return &apiClient{app: a, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// eventData is the data of a bench event: the send time (unix nanoseconds,
// which the clients read back as the latency stamp) and the sequence number.
func eventData(seq int) string {
	return `{"t":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `,"s":` + strconv.Itoa(seq) + `}`
}

// eventJSON is one event of the HTTP API, named "bench", on channel.
func eventJSON(channel string, seq int) string {
	data, _ := json.Marshal(eventData(seq))
	return `{"name":"bench","channel":"` + channel + `","data":` + string(data) + `}`
}

// trigger posts one event carrying the current time in its data.
func (c *apiClient) trigger(channel string, seq int) error {
	return c.post("/apps/"+c.app.id+"/events", []byte(eventJSON(channel, seq)))
}

// triggerBatch posts n events in one batch_events call (Pusher allows 10),
// so the ceiling run is not bounded by the cost of one HTTP request per event.
func (c *apiClient) triggerBatch(channel string, seq, n int) error {
	var b strings.Builder
	b.WriteString(`{"batch":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(eventJSON(channel, seq+i))
	}
	b.WriteString(`]}`)
	return c.post("/apps/"+c.app.id+"/batch_events", []byte(b.String()))
}

func (c *apiClient) post(path string, body []byte) error {
	url := c.signedURL("POST", path, body, nil)
	resp, err := c.http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST %s: %s", path, resp.Status)
	}
	return nil
}

// signedURL signs a request like pusher-http-php.
func (c *apiClient) signedURL(method, path string, body []byte, query map[string]string) string {
	params := map[string]string{
		"auth_key":       c.app.key,
		"auth_timestamp": strconv.FormatInt(time.Now().Unix(), 10),
		"auth_version":   "1.0",
	}
	if body != nil {
		sum := md5.Sum(body)
		params["body_md5"] = hex.EncodeToString(sum[:])
	}
	for k, v := range query {
		params[k] = v
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var q strings.Builder
	for i, k := range keys {
		if i > 0 {
			q.WriteByte('&')
		}
		q.WriteString(k + "=" + params[k])
	}
	mac := hmac.New(sha256.New, []byte(c.app.secret))
	mac.Write([]byte(method + "\n" + path + "\n" + q.String()))
	return scheme() + "://" + c.app.addr() + path + "?" + q.String() + "&auth_signature=" + hex.EncodeToString(mac.Sum(nil))
}
