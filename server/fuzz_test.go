package server

import (
	"net"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/websocket"
)

// discardConn is a net.Conn that accepts every write and never reads.
type discardConn struct{ closed chan struct{} }

func newDiscardConn() *discardConn { return &discardConn{closed: make(chan struct{})} }

func (d *discardConn) Read([]byte) (int, error)         { <-d.closed; return 0, net.ErrClosed }
func (d *discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (d *discardConn) Close() error                     { close(d.closed); return nil }
func (d *discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (d *discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (d *discardConn) SetDeadline(time.Time) error      { return nil }
func (d *discardConn) SetReadDeadline(time.Time) error  { return nil }
func (d *discardConn) SetWriteDeadline(time.Time) error { return nil }

// fakeConn registers a socket on app without a network behind it.
func fakeConn(s *Server, a *appState, id string) *conn {
	c := &conn{srv: s, nc: newDiscardConn(), app: a, id: id}
	c.dec = websocket.NewDecoder(int64(a.cfg.MaxMessageSize), 0)
	c.touch()
	a.mu.Lock()
	a.conns[id] = c
	a.mu.Unlock()
	a.open.Add(1)
	return c
}

// FuzzHandleMessage drives the message decoder path: no input may panic or
// leave the channel registry inconsistent.
func FuzzHandleMessage(f *testing.F) {
	seeds := []string{
		`{"event":"pusher:ping"}`,
		`{"event":"pusher:subscribe","data":{"channel":"test"}}`,
		`{"event":"pusher:subscribe","data":{"channel":"presence-x","auth":"k:x","channel_data":"{\"user_id\":1}"}}`,
		`{"event":"pusher:unsubscribe","data":{"channel":"test"}}`,
		`{"event":"client-x","channel":"test","data":{"a":[1,2,{}]}}`,
		`{"event":"client-x","channel":"test","data":"{\"a\":1}"}`,
		`{"event":"pusher:subscribe","data":"{\"channel\":\"x\"}"}`,
		`{"event":"pusher:connection_established"}`,
		`Hi`, `[]`, `{"event":[]}`, `{"event":"pusher:subscribe","data":{"channel":1e400}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	app := appA()
	app.AcceptClientEventsFrom = "all"
	s, err := New(Options{Apps: []laravelcfg.App{app}})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	a := s.appList()[0]
	peer := fakeConn(s, a, "1.1")
	peer.handleMessage([]byte(`{"event":"pusher:subscribe","data":{"channel":"test"}}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c := fakeConn(s, a, "2.2")
		c.handleMessage(msg)
		c.handleMessage(msg)
		c.abort()
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, ch := range a.channels {
			for _, sb := range ch.subscribers() {
				if sb.c == c && !sb.dead.Load() {
					t.Fatalf("closed socket still subscribed to %q", ch.name)
				}
			}
		}
	})
}

var phpNull php.Value // PHP null
