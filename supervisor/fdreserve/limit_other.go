//go:build !unix

package fdreserve

// CurrentLimit is 0: this system has no open-files limit to read (Windows
// bounds sockets by memory).
func CurrentLimit() uint64 { return 0 }
