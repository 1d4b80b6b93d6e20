// Package server speaks the Pusher protocol and Reverb's HTTP API exactly as
// Laravel Reverb does, over one listening socket.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/phpeval"
	"github.com/reverb-go/reverb/server/api"
	"github.com/reverb-go/reverb/server/cluster"
	"github.com/reverb-go/reverb/server/tlsrec"
	"github.com/reverb-go/reverb/server/websocket"
)

// Options configure one server (one worker process, one cluster node).
type Options struct {
	Apps []laravelcfg.App
	// Refresh, when set, is asked for the whole list of apps again when a
	// client or an API request names an app this node does not know (apps
	// of a custom provider, see laravelcfg/phpapps); the apps it adds are
	// served from then on. It runs at most once per RefreshInterval, one
	// run shared by every caller that missed; an error keeps the apps known.
	// With Refresh, Apps may be empty.
	Refresh func(ctx context.Context) ([]laravelcfg.App, error)
	// RefreshInterval is the least time between two Refresh runs; zero
	// means DefaultRefreshInterval.
	RefreshInterval time.Duration
	// Path is the server path prefix, already normalised ("" or "/ws").
	Path string
	// ConfigPath is reverb.servers.reverb.path from config (normalised); API
	// signatures are accepted over the path with or without it.
	ConfigPath     string
	MaxRequestSize int
	// SignatureMaxAge, when > 0, rejects HTTP API requests whose
	// auth_timestamp is further than this from now (opt-in, like Pusher's
	// 600 s; Reverb never checks it, so zero is the default).
	SignatureMaxAge time.Duration
	// Transport links this node to the others; nil means a single node.
	Transport cluster.Transport
	// NodeID names this node in cluster messages; empty means random.
	NodeID string
	// PingSweepInterval is the period of the ping/prune sweep (Reverb: 60s).
	// Zero means 60s. Tests shorten it.
	PingSweepInterval time.Duration
	// HeartbeatInterval is the period of this node's cluster heartbeat; a
	// node silent for three periods is forgotten (its presence members
	// leave). Zero means 5s.
	HeartbeatInterval time.Duration
	// GatherTimeout bounds a cluster-wide metrics query when a node does
	// not answer. Zero means 2s.
	GatherTimeout time.Duration
	// GoroutineReaders reads every socket with its own goroutine instead
	// of the epoll driver (the fallback; always so for TLS 1.2 and on the
	// portable path: off Linux, or built with -tags portable).
	GoroutineReaders bool
	// Debug prints the message stream to DebugOut with Reverb's titles.
	Debug    bool
	DebugOut io.Writer
	// ErrorLog receives errors (always on, even without Debug).
	ErrorLog io.Writer
	// Observers receive lifecycle events (observe.go) besides the
	// server's own consumers (counters, --debug, webhooks).
	Observers []Observer
	// WebhookHold is how long channel_vacated and member_removed are held
	// before they are reported (cancelled if the channel is occupied or
	// the user is back meanwhile). Zero means DefaultHold (3 s, as Pusher).
	WebhookHold time.Duration
	// RefuseUpgrade, when set and true for a connection, answers its
	// WebSocket upgrade with 503: the connection was taken from the
	// descriptors a process at its open-files limit keeps for the HTTP API
	// (supervisor/fdreserve). Counted in Stats.OpenFilesRefused.
	RefuseUpgrade func(nc net.Conn) bool
}

// Server is one node: WebSocket endpoint, HTTP API, channel state.
//
// Lock story: each mutex below guards the fields listed with it. When
// several are held, they are taken in this order: an app's mu (app.go),
// the ledger's gmu or hmu (decisions.go), pubMu; srvMu (spawn) may be taken
// under an app's mu or gmu, and only a poller's lock under it (attach);
// a socket's omu is taken under an app's mu, never the other way. snapMu and an
// app's mu are taken before rejoin.mu; tableMu before the webhook sender's lock (hooks.add).
// errMu, gatherMu, waitersMu, fenceMu, own.mu and nodesMu are leaves: nothing else is
// locked, and nothing is sent, while one is held.
type Server struct {
	opts      Options
	nodeID    string
	transport cluster.Transport
	// router is the transport in the interest-routed mode (routing.go),
	// nil in the classic mode (every node receives every message).
	router cluster.Router
	// routingWarn rate-limits the mixed-fleet warnings (routing.go);
	// controlReceivers is the last control publish's receiver count.
	routingWarn      routingWarnings
	controlReceivers atomic.Int64
	// delivering is the number of the bus message being delivered (the
	// count of deliver calls; the transport's numbering when it is a
	// cluster.Counter).
	delivering atomic.Uint64
	// table is the apps, copy-on-write (apptable.go); tableMu serialises
	// writers.
	table   atomic.Pointer[appTable]
	tableMu sync.Mutex

	// skipsLogged holds the apps skipped (at start or by a refresh) and
	// logged already (guarded by tableMu), so each is logged once.
	skipsLogged map[string]bool

	refresh *refresher // nil without Options.Refresh
	noApp   *appState
	api     http.Handler
	debug   io.Writer
	errMu   sync.Mutex // serialises writes to Options.ErrorLog
	started time.Time

	handshakeFailures sync.Map     // reason → *atomic.Int64
	busErrors         atomic.Int64 // failed cluster publishes (monitoring)
	openFilesRefused  atomic.Int64 // upgrades refused at the open-files limit

	// ledger decides cluster-wide events (decisions.go); nil when no app
	// wants one.
	ledger *ledgerState
	hbSeq  atomic.Uint64 // numbers this node's heartbeats
	// hooks delivers webhooks and listener events (hooks.go); nil when no
	// app has any.
	hooks *hookObserver

	// gatherMu guards gatherings: the cluster queries waiting for answers.
	gatherMu   sync.Mutex
	gatherings map[string]*gathering

	// waitersMu guards waiters, inOrderFns and inOrderLeft.
	waitersMu sync.Mutex
	waiters   map[string]chan struct{}
	// inOrderFns are run when their marker is delivered (inOrder);
	// inOrderLeft counts the markers still out when there are several.
	inOrderFns  map[string]func()
	inOrderLeft map[string]int

	// fenceMu guards the subscriptions and sign-ins waiting for the bus's order
	// (fence.go): fenceSent are covered by the marker out (fenceOut),
	// fenceNext wait for the next one.
	fenceMu              sync.Mutex
	fenceOut             bool
	fenceSent, fenceNext []fenceItem

	nodesMu sync.Mutex
	nodes   map[string]int64 // node id → last message (unix ns)
	// remoteCounts is node id → app id → open sockets (heartbeats).
	remoteCounts map[string]map[string]int64

	// snapMu guards helloSeen and leftSinceHello (presence snapshots,
	// nodes.go); rejoin has its own lock, taken under snapMu.
	snapMu         sync.Mutex
	helloSeen      bool
	leftSinceHello map[string]bool
	rejoin         rejoinState

	// own keeps this node's state messages until their copy is back
	// (owncopies.go).
	own ownCopies

	tlsRest tlsRester // rests the write keys of quiet TLS sockets

	polls   *pollSet  // nil: goroutine readers
	flushes *flushSet // writer pool for plain TCP sockets; nil on the portable path

	// pubMu guards pubQ, pubRunning and pubGone: the ordered queue of
	// publish; pubGone is set with the end-of-drain notice queued
	// (publishState).
	pubMu      sync.Mutex
	pubQ       []pubItem
	pubRunning bool
	pubGone    bool

	// drainPause holds a drain's closes while its starter asks (drainpause.go).
	drainPause drainPause
	// draining is set by Drain: closed sockets keep their presence
	// memberships until announceGone (see Drain).
	draining atomic.Bool
	goneOnce sync.Once
	// stopping (made by New) is closed by Stopping: a restart's drain
	// under way (or yet to start) ends as Stop does.
	stoppingOnce sync.Once
	stopping     chan struct{}
	stopWindow   atomic.Int64 // Stopping's window, set before stopping closes

	// srvMu guards servers, listeners and closed, and orders wg.Add
	// (spawn) before Close's Wait.
	srvMu   sync.Mutex
	servers []*http.Server
	// listeners are those the accept loops read (upgrade.go); net/http
	// closes only its own.
	listeners []net.Listener
	closed    bool
	stop      chan struct{}
	stopOnce  sync.Once
	// wg counts the goroutines the server owns: readers, writers, sweeps.
	wg sync.WaitGroup
}

// New validates opts and returns a server ready to Serve.
func New(opts Options) (*Server, error) {
	if len(opts.Apps) == 0 && opts.Refresh == nil {
		return nil, errors.New("server: no apps configured (reverb.apps.apps is empty)")
	}
	if opts.PingSweepInterval <= 0 {
		opts.PingSweepInterval = 60 * time.Second
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = 5 * time.Second
	}
	if opts.GatherTimeout <= 0 {
		opts.GatherTimeout = 2 * time.Second
	}
	if opts.MaxRequestSize <= 0 {
		opts.MaxRequestSize = 10000
	}
	if opts.ErrorLog == nil {
		opts.ErrorLog = io.Discard
	}
	s := &Server{
		opts:           opts,
		stopping:       make(chan struct{}),
		nodeID:         opts.NodeID,
		transport:      opts.Transport,
		noApp:          newAppState(&laravelcfg.App{}),
		gatherings:     map[string]*gathering{},
		waiters:        map[string]chan struct{}{},
		inOrderFns:     map[string]func(){},
		inOrderLeft:    map[string]int{},
		nodes:          map[string]int64{},
		remoteCounts:   map[string]map[string]int64{},
		leftSinceHello: map[string]bool{},
		stop:           make(chan struct{}),
		started:        time.Now(),
	}
	if s.nodeID == "" {
		s.nodeID = randomKey() + randomKey()
	}
	if opts.Debug {
		s.debug = opts.DebugOut
		if s.debug == nil {
			s.debug = io.Discard
		}
	}
	table := &appTable{byID: map[string]*appState{}, byKey: map[string]*appState{}}
	var skipped []string
	for i := range opts.Apps {
		cfg := opts.Apps[i]
		if cfg.ID == "" || cfg.Key == "" {
			// config/reverb.php's apps are refused before this (laravelcfg
			// names the variable); one a provider returned, such as a
			// tenant row not filled in yet, is skipped as a refresh skips
			// it, so it does not stop the other apps from being served.
			skipped = append(skipped, emptyIDOrKey(cfg))
			continue
		}
		a := newAppState(&cfg)
		table.list = append(table.list, a)
		// First match wins, as Reverb's lookup does.
		if _, dup := table.byID[cfg.ID]; !dup {
			table.byID[cfg.ID] = a
		}
		if _, dup := table.byKey[cfg.Key]; !dup {
			table.byKey[cfg.Key] = a
		}
	}
	if len(table.list) == 0 && opts.Refresh == nil {
		return nil, errors.New("server: no app has both an app_id and a key")
	}
	s.table.Store(table)
	s.logSkips(skipped)
	if opts.Refresh != nil {
		s.refresh = &refresher{s: s, source: opts.Refresh, interval: opts.RefreshInterval}
		if s.refresh.interval <= 0 {
			s.refresh.interval = DefaultRefreshInterval
		}
	}
	if s.transport == nil {
		s.transport = cluster.NewLocal()
	}
	s.setupRouting()
	if rs, ok := s.transport.(cluster.Resubscriber); ok {
		// Copies lost with a dropped subscription (owncopies.go), the
		// others' state asked again (rejoin.go).
		s.own.rs = rs
		rs.OnResubscribed(s.onResubscribed)
	}
	s.setupObservers(table.list)
	if err := s.transport.Start(context.Background(), s.deliver); err != nil {
		return nil, fmt.Errorf("server: starting cluster transport: %w", err)
	}
	s.api = api.NewHandler(backend{s}, api.Options{
		Path:            opts.Path,
		ConfigPath:      opts.ConfigPath,
		MaxRequestSize:  opts.MaxRequestSize,
		SignatureMaxAge: opts.SignatureMaxAge,
		ErrorLog:        func(msg string) { s.logError("api: " + msg) },
	})
	if directWrites {
		s.flushes = newFlushSet(runtime.GOMAXPROCS(0), s)
	}
	if !opts.GoroutineReaders {
		n := runtime.GOMAXPROCS(0)
		ps, err := newPollSet(n, s)
		if err != nil {
			s.logError("epoll unavailable, reading with goroutines: " + err.Error())
		}
		s.polls = ps
	}
	s.sayHello()
	s.wg.Add(2)
	go s.sweepLoop()
	go s.heartbeatLoop()
	return s, nil
}

// NodeID is this node's name in cluster messages.
func (s *Server) NodeID() string { return s.nodeID }

// Serve accepts connections on ln until ln is closed or Close is called.
// Several Serve calls may share one Server.
func (s *Server) Serve(ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		MaxHeaderBytes:    s.opts.MaxRequestSize,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          nil,
	}
	if s.opts.RefuseUpgrade != nil {
		hs.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		}
	}
	s.srvMu.Lock()
	if s.closed {
		s.srvMu.Unlock()
		return errors.New("server: closed")
	}
	s.servers = append(s.servers, hs)
	if s.polls != nil {
		s.listeners = append(s.listeners, ln)
	}
	s.srvMu.Unlock()
	var err error
	if s.polls != nil {
		err = s.acceptLoop(ln, hs) // upgrade.go
	} else {
		err = hs.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// ServeHTTP routes WebSocket upgrades to the Pusher endpoint and anything
// else to the HTTP API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dropFragment(r)
	oneLeadingSlash(r)
	// The WebSocket route always goes through Ratchet's handshake checks,
	// so a plain request to it gets the handshake's error (426...) and is
	// closed; any other path with any Upgrade value is plain HTTP.
	key, ok := s.appKeyFromPath(r.URL.Path)
	if !ok || !(strings.EqualFold(r.Method, "GET") || strings.EqualFold(r.Method, "HEAD")) {
		// Reverb matches routes first: another method than GET (HEAD
		// counts as GET) is the router's 405, before any handshake check.
		s.api.ServeHTTP(w, r)
		return
	}
	if nc, ok := r.Context().Value(connKey{}).(net.Conn); ok && s.opts.RefuseUpgrade(nc) {
		// pusher-js treats this like any failed connection and retries
		// with backoff, by when some connections may have closed.
		s.openFilesRefused.Add(1)
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", "5")
		http.Error(w, "Server at its open-files limit: try again shortly.", http.StatusServiceUnavailable)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "Internal server error.", http.StatusInternalServerError)
		return
	}
	herr := websocket.CheckHandshake(r)
	nc, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	if int64(headSize(r))+max(r.ContentLength, 0) > int64(s.opts.MaxRequestSize) {
		// Reverb buffers the whole request first, body included: over
		// max_request_size is a 413 before any handshake check.
		s.countHandshakeFailure("413")
		_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = nc.Write([]byte("HTTP/1.1 413 Request Entity Too Large\r\n\r\nPayload too large."))
		_ = nc.Close()
		return
	}
	if herr != nil {
		s.countHandshakeFailure(strconv.Itoa(herr.Status))
		_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = nc.Write(herr.AppendResponse(nil))
		_ = nc.Close()
		return
	}
	// Bytes the client sent right after its handshake are frames: take
	// them from net/http's reader, then let its buffers go.
	var initial []byte
	if n := rw.Reader.Buffered(); n > 0 {
		p, _ := rw.Reader.Peek(n)
		initial = append([]byte(nil), p...)
	}
	initial = append(initial, takePrefix(nc)...)
	rw = nil
	resp := handshakeResponse(r.Header.Get("Sec-WebSocket-Key"))
	var handshake []byte
	a := s.appByKey(key)
	if _, isTLS := nc.(*tlsrec.Conn); isTLS || a == nil {
		// TLS: the 101 goes through crypto/tls's session before the
		// record layer takes over (detachTLS). An app not known yet:
		// the client gets its 101 while the app provider is asked.
		_ = nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := nc.Write(resp); err != nil {
			_ = nc.Close()
			return
		}
	} else {
		// Plain: the 101 waits at the head of the queue and leaves with
		// connection_established (or the error and close) in one write,
		// one system call and one TCP segment less per connection.
		handshake = resp
	}
	_ = nc.SetDeadline(time.Time{})
	// After the 101 the rest is WebSocket frames: a wrapper around the TCP
	// socket (the supervisor's drain listener) has nothing left to do, so
	// use the socket itself (epoll and direct writes need its descriptor);
	// TLS 1.3 continues on that socket with its record layer.
	nc, tlsSt, initial := detachTLS(nc, initial)
	if tc, ok := rawTCP(nc); ok {
		nc = tc
	}
	if a == nil {
		a = s.appByKeyRefreshing(r.Context(), key)
	}
	s.open(nc, tlsSt, a, r.Header.Get("Origin"), initial, handshake, nil)
}

// handshakeResponse is the 101 answering a request with Sec-WebSocket-Key key.
func handshakeResponse(key string) []byte {
	return websocket.AppendHandshakeResponse(make([]byte, 0, 160), websocket.AcceptKey(key))
}

// connKey finds a request's connection in its context (RefuseUpgrade).
type connKey struct{}

// appKeyFromPath matches {path}/app/{key}.
func (s *Server) appKeyFromPath(p string) (string, bool) {
	p = trimExtraSlashes(p)
	prefix := s.opts.Path + "/app/"
	if !strings.HasPrefix(p, prefix) {
		return "", false
	}
	key := p[len(prefix):]
	if key == "" || strings.Contains(key, "/") {
		return "", false
	}
	return key, true
}

// trimExtraSlashes is the path as Reverb routes it: Guzzle rebuilds the
// request URI as "/" . ltrim($path, "/"), so a proxy that joins its prefix
// with a slash of its own (//app/KEY) reaches every route.
func trimExtraSlashes(p string) string {
	if strings.HasPrefix(p, "//") {
		return "/" + strings.TrimLeft(p, "/")
	}
	return p
}

// oneLeadingSlash applies trimExtraSlashes to the request's path, raw
// path and request URI, so routing and the API signature see the path
// Reverb sees.
func oneLeadingSlash(r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "//") {
		return
	}
	r.URL.Path = trimExtraSlashes(r.URL.Path)
	r.URL.RawPath = trimExtraSlashes(r.URL.RawPath)
	r.RequestURI = trimExtraSlashes(r.RequestURI)
}

// dropFragment cuts a fragment ("#..." to the end, a '?' in it included)
// off the request target, as Guzzle's URI does for Reverb: routes, the
// query and the API signature see the target without it. net/http keeps
// it, in the path or in the raw query.
func dropFragment(r *http.Request) {
	i := strings.IndexByte(r.RequestURI, '#')
	if i < 0 {
		return
	}
	u, err := url.ParseRequestURI(r.RequestURI[:i])
	if err != nil {
		return
	}
	r.RequestURI = r.RequestURI[:i]
	r.URL = u
}

// open runs §2 for an upgraded socket: app (nil: unknown key), quota,
// origin, established. handshake, when not nil, is the 101 response still
// to be written, ahead of everything else. reg, when not nil, is the
// poller registration the upgrade request was read through.
func (s *Server) open(nc net.Conn, tlsSt *tlsState, a *appState, origin string, initial, handshake []byte, reg *pollState) {
	c := &conn{srv: s, nc: nc, app: a, origin: origin, tls: tlsSt}
	if reg != nil {
		// The poller that read the upgrade request keeps the socket: its
		// registration passes to the WebSocket. Its next event comes to
		// this goroutine once open returns, so none can see the socket
		// half set up.
		c.poll.Store(reg)
		reg.handOver(c)
	}
	// refused lets the client read the close: the poller (its registration
	// stays) or a reader goroutine reads until its FIN.
	refused := func() {
		if reg == nil {
			s.spawnReader(c, nil)
		}
	}
	if len(handshake) > 0 {
		c.queue = [][]byte{handshake}
		c.queued = len(handshake)
		c.handshake = len(handshake)
		c.hs = handshake
	}
	c.id = strconv.Itoa(rand.IntN(1e9)+1) + "." + strconv.Itoa(rand.IntN(1e9)+1)
	if rc, ok := directWriter(nc); ok {
		c.raw = rc
		c.fl = s.flushes.pick()
	}
	c.touch()
	if a == nil {
		c.app = s.noApp
		s.countHandshakeFailure("unknown app")
		c.closeNow(4001, "Application does not exist", false, frameNoApp())
		refused()
		return
	}
	c.dec = websocket.NewDecoder(int64(a.cfg.MaxMessageSize), websocket.DefaultMaxFrameSize)
	if mc := a.cfg.MaxConnections; mc != nil {
		// Every open socket of the cluster counts: this node's exactly,
		// the others' as of their last heartbeat.
		if n := a.open.Add(1) + s.remoteOpen(a.cfg.ID); n > int64(*mc) {
			a.open.Add(-1)
			s.countHandshakeFailure("over quota")
			c.closeNow(4004, "Application is over connection quota", false, frameQuota())
			refused()
			return
		}
	} else {
		a.open.Add(1)
	}
	if !originAllowed(a.cfg.AllowedOrigins, origin) {
		a.open.Add(-1)
		s.countHandshakeFailure("origin not allowed")
		c.closeNow(4009, "Origin not allowed", false, frameOrigin())
		refused()
		return
	}
	a.mu.Lock()
	a.conns[c.id] = c
	a.mu.Unlock()
	// A socket opened after Drain took its list of sockets (its upgrade
	// was under way when the restart began) is not on that list: it is
	// closed with 4200 as soon as it is served, so its client reconnects
	// to the new generation at once, like every other. Drain sets draining
	// before it locks a.mu, so a socket added after that lock sees it.
	late := s.draining.Load()
	a.emit(Event{Kind: ConnectionOpened, SocketID: c.id, Origin: origin})
	s.publishCount(a)
	c.send(s.establishedFrame(c))
	s.startDeadline(a, c)
	if s.polls != nil && len(initial) > 0 {
		if !c.feed(initial) {
			refused()
			return
		}
		initial = nil
	}
	// Attach under srvMu: Close cannot have stopped the pollers meanwhile.
	s.srvMu.Lock()
	if s.closed {
		s.srvMu.Unlock()
		c.abort()
		return
	}
	switch {
	case reg != nil:
		s.srvMu.Unlock()
	case s.polls != nil && s.polls.attach(c):
		s.srvMu.Unlock()
	default:
		s.srvMu.Unlock()
		s.spawnReader(c, initial)
	}
	if late {
		c.closeNow(4200, "Server restarting", false)
	}
}

// spawnReader runs a reader goroutine for c (or aborts it after Close).
func (s *Server) spawnReader(c *conn, initial []byte) {
	if !s.spawn(func() { c.readLoop(initial) }) {
		c.abort()
	}
}

// spawn runs f on a goroutine the server waits for in Close; after Close
// it refuses (false), so no goroutine starts behind Close's back.
func (s *Server) spawn(f func()) bool {
	s.srvMu.Lock()
	if s.closed {
		s.srvMu.Unlock()
		return false
	}
	s.wg.Add(1)
	s.srvMu.Unlock()
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

func (s *Server) establishedFrame(c *conn) []byte {
	d := make([]byte, 0, 64)
	d = append(d, `{"socket_id":"`...)
	d = append(d, c.id...)
	d = append(d, `","activity_timeout":`...)
	d = strconv.AppendInt(d, int64(c.app.cfg.ActivityTimeout), 10)
	d = append(d, '}')
	return textFrame(pusherText("pusher:connection_established", d, ""))
}

// originAllowed is Reverb's check (§2): "*" allows all; otherwise the
// Origin's host, as PHP's parse_url($origin, PHP_URL_HOST) reads it ("" when
// it has none), must match an entry with Str::is semantics. parse_url is not
// net/url: an IPv6 host keeps its brackets ("[::1]"), "laravel.com:8080"
// without a scheme has the host "laravel.com", a port above 65535 leaves no
// host, and a host net/url rejects ("exa mple.com") is still one.
func originAllowed(allowed []string, origin string) bool {
	for _, o := range allowed {
		if o == "*" {
			return true
		}
	}
	host := ""
	if origin != "" {
		if parts, ok := phpeval.ParseURL(origin); ok {
			if h, ok := parts.GetString("host"); ok {
				host = h.StringVal()
			}
		}
	}
	for _, pattern := range allowed {
		if strIs(pattern, host) {
			return true
		}
	}
	return false
}

// strIs is Laravel's Str::is: "*" matches any run of characters, the rest
// is literal, anchored, case-sensitive.
func strIs(pattern, value string) bool {
	if pattern == value {
		return true
	}
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return false
	}
	if !strings.HasPrefix(value, parts[0]) {
		return false
	}
	value = value[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(value, mid)
		if i < 0 {
			return false
		}
		value = value[i+len(mid):]
	}
	return strings.HasSuffix(value, last)
}

// Drain stops nothing by itself (the caller closes its listeners first): it
// closes every open WebSocket with a 4200-range close frame, spread evenly
// (with jitter) over window so pusher-js clients reconnect elsewhere at once
// without a thundering herd, keeps delivering to the ones still open, and
// returns when all are closed or ctx ends.
//
// Presence across a restart: the drained sockets' memberships stay in the
// cluster's presence view until the drain ends, and then this node
// announces itself gone (reverb-go:node_gone), which removes them all at
// once with member_removed only for users who did not reconnect to another
// worker meanwhile. Without this, every member would be seen leaving and
// joining again during a deploy.
func (s *Server) Drain(ctx context.Context, window time.Duration) error {
	lastClose, presence, err := s.closeAll(ctx, window)
	if err == nil && s.ledger != nil {
		stopping := s.stopping
		select {
		case <-stopping:
			return s.departAndGo(ctx)
		default:
		}
		if presence {
			// rejoinGrace, unless a stop makes the wait for a new
			// generation pointless.
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(time.Until(lastClose.Add(presenceRejoinGrace))):
			case <-stopping:
				return s.departAndGo(ctx)
			}
		}
		s.announceGone()
		return err
	}
	defer s.announceGone()
	if err != nil || !presence {
		return err
	}
	return rejoinGrace(ctx, lastClose)
}

// Stopping tells a server that drains for a restart, or is about to, that
// no generation follows after all (SIGTERM while a restart's drain is under
// way): its Drain ends as Stop does, reporting its drained sockets'
// departures itself instead of leaving them to a generation that is
// stopping too, and without waiting out the presence members' rejoin grace.
//
// The closes still due are spread over window from now (at most: a
// drain's own schedule is never slowed), since nothing reconnects to
// this server any more and process managers wait for the stop's window.
func (s *Server) Stopping(window time.Duration) {
	s.stoppingOnce.Do(func() {
		s.stopWindow.Store(int64(window))
		close(s.stopping)
	})
}

// Stop is Drain for a server that stops rather than restarts (SIGTERM, the
// last generation): no new generation claims this node's drained sockets,
// so once they are closed it reports their departures itself
// (channel_vacated, member_removed, the watchlists' offline, the listeners'
// ChannelRemoved), held as any departure is, so a client that reconnected
// to another server meanwhile cancels its own, and returns when they are
// decided (the hold, 3 s, after the last close) or ctx ends. Without the
// cluster decisions (no webhooks, listeners or watchlists) it is Drain.
func (s *Server) Stop(ctx context.Context, window time.Duration) error {
	if s.ledger == nil {
		return s.Drain(ctx, window)
	}
	if _, _, err := s.closeAll(ctx, window); err != nil {
		s.announceGone()
		return err
	}
	return s.departAndGo(ctx)
}

// departAndGo reports the departures of the sockets closeAll closed, waits
// until they are decided, and announces this node gone.
func (s *Server) departAndGo(ctx context.Context) error {
	defer s.announceGone()
	ls := s.ledger
	s.departAll()
	// Once the departures are back in the bus order, their holds are
	// this node's; they commit after the hold, and the commits are
	// applied (and reported) when they come back in turn. A transport
	// that takes nothing (Redis down) has them go unreported after
	// GatherTimeout rather than hold the stop.
	if !s.ordered(ctx) {
		return ctx.Err()
	}
	for ls.holding() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.ordered(ctx)
	return ctx.Err()
}

// ordered waits, GatherTimeout at most, until what this node published so
// far came back to it in the cluster's order.
func (s *Server) ordered(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, s.opts.GatherTimeout)
	defer cancel()
	return s.inOrderAfter(ctx, nil, func() {}) == nil
}

// closeAll closes every open WebSocket over window, as Drain describes,
// and returns when they are all closed: when the last close was sent, and
// whether any of them was a presence member.
func (s *Server) closeAll(ctx context.Context, window time.Duration) (lastClose time.Time, presence bool, err error) {
	s.draining.Store(true)
	var all []*conn
	for _, a := range s.appList() {
		a.mu.Lock()
		for _, c := range a.conns {
			all = append(all, c)
			presence = presence || len(c.wantPresence) > 0
		}
		a.mu.Unlock()
	}
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	start := time.Now()
	at := make([]time.Time, len(all))
	for i := range all {
		at[i] = start
		if window > 0 {
			slot := window / time.Duration(len(all))
			at[i] = start.Add(slot*time.Duration(i) + time.Duration(rand.Int64N(int64(slot)+1)))
		}
	}
	stopping := s.stopping
	var joined atomic.Bool // a closed socket was a presence member (closeBatch)
	for i := 0; i < len(all); {
		// Wait for the next close to be due, on the schedule moved on by
		// the time spent paused (drainpause.go).
		var shift time.Duration
		for {
			paused, sh, changed := s.drainPause.state()
			shift = sh
			d := time.Until(at[i].Add(shift))
			if !paused && d <= 0 {
				break
			}
			var t *time.Timer
			var due <-chan time.Time
			if !paused {
				t = time.NewTimer(d)
				due = t.C
			}
			select {
			case <-ctx.Done():
				return time.Time{}, presence, ctx.Err()
			case <-changed:
			case <-due:
			case <-stopping:
				// A stop: the closes still due go over its window
				// (Stopping), never later than planned.
				stopping = nil
				rest := len(all) - i
				from := time.Now().Add(-shift)
				w := time.Duration(s.stopWindow.Load())
				for k := i; k < len(all); k++ {
					when := from
					if w > 0 {
						when = from.Add(w * time.Duration(k-i) / time.Duration(rest))
					}
					if when.Before(at[k]) {
						at[k] = when
					}
				}
			}
			if t != nil {
				t.Stop()
			}
		}
		// Close the sockets due now at a point of the cluster's one order:
		// on the delivery of a marker. Every event ordered before it (all
		// accepted by the API before the marker was published) is queued
		// ahead of the close frame; later ones find the socket gone.
		j := i
		now := time.Now().Add(-shift)
		for j < len(all) && !at[j].After(now) {
			j++
		}
		if j == i {
			j = i + 1 // a timer never fires early, but never loop idle
		}
		batch := all[i:j]
		i = j
		closeBatch := func() {
			for _, c := range batch {
				// A presence member now, also one that joined after the
				// drain began: its membership stays for the rejoin grace.
				a := c.app
				a.mu.Lock()
				if len(c.wantPresence) > 0 {
					joined.Store(true)
				}
				a.mu.Unlock()
				c.closeNow(4200, "Server restarting", false)
			}
		}
		bctx, cancel := context.WithTimeout(ctx, s.opts.GatherTimeout)
		err := s.inOrderAfter(bctx, s.orderTopics(batch), closeBatch)
		cancel()
		if err != nil {
			closeBatch() // the transport is stuck: close anyway
			if ctx.Err() != nil {
				return time.Time{}, presence, ctx.Err()
			}
		}
	}
	lastClose = time.Now()
	presence = presence || joined.Load()
	for s.openSockets() > 0 {
		select {
		case <-ctx.Done():
			return lastClose, presence, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return lastClose, presence, nil
}

// rejoinGrace keeps the drained presence members present (announceGone
// drops them) until their clients had time to reconnect to the new
// generation and subscribe again, as pusher-js does at once on a
// 4200-range close: a member who only moved never leaves and joins again
// for the others.
func rejoinGrace(ctx context.Context, lastClose time.Time) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(lastClose.Add(presenceRejoinGrace))):
	}
	return nil
}

// presenceRejoinGrace is how long after its last close a draining node keeps
// the presence members of the sockets it closed: enough for a client to
// reconnect, ask the app's /broadcasting/auth and subscribe again.
const presenceRejoinGrace = 2 * time.Second

func (s *Server) openSockets() int {
	n := 0
	for _, a := range s.appList() {
		a.mu.Lock()
		n += len(a.conns)
		a.mu.Unlock()
	}
	return n
}

// Close closes every connection at once and stops background work.
func (s *Server) Close() error {
	s.srvMu.Lock()
	if s.closed {
		s.srvMu.Unlock()
		return nil
	}
	s.closed = true
	servers, listeners := s.servers, s.listeners
	s.srvMu.Unlock()
	for _, hs := range servers {
		_ = hs.Close()
	}
	for _, ln := range listeners {
		_ = ln.Close()
	}
	s.stopOnce.Do(func() { close(s.stop) })
	s.polls.stop()
	s.polls.dropUpgrades()
	for _, a := range s.appList() {
		a.mu.Lock()
		conns := make([]*conn, 0, len(a.conns))
		for _, c := range a.conns {
			conns = append(conns, c)
		}
		a.mu.Unlock()
		for _, c := range conns {
			c.abort()
		}
	}
	if s.draining.Load() {
		s.announceGone()
	}
	if s.ledger != nil {
		s.ledger.close()
	}
	s.waitPublishes(time.Second)
	// Closing the transport also releases goroutines blocked publishing.
	err := s.transport.Close()
	s.wg.Wait()
	if s.hooks != nil {
		s.hooks.close() // a last try at what is queued, bounded
	}
	return err
}

// announceGone tells the cluster that this node's presence memberships are
// over (end of a drain), once.
func (s *Server) announceGone() {
	s.goneOnce.Do(func() {
		msg, _ := json.Marshal(envelope{Type: typeNodeGone, NodeID: s.nodeID})
		s.enqueue("", msg, pubGone) // the last of this node's state (publishState)
	})
}

func (s *Server) countHandshakeFailure(reason string) {
	v, _ := s.handshakeFailures.LoadOrStore(reason, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (s *Server) logError(msg string) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	fmt.Fprintf(s.opts.ErrorLog, "%s reverb: %s\n", time.Now().Format(time.RFC3339), msg)
}

// headSize is the size of the request line and headers as sent (close
// enough to Reverb's byte count of its buffer).
func headSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// waitPublishes waits (at most d) until the publish queue is sent, so the
// last messages (presence leaves, the end-of-drain notice) are not lost
// when the transport closes.
func (s *Server) waitPublishes(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		s.pubMu.Lock()
		idle := !s.pubRunning && len(s.pubQ) == 0
		inline := !s.pubRunning && !idle // queued after Close: send it here
		s.pubRunning = s.pubRunning || inline
		s.pubMu.Unlock()
		if idle {
			return
		}
		if inline {
			s.publishLoop()
			continue
		}
		time.Sleep(2 * time.Millisecond)
	}
}
