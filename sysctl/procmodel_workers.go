//go:build linux && !portable

package sysctl

// singleProcess: this build's `reverb start` runs worker processes, each
// with its own open-files budget.
const singleProcess = false
