package websocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// clientFrame builds a client frame: masked unless unmasked is set.
type clientFrame struct {
	op       Opcode
	fin      bool
	rsv      byte
	unmasked bool
	payload  []byte
	// length overrides the declared payload length (for size checks).
	length int64
}

func (f clientFrame) bytes() []byte {
	b0 := byte(f.op) | f.rsv
	if f.fin {
		b0 |= 0x80
	}
	n := int64(len(f.payload))
	if f.length != 0 {
		n = f.length
	}
	var b []byte
	mask := byte(0x80)
	if f.unmasked {
		mask = 0
	}
	switch {
	case n < 0: // 64-bit length with the top bit set
		b = append(b, b0, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	case n < 126:
		b = append(b, b0, mask|byte(n))
	case n <= 0xFFFF:
		b = append(b, b0, mask|126, byte(n>>8), byte(n))
	default:
		b = append(b, b0, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	if !f.unmasked {
		b = append(b, key[:]...)
	}
	start := len(b)
	b = append(b, f.payload...)
	if !f.unmasked {
		for i := start; i < len(b); i++ {
			b[i] ^= key[(i-start)&3]
		}
	}
	return b
}

func stream(frames ...clientFrame) []byte {
	var b []byte
	for _, f := range frames {
		b = append(b, f.bytes()...)
	}
	return b
}

func text(s string) clientFrame { return clientFrame{op: OpText, fin: true, payload: []byte(s)} }

func closeFrame(code int, reason string) clientFrame {
	p := []byte{byte(code >> 8), byte(code)}
	return clientFrame{op: OpClose, fin: true, payload: append(p, reason...)}
}

type event struct {
	op      Opcode
	payload string
}

// decodeAll feeds data in chunks of size chunk (0 = all at once) and returns
// the events and the final error.
func decodeAll(d *Decoder, data []byte, chunk int) ([]event, error) {
	var evs []event
	handle := func(op Opcode, p []byte) error {
		evs = append(evs, event{op, string(p)})
		return nil
	}
	data = bytes.Clone(data)
	if chunk <= 0 {
		chunk = len(data) + 1
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		if err := d.Feed(data[:n], handle); err != nil {
			return evs, err
		}
		data = data[n:]
	}
	return evs, nil
}

func TestDecoderViolations(t *testing.T) {
	big := strings.Repeat("a", 200)
	tests := []struct {
		name       string
		maxMessage int64
		maxFrame   int64
		in         []byte
		wantEvents []event
		wantErr    *CloseError
	}{
		{"message over max_message_size", 10, 0, stream(text("12345678901")), nil, errMessageTooBig},
		{"message at max_message_size", 10, 0, stream(text("1234567890")), []event{{OpText, "1234567890"}}, nil},
		{"fragments over max_message_size", 10, 0,
			stream(clientFrame{op: OpText, payload: []byte("123456")}, clientFrame{op: OpContinuation, fin: true, payload: []byte("12345")}),
			nil, errMessageTooBig},
		{"control frame counts against max_message_size", 1, 0, stream(clientFrame{op: OpPing, fin: true, payload: []byte("ab")}), nil, errMessageTooBig},
		{"frame over max frame size", 0, 100, stream(text(big)), nil, errFrameTooBig},
		{"frame size checked before message size", 10, 100, stream(text(big)), nil, errFrameTooBig},
		{"size checked on the header alone", 10, 0, clientFrame{op: OpText, fin: true, length: 1 << 20}.bytes(), nil, errMessageTooBig},
		{"64-bit length top bit", 0, 0, clientFrame{op: OpText, fin: true, length: -1}.bytes(), nil, errFrameLength},
		{"rsv1", 0, 0, stream(clientFrame{op: OpText, fin: true, rsv: 0x40, payload: []byte("x")}), nil, errReserved},
		{"rsv3", 0, 0, stream(clientFrame{op: OpText, fin: true, rsv: 0x10, payload: []byte("x")}), nil, errReserved},
		{"unmasked", 0, 0, stream(clientFrame{op: OpText, fin: true, unmasked: true, payload: []byte("x")}), nil, errUnmasked},
		{"control frame over 125", 0, 0, stream(clientFrame{op: OpPing, fin: true, payload: []byte(big)}), nil, errControlFrame},
		{"control frame not final", 0, 0, stream(clientFrame{op: OpPing, payload: []byte("x")}), nil, errControlFrame},
		{"close payload of one byte", 0, 0, stream(clientFrame{op: OpClose, fin: true, payload: []byte{3}}), nil, errCloseCode},
		{"close code 1004", 0, 0, stream(closeFrame(1004, "")), nil, errCloseCode},
		{"close code 1005", 0, 0, stream(closeFrame(1005, "")), nil, errCloseCode},
		{"close code 999", 0, 0, stream(closeFrame(999, "")), nil, errCloseCode},
		{"close code 5000", 0, 0, stream(closeFrame(5000, "")), nil, errCloseCode},
		{"close code 2999", 0, 0, stream(closeFrame(2999, "")), nil, errCloseCode},
		{"close reason not UTF-8", 0, 0, stream(closeFrame(1000, "\xff")), nil, errCloseReason},
		{"reserved opcode 3", 0, 0, stream(clientFrame{op: 3, fin: true}), nil, errOpcode},
		{"reserved opcode 11", 0, 0, stream(clientFrame{op: 11, fin: true}), nil, errOpcode},
		{"reserved opcode 3 not final", 0, 0, stream(clientFrame{op: 3}), nil, errControlFrame},
		{"first frame continuation", 0, 0, stream(clientFrame{op: OpContinuation, fin: true, payload: []byte("x")}), nil, errFirstContinue},
		{"data frame while fragmented message pending", 0, 0,
			stream(clientFrame{op: OpText, payload: []byte("a")}, text("b")), nil, errNotContinue},
		{"text not UTF-8", 0, 0, stream(text("a\xffb")), nil, errBadUTF8},
		{"fragmented text not UTF-8 after reassembly", 0, 0,
			stream(clientFrame{op: OpText, payload: []byte("\xe2\x82")}, clientFrame{op: OpContinuation, fin: true, payload: []byte("x")}),
			nil, errBadUTF8},
		{"UTF-8 split across fragments is fine", 0, 0,
			stream(clientFrame{op: OpText, payload: []byte("\xe2\x82")}, clientFrame{op: OpContinuation, fin: true, payload: []byte("\xac")}),
			[]event{{OpText, "€"}}, nil},
		{"binary not validated", 0, 0, stream(clientFrame{op: OpBinary, fin: true, payload: []byte{0xff}}), []event{{OpBinary, "\xff"}}, nil},
		{"interleaved ping", 0, 0,
			stream(clientFrame{op: OpText, payload: []byte("hel")}, clientFrame{op: OpPing, fin: true, payload: []byte("p")},
				clientFrame{op: OpContinuation, payload: []byte("lo ")}, clientFrame{op: OpPong, fin: true},
				clientFrame{op: OpContinuation, fin: true, payload: []byte("world")}),
			[]event{{OpPing, "p"}, {OpPong, ""}, {OpText, "hello world"}}, nil},
		{"empty close", 0, 0, stream(clientFrame{op: OpClose, fin: true}), []event{{OpClose, ""}}, nil},
		{"close with reason", 0, 0, stream(closeFrame(4000, "bye")), []event{{OpClose, "\x0f\xa0bye"}}, nil},
		{"close 1000..3000..4999", 0, 0, stream(closeFrame(1011, ""), closeFrame(3000, ""), closeFrame(4999, "")),
			[]event{{OpClose, "\x03\xf3"}, {OpClose, "\x0b\xb8"}, {OpClose, "\x13\x87"}}, nil},
		{"several messages", 0, 0, stream(text("a"), text(big), text("")),
			[]event{{OpText, "a"}, {OpText, big}, {OpText, ""}}, nil},
		{"64k message", 0, 0, stream(text(strings.Repeat("z", 70000))), []event{{OpText, strings.Repeat("z", 70000)}}, nil},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1, 2, 3, 7, 100} {
			t.Run(fmt.Sprintf("%s/chunk%d", tt.name, chunk), func(t *testing.T) {
				d := NewDecoder(tt.maxMessage, tt.maxFrame)
				evs, err := decodeAll(d, tt.in, chunk)
				if fmt.Sprint(evs) != fmt.Sprint(tt.wantEvents) {
					t.Errorf("events = %q, want %q", evs, tt.wantEvents)
				}
				if tt.wantErr == nil {
					if err != nil {
						t.Fatalf("err = %v", err)
					}
					if d.Buffered() != 0 {
						t.Errorf("Buffered() = %d after complete frames, want 0", d.Buffered())
					}
					return
				}
				var ce *CloseError
				if !errors.As(err, &ce) || *ce != *tt.wantErr {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if err2 := d.Feed([]byte{0x81}, nil); err2 != err {
					t.Errorf("after error Feed = %v, want the same error", err2)
				}
			})
		}
	}
}

func TestDecoderHandleErrorStops(t *testing.T) {
	stop := errors.New("stop")
	d := NewDecoder(0, 0)
	n := 0
	err := d.Feed(stream(text("a"), text("b")), func(Opcode, []byte) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("err=%v n=%d, want stop after one message", err, n)
	}
}

func TestDecoderIdleHoldsNothing(t *testing.T) {
	d := NewDecoder(0, 0)
	in := stream(text(strings.Repeat("x", 5000)))
	if _, err := decodeAll(d, in[:3000], 0); err != nil {
		t.Fatal(err)
	}
	if d.Buffered() != 3000 {
		t.Fatalf("Buffered() = %d mid-frame, want 3000", d.Buffered())
	}
	evs, err := decodeAll(d, in[3000:], 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("evs=%v err=%v", len(evs), err)
	}
	if d.partial != nil || d.msg != nil {
		t.Fatal("decoder keeps a buffer while idle")
	}
}

func TestEchoClosePayload(t *testing.T) {
	if got := EchoClosePayload(nil); !bytes.Equal(got, []byte{0x03, 0xe8}) {
		t.Errorf("empty close echo = %x, want 03e8", got)
	}
	if got := EchoClosePayload([]byte("\x0f\xa0bye")); string(got) != "\x0f\xa0bye" {
		t.Errorf("echo = %q", got)
	}
}

func TestAppendFrame(t *testing.T) {
	tests := []struct {
		n    int
		head string
	}{
		{0, "8100"}, {125, "817d"}, {126, "817e007e"}, {65535, "817effff"}, {65536, "817f0000000000010000"},
	}
	for _, tt := range tests {
		got := AppendText(nil, make([]byte, tt.n))
		if h := fmt.Sprintf("%x", got[:FrameHeaderSize(tt.n)]); h != tt.head || len(got) != FrameHeaderSize(tt.n)+tt.n {
			t.Errorf("AppendText(%d) header %s len %d, want %s", tt.n, h, len(got), tt.head)
		}
	}
	if got := AppendClose(nil, 1009, "Maximum message size exceeded"); string(got) != "\x88\x1f\x03\xf1Maximum message size exceeded" {
		t.Errorf("AppendClose = %q", got)
	}
	if got := AppendPing(nil, nil); string(got) != "\x89\x00" {
		t.Errorf("AppendPing = %q", got)
	}
	if got := AppendPong(nil, []byte("x")); string(got) != "\x8a\x01x" {
		t.Errorf("AppendPong = %q", got)
	}
	if got := AppendTextString(nil, "hi"); string(got) != "\x81\x02hi" {
		t.Errorf("AppendTextString = %q", got)
	}
}

// FuzzDecoder feeds arbitrary streams whole and split at two points: the
// outcome must be the same, nothing may panic and the decoder's memory
// stays within its limits.
func FuzzDecoder(f *testing.F) {
	f.Add(stream(text("hello"), closeFrame(1000, "")), uint16(3), uint16(9))
	f.Add(stream(clientFrame{op: OpText, payload: []byte("he")}, clientFrame{op: OpPing, fin: true}, clientFrame{op: OpContinuation, fin: true, payload: []byte("llo")}), uint16(1), uint16(20))
	f.Add(clientFrame{op: OpText, fin: true, length: 1 << 40}.bytes(), uint16(2), uint16(5))
	f.Add([]byte{0x81, 0xff, 0x80}, uint16(1), uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, a, b uint16) {
		const limit = 1 << 16
		whole := NewDecoder(limit, limit)
		evWhole, errWhole := decodeAll(whole, data, 0)
		i, j := int(a)%(len(data)+1), int(b)%(len(data)+1)
		if i > j {
			i, j = j, i
		}
		split := NewDecoder(limit, limit)
		var evSplit []event
		var errSplit error
		handle := func(op Opcode, p []byte) error { evSplit = append(evSplit, event{op, string(p)}); return nil }
		c := bytes.Clone(data)
		for _, part := range [][]byte{c[:i], c[i:j], c[j:]} {
			if errSplit = split.Feed(part, handle); errSplit != nil {
				break
			}
			if split.Buffered() > 2*limit+maxHeader {
				t.Fatalf("decoder holds %d bytes", split.Buffered())
			}
		}
		if fmt.Sprint(evWhole) != fmt.Sprint(evSplit) || fmt.Sprint(errWhole) != fmt.Sprint(errSplit) {
			t.Fatalf("whole: %q %v; split at %d,%d: %q %v", evWhole, errWhole, i, j, evSplit, errSplit)
		}
	})
}

func BenchmarkDecoder(b *testing.B) {
	msg := stream(text(`{"event":"client-typing","channel":"private-chat.1","data":{"id":123,"name":"Joe Dixon"}}`))
	buf := make([]byte, len(msg))
	d := NewDecoder(10000, 0)
	handle := func(Opcode, []byte) error { return nil }
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, msg)
		if err := d.Feed(buf, handle); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecoderSplit(b *testing.B) {
	msg := stream(text(strings.Repeat("x", 1000)))
	buf := make([]byte, len(msg))
	d := NewDecoder(10000, 0)
	handle := func(Opcode, []byte) error { return nil }
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, msg)
		if err := d.Feed(buf[:500], handle); err != nil {
			b.Fatal(err)
		}
		if err := d.Feed(buf[500:], handle); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendText(b *testing.B) {
	payload := []byte(`{"event":"App\\Events\\TestEvent","data":"{\"foo\":\"bar\"}","channel":"test-channel"}`)
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendText(dst[:0], payload)
	}
}
