package dotenv

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// The corpus (testdata/corpus.txt) holds the .env cases; golden.json holds
// what Laravel's env() returns for each (checked against real PHP by
// TestOracle). Regenerate golden.json from the Go implementation with
//
//	go test ./laravelcfg/dotenv -run TestCorpus -update
//
// and let TestOracle confirm PHP agrees.
var update = flag.Bool("update", false, "rewrite testdata/golden.json from the Go results")

const (
	corpusPath = "testdata/corpus.txt"
	goldenPath = "testdata/golden.json"
)

// corpusCase is one case of the corpus.
type corpusCase struct {
	Name string
	// Real is the real process environment, in order.
	Real []Var
	// File is the .env content; Missing means no file at all.
	File    []byte
	Missing bool
	// Diff54 explains why Debian's phpdotenv 5.4.1 must disagree with the
	// Go port (which follows 5.6, Laravel 11+); empty when they agree.
	Diff54 string
}

// readCorpus parses the corpus format:
//
//	=== case-name
//	--- real                 (optional) NAME=value lines, values verbatim
//	--- diff54 REASON        (optional) expected 5.4.1-vs-5.6 difference
//	--- file [opts]          content until the next "===" line
//
// File options: crlf / cr (line terminators), noeol (no final terminator),
// bom (prefix a UTF-8 BOM), quoted (the content is one Go string literal,
// for control bytes), missing (no file is created).
func readCorpus(t testing.TB) []corpusCase {
	t.Helper()
	f, err := os.Open(corpusPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []corpusCase
	var cur *corpusCase
	var section string
	var opts map[string]bool
	var body []string
	seen := map[string]bool{}
	flush := func() {
		if cur == nil {
			return
		}
		cur.File = buildFile(t, cur.Name, body, opts)
		cases = append(cases, *cur)
		cur, body, opts, section = nil, nil, nil, ""
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lineNo := 0
	for sc.Scan() {
		line := sc.Text()
		lineNo++
		switch {
		case strings.HasPrefix(line, "=== "):
			flush()
			name := strings.TrimSpace(line[4:])
			if seen[name] {
				t.Fatalf("%s:%d: duplicate case %q", corpusPath, lineNo, name)
			}
			seen[name] = true
			cur = &corpusCase{Name: name}
		case cur == nil:
			// preamble comments
		case strings.HasPrefix(line, "--- ") && section != "file":
			fields := strings.Fields(line[4:])
			section = fields[0]
			switch section {
			case "real":
			case "diff54":
				cur.Diff54 = strings.TrimSpace(strings.TrimPrefix(line[4:], "diff54"))
			case "file":
				opts = map[string]bool{}
				for _, o := range fields[1:] {
					opts[o] = true
				}
				cur.Missing = opts["missing"]
			default:
				t.Fatalf("%s:%d: unknown section %q", corpusPath, lineNo, section)
			}
		case section == "real":
			name, value, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s:%d: real env line without '='", corpusPath, lineNo)
			}
			cur.Real = append(cur.Real, Var{Name: name, Value: value})
		case section == "file":
			body = append(body, line)
		default:
			t.Fatalf("%s:%d: text outside a section", corpusPath, lineNo)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return cases
}

func buildFile(t testing.TB, name string, body []string, opts map[string]bool) []byte {
	if opts["quoted"] {
		s, err := strconv.Unquote(strings.TrimSpace(strings.Join(body, "")))
		if err != nil {
			t.Fatalf("case %s: bad quoted file: %v", name, err)
		}
		return []byte(s)
	}
	eol := "\n"
	if opts["crlf"] {
		eol = "\r\n"
	} else if opts["cr"] {
		eol = "\r"
	}
	s := strings.Join(body, eol)
	if !opts["noeol"] && len(body) > 0 {
		s += eol
	}
	if opts["bom"] {
		s = bom + s
	}
	return []byte(s)
}

// result is what a case produces, in the form both Go and PHP print.
type result struct {
	// Error is phpdotenv's exception message when the file is rejected.
	Error string `json:"error,omitempty"`
	// Line is where Go says the rejected entry starts (PHP does not say).
	Line int               `json:"line,omitempty"`
	Vars map[string]tagged `json:"vars"`
}

// tagged is an env() result with its PHP type: "string", "bool", "null",
// or "absent" (the default would be returned).
type tagged struct {
	T string `json:"t"`
	V any    `json:"v,omitempty"`
}

func tag(v php.Value, present bool) tagged {
	if !present {
		return tagged{T: "absent"}
	}
	switch v.Kind() {
	case php.Null:
		return tagged{T: "null"}
	case php.Bool:
		return tagged{T: "bool", V: v.BoolVal()}
	default:
		return tagged{T: "string", V: v.StringVal()}
	}
}

// writeCase creates dir/.env (unless the case has no file).
func writeCase(t testing.TB, dir string, c corpusCase) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if !c.Missing {
		if err := os.WriteFile(filepath.Join(dir, ".env"), c.File, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func realLookup(realVars []Var) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for _, v := range realVars {
			if v.Name == name {
				return v.Value, true
			}
		}
		return "", false
	}
}

// runGo loads the case like Laravel would and reports env() for every name
// the file mentions plus the real variables.
func runGo(t testing.TB, dir string, c corpusCase, d dialect) result {
	path := filepath.Join(dir, ".env")
	lookup := realLookup(c.Real)
	res := result{Vars: map[string]tagged{}}
	names := map[string]bool{}
	for _, v := range c.Real {
		names[v.Name] = true
	}
	env, err := load(path, lookup, d)
	if err != nil {
		var de *Error
		if !errors.As(err, &de) {
			t.Fatalf("case %s: unexpected error type %T: %v", c.Name, err, err)
		}
		if de.File != path {
			t.Errorf("case %s: error names file %q, want %q", c.Name, de.File, path)
		}
		res.Error, res.Line = de.PHPMessage(), de.Line
		env = newEnv("", lookup)
	} else if !c.Missing {
		entries, err := parse(path, c.File, d)
		if err != nil {
			t.Fatalf("case %s: Load succeeded but Parse failed: %v", c.Name, err)
		}
		for _, e := range entries {
			names[e.Name] = true
		}
	}
	for n := range names {
		_, ok := env.Lookup(n)
		res.Vars[n] = tag(env.Get(n, php.NullValue()), ok)
	}
	return res
}

func TestCorpus(t *testing.T) {
	cases := readCorpus(t)
	if len(cases) < 100 {
		t.Errorf("corpus has %d cases, want at least 100", len(cases))
	}
	tmp := t.TempDir()
	got := map[string]result{}
	for i, c := range cases {
		dir := filepath.Join(tmp, strconv.Itoa(i))
		writeCase(t, dir, c)
		got[c.Name] = runGo(t, dir, c, latest)
		// The diff54 markers must be exactly the cases where the 5.4.1
		// dialect gives another result.
		old := runGo(t, dir, c, dialect{v54: true})
		differs := !reflect.DeepEqual(normalize(old), normalize(got[c.Name]))
		if differs != (c.Diff54 != "") {
			t.Errorf("case %s: diff54 marker is %q but the 5.4.1 dialect differs=%v: %s", c.Name, c.Diff54, differs, mustJSON(old))
		}
	}
	if *update {
		writeGolden(t, got)
		return
	}
	want := readGolden(t)
	for _, c := range cases {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("case %s: not in %s (run with -update)", c.Name, goldenPath)
			continue
		}
		if g := got[c.Name]; !reflect.DeepEqual(normalize(g), normalize(w)) {
			t.Errorf("case %s:\n got %s\nwant %s", c.Name, mustJSON(g), mustJSON(w))
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("golden case %s is not in the corpus", name)
		}
	}
}

// normalize round-trips through JSON so Go values and decoded golden values
// compare equal.
func normalize(r result) any {
	var v any
	if err := json.Unmarshal([]byte(mustJSON(r)), &v); err != nil {
		panic(err)
	}
	return v
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func readGolden(t testing.TB) map[string]result {
	b, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]result
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", goldenPath, err)
	}
	return m
}

func writeGolden(t testing.TB, m map[string]result) {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var sb strings.Builder
	sb.WriteString("{\n")
	for i, n := range names {
		b, err := json.Marshal(m[n])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%s: %s", mustJSON(n), b)
		if i < len(names)-1 {
			sb.WriteString(",")
		}
		sb.WriteString("\n")
	}
	sb.WriteString("}\n")
	if err := os.WriteFile(goldenPath, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
