//go:build !linux || portable

package supervisor

// portableBuild says which process model this test binary has.
const portableBuild = true

// setNoFile is only needed by the worker-process tests.
func setNoFile(uint64) error { return nil }
