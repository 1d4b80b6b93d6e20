//go:build linux

package uring

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The structures match the kernel's (include/uapi/linux/io_uring.h).
func TestABI(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"io_uring_params", unsafe.Sizeof(params{}), 120},
		{"io_uring_sqe", unsafe.Sizeof(SQE{}), 64},
		{"io_uring_cqe", unsafe.Sizeof(CQE{}), 16},
		{"io_uring_sqe.user_data", unsafe.Offsetof(SQE{}.UserData), 32},
		{"io_uring_params.sq_off", unsafe.Offsetof(params{}.sqOff), 40},
		{"io_uring_params.cq_off", unsafe.Offsetof(params{}.cqOff), 80},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, the kernel's is %d", c.name, c.got, c.want)
		}
	}
}

// Two sends through the ring arrive, and their completions say so.
func TestSendAndReap(t *testing.T) {
	r, err := Setup(4)
	if err != nil {
		t.Skipf("io_uring not available here: %v", err)
	}
	defer r.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	msgs := [][]byte{[]byte("hello "), []byte("ring")}
	for i, m := range msgs {
		*r.Entry(uint32(i)) = SQE{Opcode: OpSend, Fd: int32(fds[0]), Addr: uint64(uintptr(unsafe.Pointer(&m[0]))), Len: uint32(len(m)), UserData: uint64(i)}
	}
	r.SetTail(r.Tail() + 2)
	if err := r.Enter(2); err != nil {
		t.Fatal(err)
	}
	got := map[uint64]int32{}
	if n := r.Reap(func(c *CQE) { got[c.UserData] = c.Res }); n != 2 {
		t.Fatalf("%d completions", n)
	}
	if got[0] != 6 || got[1] != 4 {
		t.Fatalf("results %v", got)
	}
	buf := make([]byte, 16)
	n, _ := unix.Read(fds[1], buf)
	if string(buf[:n]) != "hello ring" {
		t.Fatalf("read %q", buf[:n])
	}
}
