// Package console prints operator messages the way Laravel's console
// components do (`   INFO  Starting server on 0.0.0.0:8080.`), so `reverb
// start` reads like `php artisan reverb:start` in a terminal and in
// supervisord/systemd logs alike.
package console

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Level is the label Laravel prints before a message.
type Level string

// The labels of Laravel's info/warn/error components.
const (
	Info  Level = "INFO"
	Warn  Level = "WARN"
	Error Level = "ERROR"
)

// ANSI background colours Laravel uses for each label (blue, yellow, red).
var labelColour = map[Level]string{
	Info:  "\x1b[37;44;1m",
	Warn:  "\x1b[30;43;1m",
	Error: "\x1b[37;41;1m",
}

// Writer prints Laravel-style lines. It is safe for concurrent use: mu
// serialises whole messages so lines from several goroutines never interleave.
type Writer struct {
	mu     sync.Mutex
	out    io.Writer
	colour bool
	// quiet drops INFO and WARN (artisan -q: only errors are displayed).
	quiet bool
}

// New returns a Writer on out. Colour is used only when out is a terminal
// (Laravel decorates only then; logs under supervisord stay plain).
func New(out io.Writer) *Writer {
	return &Writer{out: out, colour: isTerminal(out)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return colourTerminal(f.Fd())
}

// Line formats one message without printing it: three spaces, the label, two
// spaces, the text with a final period added when it ends without
// punctuation (Laravel's EnsureDotAtEnd mutator).
func Line(level Level, text string, colour bool) string {
	text = ensureDot(text)
	label := " " + string(level) + " "
	if colour {
		label = labelColour[level] + label + "\x1b[39;49;22m"
	}
	return "  " + label + " " + text
}

func ensureDot(s string) string {
	s = strings.TrimRight(s, " \t\r\n")
	if s == "" {
		return s
	}
	switch s[len(s)-1] {
	case '.', '!', '?', ':':
		return s
	}
	return s + "."
}

// Printf prints one message with a blank line after it, like Laravel's
// components (which also print one before; we print that one only for the
// first message so consecutive messages are separated by one blank line).
func (w *Writer) Printf(level Level, format string, args ...any) {
	if w == nil || w.quiet && level != Error {
		return
	}
	text := fmt.Sprintf(format, args...)
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.out, "\n%s\n", Line(level, text, w.colour))
}

// Configure overrides the terminal detection (artisan --ansi / --no-ansi;
// nil keeps it) and, with quiet, prints only errors (artisan -q). Call it
// before the Writer is shared.
func (w *Writer) Configure(colour *bool, quiet bool) {
	if colour != nil {
		w.colour = *colour
	}
	w.quiet = quiet
}

// Infof prints an INFO message.
func (w *Writer) Infof(format string, args ...any) { w.Printf(Info, format, args...) }

// Warnf prints a WARN message.
func (w *Writer) Warnf(format string, args ...any) { w.Printf(Warn, format, args...) }

// Errorf prints an ERROR message.
func (w *Writer) Errorf(format string, args ...any) { w.Printf(Error, format, args...) }
