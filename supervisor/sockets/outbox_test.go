//go:build linux && !portable

package sockets

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/reverb-go/reverb/supervisor/fdreserve"
	"golang.org/x/sys/unix"
)

// acceptN returns n accepted server-side descriptors and their clients.
func acceptN(t *testing.T, n int) (ln net.Listener, fds []int, clients []net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	acc, err := NewAcceptor(ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	for len(fds) < n {
		got, err := acc.Accept(nil)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, got...)
	}
	return ln, fds, clients
}

func isSocket(fd int) bool {
	_, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	return err == nil
}

// The Outbox keeps its copies until the worker acknowledges, hands back
// what the worker says it could not install, and everything unacknowledged
// when the worker goes away.
func TestOutboxHandsBackWhatWasNotInstalled(t *testing.T) {
	_, fds, _ := acceptN(t, 5)
	sup, child, err := DispatchPair()
	if err != nil {
		t.Fatal(err)
	}
	worker, err := net.FileConn(child)
	child.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := NewOutbox(sup)
	var mu sync.Mutex
	var back [][]int
	var tags []any
	var reports []Report
	done := make(chan struct{})
	go func() {
		defer close(done)
		out.Run(func(fds []int, tag any) {
			mu.Lock()
			back, tags = append(back, fds), append(tags, tag)
			mu.Unlock()
		}, func(r Report) {
			mu.Lock()
			reports = append(reports, r)
			mu.Unlock()
		})
	}()
	if err := out.Send(fds[:3], "first", false, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := out.Send(fds[3:], "second", false, time.Second); err != nil {
		t.Fatal(err)
	}
	// The worker reads both messages; it installed 1 of the first three,
	// and answers nothing for the second before it exits.
	wu := worker.(*net.UnixConn)
	var got [][]int
	for i := 0; i < 2; i++ {
		buf, oob := make([]byte, 16), make([]byte, unix.CmsgSpace(4*MaxBatch))
		n, oobn, _, _, err := wu.ReadMsgUnix(buf, oob)
		if err != nil || n != sendLen {
			t.Fatalf("message %d: %d bytes, %v", i, n, err)
		}
		r, err := fdsFromRights(oob[:oobn])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got[0]) != 3 || len(got[1]) != 2 {
		t.Fatalf("received %v", got)
	}
	wu.Write(encodeAnswer(msgAck, 1, 1, Report{Full: true, Limit: 256}))
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(back) == 1 })
	mu.Lock()
	if len(back[0]) != 2 || back[0][0] != fds[1] || back[0][1] != fds[2] || tags[0] != "first" || len(reports) != 1 || !reports[0].Full || reports[0].Limit != 256 {
		t.Fatalf("back %v tags %v reports %v", back, tags, reports)
	}
	mu.Unlock()
	if !out.Full() || out.Limit() != 256 {
		t.Fatal("report not kept")
	}
	if isSocket(fds[0]) || !isSocket(fds[1]) || !isSocket(fds[2]) {
		t.Fatal("the acknowledged copy should be closed, the others kept")
	}
	// The worker goes: the second message was never acknowledged.
	worker.Close()
	for _, g := range got {
		for _, fd := range g {
			unix.Close(fd)
		}
	}
	<-done
	if len(back) != 2 || len(back[1]) != 2 || back[1][0] != fds[3] || tags[1] != "second" {
		t.Fatalf("back %v tags %v", back, tags)
	}
	if err := out.Send(fds[3:], nil, false, time.Second); err == nil {
		t.Fatal("Send after the worker went")
	}
	for _, b := range back {
		for _, fd := range b {
			unix.Close(fd)
		}
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A worker whose descriptor table is full receives a truncated message
// (MSG_CTRUNC): it installs what fits, releases its reserve, serves those
// connections, and acknowledges only them; the supervisor's copies of the
// rest come back to it. The worker runs in a child process whose limit is
// set so that exactly two descriptors fit.
func TestTruncatedMessageComesBack(t *testing.T) {
	if os.Getenv("DISPATCH_TRUNCATED_CHILD") == "1" {
		truncatedChild()
		return
	}
	_, fds, clients := acceptN(t, 5)
	sup, child, err := DispatchPair()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTruncatedMessageComesBack$")
	cmd.Env = append(os.Environ(), "DISPATCH_TRUNCATED_CHILD=1")
	cmd.ExtraFiles = []*os.File{child}
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	defer cmd.Wait()
	out := NewOutbox(sup)
	backc := make(chan []int, 4)
	reports := make(chan Report, 4)
	go out.Run(func(fds []int, _ any) { backc <- fds }, func(r Report) { reports <- r })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("child: %q", lines.Text())
	}
	if err := out.Send(fds, nil, true, time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case back := <-backc:
		if len(back) != 3 || back[0] != fds[2] {
			t.Fatalf("handed back %v of %v", back, fds)
		}
		for _, fd := range back {
			if !isSocket(fd) {
				t.Fatalf("fd %d handed back closed", fd)
			}
			unix.Close(fd)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing handed back")
	}
	if r := <-reports; !r.Full || r.Limit == 0 {
		t.Fatalf("report %+v", r)
	}
	// The two that fit are served by the worker.
	for i := 0; i < 2; i++ {
		clients[i].SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(clients[i])
		if err != nil || string(b) != "served "+strconv.Itoa(i) {
			t.Fatalf("client %d: %q %v", i, b, err)
		}
	}
	if lines.Scan(); lines.Text() != "done" {
		t.Fatalf("child: %q", lines.Text())
	}
	sup.Close()
}

// truncatedChild is the worker of TestTruncatedMessageComesBack.
func truncatedChild() {
	f := os.NewFile(3, "dispatch")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		fmt.Println("no dispatch socket:", err)
		os.Exit(1)
	}
	dl := NewDispatchListener(c.(*net.UnixConn), nil)
	res := fdreserve.New(fdreserve.Options{Size: 4, Limit: 1, Retry: time.Hour, OnChange: dl.Report})
	dl.SetReserve(res)
	// Fill every hole below the highest descriptor, then allow two more.
	var filler []int
	for high := highestFD(); ; {
		fd, err := unix.Dup(0)
		if err != nil {
			fmt.Println("dup:", err)
			os.Exit(1)
		}
		filler = append(filler, fd)
		if fd >= high {
			break
		}
	}
	lowest, err := unix.FcntlInt(0, unix.F_DUPFD, 0)
	if err != nil {
		fmt.Println("fcntl:", err)
		os.Exit(1)
	}
	unix.Close(lowest)
	limit := uint64(lowest + 2)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: limit, Max: limit}); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	for i := 0; i < 2; i++ {
		conn, err := dl.Accept()
		if err != nil {
			fmt.Println("accept:", err)
			os.Exit(1)
		}
		fmt.Fprintf(conn, "served %d", i)
		conn.Close()
	}
	fmt.Println("done")
	_ = filler
	os.Exit(0)
}

func highestFD() int {
	entries, _ := os.ReadDir("/proc/self/fd")
	hi := 0
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n > hi {
			hi = n
		}
	}
	return hi
}

// BenchmarkHandOff is the supervisor → worker hand-off of one connection
// per message (the worst case: under load messages carry batches), with
// the acknowledgement the open-files limit needs ("acked") and without it
// ("fire-and-forget", SendFDs). Both sides run in this process.
func BenchmarkHandOff(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	fd := int(mustFD(b, c))
	for _, acked := range []bool{true, false} {
		name := "fire-and-forget"
		if acked {
			name = "acked"
		}
		b.Run(name, func(b *testing.B) {
			sup, child, err := DispatchPair()
			if err != nil {
				b.Fatal(err)
			}
			wc, _ := net.FileConn(child)
			child.Close()
			dl := NewDispatchListener(wc.(*net.UnixConn), ln.Addr())
			out := NewOutbox(sup)
			done := make(chan struct{})
			go func() { out.Run(func(fds []int, _ any) {}, nil); close(done) }()
			go func() {
				for {
					cc, err := dl.Accept()
					if err != nil {
						return
					}
					cc.Close()
				}
			}()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dup, _ := unix.Dup(fd)
				if acked {
					if err := out.Send([]int{dup}, nil, false, time.Second); err != nil {
						b.Fatal(err)
					}
				} else {
					if err := SendFDs(sup, []int{dup}, time.Second); err != nil {
						b.Fatal(err)
					}
					unix.Close(dup)
				}
			}
			b.StopTimer()
			dl.Close()
			sup.Close()
			<-done
		})
	}
}

func mustFD(b *testing.B, c net.Conn) uintptr {
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var fd uintptr
	raw.Control(func(f uintptr) { fd = f })
	return fd
}
