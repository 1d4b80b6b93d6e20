// Package sysctl reads the operating-system limits that decide how many
// WebSocket connections a server can hold (open files, kernel tables, ports,
// memory), computes that number and names the limit that binds, and writes
// the configuration snippets that raise them, for the operating system it
// runs on: limits.conf, sysctl, nginx, supervisor and systemd on Linux;
// launchctl and sysctl on macOS; on Windows, where none of these exist, what
// does apply.
//
// Every reading goes through a Source, whose OS field says which system's
// readings to take, so tests on Linux build the report of every OS from
// fake /proc files, sysctl values and command outputs. Only System(), in
// the build-tagged system_*.go files, touches the real machine.
package sysctl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Source is where readings come from. The zero value is not usable; use
// System() or build a fake.
type Source struct {
	// OS is the operating system the readings describe (runtime.GOOS
	// values: "linux", "darwin", "windows"); empty means "linux".
	OS string
	// SingleProcess is true when `reverb start` serves every connection in
	// one process on this build (macOS, Windows, the portable build); false
	// when it runs worker processes, each with its own open-files budget.
	SingleProcess bool
	// ReadFile reads a /proc path (Linux).
	ReadFile func(path string) ([]byte, error)
	// NoFile returns RLIMIT_NOFILE (soft, hard) of this process.
	NoFile func() (soft, hard uint64, err error)
	// ShellNoFileSoft returns the soft open-files limit of the process that
	// started us (`ulimit -n` in the shell), which the Go runtime hides by
	// raising its own soft limit to the hard one at start-up. ok is false
	// when unknown.
	ShellNoFileSoft func() (soft uint64, ok bool)
	// Sysctl reads a numeric system value by name (macOS sysctl names such
	// as kern.maxfilesperproc; Windows: TotalPhys and AvailPhys, bytes of
	// memory from GlobalMemoryStatusEx).
	Sysctl func(name string) (string, error)
	// Run runs a command and returns its standard output (macOS launchctl,
	// Windows netsh).
	Run func(name string, args ...string) ([]byte, error)
}

// Unlimited marks a limit reported as "unlimited" or as a huge number.
const Unlimited = ^uint64(0)

// Limits are the readings. A field whose reading failed is zero and the
// failure is in Missing.
type Limits struct {
	// OS is the operating system read ("linux", "darwin", "windows").
	OS string `json:"os"`
	// SingleProcess: one process serves every connection (macOS, Windows,
	// the portable build); otherwise `reverb start --workers N` runs N
	// processes, each with its own open-files budget (Linux).
	SingleProcess bool `json:"single_process"`
	// NoFileSoft and NoFileHard are RLIMIT_NOFILE as the shell sees them.
	// Go programs (this server included) raise their soft limit to the hard
	// limit at start-up, so NoFileHard is what each worker really gets.
	NoFileSoft uint64 `json:"nofile_soft"`
	NoFileHard uint64 `json:"nofile_hard"`
	// FileMax is fs.file-max: open files for the whole system.
	FileMax uint64 `json:"fs_file_max"`
	// NrOpen is fs.nr_open: the ceiling for any RLIMIT_NOFILE.
	NrOpen uint64 `json:"fs_nr_open"`
	// PortLow..PortHigh is net.ipv4.ip_local_port_range.
	PortLow  int `json:"port_range_low"`
	PortHigh int `json:"port_range_high"`
	// Somaxconn and TCPMaxSynBacklog bound the accept queue.
	Somaxconn        int `json:"somaxconn"`
	TCPMaxSynBacklog int `json:"tcp_max_syn_backlog"`
	// ConntrackMax is net.netfilter.nf_conntrack_max where the kernel
	// tracks connections (a firewall, Docker); 0 where it does not.
	ConntrackMax uint64 `json:"nf_conntrack_max,omitempty"`
	// MemTotal and MemAvailable are bytes (/proc/meminfo; hw.memsize on
	// macOS, where MemAvailable stays 0).
	MemTotal     uint64 `json:"mem_total"`
	MemAvailable uint64 `json:"mem_available"`
	// macOS: launchd's maxfiles limit (`launchctl limit maxfiles`), which
	// processes started by launchd (and the GUI) inherit, and the kernel's
	// per-process and system-wide caps. Go caps its own soft limit at
	// kern.maxfilesperproc.
	LaunchdSoft     uint64 `json:"launchd_maxfiles_soft,omitempty"`
	LaunchdHard     uint64 `json:"launchd_maxfiles_hard,omitempty"`
	MaxFilesPerProc uint64 `json:"kern_maxfilesperproc,omitempty"`
	MaxFiles        uint64 `json:"kern_maxfiles,omitempty"`
	// Missing lists readings that failed, "name: error".
	Missing []string `json:"missing,omitempty"`
}

// Ports is the number of ephemeral ports.
func (l Limits) Ports() int {
	if l.PortHigh < l.PortLow || l.PortLow == 0 {
		return 0
	}
	return l.PortHigh - l.PortLow + 1
}

// Read takes every reading of src.OS; failures are recorded, never fatal
// (doctor runs in containers and on systems without /proc).
func Read(src Source) Limits {
	os := src.OS
	if os == "" {
		os = "linux"
	}
	var l Limits
	switch os {
	case "linux":
		l = readLinux(src)
	case "darwin":
		l = readDarwin(src)
	case "windows":
		l = readWindows(src)
	default:
		l = readNoFile(src)
	}
	l.OS, l.SingleProcess = os, src.SingleProcess
	return l
}

// PerProcessFiles is the most descriptors one server process can open: the
// hard RLIMIT_NOFILE (Go raises its soft limit to it), on macOS also capped
// by kern.maxfilesperproc. 0 means unknown or no such limit (Windows).
func (l Limits) PerProcessFiles() uint64 {
	n := l.NoFileHard
	if l.OS == "darwin" && l.MaxFilesPerProc != 0 && (n == 0 || n > l.MaxFilesPerProc) {
		n = l.MaxFilesPerProc
	}
	if l.OS == "windows" || n == Unlimited {
		return 0
	}
	return n
}

// SystemFiles is the system-wide open-files table (fs.file-max,
// kern.maxfiles); 0 when unknown or unbounded.
func (l Limits) SystemFiles() uint64 {
	n := l.FileMax
	if l.OS == "darwin" {
		n = l.MaxFiles
	}
	if n >= 1<<62 {
		return 0
	}
	return n
}

// readNoFile takes the open-files limits only (systems without more).
func readNoFile(src Source) Limits {
	var l Limits
	if src.NoFile != nil {
		soft, hard, err := src.NoFile()
		if err != nil {
			l.Missing = append(l.Missing, "RLIMIT_NOFILE: "+err.Error())
		} else {
			l.NoFileSoft, l.NoFileHard = soft, hard
		}
	}
	if src.ShellNoFileSoft != nil {
		if soft, ok := src.ShellNoFileSoft(); ok {
			l.NoFileSoft = soft
		}
	}
	return l
}

// readLinux reads /proc.
func readLinux(src Source) Limits {
	l := readNoFile(src)
	miss := func(name string, err error) { l.Missing = append(l.Missing, name+": "+err.Error()) }
	if src.ReadFile == nil {
		src.ReadFile = func(string) ([]byte, error) { return nil, errors.New("no /proc reader") }
	}

	readUint := func(path string, dst *uint64) {
		b, err := src.ReadFile(path)
		if err != nil {
			miss(path, err)
			return
		}
		v, err := parseUint(strings.TrimSpace(string(b)))
		if err != nil {
			miss(path, err)
			return
		}
		*dst = v
	}
	readInt := func(path string, dst *int) {
		var v uint64
		readUint(path, &v)
		if v > 1<<31 {
			v = 1 << 31
		}
		*dst = int(v)
	}
	readUint("/proc/sys/fs/file-max", &l.FileMax)
	readUint("/proc/sys/fs/nr_open", &l.NrOpen)
	readInt("/proc/sys/net/core/somaxconn", &l.Somaxconn)
	readInt("/proc/sys/net/ipv4/tcp_max_syn_backlog", &l.TCPMaxSynBacklog)

	if b, err := src.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err != nil {
		miss("/proc/sys/net/ipv4/ip_local_port_range", err)
	} else if f := strings.Fields(string(b)); len(f) != 2 {
		miss("/proc/sys/net/ipv4/ip_local_port_range", fmt.Errorf("want two numbers, got %q", strings.TrimSpace(string(b))))
	} else {
		lo, err1 := strconv.Atoi(f[0])
		hi, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil || lo > hi || lo < 0 || hi > 65535 {
			miss("/proc/sys/net/ipv4/ip_local_port_range", fmt.Errorf("bad range %q", strings.TrimSpace(string(b))))
		} else {
			l.PortLow, l.PortHigh = lo, hi
		}
	}

	// Present only while the conntrack module is loaded: its absence is no
	// failed reading.
	if b, err := src.ReadFile("/proc/sys/net/netfilter/nf_conntrack_max"); err == nil {
		if v, err := parseUint(strings.TrimSpace(string(b))); err != nil {
			miss("/proc/sys/net/netfilter/nf_conntrack_max", err)
		} else {
			l.ConntrackMax = v
		}
	}

	if b, err := src.ReadFile("/proc/meminfo"); err != nil {
		miss("/proc/meminfo", err)
	} else {
		total, avail, err := parseMeminfo(b)
		if err != nil {
			miss("/proc/meminfo", err)
		}
		l.MemTotal, l.MemAvailable = total, avail
	}
	return l
}

// parseUint reads a decimal limit; "unlimited" and values beyond uint64 are
// Unlimited (fs.file-max is 2^63-1 on 64-bit kernels).
func parseUint(s string) (uint64, error) {
	if s == "unlimited" || s == "infinity" {
		return Unlimited, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return Unlimited, nil
		}
		return 0, fmt.Errorf("not a number: %q", s)
	}
	return v, nil
}

// parseMeminfo returns MemTotal and MemAvailable in bytes. Kernels before
// 3.14 lack MemAvailable: MemFree+Buffers+Cached stands in for it.
func parseMeminfo(b []byte) (total, avail uint64, err error) {
	vals := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && strings.EqualFold(f[1], "kB") {
			v *= 1024
		}
		vals[name] = v
	}
	total, ok := vals["MemTotal"]
	if !ok {
		return 0, 0, fmt.Errorf("no MemTotal line")
	}
	avail, ok = vals["MemAvailable"]
	if !ok {
		avail = vals["MemFree"] + vals["Buffers"] + vals["Cached"]
	}
	return total, avail, nil
}

// parseProcLimits reads the "Max open files" soft value of a
// /proc/<pid>/limits file.
func parseProcLimits(b []byte) (uint64, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "Max open files") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "Max open files"))
		if len(f) < 2 {
			return 0, false
		}
		v, err := parseUint(f[0])
		return v, err == nil
	}
	return 0, false
}
