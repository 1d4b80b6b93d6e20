package server

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reverb-go/reverb/server/cluster"
)

// This node's own state messages whose copy Redis never brought back.
//
// A node applies its own presence joins and leaves and its ledger
// messages when they come back through the transport, in the one order
// every node sees. When its subscription drops, what it published just
// before (between the drop and the moment the transport noticed it, or
// still in the subscriber's output buffer when Redis closed it: CLIENT
// KILL, the pub/sub output buffer limit) reached the other nodes but
// never comes back here: a joiner would wait for its
// subscription_succeeded for ever, a member that left would stay in this
// node's replica, the ledger would lack this node's own counts and
// commits (webhooks this node alone reports). So, with a transport that
// can lose copies (cluster.Resubscriber), the state messages sent on the
// control stream (publishState) are kept from their sending until their
// copy is delivered; at a resubscription those sent before the drop whose
// copy never came are delivered here, in order, as the others had them.
// Broadcasts are not kept (events lost in that moment are lost, as under
// Reverb).
//
// Lock story: mu guards list and replayed; a leaf. pending mirrors their
// length for the delivery goroutine's check without the lock.
type ownCopies struct {
	rs      cluster.Resubscriber // nil: nothing is kept
	pending atomic.Int64
	mu      sync.Mutex
	list    []ownCopy
	// replayed are the messages lost applied, for replayKeep.
	replayed []ownCopy
}

type ownCopy struct {
	msg []byte
	// drops is the transport's drop count when the message was sent.
	drops uint64
	// at is when lost applied it (replayed).
	at time.Time
}

// sent keeps msg, about to be published on the control stream (its copy
// may come back before the publish returns).
func (o *ownCopies) sent(msg []byte) {
	if o.rs == nil {
		return
	}
	d := o.rs.Drops()
	o.mu.Lock()
	o.list = append(o.list, ownCopy{msg: msg, drops: d})
	o.pending.Store(int64(len(o.list) + len(o.replayed)))
	o.mu.Unlock()
}

// back takes note that msg, a copy of one of this node's messages, was
// delivered: the kept message is released. It reports whether msg must be
// skipped: a message applied already by lost (the drop was counted while
// it was being sent; its copy still came, from the transport's queue).
func (o *ownCopies) back(msg []byte) (skip bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.forgetLocked(time.Now())
	for i, c := range o.list {
		if sameCopy(c.msg, msg) {
			o.list = append(o.list[:i:i], o.list[i+1:]...)
			o.pending.Store(int64(len(o.list) + len(o.replayed)))
			return false
		}
	}
	for i, c := range o.replayed {
		if sameCopy(c.msg, msg) {
			o.replayed = append(o.replayed[:i:i], o.replayed[i+1:]...)
			o.pending.Store(int64(len(o.list) + len(o.replayed)))
			return true
		}
	}
	return false
}

// replayKeep is how long a message applied by lost is remembered in case
// its copy comes after all.
const replayKeep = 10 * time.Second

// lost removes and returns, in order, the messages sent before drop whose
// copy did not come back: it never will (but for one sent while the drop
// was counted, remembered a while so that its copy is skipped).
func (o *ownCopies) lost(drop uint64) [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	o.forgetLocked(now)
	var out [][]byte
	kept := o.list[:0]
	for _, c := range o.list {
		if c.drops < drop {
			out = append(out, c.msg)
			o.replayed = append(o.replayed, ownCopy{msg: c.msg, at: now})
		} else {
			kept = append(kept, c)
		}
	}
	clear(o.list[len(kept):])
	o.list = kept
	o.pending.Store(int64(len(o.list) + len(o.replayed)))
	return out
}

// forgetLocked drops the messages lost applied more than replayKeep ago.
func (o *ownCopies) forgetLocked(now time.Time) {
	if len(o.replayed) == 0 || now.Sub(o.replayed[0].at) < replayKeep {
		return
	}
	recent := o.replayed[:0]
	for _, c := range o.replayed {
		if now.Sub(c.at) < replayKeep {
			recent = append(recent, c)
		}
	}
	clear(o.replayed[len(recent):])
	o.replayed = recent
	o.pending.Store(int64(len(o.list) + len(o.replayed)))
}

// phpApplication is what the Redis transport puts before a Go-only
// message's fields on the control channel (PHP nodes read it).
var phpApplication = []byte(`{"application":"",`)

// sameCopy reports whether got is the copy of sent, as the transport
// delivers it.
func sameCopy(sent, got []byte) bool {
	if bytes.Equal(sent, got) {
		return true
	}
	return len(sent) > 0 && bytes.HasPrefix(got, phpApplication) && bytes.Equal(sent[1:], got[len(phpApplication):])
}
