package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/reverb-go/reverb/server"
)

// NodeSocket is the address of a worker's stats socket: an abstract Unix
// socket on Linux (no file to clean up after a crash; named by the
// supervisor's pid and the worker's node id, both known to each side), a
// file in the temporary directory elsewhere.
func NodeSocket(supervisorPID int, nodeID string) string {
	name := "reverb-stats-" + strconv.Itoa(supervisorPID) + "-" + nodeID
	if runtime.GOOS == "linux" {
		return "@" + name
	}
	return filepath.Join(os.TempDir(), name+".sock")
}

// NodeServer answers a worker's counters on its stats socket.
type NodeServer struct {
	hs *http.Server
	ln net.Listener
}

// ServeNode listens on addr and answers GET /stats with the JSON of
// stats() until Close. The server runs on its own goroutine, owned by the
// returned NodeServer.
func ServeNode(addr string, stats func() server.Stats) (*NodeServer, error) {
	if addr[0] != '@' {
		_ = os.Remove(addr) // a stale file of a crashed worker with the same name
	}
	ln, err := net.Listen("unix", addr)
	if err != nil {
		return nil, fmt.Errorf("stats socket %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(stats())
	})
	ns := &NodeServer{hs: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln}
	go func() { _ = ns.hs.Serve(ln) }()
	return ns, nil
}

// Close stops answering.
func (n *NodeServer) Close() error {
	err := n.hs.Close()
	if a := n.ln.Addr().String(); a != "" && a[0] != '@' {
		_ = os.Remove(a)
	}
	return err
}

// unixClient is an HTTP client that dials one Unix socket.
func unixClient(addr string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		},
		DisableKeepAlives: true,
	}}
}

// FetchNode asks the worker at addr for its counters.
func FetchNode(ctx context.Context, addr string) (server.Stats, error) {
	var st server.Stats
	err := getJSON(ctx, unixClient(addr), "http://worker/stats", &st)
	return st, err
}

func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return errors.Join(errors.New("malformed answer"), err)
	}
	return nil
}
