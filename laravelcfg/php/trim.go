package php

import "strings"

// TrimChars is the character set of PHP's trim() without a second argument.
const TrimChars = " \t\n\r\x00\x0B"

// Trim is PHP's trim($s): TrimChars cut from both ends.
func Trim(s string) string { return strings.Trim(s, TrimChars) }
