// Package hub is the local message bus of one supervisor: every worker holds
// one stream connection to the supervisor, which relays each published
// message to every connected worker (all generations) in one total order.
// The same connection carries the few control messages between supervisor and
// worker (hello, ready, drain), so a worker has a single lifeline: when it
// closes, the worker is gone.
//
// Wire format: frames of a 4-byte big-endian length n, then n bytes: one type
// byte and the payload.
package hub

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame types. Worker → supervisor: Hello, Subscribe, Ready, Fail, Publish.
// Supervisor → worker: Ack, Deliver, Drain, Stop, Pause.
const (
	// FrameHello carries the worker's node id; it must be the first frame.
	FrameHello byte = 'H'
	// FrameSubscribe asks for deliveries (cluster.Transport.Start). A worker
	// whose server uses another transport (Redis scaling) never subscribes,
	// so nothing piles up for it and it is not counted as a receiver.
	FrameSubscribe byte = 'S'
	// FrameReady says the worker loaded its config and is serving.
	FrameReady byte = 'R'
	// FrameFail carries a fatal startup error to log before the worker exits.
	FrameFail byte = 'F'
	// FramePublish is a message for every worker.
	FramePublish byte = 'P'
	// FrameAck answers each Publish, in order, with the 4-byte big-endian
	// number of workers the message was queued for.
	FrameAck byte = 'A'
	// FrameDeliver is a relayed message.
	FrameDeliver byte = 'D'
	// FrameDrain tells a worker to stop accepting and drain over the window
	// given as an 8-byte big-endian count of milliseconds.
	FrameDrain byte = 'X'
	// FrameStop is FrameDrain when the supervisor stops rather than
	// restarts: no new generation takes the worker's departures over, so
	// the worker reports them itself (server.Stop). A worker that predates
	// it takes it for a broken stream and drains as an orphan.
	FrameStop byte = 'T'
	// FramePause holds (payload 1) or resumes (payload 0) a drain's closes,
	// as an 8-byte big-endian number: the supervisor pauses a draining
	// generation while the listening socket's accept queue is long.
	FramePause byte = 'Z'
)

// MaxFrame bounds one frame (type byte + payload). Bus messages are events
// and metric answers: a broadcast is limited by max_request_size (10 kB by
// default) and metric answers by the number of channels and sockets, so 64 MiB
// only guards against a corrupt stream.
const MaxFrame = 64 << 20

// ErrFrameTooLarge is returned for a length prefix above MaxFrame.
var ErrFrameTooLarge = errors.New("hub: frame larger than 64 MiB")

// ErrEmptyFrame is returned for a zero length prefix (no type byte).
var ErrEmptyFrame = errors.New("hub: empty frame")

// scratch is per-connection buffer space: the length prefix, and the
// payload of small control frames (Ack, Drain) that are consumed at once.
type scratch [16]byte

// retained reports whether a frame type's payload outlives the next read
// (queued deliveries, fanned-out publishes, names): those get their own
// allocation, the payload itself; everything else is read into scratch.
func retained(typ byte) bool {
	switch typ {
	case FrameAck, FrameDrain, FrameStop, FramePause, FrameReady, FrameSubscribe:
		return false
	}
	return true
}

// readFrame reads one frame. A payload read into sc is valid until the next
// call; so reading allocates nothing but retained payloads.
func readFrame(r *bufio.Reader, sc *scratch) (typ byte, payload []byte, err error) {
	if _, err := io.ReadFull(r, sc[:4]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(sc[:4])
	if n == 0 {
		return 0, nil, ErrEmptyFrame
	}
	if n > MaxFrame {
		return 0, nil, fmt.Errorf("%w (%d bytes)", ErrFrameTooLarge, n)
	}
	if typ, err = r.ReadByte(); err != nil {
		return 0, nil, unexpected(err)
	}
	if n == 1 {
		return typ, nil, nil
	}
	if !retained(typ) && int(n-1) <= len(sc) {
		payload = sc[:n-1]
	} else {
		payload = make([]byte, n-1)
	}
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, unexpected(err)
	}
	return typ, payload, nil
}

// unexpected turns EOF inside a frame into ErrUnexpectedEOF: only EOF at a
// frame boundary is a clean end.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeFrame buffers one frame on w without flushing. hdr is scratch space.
func writeFrame(w *bufio.Writer, hdr *[5]byte, typ byte, payload []byte) error {
	if len(payload)+1 > MaxFrame {
		return fmt.Errorf("%w (%d bytes)", ErrFrameTooLarge, len(payload)+1)
	}
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(payload)+1))
	hdr[4] = typ
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// numberFrame is a writer's buffer for Ack and Drain frames, allocated once
// per connection so these frames cost no allocation.
type numberFrame [13]byte

// writeNumber buffers a control frame whose payload is n as size bytes
// big-endian (Ack: 4, Drain: 8).
func writeNumber(w *bufio.Writer, buf *numberFrame, typ byte, n uint64, size int) error {
	binary.BigEndian.PutUint32(buf[:4], uint32(size+1))
	buf[4] = typ
	var num [8]byte
	binary.BigEndian.PutUint64(num[:], n)
	copy(buf[5:], num[8-size:])
	_, err := w.Write(buf[:5+size])
	return err
}
