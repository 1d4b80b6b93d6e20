//go:build !linux || portable

package supervisor

// portableBuild says which process model this test binary has.
const portableBuild = true
