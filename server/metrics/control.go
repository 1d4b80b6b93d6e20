package metrics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

func itoa(n int) string { return strconv.Itoa(n) }

// maxSocketPath keeps a Unix socket path under the kernel's sun_path limit
// (108 bytes on Linux, 104 on the BSDs).
const maxSocketPath = 100

// ControlSocketPath is where the running server answers `reverb status`:
// storage/reverb.sock in the Laravel project (next to the app, found from
// the same --dir), or, when the project has no storage directory or the
// path is too long for a socket, a name in the temporary directory derived
// from the project's absolute path.
func ControlSocketPath(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	storage := filepath.Join(abs, "storage")
	p := filepath.Join(storage, "reverb.sock")
	if fi, err := os.Stat(storage); err == nil && fi.IsDir() && len(p) <= maxSocketPath {
		return p
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), "reverb-"+hex.EncodeToString(sum[:6])+".sock")
}

// ErrAlreadyRunning means another server answers on the control socket.
var ErrAlreadyRunning = errors.New("another reverb server answers on the control socket")

// Server serves the control socket and, when an address was given, the
// Prometheus endpoint. Its HTTP servers run on goroutines it owns; Close
// stops them and removes the socket file.
type Server struct {
	servers     []*http.Server
	sock        string
	metricsAddr string
}

// MetricsAddr is the bound address of the metrics listener ("" when off).
func (s *Server) MetricsAddr() string { return s.metricsAddr }

// ControlOptions configure Serve.
type ControlOptions struct {
	// Socket is the control socket path (ControlSocketPath); "" = none.
	Socket string
	// MetricsAddr is host:port for GET /metrics; "" = off.
	MetricsAddr string
	// Logf receives serving errors.
	Logf func(format string, args ...any)
}

// Serve starts the control socket (GET /status, GET /metrics) and the
// metrics listener. A control socket another live server answers on is an
// error wrapping ErrAlreadyRunning; a stale one is replaced.
func Serve(c *Collector, o ControlOptions) (*Server, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	prom := Handler(c)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st, err := c.Status(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.Handle("GET /metrics", prom)
	s := &Server{}
	if o.Socket != "" {
		ln, err := listenControl(o.Socket)
		if err != nil {
			return nil, err
		}
		s.sock = o.Socket
		s.start(ln, mux, o.Logf)
	}
	if o.MetricsAddr != "" {
		ln, err := net.Listen("tcp", o.MetricsAddr)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("metrics listener %s: %w", o.MetricsAddr, err)
		}
		s.metricsAddr = ln.Addr().String()
		pm := http.NewServeMux()
		pm.Handle("GET /metrics", prom)
		s.start(ln, pm, o.Logf)
	}
	return s, nil
}

func (s *Server) start(ln net.Listener, h http.Handler, logf func(string, ...any)) {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, hs)
	go func() { // ends when Close closes hs
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("monitoring listener %s stopped: %v", ln.Addr(), err)
		}
	}()
}

// Close stops the listeners and removes the control socket file.
func (s *Server) Close() error {
	var err error
	for _, hs := range s.servers {
		err = errors.Join(err, hs.Close())
	}
	if s.sock != "" {
		_ = os.Remove(s.sock)
	}
	return err
}

// ControlSocketError is a control socket that could not be served: another
// server answers on it (Err wraps ErrAlreadyRunning), or the folder cannot
// hold it.
type ControlSocketError struct {
	Path string
	Err  error
}

func (e *ControlSocketError) Error() string { return "control socket " + e.Path + ": " + e.Err.Error() }
func (e *ControlSocketError) Unwrap() error { return e.Err }

// listenControl listens on path, replacing a stale socket file.
func listenControl(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err == nil {
		return ln, nil
	}
	if !addrInUse(err) {
		return nil, &ControlSocketError{path, err}
	}
	if c, derr := net.DialTimeout("unix", path, time.Second); derr == nil {
		c.Close()
		return nil, &ControlSocketError{path, ErrAlreadyRunning}
	}
	_ = os.Remove(path)
	if ln, err = net.Listen("unix", path); err != nil {
		return nil, &ControlSocketError{path, err}
	}
	return ln, nil
}

// addrInUse reports a socket file that is already there: EADDRINUSE, which
// Windows (AF_UNIX since Windows 10) reports as WSAEADDRINUSE.
func addrInUse(err error) bool {
	const wsaeaddrinuse = syscall.Errno(10048)
	return errors.Is(err, syscall.EADDRINUSE) || runtime.GOOS == "windows" && errors.Is(err, wsaeaddrinuse)
}

// ErrNotRunning means nothing answers on the control socket.
var ErrNotRunning = errors.New("no reverb server is running")

// FetchStatus asks the server whose control socket is path.
func FetchStatus(ctx context.Context, path string) (Status, error) {
	var st Status
	if _, err := os.Stat(path); err != nil {
		return st, fmt.Errorf("%w (no control socket at %s)", ErrNotRunning, path)
	}
	err := getJSON(ctx, unixClient(path), "http://reverb/status", &st)
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return st, fmt.Errorf("%w (nothing answers on %s)", ErrNotRunning, path)
	}
	return st, err
}
