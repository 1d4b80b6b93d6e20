package server

import (
	"bytes"
	"sync"
	"sync/atomic"

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
// Lock story: mu guards list; a leaf. pending mirrors len(list) for the
// delivery goroutine's check without the lock.
type ownCopies struct {
	rs      cluster.Resubscriber // nil: nothing is kept
	pending atomic.Int64
	mu      sync.Mutex
	list    []ownCopy
}

type ownCopy struct {
	msg []byte
	// drops is the transport's drop count when the message was sent.
	drops uint64
}

// sent keeps msg, about to be published on the control stream.
func (o *ownCopies) sent(msg []byte) {
	if o.rs == nil {
		return
	}
	d := o.rs.Drops()
	o.mu.Lock()
	o.list = append(o.list, ownCopy{msg, d})
	o.pending.Store(int64(len(o.list)))
	o.mu.Unlock()
}

// back drops the kept message whose copy msg is.
func (o *ownCopies) back(msg []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, c := range o.list {
		if sameCopy(c.msg, msg) {
			o.list = append(o.list[:i:i], o.list[i+1:]...)
			o.pending.Store(int64(len(o.list)))
			return
		}
	}
}

// lost removes and returns, in order, the messages sent before drop whose
// copy did not come back: it never will.
func (o *ownCopies) lost(drop uint64) [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out [][]byte
	kept := o.list[:0]
	for _, c := range o.list {
		if c.drops < drop {
			out = append(out, c.msg)
		} else {
			kept = append(kept, c)
		}
	}
	clear(o.list[len(kept):])
	o.list = kept
	o.pending.Store(int64(len(o.list)))
	return out
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
