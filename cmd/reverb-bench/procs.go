package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// goroutineClient makes client processes read with a goroutine per socket
// (the first design) instead of epoll; -goroutine-client, for comparison.
var goroutineClient bool

// clientProc is one load-generating child process.
type clientProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
	src string
}

func startClient(addr, src, path, key string) (*clientProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if path == "" {
		path = "-"
	}
	mode := "epoll"
	if goroutineClient {
		mode = "goroutine"
	}
	args := []string{"_client", addr, src, path, key, mode}
	if benchTLS {
		args = append(args, "tls")
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(outPipe)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	return &clientProc{cmd: cmd, in: in, out: sc, src: src}, nil
}

// do sends one command and waits for its reply.
func (c *clientProc) do(cmd clientCmd) (clientReply, error) {
	b, _ := json.Marshal(cmd)
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		return clientReply{}, err
	}
	if !c.out.Scan() {
		return clientReply{}, fmt.Errorf("client %s exited: %v", c.src, c.out.Err())
	}
	var r clientReply
	err := json.Unmarshal(c.out.Bytes(), &r)
	return r, err
}

func (c *clientProc) stop() {
	_, _ = c.do(clientCmd{Op: "close"})
	c.in.Close()
	_ = c.cmd.Wait()
}

// clientPool runs the same command on every client at once and gathers the
// replies.
type clientPool []*clientProc

func (p clientPool) all(cmd func(i int) clientCmd) ([]clientReply, error) {
	replies := make([]clientReply, len(p))
	errs := make([]error, len(p))
	done := make(chan int, len(p))
	for i, c := range p {
		go func(i int, c *clientProc) {
			replies[i], errs[i] = c.do(cmd(i))
			done <- i
		}(i, c)
	}
	for range p {
		<-done
	}
	for _, err := range errs {
		if err != nil {
			return replies, err
		}
	}
	return replies, nil
}

func (p clientPool) stop() {
	for _, c := range p {
		c.stop()
	}
}

// procTree lists pid and all its descendants, read from /proc.
func procTree(root int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := statFields(string(b))
		if len(f) > 1 {
			ppid, _ := strconv.Atoi(f[1])
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// statFields splits /proc/PID/stat after the "(comm)" field: index 0 is the
// state, 1 ppid, 11 utime, 12 stime (man 5 proc numbering minus 3).
func statFields(s string) []string {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// treeUsage returns the resident memory in bytes and the CPU time in seconds
// (user+system, live processes only) of the process tree under root.
func treeUsage(root int) (rss int64, cpu float64) {
	page := int64(os.Getpagesize())
	for _, pid := range procTree(root) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid)); err == nil {
			f := strings.Fields(string(b))
			if len(f) > 1 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				rss += n * page
			}
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			f := statFields(string(b))
			if len(f) > 12 {
				u, _ := strconv.ParseFloat(f[11], 64)
				s, _ := strconv.ParseFloat(f[12], 64)
				cpu += (u + s) / 100 // USER_HZ is 100 on Linux
			}
		}
	}
	return rss, cpu
}

// listenOverflows reads TcpExt ListenOverflows from /proc/net/netstat.
func listenOverflows() int64 { return tcpExt("ListenOverflows") }

// conntrackDrops is the packets the kernel's connection tracking dropped
// because its table was full (-1 where it does not track connections).
func conntrackDrops() int64 {
	b, err := os.ReadFile("/proc/net/stat/nf_conntrack")
	if err != nil {
		return -1
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	col := slices.Index(strings.Fields(lines[0]), "drop")
	if col < 0 {
		return -1
	}
	var sum int64
	for _, l := range lines[1:] { // one line per CPU, hexadecimal
		if f := strings.Fields(l); col < len(f) {
			v, _ := strconv.ParseInt(f[col], 16, 64)
			sum += v
		}
	}
	return sum
}

// conntrackMax is net.netfilter.nf_conntrack_max (0 where the kernel does
// not track connections).
func conntrackMax() int64 {
	b, err := os.ReadFile("/proc/sys/net/netfilter/nf_conntrack_max")
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v
}

// tcpExt reads one TcpExt counter from /proc/net/netstat (-1 if absent).
func tcpExt(name string) int64 {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return -1
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		if !strings.HasPrefix(lines[i], "TcpExt:") {
			continue
		}
		names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		for j, n := range names {
			if n == name && j < len(vals) {
				v, _ := strconv.ParseInt(vals[j], 10, 64)
				return v
			}
		}
	}
	return -1
}

// startPerf records a call-graph CPU profile of the server tree (every
// process under root) for dur into dir/name.data with `perf record`; the
// returned function waits for it. Go binaries keep frame pointers, so -g
// gives whole stacks through the kernel. With no dir or no perf it does
// nothing. Read it with: perf report -i FILE --children --sort sym.
func startPerf(dir, name string, root int, dur time.Duration) (wait func()) {
	if dir == "" {
		return func() {}
	}
	if _, err := exec.LookPath("perf"); err != nil {
		fmt.Println("   (perf not installed: no profile)")
		return func() {}
	}
	var pids []string
	for _, p := range procTree(root) {
		pids = append(pids, strconv.Itoa(p))
	}
	out := filepath.Join(dir, name+".data")
	cmd := exec.Command("perf", "record", "-q", "-F", "999", "-g", "-o", out,
		"-p", strings.Join(pids, ","), "--", "sleep", fmt.Sprintf("%.1f", dur.Seconds()))
	if err := cmd.Start(); err != nil {
		fmt.Printf("   (perf: %v)\n", err)
		return func() {}
	}
	return func() {
		if err := cmd.Wait(); err != nil {
			fmt.Printf("   (perf: %v)\n", err)
			return
		}
		fmt.Printf("   profile: %s\n", out)
	}
}
