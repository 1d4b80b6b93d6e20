package server

import (
	"reflect"
	"testing"
	"time"

	"github.com/reverb-go/reverb/server/cluster"
)

type dropCounter struct{ n uint64 }

func (d *dropCounter) OnResubscribed(func(cluster.Resubscription)) {}
func (d *dropCounter) Drops() uint64                               { return d.n }

// What a node sent is kept until its copy is back, as the Redis transport
// delivers it (a Go-only message with an empty "application" first); at a
// resubscription, what was sent before that drop and never came back is
// handed out once, in order, and what was sent since is kept.
func TestOwnCopies(t *testing.T) {
	d := &dropCounter{}
	o := ownCopies{rs: d}
	o.sent([]byte(`{"type":"reverb-go:presence","node":"n1","op":"join"}`))
	o.sent([]byte(`{"type":"reverb-go:count","node":"n1","n":1}`))
	o.sent([]byte(`{"type":"reverb-go:presence","node":"n1","op":"leave"}`))
	o.back([]byte(`{"application":"","type":"reverb-go:presence","node":"n1","op":"join"}`))
	d.n = 1 // the subscription dropped
	o.sent([]byte(`{"type":"reverb-go:heartbeat","node":"n1"}`))
	o.back([]byte(`{"application":"","type":"reverb-go:heartbeat","node":"n1"}`)) // came back on the new subscription
	o.sent([]byte(`{"type":"reverb-go:commit","node":"n1"}`))
	lost := o.lost(1)
	want := [][]byte{[]byte(`{"type":"reverb-go:count","node":"n1","n":1}`), []byte(`{"type":"reverb-go:presence","node":"n1","op":"leave"}`)}
	if !reflect.DeepEqual(lost, want) {
		t.Fatalf("lost %q, want %q", lost, want)
	}
	if len(o.list) != 1 || len(o.lost(1)) != 0 {
		t.Fatalf("kept %d, want the commit sent after the drop", len(o.list))
	}
	o.back([]byte(`{"application":"","type":"reverb-go:commit","node":"n1"}`))
	if len(o.list) != 0 {
		t.Fatal("the commit's copy did not release it")
	}
	// A message sent while the drop was counted, applied as lost, whose
	// copy still comes (delivered here at once from the transport's
	// queue): the copy is skipped.
	m := []byte(`{"type":"reverb-go:presence","node":"n1","op":"join","socket":"2"}`)
	o.sent(m)
	d.n = 2
	if got := o.lost(2); len(got) != 1 {
		t.Fatalf("lost %q", got)
	}
	if !o.back(m) || o.back(m) {
		t.Fatal("the late copy of a message applied as lost is not skipped once")
	}
	if len(o.list) != 0 {
		t.Fatal("something is still kept")
	}
	o.forgetLocked(time.Now().Add(replayKeep))
	if o.pending.Load() != 0 {
		t.Fatal("applied messages whose copy never came are remembered for ever")
	}

	var none ownCopies // a transport that loses no copies: nothing kept
	none.sent([]byte(`{"type":"reverb-go:presence"}`))
	if none.pending.Load() != 0 {
		t.Fatal("kept without a Resubscriber")
	}
}
