package main

import (
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	cases := []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, 1000 * time.Millisecond}}
	for _, c := range cases {
		got := h.quantile(c.q)
		if got > c.want || got < c.want*94/100 {
			t.Errorf("quantile(%v) = %v, want within 6%% below %v", c.q, got, c.want)
		}
	}
	if h.count() != 1000 {
		t.Fatalf("count = %d", h.count())
	}
}

func TestHistIndexMonotonic(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<20; us += 7 {
		i := histIndex(us)
		if i < prev {
			t.Fatalf("index not monotonic at %d", us)
		}
		if histValue(i) > us {
			t.Fatalf("bucket %d lower bound %d above value %d", i, histValue(i), us)
		}
		prev = i
	}
}
