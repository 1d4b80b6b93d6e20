package sysctl

import "fmt"

// Estimates used by Compute. They are deliberately round numbers: doctor
// answers "about how many", not a promise.
const (
	// FDReserve is kept aside in every worker for what is not a client
	// connection: listening sockets, the supervisor link, Redis and cache
	// store connections, log files, the fsnotify watch.
	FDReserve = 64
	// ConnBytes is the memory one plain WebSocket costs. Measured: about
	// 3.5 KiB of RSS per idle subscribed connection (2,000 connections,
	// one process, Go 1.26); the estimate leaves 4× headroom for queued
	// messages, larger frames and the Go heap's slack under traffic.
	ConnBytes = 16 << 10
	// TLSConnBytes is the same for wss:// served by the server itself.
	// Measured: about 20 KiB idle (crypto/tls state and buffers); a busy
	// connection holds a 16 KiB record buffer more.
	TLSConnBytes = 48 << 10
	// memoryShare is the part of available memory counted as usable for
	// connections (the rest stays for the OS, PHP, Redis...).
	memoryShare = 0.8
	// fileMaxShare is the part of fs.file-max counted as ours: it is one
	// table for the whole system.
	fileMaxShare = 0.9
)

// ConntrackBound names the connection-tracking table's bound.
const ConntrackBound = "nf_conntrack_max"

// Bound is one limit expressed as a number of connections for the whole
// setup (all workers).
type Bound struct {
	Name        string `json:"name"`
	Connections uint64 `json:"connections"`
	Detail      string `json:"detail"`
}

// Capacity is how many connections this machine can hold.
type Capacity struct {
	Workers    int `json:"workers"`     // at start
	MaxWorkers int `json:"max_workers"` // the pool's cap; 0 none
	// PerWorker is about how many connections one worker holds: its share
	// of the total, or, when the pool grows, its open-files limit.
	PerWorker uint64 `json:"per_worker"`
	// PerWorkerFiles is a worker's open-files limit less the reserve when
	// worker processes grow in number past it (0 otherwise), and Growth
	// says so when no --max-workers makes it a bound.
	PerWorkerFiles uint64 `json:"per_worker_files,omitempty"`
	Growth         string `json:"growth,omitempty"`
	Total          uint64 `json:"total"`
	// Binding names the smallest bound ("" when nothing could be read).
	Binding string  `json:"binding"`
	Bounds  []Bound `json:"bounds"`
	// ProxyPorts bounds connections only when a proxy on this host (nginx)
	// forwards them to one upstream address: each proxied connection takes
	// one ephemeral port. Direct clients do not use local ports. 0 = unknown.
	ProxyPorts uint64 `json:"proxy_ports"`
}

// Compute turns readings into a capacity for workers processes (0 means
// one process serving itself). Worker processes grow in number as each
// nears its open-files limit (`reverb start` adds them), so that limit
// bounds the whole only when maxWorkers caps the pool (0: no cap, memory
// decides); it still says how many one worker holds. tls says the server
// terminates TLS itself.
func Compute(l Limits, workers, maxWorkers int, tls bool) Capacity {
	procs := workers
	if procs < 1 || l.SingleProcess {
		procs = 1
	}
	growing := workers >= 1 && !l.SingleProcess
	c := Capacity{Workers: workers, MaxWorkers: maxWorkers, ProxyPorts: uint64(l.Ports())}
	perConn := uint64(ConnBytes)
	if tls {
		perConn = TLSConnBytes
	}

	if files := l.PerProcessFiles(); files > FDReserve {
		per := files - FDReserve
		limit := fmt.Sprintf("hard RLIMIT_NOFILE %d", files)
		if l.OS == "darwin" && files == l.MaxFilesPerProc {
			limit = fmt.Sprintf("kern.maxfilesperproc %d", files)
		}
		switch {
		case !growing: // one process: this platform's only model, or --workers 0
			detail := fmt.Sprintf("%s − %d reserved", limit, FDReserve)
			if !l.SingleProcess {
				detail += " (--workers 0)"
			}
			c.Bounds = append(c.Bounds, Bound{Name: "open files (one process)", Connections: per, Detail: detail})
		case maxWorkers == 0:
			c.PerWorkerFiles = per
			c.Growth = fmt.Sprintf("%s − %d reserved = %d per worker; the pool adds a worker as each nears it", limit, FDReserve, per)
		default:
			c.PerWorkerFiles = per
			c.Bounds = append(c.Bounds, Bound{
				Name:        "open files per worker",
				Connections: per * uint64(maxWorkers),
				Detail:      fmt.Sprintf("%s − %d reserved = %d per worker × at most %s (--max-workers)", limit, FDReserve, per, plural(maxWorkers, "worker", "workers")),
			})
		}
	}
	if files := l.SystemFiles(); files > 0 {
		name := "fs.file-max"
		if l.OS == "darwin" {
			name = "kern.maxfiles"
		}
		c.Bounds = append(c.Bounds, Bound{
			Name:        name,
			Connections: uint64(float64(files) * fileMaxShare),
			Detail:      fmt.Sprintf("%d open files for the whole system, 90%% counted as ours", files),
		})
	}
	if l.ConntrackMax > 0 && l.ConntrackMax != Unlimited {
		c.Bounds = append(c.Bounds, Bound{
			Name:        ConntrackBound,
			Connections: l.ConntrackMax / 2,
			Detail: fmt.Sprintf("%d tracked connections for the whole system; each WebSocket is one, and stays one for 2 minutes after it closes, "+
				"so a restart needs two per connection; a full table drops new connections", l.ConntrackMax),
		})
	}
	mem, memName := l.MemAvailable, "available"
	if mem == 0 {
		mem, memName = l.MemTotal, "total"
	}
	if mem > 0 {
		c.Bounds = append(c.Bounds, Bound{
			Name:        "memory",
			Connections: uint64(float64(mem)*memoryShare) / perConn,
			Detail: fmt.Sprintf("%s %s × 80%% / about %d KiB per connection%s",
				HumanBytes(mem), memName, perConn>>10, map[bool]string{true: " (TLS in-process)", false: ""}[tls]),
		})
	}
	for _, b := range c.Bounds {
		if c.Binding == "" || b.Connections < c.Total {
			c.Total, c.Binding = b.Connections, b.Name
		}
	}
	c.PerWorker = c.Total / uint64(procs)
	if c.PerWorkerFiles > 0 {
		// A growing pool: a worker fills to its open-files limit before
		// the next one starts.
		c.PerWorker = min(c.Total, c.PerWorkerFiles)
	}
	return c
}

// HumanBytes prints a byte count in binary units.
func HumanBytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTP"[exp])
}

// plural is "1 worker", "2 workers".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
