//go:build !linux || portable

package server

type pollSet struct{}

type pollState struct{}

func newPollSet(int, *Server) (*pollSet, error) { return nil, nil }

func (*pollSet) attach(*conn) bool { return false }

func (*pollState) detach() {}

func (c *conn) lingerThenAbort() {}

func (*pollSet) stop() {}
