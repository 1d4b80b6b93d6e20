package websocket

import (
	"encoding/binary"
	"unicode/utf8"
)

// maxHeader is the longest client frame header: 2 bytes, 8 bytes of
// extended length, 4 bytes of mask key.
const maxHeader = 14

// initialPartialCap bounds the up-front allocation for a frame that spans
// reads: a client declaring a 32 MiB frame does not get 32 MiB until it
// actually sends them.
const initialPartialCap = 4096

// Decoder turns the byte stream from a client into messages, the way
// Ratchet's MessageBuffer does. It is push-based: the reader goroutine that
// owns the connection calls Feed with whatever it read. While idle (no
// partial frame, no pending fragmented message) it holds no buffer at all.
//
// A Decoder is not safe for concurrent use; its single owner is the
// connection's reader.
type Decoder struct {
	maxMessage int64
	maxFrame   int64

	// partial holds the bytes of a frame that spans Feed calls, from its
	// first header byte; nil when frames line up with reads.
	partial []byte
	// frameLen is the total length (header+payload) of the frame in partial
	// once its header is known, else 0.
	frameLen int

	// pending is true while a fragmented data message is being received;
	// pendingOp is its opcode and msg its payload so far.
	pending   bool
	pendingOp Opcode
	msg       []byte

	err error
}

// header is a parsed frame header.
type header struct {
	fin, masked bool
	rsv         byte
	op          Opcode
	size        int // header bytes
	length      int64
	mask        [4]byte
}

// DefaultMaxFrameSize is Reverb's usual frame limit: Ratchet allows a
// quarter of PHP's memory_limit (128 MiB by default), so 32 MiB. Pass it to NewDecoder
// unless the operator configured otherwise, so a client declaring a huge
// frame is closed with 1009 instead of being buffered.
const DefaultMaxFrameSize = 32 << 20

// NewDecoder returns a decoder enforcing maxMessageSize (the sum of a
// message's fragments, Reverb's max_message_size; 0 = unlimited) and
// maxFrameSize (one frame's declared length; 0 = unlimited). Both limits
// also apply to control frames, as in Ratchet.
func NewDecoder(maxMessageSize, maxFrameSize int64) *Decoder {
	return &Decoder{maxMessage: maxMessageSize, maxFrame: maxFrameSize}
}

// Buffered is the number of bytes the decoder holds (a partial frame plus a
// pending fragmented message); zero while idle.
func (d *Decoder) Buffered() int { return len(d.partial) + len(d.msg) }

// Feed parses p, which may hold any part of the stream. For every complete
// data message (text or binary, fragments reassembled) and every control
// frame it calls handle with the opcode (OpText, OpBinary, OpClose, OpPing,
// OpPong) and the unmasked payload. payload is only valid during the call.
// Feed unmasks in place, so p is modified.
//
// Feed returns the first error of handle, or a *CloseError for a protocol
// violation (send its close frame, then close the connection). After any
// error the decoder only returns that error again. A client close frame is
// delivered as OpClose; the caller normally returns an error from handle
// then to stop parsing.
func (d *Decoder) Feed(p []byte, handle func(op Opcode, payload []byte) error) error {
	if d.err != nil {
		return d.err
	}
	if err := d.feed(p, handle); err != nil {
		d.err = err
		d.partial, d.msg = nil, nil
		return err
	}
	return nil
}

func (d *Decoder) feed(p []byte, handle func(Opcode, []byte) error) error {
	if len(d.partial) > 0 {
		n, err := d.fillPartial(p)
		if err != nil {
			return err
		}
		p = p[n:]
		if d.frameLen == 0 || len(d.partial) < d.frameLen {
			return nil // p is used up; the frame is still incomplete
		}
		h, _, _ := parseHeader(d.partial)
		frame := d.partial
		err = d.frame(&h, frame[h.size:d.frameLen], handle)
		// Release the buffer whatever happened: idle decoders hold nothing.
		d.partial, d.frameLen = nil, 0
		if err != nil {
			return err
		}
	}
	for len(p) > 0 {
		h, ok, err := parseHeader(p)
		if err != nil {
			return err
		}
		if !ok {
			return d.keep(p, 0)
		}
		if err := d.checkHeader(&h); err != nil {
			return err
		}
		total := int64(h.size) + h.length
		if int64(len(p)) < total {
			return d.keep(p, int(total))
		}
		if err := d.frame(&h, p[h.size:total], handle); err != nil {
			return err
		}
		p = p[total:]
	}
	return nil
}

// keep stores the start of an incomplete frame for the next Feed.
func (d *Decoder) keep(p []byte, frameLen int) error {
	c := frameLen
	if c == 0 {
		c = maxHeader
	}
	if c > initialPartialCap {
		c = initialPartialCap
	}
	if c < len(p) {
		c = len(p)
	}
	d.partial = append(make([]byte, 0, c), p...)
	d.frameLen = frameLen
	return nil
}

// fillPartial moves bytes of p into the partial frame: first up to the end
// of its header (then checked), then up to the end of its payload. It never
// takes bytes of the next frame. It returns how many bytes of p it used.
func (d *Decoder) fillPartial(p []byte) (int, error) {
	used := 0
	for d.frameLen == 0 {
		need := 2
		if len(d.partial) >= 2 {
			need = headerSize(d.partial[1])
		}
		if len(d.partial) < need {
			n := min(need-len(d.partial), len(p)-used)
			d.partial = append(d.partial, p[used:used+n]...)
			used += n
			if len(d.partial) < need {
				return used, nil
			}
		}
		h, ok, err := parseHeader(d.partial)
		if err != nil {
			return used, err
		}
		if !ok {
			continue // the first two bytes just arrived; now read the rest
		}
		if err := d.checkHeader(&h); err != nil {
			return used, err
		}
		d.frameLen = int(int64(h.size) + h.length)
	}
	n := min(d.frameLen-len(d.partial), len(p)-used)
	d.partial = append(d.partial, p[used:used+n]...)
	return used + n, nil
}

// headerSize is the header length implied by a frame's second byte.
func headerSize(b1 byte) int {
	n := 2
	if b1&0x80 != 0 {
		n += 4
	}
	switch b1 & 0x7F {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	return n
}

// parseHeader reads a frame header from the start of b; ok is false when b
// is too short. A 64-bit length with its top bit set is Ratchet's "Invalid
// frame length" (PHP reads it as a negative int).
func parseHeader(b []byte) (h header, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	h.size = headerSize(b[1])
	if len(b) < h.size {
		return h, false, nil
	}
	h.fin = b[0]&0x80 != 0
	h.rsv = b[0] & 0x70
	h.op = Opcode(b[0] & 0x0F)
	h.masked = b[1]&0x80 != 0
	i := 2
	switch l := b[1] & 0x7F; l {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
		i += 2
	case 127:
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 {
			return h, true, errFrameLength
		}
		h.length = int64(u)
		i += 8
	default:
		h.length = int64(l)
	}
	if h.masked {
		copy(h.mask[:], b[i:i+4])
	}
	return h, true, nil
}

// checkHeader applies every check Ratchet makes that the header alone
// decides, in Ratchet's order: sizes first (before any payload is read),
// then the frame checks. Only the close-frame payload checks remain.
func (d *Decoder) checkHeader(h *header) error {
	if d.maxFrame > 0 && h.length > d.maxFrame {
		return errFrameTooBig
	}
	if d.maxMessage > 0 && h.length+int64(len(d.msg)) > d.maxMessage {
		return errMessageTooBig
	}
	if h.length > maxInt-maxHeader {
		// Unlimited decoder, absurd length: it can never be buffered.
		return errFrameTooBig
	}
	if h.rsv != 0 {
		return errReserved
	}
	if !h.masked {
		return errUnmasked
	}
	if h.op > OpBinary {
		if h.length > 125 || !h.fin {
			return errControlFrame
		}
		if h.op != OpClose && h.op != OpPing && h.op != OpPong {
			return errOpcode
		}
		return nil
	}
	if h.op == OpContinuation && !d.pending {
		return errFirstContinue
	}
	if d.pending && h.op != OpContinuation {
		return errNotContinue
	}
	return nil
}

const maxInt = int64(^uint(0) >> 1)

// frame handles one complete, header-checked frame whose (still masked)
// payload is payload.
func (d *Decoder) frame(h *header, payload []byte, handle func(Opcode, []byte) error) error {
	unmask(h.mask, payload)
	switch h.op {
	case OpClose:
		if len(payload) == 1 {
			return errCloseCode
		}
		if len(payload) >= 2 {
			if !ValidCloseCode(int(binary.BigEndian.Uint16(payload))) {
				return errCloseCode
			}
			if !utf8.Valid(payload[2:]) {
				return errCloseReason
			}
		}
		return handle(OpClose, payload)
	case OpPing, OpPong:
		return handle(h.op, payload)
	}
	if !d.pending && h.fin {
		// The common case: a whole message in one frame, handed over
		// without copying.
		if h.op == OpText && !utf8.Valid(payload) {
			return errBadUTF8
		}
		return handle(h.op, payload)
	}
	if !d.pending {
		d.pending, d.pendingOp = true, h.op
	}
	d.msg = append(d.msg, payload...)
	if !h.fin {
		return nil
	}
	msg, op := d.msg, d.pendingOp
	d.msg, d.pending = nil, false
	if op == OpText && !utf8.Valid(msg) {
		return errBadUTF8
	}
	return handle(op, msg)
}

// unmask XORs b with the masking key, eight bytes at a time.
func unmask(key [4]byte, b []byte) {
	if len(b) >= 8 {
		k32 := binary.LittleEndian.Uint32(key[:])
		k64 := uint64(k32) | uint64(k32)<<32
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= key[i&3]
	}
}
