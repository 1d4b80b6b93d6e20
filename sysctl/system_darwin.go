package sysctl

import (
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"
)

// System reads the real machine.
func System() Source {
	return Source{OS: "darwin", SingleProcess: singleProcess, NoFile: getNoFile, Sysctl: darwinSysctl, Run: runCommand}
}

// darwinSysctl reads a numeric sysctl; hw.memsize is 64-bit, the others
// are C ints.
func darwinSysctl(name string) (string, error) {
	if name == "hw.memsize" {
		v, err := unix.SysctlUint64(name)
		return strconv.FormatUint(v, 10), err
	}
	v, err := unix.SysctlUint32(name)
	return strconv.FormatUint(uint64(v), 10), err
}

func runCommand(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).Output()
}
