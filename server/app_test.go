package server

import (
	"math/rand/v2"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
)

// The subscriber list stays exact under random churn, and a slice taken
// before a change never changes under its reader.
func TestSubscriberListChurn(t *testing.T) {
	s, err := New(Options{Apps: []laravelcfg.App{appA()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := s.appList()[0]
	conns := make([]*conn, 300)
	for i := range conns {
		conns[i] = fakeConn(s, a, "9."+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	member := map[*conn]bool{}
	a.mu.Lock()
	defer a.mu.Unlock()
	ch := a.findOrCreate("churn")
	for step := 0; step < 5000; step++ {
		c := conns[rand.IntN(len(conns))]
		before := ch.subscribers()
		snapshot := append([]*sub(nil), before...)
		if member[c] && rand.IntN(2) == 0 {
			a.removeSub(ch, c)
			delete(member, c)
			if len(member) == 0 {
				ch = a.findOrCreate("churn")
			}
		} else {
			a.addSub(ch, c, phpNull)
			member[c] = true
		}
		for i := range before {
			if before[i] != snapshot[i] {
				t.Fatalf("step %d: a published slice changed under its reader", step)
			}
		}
		live := ch.liveSubs()
		if len(live) != len(member) || ch.live != len(member) {
			t.Fatalf("step %d: %d live, %d counted, want %d", step, len(live), ch.live, len(member))
		}
		for _, sb := range live {
			if !member[sb.c] {
				t.Fatalf("step %d: stale subscriber", step)
			}
		}
	}
}
