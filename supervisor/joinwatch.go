package supervisor

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/reverb-go/reverb/server/cluster"
)

// joinWait bounds how long a worker waits for the other nodes' answers to
// its hello before it reports ready (the server's own gather timeout).
const joinWait = 2 * time.Second

// joinWatch is a worker's bus transport, watched for the moment this node
// has heard from every node its hello reached. Each node answers a hello
// with its presence members (and its ledger state); a worker that took
// connections before the answers arrived would list a presence channel's
// members without the other workers' ones. A worker of a new generation
// and a worker added to a growing pool both report ready only after that
// (or after joinWait), so presence is exact from their first connection.
//
// The hello and the answers are recognised by their type in the bus
// envelope (server/envelope.go); should that change, the wait ends at
// joinWait and nothing else is affected.
//
// Lock story: mu guards expect and answered; done is closed once.
type joinWatch struct {
	cluster.Transport
	forMe []byte

	mu       sync.Mutex
	expect   int // answers to wait for; -1 until the hello was published
	answered int
	once     sync.Once
	done     chan struct{}
}

var (
	helloType    = []byte(`"type":"reverb-go:hello"`)
	snapshotType = []byte(`"type":"reverb-go:snapshot"`)
	forField     = []byte(`"for":`)
)

func newJoinWatch(tr cluster.Transport, nodeID string) *joinWatch {
	return &joinWatch{Transport: tr, forMe: []byte(`"for":"` + nodeID + `"`), expect: -1, done: make(chan struct{})}
}

// Start watches what is delivered for answers addressed to this node.
func (j *joinWatch) Start(ctx context.Context, deliver func(msg []byte)) error {
	return j.Transport.Start(ctx, func(msg []byte) {
		if bytes.Contains(msg, snapshotType) && bytes.Contains(msg, j.forMe) {
			j.mu.Lock()
			j.answered++
			j.checkLocked()
			j.mu.Unlock()
		}
		deliver(msg)
	})
}

// Publish learns from the hello how many nodes will answer it.
// Received passes on the count of the transport underneath
// (cluster.Counter): every message it takes in is delivered through here.
func (j *joinWatch) Received() (uint64, bool) {
	if c, ok := j.Transport.(cluster.Counter); ok {
		return c.Received()
	}
	return 0, false
}

// OnResubscribed and Drops pass the transport underneath on when it
// reports resubscriptions (cluster.Resubscriber).
func (j *joinWatch) OnResubscribed(f func(cluster.Resubscription)) {
	if r, ok := j.Transport.(cluster.Resubscriber); ok {
		r.OnResubscribed(f)
	}
}

func (j *joinWatch) Drops() uint64 {
	if r, ok := j.Transport.(cluster.Resubscriber); ok {
		return r.Drops()
	}
	return 0
}

func (j *joinWatch) Publish(ctx context.Context, msg []byte) (int, error) {
	n, err := j.Transport.Publish(ctx, msg)
	if bytes.Contains(msg, helloType) && !bytes.Contains(msg, forField) {
		j.mu.Lock()
		if j.expect < 0 {
			j.expect = max(n-1, 0) // every receiver but this node
			if err != nil {
				j.expect = 0
			}
			j.checkLocked()
		}
		j.mu.Unlock()
	}
	return n, err
}

func (j *joinWatch) checkLocked() {
	if j.expect >= 0 && j.answered >= j.expect {
		j.once.Do(func() { close(j.done) })
	}
}

// Joined waits until every node that got the hello answered, or joinWait
// passed; it reports whether they all did.
func (j *joinWatch) Joined() bool {
	t := time.NewTimer(joinWait)
	defer t.Stop()
	select {
	case <-j.done:
		return true
	case <-t.C:
		return false
	}
}

// watchJoins wraps a node's transport in a joinWatch. With scaling on, the
// other nodes' answers come over Redis (the old generation's workers and
// every other server's), so the wait watches that transport; an interest
// router keeps its topic methods, which the server looks for.
func watchJoins(tr cluster.Transport, nodeID string) (cluster.Transport, *joinWatch) {
	jw := newJoinWatch(tr, nodeID)
	if r, ok := tr.(cluster.Router); ok {
		return routerJoinWatch{Router: r, jw: jw}, jw
	}
	return jw, jw
}

// routerJoinWatch is an interest router whose Start and Publish go through
// its joinWatch.
type routerJoinWatch struct {
	cluster.Router
	jw *joinWatch
}

func (r routerJoinWatch) Start(ctx context.Context, deliver func(msg []byte)) error {
	return r.jw.Start(ctx, deliver)
}

func (r routerJoinWatch) Publish(ctx context.Context, msg []byte) (int, error) {
	return r.jw.Publish(ctx, msg)
}

func (r routerJoinWatch) OnResubscribed(f func(cluster.Resubscription)) { r.jw.OnResubscribed(f) }

func (r routerJoinWatch) Drops() uint64 { return r.jw.Drops() }
