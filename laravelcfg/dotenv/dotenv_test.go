package dotenv

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

func TestParseEntries(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Entry
	}{
		{"plain", "A=1\n", []Entry{{Name: "A", Value: "1", Line: 1}}},
		{"unset", "A=1\nA\n", []Entry{{Name: "A", Value: "1", Line: 1}, {Name: "A", Unset: true, Line: 2}}},
		{"vars marked", `A="${B}\${C}$"` + "\n", []Entry{{Name: "A", Value: "${B}${C}$", Vars: []int{0, 8}, Line: 1}}},
		{"single quotes mark nothing", "A='${B}'\n", []Entry{{Name: "A", Value: "${B}", Line: 1}}},
		{"multi-line start line", "\n# c\nA=\"x\ny\"\nB=2", []Entry{{Name: "A", Value: "x\ny", Line: 3}, {Name: "B", Value: "2", Line: 5}}},
		{"crlf lines", "A=1\r\n\r\nB=2\r\n", []Entry{{Name: "A", Value: "1", Line: 1}, {Name: "B", Value: "2", Line: 3}}},
		{"cr lines", "A=1\r\rB=2", []Entry{{Name: "A", Value: "1", Line: 1}, {Name: "B", Value: "2", Line: 3}}},
		{"export", "export FOO=bar", []Entry{{Name: "FOO", Value: "bar", Line: 1}}},
		{"bom", bom + "A=1", []Entry{{Name: "A", Value: "1", Line: 1}}},
		{"swallow", "A=1\nB=\"x\nC=2\n", []Entry{{Name: "A", Value: "1", Line: 1}}},
		{"empty", "", []Entry{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(".env", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in      string
		line    int
		reason  string
		subject string
		text    string
	}{
		{"A=1\nB=2\nAPP_NAME=My App\n", 3, "Encountered unexpected whitespace", "My App", "APP_NAME=My App"},
		{`A="\x"`, 1, "Encountered an unexpected escape sequence", `"\x"`, `A="\x"`},
		{"A='x", 1, "Encountered a missing closing quote", "'x", "A='x"},
		{"export A=1", 1, "Encountered an invalid name", "export A", "export A=1"},
		{"=x", 1, "Encountered an unexpected equals", "=x", "=x"},
		{"A=\"x\ny\" z\n", 1, "Encountered unexpected whitespace", `"x`, `A="x`},
		{"# c\r\n\r\nA-B=1", 3, "Encountered an invalid name", "A-B", "A-B=1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse("/app/.env", []byte(tt.in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			want := &Error{File: "/app/.env", Line: tt.line, Text: tt.text, Reason: tt.reason, Subject: tt.subject}
			if tt.in == "A=\"x\ny\" z\n" {
				want.LastLine = 2 // one entry over two lines
			}
			if !reflect.DeepEqual(e, want) {
				t.Errorf("got %#v\nwant %#v", e, want)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	e := &Error{File: "/app/.env", Line: 3, Text: "APP_NAME=My App", Reason: "Encountered unexpected whitespace", Subject: "My App"}
	if got, want := e.Error(), "/app/.env:3: Encountered unexpected whitespace: APP_NAME=My App"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := e.PHPMessage(), "Failed to parse dotenv file. Encountered unexpected whitespace at [My App]."; got != want {
		t.Errorf("PHPMessage() = %q, want %q", got, want)
	}
}

// A double quote left open runs the value on to the next line holding a
// double quote, where phpdotenv fails: the error names the line the entry
// starts on, as PHP's does, and says which lines were read as one value.
func TestErrorUnclosedQuote(t *testing.T) {
	in := "APP_NAME=Laravel\nREVERB_SCHEME=\"http\nREVERB_PORT=8080\nVITE_REVERB_APP_KEY=\"${REVERB_APP_KEY}\"\n"
	_, err := Parse("/app/.env", []byte(in))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	want := `/app/.env:2: Encountered unexpected whitespace: REVERB_SCHEME="http (the double quote opened on line 2 is not closed on that line, ` +
		`so lines 2-4 are read as one value: close the quote on line 2, or end the value where it should end)`
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if got, want := e.PHPMessage(), `Failed to parse dotenv file. Encountered unexpected whitespace at ["http].`; got != want {
		t.Errorf("PHPMessage() = %q, want %q", got, want)
	}
}

func TestConvert(t *testing.T) {
	tests := []struct {
		raw  string
		want php.Value
	}{
		{"true", php.BoolValue(true)},
		{"(TRUE)", php.BoolValue(true)},
		{"False", php.BoolValue(false)},
		{"(false)", php.BoolValue(false)},
		{"EMPTY", php.StringValue("")},
		{"(empty)", php.StringValue("")},
		{"null", php.NullValue()},
		{"(Null)", php.NullValue()},
		{"8080", php.StringValue("8080")},
		{"", php.StringValue("")},
		{`"x"`, php.StringValue("x")},
		{`'x'`, php.StringValue("x")},
		{`''`, php.StringValue("")},
		{`'`, php.StringValue("'")},
		{`"x'`, php.StringValue(`"x'`)},
		{"\"a\nb\"", php.StringValue("\"a\nb\"")},
		{"\"a\rb\"", php.StringValue("a\rb")},
		{`"true"`, php.StringValue("true")},
		{"İ", php.StringValue("İ")},
	}
	for _, tt := range tests {
		if got := Convert(tt.raw); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Convert(%q) = %#v, want %#v", tt.raw, got, tt.want)
		}
	}
}

func TestGetKeepsDefaultType(t *testing.T) {
	env, err := LoadBytes(".env", []byte("PORT=8080\nEMPTY=\nNUL=null\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		def  php.Value
		want php.Value
	}{
		{"PORT", php.IntValue(443), php.StringValue("8080")},
		{"MISSING", php.IntValue(443), php.IntValue(443)},
		{"MISSING", php.BoolValue(false), php.BoolValue(false)},
		{"EMPTY", php.IntValue(443), php.StringValue("")},
		{"NUL", php.StringValue("d"), php.NullValue()},
	}
	for _, tt := range tests {
		if got := env.Get(tt.name, tt.def); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Get(%s, %#v) = %#v, want %#v", tt.name, tt.def, got, tt.want)
		}
	}
}

func noEnv(string) (string, bool) { return "", false }

func TestLoadPrecedenceAndOrder(t *testing.T) {
	realEnv := map[string]string{"REAL": "r", "REAL_EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := realEnv[n]; return v, ok }
	src := "A=1\nB=2\nREAL=file\nREAL_EMPTY=file\nA=3\nC=${REAL}${A}\nB\nREAL\n"
	env, err := LoadBytes("/x/.env", []byte(src), lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := []Var{{"A", "3"}, {"C", "r3"}}
	if got := env.FileVars(); !reflect.DeepEqual(got, want) {
		t.Errorf("FileVars = %#v, want %#v", got, want)
	}
	for name, want := range map[string]string{"REAL": "r", "REAL_EMPTY": "", "A": "3"} {
		if got, ok := env.Lookup(name); !ok || got != want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := env.Lookup("B"); ok {
		t.Error("B should be unset")
	}
	if env.File != "/x/.env" {
		t.Errorf("File = %q", env.File)
	}
}

// Line names where the value the app sees was written: the last
// definition, nothing for a real variable or one a later line unset.
func TestLoadLine(t *testing.T) {
	lookup := func(n string) (string, bool) { return "r", n == "REAL" }
	src := "A=1\n# comment\nB=2\nREAL=file\nA=3\nB\nC=\"multi\nline\"\nD=\n"
	env, err := LoadBytes("/x/.env", []byte(src), lookup)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"A": 5, "B": 0, "REAL": 0, "C": 7, "D": 9, "NONE": 0} {
		if got := env.Line(name); got != want {
			t.Errorf("Line(%s) = %d, want %d", name, got, want)
		}
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	env, err := Load(filepath.Join(dir, ".env"), noEnv)
	if err != nil || env.File != "" || len(env.FileVars()) != 0 {
		t.Fatalf("missing file: env=%+v err=%v", env, err)
	}
	if env, err := Load(filepath.Join(dir, "file", ".env"), noEnv); err != nil || env.File != "" {
		t.Fatalf("path through a missing dir: env=%+v err=%v", env, err)
	}
	// A directory named .env reads as empty in PHP.
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if env, err := Load(filepath.Join(dir, "d"), noEnv); err != nil || len(env.FileVars()) != 0 {
		t.Fatalf("directory: env=%+v err=%v", env, err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("A=x y"), 0o644); err != nil {
		t.Fatal(err)
	}
	if env, err := Load(filepath.Join(bad, ".env"), noEnv); err != nil || env.File != "" {
		t.Fatalf("path through a file: env=%+v err=%v", env, err)
	}
	if _, err := Load(bad, noEnv); err == nil || !strings.HasPrefix(err.Error(), bad+":1: ") {
		t.Fatalf("bad file: err = %v", err)
	}
	if runtime.GOOS != "windows" && os.Geteuid() != 0 {
		locked := filepath.Join(dir, "locked")
		if err := os.WriteFile(locked, []byte("A=1"), 0o000); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(locked, noEnv); err == nil {
			t.Error("unreadable file: want an error")
		}
	}
	// nil lookup means the process environment.
	t.Setenv("DOTENV_TEST_REAL", "from-process")
	env, err = LoadBytes(".env", []byte("DOTENV_TEST_REAL=file\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := env.Lookup("DOTENV_TEST_REAL"); v != "from-process" {
		t.Errorf("nil lookup: got %q", v)
	}
}

func TestResolve(t *testing.T) {
	vals := map[string]string{"B": "bee", "C": "C", "AC": "found", "LONG": strings.Repeat("x", 10)}
	lookup := func(n string) (string, bool) { v, ok := vals[n]; return v, ok }
	tests := []struct {
		chars string
		vars  []int
		want  string
	}{
		{"${B}", []int{0}, "bee"},
		{"${B}", nil, "${B}"},
		{"x${B}y${B}z", []int{1, 6}, "xbeeybeez"},
		{"${UNDEF}", []int{0}, "${UNDEF}"},
		{"${A${C}}", []int{0, 3}, "found"},
		{"$${B}", []int{0, 1}, "$bee"},
		{"${", []int{0}, "${"},
		{"${}", []int{0}, "${}"},
		{"${B", []int{0}, "${B"},
		{"${B:-d}", []int{0}, "${B:-d}"},
		{"${LONG}${LONG}", []int{0, 7}, strings.Repeat("x", 20)},
	}
	for _, tt := range tests {
		if got := resolve(tt.chars, tt.vars, lookup); got != tt.want {
			t.Errorf("resolve(%q, %v) = %q, want %q", tt.chars, tt.vars, got, tt.want)
		}
	}
}

func TestToUTF8(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", "abc"},
		{bom + "A=1", "A=1"},
		{bom + bom + "x", bom + "x"},
		{"\xff", "?"},
		{"\xe2\x82A", "?A"},
		{"\xe2\x82", "?"},
		{"\xed\xa0\x80", "???"},
		{"\xc0\xaf", "??"},
		{"\xf4\x90\x80\x80", "????"},
		{"\xe0\x80\xaf", "???"},
		{"a\x80\x80b", "a??b"},
		{"\xf0\x9f\x98", "?"},
		{"é\xc3", "é?"},
		{"\uFFFD", "\uFFFD"},
	}
	for _, tt := range tests {
		if got := toUTF8([]byte(tt.in)); got != tt.want {
			t.Errorf("toUTF8(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSelectFile(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{".env", ".env.production", ".env.testing", ".env.1"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".env.dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		option string
		appEnv *string
		want   string
	}{
		{"nothing", "", nil, ".env"},
		{"option", "testing", nil, ".env.testing"},
		{"option beats APP_ENV", "testing", ptr("production"), ".env.testing"},
		{"missing option file falls back to APP_ENV", "staging", ptr("production"), ".env.production"},
		{"real APP_ENV", "", ptr("production"), ".env.production"},
		{"APP_ENV without file", "", ptr("local"), ".env"},
		{"APP_ENV converted: quotes", "", ptr(`"production"`), ".env.production"},
		{"APP_ENV converted: true is 1", "", ptr("true"), ".env.1"},
		{"APP_ENV empty", "", ptr(""), ".env"},
		{"APP_ENV zero is falsy", "", ptr("0"), ".env"},
		{"APP_ENV null", "", ptr("null"), ".env"},
		{"directory is not a file", "dir", nil, ".env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(n string) (string, bool) {
				if n == "APP_ENV" && tt.appEnv != nil {
					return *tt.appEnv, true
				}
				return "", false
			}
			if got, want := SelectFile(dir, tt.option, lookup), filepath.Join(dir, tt.want); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestArtisanLookup(t *testing.T) {
	realEnv := func(n string) (string, bool) {
		if n == "PHP_SELF" || n == "X" {
			return "real", true
		}
		return "", false
	}
	env, err := LoadBytes(".env", []byte("DOCUMENT_ROOT=/srv\nSELF=${PHP_SELF}\nX=file\nY=y\n"), ArtisanLookup(realEnv))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"DOCUMENT_ROOT": "", "SELF": "artisan", "PHP_SELF": "artisan", "X": "real", "Y": "y"} {
		if got, ok := env.Lookup(name); !ok || got != want {
			t.Errorf("Lookup(%s) = %q,%v; want %q", name, got, ok, want)
		}
	}
}
