//go:build !linux || portable

package sysctl

// singleProcess: this build serves every connection in one process.
const singleProcess = true
