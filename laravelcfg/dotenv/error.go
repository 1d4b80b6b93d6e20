package dotenv

import (
	"fmt"
	"strings"
)

// Error is a .env file Laravel refuses to boot with ("The environment file is
// invalid!"). It names the file, the 1-based line where the offending entry
// starts, the entry's first line, and phpdotenv's own wording of the cause so
// that an operator can search for it.
type Error struct {
	File string
	Line int
	// Text is the first line of the offending entry, as written.
	Text string
	// Reason is phpdotenv's cause, e.g. "Encountered unexpected whitespace".
	Reason string
	// Subject is what phpdotenv shows between brackets after the reason: the
	// (trimmed) value, the name, or the whole line, first line only.
	Subject string
	// LastLine is, for an entry read over several lines (a double quote
	// not closed on its own line runs on to the next line holding one),
	// the line it ends on; 0 for an entry of one line.
	LastLine int
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Reason, e.Text)
	if e.LastLine > e.Line {
		// Most often a missing closing quote: phpdotenv then reads on to
		// the next line with a double quote and fails there, or further.
		msg += fmt.Sprintf(" (the double quote opened on line %d is not closed on that line, so lines %d-%d are read as one value: "+
			"close the quote on line %d, or end the value where it should end)", e.Line, e.Line, e.LastLine, e.Line)
	}
	return msg
}

// PHPMessage is the exception message phpdotenv gives for the same file,
// e.g. "Failed to parse dotenv file. Encountered unexpected whitespace at
// [My App]." Tests compare it with the PHP oracle.
func (e *Error) PHPMessage() string {
	return "Failed to parse dotenv file. " + e.Reason + " at [" + e.Subject + "]."
}

// phpdotenv's causes, worded exactly as its EntryParser words them.
const (
	causeEquals       = "an unexpected equals"
	causeName         = "an invalid name"
	causeEscape       = "an unexpected escape sequence"
	causeQuote        = "a missing closing quote"
	causeWhitespace   = "unexpected whitespace"
	reasonEncountered = "Encountered "
)

// newError builds an Error the way phpdotenv's getErrorMessage does: only the
// first line of the subject (PHP's strtok(subject, "\n"), which also skips
// leading newlines) is shown.
func newError(file string, line int, raw, cause, subject string) *Error {
	text, _, _ := strings.Cut(raw, "\n")
	e := &Error{
		File:    file,
		Line:    line,
		Text:    text,
		Reason:  reasonEncountered + cause,
		Subject: strtokNewline(subject),
	}
	if n := strings.Count(raw, "\n"); n > 0 {
		e.LastLine = line + n
	}
	return e
}

// strtokNewline is PHP's strtok($s, "\n") on a fresh string: skip leading
// newlines, return up to the next one ("" when nothing is left, where PHP
// returns false and sprintf prints an empty string).
func strtokNewline(s string) string {
	s = strings.TrimLeft(s, "\n")
	s, _, _ = strings.Cut(s, "\n")
	return s
}
