//go:build !linux && !darwin && !windows

package sysctl

import "runtime"

// System reads the real machine: the open-files limits only.
func System() Source {
	return Source{OS: runtime.GOOS, SingleProcess: singleProcess, NoFile: getNoFile}
}
