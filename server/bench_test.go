package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

// BenchmarkClientEventWebhook is the hot-path cost of a client_event
// webhook: client events from one socket fanned out to 1,000 in-memory
// subscribers, with no webhook, with a client_event webhook, and with
// Reverb's MessageSent posted to listeners (one event per delivery), whose
// receiver (in this process, so its CPU counts too) answers 200 at once.
// It reports the process's CPU time per delivery (user + system), the
// figure a client_event webhook must not raise by more than 10 %.
func BenchmarkClientEventWebhook(b *testing.B) {
	const n = 1000
	for _, hook := range []string{"none", "client_event", "message_sent"} {
		b.Run("hook="+hook, func(b *testing.B) {
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
			}))
			defer recv.Close()
			app := appA()
			app.AcceptClientEventsFrom = "all"
			switch hook {
			case "client_event":
				app.Webhooks = []laravelcfg.Webhook{{URL: recv.URL, EventTypes: []string{"client_event"}}}
			case "message_sent":
				app.Listeners = &laravelcfg.Listeners{URL: recv.URL, Events: []string{"message_sent"}}
			}
			s, err := New(Options{Apps: []laravelcfg.App{app}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			a := s.appList()[0]
			newConn := func(id string) *conn {
				c := &conn{srv: s, nc: &countingConn{discardConn: *newDiscardConn()}, app: a, id: id}
				c.dec = websocket.NewDecoder(0, 0)
				a.mu.Lock()
				a.conns[c.id] = c
				a.mu.Unlock()
				return c
			}
			for i := 0; i < n; i++ {
				c := newConn(strconv.Itoa(i) + ".1")
				a.mu.Lock()
				a.addSub(a.findOrCreate("bench"), c, phpNull)
				a.mu.Unlock()
			}
			sender := newConn("sender.1")
			msg := []byte(`{"event":"client-bench","channel":"bench","data":{"n":1}}`)
			out0 := a.stats.MessagesOut.Load()
			cpu0 := processCPU()
			b.ResetTimer()
			listenerEvents := func() int64 {
				_, li := s.hooks.stats(a.cfg)
				return li.Events + li.DroppedQueueFull
			}
			for i := 0; i < b.N; i++ {
				sender.handleMessage(msg)
				if hook == "message_sent" && i%5 == 4 {
					// Every delivery is an event for the listeners: let
					// them be posted (the queue holds 10,000), so the
					// figure is their whole cost, not drops.
					for listenerEvents() < int64(i+1)*n {
						time.Sleep(50 * time.Microsecond)
					}
				}
				if i%100 == 99 {
					// Let the bus catch up, as 100 events/s would.
					for a.stats.MessagesOut.Load()-out0 < int64(i+1)*n {
						time.Sleep(50 * time.Microsecond)
					}
				}
			}
			for a.stats.MessagesOut.Load()-out0 < int64(b.N)*n {
				time.Sleep(50 * time.Microsecond)
			}
			b.StopTimer()
			cpu := processCPU() - cpu0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/delivery")
		})
	}
}

// BenchmarkBusMessageNoSubscribers is what a node pays, once the message is
// read from the bus, for a broadcast on a channel it holds no subscriber
// of: in the classic routing every node pays it for every event of the
// cluster (docs/scaling.md, capacity model).
func BenchmarkBusMessageNoSubscribers(b *testing.B) {
	s, err := New(Options{Apps: []laravelcfg.App{appA()}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a := s.appList()[0]
	msg := messageMsg(a, []byte(`{"event":"App\\Events\\Bench","channels":["elsewhere"],"data":"{\"n\":1}"}`), "")
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.deliver(msg)
	}
}
