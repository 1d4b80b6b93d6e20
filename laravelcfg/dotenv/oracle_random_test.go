package dotenv

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// randomPieces are the fragments random .env files are built from: the
// characters every rule of the grammar turns on, plus common words.
var randomPieces = []string{
	"A", "B", "AB", "A.B", "x", "=", "=", "=", "\"", "\"", "'", "\\", "\\\\", "$", "{", "}", "${A}", "${B}",
	"${", "#", " ", " ", "\t", "\n", "\n", "\n", "\r\n", "\r", "export ", "n", "t", "true", "(null)",
	"EMPTY", "\f", "\v", "é", "\xff", "=\"", "\\\"", "\\$", "\x00",
}

var randomNames = []string{"A", "B", "C", "AB", "A.B", "export C", "'B'", "\"A\""}

// TestOracleRandom compares the Go port with PHP on random files built from
// randomPieces (DOTENV_ORACLE_RANDOM=N sets how many; 300 by default). It
// compares Go and PHP directly, so it finds disagreements the hand-written
// corpus did not think of.
func TestOracleRandom(t *testing.T) {
	phpBin := phpOracleOrSkip(t)
	n := 300
	if s := os.Getenv("DOTENV_ORACLE_RANDOM"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewSource(1))
	tmp := t.TempDir()
	type job struct {
		Name string   `json:"name"`
		Dir  string   `json:"dir"`
		Real []string `json:"real"`
	}
	var jobs []job
	cases := map[string]corpusCase{}
	for i := 0; i < n; i++ {
		var sb strings.Builder
		// Half the files are free-form; the other half are NAME=value
		// lines so that most of them parse and reach the loader.
		structured := i%2 == 0
		for k := rng.Intn(30); k >= 0; k-- {
			if structured && rng.Intn(4) == 0 {
				sb.WriteString("\n" + randomNames[rng.Intn(len(randomNames))] + "=")
			}
			sb.WriteString(randomPieces[rng.Intn(len(randomPieces))])
		}
		name := "r" + strconv.Itoa(i)
		c := corpusCase{Name: name, File: []byte(sb.String())}
		dir := filepath.Join(tmp, name)
		writeCase(t, dir, c)
		cases[name] = c
		jobs = append(jobs, job{Name: name, Dir: dir, Real: []string{}})
	}
	manifest := filepath.Join(tmp, "manifest.json")
	b, _ := json.Marshal(jobs)
	if err := os.WriteFile(manifest, b, 0o644); err != nil {
		t.Fatal(err)
	}
	oracle, _ := filepath.Abs("testdata/oracle.php")
	cmd := exec.Command(phpBin, oracle, manifest)
	cmd.Env = []string{}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle.php: %v\n%s", err, stderr.String())
	}
	var php map[string]result
	if err := json.Unmarshal(out, &php); err != nil {
		t.Fatal(err)
	}
	bad, loaded, versionDiffs := 0, 0, 0
	for _, j := range jobs {
		c := cases[j.Name]
		g := runGo(t, j.Dir, c, dialect{v54: true})
		g.Line = 0
		p := php[j.Name]
		if p.Error == "" {
			loaded++
		}
		if !reflect.DeepEqual(normalize(runGo(t, j.Dir, c, latest)), normalize(runGo(t, j.Dir, c, dialect{v54: true}))) {
			versionDiffs++
		}
		if reflect.DeepEqual(normalize(g), normalize(p)) {
			continue
		}
		bad++
		if bad <= 20 {
			t.Errorf("file %q:\n  go %s\n php %s", c.File, mustJSON(g), mustJSON(p))
		}
	}
	t.Logf("%d random files (%d accepted by PHP, %d where 5.4.1 and 5.6 differ), %d disagreements with the Go 5.4.1 dialect", n, loaded, versionDiffs, bad)
}

func phpOracleOrSkip(t *testing.T) string {
	t.Helper()
	phpBin, err := exec.LookPath("php")
	if err != nil {
		t.Skip("php not installed: the oracle needs php-cli, php-vlucas-phpdotenv and php-laravel-framework")
	}
	probe := exec.Command(phpBin, "-r", `require 'Dotenv/autoload.php'; require 'Illuminate/autoload.php'; echo class_exists('Illuminate\Support\Env') && class_exists('Dotenv\Dotenv') ? 'ok' : 'no';`)
	if out, err := probe.Output(); err != nil || string(out) != "ok" {
		t.Skipf("phpdotenv / Illuminate classes not loadable (install php-vlucas-phpdotenv and php-laravel-framework): %v %s", err, out)
	}
	return phpBin
}
