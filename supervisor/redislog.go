package supervisor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// redisLogEvery is how often one kind of Redis client line is repeated
// while it keeps happening (a Redis that is down fails every dial).
const redisLogEvery = 30 * time.Second

// redisLog sends the Redis client library's own log lines (go-redis's
// "pool.go:770: redis: connection pool: failed to dial after 5 attempts")
// through this process's logger, in its format, instead of the library's
// stderr logger: the first line of each kind at once, then at most one per
// redisLogEvery with how many were left out. Every Redis client of the
// process is covered (the restart flag's store, Pulse, Redis scaling).
//
// Lock story: mu guards seen; logf is called outside it.
type redisLog struct {
	logf func(format string, args ...any)
	now  func() time.Time

	mu   sync.Mutex
	seen map[string]*redisLogKind // by format string
}

type redisLogKind struct {
	last    time.Time
	skipped int
}

// routeRedisLogs installs the adapter for this process. The go-redis
// logger is global: call it once the process's Redis clients exist (the
// scaling transport installs its own when it is built).
func routeRedisLogs(logf func(format string, args ...any)) *redisLog {
	l := &redisLog{logf: logf, now: time.Now, seen: map[string]*redisLogKind{}}
	goredis.SetLogger(l)
	return l
}

// Printf implements go-redis's internal.Logging.
func (l *redisLog) Printf(_ context.Context, format string, args ...any) {
	now := l.now()
	l.mu.Lock()
	k := l.seen[format]
	if k == nil {
		k = &redisLogKind{}
		l.seen[format] = k
	} else if now.Sub(k.last) < redisLogEvery {
		k.skipped++
		l.mu.Unlock()
		return
	}
	skipped := k.skipped
	k.last, k.skipped = now, 0
	l.mu.Unlock()

	msg := strings.TrimPrefix(fmt.Sprintf(format, args...), "redis: ")
	if skipped > 0 {
		msg += fmt.Sprintf(" (%d more like it since the last report)", skipped)
	}
	l.logf("Redis client: %s", msg)
}
