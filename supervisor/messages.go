package supervisor

import (
	"fmt"
	"sync"
	"time"
)

// Log helpers shared by both process models.

// limitLogEvery is how often the same open-files message is repeated.
const limitLogEvery = 10 * time.Second

// limitLogs rate-limits messages by kind: the first at once, then one per
// every (limitLogEvery when zero) with how many were left out.
//
// Lock story: mu guards last and skipped; logf is called outside it.
type limitLogs struct {
	logf    func(format string, args ...any)
	every   time.Duration
	now     func() time.Time // time.Now when nil; tests move it
	mu      sync.Mutex
	last    map[string]time.Time
	skipped map[string]int
}

func (l *limitLogs) print(kind, format string, args ...any) {
	l.printWith(l.logf, kind, format, args...)
}

// printWith is print through another logger (an INFO line).
func (l *limitLogs) printWith(logf func(string, ...any), kind, format string, args ...any) {
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	every := l.every
	if every == 0 {
		every = limitLogEvery
	}
	l.mu.Lock()
	if l.last == nil {
		l.last, l.skipped = map[string]time.Time{}, map[string]int{}
	}
	if t, ok := l.last[kind]; ok && now.Sub(t) < every {
		l.skipped[kind]++
		l.mu.Unlock()
		return
	}
	skipped := l.skipped[kind]
	l.last[kind], l.skipped[kind] = now, 0
	l.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if skipped > 0 {
		msg += fmt.Sprintf(" (%d more like it since the last report)", skipped)
	}
	logf("%s", msg)
}

// workers is "1 worker", "2 workers".
func workers(n int) string {
	if n == 1 {
		return "1 worker"
	}
	return itoa(n) + " workers"
}

// capital upper-cases the first letter of a message that starts a line.
func capital(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
