//go:build unix

package cachestore

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockShared and lockExclusive take the flock(2) locks PHP's flock() takes
// (LOCK_SH for Filesystem::get($path, true), LOCK_EX for file_put_contents
// with LOCK_EX). The lock is released when f is closed.
func lockShared(f *os.File) error    { return flock(f, unix.LOCK_SH) }
func lockExclusive(f *os.File) error { return flock(f, unix.LOCK_EX) }

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}
