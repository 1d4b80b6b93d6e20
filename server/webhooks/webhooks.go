// Package webhooks delivers signed, batched HTTP POSTs of events to the
// endpoints an app configures: Pusher-compatible webhooks, and Reverb's
// events for the app's PHP listeners (the companion package's route). It
// knows nothing of the events themselves: each is one JSON object,
// already encoded.
//
// Every request body is {"time_ms": <ms>, "events": [ … ]} and carries
// X-Pusher-Key (the app key) and X-Pusher-Signature (hex HMAC-SHA256 of the
// body with the app secret), which is what the Pusher SDKs' webhook
// validators check.
//
// Bounds. Per target: a queue of at most QueueEvents events and QueueBytes
// bytes (an event that does not fit is dropped and counted); batches of at
// most BatchEvents events and BatchBytes bytes, sent BatchWait after their
// first event at the latest; one request in flight; a failed request
// (network error, timeout, 408, 425, 429, 5xx, a redirect that cannot be
// followed) is retried with exponential backoff until RetryFor has passed,
// then its events are dropped and counted; any other answer that is not
// 2xx drops the batch at once. Drops are logged once per burst. Push never
// blocks, so the server's fan-out never waits for an endpoint.
//
// Goroutines: one per target, owned by the Sender, started by Add and
// stopped by Close.
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options bound a Sender; zero values mean the defaults in brackets.
type Options struct {
	BatchEvents int           // events per request [100]
	BatchBytes  int           // bytes of events per request [1 MiB]
	BatchWait   time.Duration // longest wait after a batch's first event [250ms]
	QueueEvents int           // events waiting per target [10,000]
	QueueBytes  int           // bytes waiting per target [16 MiB]
	// RetryFor bounds how long one batch is retried [5m, as Pusher].
	RetryFor time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts, doubling
	// [250ms, 30s].
	MinBackoff, MaxBackoff time.Duration
	// RequestTimeout bounds one request, connecting and reading the
	// answer included [10s].
	RequestTimeout time.Duration
	// CloseTimeout bounds the last attempt Close makes to send what is
	// queued [2s].
	CloseTimeout time.Duration
	// Logf receives drops and failures (one line per burst); nil discards.
	Logf func(format string, args ...any)
	// Client replaces the HTTP client (tests); its redirect policy is kept.
	Client *http.Client
}

func (o *Options) defaults() {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	defd := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&o.BatchEvents, 100)
	def(&o.BatchBytes, 1<<20)
	def(&o.QueueEvents, 10000)
	def(&o.QueueBytes, 16<<20)
	defd(&o.BatchWait, 250*time.Millisecond)
	defd(&o.RetryFor, 5*time.Minute)
	defd(&o.MinBackoff, 250*time.Millisecond)
	defd(&o.MaxBackoff, 30*time.Second)
	defd(&o.RequestTimeout, 10*time.Second)
	defd(&o.CloseTimeout, 2*time.Second)
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// maxRedirects is how many 307/308 redirects one request follows.
const maxRedirects = 3

// newClient is the HTTP client of a Sender: bounded connect, TLS and
// answer times, and only redirects that keep the POST and its body.
func newClient(o Options) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: o.RequestTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: o.RequestTimeout}
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	// 301, 302 and 303 turn the POST into a GET without the body: the
	// events would be lost, so the redirect answer counts as a failure.
	if req.Method != http.MethodPost || len(via) > maxRedirects {
		return http.ErrUseLastResponse
	}
	return nil
}

// Target is one endpoint.
type Target struct {
	// Name identifies it in logs and metrics (e.g. "webhooks.0").
	Name   string
	URL    string
	Key    string // X-Pusher-Key
	Secret string // signs the body
	// Headers are added to every request; the signature headers and
	// Content-Type win over them.
	Headers http.Header
}

// Stats are one target's counters since it was added.
type Stats struct {
	Name string
	// Events counts events delivered (2xx); Requests the requests that
	// delivered them.
	Events, Requests int64
	// Failures counts attempts that failed (each retry is one).
	Failures int64
	// Dropped counts events lost: queue full, retried for RetryFor in
	// vain, or refused by the endpoint (4xx).
	DroppedQueueFull, DroppedGaveUp, DroppedRejected int64
}

// Sender delivers to any number of targets.
//
// Lock story: mu guards queues and closed; each Queue has its own lock.
type Sender struct {
	opts   Options
	client *http.Client
	// ownClient is set when client was made here: Close closes its idle
	// connections (a caller's client is the caller's to close).
	ownClient bool
	stop      chan struct{}
	// ctx is cancelled CloseTimeout after Close: requests still in flight
	// then end, and their batch is dropped with what the last try could
	// not send.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	queues []*Queue
	closed bool
}

// New returns a Sender with no targets.
func New(opts Options) *Sender {
	opts.defaults()
	c := opts.Client
	if c == nil {
		c = newClient(opts)
	}
	cc := *c
	cc.CheckRedirect = checkRedirect
	s := &Sender{opts: opts, client: &cc, ownClient: opts.Client == nil, stop: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Queue is one target's queue; Push is safe from any goroutine.
//
// Lock story: mu guards events, bytes and dropping; the counters are
// atomics (Stats reads them from another goroutine).
type Queue struct {
	s      *Sender
	target Target
	wake   chan struct{} // capacity 1: something was pushed

	mu       sync.Mutex
	events   [][]byte
	bytes    int
	dropping bool  // in a burst of queue-full drops
	burst    int64 // drops of the current burst

	sent, requests, failures      atomic.Int64
	dropFull, dropGaveUp, dropRej atomic.Int64
}

// Add starts delivering to t and returns its queue. After Close it
// returns a queue that drops everything.
func (s *Sender) Add(t Target) *Queue {
	q := &Queue{s: s, target: t, wake: make(chan struct{}, 1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queues = append(s.queues, q)
	if s.closed {
		return q
	}
	s.wg.Add(1)
	go q.run()
	return q
}

// Push queues one event (a JSON object; the queue keeps the slice, so the
// caller must not change it). It never blocks; false means the event was
// dropped because the queue is full.
func (q *Queue) Push(event []byte) bool {
	o := &q.s.opts
	q.mu.Lock()
	if len(q.events) >= o.QueueEvents || q.bytes+len(event) > o.QueueBytes {
		q.dropLocked()
		return false
	}
	q.events = append(q.events, event)
	q.bytes += len(event)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// PushFunc is Push for an event built only when the queue has room for
// one more (a full queue costs no encoding).
func (q *Queue) PushFunc(build func() []byte) bool {
	q.mu.Lock()
	if len(q.events) >= q.s.opts.QueueEvents {
		q.dropLocked()
		return false
	}
	q.mu.Unlock()
	return q.Push(build())
}

// dropLocked counts a dropped event and logs the first of a burst; it
// unlocks q.mu.
func (q *Queue) dropLocked() {
	o := &q.s.opts
	q.burst++
	first := !q.dropping
	q.dropping = true
	n, size := len(q.events), q.bytes
	q.mu.Unlock()
	q.dropFull.Add(1)
	if first {
		o.Logf("webhooks: %s: queue full (%d events, %d bytes waiting for %s; at most %d events and %d bytes wait): dropping events until it drains",
			q.target.Name, n, size, q.target.URL, o.QueueEvents, o.QueueBytes)
	}
}

// Stats returns the target's counters.
func (q *Queue) Stats() Stats {
	return Stats{
		Name: q.target.Name, Events: q.sent.Load(), Requests: q.requests.Load(), Failures: q.failures.Load(),
		DroppedQueueFull: q.dropFull.Load(), DroppedGaveUp: q.dropGaveUp.Load(), DroppedRejected: q.dropRej.Load(),
	}
}

// Stats returns every target's counters, in the order they were added.
func (s *Sender) Stats() []Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Stats, 0, len(s.queues))
	for _, q := range s.queues {
		out = append(out, q.Stats())
	}
	return out
}

// Close stops every target's goroutine after one last attempt (bounded by
// CloseTimeout) to send what is queued, then closes the idle keep-alive
// connections (and their goroutines) to the endpoints.
func (s *Sender) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	// A request in flight may finish: its endpoint may have the batch
	// already, and the last try would send it a second time. It and the
	// last try share CloseTimeout.
	deadline := time.AfterFunc(s.opts.CloseTimeout, s.cancel)
	s.mu.Unlock()
	s.wg.Wait()
	deadline.Stop()
	s.cancel()
	if s.ownClient {
		s.client.CloseIdleConnections()
	}
}

// take removes the next batch: up to BatchEvents events and BatchBytes
// bytes (at least one event).
func (q *Queue) take() [][]byte {
	o := &q.s.opts
	q.mu.Lock()
	defer q.mu.Unlock()
	n, size := 0, 0
	for n < len(q.events) && n < o.BatchEvents {
		if n > 0 && size+len(q.events[n]) > o.BatchBytes {
			break
		}
		size += len(q.events[n])
		n++
	}
	batch := make([][]byte, n)
	copy(batch, q.events[:n])
	clear(q.events[:n])
	q.events = q.events[n:]
	if len(q.events) == 0 {
		q.events = nil // let the backing array go
	}
	q.bytes -= size
	if q.dropping && len(q.events) < o.QueueEvents/2 && q.bytes < o.QueueBytes/2 {
		o.Logf("webhooks: %s: queue drained; %d events were dropped", q.target.Name, q.burst)
		q.dropping, q.burst = false, 0
	}
	return batch
}

func (q *Queue) pending() (n int, full bool) {
	o := &q.s.opts
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events), len(q.events) >= o.BatchEvents || q.bytes >= o.BatchBytes
}

// run is the target's goroutine: wait for events, gather a batch for at
// most BatchWait, send it (with retries), repeat; on stop, one last try.
func (q *Queue) run() {
	s := q.s
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			q.flushOnClose()
			return
		case <-q.wake:
		}
		if n, _ := q.pending(); n == 0 {
			continue
		}
		// Gather: until the batch is full or BatchWait passed.
		timer := time.NewTimer(s.opts.BatchWait)
	gather:
		for {
			if _, full := q.pending(); full {
				break
			}
			select {
			case <-timer.C:
				break gather
			case <-q.wake:
			case <-s.stop:
				timer.Stop()
				q.flushOnClose()
				return
			}
		}
		timer.Stop()
		for {
			batch := q.take()
			if len(batch) == 0 {
				break
			}
			if !q.deliver(batch) {
				q.flushOnClose()
				return
			}
			if _, full := q.pending(); !full {
				break // a partial rest waits for its own window
			}
		}
		if n, _ := q.pending(); n > 0 {
			select {
			case q.wake <- struct{}{}:
			default:
			}
		}
	}
}

// body encodes a batch as Pusher's webhook body.
func body(batch [][]byte, now time.Time) []byte {
	size := 32
	for _, e := range batch {
		size += len(e) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"time_ms":`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	b = append(b, `,"events":[`...)
	for i, e := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, "]}"...)
}

// Sign is the X-Pusher-Signature of body: hex HMAC-SHA256 with secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// errRetry marks a failure worth retrying.
type attemptError struct {
	retry bool
	msg   string
}

func (e *attemptError) Error() string { return e.msg }

// deliver sends one batch, retrying within RetryFor; false means the
// Sender is stopping (the batch then goes back to the queue's front).
func (q *Queue) deliver(batch [][]byte) bool {
	s := q.s
	b := body(batch, time.Now())
	sig := Sign(q.target.Secret, b)
	start := time.Now()
	backoff := time.Duration(0)
	for attempt := 1; ; attempt++ {
		err := q.post(s.ctx, b, sig)
		if err != nil && s.ctx.Err() != nil {
			q.requeue(batch)
			return false
		}
		if err == nil {
			if attempt > 1 {
				s.opts.Logf("webhooks: %s: delivered after %d attempts", q.target.Name, attempt)
			}
			q.sent.Add(int64(len(batch)))
			q.requests.Add(1)
			return true
		}
		q.failures.Add(1)
		var ae *attemptError
		if errors.As(err, &ae) && !ae.retry {
			q.dropRej.Add(int64(len(batch)))
			s.opts.Logf("webhooks: %s: %v: %d events dropped", q.target.Name, err, len(batch))
			return true
		}
		if attempt == 1 {
			s.opts.Logf("webhooks: %s: %v; retrying for up to %s", q.target.Name, err, s.opts.RetryFor)
		}
		if backoff == 0 {
			backoff = s.opts.MinBackoff
		} else {
			backoff = min(2*backoff, s.opts.MaxBackoff)
		}
		if time.Since(start)+backoff > s.opts.RetryFor {
			q.dropGaveUp.Add(int64(len(batch)))
			s.opts.Logf("webhooks: %s: still failing after %s (%v): %d events dropped", q.target.Name, time.Since(start).Round(time.Second), err, len(batch))
			return true
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			q.requeue(batch)
			return false
		}
	}
}

// requeue puts a batch back at the queue's front (for the last try).
func (q *Queue) requeue(batch [][]byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.events = append(batch, q.events...)
	for _, e := range batch {
		q.bytes += len(e)
	}
}

// flushOnClose makes one attempt per batch, within CloseTimeout of Close
// in all.
func (q *Queue) flushOnClose() {
	s := q.s
	ctx := s.ctx
	for {
		batch := q.take()
		if len(batch) == 0 {
			return
		}
		b := body(batch, time.Now())
		if err := q.post(ctx, b, Sign(q.target.Secret, b)); err != nil {
			q.failures.Add(1)
			q.dropGaveUp.Add(int64(len(batch)))
			s.opts.Logf("webhooks: %s: shutting down: %v: %d events dropped", q.target.Name, err, len(batch))
			if ctx.Err() != nil {
				rest, _ := q.pending()
				q.dropGaveUp.Add(int64(rest))
				return
			}
			continue
		}
		q.sent.Add(int64(len(batch)))
		q.requests.Add(1)
	}
}

// post makes one request.
func (q *Queue) post(ctx context.Context, body []byte, sig string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, q.target.URL, bytes.NewReader(body))
	if err != nil {
		return &attemptError{false, err.Error()}
	}
	for k, vs := range q.target.Headers {
		req.Header[k] = vs
	}
	if h := q.target.Headers.Get("Host"); h != "" {
		req.Host = h // net/http sends req.Host, never a Host in req.Header
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "reverb-go-webhooks/1")
	req.Header.Set("X-Pusher-Key", q.target.Key)
	req.Header.Set("X-Pusher-Signature", sig)
	resp, err := q.s.client.Do(req)
	if err != nil {
		return &attemptError{true, err.Error()}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c >= 300 && c < 400:
		return &attemptError{true, fmt.Sprintf("%s answered %s (redirects are followed only as 307/308, %d at most)", q.target.URL, resp.Status, maxRedirects)}
	case c == 408 || c == 425 || c == 429 || c >= 500:
		return &attemptError{true, fmt.Sprintf("%s answered %s", q.target.URL, resp.Status)}
	default:
		return &attemptError{false, fmt.Sprintf("%s answered %s", q.target.URL, resp.Status)}
	}
}
