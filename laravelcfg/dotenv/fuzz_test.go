package dotenv

import (
	"errors"
	"strings"
	"testing"
)

// maxFuzzInput bounds the input so memory and time stay bounded: the parser
// is linear apart from pass 1's join, which is linear in the file too.
const maxFuzzInput = 64 << 10

func addCorpusSeeds(f *testing.F) {
	cases := readCorpus(f)
	for _, c := range cases {
		f.Add(c.File)
	}
}

func FuzzParse(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		entries, err := Parse("/app/.env", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if e.Line < 1 || strings.Contains(e.Text, "\n") || strings.Contains(e.Subject, "\n") {
				t.Fatalf("malformed error %#v", e)
			}
			return
		}
		last := 0
		for _, e := range entries {
			if !validName(e.Name) {
				t.Fatalf("entry with invalid name %q", e.Name)
			}
			if e.Line <= last {
				t.Fatalf("line numbers not increasing: %d after %d", e.Line, last)
			}
			last = e.Line
			if e.Unset && (e.Value != "" || e.Vars != nil) {
				t.Fatalf("unset entry with a value: %#v", e)
			}
			prev := -1
			for _, v := range e.Vars {
				if v <= prev || v >= len(e.Value) || e.Value[v] != '$' {
					t.Fatalf("bad reference offset %d in %q", v, e.Value)
				}
				prev = v
			}
		}
	})
}

func FuzzLoad(f *testing.F) {
	addCorpusSeeds(f)
	realEnv := map[string]string{"REAL": "real", "B": "${B}", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := realEnv[n]; return v, ok }
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		env, err := LoadBytes("/app/.env", data, lookup)
		if err != nil {
			return
		}
		for _, v := range env.FileVars() {
			if _, isReal := realEnv[v.Name]; isReal {
				t.Fatalf("real variable %s overwritten", v.Name)
			}
			if got, ok := env.Lookup(v.Name); !ok || got != v.Value {
				t.Fatalf("Lookup(%s) = %q,%v; FileVars says %q", v.Name, got, ok, v.Value)
			}
			_ = env.Get(v.Name, Convert(""))
		}
		for n, want := range realEnv {
			if got, _ := env.Lookup(n); got != want {
				t.Fatalf("real %s = %q, want %q", n, got, want)
			}
		}
	})
}

// TestLargeInputsStayLinear guards against quadratic blow-ups on inputs a
// fuzzer would take long to build: many references, a long swallowed
// multi-line value, long token runs.
func TestLargeInputsStayLinear(t *testing.T) {
	inputs := map[string]string{
		"many refs":      "A=" + strings.Repeat("${A}", 50000),
		"many dollars":   "A=" + strings.Repeat("$", 200000),
		"nested refs":    "B=" + strings.Repeat("x", 1000) + "\nA=\"" + strings.Repeat("${", 20000) + "B" + strings.Repeat("}", 20000) + "\"",
		"swallow":        "A=\"x\n" + strings.Repeat("B=1\n", 100000),
		"many lines":     strings.Repeat("A=1\n", 100000),
		"long multiline": "A=\"" + strings.Repeat("line\n", 100000) + "\"",
	}
	for name, in := range inputs {
		if _, err := LoadBytes(".env", []byte(in), noEnv); err != nil && !errors.As(err, new(*Error)) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
