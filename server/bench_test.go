package server

import (
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/websocket"
)

// countingConn is a socket that always accepts.
type countingConn struct {
	discardConn
}

func (c *countingConn) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkFanout measures one broadcast to N in-memory subscribers: the
// encode once + enqueue + coalesced write path, per delivered message.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			s, err := New(Options{Apps: []laravelcfg.App{appA()}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			a := s.appList()[0]
			conns := make([]*conn, n)
			for i := range conns {
				c := &conn{srv: s, nc: &countingConn{discardConn: *newDiscardConn()}, app: a, id: strconv.Itoa(i) + ".1"}
				c.dec = websocket.NewDecoder(0, 0)
				a.mu.Lock()
				a.conns[c.id] = c
				ch := a.findOrCreate("bench")
				a.addSub(ch, c, phpNull)
				a.mu.Unlock()
				conns[i] = c
			}
			msg := messageMsg(a, []byte(`{"event":"App\\Events\\Bench","channels":["bench"],"data":"{\"n\":1}"}`), "")
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				s.deliver(msg)
			}
			// Wait for the writers to drain.
			for _, c := range conns {
				for {
					c.omu.Lock()
					busy := c.writing
					c.omu.Unlock()
					if !busy {
						break
					}
					time.Sleep(10 * time.Microsecond)
				}
			}
			el := time.Since(start)
			b.ReportMetric(float64(el.Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// BenchmarkFanoutLoopback delivers to real loopback TCP sockets read by a
// client goroutine each, and reports the time to the last subscriber.
func BenchmarkFanoutLoopback(b *testing.B) {
	const n = 1000
	ts := startServer(b, Options{})
	done := make(chan struct{}, n)
	var ready atomic.Int64
	for i := 0; i < n; i++ {
		c := ts.dial(b, "reverb-key")
		c.subscribe("bench", "", "")
		c.subscribed("bench")
		go func() {
			for {
				_ = c.ws.SetReadDeadline(time.Now().Add(time.Minute))
				if _, _, err := c.ws.ReadMessage(); err != nil {
					return
				}
				done <- struct{}{}
			}
		}()
		ready.Add(1)
	}
	b.ResetTimer()
	var worst time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		ts.trigger(b, "123456", "e", "d", "bench")
		for j := 0; j < n; j++ {
			<-done
		}
		if d := time.Since(start); d > worst {
			worst = d
		}
	}
	b.ReportMetric(float64(worst.Microseconds()), "µs-to-last(worst)")
	_ = net.IPv4len
}
