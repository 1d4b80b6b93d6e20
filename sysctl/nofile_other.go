//go:build !unix && !windows

package sysctl

import "errors"

func getNoFile() (soft, hard uint64, err error) {
	return 0, 0, errors.New("open-files limits are not readable on this system")
}
