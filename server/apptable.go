package server

// The app table: the apps this node serves, looked up by key on every
// connection and by id on every API request and bus message.
//
// Most apps come from config/reverb.php and never change while a node runs.
// Apps a custom provider produces (tenants in a database, asked through
// `php artisan reverb:apps --json`) can appear at any time: when a client or
// an API request names an app the node does not know, the node asks its
// Options.Refresh source again (rate-limited, one run shared by every
// caller) and starts serving the new apps without a restart.
//
// Lock story: the table is copy-on-write behind an atomic pointer. Readers
// load the pointer and use that snapshot without a lock; a published
// snapshot is never modified. Writers (addApps) serialise on tableMu, copy,
// add, and publish the new snapshot. Apps are only ever added while a node
// runs, and an *appState stays the same object for the node's life, so a
// connection's or a channel's app pointer never goes stale. Apps that
// changed or disappeared at the source take effect at the next restart,
// which builds a new table from scratch.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
)

// DefaultRefreshInterval is the least time between two runs of
// Options.Refresh.
const DefaultRefreshInterval = 10 * time.Second

// refreshWait bounds how long a connection or API request waits for a
// refresh to find its app, past the rate limit's own delay.
const refreshWait = 45 * time.Second

// errClosed ends waits when the server closes.
var errClosed = errors.New("server: closed")

// appTable is one immutable snapshot of the apps.
type appTable struct {
	list  []*appState
	byID  map[string]*appState
	byKey map[string]*appState
}

// with returns a copy of t plus cfgs, skipping (and describing) apps whose
// id or key is taken. The first app with an id or key wins, as in Reverb's
// lookup.
func (t *appTable) with(cfgs []laravelcfg.App) (*appTable, []*appState, []string) {
	n := &appTable{
		list:  make([]*appState, len(t.list), len(t.list)+len(cfgs)),
		byID:  make(map[string]*appState, len(t.byID)+len(cfgs)),
		byKey: make(map[string]*appState, len(t.byKey)+len(cfgs)),
	}
	copy(n.list, t.list)
	for k, v := range t.byID {
		n.byID[k] = v
	}
	for k, v := range t.byKey {
		n.byKey[k] = v
	}
	var added []*appState
	var skipped []string
	for i := range cfgs {
		cfg := cfgs[i]
		byID, byKey := n.byID[cfg.ID], n.byKey[cfg.Key]
		switch {
		case cfg.ID == "" || cfg.Key == "":
			skipped = append(skipped, emptyIDOrKey(cfg))
			continue
		case byID != nil && byID == byKey:
			continue // known
		case byID != nil:
			skipped = append(skipped, fmt.Sprintf("app_id %s now has key %s (was %s): the change takes effect at the next restart", cfg.ID, cfg.Key, byID.cfg.Key))
			continue
		case byKey != nil:
			skipped = append(skipped, fmt.Sprintf("key %s now belongs to app_id %s (was %s): the change takes effect at the next restart", cfg.Key, cfg.ID, byKey.cfg.ID))
			continue
		}
		a := newAppState(&cfg)
		n.list = append(n.list, a)
		n.byID[cfg.ID] = a
		n.byKey[cfg.Key] = a
		added = append(added, a)
	}
	return n, added, skipped
}

// appByID returns the app with this app_id, or nil.
func (s *Server) appByID(id string) *appState { return s.table.Load().byID[id] }

// appList returns every app of the current snapshot (do not modify it).
func (s *Server) appList() []*appState { return s.table.Load().list }

// addApps adds the apps not known yet and returns them. Each app it skips
// is logged once: every refresh sees the same source again.
func (s *Server) addApps(cfgs []laravelcfg.App) []*appState {
	s.tableMu.Lock()
	n, added, skipped := s.table.Load().with(cfgs)
	if len(added) > 0 {
		s.prepareApps(added) // observers and ledger before anyone finds them
		s.table.Store(n)
	}
	s.tableMu.Unlock()
	s.logSkips(skipped)
	return added
}

// emptyIDOrKey says why an app a provider returned is skipped.
func emptyIDOrKey(cfg laravelcfg.App) string {
	return fmt.Sprintf("an app with an empty app_id (%q) or key (%q) is ignored", cfg.ID, cfg.Key)
}

// logSkips logs each skipped app once, at start or at whichever refresh
// first saw it.
func (s *Server) logSkips(skipped []string) {
	var news []string
	s.tableMu.Lock()
	for _, msg := range skipped {
		if !s.skipsLogged[msg] {
			if s.skipsLogged == nil {
				s.skipsLogged = make(map[string]bool)
			}
			s.skipsLogged[msg] = true
			news = append(news, msg)
		}
	}
	s.tableMu.Unlock()
	for _, msg := range news {
		s.logError("apps: " + msg)
	}
}

// findApp returns the app find selects, asking the refresh source once when
// it is not known yet and a source is configured.
func (s *Server) findApp(ctx context.Context, find func(*appTable) *appState) *appState {
	if a := find(s.table.Load()); a != nil || s.refresh == nil {
		return a
	}
	ctx, cancel := context.WithTimeout(ctx, s.refresh.interval+refreshWait)
	defer cancel()
	if err := s.refresh.wait(ctx); err != nil {
		return nil
	}
	return find(s.table.Load())
}

// appByKey finds an app by key in the current table.
func (s *Server) appByKey(key string) *appState { return s.table.Load().byKey[key] }

// appByKeyRefreshing is appByKey that asks the refresh source on a miss.
func (s *Server) appByKeyRefreshing(ctx context.Context, key string) *appState {
	return s.findApp(ctx, func(t *appTable) *appState { return t.byKey[key] })
}

// appByIDRefreshing is appByID that asks the refresh source on a miss.
func (s *Server) appByIDRefreshing(ctx context.Context, id string) *appState {
	return s.findApp(ctx, func(t *appTable) *appState { return t.byID[id] })
}

// refresher runs the refresh source at most once per interval, one run at a
// time, shared by every caller that missed an app before the run started.
//
// Lock story: mu guards next and last. A run is a goroutine owned by the
// server (spawned through Server.spawn, so Close waits for it); it waits out
// the rate limit or the server's stop, runs the source, adds what it found
// and closes done.
type refresher struct {
	s        *Server
	source   func(ctx context.Context) ([]laravelcfg.App, error)
	interval time.Duration

	mu   sync.Mutex
	next *refreshRun // the run not started yet that new callers join
	last time.Time   // start of the latest run
}

type refreshRun struct {
	done chan struct{}
	err  error // set before done is closed
}

// wait joins the next run (scheduling it when none is pending) and returns
// when it has finished or ctx ends.
func (r *refresher) wait(ctx context.Context) error {
	r.mu.Lock()
	run := r.next
	if run == nil {
		run = &refreshRun{done: make(chan struct{})}
		r.next = run
		delay := time.Duration(0)
		if !r.last.IsZero() {
			delay = r.interval - time.Since(r.last)
		}
		if !r.s.spawn(func() { r.run(run, delay) }) {
			r.next = nil
			r.mu.Unlock()
			return errClosed
		}
	}
	r.mu.Unlock()
	select {
	case <-run.done:
		return run.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *refresher) run(run *refreshRun, delay time.Duration) {
	defer close(run.done)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-r.s.stop:
			t.Stop()
			run.err = errClosed
			r.mu.Lock()
			r.next = nil
			r.mu.Unlock()
			return
		case <-t.C:
		}
	}
	r.mu.Lock()
	r.next = nil // callers from now on need a later run
	r.last = time.Now()
	r.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // ends with the run: cancel or stop, whichever first
		select {
		case <-r.s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	cfgs, err := r.source(ctx)
	if err != nil {
		run.err = err
		r.s.logError(fmt.Sprintf("apps: refresh failed, still serving the %d known app(s): %v", len(r.s.appList()), err))
		return
	}
	added := r.s.addApps(cfgs)
	if len(added) == 0 {
		return
	}
	for _, a := range added {
		r.s.logError(fmt.Sprintf("apps: now serving app_id %s (key %s)", a.cfg.ID, a.cfg.Key))
	}
	// Other nodes may already serve these apps, with presence members this
	// node ignored while it did not know them: ask every node for its
	// memberships (rejoin.go) so the presence view converges.
	r.s.askSnapshot("")
}
