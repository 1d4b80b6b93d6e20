package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/websocket"
)

// debugWidth is the line width of two-column output (Laravel uses the
// terminal's, capped at 150).
const debugWidth = 100

// debugObserver is --debug: the message stream with Reverb's titles, a
// consumer of the observer seam. Lines of different goroutines never
// interleave (s.errMu).
type debugObserver struct{ s *Server }

const debugKinds = ConnectionOpened | ConnectionClosed | ConnectionPruned | ConnectionPinged | Sweep |
	MessageIn | MessageReceived | MessageError | ControlFrame | CloseSent | Broadcast

func (debugObserver) Interest(*laravelcfg.App) EventKind { return debugKinds }

func (d debugObserver) Observe(e Event) {
	s := d.s
	switch e.Kind {
	case ConnectionOpened:
		s.debugInfo("Connection Established", e.SocketID)
	case ConnectionClosed:
		s.debugInfo("Connection Closed", e.SocketID)
	case ConnectionPruned:
		s.debugInfo("Connection Pruned", e.SocketID)
	case ConnectionPinged:
		s.debugInfo("Connection Pinged", e.SocketID)
	case Sweep:
		if e.Name == "prune" {
			s.debugInfo("Pruning Stale Connections", "")
		} else {
			s.debugInfo("Pinging Inactive Connections", "")
		}
	case MessageIn:
		s.debugInfo("Message Received", e.SocketID)
		s.debugMessage(e.Data)
	case MessageReceived:
		s.debugInfo("Message Handled", e.SocketID)
	case MessageError:
		// Reverb's Server::error: a PusherException, then its message; any
		// other exception (answered 4200) is "unknown".
		if e.Name == "unknown" {
			s.debugError("Message from " + e.SocketID + " resulted in an unknown error")
			break
		}
		s.debugError("Message from " + e.SocketID + " resulted in a pusher error")
		if len(e.Data) > 0 {
			s.debugInfo(string(e.Data), "")
		}
	case ControlFrame:
		s.debugInfo("Control Frame Received", e.SocketID)
		var line string
		switch e.Name {
		case "close":
			line = describeClose(e.Data)
		case "ping":
			line = "Ping " + printable(e.Data)
		default:
			line = "Pong " + printable(e.Data)
		}
		s.errMu.Lock()
		fmt.Fprintf(s.debug, "%s\n", line)
		s.errMu.Unlock()
	case CloseSent:
		s.debugInfo("Close Frame Sent", e.SocketID)
		s.errMu.Lock()
		fmt.Fprintf(s.debug, "%s\n", closeText(e.Count, e.Name))
		s.errMu.Unlock()
	case Broadcast:
		s.debugInfo("Broadcasting To", e.Channel)
		s.debugMessage(e.Data)
	}
}

// debugInfo prints a two-column line: "  Title ...... detail".
func (s *Server) debugInfo(title, detail string) {
	dots := debugWidth - len(title) - len(detail) - 6
	if dots < 3 {
		dots = 3
	}
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if detail == "" {
		fmt.Fprintf(s.debug, "  %s\n", title)
		return
	}
	fmt.Fprintf(s.debug, "  %s %s %s\n", title, strings.Repeat(".", dots), detail)
}

// debugMessage prints a JSON message pretty-printed in its own key order,
// data (and data.channel_data) decoded when they hold JSON strings,
// truncated to 200 characters.
func (s *Server) debugMessage(p []byte) {
	out := string(p)
	if pretty, ok := prettyMessage(p); ok {
		out = pretty
	}
	if len(out) > 200 {
		out = out[:200] + "..."
	}
	s.errMu.Lock()
	defer s.errMu.Unlock()
	fmt.Fprintf(s.debug, "%s\n", out)
}

func prettyMessage(p []byte) (string, bool) {
	compact, ok := expandStrings(p, 2)
	if !ok {
		return "", false
	}
	var buf bytes.Buffer
	if json.Indent(&buf, compact, "", "    ") != nil {
		return "", false
	}
	return buf.String(), true
}

// expandStrings rebuilds an object with its "data" and "channel_data"
// string members replaced by the JSON they hold, depth levels down.
func expandStrings(p []byte, depth int) ([]byte, bool) {
	fields, err := rawObject(p)
	if err != nil {
		return nil, false
	}
	b := []byte{'{'}
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(f.key)
		b = append(b, k...)
		b = append(b, ':')
		v := f.value
		if (f.key == "data" || f.key == "channel_data") && depth > 0 {
			inner := dataAsSent(v)
			if len(inner) > 0 && inner[0] == '{' {
				if x, ok := expandStrings(inner, depth-1); ok {
					inner = x
				}
			}
			v = inner
		}
		b = append(b, v...)
	}
	return append(b, '}'), true
}

// debugControl reports a control frame a client sent (the read path calls
// it); --debug prints it readably.
func (s *Server) debugControl(c *conn, op websocket.Opcode, payload []byte) {
	if c.app.wants(ControlFrame) {
		name := "pong"
		switch op {
		case websocket.OpClose:
			name = "close"
		case websocket.OpPing:
			name = "ping"
		}
		c.app.emit(Event{Kind: ControlFrame, SocketID: c.id, Origin: c.origin, Name: name, Data: payload})
	}
}

// debugCloseSent reports the close frame the server sends (once per
// connection: closeNow runs once), so a close shows up once whichever side
// began it; the client's echo of it is not reported again.
func (s *Server) debugCloseSent(c *conn, code int, reason string) {
	if c.app.wants(CloseSent) {
		c.app.emit(Event{Kind: CloseSent, SocketID: c.id, Origin: c.origin, Name: reason, Count: code})
	}
}

// describeClose renders a close frame's payload: "Close 1000 (normal
// closure): bye".
func describeClose(payload []byte) string {
	if len(payload) < 2 {
		return "Close (no status code)"
	}
	return closeText(int(payload[0])<<8|int(payload[1]), string(payload[2:]))
}

func closeText(code int, reason string) string {
	out := fmt.Sprintf("Close %d", code)
	if m := closeMeaning(code); m != "" {
		out += " (" + m + ")"
	}
	if reason != "" {
		out += ": " + printable([]byte(reason))
	}
	return out
}

// closeMeaning names RFC 6455's codes and Pusher's ranges.
func closeMeaning(code int) string {
	switch {
	case code == 1000:
		return "normal closure"
	case code == 1001:
		return "going away"
	case code == 1002:
		return "protocol error"
	case code == 1003:
		return "unsupported data"
	case code == 1007:
		return "invalid payload data"
	case code == 1008:
		return "policy violation"
	case code == 1009:
		return "message too big"
	case code == 1010:
		return "mandatory extension"
	case code == 1011:
		return "internal error"
	case code >= 4000 && code < 4100:
		return "Pusher: do not reconnect"
	case code >= 4100 && code < 4200:
		return "Pusher: reconnect after a pause"
	case code >= 4200 && code < 4300:
		return "Pusher: reconnect now"
	}
	return ""
}

// printable is p as text when it is valid UTF-8 without control
// characters, else Go-quoted.
func printable(p []byte) string {
	if len(p) == 0 {
		return "(empty)"
	}
	if utf8.Valid(p) && !bytes.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return string(p)
	}
	return strconv.Quote(string(p))
}

func (s *Server) debugError(text string) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	fmt.Fprintf(s.debug, "\n [ERROR] %s\n\n", text)
}

// debugPusherError reports that a message ended in a Pusher error with
// message msg (the error's text, as the client got it).
func (c *conn) debugPusherError(msg string) {
	if c.app.wants(MessageError) {
		c.app.emit(Event{Kind: MessageError, SocketID: c.id, Origin: c.origin, Name: "pusher", Data: []byte(msg)})
	}
}

// debugUnknownError reports that a message was answered 4200 Invalid
// message format: what Reverb answers to an exception that is not a
// Pusher one (invalid JSON, a failed validation, an unknown event).
func (c *conn) debugUnknownError() {
	if c.app.wants(MessageError) {
		c.app.emit(Event{Kind: MessageError, SocketID: c.id, Origin: c.origin, Name: "unknown"})
	}
}
