package php

import (
	"math/rand"
	"slices"
	"testing"
)

// TestOrderedArrayIndex: Set, Delete, Get and Copy agree with a plain
// ordered list across the size where the array starts and stops keeping
// an index map.
func TestOrderedArrayIndex(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	keys := []Key{IntKey(0), IntKey(1), IntKey(7), StringKey("a"), StringKey("b"), StringKey("event"),
		StringKey("data"), StringKey("x"), StringKey("y"), StringKey("z"), IntKey(-3), StringKey("")}
	for round := 0; round < 200; round++ {
		a := NewArray()
		var order []Key
		want := map[Key]int64{}
		for step := 0; step < 60; step++ {
			k := keys[rng.Intn(len(keys))]
			if rng.Intn(3) == 0 {
				a.Delete(k)
				if i := slices.Index(order, k); i >= 0 {
					order = slices.Delete(order, i, i+1)
				}
				delete(want, k)
			} else {
				v := rng.Int63()
				a.Set(k, IntValue(v))
				if _, ok := want[k]; !ok {
					order = append(order, k)
				}
				want[k] = v
			}
			if rng.Intn(10) == 0 {
				a = a.Copy()
			}
			if !slices.Equal(a.Keys, order) || len(a.Values) != len(order) {
				t.Fatalf("round %d step %d: keys %v, want %v", round, step, a.Keys, order)
			}
			for i, k := range order {
				if got, ok := a.Get(k); !ok || got.IntVal() != want[k] || a.Values[i].IntVal() != want[k] {
					t.Fatalf("round %d step %d: %v = %v (%v), want %d", round, step, k, got, ok, want[k])
				}
			}
			for _, k := range keys {
				if _, ok := want[k]; !ok {
					if _, found := a.Get(k); found {
						t.Fatalf("round %d step %d: deleted %v still found", round, step, k)
					}
				}
			}
			if small := len(a.Keys) <= smallArray; small != (a.index == nil) {
				t.Fatalf("round %d step %d: %d keys with index %v", round, step, len(a.Keys), a.index != nil)
			}
		}
	}
}

// An array made with room behaves as one made empty, within its room and
// past it, and arrays made with room do not share it.
func TestNewArraySized(t *testing.T) {
	for n := 0; n <= 4; n++ {
		a, b, want := NewArraySized(n), NewArraySized(n), NewArray()
		for i := 0; i < 10; i++ {
			k := StringKey(string(rune('a' + i%7))) // repeats overwrite
			a.Set(k, IntValue(int64(i)))
			b.Set(k, IntValue(int64(-i)))
			want.Set(k, IntValue(int64(i)))
			a.Append(StringValue("x"))
			b.Append(StringValue("y"))
			want.Append(StringValue("x"))
			if len(a.Keys) != len(want.Keys) {
				t.Fatalf("n=%d: %d keys, want %d", n, len(a.Keys), len(want.Keys))
			}
			for j := range want.Keys {
				if a.Keys[j] != want.Keys[j] || !StrictEquals(a.Values[j], want.Values[j]) {
					t.Fatalf("n=%d after %d: entry %d is %v => %v, want %v => %v", n, i, j, a.Keys[j], a.Values[j], want.Keys[j], want.Values[j])
				}
				if b.Keys[j] != want.Keys[j] {
					t.Fatalf("n=%d: the second array's keys differ at %d", n, j)
				}
			}
		}
	}
}
