package phpeval

import (
	"encoding/base64"
	"math/rand"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
)

// parseURLJSON is json_encode(parse_url($s)) computed by ParseURL.
func parseURLJSON(t *testing.T, s string) string {
	t.Helper()
	parts, ok := ParseURL(s)
	if !ok {
		return "false"
	}
	b, err := php.EncodeJSON(php.ArrayValue(parts), php.JSONOptions{})
	if err != nil {
		t.Fatalf("encode %q: %v", s, err)
	}
	return string(b)
}

// Expected values checked against PHP 8.2.
func TestParseURLCases(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `{"path":""}`},
		{"user@laravel.test:80", `{"host":"laravel.test","port":80,"user":"user"}`},
		{"laravel.test:80/x", `{"host":"laravel.test","port":80,"path":"\/x"}`},
		{"laravel.test:", `{"scheme":"laravel.test"}`},
		{"laravel.test:abc", `{"scheme":"laravel.test","path":"abc"}`},
		{"http://[::1]:80", `{"scheme":"http","host":"[::1]","port":80}`},
		{"a:65536", `false`},
		{"https://x:abc/", `false`},
		{"//cdn.example.com/x?y#z", `{"host":"cdn.example.com","path":"\/x","query":"y","fragment":"z"}`},
		{"file:///c:/dir/f", `{"scheme":"file","path":"c:\/dir\/f"}`},
		{"redis://:secret@h:6379/2", `{"scheme":"redis","host":"h","port":6379,"user":"","pass":"secret","path":"\/2"}`},
		{"x\x01y://h", `{"path":"x_y:\/\/h"}`},
		{":80", `false`},
	}
	for _, tt := range tests {
		if got := parseURLJSON(t, tt.in); got != tt.want {
			t.Errorf("ParseURL(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestParseURLAgainstPHP compares ParseURL with PHP's parse_url over URL
// shapes and random strings of URL punctuation.
func TestParseURLAgainstPHP(t *testing.T) {
	phpBin := phptest.Binary(t, "cannot compare with PHP's parse_url")
	corpus := []string{
		"", "http://u:p@h:8080/p?q=1#f", "h:80", "h:0", "h:00000", "h:123456", "h: 80", "h:+80", "h:-0", "//h:-1/x",
		"http://h:+80/", "http://h: 8/", "http://h:8a/", "http://h:/", "http://[::1]/", "http://[::1", "mailto:a@b",
		"file:///etc/x", "FILE:///c:/x", "file://h/x", "a:/x", "a://", "a:", ":", "::", "?x:1", "#:1", "x?a:1",
		"x#a:1", "u@h:1", "u:p@h", "@h", "h@", "//@", "//u@/x", "http://h?#", "/p?#", "tcp://127.0.0.1:6379?timeout=1",
		"rediss://user:pa%40ss@redis.example.com:6380/2", "sqlite://null/db.sqlite", "x\x00y:80", "a b:c",
	}
	rng := rand.New(rand.NewSource(7))
	alphabet := []string{"a", "h", "1", "0", "8", ":", "/", "//", "@", "?", "#", "[", "]", ".", "-", "+", " ", "file", "http"}
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for n := rng.Intn(10); n > 0; n-- {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		corpus = append(corpus, b.String())
	}
	var in strings.Builder
	for _, s := range corpus {
		in.WriteString(base64.StdEncoding.EncodeToString([]byte(s)) + "\n")
	}
	lines := phptest.Lines(t, phpBin, in.String(), "-r", `while (($l = fgets(STDIN)) !== false) { echo json_encode(parse_url(base64_decode(trim($l)))), "\n"; }`)
	if len(lines) != len(corpus) {
		t.Fatalf("php printed %d lines for %d URLs", len(lines), len(corpus))
	}
	bad := 0
	for i, s := range corpus {
		if got := parseURLJSON(t, s); got != lines[i] {
			bad++
			if bad <= 20 {
				t.Errorf("ParseURL(%q) = %s, PHP %s", s, got, lines[i])
			}
		}
	}
}

// FuzzParseURL checks ParseURL never panics and keeps PHP's invariants: a
// host is never empty, a port is 0..65535, and components only come in
// PHP's order.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"http://u:p@h:80/p?q#f", "h:80", "//h", "file:///c:/x", "[::1]:1", ":", "a:b@c:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts, ok := ParseURL(s)
		if !ok {
			return
		}
		last := -1
		for i, k := range parts.Keys {
			pos := -1
			for j, c := range urlComponents {
				if c == k.S {
					pos = j
				}
			}
			if pos <= last {
				t.Fatalf("ParseURL(%q): key %q out of order", s, k.S)
			}
			last = pos
			v := parts.Values[i]
			switch k.S {
			case "host":
				if v.StringVal() == "" {
					t.Fatalf("ParseURL(%q): empty host", s)
				}
			case "port":
				if v.IntVal() < 0 || v.IntVal() > 65535 {
					t.Fatalf("ParseURL(%q): port %d", s, v.IntVal())
				}
			}
		}
	})
}
