package flagwatch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/cachestore"
)

// fileFlag is a minimal file store: the flag is the file's content.
type fileFlag struct{ path string }

func (s fileFlag) Read(context.Context) (cachestore.Flag, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return cachestore.Flag{}, nil
	}
	if err != nil {
		return cachestore.Flag{}, err
	}
	return cachestore.Flag{Present: true, Raw: b}, nil
}
func (s fileFlag) Write(context.Context, int64) error { return nil }
func (s fileFlag) Location() string                   { return "file " + s.path }
func (s fileFlag) WatchPath() string                  { return s.path }
func (s fileFlag) Close() error                       { return nil }

// memFlag is a store that can only be polled.
type memFlag struct {
	mu  sync.Mutex
	f   cachestore.Flag
	err error
}

func (s *memFlag) Read(context.Context) (cachestore.Flag, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f, s.err
}
func (s *memFlag) set(f cachestore.Flag, err error) {
	s.mu.Lock()
	s.f, s.err = f, err
	s.mu.Unlock()
}
func (s *memFlag) Write(context.Context, int64) error { return nil }
func (s *memFlag) Location() string                   { return "memory" }
func (s *memFlag) WatchPath() string                  { return "" }
func (s *memFlag) Close() error                       { return nil }

func expect(t *testing.T, ch <-chan Change, within time.Duration) Change {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(within):
		t.Fatalf("no change seen within %v", within)
		return Change{}
	}
}

func expectNone(t *testing.T, ch <-chan Change, wait time.Duration) {
	t.Helper()
	select {
	case c := <-ch:
		t.Fatalf("unexpected change %s -> %s", Describe(c.Old), Describe(c.New))
	case <-time.After(wait):
	}
}

func TestFileStoreSeenThroughFsnotify(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "storage", "framework", "cache", "data")
	if err := os.MkdirAll(data, 0o777); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(data, "4f", "e4", "4fe44729b03e0a0a2586ebe0d445f50c083d0ff3")
	changes := make(chan Change, 10)
	// A poll period of an hour: everything below must come from fsnotify.
	w, err := Start(fileFlag{path}, time.Hour, func(c Change) { changes <- c }, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	steps := []struct {
		name   string
		do     func() error
		change bool
		want   string
	}{
		{"created with its sha1 directories", func() error {
			if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
				return err
			}
			return os.WriteFile(path, []byte("9999999999i:1732200000;"), 0o666)
		}, true, "1732200000"},
		{"rewritten with a new time", func() error { return os.WriteFile(path, []byte("9999999999i:1732200007;"), 0o666) }, true, "1732200007"},
		{"rewritten with the same second", func() error { return os.WriteFile(path, []byte("9999999999i:1732200007;"), 0o666) }, false, ""},
		{"replaced by a rename (atomic writers; Windows tools)", func() error {
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, []byte("9999999999i:1732200050;"), 0o666); err != nil {
				return err
			}
			return os.Rename(tmp, path)
		}, true, "1732200050"},
		{"deleted by cache:clear", func() error { return os.RemoveAll(filepath.Join(data, "4f")) }, true, "absent"},
		{"created again", func() error {
			os.MkdirAll(filepath.Dir(path), 0o777)
			return os.WriteFile(path, []byte("9999999999i:1732200100;"), 0o666)
		}, true, "1732200100"},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !s.change {
			expectNone(t, changes, 300*time.Millisecond)
			continue
		}
		t.Log(s.name)
		c := expect(t, changes, 3*time.Second)
		if got := Describe(c.New); got != s.want || c.Via != "fsnotify" {
			t.Fatalf("%s: new flag %q via %s, want %q via fsnotify", s.name, got, c.Via, s.want)
		}
	}
}

func TestPolledStore(t *testing.T) {
	s := &memFlag{}
	changes := make(chan Change, 10)
	var logged []string
	var mu sync.Mutex
	logf := func(f string, a ...any) { mu.Lock(); logged = append(logged, f); mu.Unlock() }
	w, err := Start(s, 20*time.Millisecond, func(c Change) { changes <- c }, logf)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	expectNone(t, changes, 100*time.Millisecond)

	s.set(cachestore.Flag{Present: true, Raw: []byte("1732200000")}, nil)
	if c := expect(t, changes, 2*time.Second); Describe(c.New) != "1732200000" || c.Via != "poll" {
		t.Fatalf("got %+v", c)
	}
	// Read errors are logged once and never count as a change.
	s.set(cachestore.Flag{}, errors.New("connection refused"))
	expectNone(t, changes, 150*time.Millisecond)
	mu.Lock()
	n := len(logged)
	mu.Unlock()
	if n != 1 {
		t.Fatalf("logged %d errors, want 1", n)
	}
	s.set(cachestore.Flag{Present: true, Raw: []byte("1732200000")}, nil)
	expectNone(t, changes, 100*time.Millisecond)
	s.set(cachestore.Flag{}, nil)
	if c := expect(t, changes, 2*time.Second); c.New.Present {
		t.Fatalf("deletion not reported: %+v", c)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		f    cachestore.Flag
		want string
	}{
		{cachestore.Flag{}, "absent"},
		{cachestore.Flag{Present: true, Raw: []byte("9999999999i:1732200000;")}, "1732200000"},
		{cachestore.Flag{Present: true, Raw: []byte("i:1732200000;")}, "1732200000"},
		{cachestore.Flag{Present: true, Raw: []byte("1732200000")}, "1732200000"},
		{cachestore.Flag{Present: true, Raw: []byte("s:3:\"abc\";")}, `s:3:"abc";`},
		{cachestore.Flag{Present: true, Raw: []byte{0xff, 'a'}}, "?a"},
	}
	for _, tt := range tests {
		if got := Describe(tt.f); got != tt.want {
			t.Errorf("Describe(%q) = %q, want %q", tt.f.Raw, got, tt.want)
		}
	}
}

// lockedFlag fails its first reads, as a read of a file PHP holds under a
// Windows LockFileEx lock does.
type lockedFlag struct {
	fileFlag
	mu    sync.Mutex
	fails int
}

func (s *lockedFlag) Read(ctx context.Context) (cachestore.Flag, error) {
	s.mu.Lock()
	if s.fails > 0 {
		s.fails--
		s.mu.Unlock()
		return cachestore.Flag{}, errors.New("the process cannot access the file because another process has locked a portion of the file")
	}
	s.mu.Unlock()
	return s.fileFlag.Read(ctx)
}

// A read that fails right after the write is retried soon and quietly: the
// change is seen through fsnotify, not an hour later, and nothing is logged.
func TestFileStoreReadRetriedWhileLocked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flagfile")
	s := &lockedFlag{fileFlag: fileFlag{path}}
	changes := make(chan Change, 10)
	var mu sync.Mutex
	var logged []string
	w, err := Start(s, time.Hour, func(c Change) { changes <- c }, func(f string, a ...any) {
		mu.Lock()
		logged = append(logged, f)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	s.mu.Lock()
	s.fails = 3
	s.mu.Unlock()
	if err := os.WriteFile(path, []byte("9999999999i:1732200000;"), 0o666); err != nil {
		t.Fatal(err)
	}
	c := expect(t, changes, 5*time.Second)
	if Describe(c.New) != "1732200000" || c.Via != "fsnotify" {
		t.Fatalf("got %s via %s", Describe(c.New), c.Via)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logged) != 0 {
		t.Fatalf("logged %q for reads that were retried", logged)
	}
}
