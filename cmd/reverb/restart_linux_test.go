package main

import (
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A Redis cache store that is down fails `reverb restart` with one line
// naming the store and the cause, not with the Redis client library's own
// log lines ("redis: 2026/01/02 15:04:05 pool.go:770: ...") on the
// process's standard error first.
func TestRestartRedisDownSaysSoOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	dir := writeProject(t, "CACHE_STORE=redis\nREDIS_HOST=127.0.0.1\nREDIS_PORT="+strconv.Itoa(port)+"\n")

	// The library logs to file descriptor 2 directly: catch it there.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := unix.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup2(int(w.Fd()), 2); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runRestartCmd("--dir", dir)
	unix.Dup2(saved, 2)
	unix.Close(saved)
	w.Close()
	leaked, _ := io.ReadAll(r)
	r.Close()

	if code != 1 || out != "" || !strings.Contains(errOut, "connection refused") {
		t.Errorf("exit %d out %q stderr %q, want exit 1 and the cause", code, out, errOut)
	}
	if len(leaked) > 0 {
		t.Errorf("written to standard error besides the command's message: %q", leaked)
	}
}
