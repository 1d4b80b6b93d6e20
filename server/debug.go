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

// debugMessage prints a JSON message pretty-printed, data and
// data.channel_data decoded, truncated to 200 characters.
func (s *Server) debugMessage(p []byte) {
	if s.debug == nil {
		return
	}
	var v map[string]any
	out := string(p)
	if json.Unmarshal(p, &v) == nil {
		if d, ok := v["data"].(string); ok {
			var dv any
			if json.Unmarshal([]byte(d), &dv) == nil {
				v["data"] = dv
			}
		}
		if d, ok := v["data"].(map[string]any); ok {
			if cd, ok := d["channel_data"].(string); ok {
				var cv any
				if json.Unmarshal([]byte(cd), &cv) == nil {
					d["channel_data"] = cv
				}
			}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "    ")
		if enc.Encode(v) == nil {
			out = strings.TrimRight(buf.String(), "\n")
		}
	}
	if len(out) > 200 {
		out = out[:200] + "..."
	}
	s.errMu.Lock()
	defer s.errMu.Unlock()
	fmt.Fprintf(s.debug, "%s\n", out)
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
