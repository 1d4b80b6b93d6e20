//go:build !linux

package main

import "syscall"

// bindNoPort: IP_BIND_ADDRESS_NO_PORT is Linux's; elsewhere bind(ip, 0)
// picks the port itself.
func bindNoPort(string, string, syscall.RawConn) error { return nil }
