package server

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Under concurrent broadcasts every subscriber gets every event once, in
// publication order (the flushers coalesce but never reorder).
func TestBroadcastOrderUnderLoad(t *testing.T) {
	const subs, events = 200, 100
	ts := startServer(t, Options{})
	clients := make([]*client, subs)
	for i := range clients {
		c := ts.dial(t, "reverb-key")
		c.subscribe("load", "", "")
		c.subscribed("load")
		clients[i] = c
	}
	var wg sync.WaitGroup
	errs := make(chan string, subs)
	for _, c := range clients {
		wg.Add(1)
		go func(c *client) {
			defer wg.Done()
			for want := 0; want < events; want++ {
				_ = c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
				_, p, err := c.ws.ReadMessage()
				if err != nil {
					errs <- err.Error()
					return
				}
				if !strings.Contains(string(p), `"data":"`+strconv.Itoa(want)+`"`) {
					errs <- "got " + string(p) + " want event " + strconv.Itoa(want)
					return
				}
			}
		}(c)
	}
	for i := 0; i < events; i++ {
		ts.trigger(t, "123456", "e", strconv.Itoa(i), "load")
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
