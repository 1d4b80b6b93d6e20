package dotenv

import (
	"math/rand"
	"os"
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

// randomReal are the real environments the random files are loaded under,
// in turn: none, one that shadows a file name, and ones with values that
// env() converts or that look like references.
var randomReal = [][]Var{
	nil,
	{{Name: "A", Value: "real-a"}},
	{{Name: "B", Value: ""}, {Name: "C", Value: "(null)"}},
	{{Name: "AB", Value: "${A}"}, {Name: "A.B", Value: "'q'"}},
}

var randomNames = []string{"A", "B", "C", "AB", "A.B", "export C", "'B'", "\"A\""}

// TestOracleRandom compares the Go port with PHP on random files built from
// randomPieces (DOTENV_ORACLE_RANDOM=N sets how many; 300 by default). It
// compares Go and PHP directly, in the oracle's dialect, so it finds
// disagreements the hand-written corpus did not think of.
func TestOracleRandom(t *testing.T) {
	phpBin := phpOracleOrSkip(t)
	d, src := oracleDialect()
	n := 300
	if s := os.Getenv("DOTENV_ORACLE_RANDOM"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewSource(1))
	tmp := t.TempDir()
	var cases []corpusCase
	dirs := map[string]string{}
	for i := 0; i < n; i++ {
		var sb strings.Builder
		// Half the files are free-form; the other half are NAME=value
		// lines so that more of them parse and reach the loader.
		structured := i%2 == 0
		for k := rng.Intn(30); k >= 0; k-- {
			if structured && rng.Intn(4) == 0 {
				sb.WriteString("\n" + randomNames[rng.Intn(len(randomNames))] + "=")
			}
			sb.WriteString(randomPieces[rng.Intn(len(randomPieces))])
		}
		c := corpusCase{Name: "r" + strconv.Itoa(i), File: []byte(sb.String()), Real: randomReal[i%len(randomReal)]}
		dirs[c.Name] = filepath.Join(tmp, c.Name)
		writeCase(t, dirs[c.Name], c)
		cases = append(cases, c)
	}
	php := runOracle(t, phpBin, src, tmp, cases, dirs)
	bad, loaded, versionDiffs := 0, 0, 0
	for _, c := range cases {
		g := runGo(t, dirs[c.Name], c, d)
		g.Line = 0
		p := php[c.Name]
		if p.Error == "" {
			loaded++
		}
		if !reflect.DeepEqual(normalize(runGo(t, dirs[c.Name], c, latest)), normalize(runGo(t, dirs[c.Name], c, dialect{v54: true}))) {
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
	t.Logf("%d random files (%d accepted by PHP, %d where 5.4.1 and 5.6 differ), %d disagreements with the Go port (dialect %+v)", n, loaded, versionDiffs, bad, d)
}
