package main

import (
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram in microseconds: 32 sub-buckets per
// power of two (about 3% resolution) up to ~2^40 µs. Clients send their
// histograms to the coordinator, which adds them up, so the type is a plain
// array that encodes as JSON.
type hist [41 * 32]uint64

func histIndex(us uint64) int {
	if us < 32 {
		return int(us)
	}
	exp := bits.Len64(us) - 6 // us has exp+6 bits; keep the top 5 after the leading one
	sub := int(us>>uint(exp)) & 31
	i := (exp+1)*32 + sub
	if i >= len(hist{}) {
		return len(hist{}) - 1
	}
	return i
}

// histValue is the lower bound of bucket i in µs.
func histValue(i int) uint64 {
	if i < 32 {
		return uint64(i)
	}
	exp := i/32 - 1
	sub := uint64(i % 32)
	return (32 + sub) << uint(exp)
}

func (h *hist) add(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h[histIndex(uint64(us))]++
}

func (h *hist) merge(o *hist) {
	for i := range h {
		h[i] += o[i]
	}
}

func (h *hist) count() uint64 {
	var n uint64
	for _, c := range h {
		n += c
	}
	return n
}

// quantile returns the latency below which q of the samples fall.
func (h *hist) quantile(q float64) time.Duration {
	total := h.count()
	if total == 0 {
		return 0
	}
	want := uint64(q*float64(total) + 0.5)
	if want == 0 {
		want = 1
	}
	var seen uint64
	for i, c := range h {
		seen += c
		if seen >= want {
			return time.Duration(histValue(i)) * time.Microsecond
		}
	}
	return 0
}

// max returns the lower bound of the highest non-empty bucket.
func (h *hist) max() time.Duration {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] != 0 {
			return time.Duration(histValue(i)) * time.Microsecond
		}
	}
	return 0
}
