//go:build !linux || portable

package server

import "net"

type pollSet struct{}

type pollState struct{}

func newPollSet(int, *Server) (*pollSet, error) { return nil, nil }

func (*pollSet) attach(*conn) bool { return false }

func (*pollState) detach(any) {}

func (*pollState) handOver(any) {}

// watchUpgrade: without pollers net/http reads every request (upgrade.go).
func (*pollSet) watchUpgrade(*Server, *handoffListener, net.Conn, plainSocket) bool { return false }

func (*pollSet) dropUpgrades() {}

func (c *conn) lingerThenAbort() {}

func (*pollSet) stop() {}
