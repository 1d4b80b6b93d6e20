package pulse

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Counts is one app's cumulative counters on this node: text frames sent to
// clients and client messages handled without error since the node started.
type Counts struct {
	AppID    string
	Sent     int64
	Received int64
}

// Batch is the sampled message counts of one app over one interval,
// stamped with the unix second the interval ended (the entries' timestamp).
type Batch struct {
	Timestamp int64
	AppID     string
	Sent      int64
	Received  int64
}

// Sink writes batches to Pulse's storage.
type Sink interface {
	// Write stores batches and returns what it could not store (nil when
	// all went in) with the error; a batch partly stored comes back with
	// the stored part subtracted, so nothing is counted twice on retry.
	Write(ctx context.Context, batches []Batch) (left []Batch, err error)
	// Where names the destination in log messages.
	Where() string
	Close() error
}

// maxPending bounds the batches kept while the sink is down: with two apps
// and a 15 s interval that is more than a day; older ones are dropped first.
const maxPending = 10000

// writeTimeout bounds one ingest round, so a hung database never delays the
// next round for long (delivery never waits for it in any case).
const writeTimeout = 10 * time.Second

// Ingester turns counter deltas into sampled batches every interval and
// writes them through a Sink, keeping what failed for the next round.
//
// Ownership: the goroutine started by Start owns the rounds until Close
// stops it; mu serialises rounds (the loop's and the last one Close runs),
// so last, pending and rnd are only touched under mu.
type Ingester struct {
	cfg    Config
	sink   Sink
	counts func() []Counts
	logf   func(format string, args ...any)
	now    func() time.Time

	mu      sync.Mutex
	last    map[string]Counts
	pending []Batch
	rnd     *rand.Rand

	stop      chan struct{}
	done      chan struct{}
	startOnce sync.Once
	closeOnce sync.Once
}

// NewIngester returns an ingester; Start runs it. counts is called once per
// round from the ingester's goroutine; logf receives ingest failures.
func NewIngester(cfg Config, sink Sink, counts func() []Counts, logf func(format string, args ...any)) *Ingester {
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Second
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Ingester{
		cfg:    cfg,
		sink:   sink,
		counts: counts,
		logf:   logf,
		now:    time.Now,
		last:   map[string]Counts{},
		rnd:    rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// Start runs a round every interval until Close.
func (in *Ingester) Start() {
	in.startOnce.Do(func() {
		go func() {
			defer close(in.done)
			t := time.NewTicker(in.cfg.Interval)
			defer t.Stop()
			for {
				select {
				case <-in.stop:
					return
				case <-t.C:
					ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
					_ = in.Flush(ctx)
					cancel()
				}
			}
		}()
	})
}

// Flush runs one round now: takes the counters, samples the deltas into
// batches and writes everything pending. A write error is logged and the
// batches are kept for the next round.
func (in *Ingester) Flush(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	ts := in.now().Unix()
	for _, c := range in.counts() {
		prev := in.last[c.AppID]
		in.last[c.AppID] = c
		b := Batch{
			Timestamp: ts,
			AppID:     c.AppID,
			Sent:      sample(delta(c.Sent, prev.Sent), in.cfg.SampleRate, in.rnd),
			Received:  sample(delta(c.Received, prev.Received), in.cfg.SampleRate, in.rnd),
		}
		if b.Sent > 0 || b.Received > 0 {
			in.pending = append(in.pending, b)
		}
	}
	if over := len(in.pending) - maxPending; over > 0 {
		in.logf("Pulse ingest: %s unreachable for too long, dropping the %d oldest batches", in.sink.Where(), over)
		in.pending = append([]Batch(nil), in.pending[over:]...)
	}
	if len(in.pending) == 0 {
		return nil
	}
	left, err := in.sink.Write(ctx, in.pending)
	in.pending = left
	if err != nil {
		n := int64(0)
		for _, b := range left {
			n += b.Sent + b.Received
		}
		err = fmt.Errorf("ingest to %s failed (%d entries kept for the next try): %w", in.sink.Where(), n, err)
		in.logf("Pulse %v", err)
	}
	return err
}

// delta is now - before for a counter; a counter that went back (a node
// restarted under the same id) counts from zero.
func delta(now, before int64) int64 {
	if now < before {
		return now
	}
	return now - before
}

// Close stops the loop, runs a last round so the final interval is not
// lost, and closes the sink.
func (in *Ingester) Close() error {
	var err error
	in.closeOnce.Do(func() {
		close(in.stop)
		in.startOnce.Do(func() { close(in.done) }) // never started: nothing to wait for
		<-in.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = in.Flush(ctx)
		err = errors.Join(err, in.sink.Close())
	})
	return err
}
