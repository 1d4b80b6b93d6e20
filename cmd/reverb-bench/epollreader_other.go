//go:build !linux

package main

import "errors"

// epollReaders exist on Linux only; elsewhere the client processes read
// with a goroutine per socket (as -goroutine-client does on Linux).
type epollReaders struct{}

func newEpollReaders(*clientState) (*epollReaders, error) {
	return nil, errors.New("epoll readers are Linux-only")
}

func (*epollReaders) add(*wsConn, string, bool, *latencyShard) error {
	return errors.New("epoll readers are Linux-only")
}

// connectEpoll is the epoll dialer's, Linux-only: never reached elsewhere
// (there are no epoll readers), it dials as connectMany does.
func (st *clientState) connectEpoll(cmd clientCmd) clientReply { return st.connectMany(cmd) }

// redialer is the epoll reconnect side, Linux-only: elsewhere a goroutine
// per socket reconnects (readLoop).
type redialer struct{}

func newRedialer(*clientState) *redialer { return nil }
