package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/cachestore"
	"github.com/reverb-go/reverb/server"
)

// The tests run the real supervisor and real worker processes (this test
// binary re-executed, see TestMain) with three fakes: a config loader
// reading <dir>/reverb.conf, a file flag store at <dir>/flag/..., and a small
// HTTP node instead of the Pusher server, so the process model is tested on
// its own.

func useFakes() {
	loadProject = fakeLoad
	openStore = func(p *laravelcfg.Project) (cachestore.Store, error) {
		return fakeFlag{filepath.Join(p.BasePath, "flag", "4f", "e4", "flagfile")}, nil
	}
	newNode = newFakeNode
}

// fakeLoad fails like laravelcfg does, naming file and line, when
// reverb.conf has a line "broken" (or "worker-broken": only in workers, to
// reach the path where the supervisor's check passes and the new workers fail).
// A line "worker-held" keeps workers from getting ready (they print
// "worker held") until the file <dir>/release exists, and then makes them
// fail.
// A line "slow" makes the supervisor's read take slowLoad, as a provider
// that runs PHP can.
func fakeLoad(c Config) (*laravelcfg.Project, error) {
	b, err := os.ReadFile(filepath.Join(c.Dir, "reverb.conf"))
	if err != nil {
		return nil, err
	}
	inWorker := len(os.Args) > 1 && os.Args[1] == WorkerCommand
	for i, line := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(line)
		if l == "broken" || l == "worker-broken" && inWorker {
			return nil, fmt.Errorf("config/reverb.php:%d: syntax error, unexpected end of file", i+1)
		}
		if l == "slow" && !inWorker {
			time.Sleep(slowLoad)
		}
		if l == "worker-held" && inWorker {
			fmt.Fprintln(os.Stderr, "worker held")
			for {
				if _, err := os.Stat(filepath.Join(c.Dir, "release")); err == nil {
					return nil, fmt.Errorf("config/reverb.php:%d: held worker released", i+1)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	return &laravelcfg.Project{
		BasePath: c.Dir,
		Reverb: laravelcfg.Settings{Server: laravelcfg.ServerSettings{
			Host: "127.0.0.1",
			Port: 0,
		}},
	}, nil
}

const slowLoad = 5 * time.Second

type fakeFlag struct{ path string }

func (s fakeFlag) Read(context.Context) (cachestore.Flag, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return cachestore.Flag{}, nil
	}
	return cachestore.Flag{Present: err == nil, Raw: b}, err
}

// Write replaces the file at once: the fake reads without the file
// store's shared lock, so a write in place could be read empty or cut
// between its truncate and its write (a change the real store never
// reports) and restart for an unchanged value.
func (s fakeFlag) Write(_ context.Context, ts int64) error {
	os.MkdirAll(filepath.Dir(s.path), 0o777)
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "9999999999i:%d;", ts), 0o666); err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}
func (s fakeFlag) Location() string  { return "file " + s.path }
func (s fakeFlag) WatchPath() string { return s.path }
func (s fakeFlag) Close() error      { return nil }

// fakeNode answers:
//
//	GET /id            "<node id> <pid>"
//	GET /publish?m=X   publishes X on the bus, answers the receiver count
//	GET /seen          the node id, then the bus messages delivered so far, one per line
//	GET /hold          hijacks the connection, writes "hello <node id>\n" and
//	                   keeps it until Drain ("bye\n") or Close
type fakeNode struct {
	opts server.Options
	http *http.Server

	mu   sync.Mutex // guards seen and held
	seen []string
	held map[net.Conn]struct{}
}

func newFakeNode(opts server.Options) (node, error) {
	n := &fakeNode{opts: opts, held: map[net.Conn]struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/id", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %d", opts.NodeID, os.Getpid())
	})
	mux.HandleFunc("/publish", func(w http.ResponseWriter, r *http.Request) {
		cnt, err := opts.Transport.Publish(r.Context(), []byte(r.URL.Query().Get("m")))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, cnt)
	})
	mux.HandleFunc("/seen", func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		defer n.mu.Unlock()
		fmt.Fprintf(w, "%s\n%s", opts.NodeID, strings.Join(n.seen, "\n"))
	})
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		conn, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		// Held before the client hears hello: a drain ordered right after
		// the hello must find it.
		n.mu.Lock()
		n.held[conn] = struct{}{}
		n.mu.Unlock()
		fmt.Fprintf(bw, "hello %s\n", opts.NodeID)
		bw.Flush()
		go func() { // ends when the client or Drain/Close closes conn
			bufio.NewReader(conn).ReadByte()
			n.mu.Lock()
			delete(n.held, conn)
			n.mu.Unlock()
			conn.Close()
		}()
	})
	n.http = &http.Server{Handler: mux}
	if opts.Transport != nil {
		opts.Transport.Start(context.Background(), func(m []byte) {
			n.mu.Lock()
			n.seen = append(n.seen, string(m))
			n.mu.Unlock()
		})
	}
	return n, nil
}

func (n *fakeNode) Serve(ln net.Listener) error { return n.http.Serve(ln) }

func (n *fakeNode) Drain(ctx context.Context, window time.Duration) error {
	n.mu.Lock()
	conns := make([]net.Conn, 0, len(n.held))
	for c := range n.held {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	step := window / time.Duration(len(conns)+1)
	for _, c := range conns {
		select {
		case <-time.After(step):
		case <-ctx.Done():
			return ctx.Err()
		}
		c.Write([]byte("bye\n"))
		c.Close()
	}
	return n.http.Shutdown(ctx)
}

// Close ends everything, the transport included, as server.Server does.
func (n *fakeNode) Close() error {
	n.mu.Lock()
	for c := range n.held {
		c.Close()
	}
	n.mu.Unlock()
	err := n.http.Close()
	if n.opts.Transport != nil {
		n.opts.Transport.Close()
	}
	return err
}
