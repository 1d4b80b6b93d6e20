package sysctl

import (
	"os/exec"
	"strconv"
	"syscall"
	"unsafe"
)

// System reads the real machine.
func System() Source {
	return Source{OS: "windows", SingleProcess: singleProcess, Sysctl: windowsMemory, Run: runCommand}
}

func runCommand(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).Output()
}

// memoryStatusEx is MEMORYSTATUSEX.
type memoryStatusEx struct {
	Length               uint32
	MemoryLoad           uint32
	TotalPhys            uint64
	AvailPhys            uint64
	TotalPageFile        uint64
	AvailPageFile        uint64
	TotalVirtual         uint64
	AvailVirtual         uint64
	AvailExtendedVirtual uint64
}

var globalMemoryStatusEx = syscall.NewLazyDLL("kernel32.dll").NewProc("GlobalMemoryStatusEx")

// windowsMemory answers "TotalPhys" and "AvailPhys" in bytes.
func windowsMemory(name string) (string, error) {
	var m memoryStatusEx
	m.Length = uint32(unsafe.Sizeof(m))
	if r, _, err := globalMemoryStatusEx.Call(uintptr(unsafe.Pointer(&m))); r == 0 {
		return "", err
	}
	if name == "AvailPhys" {
		return strconv.FormatUint(m.AvailPhys, 10), nil
	}
	return strconv.FormatUint(m.TotalPhys, 10), nil
}
