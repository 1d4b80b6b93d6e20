package dotenv

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/phptest"
)

// phpDotenvSrcEnv names an optional phpdotenv src/ directory (for instance
// `git archive v5.6.4 src` of vlucas/phpdotenv) that the oracle loads
// instead of Debian's 5.4.1. The Go port must then agree with PHP on every
// case, the diff54 ones included:
//
//	DOTENV_PHP_SRC=$HOME/src/phpdotenv-5.6.4/src go test ./laravelcfg/dotenv -run Oracle
const phpDotenvSrcEnv = "DOTENV_PHP_SRC"

// oracleDialect is the dialect the PHP oracle runs: Debian's 5.4.1, or
// the newest release when DOTENV_PHP_SRC points at its sources.
func oracleDialect() (d dialect, src string) {
	if src := os.Getenv(phpDotenvSrcEnv); src != "" {
		return latest, src
	}
	return dialect{v54: true}, ""
}

// TestOracle runs Debian's phpdotenv 5.4.1 and Laravel's Illuminate\Support\
// Env (php-laravel-framework 8.83) over the whole corpus and checks that
// they agree with golden.json, which TestCorpus checks the Go port against,
// except for the cases marked diff54; on every case, marked or not, the Go
// port's 5.4.1 dialect must agree with PHP exactly.
func TestOracle(t *testing.T) {
	phpBin := phpOracleOrSkip(t)
	d, src := oracleDialect()
	cases := readCorpus(t)
	golden := readGolden(t)
	tmp := t.TempDir()
	dirs := map[string]string{}
	for i, c := range cases {
		dirs[c.Name] = filepath.Join(tmp, strconv.Itoa(i))
		writeCase(t, dirs[c.Name], c)
	}
	phpResults := runOracle(t, phpBin, src, tmp, cases, dirs)

	disagree := 0
	for _, c := range cases {
		p, ok := phpResults[c.Name]
		if !ok {
			t.Errorf("case %s: no PHP result", c.Name)
			continue
		}
		g := golden[c.Name]
		g.Line = 0 // PHP does not report lines
		same := reflect.DeepEqual(normalize(p), normalize(g))
		expectSame := c.Diff54 == "" || src != ""
		switch {
		case expectSame && !same:
			disagree++
			t.Errorf("case %s: PHP and golden disagree\n   php %s\ngolden %s", c.Name, mustJSON(p), mustJSON(g))
		case !expectSame && same:
			t.Errorf("case %s: marked diff54 (%s) but PHP 5.4.1 agrees with golden; drop the marker", c.Name, c.Diff54)
		case !expectSame:
			t.Logf("case %s: expected 5.4.1 difference (%s): php %s", c.Name, c.Diff54, mustJSON(p))
		}
		// The Go port in the oracle's dialect must reproduce PHP exactly,
		// marked cases included: that proves each documented difference
		// is the only one.
		gd := runGo(t, dirs[c.Name], c, d)
		gd.Line = 0
		if !reflect.DeepEqual(normalize(p), normalize(gd)) {
			disagree++
			t.Errorf("case %s: PHP and the Go port (dialect %+v) disagree\n php %s\n  go %s", c.Name, d, mustJSON(p), mustJSON(gd))
		}
	}
	t.Logf("%d cases compared with PHP (phpdotenv from %q), %d disagreements", len(cases), srcName(src), disagree)
}

func srcName(src string) string {
	if src == "" {
		return "Debian 5.4.1"
	}
	return src
}

// runOracle runs testdata/oracle.php over the cases (already written to
// dirs) and returns its results by case name. Cases are grouped by real
// environment, one PHP process per group, whose environment is exactly the
// group's real variables.
func runOracle(t *testing.T, phpBin, src, tmp string, cases []corpusCase, dirs map[string]string) map[string]result {
	t.Helper()
	oracle, err := filepath.Abs("testdata/oracle.php")
	if err != nil {
		t.Fatal(err)
	}
	type job struct {
		Name string   `json:"name"`
		Dir  string   `json:"dir"`
		Real []string `json:"real"`
	}
	groups := map[string][]job{}
	groupEnv := map[string][]string{}
	var order []string
	for _, c := range cases {
		env, names := []string{}, []string{}
		for _, v := range c.Real {
			env = append(env, v.Name+"="+v.Value)
			names = append(names, v.Name)
		}
		key := strings.Join(env, "\x00")
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], job{Name: c.Name, Dir: dirs[c.Name], Real: names})
		groupEnv[key] = env
	}
	results := map[string]result{}
	for n, key := range order {
		manifest := filepath.Join(tmp, "manifest"+strconv.Itoa(n)+".json")
		b, err := json.Marshal(groups[key])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(manifest, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{oracle, manifest}
		if src != "" {
			args = append(args, src)
		}
		cmd := exec.Command(phpBin, args...)
		// The real environment is the group's and nothing else; a nil
		// slice would mean "inherit", so groupEnv is never nil.
		cmd.Env = groupEnv[key]
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("oracle.php: %v\n%s", err, stderr.String())
		}
		var m map[string]result
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("oracle.php output: %v\n%s", err, out)
		}
		for k, v := range m {
			results[k] = v
		}
	}
	return results
}

func phpOracleOrSkip(t *testing.T) string {
	t.Helper()
	return phptest.RequireClasses(t, `Dotenv\Dotenv`, `Illuminate\Support\Env`)
}
