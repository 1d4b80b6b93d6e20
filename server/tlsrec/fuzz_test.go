package tlsrec

import (
	"bytes"
	"crypto/tls"
	"errors"
	"testing"
)

// FuzzFeed: whatever arrives, Feed never panics, never delivers more than
// arrived, and gives the same plaintext and outcome however the bytes are
// split into reads. The seeds are real record streams (data, KeyUpdate,
// alerts, padding) sealed with the fuzz keys, plus garbage; the corpus
// under testdata/fuzz holds them.
func FuzzFeed(f *testing.F) {
	_, c := pair(f, tls.TLS_AES_128_GCM_SHA256)
	data, _ := c.Seal(nil, []byte("hello"), bytes.Repeat([]byte{'x'}, 300))
	f.Add(data, uint8(0))
	f.Add(data, uint8(1))
	_, c = pair(f, tls.TLS_AES_128_GCM_SHA256)
	ku := sealInner(c, msgKeyUpdate, 0, 0, 1, 1, typeHandshake)
	_ = c.out.update(c.suite)
	ku = append(ku, sealInner(c, 'a', 'b', typeApplicationData, 0, 0)...)
	ku = append(ku, sealInner(c, 1, 0, typeAlert)...)
	f.Add(ku, uint8(3))
	_, c = pair(f, tls.TLS_AES_128_GCM_SHA256)
	f.Add(sealInner(c, 2, 40, typeAlert), uint8(2))
	f.Add([]byte{23, 3, 3, 0x41, 0x01, 0, 0}, uint8(1))
	f.Add([]byte{22, 3, 1, 0, 5, 1, 0, 0, 1, 0}, uint8(0))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), uint8(4))

	f.Fuzz(func(t *testing.T, raw []byte, step uint8) {
		whole, _ := pair(t, tls.TLS_AES_128_GCM_SHA256)
		split, _ := pair(t, tls.TLS_AES_128_GCM_SHA256)
		got1, err1 := collect(whole, raw, 0)
		got2, err2 := collect(split, raw, int(step%16)+1)
		if len(got1) > len(raw) {
			t.Fatalf("delivered %d bytes from %d", len(got1), len(raw))
		}
		if !bytes.Equal(got1, got2) {
			t.Fatalf("split reads delivered %q, whole %q", got2, got1)
		}
		if !sameOutcome(err1, err2) {
			t.Fatalf("whole: %v, split: %v", err1, err2)
		}
		if err1 != nil && (whole.Pending() || split.Pending()) {
			t.Fatal("a partial record is kept after the stream ended")
		}
	})
}

func sameOutcome(a, b error) bool {
	var pa, pb *ProtocolError
	if errors.As(a, &pa) && errors.As(b, &pb) {
		return pa.Alert == pb.Alert
	}
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}
