package cachestore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/internal/cfgtree"
)

// foreverExpiry is the expiry FileStore writes for Cache::forever.
const foreverExpiry = "9999999999"

// fileStore is Laravel's FileStore: one file per key at
// <dir>/<sha1[0:2]>/<sha1[2:4]>/<sha1>, holding a 10-digit expiry followed by
// serialize($value). The prefix is not used.
//
// Concurrency: the file is written in place under flock(LOCK_EX) and read
// under flock(LOCK_SH), exactly as Laravel's Filesystem::put(..., true) and
// get(..., true) do, so neither side ever sees a half-written value.
type fileStore struct {
	path       string // absolute path of the flag file
	basePath   string // project root, for Location
	permission *os.FileMode
	now        func() time.Time
}

func (r *resolver) openFile(sc node) (Store, error) {
	dir, ok, err := sc.Str("path")
	if err != nil {
		return nil, err
	}
	if !ok || dir == "" {
		// The skeleton's storage_path('framework/cache/data').
		dir = filepath.Join(r.storagePath(), "framework", "cache", "data")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(r.p.BasePath, dir)
	}
	st := &fileStore{path: filePathFor(dir, FlagKey), basePath: r.p.BasePath, now: time.Now}
	if v, ok := sc.Get("permission"); ok && !v.IsNull() {
		n, err := cfgtree.Int(v, sc.KeyPath("permission"))
		if err != nil {
			return nil, err
		}
		m := os.FileMode(n) & os.ModePerm
		st.permission = &m
	}
	return st, nil
}

// storagePath is storage_path(): LARAVEL_STORAGE_PATH or <base>/storage.
func (r *resolver) storagePath() string {
	if s, ok := r.p.Getenv("LARAVEL_STORAGE_PATH"); ok && s != "" {
		return s
	}
	return filepath.Join(r.p.BasePath, "storage")
}

// filePathFor is FileStore::path($key).
func filePathFor(dir, key string) string {
	sum := sha1.Sum([]byte(key))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(dir, h[0:2], h[2:4], h)
}

func (s *fileStore) Read(ctx context.Context) (Flag, error) {
	if err := ctx.Err(); err != nil {
		return Flag{}, err
	}
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return Flag{}, nil
	}
	if err != nil {
		return Flag{}, fmt.Errorf("read restart flag: %w", err)
	}
	defer f.Close()
	if err := lockShared(f); err != nil {
		return Flag{}, fmt.Errorf("read restart flag: lock %s: %w", s.path, err)
	}
	// The lock is released by Close.
	raw, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return Flag{}, fmt.Errorf("read restart flag: %w", err)
	}
	if fileExpired(raw, s.now().Unix()) {
		// Laravel's get() deletes such a file and returns null; we only
		// report it missing and leave the file to Laravel.
		return Flag{}, nil
	}
	return Flag{Present: true, Raw: raw}, nil
}

// fileExpired is FileStore::getPayload's `$this->currentTime() >= $expire`
// with $expire = substr($contents, 0, 10): PHP 8 compares an int with a
// numeric string numerically, and with any other string as strings.
func fileExpired(raw []byte, now int64) bool {
	expire := string(raw)
	if len(expire) > 10 {
		expire = expire[:10]
	}
	return phpIntGE(now, expire)
}

func (s *fileStore) Write(ctx context.Context, ts int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o777); err != nil {
		return fmt.Errorf("write restart flag: %w", err)
	}
	// file_put_contents($path, $value, LOCK_EX): open without truncating,
	// lock, then truncate and write, so a reader holding LOCK_SH never sees
	// an empty or partial file. 0666 minus the umask, like PHP.
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		return fmt.Errorf("write restart flag: %w", err)
	}
	if err := lockExclusive(f); err != nil {
		f.Close()
		return fmt.Errorf("write restart flag: lock %s: %w", s.path, err)
	}
	content := foreverExpiry + "i:" + strconv.FormatInt(ts, 10) + ";"
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(content), 0)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write restart flag %s: %w", s.path, err)
	}
	if s.permission != nil {
		if err := os.Chmod(s.path, *s.permission); err != nil {
			return fmt.Errorf("write restart flag: %w", err)
		}
	}
	return nil
}

func (s *fileStore) Location() string {
	if rel, err := filepath.Rel(s.basePath, s.path); err == nil && s.basePath != "" && !strings.HasPrefix(rel, "..") {
		return "file " + filepath.ToSlash(rel) + " (relative to project)"
	}
	return "file " + s.path
}

func (s *fileStore) WatchPath() string { return s.path }

func (s *fileStore) Close() error { return nil }
