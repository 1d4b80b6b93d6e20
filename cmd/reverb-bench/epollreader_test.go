//go:build linux

package main

import (
	"bytes"
	"testing"
)

func TestNextFrame(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 300)
	frame300 := append([]byte{0x81, 126, 1, 44}, long...)
	tests := []struct {
		name    string
		in      []byte
		ok      bool
		op      byte
		payload string
		rest    int
	}{
		{"empty", nil, false, 0, "", 0},
		{"one byte", []byte{0x81}, false, 0, "", 1},
		{"short text", []byte{0x81, 2, 'h', 'i'}, true, 1, "hi", 0},
		{"text then more", []byte{0x81, 1, 'a', 0x89, 0}, true, 1, "a", 2},
		{"incomplete payload", []byte{0x81, 5, 'a'}, false, 0, "", 3},
		{"16-bit length header cut", []byte{0x81, 126, 1}, false, 0, "", 3},
		{"16-bit length", frame300, true, 1, string(long), 0},
		{"64-bit length cut", []byte{0x81, 127, 0, 0, 0}, false, 0, "", 5},
		{"close", []byte{0x88, 2, 0x0f, 0xa0}, true, 8, "\x0f\xa0", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, payload, rest, ok := nextFrame(tt.in)
			if ok != tt.ok || len(rest) != tt.rest {
				t.Fatalf("ok=%v rest=%d, want ok=%v rest=%d", ok, len(rest), tt.ok, tt.rest)
			}
			if ok && (op != tt.op || string(payload) != tt.payload) {
				t.Fatalf("op=%d payload=%q", op, payload)
			}
		})
	}
}

func FuzzNextFrame(f *testing.F) {
	f.Add([]byte{0x81, 2, 'h', 'i'})
	f.Add([]byte{0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		for i := 0; i < 1000; i++ {
			_, payload, rest, ok := nextFrame(data)
			if !ok {
				return
			}
			if len(payload)+len(rest) > len(data) {
				t.Fatalf("frame larger than its input")
			}
			data = rest
		}
	})
}
