// Package tlsrec serves TLS with crypto/tls for the handshake and its own
// TLS 1.3 record layer afterwards, so a TLS socket can be driven like a
// plain one: by an epoll poller that feeds it whatever arrived and by a
// flusher that writes sealed records with one syscall. An idle connection
// then holds no goroutine, no buffer and no tls.Conn: only a Session (two
// AEADs, two IVs, two sequence numbers and the two traffic secrets that a
// KeyUpdate derives from).
//
// # How a connection gets here
//
// NewListener wraps a listener; its Conns run tls.Server over a wrapper
// whose Read never returns bytes past the end of the current TLS record.
// When the handshake returns, crypto/tls has therefore buffered nothing
// after the client's Finished (its TLS 1.3 server reads nothing more), and
// the client's application-data sequence number is 0. The traffic secrets
// come from a KeyLogWriter on a per-connection clone of the Config
// (GetConfigForClient, so session tickets stay shared); the server's
// sequence number is the count of records it already wrote under its
// application key (the NewSessionTicket, if any), found by opening the
// records the wrapper saw go out. Anything unexpected (TLS 1.2, a secret
// missing, a ticket we cannot account for) keeps the tls.Conn and its
// usual path, unchanged.
//
// After the handshake a Conn is still a net.Conn (net/http reads the
// upgrade request through it); Detach hands its Session, the raw socket
// and any plaintext read ahead to whoever drives the socket from then on.
//
// # Record layer (RFC 8446 §5)
//
// Session.Feed decrypts what arrived, in place, keeping a partial record
// (in a pooled buffer) only while one is partial; it answers alerts
// (close_notify ends the stream, any other alert is fatal), KeyUpdate
// (rekeys the read side; update_requested makes the writer send its own
// KeyUpdate before its next record) and rejects anything else with the
// alert RFC 8446 names. Session.Seal writes records of at most 16 KiB of
// plaintext.
//
// # Lock story
//
// A Session has two halves with one owner each and no lock: the read half
// (Feed) belongs to whoever reads the socket, the write half (Seal,
// AppendAlert) to whoever writes it. The only field both touch is owed, an
// atomic word by which the reader asks the writer for a KeyUpdate. A Conn
// serialises its readers with rmu and its writers with wmu (a reader that
// must answer a KeyUpdate or send an alert takes wmu after rmu, never the
// other way round); hsMu runs the handshake once.
package tlsrec
