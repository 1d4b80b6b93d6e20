package dotenv

import (
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// rawEntry is one entry after pass 1: its text (several physical lines
// joined with "\n" for a multi-line double-quoted value) and the 1-based
// number of the physical line it starts on.
type rawEntry struct {
	text string
	line int
}

// splitLines splits like PHP's preg_split("/(\r\n|\n|\r)/"): CRLF, LF and a
// lone CR each end a line; a trailing terminator yields a last empty line.
func splitLines(s string) []string {
	lines := make([]string, 0, strings.Count(s, "\n")+1)
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			lines = append(lines, s[start:i])
			start = i + 1
		case '\r':
			lines = append(lines, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	return append(lines, s[start:])
}

// joinLines is pass 1 (phpdotenv's Parser\Lines): it glues multi-line
// double-quoted values together and drops blank and comment lines.
//
// The multi-line detection is textual and runs before the comment check, so
// it reproduces phpdotenv's surprises on purpose: a comment line or an inline
// comment containing `="` without a closing quote opens a multi-line value
// too, and a value that is never closed swallows the rest of the file
// without an error (its buffer is simply never emitted).
func joinLines(lines []string, d dialect) []rawEntry {
	var out []rawEntry
	multiline := false
	var buf []string
	bufStart := 0
	for i, line := range lines {
		lineNo := i + 1
		entryLine := lineNo
		// Only a line outside a multi-line value can open one (phpdotenv
		// >= 5.5; 5.4 also re-opened on a continuation line containing
		// `="`, so a base64 value whose last line ends in `="` swallowed
		// the rest of the file).
		started := (!multiline || d.v54) && looksLikeMultilineStart(line)
		if started {
			multiline = true
		}
		if multiline {
			if len(buf) == 0 {
				bufStart = lineNo
			}
			buf = append(buf, line)
			entryLine = bufStart
			if looksLikeMultilineStop(line, started) {
				multiline = false
				line = strings.Join(buf, "\n")
				buf = buf[:0]
			}
		}
		if !multiline && !isCommentOrWhitespace(line) {
			out = append(out, rawEntry{text: line, line: entryLine})
		}
	}
	return out
}

// looksLikeMultilineStart: the line contains `="` and does not close it.
func looksLikeMultilineStart(line string) bool {
	return strings.Contains(line, `="`) && !looksLikeMultilineStop(line, true)
}

// looksLikeMultilineStop counts the double quotes not preceded by a
// backslash, after removing every `\\` pair (phpdotenv counts matches of
// /(?=([^\\]"))/, so a quote in the first column is never counted). A line
// that opens a value needs two such quotes to also close it; a continuation
// line needs one. A line that is exactly `"` always closes.
func looksLikeMultilineStop(line string, started bool) bool {
	if line == `"` {
		return true
	}
	s := strings.ReplaceAll(line, `\\`, "")
	count := 0
	for p := 1; p < len(s); p++ {
		if s[p] == '"' && s[p-1] != '\\' {
			count++
			if count > 1 {
				break
			}
		}
	}
	if started {
		return count > 1
	}
	return count >= 1
}

func isCommentOrWhitespace(line string) bool {
	t := php.Trim(line)
	return t == "" || t[0] == '#'
}
