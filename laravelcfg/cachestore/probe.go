package cachestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Probe checks that the flag can really be read and written where s keeps
// it, without changing it: a running server restarts whenever the flag
// changes, so a check must not write it. Reading needs what writing needs
// (the database file and its cache table, a Redis or memcached that
// answers); for the file store, the cache folder must also be writable by
// this user (Laravel creates the two-level sub-folders itself, so the
// nearest existing one is tried).
func Probe(ctx context.Context, s Store) error {
	if _, err := s.Read(ctx); err != nil {
		return err
	}
	path := s.WatchPath()
	if path == "" {
		return nil
	}
	dir := filepath.Dir(path)
	for {
		fi, err := os.Stat(dir)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a folder: the file cache store cannot write the flag below it", dir)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("no folder of %s exists", path)
		}
		dir = parent
	}
	f, err := os.CreateTemp(dir, ".reverb-probe-*")
	if err != nil {
		return fmt.Errorf("the file cache store cannot write the flag: %w", err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
