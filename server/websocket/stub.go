// Package websocket is the server side of RFC 6455 as Reverb (Ratchet's
// rfc6455 library) speaks it: the handshake checks in Ratchet's order with
// its exact error responses, a push-based frame decoder that keeps no buffer
// while a connection is idle, and allocation-free frame writers.
package websocket

import "net/http"

// Opcode is a WebSocket frame opcode.
type Opcode byte

// Opcodes of RFC 6455.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// HandshakeError is a rejected upgrade: the response Ratchet would send.
// Write it with AppendResponse, then close the socket.
type HandshakeError struct {
	Status int
	// Header lists the extra headers in order (X-Powered-By last).
	Header [][2]string
	Body   string
}

func (e *HandshakeError) Error() string { return "" }

// AppendResponse appends the raw HTTP/1.1 response (Guzzle format: status
// line, the extra headers, blank line, body).
func (e *HandshakeError) AppendResponse(dst []byte) []byte { return dst }

// CheckHandshake validates an upgrade request in Ratchet's order and returns
// nil when it may be accepted.
func CheckHandshake(r *http.Request) *HandshakeError { return nil }

// IsUpgrade reports whether r asks for a WebSocket upgrade ("Upgrade:
// websocket", case-insensitive); other Upgrade values are plain HTTP.
func IsUpgrade(r *http.Request) bool { return false }

// AcceptKey is base64(sha1(key + RFC 6455 GUID)).
func AcceptKey(key string) string { return "" }

// AppendHandshakeResponse appends Reverb's byte-exact 101 response.
func AppendHandshakeResponse(dst []byte, acceptKey string) []byte { return dst }

// CloseError is a protocol violation: the close frame the server must send
// (AppendClose(dst, Code, Reason)) before closing the TCP connection.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string { return "" }

// Decoder turns the byte stream from a client into messages. It is not safe
// for concurrent use: one reader goroutine owns it.
type Decoder struct{}

// NewDecoder returns a decoder enforcing maxMessageSize (whole message, 0 =
// unlimited) and maxFrameSize (one frame's declared length, 0 = unlimited).
func NewDecoder(maxMessageSize, maxFrameSize int64) *Decoder { return &Decoder{} }

// Feed parses p, which may hold any part of the stream. For every complete
// data message (text or binary, fragments reassembled) and every control
// frame it calls handle with the opcode (OpText, OpBinary, OpClose, OpPing,
// OpPong) and the unmasked payload. payload is only valid during the call.
// Feed may modify p in place (unmasking). It returns the first error of
// handle, or a *CloseError for a protocol violation; after an error the
// decoder must not be fed again.
func (d *Decoder) Feed(p []byte, handle func(op Opcode, payload []byte) error) error { return nil }

// Buffered is the number of bytes the decoder holds (a partial frame or
// message); zero while idle.
func (d *Decoder) Buffered() int { return 0 }

// EchoClosePayload is the payload of the server's reply to a client close
// frame: 1000 with no reason for an empty one, else the same bytes.
func EchoClosePayload(payload []byte) []byte { return nil }

// AppendFrame appends one unfragmented, unmasked server frame (FIN set).
func AppendFrame(dst []byte, op Opcode, payload []byte) []byte { return dst }

// AppendText appends a text frame carrying payload.
func AppendText(dst []byte, payload []byte) []byte { return dst }

// AppendClose appends a close frame with code and reason.
func AppendClose(dst []byte, code int, reason string) []byte { return dst }

// AppendPing appends a ping frame.
func AppendPing(dst []byte, payload []byte) []byte { return dst }

// AppendPong appends a pong frame.
func AppendPong(dst []byte, payload []byte) []byte { return dst }
