package supervisor

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// A worker holding many idle connections is mostly connection state: a
// live heap that changes little. Go collects when the heap has grown by
// GOGC (100 %) since the last collection and keeps the freed pages for
// reuse, so after a burst of connections (a deploy, a reconnect storm) a
// worker keeps about twice its live heap resident for as long as it stays
// quiet, which for idle connections is forever. memTrimmer gives that
// memory back: when the worker is quiet (it allocates little) and what it
// holds beyond its live heap (garbage, and free pages not yet returned) is
// more than an eighth of it, it collects and returns the free pages to the
// operating system (debug.FreeOSMemory). A busy worker never trims: GOGC's
// trade of memory for CPU stays as it is where CPU matters.
//
// Cost: one collection per check at most (every trimEvery), and only when
// the worker is quiet; a collection marks the live heap (tens of
// milliseconds of CPU for 20,000 connections).
//
// Ownership: a memTrimmer belongs to the one goroutine running it.
type memTrimmer struct {
	every   time.Duration
	samples []metrics.Sample
	allocs  uint64 // cumulative bytes allocated at the last check
	trims   int
}

// A worker is quiet when it allocated at most a sixteenth of its live heap
// (at least trimQuietMin) since the last check, and holding an eighth of
// it (at least trimMinExcess) beyond it is worth a collection.
const (
	trimEvery     = 5 * time.Second
	trimMinExcess = 4 << 20
	trimQuietMin  = 1 << 20
)

var trimMetrics = []string{
	"/gc/heap/allocs:bytes",              // cumulative allocations
	"/gc/heap/live:bytes",                // live heap at the last collection
	"/memory/classes/heap/objects:bytes", // live + garbage now
	"/memory/classes/heap/free:bytes",    // free, not returned to the OS
}

func newMemTrimmer() *memTrimmer {
	t := &memTrimmer{every: trimEvery, samples: make([]metrics.Sample, len(trimMetrics))}
	for i, name := range trimMetrics {
		t.samples[i].Name = name
	}
	return t
}

// check trims when the worker is quiet and holds enough beyond its live
// heap; it reports whether it did.
func (t *memTrimmer) check() bool {
	metrics.Read(t.samples)
	v := func(i int) uint64 {
		if t.samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return t.samples[i].Value.Uint64()
	}
	allocs, live, objects, free := v(0), v(1), v(2), v(3)
	allocated := allocs - t.allocs
	t.allocs = allocs
	if live == 0 {
		return false
	}
	quiet := allocated <= max(trimQuietMin, live/16)
	excess := free
	if objects > live {
		excess += objects - live
	}
	if !quiet || excess < max(trimMinExcess, live/8) {
		return false
	}
	debug.FreeOSMemory()
	metrics.Read(t.samples)
	t.allocs = v(0) // the collection's own allocations are not the worker's
	t.trims++
	return true
}

// run checks every t.every until stop is closed. The goroutine is the
// worker's; it ends with stop.
func (t *memTrimmer) run(stop <-chan struct{}) {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			t.check()
		}
	}
}
