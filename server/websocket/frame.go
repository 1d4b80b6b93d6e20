package websocket

import (
	"encoding/binary"
	"strconv"
)

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

// Close codes the server uses.
const (
	CloseNormal     = 1000
	CloseProtocol   = 1002
	CloseBadPayload = 1007
	CloseTooBig     = 1009
)

// CloseError is a protocol violation found in the client's stream: the close
// frame the server sends (AppendClose(dst, e.Code, e.Reason)) before closing
// the TCP connection. Codes and reasons are Ratchet's, byte for byte.
type CloseError struct {
	Code   int
	Reason string
}

// Error describes the violation for logs.
func (e *CloseError) Error() string {
	return "websocket: close " + strconv.Itoa(e.Code) + " " + e.Reason
}

// Ratchet's violations, shared so the decoder never allocates an error.
var (
	errFrameLength   = &CloseError{CloseProtocol, "Invalid frame length"}
	errFrameTooBig   = &CloseError{CloseTooBig, "Maximum frame size exceeded"}
	errMessageTooBig = &CloseError{CloseTooBig, "Maximum message size exceeded"}
	errReserved      = &CloseError{CloseProtocol, "Ratchet detected an invalid reserve code"}
	errUnmasked      = &CloseError{CloseProtocol, "Ratchet detected an incorrect frame mask"}
	errControlFrame  = &CloseError{CloseProtocol, "Ratchet detected a mismatch between final bit and indicated payload length"}
	errCloseCode     = &CloseError{CloseProtocol, "Ratchet detected an invalid close code"}
	errCloseReason   = &CloseError{CloseBadPayload, "Ratchet detected an invalid UTF-8 payload in the close reason"}
	errOpcode        = &CloseError{CloseProtocol, "Ratchet detected an invalid OP code"}
	errFirstContinue = &CloseError{CloseProtocol, "Ratchet detected the first frame of a message was a continue"}
	errNotContinue   = &CloseError{CloseProtocol, "Ratchet detected invalid OP code when expecting continue frame"}
	errBadUTF8       = &CloseError{CloseBadPayload, "Ratchet detected an invalid UTF-8 payload"}
)

// ValidCloseCode reports whether a client may send code in a close frame
// (Ratchet's CloseFrameChecker).
func ValidCloseCode(code int) bool {
	switch code {
	case 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011:
		return true
	}
	return code >= 3000 && code <= 4999
}

// EchoClosePayload is the payload of the server's reply to a client close
// frame (already validated by the Decoder): code 1000 with no reason for an
// empty one, else the same bytes.
func EchoClosePayload(payload []byte) []byte {
	if len(payload) == 0 {
		return []byte{CloseNormal >> 8, CloseNormal & 0xff}
	}
	return payload
}

// AppendFrameHeader appends the header of an unfragmented, unmasked server
// frame (FIN set) whose payload is length bytes, so callers can write the
// payload right after it without an intermediate buffer.
func AppendFrameHeader(dst []byte, op Opcode, length int) []byte {
	b0 := 0x80 | byte(op)
	switch {
	case length < 126:
		return append(dst, b0, byte(length))
	case length <= 0xFFFF:
		return append(dst, b0, 126, byte(length>>8), byte(length))
	default:
		dst = append(dst, b0, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(length))
	}
}

// FrameHeaderSize is the length of the header AppendFrameHeader writes for a
// payload of length bytes.
func FrameHeaderSize(length int) int {
	switch {
	case length < 126:
		return 2
	case length <= 0xFFFF:
		return 4
	}
	return 10
}

// AppendFrame appends one unfragmented, unmasked server frame (FIN set).
func AppendFrame(dst []byte, op Opcode, payload []byte) []byte {
	return append(AppendFrameHeader(dst, op, len(payload)), payload...)
}

// AppendText appends a text frame carrying payload.
func AppendText(dst []byte, payload []byte) []byte { return AppendFrame(dst, OpText, payload) }

// AppendTextString appends a text frame carrying s.
func AppendTextString(dst []byte, s string) []byte {
	return append(AppendFrameHeader(dst, OpText, len(s)), s...)
}

// AppendClose appends a close frame with code and reason. Callers keep the
// reason under 124 bytes (control frame limit).
func AppendClose(dst []byte, code int, reason string) []byte {
	dst = AppendFrameHeader(dst, OpClose, 2+len(reason))
	dst = append(dst, byte(code>>8), byte(code))
	return append(dst, reason...)
}

// AppendPing appends a ping frame.
func AppendPing(dst []byte, payload []byte) []byte { return AppendFrame(dst, OpPing, payload) }

// AppendPong appends a pong frame.
func AppendPong(dst []byte, payload []byte) []byte { return AppendFrame(dst, OpPong, payload) }
