package php

import "testing"

// Expected values checked against PHP 8.2's urldecode and rawurldecode.
func TestURLDecode(t *testing.T) {
	tests := []struct{ in, url, raw string }{
		{"", "", ""},
		{"a+b", "a b", "a+b"},
		{"%41%62%2B", "Ab+", "Ab+"},
		{"%", "%", "%"},
		{"%4", "%4", "%4"},
		{"%zz%4g", "%zz%4g", "%zz%4g"},
		{"100%25+x", "100% x", "100%+x"},
		{"%e2%82%AC", "€", "€"},
		{"%00", "\x00", "\x00"},
	}
	for _, tt := range tests {
		if got := URLDecode(tt.in); got != tt.url {
			t.Errorf("URLDecode(%q) = %q, want %q", tt.in, got, tt.url)
		}
		if got := RawURLDecode(tt.in); got != tt.raw {
			t.Errorf("RawURLDecode(%q) = %q, want %q", tt.in, got, tt.raw)
		}
	}
}
