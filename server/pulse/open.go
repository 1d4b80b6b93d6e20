package pulse

import (
	"context"
	"fmt"
	"sync"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/cachestore"
)

// Start reads the app's Pulse settings and, when the ReverbMessages
// recorder is configured, starts an ingester through the app's ingest
// driver and returns it (the caller Closes it at shutdown). It returns nil
// and no error when the messages card is not configured. The database or
// Redis is opened lazily and reopened after failures, so one that is down
// at start-up only delays the ingest.
func Start(p *laravelcfg.Project, counts func() []Counts, logf func(format string, args ...any)) (*Ingester, error) {
	cfg, ok, err := FromProject(p)
	if err != nil || !ok {
		return nil, err
	}
	in := NewIngester(cfg, newSink(p, cfg), counts, logf)
	in.Start()
	return in, nil
}

// newSink returns the sink of cfg.Driver, opened on first use.
func newSink(p *laravelcfg.Project, cfg Config) Sink {
	if cfg.Driver == DriverRedis {
		name := cfg.RedisConnection
		if name == "" {
			name = "default"
		}
		return &lazySink{where: "redis connection [" + name + "]", open: func() (Sink, error) {
			rc, err := cachestore.OpenRedisConnection(p, cfg.RedisConnection)
			if err != nil {
				return nil, err
			}
			return &redisSink{client: rc.Client, stream: rc.Prefix + StreamKey, where: "redis " + rc.Addr + " stream " + rc.Prefix + StreamKey, closer: rc.Close}, nil
		}}
	}
	name := cfg.DBConnection
	if name == "" {
		name = "default"
	}
	return &lazySink{where: "database connection [" + name + "]", open: func() (Sink, error) {
		c, err := cachestore.OpenDatabaseConnection(p, cfg.DBConnection)
		if err != nil {
			return nil, err
		}
		return &sqlSink{db: c.DB, driver: c.Driver, table: c.TablePrefix + "pulse_aggregates", where: c.Where + " table " + c.TablePrefix + "pulse_aggregates", closer: c.Close}, nil
	}}
}

// lazySink opens its sink on the first Write and again after an open
// failure.
//
// Lock story: mu guards s; Writes come one at a time from the Ingester, but
// Close may come from another goroutine.
type lazySink struct {
	where string
	open  func() (Sink, error)
	mu    sync.Mutex
	s     Sink
}

func (l *lazySink) get() (Sink, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s == nil {
		s, err := l.open()
		if err != nil {
			return nil, err
		}
		l.s = s
	}
	return l.s, nil
}

func (l *lazySink) Write(ctx context.Context, batches []Batch) ([]Batch, error) {
	s, err := l.get()
	if err != nil {
		return batches, fmt.Errorf("opening: %w", err)
	}
	return s.Write(ctx, batches)
}

func (l *lazySink) Where() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s != nil {
		return l.s.Where()
	}
	return l.where
}

func (l *lazySink) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s == nil {
		return nil
	}
	err := l.s.Close()
	l.s = nil
	return err
}
