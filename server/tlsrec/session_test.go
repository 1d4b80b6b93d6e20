package tlsrec

import (
	"bytes"
	"crypto/tls"
	"errors"
	"runtime"
	"runtime/metrics"
	"testing"
)

var allSuites = []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256}

// pair is a server Session and the client Session at the other end, on
// fixed secrets.
func pair(t testing.TB, suiteID uint16) (server, client *Session) {
	t.Helper()
	st := suiteByID(suiteID)
	c2s := bytes.Repeat([]byte{0xc5}, st.hashLen)
	s2c := bytes.Repeat([]byte{0x5c}, st.hashLen)
	server, err := NewSession(suiteID, c2s, 0, s2c, 0)
	if err != nil {
		t.Fatal(err)
	}
	client, err = NewSession(suiteID, s2c, 0, c2s, 0)
	if err != nil {
		t.Fatal(err)
	}
	return server, client
}

// sealInner seals a record whose inner plaintext (content, type, padding)
// is given as is.
func sealInner(s *Session, inner ...byte) []byte {
	dst := append(make([]byte, 0, len(inner)+64), typeApplicationData, 3, 3, 0, 0)
	dst = append(dst, inner...)
	aead, _ := s.out.cipher(s.suite)
	return s.sealRecord(aead, dst, 0)
}

// collect feeds raw to s in pieces of size step (0: at once) and returns the
// plaintext delivered and the error.
func collect(s *Session, raw []byte, step int) ([]byte, error) {
	raw = append([]byte(nil), raw...)
	var got []byte
	deliver := func(p []byte) error { got = append(got, p...); return nil }
	for len(raw) > 0 {
		k := len(raw)
		if step > 0 {
			k = min(k, step)
		}
		if err := s.Feed(raw[:k], deliver); err != nil {
			return got, err
		}
		raw = raw[k:]
	}
	return got, nil
}

func TestSealOpenAllSuites(t *testing.T) {
	for _, id := range allSuites {
		t.Run(tls.CipherSuiteName(id), func(t *testing.T) {
			for _, step := range []int{0, 1, 7, recordHeaderLen, 1000} {
				server, client := pair(t, id)
				msg := bytes.Repeat([]byte("abcdefghij"), 5000) // 4 records
				wire, err := client.Seal(nil, msg[:10], msg[10:20000], msg[20000:])
				if err != nil {
					t.Fatal(err)
				}
				if want := len(msg) + 4*client.Overhead(); len(wire) != want {
					t.Fatalf("%d bytes on the wire, want %d", len(wire), want)
				}
				server.Rest()
				client.RestWrite()
				got, err := collect(server, wire, step)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("step %d: %d bytes, %v", step, len(got), err)
				}
				if server.Pending() {
					t.Fatal("a partial record is still held")
				}
			}
		})
	}
}

func TestPostHandshakeMessages(t *testing.T) {
	keyUpdate := []byte{msgKeyUpdate, 0, 0, 1, 0}
	cases := []struct {
		name    string
		records func(c *Session) []byte
		want    string // plaintext delivered
		alert   Alert  // 0: no ProtocolError
		err     error
		owed    bool
	}{
		{"padding", func(c *Session) []byte {
			return sealInner(c, 'h', 'i', typeApplicationData, 0, 0, 0, 0)
		}, "hi", 0, nil, false},
		{"empty application data is skipped", func(c *Session) []byte {
			return append(sealInner(c, typeApplicationData), sealInner(c, 'x', typeApplicationData)...)
		}, "x", 0, nil, false},
		{"only padding", func(c *Session) []byte { return sealInner(c, 0, 0, 0) }, "", AlertUnexpectedMessage, nil, false},
		{"KeyUpdate then data under the new key", func(c *Session) []byte {
			out := sealInner(c, append(keyUpdate, typeHandshake)...)
			_ = c.out.update(c.suite)
			return append(out, sealInner(c, 'n', 'e', 'w', typeApplicationData)...)
		}, "new", 0, nil, false},
		{"KeyUpdate requested", func(c *Session) []byte {
			out := sealInner(c, msgKeyUpdate, 0, 0, 1, 1, typeHandshake)
			_ = c.out.update(c.suite)
			return out
		}, "", 0, nil, true},
		{"KeyUpdate split over two records", func(c *Session) []byte {
			out := sealInner(c, msgKeyUpdate, 0, typeHandshake)
			out = append(out, sealInner(c, 0, 1, 0, typeHandshake)...)
			_ = c.out.update(c.suite)
			return append(out, sealInner(c, 'k', typeApplicationData)...)
		}, "k", 0, nil, false},
		{"data inside a split KeyUpdate", func(c *Session) []byte {
			return append(sealInner(c, msgKeyUpdate, 0, typeHandshake), sealInner(c, 'x', typeApplicationData)...)
		}, "", AlertUnexpectedMessage, nil, false},
		{"KeyUpdate not at the end of its record", func(c *Session) []byte {
			return sealInner(c, append(append(keyUpdate, keyUpdate...), typeHandshake)...)
		}, "", AlertUnexpectedMessage, nil, false},
		{"KeyUpdate of the wrong length", func(c *Session) []byte {
			return sealInner(c, msgKeyUpdate, 0, 0, 2, 0, 0, typeHandshake)
		}, "", AlertDecodeError, nil, false},
		{"KeyUpdate with request 2", func(c *Session) []byte {
			return sealInner(c, msgKeyUpdate, 0, 0, 1, 2, typeHandshake)
		}, "", AlertIllegalParameter, nil, false},
		{"NewSessionTicket from a client", func(c *Session) []byte {
			return sealInner(c, msgNewSessionTicket, 0, 0, 0, typeHandshake)
		}, "", AlertUnexpectedMessage, nil, false},
		{"empty handshake record", func(c *Session) []byte { return sealInner(c, typeHandshake) }, "", AlertUnexpectedMessage, nil, false},
		{"protected change_cipher_spec", func(c *Session) []byte { return sealInner(c, 1, typeChangeCipherSpec) }, "", AlertUnexpectedMessage, nil, false},
		{"unknown inner type", func(c *Session) []byte { return sealInner(c, 1, 99) }, "", AlertUnexpectedMessage, nil, false},
		{"close_notify", func(c *Session) []byte {
			out := sealInner(c, 'a', typeApplicationData)
			return append(out, sealInner(c, 1, 0, typeAlert)...)
		}, "a", 0, ErrCloseNotify, false},
		{"user_canceled is ignored", func(c *Session) []byte {
			out := sealInner(c, 1, byte(AlertUserCanceled), typeAlert)
			return append(out, sealInner(c, 'b', typeApplicationData)...)
		}, "b", 0, nil, false},
		{"fatal alert", func(c *Session) []byte { return sealInner(c, 2, 42, typeAlert) }, "", 0, &RemoteAlertError{42}, false},
		{"alert of three bytes", func(c *Session) []byte { return sealInner(c, 2, 42, 0, typeAlert) }, "", AlertDecodeError, nil, false},
		{"plaintext over 2^14", func(c *Session) []byte {
			return sealInner(c, append(make([]byte, MaxPlaintext+1), typeApplicationData)...)
		}, "", AlertRecordOverflow, nil, false},
		{"plaintext of exactly 2^14", func(c *Session) []byte {
			return sealInner(c, append(bytes.Repeat([]byte{'z'}, MaxPlaintext), typeApplicationData)...)
		}, string(bytes.Repeat([]byte{'z'}, MaxPlaintext)), 0, nil, false},
		{"too many records without data", func(c *Session) []byte {
			var out []byte
			for i := 0; i <= maxUselessRecords; i++ {
				out = append(out, sealInner(c, typeApplicationData)...)
			}
			return out
		}, "", AlertUnexpectedMessage, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, step := range []int{0, 1, 3} {
				server, client := pair(t, tls.TLS_AES_128_GCM_SHA256)
				got, err := collect(server, tc.records(client), step)
				if string(got) != tc.want {
					t.Fatalf("step %d: delivered %q, want %q", step, got, tc.want)
				}
				var pe *ProtocolError
				switch {
				case tc.alert != 0:
					if !errors.As(err, &pe) || pe.Alert != tc.alert {
						t.Fatalf("step %d: %v, want alert %v", step, err, tc.alert)
					}
				case tc.err != nil:
					if err == nil || err.Error() != tc.err.Error() {
						t.Fatalf("step %d: %v, want %v", step, err, tc.err)
					}
				case err != nil:
					t.Fatalf("step %d: %v", step, err)
				}
				if server.WriteOwed() != tc.owed {
					t.Fatalf("WriteOwed = %v", server.WriteOwed())
				}
				if err != nil {
					// Sticky: nothing more is accepted.
					if again := server.Feed([]byte{23}, func([]byte) error { return nil }); again != err {
						t.Fatalf("after %v, Feed returned %v", err, again)
					}
					if server.Pending() {
						t.Fatal("partial record kept after the stream ended")
					}
				}
			}
		})
	}
}

// TestAnswerKeyUpdate: the writer owes a KeyUpdate, sends it before its
// next record and moves to the next key; the peer follows.
func TestAnswerKeyUpdate(t *testing.T) {
	server, client := pair(t, tls.TLS_CHACHA20_POLY1305_SHA256)
	if _, err := collect(server, sealInner(client, msgKeyUpdate, 0, 0, 1, 1, typeHandshake), 0); err != nil {
		t.Fatal(err)
	}
	_ = client.out.update(client.suite)
	owed, err := server.Seal(nil)
	if err != nil || len(owed) == 0 || server.WriteOwed() {
		t.Fatalf("Seal with nothing to send: %d bytes, %v", len(owed), err)
	}
	data, _ := server.Seal(nil, []byte("after"))
	got, err := collect(client, append(owed, data...), 0)
	if err != nil || string(got) != "after" {
		t.Fatalf("client got %q, %v", got, err)
	}
	if client.in.secret != server.out.secret {
		t.Fatal("client's read key does not follow the server's write key")
	}
}

// TestDeliverError: an error from deliver ends the stream and is returned.
func TestDeliverError(t *testing.T) {
	server, client := pair(t, tls.TLS_AES_256_GCM_SHA384)
	wire, _ := client.Seal(nil, []byte("one"))
	more, _ := client.Seal(nil, []byte("two"))
	stop := errors.New("stop")
	calls := 0
	err := server.Feed(append(wire, more...), func([]byte) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("%v after %d calls", err, calls)
	}
}

func BenchmarkSeal(b *testing.B) {
	for _, id := range allSuites {
		b.Run(tls.CipherSuiteName(id), func(b *testing.B) {
			server, _ := pair(b, id)
			frame := make([]byte, 200) // a typical Pusher event frame
			buf := make([]byte, 0, 1024)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = server.Seal(buf[:0], frame)
			}
		})
	}
}

func BenchmarkFeed(b *testing.B) {
	for _, id := range allSuites {
		b.Run(tls.CipherSuiteName(id), func(b *testing.B) {
			server, client := pair(b, id)
			frame := make([]byte, 200)
			raw := make([]byte, 0, 1024)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				raw, _ = client.Seal(raw[:0], frame)
				if err := server.Feed(raw, func([]byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdleSessionMemory reports the heap an idle Session holds (both
// keys resting), per suite: what TLS adds to an idle connection once the
// handshake's garbage is gone.
func BenchmarkIdleSessionMemory(b *testing.B) {
	for _, id := range allSuites {
		b.Run(tls.CipherSuiteName(id), func(b *testing.B) {
			const n = 10000
			for b.Loop() {
				keep := make([]*Session, n)
				before := heapObjects()
				for i := range keep {
					keep[i], _ = pair(b, id)
					keep[i].Rest()
					keep[i].RestWrite()
				}
				after := heapObjects()
				b.ReportMetric(float64(after-before)/n, "bytes/session")
				runtime.KeepAlive(keep)
			}
		})
	}
}

func heapObjects() uint64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestMoveTo: a moved session carries on mid-record, with its sequence
// numbers, keys and what it owes.
func TestMoveTo(t *testing.T) {
	server, client := pair(t, tls.TLS_AES_128_GCM_SHA256)
	wire := sealInner(client, msgKeyUpdate, 0, 0, 1, 1, typeHandshake)
	_ = client.out.update(client.suite)
	more, _ := client.Seal(nil, []byte("after the move"))
	wire = append(wire, more...)
	got, err := collect(server, wire[:len(wire)-5], 0)
	if err != nil || len(got) != 0 || !server.Pending() || !server.WriteOwed() {
		t.Fatalf("before the move: %q, %v", got, err)
	}
	var moved Session
	server.MoveTo(&moved)
	if server.Pending() {
		t.Fatal("the partial record stayed behind")
	}
	if got, err = collect(&moved, wire[len(wire)-5:], 0); err != nil || string(got) != "after the move" {
		t.Fatalf("after the move: %q, %v", got, err)
	}
	answer, _ := moved.Seal(nil, []byte("x"))
	if got, err := collect(client, answer, 0); err != nil || string(got) != "x" {
		t.Fatalf("client read %q, %v", got, err)
	}
}

// TestCountAppRecords: the server's write sequence number after the
// handshake is the number of NewSessionTicket records it already sealed
// with its application key; anything else there means "unknown".
func TestCountAppRecords(t *testing.T) {
	ticket := []byte{msgNewSessionTicket, 0, 0, 2, 9, 9, typeHandshake}
	flight := func(extra ...[]byte) (sent []byte, out half) {
		server, _ := pair(t, tls.TLS_AES_128_GCM_SHA256)
		other, _ := pair(t, tls.TLS_CHACHA20_POLY1305_SHA256) // stands for the handshake key
		out = server.out
		sent = append(sent, typeHandshake, 3, 3, 0, 2, 2, 0) // ServerHello
		sent = append(sent, typeChangeCipherSpec, 3, 3, 0, 1, 1)
		sent = append(sent, sealInner(other, 8, 0, 0, 0, typeHandshake)...) // EncryptedExtensions
		for _, inner := range extra {
			sent = append(sent, sealInner(server, inner...)...)
		}
		return sent, out
	}
	for _, tc := range []struct {
		name  string
		extra [][]byte
		want  uint64
		ok    bool
	}{
		{"no ticket", nil, 0, true},
		{"one ticket", [][]byte{ticket}, 1, true},
		{"two tickets", [][]byte{ticket, ticket}, 2, true},
		{"application data", [][]byte{{'x', typeApplicationData}}, 0, false},
		{"another handshake message", [][]byte{{msgKeyUpdate, 0, 0, 1, 0, typeHandshake}}, 0, false},
	} {
		sent, out := flight(tc.extra...)
		got, err := countAppRecords(&out, sent)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: %d, %v", tc.name, got, err)
		}
	}
	sent, out := flight(ticket)
	if _, err := countAppRecords(&out, sent[:len(sent)-1]); err == nil {
		t.Error("a cut record was accepted")
	}
}
