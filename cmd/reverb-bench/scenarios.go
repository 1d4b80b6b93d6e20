package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// withServer prepares an app copy, starts the server and the clients, runs
// fn and tears everything down.
func withServer(cfg config, workers, clients int, fn func(a *benchApp, srv *runningServer, pool clientPool) error, extra ...string) error {
	a, err := prepareApp(cfg.example)
	if err != nil {
		return err
	}
	defer os.RemoveAll(a.dir)
	srv, err := startServer(cfg.server, a, workers, extra...)
	if err != nil {
		return err
	}
	defer srv.stop()
	pool, err := startClients(a, clients)
	if err != nil {
		return err
	}
	defer pool.stop()
	return fn(a, srv, pool)
}

func idleScenario(cfg config) error {
	n := 10000
	if cfg.quick {
		n = 2000
	}
	return withServer(cfg, cfg.workers, 2, func(a *benchApp, srv *runningServer, pool clientPool) error {
		_, err := idleRun(srv, pool, n, "")
		return err
	})
}

// idleRun connects n idle subscribers and reports the server's memory per
// connection (KiB, returned too) and its idle CPU.
func idleRun(srv *runningServer, pool clientPool, n int, label string) (float64, error) {
	rss0, _ := treeUsage(srv.pid())
	ok, failed, _, _, _, err := connectSpread(pool, n, "idle", 64, false)
	if err != nil {
		return 0, err
	}
	time.Sleep(3 * time.Second) // let the runtime settle (GC, stacks)
	rss1, cpu1 := treeUsage(srv.pid())
	time.Sleep(10 * time.Second)
	_, cpu2 := treeUsage(srv.pid())
	fmt.Printf("   %s%d connected, %d failed\n", label, ok, failed)
	kib := float64(rss1-rss0) / float64(max(ok, 1)) / 1024
	var t *target
	if label == "" {
		t = le(4)
	}
	figure(fmt.Sprintf("%smemory per idle subscribed conn (%d)", label, ok), kib, "KiB", t)
	figure(label+"server RSS total", float64(rss1)/(1<<20), "MiB", nil)
	figure(label+"idle server CPU", (cpu2-cpu1)/10*100, "% of a core", nil)
	return kib, nil
}

// fanout sends events at rate per second for dur to subs subscribers of one
// channel and reports delivery, loss, latency and CPU per delivery (µs,
// returned too).
func fanoutRun(cfg config, a *benchApp, srv *runningServer, pool clientPool, subs, rate int, dur time.Duration, cpuTarget, p99Target *target) (float64, error) {
	return fanoutMeasure(cfg, a, srv, pool, subs, rate, dur, cpuTarget, p99Target, nil)
}

// fanoutMeasure is fanoutRun with the sender given (nil: the HTTP API).
func fanoutMeasure(cfg config, a *benchApp, srv *runningServer, pool clientPool, subs, rate int, dur time.Duration, cpuTarget, p99Target *target, send func(seq int) error) (float64, error) {
	ok, failed, _, _, _, err := connectSpread(pool, subs, "fanout", 64, false)
	if err != nil {
		return 0, err
	}
	if failed > 0 {
		fmt.Printf("   %d of %d subscribers failed to connect\n", failed, subs)
	}
	time.Sleep(time.Second)
	ccpu0, err := resetAll(pool)
	if err != nil {
		return 0, err
	}
	if send == nil {
		api := newAPIClient(a)
		send = func(seq int) error { return api.trigger("fanout", seq) }
	}
	_, cpu0 := treeUsage(srv.pid())
	self0, busy0 := selfCPU(), machineBusy()
	sent, apiFail := 0, 0
	waitPerf := startPerf(cfg.perfDir, fmt.Sprintf("fanout-%d", subs), srv.pid(), dur/2)
	defer waitPerf()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	start := time.Now()
	for time.Since(start) < dur {
		<-tick.C
		if err := send(sent); err != nil {
			apiFail++
			continue
		}
		sent++
	}
	tick.Stop()
	elapsed := time.Since(start)
	expected := uint64(sent) * uint64(ok)
	deadline := time.Now().Add(5 * time.Second)
	var received uint64
	var lat hist
	var clientCPU float64
	for {
		received, _, lat, clientCPU, _, _, err = reportAll(pool)
		if err != nil || received >= expected || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, cpu1 := treeUsage(srv.pid())
	window := time.Since(start)
	// The coordinator's own CPU (the API sender) is client-side work too.
	clientCPU = clientCPU - ccpu0 + selfCPU() - self0
	label := fmt.Sprintf("%d subs × %d ev/s", ok, rate)
	fmt.Printf("   %s: %d events sent (%d API failures), %d deliveries expected\n", label, sent, apiFail, expected)
	figure(label+": delivered", float64(received)/elapsed.Seconds(), "msg/s", nil)
	figure(label+": lost", float64(int64(expected)-int64(received)), "msgs", le(0))
	figure(label+": latency p50", ms(lat.quantile(0.5)), "ms", nil)
	figure(label+": latency p99", ms(lat.quantile(0.99)), "ms", p99Target)
	figure(label+": latency max", ms(lat.max()), "ms", nil)
	var perDelivery float64
	if received > 0 {
		perDelivery = (cpu1 - cpu0) / float64(received) * 1e6
		figure(label+": server CPU per delivery", perDelivery, "µs", cpuTarget)
	}
	cpuShare(label+": ", cpu1-cpu0, clientCPU, machineBusy()-busy0, window)
	return perDelivery, nil
}

func fanoutScenario(cfg config) error {
	dur := 10 * time.Second
	if cfg.quick {
		dur = 3 * time.Second
	}
	if err := withServer(cfg, cfg.workers, 2, func(a *benchApp, srv *runningServer, pool clientPool) error {
		if _, err := fanoutRun(cfg, a, srv, pool, 1000, 100, dur, nil, nil); err != nil {
			return err
		}
		return ceilingRun(a, srv, pool, dur)
	}); err != nil {
		return err
	}
	subs := 10000
	if cfg.quick {
		subs = 3000
	}
	return withServer(cfg, cfg.workers, 2, func(a *benchApp, srv *runningServer, pool clientPool) error {
		_, err := fanoutRun(cfg, a, srv, pool, subs, 10, dur, nil, le(100))
		return err
	})
}

// ceilingRun fires events as fast as 8 concurrent API senders can, 10 per
// batch_events call, so frames queue up and the server's coalesced writes set
// the pace (one event per HTTP call capped the first runs at ~800 events/s,
// i.e. the API sender, not the fan-out, was the limit).
func ceilingRun(a *benchApp, srv *runningServer, pool clientPool, dur time.Duration) error {
	ccpu0, err := resetAll(pool)
	if err != nil {
		return err
	}
	api := newAPIClient(a)
	_, cpu0 := treeUsage(srv.pid())
	self0, busy0 := selfCPU(), machineBusy()
	const batch = 10
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < dur {
				if err := api.triggerBatch("fanout", int(sent.Load()), batch); err != nil {
					failed.Add(1)
					continue
				}
				sent.Add(batch)
			}
		}()
	}
	wg.Wait()
	time.Sleep(2 * time.Second) // let queued frames drain
	received, last, _, clientCPU, _, _, err := reportAll(pool)
	if err != nil {
		return err
	}
	_, cpu1 := treeUsage(srv.pid())
	clientCPU = clientCPU - ccpu0 + selfCPU() - self0
	// The rate runs to the last delivery, not to the end of the drain pause.
	elapsed := time.Unix(0, last).Sub(start)
	if last == 0 || elapsed <= 0 {
		elapsed = time.Since(start)
	}
	fmt.Printf("   ceiling: %d events sent by 8 senders in batches of 10 in %.1fs (%d failed calls), last delivery at +%.2fs\n",
		sent.Load(), dur.Seconds(), failed.Load(), elapsed.Seconds())
	figure("ceiling: deliveries per second", float64(received)/elapsed.Seconds(), "msg/s", ge(1e6))
	if received > 0 {
		figure("ceiling: server CPU per delivery", (cpu1-cpu0)/float64(received)*1e6, "µs", nil)
	}
	cpuShare("ceiling: ", cpu1-cpu0, clientCPU, machineBusy()-busy0, time.Since(start))
	return nil
}

func burstScenario(cfg config) error {
	subs := 10000
	if cfg.quick {
		subs = 3000
	}
	return withServer(cfg, cfg.workers, 2, func(a *benchApp, srv *runningServer, pool clientPool) error {
		ok, _, _, _, _, err := connectSpread(pool, subs, "burst", 64, false)
		if err != nil {
			return err
		}
		time.Sleep(time.Second)
		api := newAPIClient(a)
		waitPerf := startPerf(cfg.perfDir, "burst", srv.pid(), 2*time.Second)
		defer waitPerf()
		var results []time.Duration
		var serverCPU, clientCPU float64
		var machine cpuTimes
		for round := 0; round < 7; round++ {
			ccpu0, err := resetAll(pool)
			if err != nil {
				return err
			}
			_, scpu0 := treeUsage(srv.pid())
			times0 := machineTimes()
			t0 := time.Now()
			if err := api.trigger("burst", round); err != nil {
				return err
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				received, last, _, ccpu, _, _, err := reportAll(pool)
				if err != nil {
					return err
				}
				if received >= uint64(ok) {
					results = append(results, time.Unix(0, last).Sub(t0))
					_, scpu := treeUsage(srv.pid())
					serverCPU += scpu - scpu0
					clientCPU += ccpu - ccpu0
					machine = machine.add(machineTimes().sub(times0))
					break
				}
				if time.Now().After(deadline) {
					fmt.Printf("   round %d: only %d of %d received\n", round, received, ok)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if len(results) == 0 {
			return fmt.Errorf("no complete burst")
		}
		sort.Slice(results, func(i, j int) bool { return results[i] < results[j] })
		figure(fmt.Sprintf("burst to last of %d: median of %d", ok, len(results)), ms(results[len(results)/2]), "ms", le(50))
		figure("burst: best", ms(results[0]), "ms", nil)
		figure("burst: worst", ms(results[len(results)-1]), "ms", nil)
		// CPU per round (10 ms ticks, so ±10 ms): if server + client CPU
		// is near 2 cores × the burst time, the cores, not a queue, bound it.
		n := float64(len(results))
		figure("burst: server CPU per round", serverCPU/n*1000, "ms", nil)
		figure("burst: server CPU per delivery", serverCPU/n/float64(ok)*1e6, "µs", nil)
		figure("burst: client CPU per round (incl. polling)", clientCPU/n*1000, "ms", nil)
		// The kernel's share alone (the server's sends with the readers'
		// softirq they run, the clients' reads), spread perfectly over
		// every core, is a floor no server reaches below on this machine.
		figure("burst: machine kernel CPU per round", machine.kernel/n*1000, "ms", nil)
		figure("burst: machine user CPU per round", machine.user/n*1000, "ms", nil)
		figure("burst: floor with no user-space work", machine.kernel/n*1000/float64(runtime.NumCPU()), "ms", nil)
		return nil
	})
}

func stormScenario(cfg config) error {
	n := cfg.stormConns
	if cfg.quick {
		n = min(n, 4000)
	}
	return withServer(cfg, cfg.workers, 4, func(a *benchApp, srv *runningServer, pool clientPool) error {
		ccpu0, err := resetAll(pool)
		if err != nil {
			return err
		}
		_, scpu0 := treeUsage(srv.pid())
		times0 := machineTimes()
		waitPerf := startPerf(cfg.perfDir, "storm", srv.pid(), 2*time.Second)
		defer waitPerf()
		over0, drops0, syn0 := listenOverflows(), tcpExt("ListenDrops"), tcpExt("TCPReqQFullDrop")
		ok, failed, refused, connect, elapsed, err := connectSpreadWith(pool, n,
			clientCmd{Channel: "storm", Concurrency: cfg.stormConc, Epoll: cfg.stormDialer == "epoll"})
		if err != nil {
			return err
		}
		over1, drops1, syn1 := listenOverflows(), tcpExt("ListenDrops"), tcpExt("TCPReqQFullDrop")
		times := machineTimes().sub(times0)
		_, _, _, clientCPU, _, _, _ := reportAll(pool)
		fmt.Printf("   %d connected, %d failed, %d refused in %.2fs\n", ok, failed, refused, elapsed.Seconds())
		figure("connects+subscribes per second", float64(ok)/elapsed.Seconds(), "conn/s", ge(15000))
		figure("connect+subscribe p50", ms(connect.quantile(0.5)), "ms", nil)
		figure("connect+subscribe p99", ms(connect.quantile(0.99)), "ms", nil)
		figure("listen-queue overflows", float64(over1-over0), "", le(0))
		figure("listen drops (all causes)", float64(drops1-drops0), "", nil)
		figure("SYN-queue-full drops", float64(syn1-syn0), "", nil)
		_, scpu := treeUsage(srv.pid())
		if ok > 0 {
			figure("server CPU per connect+subscribe", (scpu-scpu0)/float64(ok)*1e6, "µs", nil)
		}
		cpuShare("storm: ", scpu-scpu0, clientCPU-ccpu0, times.user+times.kernel, elapsed)
		kernelCeiling(ok, times)
		return nil
	})
}

// kernelCeiling prints what the kernel spent per connect+subscribe over the
// storm, both ends together (on loopback the server's receive path runs in
// the client's system calls and the other way round, so only the sum means
// anything), and the rate these cores would allow if nothing but the kernel
// ran: the storm's ceiling on this machine for any server and any client.
func kernelCeiling(ok int, t cpuTimes) {
	if ok == 0 || t.kernel <= 0 {
		return
	}
	perConnect := t.kernel / float64(ok)
	figure("machine kernel CPU per connect+subscribe", perConnect*1e6, "µs", nil)
	figure("machine user CPU per connect+subscribe", t.user/float64(ok)*1e6, "µs", nil)
	figure("ceiling with no user-space work", float64(runtime.NumCPU())/perConnect, "conn/s", nil)
}

func restartScenario(cfg config) error {
	subs := 2000
	if cfg.quick {
		subs = 500
	}
	return withServer(cfg, cfg.workers, 2, func(a *benchApp, srv *runningServer, pool clientPool) error {
		ok, _, _, _, _, err := connectSpread(pool, subs, "restart", 64, true)
		if err != nil {
			return err
		}
		if _, err := resetAll(pool); err != nil {
			return err
		}
		api := newAPIClient(a)
		stop := make(chan struct{})
		var apiOK, apiFail atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // events at 50/s throughout
			defer wg.Done()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if err := api.trigger("restart", seq); err != nil {
					apiFail.Add(1)
				} else {
					apiOK.Add(1)
				}
			}
		}()
		// New connections throughout, from a third client process.
		fresh, err := startClient(a.addr(), "127.0.0.9", "", a.key)
		if err != nil {
			return err
		}
		defer fresh.stop()
		var newOK, newFail, newRefused atomic.Int64
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				r, err := fresh.do(clientCmd{Op: "connect", N: 5, Channel: "restart", Reconnect: true})
				if err != nil {
					return
				}
				newOK.Add(int64(r.OK))
				newFail.Add(int64(r.Failed))
				newRefused.Add(int64(r.Refused))
			}
		}()
		time.Sleep(2 * time.Second)
		t0 := time.Now()
		out, err := exec.Command(cfg.server, "restart", "--dir", a.dir).CombinedOutput()
		if err != nil {
			close(stop)
			wg.Wait()
			return fmt.Errorf("reverb restart: %v: %s", err, out)
		}
		time.Sleep(20 * time.Second) // covers the default 10 s drain window
		close(stop)
		wg.Wait()
		_, _, _, _, refused, reconnects, err := reportAll(pool)
		if err != nil {
			return err
		}
		fmt.Printf("   %d subscribers with reconnect; `reverb restart` returned after %.2fs\n", ok, time.Since(t0).Seconds()-20)
		figure("reconnects after restart", float64(reconnects), "conns", nil)
		figure("refused connects during restart", float64(refused)+float64(newRefused.Load()), "", le(0))
		figure("failed new connects during restart", float64(newFail.Load()), "", le(0))
		figure("failed API calls during restart", float64(apiFail.Load()), "", le(0))
		figure("API calls during restart", float64(apiOK.Load()), "", nil)
		return nil
	})
}

func maxScenario(cfg config) error {
	clients := (cfg.maxConns + cfg.perClient - 1) / cfg.perClient
	return withServer(cfg, cfg.maxWorkers, clients, func(a *benchApp, srv *runningServer, pool clientPool) error {
		rss0, _ := treeUsage(srv.pid())
		ok, failed, refused, _, elapsed, err := connectSpread(pool, cfg.maxConns, "max", 128, false)
		if err != nil {
			return err
		}
		time.Sleep(3 * time.Second)
		rss1, _ := treeUsage(srv.pid())
		fmt.Printf("   %d connected, %d failed, %d refused in %.1fs with %d workers, %d client processes\n",
			ok, failed, refused, elapsed.Seconds(), cfg.maxWorkers, clients)
		figure("concurrent connections held", float64(ok), "conns", ge(80000))
		figure(fmt.Sprintf("memory per idle subscribed conn (%d)", ok), float64(rss1-rss0)/float64(max(ok, 1))/1024, "KiB", le(4))
		return nil
	})
}
