package pulse

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// memSink records what was written; fail makes the next writes fail.
type memSink struct {
	got  []Batch
	fail error
}

func (m *memSink) Write(_ context.Context, b []Batch) ([]Batch, error) {
	if m.fail != nil {
		return b, m.fail
	}
	m.got = append(m.got, b...)
	return nil, nil
}
func (m *memSink) Where() string { return "memory" }
func (m *memSink) Close() error  { return nil }

func TestIngesterSampling(t *testing.T) {
	tests := []struct {
		rate   float64
		lo, hi int64
	}{
		{1, 10000, 10000},
		{0, 0, 0},
		{0.5, 4700, 5300},
		{0.01, 50, 150},
	}
	for _, tt := range tests {
		sink := &memSink{}
		src := &fakeCounts{c: []Counts{{AppID: "a", Sent: 10000, Received: 10000}}}
		in := NewIngester(Config{SampleRate: tt.rate, Interval: time.Hour}, sink, src.get, nil)
		if err := in.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		var sent, recv int64
		for _, b := range sink.got {
			sent += b.Sent
			recv += b.Received
		}
		if sent < tt.lo || sent > tt.hi || recv < tt.lo || recv > tt.hi {
			t.Errorf("rate %v: sent %d received %d, want %d..%d", tt.rate, sent, recv, tt.lo, tt.hi)
		}
	}
}

func TestIngesterKeepsBatchesAndTimestamps(t *testing.T) {
	sink := &memSink{fail: errors.New("down")}
	src := &fakeCounts{c: []Counts{{AppID: "a", Sent: 2}}}
	var logged int
	in := NewIngester(Config{SampleRate: 1}, sink, src.get, func(string, ...any) { logged++ })
	now := time.Unix(1000, 0)
	in.now = func() time.Time { return now }
	if err := in.Flush(context.Background()); err == nil {
		t.Fatal("no error from a failing sink")
	}
	now = now.Add(15 * time.Second)
	src.c[0].Sent = 5
	in.Flush(context.Background())
	now = now.Add(15 * time.Second) // nothing new in this interval
	sink.fail = nil
	if err := in.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []Batch{{Timestamp: 1000, AppID: "a", Sent: 2}, {Timestamp: 1015, AppID: "a", Sent: 3}}
	if len(sink.got) != len(want) || sink.got[0] != want[0] || sink.got[1] != want[1] || logged != 2 {
		t.Fatalf("written %+v (logged %d), want %+v", sink.got, logged, want)
	}
	// A counter that went back (restarted node, same id) counts from zero.
	src.c[0].Sent = 1
	in.Flush(context.Background())
	if last := sink.got[len(sink.got)-1]; last.Sent != 1 {
		t.Fatalf("after reset: %+v", last)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestIngesterStartClose(t *testing.T) {
	sink := &memSink{}
	var received atomic.Int64
	received.Store(1)
	counts := func() []Counts { return []Counts{{AppID: "a", Received: received.Load()}} }
	in := NewIngester(Config{SampleRate: 1, Interval: 10 * time.Millisecond}, sink, counts, nil)
	in.Start()
	time.Sleep(50 * time.Millisecond)
	received.Store(3) // arrives between ticks; Close's last round gets it
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, b := range sink.got {
		n += b.Received
	}
	if n != 3 {
		t.Fatalf("received %d, want 3", n)
	}
}
