package server

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/websocket"
)

// benchConns registers n in-memory sockets on a.
func benchConns(s *Server, a *appState, n int) []*conn {
	conns := make([]*conn, n)
	for i := range conns {
		c := &conn{srv: s, nc: &countingConn{discardConn: *newDiscardConn()}, app: a, id: strconv.Itoa(i) + ".1"}
		c.dec = websocket.NewDecoder(0, 0)
		a.mu.Lock()
		a.conns[c.id] = c
		a.mu.Unlock()
		conns[i] = c
	}
	return conns
}

// BenchmarkSendToUser is one API event on #server-to-user-{id} delivered
// on this node to a user's signed-in sockets (1 and 3, a user's tabs),
// beside the same event on a channel with 1 subscriber (Reverb's path).
func BenchmarkSendToUser(b *testing.B) {
	for _, c := range []struct {
		name    string
		sockets int
		user    bool
	}{{"channel/subscribers=1", 1, false}, {"user/sockets=1", 1, true}, {"user/sockets=3", 3, true}} {
		b.Run(c.name, func(b *testing.B) {
			s, err := New(Options{Apps: []laravelcfg.App{appA()}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			a := s.appList()[0]
			target := "bench"
			for _, conn := range benchConns(s, a, c.sockets) {
				if c.user {
					s.signIn(conn, signedUser{id: "7"}, `{"id":"7"}`)
				} else {
					a.mu.Lock()
					a.addSub(a.findOrCreate(target), conn, phpNull)
					a.mu.Unlock()
				}
			}
			if c.user {
				target = "#server-to-user-7"
			}
			msg := messageMsg(a, []byte(`{"event":"App\\Events\\Bench","channels":["`+target+`"],"data":"{\"n\":1}"}`), "")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.deliver(msg)
			}
		})
	}
}

// BenchmarkSubscribeChurn is one socket subscribing to and leaving a
// channel with 100 other subscribers on this node: Reverb's work alone,
// then with enable_subscription_count (two ledger messages through the bus
// and a pusher_internal:subscription_count to the 100 for each).
func BenchmarkSubscribeChurn(b *testing.B) {
	for _, counts := range []bool{false, true} {
		b.Run(fmt.Sprintf("subscription_count=%v", counts), func(b *testing.B) {
			app := appA()
			app.SubscriptionCount = counts
			s, err := New(Options{Apps: []laravelcfg.App{app}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			a := s.appList()[0]
			conns := benchConns(s, a, 101)
			sub := []byte(`{"event":"pusher:subscribe","data":{"channel":"room"}}`)
			unsub := []byte(`{"event":"pusher:unsubscribe","data":{"channel":"room"}}`)
			for _, c := range conns[1:] {
				c.handleMessage(sub)
			}
			c := conns[0]
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.handleMessage(sub)
				c.handleMessage(unsub)
			}
			b.StopTimer()
			s.waitPublishes(5e9)
		})
	}
}
