package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// ownGroup starts the server in a new process group: a console event for
// the benchmark does not reach it.
func ownGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
}

// terminate stops the server: Windows has no SIGTERM to send another
// process, so this is a kill (the server serves in one process there).
func terminate(p *os.Process) error { return p.Kill() }

// killGroup kills the server.
func killGroup(p *os.Process) { _ = p.Kill() }

// selfCPU is this process's user+system CPU time in seconds.
func selfCPU() float64 {
	var c, e, k, u windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &c, &e, &k, &u); err != nil {
		return 0
	}
	// Filetimes count 100 ns units.
	ticks := uint64(k.HighDateTime)<<32 | uint64(k.LowDateTime) + uint64(u.HighDateTime)<<32 | uint64(u.LowDateTime)
	return float64(ticks) / 1e7
}
