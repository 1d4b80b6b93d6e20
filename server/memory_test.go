//go:build unix

package server

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rss is the process's resident set size.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseUint(f[1], 10, 64)
	return n * uint64(os.Getpagesize())
}

func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// TestIdleMemory reports server memory per idle subscribed socket. Set
// REVERB_MEM_TEST=1 to run it (it opens a few thousand sockets).
func TestIdleMemory(t *testing.T) {
	if os.Getenv("REVERB_MEM_TEST") == "" {
		t.Skip("set REVERB_MEM_TEST=1 to measure memory per idle connection")
	}
	const n = 2000
	for _, goroutines := range []bool{false, true} {
		ts := startServer(t, Options{GoroutineReaders: goroutines})
		var conns []net.Conn
		warm := rawSubscriber(t, ts.addr)
		before := heapAndStacks()
		rss0 := rss()
		for i := 0; i < n; i++ {
			conns = append(conns, rawSubscriber(t, ts.addr))
		}
		time.Sleep(200 * time.Millisecond)
		after := heapAndStacks()
		t.Logf("RSS growth %.0f bytes per connection (clients included)", float64(rss()-rss0)/n)
		t.Logf("goroutine readers=%v: %.0f bytes per idle subscribed connection (both ends' sockets included)", goroutines, float64(after-before)/n)
		for _, c := range conns {
			_ = c.Close()
		}
		_ = warm.Close()
	}
}

// BenchmarkFanoutSockets broadcasts to N idle loopback sockets (clients
// hold no goroutine; the kernel buffers what they do not read) and reports
// process CPU per delivered message and the time until the last frame was
// written to its socket.
func BenchmarkFanoutSockets(b *testing.B) {
	for _, bc := range []struct{ n, burst int }{{1000, 1}, {1000, 10}, {8000, 1}} {
		n, burst := bc.n, bc.burst
		b.Run(fmt.Sprintf("subs=%d/burst=%d", n, burst), func(b *testing.B) {
			ts := startServer(b, Options{})
			conns := make([]net.Conn, 0, n)
			for i := 0; i < n; i++ {
				conns = append(conns, rawSubscriber(b, ts.addr))
			}
			defer func() {
				for _, c := range conns {
					_ = c.Close()
				}
			}()
			a := ts.s.appList()[0]
			a.mu.Lock()
			subs := a.channels["idle"].subscribers()
			a.mu.Unlock()
			msg := messageMsg(a, []byte(`{"event":"App\\Events\\Bench","channels":["idle"],"data":"{\"n\":1}"}`), "")
			b.ResetTimer()
			cpu0 := processCPU()
			var worst, total time.Duration
			frameLen := int64(len(textFrame([]byte(`{"event":"App\\Events\\Bench","data":"{\"n\":1}","channel":"idle"}`))))
			for i := 0; i < b.N; i++ {
				want := a.stats.BytesOut.Load() + frameLen*int64(len(subs)*burst)
				start := time.Now()
				for k := 0; k < burst; k++ {
					ts.s.deliver(msg)
				}
				for a.stats.BytesOut.Load() < want {
					time.Sleep(20 * time.Microsecond)
				}
				d := time.Since(start)
				total += d
				if d > worst {
					worst = d
				}
			}
			cpu := processCPU() - cpu0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n*burst), "cpu-ns/delivery")
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs-to-last(avg)")
			b.ReportMetric(float64(worst.Microseconds()), "µs-to-last(worst)")
		})
	}
}
