//go:build !unix

package cachestore

import "os"

// Without flock the file store relies on the write being a single small
// write; PHP on these systems uses LockFileEx, which Go does not mirror here.
func lockShared(*os.File) error    { return nil }
func lockExclusive(*os.File) error { return nil }
