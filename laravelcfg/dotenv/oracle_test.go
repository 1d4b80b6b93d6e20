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
)

// TestOracle runs Debian's phpdotenv 5.4.1 and Laravel's Illuminate\Support\
// Env (php-laravel-framework 8.83) over the whole corpus and checks that
// they agree with golden.json, which TestCorpus checks the Go port against.
// One PHP process runs all cases without a real environment; each case with
// one gets its own process, whose environment is exactly that.
func TestOracle(t *testing.T) {
	phpBin, err := exec.LookPath("php")
	if err != nil {
		t.Skip("php not installed: the oracle needs php-cli, php-vlucas-phpdotenv and php-laravel-framework")
	}
	probe := exec.Command(phpBin, "-r", `require 'Dotenv/autoload.php'; require 'Illuminate/autoload.php'; echo class_exists('Illuminate\Support\Env') && class_exists('Dotenv\Dotenv') ? 'ok' : 'no';`)
	if out, err := probe.Output(); err != nil || string(out) != "ok" {
		t.Skipf("phpdotenv / Illuminate classes not loadable (install php-vlucas-phpdotenv and php-laravel-framework): %v %s", err, out)
	}
	oracle, err := filepath.Abs("testdata/oracle.php")
	if err != nil {
		t.Fatal(err)
	}

	cases := readCorpus(t)
	golden := readGolden(t)
	tmp := t.TempDir()

	type job struct {
		Name string   `json:"name"`
		Dir  string   `json:"dir"`
		Real []string `json:"real"`
	}
	// Group cases by real environment: one PHP process per group.
	groups := map[string][]job{}
	groupEnv := map[string][]string{}
	for i, c := range cases {
		dir := filepath.Join(tmp, strconv.Itoa(i))
		writeCase(t, dir, c)
		var env, names []string
		for _, v := range c.Real {
			env = append(env, v.Name+"="+v.Value)
			names = append(names, v.Name)
		}
		key := strings.Join(env, "\x00")
		groups[key] = append(groups[key], job{Name: c.Name, Dir: dir, Real: append([]string{}, names...)})
		groupEnv[key] = env
	}

	phpResults := map[string]result{}
	n := 0
	for key, jobs := range groups {
		manifest := filepath.Join(tmp, "manifest"+strconv.Itoa(n)+".json")
		n++
		b, _ := json.Marshal(jobs)
		if err := os.WriteFile(manifest, b, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(phpBin, oracle, manifest)
		// The real environment is the case's and nothing else; a nil
		// slice would mean "inherit", so always pass a non-nil one.
		cmd.Env = append([]string{}, groupEnv[key]...)
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
			phpResults[k] = v
		}
	}

	disagree := 0
	for i, c := range cases {
		p, ok := phpResults[c.Name]
		if !ok {
			t.Errorf("case %s: no PHP result", c.Name)
			continue
		}
		g := golden[c.Name]
		g.Line = 0 // PHP does not report lines
		same := reflect.DeepEqual(normalize(p), normalize(g))
		switch {
		case c.Diff54 == "" && !same:
			disagree++
			t.Errorf("case %s: PHP and golden disagree\n  php %s\ngolden %s", c.Name, mustJSON(p), mustJSON(g))
		case c.Diff54 != "" && same:
			t.Errorf("case %s: marked diff54 (%s) but PHP 5.4.1 agrees with golden; drop the marker", c.Name, c.Diff54)
		case c.Diff54 != "":
			t.Logf("case %s: expected 5.4.1 difference (%s): php %s", c.Name, c.Diff54, mustJSON(p))
		}
		// The Go port in its 5.4.1 dialect must reproduce Debian's PHP
		// exactly, marked cases included: that proves each documented
		// difference is the only one.
		g54 := runGo(t, filepath.Join(tmp, strconv.Itoa(i)), c, dialect{v54: true})
		g54.Line = 0
		if !reflect.DeepEqual(normalize(p), normalize(g54)) {
			disagree++
			t.Errorf("case %s: PHP 5.4.1 and the Go 5.4.1 dialect disagree\n  php %s\n   go %s", c.Name, mustJSON(p), mustJSON(g54))
		}
	}
	t.Logf("%d cases compared with PHP, %d disagreements", len(cases), disagree)
}
