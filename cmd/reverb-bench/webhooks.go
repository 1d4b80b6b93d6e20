package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The cost of webhooks on the hot path: client events fanned out to 1,000
// subscribers at 100 events/s, with and without a client_event webhook
// (whose receiver, in this process, answers 200 at once). The webhook adds
// one event per client event, not per delivery, so the server's CPU per
// delivery should barely move: the target is at most +10 %. Runs
// alternate off/on twice to spread the machine's noise over both.

// hookReceiver counts webhook requests and events and answers 200.
type hookReceiver struct {
	srv      *http.Server
	addr     string
	requests atomic.Int64
	events   atomic.Int64
}

func startHookReceiver() (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &hookReceiver{addr: ln.Addr().String()}
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.requests.Add(1)
		r.events.Add(int64(strings.Count(string(b), `"name":"client_event"`)))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }() // ends with Close
	return r, nil
}

// withWebhook adds a client_event webhook to the app's config/reverb.php.
func withWebhook(a *benchApp, url string) error {
	p := filepath.Join(a.dir, "config", "reverb.php")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	const anchor = "'accept_client_events_from' =>"
	i := strings.Index(string(b), anchor)
	if i < 0 {
		return fmt.Errorf("%s: no %s to put the webhook after", p, anchor)
	}
	hook := "'webhooks' => [['url' => '" + url + "', 'event_types' => ['client_event']]],\n                "
	out := string(b[:i]) + hook + string(b[i:])
	return os.WriteFile(p, []byte(out), 0o644)
}

func webhooksScenario(cfg config) error {
	dur := 10 * time.Second
	if cfg.quick {
		dur = 3 * time.Second
	}
	recv, err := startHookReceiver()
	if err != nil {
		return err
	}
	defer recv.srv.Close()
	perDelivery := map[bool][]float64{}
	for _, on := range []bool{false, true, false, true} {
		a, err := prepareApp(cfg.example)
		if err != nil {
			return err
		}
		if on {
			if err := withWebhook(a, "http://"+recv.addr+"/pusher/webhooks"); err != nil {
				return err
			}
		}
		label := "webhooks off"
		if on {
			label = "client_event webhook on"
		}
		fmt.Printf("   -- %s\n", label)
		ev0, req0 := recv.events.Load(), recv.requests.Load()
		err = func() error {
			defer os.RemoveAll(a.dir)
			srv, err := startServer(cfg.server, a, cfg.workers)
			if err != nil {
				return err
			}
			defer srv.stop()
			pool, err := startClients(a, 2)
			if err != nil {
				return err
			}
			defer pool.stop()
			pub, err := dialPusher(a.addr(), "127.0.0.1", "", a.key, benchTLS, 5*time.Second)
			if err != nil {
				return err
			}
			defer pub.Close()
			go func() { // the publisher reads what the server sends it (pings)
				for {
					if _, _, err := pub.readFrame(); err != nil {
						return
					}
				}
			}()
			send := func(seq int) error {
				msg := `{"event":"client-bench","channel":"fanout","data":{"t":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `,"s":` + strconv.Itoa(seq) + `}}`
				return pub.sendText([]byte(msg))
			}
			us, err := fanoutMeasure(cfg, a, srv, pool, 1000, 100, dur, nil, nil, send)
			if err != nil {
				return err
			}
			perDelivery[on] = append(perDelivery[on], us)
			return nil
		}()
		if err != nil {
			return err
		}
		if on {
			// The batches of the last moments land after the run.
			time.Sleep(500 * time.Millisecond)
			fmt.Printf("   webhook receiver: %d client_event events in %d requests\n", recv.events.Load()-ev0, recv.requests.Load()-req0)
		}
	}
	mean := func(xs []float64) float64 {
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s / float64(max(len(xs), 1))
	}
	off, on := mean(perDelivery[false]), mean(perDelivery[true])
	figure("CPU per delivery, webhooks off (mean of 2)", off, "µs", nil)
	figure("CPU per delivery, client_event webhook on (mean of 2)", on, "µs", nil)
	if off > 0 {
		figure("client_event webhook: CPU per delivery on/off", on/off, "x", le(1.10))
	}
	return nil
}
