package supervisor

import (
	"runtime"
	"testing"
)

var keep, sink [][]byte

// A burst leaves garbage behind a large live heap (a worker full of
// connections); the trimmer collects it and returns the pages once the
// process is quiet, not while it allocates, and not again when there is
// nothing worth a collection.
func TestMemTrimmerReturnsMemoryWhenQuiet(t *testing.T) {
	for i := 0; i < 40; i++ { // the live heap: 40 MiB
		keep = append(keep, make([]byte, 1<<20))
	}
	defer func() { keep = nil }()
	runtime.GC()
	tr := newMemTrimmer()
	tr.check()
	for i := 0; i < 30; i++ { // the burst: 30 MiB, garbage at once
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil
	if tr.check() {
		t.Fatal("trimmed right after allocating 30 MiB: not quiet")
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	if !tr.check() {
		t.Fatal("quiet with 30 MiB of garbage: no trim")
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if after.HeapReleased < before.HeapReleased+16<<20 {
		t.Fatalf("released %d MiB → %d MiB", before.HeapReleased>>20, after.HeapReleased>>20)
	}
	if tr.check() {
		t.Fatal("trimmed again with nothing to give back")
	}
}
