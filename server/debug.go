package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// debugWidth is the line width of two-column output (Laravel uses the
// terminal's, capped at 150).
const debugWidth = 100

// debugInfo prints a two-column line: "  Title ...... detail". Callers check
// s.debug != nil first so the hot path formats nothing without --debug.
func (s *Server) debugInfo(title, detail string) {
	if s.debug == nil {
		return
	}
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
	if s.debug == nil {
		return
	}
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

func (s *Server) debugControl(c *conn, payload []byte) {
	if s.debug == nil {
		return
	}
	s.debugInfo("Control Frame Received", c.id)
	s.errMu.Lock()
	defer s.errMu.Unlock()
	fmt.Fprintf(s.debug, "%s\n", payload)
}

func (s *Server) debugError(text string) {
	if s.debug == nil {
		return
	}
	s.errMu.Lock()
	defer s.errMu.Unlock()
	fmt.Fprintf(s.debug, "\n [ERROR] %s\n\n", text)
}

// debugPusherError logs that a message ended in a Pusher error; nothing is
// formatted without --debug.
func (c *conn) debugPusherError() {
	if c.srv.debug != nil {
		c.srv.debugError("Message from " + c.id + " resulted in a pusher error")
	}
}
