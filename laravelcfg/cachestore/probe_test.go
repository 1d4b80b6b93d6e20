package cachestore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Probe reads the flag where it lives, and for the file store checks the
// folder, without ever writing the flag (a running server would restart).
func TestProbe(t *testing.T) {
	l11 := layouts[1]
	ctx := context.Background()

	// database store, SQLite file missing: what php artisan reverb:restart
	// would run into.
	base := t.TempDir()
	st := openStore(t, project(l11, base, with(skeletonConfig(l11, base), []string{"cache", "default"}, "database")))
	if err := Probe(ctx, st); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing SQLite file: %v", err)
	}

	// file store: fine even before Laravel created the sub-folders.
	base = t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "storage/framework/cache/data"), 0o755); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, project(l11, base, with(skeletonConfig(l11, base), []string{"cache", "default"}, "file")))
	if err := Probe(ctx, st); err != nil {
		t.Errorf("file store: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(base, "storage/framework/cache/data"))
	if len(entries) != 0 {
		t.Errorf("probe left files behind or wrote the flag: %v", entries)
	}

	// file store whose cache folder is a file: cannot be written.
	base = t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "storage/framework/cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "storage/framework/cache/data"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, project(l11, base, with(skeletonConfig(l11, base), []string{"cache", "default"}, "file")))
	if err := Probe(ctx, st); err == nil {
		t.Error("a cache folder that is a file passed")
	}
}
