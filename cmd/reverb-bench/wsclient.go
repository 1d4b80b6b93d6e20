package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// wsConn is a minimal Pusher WebSocket client: just enough protocol to
// connect, subscribe, read server frames and answer pings. It is hand-rolled
// so the load generator stays cheap (no per-message allocation beyond what a
// frame needs) and so it can bind a chosen loopback source address.
type wsConn struct {
	c  net.Conn
	br *bufio.Reader
	// buf is reused for every payload readFrame returns: a payload is only
	// valid until the next readFrame (the read loop never keeps one), which
	// saves one allocation per delivered message on the client side.
	buf []byte
	wm  sync.Mutex // serialises writes (reader answers pings, owner subscribes)

	SocketID string
}

var errRefused = errors.New("connection refused")

// dialPusher opens a WebSocket to ws://addr{path}/app/{key} (wss with
// secure) from source address src (empty = any) and waits for
// pusher:connection_established.
func dialPusher(addr, src, path, key string, secure bool, timeout time.Duration) (*wsConn, error) {
	d := net.Dialer{Timeout: timeout}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
		d.Control = bindNoPort
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if isRefused(err) {
			return nil, errRefused
		}
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	if secure {
		tc := tls.Client(c, clientTLS)
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		c = tc
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	req := "GET " + path + "/app/" + key + "?protocol=7&client=reverb-bench&version=1.0&flash=false HTTP/1.1\r\n" +
		"Host: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(nonce[:]) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	w := &wsConn{c: c, br: bufio.NewReaderSize(c, 4096)}
	status, err := w.br.ReadString('\n')
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	if !bytes.HasPrefix([]byte(status), []byte("HTTP/1.1 101")) {
		c.Close()
		return nil, fmt.Errorf("handshake: %q", status)
	}
	for {
		line, err := w.br.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("handshake headers: %w", err)
		}
		if line == "\r\n" {
			break
		}
	}
	op, payload, err := w.readFrame()
	if err != nil || op != 1 {
		c.Close()
		return nil, fmt.Errorf("connection_established: op %d: %v", op, err)
	}
	i := bytes.Index(payload, []byte(`socket_id\":\"`))
	if i < 0 {
		c.Close()
		return nil, fmt.Errorf("no socket id in %q", payload)
	}
	rest := payload[i+len(`socket_id\":\"`):]
	if j := bytes.IndexByte(rest, '\\'); j > 0 {
		w.SocketID = string(rest[:j])
	}
	_ = c.SetDeadline(time.Time{})
	return w, nil
}

// subscribe sends pusher:subscribe for a public channel and waits for
// subscription_succeeded.
func (w *wsConn) subscribe(channel string, timeout time.Duration) error {
	if err := w.sendText([]byte(`{"event":"pusher:subscribe","data":{"channel":"` + channel + `"}}`)); err != nil {
		return err
	}
	_ = w.c.SetReadDeadline(time.Now().Add(timeout))
	defer w.c.SetReadDeadline(time.Time{})
	for {
		op, payload, err := w.readFrame()
		if err != nil {
			return err
		}
		if op == 1 && bytes.Contains(payload, []byte("subscription_succeeded")) {
			return nil
		}
		if op == 8 {
			return fmt.Errorf("closed while subscribing: %v", closeCode(payload))
		}
	}
}

// readFrame reads one server frame (unmasked, possibly fragmented frames are
// returned one by one; the server never fragments).
func (w *wsConn) readFrame() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(w.br, h[:]); err != nil {
		return 0, nil, err
	}
	op = h[0] & 0x0f
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(w.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(w.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 16<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	if uint64(cap(w.buf)) < n {
		w.buf = make([]byte, n, max(n, 512))
	}
	payload = w.buf[:n]
	_, err = io.ReadFull(w.br, payload)
	return op, payload, err
}

func (w *wsConn) sendText(p []byte) error { return w.send(1, p) }

// send writes one masked client frame.
func (w *wsConn) send(op byte, p []byte) error {
	buf := make([]byte, 0, len(p)+14)
	buf = append(buf, 0x80|op)
	switch {
	case len(p) < 126:
		buf = append(buf, 0x80|byte(len(p)))
	case len(p) < 1<<16:
		buf = append(buf, 0x80|126, byte(len(p)>>8), byte(len(p)))
	default:
		buf = append(buf, 0x80|127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(p)))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	buf = append(buf, mask[:]...)
	for i, b := range p {
		buf = append(buf, b^mask[i&3])
	}
	w.wm.Lock()
	defer w.wm.Unlock()
	_, err := w.c.Write(buf)
	return err
}

func (w *wsConn) Close() error { return w.c.Close() }

// closeCode extracts the status code of a close frame payload (0 if none).
func closeCode(payload []byte) int {
	if len(payload) < 2 {
		return 0
	}
	return int(binary.BigEndian.Uint16(payload))
}

// eventStamp finds the send timestamp the coordinator put in an event's data
// (`\"t\":<unix nanos>` in an API event's data string, `"t":<unix nanos>`
// in a client event's data object), without decoding the JSON.
func eventStamp(payload []byte) (int64, bool) {
	key := []byte(`\"t\":`)
	i := bytes.Index(payload, key)
	if i < 0 {
		key = []byte(`"t":`)
		if i = bytes.Index(payload, key); i < 0 {
			return 0, false
		}
	}
	rest := payload[i+len(key):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	v, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return v, err == nil
}

func isRefused(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) {
		return bytes.Contains([]byte(op.Err.Error()), []byte("connection refused"))
	}
	return false
}
