package pulse

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// StreamKey is Pulse's ingest stream, before the connection prefix.
const StreamKey = "laravel:pulse:ingest"

// xaddChunk is how many XADDs go in one pipeline round trip.
const xaddChunk = 1000

// redisSink is Pulse's RedisIngest: one XADD of a serialized Entry per
// recorded message to <prefix>laravel:pulse:ingest, field "data";
// `php artisan pulse:work` moves them into the database.
//
// Concurrency: used by one Ingester round at a time; the client is safe
// for concurrent use anyway.
type redisSink struct {
	client redis.UniversalClient
	stream string // connection prefix + StreamKey (raw commands bypass phpredis' prefix)
	where  string
	closer func() error
}

func (s *redisSink) Where() string { return s.where }

func (s *redisSink) Close() error {
	if s.closer != nil {
		return s.closer()
	}
	return nil
}

// Write XADDs every entry; entries that went in are subtracted from the
// batch that failed, so a retry adds only the missing ones.
func (s *redisSink) Write(ctx context.Context, batches []Batch) ([]Batch, error) {
	for i := range batches {
		b := &batches[i]
		for _, e := range [...]struct {
			typ string
			n   *int64
		}{{TypeSent, &b.Sent}, {TypeReceived, &b.Received}} {
			if *e.n == 0 {
				continue
			}
			payload := string(AppendEntry(nil, b.Timestamp, e.typ, b.AppID))
			for *e.n > 0 {
				k := min(*e.n, xaddChunk)
				pipe := s.client.Pipeline()
				cmds := make([]*redis.StringCmd, k)
				for j := range cmds {
					cmds[j] = pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.stream, Values: []any{"data", payload}})
				}
				_, err := pipe.Exec(ctx)
				for _, c := range cmds {
					if c.Err() == nil {
						*e.n--
					}
				}
				if err != nil {
					return leftFrom(batches, i), err
				}
			}
		}
	}
	return nil, nil
}

// leftFrom is batches[i:] without empty ones, copied.
func leftFrom(batches []Batch, i int) []Batch {
	var out []Batch
	for _, b := range batches[i:] {
		if b.Sent > 0 || b.Received > 0 {
			out = append(out, b)
		}
	}
	return out
}
