package console

import (
	"bytes"
	"testing"
)

func TestLine(t *testing.T) {
	tests := []struct {
		level Level
		text  string
		want  string
	}{
		{Info, "Starting server on 0.0.0.0:8080", "   INFO  Starting server on 0.0.0.0:8080."},
		{Info, "Starting server on 0.0.0.0:8080 (localhost)", "   INFO  Starting server on 0.0.0.0:8080 (localhost)."},
		{Warn, "Already done.", "   WARN  Already done."},
		{Error, "config/reverb.php:12: syntax error", "   ERROR  config/reverb.php:12: syntax error."},
		{Info, "what?", "   INFO  what?"},
		{Info, "", "   INFO  "},
	}
	for _, tt := range tests {
		if got := Line(tt.level, tt.text, false); got != tt.want {
			t.Errorf("Line(%s, %q) = %q, want %q", tt.level, tt.text, got, tt.want)
		}
	}
}

func TestWriterPlainWhenNotTerminal(t *testing.T) {
	var buf bytes.Buffer
	w := New(&buf)
	w.Infof("Starting server on %s:%d", "127.0.0.1", 8080)
	w.Errorf("broken")
	want := "\n   INFO  Starting server on 127.0.0.1:8080.\n\n   ERROR  broken.\n"
	if buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
	var nilWriter *Writer
	nilWriter.Infof("ignored") // must not panic
}
