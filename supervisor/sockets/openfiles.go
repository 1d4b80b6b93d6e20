//go:build linux && !portable

package sockets

import (
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// fdCounter counts this process's open descriptors. Linux 6.2 and later
// report the count as the size of /proc/self/fd (one stat, a bitmap count
// in the kernel: cheap enough for every hand-off message); older kernels
// list the directory, which costs milliseconds at 20,000 descriptors, so
// there the count is taken at most every recount interval and the
// descriptors installed since are added to it.
//
// Lock story: mu guards every field; callers are the listener's Accept
// and its report goroutine.
type fdCounter struct {
	mu        sync.Mutex
	listing   bool // stat gives no count: list the directory
	last      uint64
	lastAt    time.Time
	installed uint64 // since last
}

const recountEvery = 250 * time.Millisecond

// count returns the number of open descriptors, 0 if it cannot tell.
func (c *fdCounter) count() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listing {
		var st unix.Stat_t
		if err := unix.Stat("/proc/self/fd", &st); err == nil && st.Size > 0 {
			return uint64(st.Size)
		}
		c.listing = true
	}
	if !c.lastAt.IsZero() && time.Since(c.lastAt) < recountEvery {
		return c.last + c.installed
	}
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return 0
	}
	c.last, c.lastAt, c.installed = uint64(len(names)), time.Now(), 0
	return c.last
}

// add notes n descriptors installed since the last count.
func (c *fdCounter) add(n int) {
	c.mu.Lock()
	c.installed += uint64(n)
	c.mu.Unlock()
}
