package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg"
)

// debugWidth is the line width of two-column output (Laravel uses the
// terminal's, capped at 150).
const debugWidth = 100

// debugObserver is --debug: the message stream with Reverb's titles, a
// consumer of the observer seam. Lines of different goroutines never
// interleave (s.errMu).
type debugObserver struct{ s *Server }

const debugKinds = ConnectionOpened | ConnectionClosed | ConnectionPruned | ConnectionPinged | Sweep |
	MessageIn | MessageReceived | MessageError | ControlFrame | Broadcast

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
		s.debugError("Message from " + e.SocketID + " resulted in a pusher error")
	case ControlFrame:
		s.debugInfo("Control Frame Received", e.SocketID)
		s.errMu.Lock()
		fmt.Fprintf(s.debug, "%s\n", e.Data)
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

// debugControl reports a control frame (the read path calls it).
func (s *Server) debugControl(c *conn, payload []byte) {
	if c.app.wants(ControlFrame) {
		c.app.emit(Event{Kind: ControlFrame, SocketID: c.id, Origin: c.origin, Data: payload})
	}
}

func (s *Server) debugError(text string) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	fmt.Fprintf(s.debug, "\n [ERROR] %s\n\n", text)
}

// debugPusherError reports that a message ended in a Pusher error.
func (c *conn) debugPusherError() {
	if c.app.wants(MessageError) {
		c.app.emit(Event{Kind: MessageError, SocketID: c.id, Origin: c.origin})
	}
}
