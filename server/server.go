// Package server speaks the Pusher protocol and Reverb's HTTP API exactly as
// Laravel Reverb does, over one listening socket.
package server

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/cluster"
)

// Options configure one server (one worker process, one cluster node).
type Options struct {
	Apps []laravelcfg.App
	// Path is the server path prefix, already normalised ("" or "/ws").
	Path string
	// ConfigPath is reverb.servers.reverb.path from config (normalised); API
	// signatures are accepted over the path with or without it.
	ConfigPath     string
	MaxRequestSize int
	// Transport links this node to the others; nil means a single node.
	Transport cluster.Transport
	// NodeID names this node in cluster messages; empty means random.
	NodeID string
	// PingSweepInterval is the period of the ping/prune sweep (Reverb: 60s).
	// Zero means 60s. Tests shorten it.
	PingSweepInterval time.Duration
	// Debug prints the message stream to DebugOut with Reverb's titles.
	Debug    bool
	DebugOut io.Writer
	// ErrorLog receives errors (always on, even without Debug).
	ErrorLog io.Writer
}

// Server is one node: WebSocket endpoint, HTTP API, channel state.
type Server struct {
	opts Options
}

// New validates opts and returns a server ready to Serve.
func New(opts Options) (*Server, error) {
	return nil, errors.New("server.New: not implemented yet")
}

// Serve accepts connections on ln until ln is closed or Shutdown/Close is
// called. Several Serve calls may share one Server.
func (s *Server) Serve(ln net.Listener) error { return errors.New("not implemented") }

// Drain stops nothing by itself (the caller closes its listeners first): it
// closes every open WebSocket with a 4200-range close frame, spread evenly
// (with jitter) over window so pusher-js clients reconnect elsewhere at once
// without a thundering herd, keeps delivering to the ones still open, and
// returns when all are closed or ctx ends.
func (s *Server) Drain(ctx context.Context, window time.Duration) error {
	return errors.New("not implemented")
}

// Close closes every connection at once and stops background work.
func (s *Server) Close() error { return nil }
