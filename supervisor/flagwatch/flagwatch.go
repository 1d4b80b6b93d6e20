// Package flagwatch notices changes of the restart flag that `php artisan
// reverb:restart` (or `reverb restart`) writes in the app's cache store. Any
// change of presence or stored bytes counts, deletion included (Reverb
// compares Cache::get with === against its startup value).
package flagwatch

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/reverb-go/reverb/laravelcfg/cachestore"
)

// settle is how long a burst of file events must be quiet before the flag is
// read: one Cache::forever is an open, a truncate and a write (or, for
// writers that replace files atomically, a create and a rename).
const settle = 30 * time.Millisecond

// eventRetries is how many times a read that fails right after file events
// is tried again, settle apart, before the poll tick takes over. On Windows
// PHP's LOCK_EX is a mandatory LockFileEx lock: a read racing the write
// fails instead of waiting.
const eventRetries = 10

// Change describes one observed change of the flag.
type Change struct {
	Old, New cachestore.Flag
	// Via is "fsnotify" or "poll".
	Via string
}

// Watcher watches one store. Its goroutine is owned by the Watcher and ends
// on Stop.
type Watcher struct {
	store cachestore.Store
	poll  time.Duration
	on    func(Change)
	logf  func(format string, args ...any)

	cancel context.CancelFunc
	done   chan struct{}

	// last is only touched by the watcher goroutine (and Start before it
	// runs). known is false until one read succeeded.
	last  cachestore.Flag
	known bool

	// watched is the directory currently watched (goroutine-owned).
	watched string
	fsw     *fsnotify.Watcher

	errMu   sync.Mutex // guards lastErr, read by Err for tests and logs
	lastErr error
}

// Start reads the current flag as the baseline and watches for changes
// until Stop. poll is the polling period (also a backstop for the file
// store, whose changes fsnotify reports at once). on is called from the
// watcher goroutine; logf receives read errors, once per distinct error.
func Start(store cachestore.Store, poll time.Duration, on func(Change), logf func(format string, args ...any)) (*Watcher, error) {
	if poll <= 0 {
		poll = time.Second
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{store: store, poll: poll, on: on, logf: logf, cancel: cancel, done: make(chan struct{})}
	if f, err := store.Read(ctx); err == nil {
		w.last, w.known = f, true
	} else {
		w.noteErr(err)
	}
	if path := store.WatchPath(); path != "" {
		fsw, err := fsnotify.NewWatcher()
		if err != nil {
			// Watch limits reached (inotify instances, kqueue
			// descriptors): polling still works.
			logf("Cannot watch %s (%v); polling every %v instead", path, err, poll)
		} else {
			w.fsw = fsw
			w.arm(path)
		}
	}
	go w.run(ctx)
	return w, nil
}

// Stop ends the watcher goroutine and waits for it.
func (w *Watcher) Stop() {
	w.cancel()
	<-w.done
}

// Location is where the watched flag lives.
func (w *Watcher) Location() string { return w.store.Location() }

func (w *Watcher) noteErr(err error) {
	w.errMu.Lock()
	same := w.lastErr != nil && err != nil && w.lastErr.Error() == err.Error()
	w.lastErr = err
	w.errMu.Unlock()
	if err != nil && !same {
		w.logf("Cannot read the restart flag from %s: %v", w.store.Location(), err)
	}
}

// arm puts the watch on the deepest existing directory on the way to path:
// the flag's own directory when it exists (writes, creation, deletion and
// renames of the file), otherwise the nearest ancestor, so the creation of
// the sha1 directories is seen and the watch moves down. A directory watch
// behaves alike on fsnotify's backends: inotify (Linux), kqueue (macOS,
// which fsnotify makes report writes to the files of a watched directory)
// and ReadDirectoryChangesW (Windows); a file replaced by rename is seen
// as a create in the directory, where a watch on the file itself would
// have followed the old inode.
func (w *Watcher) arm(path string) {
	// A directory created between finding the deepest one and adding the
	// watch sends no event, and one removed in between cannot be watched:
	// look again after each Add until it is stable.
	var lastErr error
	for range 8 {
		dir := deepestDir(path)
		if dir == w.watched {
			return
		}
		if w.watched != "" {
			_ = w.fsw.Remove(w.watched) // may already be gone with its directory
			w.watched = ""
		}
		if err := w.fsw.Add(dir); err != nil {
			lastErr = err
			continue
		}
		w.watched = dir
	}
	if w.watched == "" && lastErr != nil {
		w.logf("Cannot watch the restart flag's directory (%v); polling every %v", lastErr, w.poll)
	}
}

// deepestDir is the deepest existing directory on the way to path.
func deepestDir(path string) string {
	dir := filepath.Dir(path)
	for {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return dir // permission problems: try watching it anyway
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	if w.fsw != nil {
		defer w.fsw.Close()
	}
	tick := time.NewTicker(w.poll)
	defer tick.Stop()
	var events chan fsnotify.Event
	var errs chan error
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	settleTimer := time.NewTimer(time.Hour)
	settleTimer.Stop()
	retries := 0 // reads still to retry after file events
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if w.fsw != nil {
				w.arm(w.store.WatchPath())
			}
			w.check(ctx, "poll", false)
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			w.arm(w.store.WatchPath())
			settleTimer.Reset(settle)
			retries = eventRetries
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			w.logf("File watch error: %v", err)
		case <-settleTimer.C:
			if !w.check(ctx, "fsnotify", retries > 0) && retries > 0 {
				retries--
				settleTimer.Reset(settle)
			}
		}
	}
}

// check reads the flag and reports a change; false when the read failed.
// quiet keeps a failure out of the log: a read right after file events is
// retried first (the writer may still hold its lock), and only the last
// failure is logged.
func (w *Watcher) check(ctx context.Context, via string, quiet bool) bool {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	f, err := w.store.Read(rctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil && !quiet {
			w.noteErr(err)
		}
		return false
	}
	w.noteErr(nil)
	if !w.known {
		w.last, w.known = f, true
		return true
	}
	if f.Present == w.last.Present && bytes.Equal(f.Raw, w.last.Raw) {
		return true
	}
	ch := Change{Old: w.last, New: f, Via: via}
	w.last = f
	if w.on != nil {
		w.on(ch)
	}
	return true
}

// Describe renders a flag for a log line: the stored value decoded when it
// is one of the shapes Laravel writes, else the raw bytes.
func Describe(f cachestore.Flag) string {
	if !f.Present {
		return "absent"
	}
	raw := f.Raw
	// File store: 10-digit expiry before the serialized value.
	if len(raw) > 10 && isDigits(raw[:10]) && raw[10] == 'i' {
		raw = raw[10:]
	}
	if len(raw) > 3 && raw[0] == 'i' && raw[1] == ':' && raw[len(raw)-1] == ';' && isDigits(raw[2:len(raw)-1]) {
		return string(raw[2 : len(raw)-1])
	}
	if isDigits(raw) {
		return string(raw)
	}
	if len(raw) > 64 {
		raw = raw[:64]
	}
	return string(bytes.ToValidUTF8(raw, []byte("?")))
}

func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
