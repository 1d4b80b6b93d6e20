package php_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
)

// jsonStrings cover every byte class AppendJSONString treats apart: the
// characters the flags change, control bytes, two-, three- and four-byte
// UTF-8, the JavaScript line terminators and invalid UTF-8.
var jsonStrings = []string{
	"",
	"plain ascii 0123",
	`a"b\c/d<e>f&g'h`,
	"\x00\x01\b\f\n\r\t\x1f\x7f",
	"Café 東京 😀",
	"line\u2028sep\u2029end",
	"</script><!--",
	"bad \xff byte, cut \xe6\x9d and \xc3",
	"overlong \xc0\x80 \xc1\xbf \xe0\x80\x80 \xf0\x80\x80\x80",
	"surrogate \xed\xa0\x80 above \xf4\x90\x80\x80 \xf5\x80 \xfe\xff",
	"stray \x80\x80\xbf trail",
	"cut four \xf0\x9f\x98A \xf0\x9fB \xf0C \xf0\x9f\x98",
	"cut by lead \xe6\xe6\x9d\xb1 \xf0\x9f\xc3\xa9 \xc3\xc3\xa9",
	"cut by neither \xe6\xc0A \xf0\x9f\xc0\x80B \xe6\xff\x9d",
	"end \xe6",
}

// TestAppendJSONStringMatchesPHP compares every combination of the flags
// AppendJSONString honours with PHP's json_encode (invalid UTF-8 with
// JSON_INVALID_UTF8_SUBSTITUTE, which is what the writer does with it).
func TestAppendJSONStringMatchesPHP(t *testing.T) {
	phpBin := phptest.Binary(t, "json_encode is the oracle for AppendJSONString")
	flagBits := []php.JSONFlags{php.JSONHexTag, php.JSONHexAmp, php.JSONHexApos, php.JSONHexQuot,
		php.JSONUnescapedSlashes, php.JSONUnescapedUnicode, php.JSONUnescapedLineTerminators}
	var combos []php.JSONFlags
	for combo := 0; combo < 1<<len(flagBits); combo++ {
		var f php.JSONFlags
		for i, bit := range flagBits {
			if combo&(1<<i) != 0 {
				f |= bit
			}
		}
		combos = append(combos, f)
	}
	var input strings.Builder
	for _, f := range combos {
		for _, s := range jsonStrings {
			fmt.Fprintf(&input, "%d %s\n", f, base64.StdEncoding.EncodeToString([]byte(s)))
		}
	}
	const script = `while (($l = fgets(STDIN)) !== false) {
		[$f, $s] = explode(' ', trim($l));
		echo base64_encode(json_encode(base64_decode($s), (int) $f | JSON_INVALID_UTF8_SUBSTITUTE)), "\n";
	}`
	lines := phptest.Lines(t, phpBin, input.String(), "-r", script)
	if len(lines) != len(combos)*len(jsonStrings) {
		t.Fatalf("php answered %d lines for %d strings", len(lines), len(combos)*len(jsonStrings))
	}
	for i, line := range lines {
		f, s := combos[i/len(jsonStrings)], jsonStrings[i%len(jsonStrings)]
		want, _ := base64.StdEncoding.DecodeString(line)
		if got := php.AppendJSONString(nil, s, f); string(got) != string(want) {
			t.Errorf("flags %d, %q: got %s, PHP %s", f, s, got, want)
		}
	}
}
