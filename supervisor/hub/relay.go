package hub

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// DefaultQueue is the number of frames a worker may have waiting before the
// relay decides it is stuck and drops it, so one stuck worker never stalls
// the others.
const DefaultQueue = 16384

// Events receives a worker's control frames and its end. The relay calls
// them from the worker's reader goroutine, one at a time per worker.
type Events struct {
	// Hello is called once the worker named itself.
	Hello func(nodeID string)
	// Ready is called when the worker reports it is serving.
	Ready func()
	// Fail is called with the worker's fatal startup error.
	Fail func(msg string)
	// Gone is called once when the connection ends; err says why (nil on a
	// clean EOF).
	Gone func(err error)
}

// Relay is the supervisor side of the bus.
//
// Lock story: mu guards peers and is held for the whole fan-out of one
// message, which is what makes the order total: every peer's queue receives
// messages in the order the relay took mu. Fan-out never blocks under mu
// (queue sends are non-blocking; a full queue drops that peer).
type Relay struct {
	queue int
	logf  func(format string, args ...any)

	mu    sync.Mutex
	peers map[*Peer]struct{}
}

// NewRelay returns a relay. queue is the per-worker frame budget (0 means
// DefaultQueue); logf receives drops (nil discards).
func NewRelay(queue int, logf func(format string, args ...any)) *Relay {
	if queue <= 0 {
		queue = DefaultQueue
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Relay{queue: queue, logf: logf, peers: map[*Peer]struct{}{}}
}

// outFrame is one queued frame; payloads are shared between peers and never
// modified, so fan-out copies only this small struct. Ack and Drain carry
// their number in n instead of a payload.
type outFrame struct {
	typ     byte
	payload []byte
	n       uint64
}

// Peer is one worker's connection as seen by the relay.
type Peer struct {
	relay *Relay
	conn  net.Conn
	ev    Events
	// out is written only under relay.mu, by the relay; it is closed (under
	// relay.mu) when the peer leaves, which ends the writer goroutine.
	out chan outFrame

	// nodeID is set by the reader before the peer joins peers, read after.
	nodeID string
	named  bool // hello received; guarded by relay.mu
	joined bool // subscribed: receives deliveries; guarded by relay.mu
	left   bool // guarded by relay.mu
}

// Attach starts serving one worker connection: a reader goroutine (ends when
// the connection fails or closes) and a writer goroutine (ends when the peer
// leaves). Both are owned by the returned Peer; Close ends them.
func (r *Relay) Attach(conn net.Conn, ev Events) *Peer {
	p := &Peer{relay: r, conn: conn, ev: ev, out: make(chan outFrame, r.queue)}
	go p.writeLoop()
	go p.readLoop()
	return p
}

// NodeID returns the id the worker sent in its hello ("" before).
func (p *Peer) NodeID() string {
	p.relay.mu.Lock()
	defer p.relay.mu.Unlock()
	return p.nodeID
}

// Drain asks the worker to stop accepting and close its connections over
// window. It reports false when the worker is already gone.
func (p *Peer) Drain(window time.Duration) bool {
	return p.control(FrameDrain, uint64(window.Milliseconds()))
}

// Stop is Drain when the supervisor stops: the worker reports its
// connections' departures itself (FrameStop).
func (p *Peer) Stop(window time.Duration) bool {
	return p.control(FrameStop, uint64(window.Milliseconds()))
}

// PauseDrain holds (true) or resumes (false) the worker's drain; false
// when the worker already left.
func (p *Peer) PauseDrain(paused bool) bool {
	var n uint64
	if paused {
		n = 1
	}
	return p.control(FramePause, n)
}

// control queues a control frame carrying the number n, unless the worker
// already left.
func (p *Peer) control(typ byte, n uint64) bool {
	r := p.relay
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.left {
		return false
	}
	return r.enqueueLocked(p, outFrame{typ: typ, n: n})
}

// Close drops the connection; the worker sees its lifeline end.
func (p *Peer) Close() error { return p.conn.Close() }

// Peers returns the number of workers on the bus.
func (r *Relay) Peers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.peers)
}

// Publish relays msg from the supervisor itself (node_gone notices) and
// returns the number of workers it was queued for.
func (r *Relay) Publish(msg []byte) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fanOutLocked(msg)
}

// fanOutLocked queues msg for every peer. Caller holds r.mu.
func (r *Relay) fanOutLocked(msg []byte) int {
	n := 0
	for p := range r.peers {
		if r.enqueueLocked(p, outFrame{typ: FrameDeliver, payload: msg}) {
			n++
		}
	}
	return n
}

// enqueueLocked queues f for p without blocking; a full queue means the
// worker stopped reading, so it is dropped (its clients reconnect to the
// others) rather than stalling every worker. Caller holds r.mu.
func (r *Relay) enqueueLocked(p *Peer, f outFrame) bool {
	select {
	case p.out <- f:
		return true
	default:
		r.logf("Worker %s is not reading its bus messages (%d queued): dropping it", p.nodeID, cap(p.out))
		r.leaveLocked(p)
		p.conn.Close()
		return false
	}
}

// leaveLocked removes p from the bus exactly once. Caller holds r.mu.
func (r *Relay) leaveLocked(p *Peer) {
	if p.left {
		return
	}
	p.left = true
	delete(r.peers, p)
	close(p.out)
}

// NodeGoneMessage is what the others receive when a worker's connection
// ends; the server drops that node's presence members on it.
func NodeGoneMessage(nodeID string) []byte {
	id, _ := json.Marshal(nodeID) // a string always marshals
	return []byte(`{"type":"reverb-go:node_gone","node_id":` + string(id) + `}`)
}

func (p *Peer) readLoop() {
	err := p.read()
	r := p.relay
	r.mu.Lock()
	if p.joined {
		r.leaveLocked(p)
		// Published under the same lock as the removal: nothing from this
		// node can follow its notice.
		r.fanOutLocked(NodeGoneMessage(p.nodeID))
	} else if !p.left {
		p.left = true
		close(p.out)
	}
	r.mu.Unlock()
	p.conn.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	if p.ev.Gone != nil {
		p.ev.Gone(err)
	}
}

// read handles frames until the connection ends; nil means a clean EOF.
func (p *Peer) read() error {
	br := bufio.NewReaderSize(p.conn, 64<<10)
	var sc scratch
	for {
		typ, payload, err := readFrame(br, &sc)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		r := p.relay
		switch typ {
		case FrameHello:
			r.mu.Lock()
			if p.named || p.left {
				r.mu.Unlock()
				if p.left {
					return nil
				}
				return errors.New("hub: second hello")
			}
			p.nodeID = string(payload)
			p.named = true
			r.mu.Unlock()
			if p.ev.Hello != nil {
				p.ev.Hello(p.nodeID)
			}
		case FrameSubscribe:
			r.mu.Lock()
			if !p.named || p.joined {
				r.mu.Unlock()
				return errors.New("hub: subscribe before hello, or twice")
			}
			if p.left {
				r.mu.Unlock()
				return nil
			}
			p.joined = true
			r.peers[p] = struct{}{}
			r.mu.Unlock()
		case FramePublish:
			r.mu.Lock()
			if !p.named {
				r.mu.Unlock()
				return errors.New("hub: publish before hello")
			}
			if p.left {
				r.mu.Unlock()
				return nil
			}
			n := r.fanOutLocked(payload)
			if !p.left {
				r.enqueueLocked(p, outFrame{typ: FrameAck, n: uint64(n)})
			}
			r.mu.Unlock()
		case FrameReady:
			if p.ev.Ready != nil {
				p.ev.Ready()
			}
		case FrameFail:
			if p.ev.Fail != nil {
				p.ev.Fail(string(payload))
			}
		default:
			return fmt.Errorf("hub: unknown frame type %q from worker", typ)
		}
	}
}

func (p *Peer) writeLoop() {
	bw := bufio.NewWriterSize(p.conn, 64<<10)
	var hdr [5]byte
	num := new(numberFrame)
	for f := range p.out {
		var err error
		switch f.typ {
		case FrameAck:
			err = writeNumber(bw, num, f.typ, f.n, 4)
		case FrameDrain, FrameStop, FramePause:
			err = writeNumber(bw, num, f.typ, f.n, 8)
		default:
			err = writeFrame(bw, &hdr, f.typ, f.payload)
		}
		if err != nil {
			p.conn.Close()
			break
		}
		// Flush when nothing else is waiting: batches bursts into few
		// syscalls without delaying a lone message.
		if len(p.out) == 0 {
			if err := bw.Flush(); err != nil {
				p.conn.Close()
				break
			}
		}
	}
	// Discard what is left so the relay's non-blocking sends keep working
	// until the reader notices the closed connection and removes the peer.
	for range p.out {
	}
}
