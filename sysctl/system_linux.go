package sysctl

import (
	"fmt"
	"os"
)

// System reads the real machine.
func System() Source {
	return Source{OS: "linux", SingleProcess: singleProcess, ReadFile: os.ReadFile, NoFile: getNoFile, ShellNoFileSoft: parentNoFileSoft}
}

// parentNoFileSoft is the soft limit of the shell that started us.
func parentNoFileSoft() (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", os.Getppid()))
	if err != nil {
		return 0, false
	}
	return parseProcLimits(b)
}
