package supervisor

import (
	"context"
	"errors"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/cachestore"
	"github.com/reverb-go/reverb/supervisor/console"
	"github.com/reverb-go/reverb/supervisor/fdreserve"
	"github.com/reverb-go/reverb/supervisor/flagwatch"
	"github.com/reverb-go/reverb/supervisor/tcplisten"
)

// drainGrace is how long past the drain window a node may take to finish
// closing before it is stopped hard.
const drainGrace = 5 * time.Second

// runSingle serves in this process (--workers 0): Reverb's own process model.
// SIGINT/SIGTERM and a change of the restart flag drain and exit 0; SIGQUIT
// exits at once.
func runSingle(c Config, con *console.Writer) int {
	p, err := loadProject(c)
	if err != nil {
		con.Errorf("%v", err)
		return 1
	}
	ep := Resolve(p.Reverb.Server, c.CLI)
	if err := ep.Validate(); err != nil {
		con.Errorf("%v", err)
		return 1
	}
	raw, unsupported, err := tcplisten.Listen(ep.Addr(), listenOptions(p))
	if err != nil {
		con.Errorf("Cannot listen on %s: %v", ep.Addr(), err)
		return 1
	}
	if len(unsupported) > 0 {
		con.Warnf("servers.reverb.options.tcp %s: not available on this system, ignored", strings.Join(unsupported, ", "))
	}
	// At the open-files limit: descriptors in reserve keep the HTTP API
	// answering while WebSockets get 503 (supervisor/fdreserve).
	var logs limitLogs
	logs.logf = con.Warnf
	limit := fdreserve.CurrentLimit()
	reserve := fdreserve.New(fdreserve.Options{Limit: limit, CurrentLimit: fdreserve.CurrentLimit, OnChange: func(full bool) {
		if full {
			logs.print("full", "At the open-files limit (%d): new WebSocket connections are refused with 503 while the HTTP API keeps answering; %s",
				fdreserve.CurrentLimit(), fdreserve.Advice(fdreserve.CurrentLimit()))
		} else {
			logs.print("room", "Room again under the open-files limit (%d): WebSocket connections are accepted again", fdreserve.CurrentLimit())
		}
	}})
	defer reserve.Close()
	ln, secure, err := wrapTLS(&drainListener{Listener: fdreserve.Listener{Listener: raw, Reserve: reserve}, full: reserve.Full}, ep, p)
	if err != nil {
		raw.Close()
		con.Errorf("%v", err)
		return 1
	}
	tr, err := nodeTransport(p, nil, c.Stderr) // Redis when scaling is on
	if err != nil {
		ln.Close()
		con.Errorf("%v", err)
		return 1
	}
	routeRedisLogs(con.Warnf) // after the transport: go-redis has one logger
	opts := serverOptions(p, ep, c, tr, "")
	opts.RefuseUpgrade = fdreserve.Reserved
	srv, err := newNode(opts)
	if err != nil {
		if tr != nil {
			tr.Close()
		}
		ln.Close()
		con.Errorf("%v", err)
		return 1
	}
	con.Infof("%s", boundEndpoint(ep, raw).StartLine(secure))
	startWarnings(c, p, boundEndpoint(ep, raw), secure, con)
	defer startSingleMonitoring(p, c, srv, con).Close() // Pulse, control socket, metrics (monitoring.go)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// The restart flag does what it does to Reverb: stop (a process manager
	// starts the server again), here with a drain instead of a TCP reset.
	flagged := make(chan flagwatch.Change, 1)
	if store, err := openStore(p); errors.Is(err, cachestore.ErrNotShared) {
		con.Warnf("%s", capital(err.Error()))
	} else if err != nil {
		con.Warnf("The restart flag is not watched (%v)", err)
	} else {
		defer store.Close()
		w, err := flagwatch.Start(store, c.RestartPoll, func(ch flagwatch.Change) {
			select {
			case flagged <- ch:
			default:
			}
		}, func(f string, a ...any) { con.Warnf(f, a...) })
		if err == nil {
			defer w.Stop()
		}
	}

	for {
		select {
		case ch := <-flagged:
			con.Infof("Restart signal received (%s → %s)", flagwatch.Describe(ch.Old), flagwatch.Describe(ch.New))
			b := boundEndpoint(ep, raw)
			con.Infof("Stopping server on %s:%s", b.Host, b.Port)
			ln.Close()
			drainNode(srv, c.DrainWindow, con)
			return 0
		case err := <-served:
			if err != nil && !errors.Is(err, net.ErrClosed) {
				con.Errorf("Server stopped: %v", err)
				srv.Close()
				return 1
			}
			return 0
		case sig := <-sigs:
			switch sig {
			case syscall.SIGQUIT:
				srv.Close()
				return 0
			case syscall.SIGHUP:
				con.Warnf("SIGHUP ignored: zero-downtime restarts need --workers 1 or more")
				continue
			}
			con.Infof("Gracefully terminating connections")
			ln.Close()
			drainNode(srv, c.DrainWindow, con)
			return 0
		}
	}
}

// drainNode closes every connection of srv over window and stops it.
func drainNode(srv node, window time.Duration, con *console.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), window+drainGrace)
	defer cancel()
	if err := srv.Drain(ctx, window); err != nil && con != nil {
		con.Warnf("Drain ended early: %v", err)
	}
	srv.Close()
}

// boundEndpoint reports the real port when the config asked for port 0 (an
// ephemeral port; tests use it), so the start line names a usable address.
func boundEndpoint(ep Endpoint, ln net.Listener) Endpoint {
	if ep.Port == "0" {
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			ep.Port = itoa(a.Port)
		}
	}
	return ep
}
