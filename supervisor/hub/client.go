package hub

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reverb-go/reverb/server/cluster"
)

// ErrClosed is returned by Publish once the connection to the supervisor is gone.
var ErrClosed = errors.New("hub: connection to the supervisor closed")

// deliverQueue is how many relayed messages a worker buffers between its
// reader and the server's deliver callback. The reader never blocks on the
// server (deliver may itself Publish and wait for an Ack the reader must
// read); a server that falls this far behind is stuck and the worker drops
// off the bus instead of growing without bound.
const deliverQueue = 65536

// ClientEvents are the supervisor's commands to a worker.
type ClientEvents struct {
	// Drain is called (from the reader goroutine) when the supervisor asks
	// the worker to stop accepting and drain over window; stop says the
	// supervisor is stopping, not restarting (FrameStop).
	Drain func(window time.Duration, stop bool)
	// PauseDrain is called (from the reader goroutine) when the supervisor
	// holds (true) or resumes (false) the drain's closes.
	PauseDrain func(paused bool)
	// Closed is called once when the connection to the supervisor ends.
	Closed func(err error)
}

// Client is the worker side of the bus and implements cluster.Transport.
//
// Lock story: wmu serialises frame writes and the append to acks, so acks
// holds the waiters in the order their Publish frames went out, which is the
// order the supervisor answers them; the reader pops under wmu too.
type Client struct {
	conn net.Conn
	ev   ClientEvents

	wmu  sync.Mutex
	bw   *bufio.Writer
	hdr  [5]byte
	acks []chan int
	dead bool

	queue     chan []byte
	received  atomic.Uint64 // deliveries read off the connection so far
	startOnce sync.Once
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	// delivered is closed when the delivery goroutine has returned (or
	// by Close when Start never ran): Close waits for it.
	delivered chan struct{}
}

var (
	_ cluster.Transport = (*Client)(nil)
	_ cluster.Counter   = (*Client)(nil)
)

var ackPool = sync.Pool{New: func() any { return make(chan int, 1) }}

// Dial connects to the bus over conn as nodeID: it sends the hello frame and
// starts the reader goroutine, which lives until conn closes. Deliveries
// start with Start (the subscription).
func Dial(conn net.Conn, nodeID string, ev ClientEvents) (*Client, error) {
	c := &Client{
		conn:      conn,
		ev:        ev,
		bw:        bufio.NewWriterSize(conn, 64<<10),
		queue:     make(chan []byte, deliverQueue),
		done:      make(chan struct{}),
		delivered: make(chan struct{}),
	}
	if err := c.send(FrameHello, []byte(nodeID)); err != nil {
		return nil, err
	}
	go c.readLoop()
	return c, nil
}

// Ready tells the supervisor this worker is serving.
func (c *Client) Ready() error { return c.send(FrameReady, nil) }

// Fail reports a fatal error for the supervisor's log.
func (c *Client) Fail(msg string) error { return c.send(FrameFail, []byte(msg)) }

func (c *Client) send(typ byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.dead {
		return ErrClosed
	}
	if err := writeFrame(c.bw, &c.hdr, typ, payload); err != nil {
		return err
	}
	return c.bw.Flush()
}

// Start implements cluster.Transport: it subscribes, then deliver is called
// for each relayed message, one at a time, in the bus order, from one
// goroutine that ends on Close (which waits for it) or when the
// connection ends.
func (c *Client) Start(_ context.Context, deliver func([]byte)) error {
	var err error
	started := false
	c.startOnce.Do(func() {
		started = true
		// Subscribing before the goroutine runs is fine: deliveries wait
		// in the queue.
		if err = c.send(FrameSubscribe, nil); err != nil {
			close(c.delivered)
			return
		}
		go func() {
			defer close(c.delivered)
			for {
				select {
				case <-c.done:
					return
				case msg, ok := <-c.queue:
					if !ok {
						return
					}
					// Close wins over what is still queued.
					select {
					case <-c.done:
						return
					default:
					}
					deliver(msg)
				}
			}
		}()
	})
	if !started {
		select {
		case <-c.done:
			return ErrClosed
		default:
		}
	}
	return err
}

// Received implements cluster.Counter: the deliveries read off the
// connection so far, delivered or waiting in the queue. Those the
// supervisor has relayed and the kernel still holds are not counted.
func (c *Client) Received() (uint64, bool) { return c.received.Load(), true }

// Publish implements cluster.Transport: the count is the number of workers
// the supervisor queued msg for, this one included.
func (c *Client) Publish(ctx context.Context, msg []byte) (int, error) {
	ch := ackPool.Get().(chan int)
	c.wmu.Lock()
	if c.dead {
		c.wmu.Unlock()
		ackPool.Put(ch)
		return 0, ErrClosed
	}
	err := writeFrame(c.bw, &c.hdr, FramePublish, msg)
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		c.wmu.Unlock()
		ackPool.Put(ch)
		c.conn.Close()
		return 0, err
	}
	c.acks = append(c.acks, ch)
	c.wmu.Unlock()
	select {
	case n, ok := <-ch:
		if !ok {
			return 0, ErrClosed
		}
		ackPool.Put(ch)
		return n, nil
	case <-ctx.Done():
		// ch stays in acks and receives the late answer; it is not reused.
		return 0, ctx.Err()
	}
}

// Close implements cluster.Transport: it leaves the bus and returns once
// no delivery runs, after the one in progress (so it must not be called
// from deliver); none follows.
func (c *Client) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	err := c.conn.Close()
	c.startOnce.Do(func() { close(c.delivered) }) // never started
	<-c.delivered
	return err
}

func (c *Client) readLoop() {
	err := c.read()
	c.conn.Close()
	c.wmu.Lock()
	c.dead = true
	for _, ch := range c.acks {
		close(ch)
	}
	c.acks = nil
	c.wmu.Unlock()
	close(c.queue)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	if c.ev.Closed != nil {
		c.ev.Closed(err)
	}
}

func (c *Client) read() error {
	br := bufio.NewReaderSize(c.conn, 64<<10)
	var sc scratch
	for {
		typ, payload, err := readFrame(br, &sc)
		if err != nil {
			return err
		}
		switch typ {
		case FrameDeliver:
			c.received.Add(1)
			select {
			case c.queue <- payload:
			default:
				return errors.New("hub: worker fell 65536 messages behind the bus")
			}
		case FrameAck:
			if len(payload) != 4 {
				return errors.New("hub: malformed ack")
			}
			n := int(binary.BigEndian.Uint32(payload))
			c.wmu.Lock()
			if len(c.acks) == 0 {
				c.wmu.Unlock()
				return errors.New("hub: ack without publish")
			}
			ch := c.acks[0]
			// Shift in place: few publishes wait at once, and the backing
			// array is reused instead of reallocated by the next append.
			copy(c.acks, c.acks[1:])
			c.acks[len(c.acks)-1] = nil
			c.acks = c.acks[:len(c.acks)-1]
			c.wmu.Unlock()
			ch <- n
		case FrameDrain, FrameStop:
			if len(payload) != 8 {
				return errors.New("hub: malformed drain")
			}
			if c.ev.Drain != nil {
				c.ev.Drain(time.Duration(binary.BigEndian.Uint64(payload))*time.Millisecond, typ == FrameStop)
			}
		case FramePause:
			if len(payload) != 8 {
				return errors.New("hub: malformed pause")
			}
			if c.ev.PauseDrain != nil {
				c.ev.PauseDrain(binary.BigEndian.Uint64(payload) != 0)
			}
		default:
			return errors.New("hub: unknown frame type from supervisor")
		}
	}
}
