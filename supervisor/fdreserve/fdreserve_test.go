package fdreserve

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// budget hands out placeholders from a fixed number of free descriptors,
// like a descriptor table with that much room.
type budget struct {
	mu   sync.Mutex
	free int
}

func (b *budget) open() (*os.File, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.free == 0 {
		return nil, syscall.EMFILE
	}
	b.free--
	r, w, err := os.Pipe() // a real file to close; its twin closed at once
	if err != nil {
		return nil, err
	}
	w.Close()
	return r, nil
}

func (b *budget) set(n int) { b.mu.Lock(); b.free = n; b.mu.Unlock() }

func TestReserveReleasesAndTakesBack(t *testing.T) {
	b := &budget{free: 10}
	var changes []bool
	var mu sync.Mutex
	r := New(Options{Size: 4, Headroom: 3, Retry: 5 * time.Millisecond, Limit: 256, Open: b.open,
		OnChange: func(full bool) { mu.Lock(); changes = append(changes, full); mu.Unlock() }})
	defer r.Close()
	if r.Full() || len(r.held) != 4 || r.Limit() != 256 {
		t.Fatalf("full %v held %d", r.Full(), len(r.held))
	}
	b.set(0) // the table fills up
	r.Exhausted()
	if !r.Full() || len(r.held) != 0 {
		t.Fatal("not released")
	}
	time.Sleep(30 * time.Millisecond)
	if !r.Full() {
		t.Fatal("room found where there is none")
	}
	b.set(6) // not enough: 4 placeholders + 3 headroom
	time.Sleep(30 * time.Millisecond)
	if !r.Full() {
		t.Fatal("took the reserve back without headroom")
	}
	b.set(7)
	deadline := time.Now().Add(2 * time.Second)
	for r.Full() {
		if time.Now().After(deadline) {
			t.Fatal("room never found")
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Fatalf("changes %v", changes)
	}
}

func TestReserveStartsFullWithoutRoom(t *testing.T) {
	b := &budget{free: 2}
	r := New(Options{Size: 4, Open: b.open, Retry: time.Hour})
	defer r.Close()
	if !r.Full() {
		t.Fatal("a process without room for its reserve should start full")
	}
	var nilReserve *Reserve
	nilReserve.Exhausted()
	if nilReserve.Full() || nilReserve.Limit() != 0 || nilReserve.Close() != nil {
		t.Fatal("nil Reserve")
	}
}

func TestSize(t *testing.T) {
	for limit, want := range map[uint64]int{0: 8, 64: 8, 256: 32, 1024: 64, 1 << 20: 64} {
		if got := Size(limit); got != want {
			t.Errorf("Size(%d) = %d, want %d", limit, got, want)
		}
	}
}

// flakyListener fails with EMFILE until the reserve is released.
type flakyListener struct {
	net.Listener
	r     *Reserve
	fails atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if !l.r.Full() {
		l.fails.Add(1)
		return nil, &net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

func TestListenerReleasesOnEMFILE(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := New(Options{Size: 2, Retry: time.Hour})
	defer r.Close()
	fl := &flakyListener{Listener: ln, r: r}
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
	}()
	c, err := Listener{Listener: fl, Reserve: r}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !r.Full() || fl.fails.Load() != 1 {
		t.Fatalf("full %v fails %d", r.Full(), fl.fails.Load())
	}
	if !IsExhaustion(&net.OpError{Err: os.NewSyscallError("accept4", syscall.ENFILE)}) || IsExhaustion(errors.New("x")) {
		t.Fatal("IsExhaustion")
	}
}
