//go:build unix

package main

import (
	"os"
	"syscall"
)

// ownGroup puts the server in its own process group, so killGroup also
// reaches its workers.
func ownGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// terminate asks the server to drain and exit.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// killGroup kills the server and its workers.
func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }

// selfCPU is this process's user+system CPU time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
