//go:build !linux || portable

package server

// sendRing batches a flusher's sends with io_uring on Linux (uring_linux.go);
// elsewhere there is no flusher pool, and no ring.
type sendRing struct{ broken bool }

func newSendRing() *sendRing { return nil }

func (r *sendRing) flush([]*conn) {}

func (r *sendRing) close() {}
