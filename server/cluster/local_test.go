package cluster

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
)

// A delivery that publishes again must not deadlock, and the nested
// message is delivered after the current one, in order.
func TestLocalNestedPublish(t *testing.T) {
	l := NewLocal()
	var got []string
	_ = l.Start(context.Background(), func(m []byte) {
		got = append(got, string(m))
		if string(m) == "a" {
			_, _ = l.Publish(context.Background(), []byte("b"))
			_, _ = l.Publish(context.Background(), []byte("c"))
		}
	})
	done := make(chan struct{})
	go func() {
		_, _ = l.Publish(context.Background(), []byte("a"))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("nested publish deadlocked")
	}
	if want := "abc"; got[0]+got[1]+got[2] != want || len(got) != 3 {
		t.Fatalf("order %v", got)
	}
}

// Every node of a Bus sees every message in the same order.
func TestBusTotalOrder(t *testing.T) {
	bus := NewBus()
	const nodes, msgs = 3, 200
	var mu sync.Mutex
	seen := make([][]string, nodes)
	var wg sync.WaitGroup
	wg.Add(nodes * msgs * nodes)
	ts := make([]Transport, nodes)
	for i := range ts {
		i := i
		ts[i] = bus.Node()
		_ = ts[i].Start(context.Background(), func(m []byte) {
			mu.Lock()
			seen[i] = append(seen[i], string(m))
			mu.Unlock()
			wg.Done()
		})
		defer ts[i].Close()
	}
	var pub sync.WaitGroup
	for i := range ts {
		pub.Add(1)
		go func(i int) {
			defer pub.Done()
			for j := 0; j < msgs; j++ {
				n, err := ts[i].Publish(context.Background(), []byte(strconv.Itoa(i)+"-"+strconv.Itoa(j)))
				if err != nil || n != nodes {
					t.Errorf("publish: %d %v", n, err)
				}
			}
		}(i)
	}
	pub.Wait()
	wg.Wait()
	for i := 1; i < nodes; i++ {
		for j := range seen[0] {
			if seen[i][j] != seen[0][j] {
				t.Fatalf("node %d saw %s at %d, node 0 saw %s", i, seen[i][j], j, seen[0][j])
			}
		}
	}
}
