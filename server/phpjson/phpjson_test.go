package phpjson

import (
	"encoding/base64"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
)

var point1, point2 = 0.1, 0.2
var point3 = point1 + point2

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "-0"}, {1, "1"}, {-1, "-1"}, {100, "100"}, {0.1, "0.1"},
		{1.5, "1.5"}, {-2.25, "-2.25"}, {1e15, "1000000000000000"}, {1e16, "10000000000000000"},
		{1e17, "1.0e+17"}, {1e25, "1.0e+25"}, {1.2345678901234568e+20, "1.2345678901234568e+20"},
		{9.223372036854776e+18, "9.223372036854776e+18"}, {0.0001, "0.0001"}, {0.00001, "1.0e-5"},
		{0.000123, "0.000123"}, {0.0000123, "1.23e-5"}, {123456789012345678, "1.2345678901234568e+17"},
		{12345678901234567, "12345678901234568"}, {point3, "0.30000000000000004"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
		{5e-324, "5.0e-324"}, {math.Inf(1), "0"}, {math.NaN(), "0"},
	}
	for _, tt := range tests {
		if got := string(AppendFloat(nil, tt.f)); got != tt.want {
			t.Errorf("AppendFloat(%v) = %s, want %s", tt.f, got, tt.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, plain, symfony string }{
		{"", `""`, `""`},
		{"abc", `"abc"`, `"abc"`},
		{`a/b\c"d`, `"a\/b\\c\"d"`, `"a\/b\\c\u0022d"`},
		{"<a href='x'>&amp;</a>", `"<a href='x'>&amp;<\/a>"`, `"\u003Ca href=\u0027x\u0027\u003E\u0026amp;\u003C\/a\u003E"`},
		{"\b\f\n\r\t\x00\x1f\x7f", `"\b\f\n\r\t\u0000\u001f` + "\x7f" + `"`, `"\b\f\n\r\t\u0000\u001f` + "\x7f" + `"`},
		{"é€😀\u2028", `"\u00e9\u20ac\ud83d\ude00\u2028"`, `"\u00e9\u20ac\ud83d\ude00\u2028"`},
		{"a\xffb", `"a\ufffdb"`, `"a\ufffdb"`},
	}
	for _, tt := range tests {
		if got := string(AppendString(nil, tt.in)); got != tt.plain {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.plain)
		}
		if got := string(AppendSymfonyString(nil, tt.in)); got != tt.symfony {
			t.Errorf("AppendSymfonyString(%q) = %s, want %s", tt.in, got, tt.symfony)
		}
	}
}

func TestDecode(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `[]`},
		{`[]`, `[]`},
		{`{"0":"a","1":"b"}`, `["a","b"]`},
		{`{"1":"a","0":"b"}`, `{"1":"a","0":"b"}`},
		{`{"a":1,"a":2,"b":3}`, `{"a":2,"b":3}`},
		{`{"":1,"01":2,"-0":3,"-1":4}`, `{"":1,"01":2,"-0":3,"-1":4}`},
		{` [1, -0, 0.0, -0.0, 1e2, 1E+2, 9223372036854775807, 9223372036854775808, -9223372036854775808, -9223372036854775809] `,
			`[1,0,0.0,-0.0,100.0,100.0,9223372036854775807,9.2233720368547758e+18,-9223372036854775808,-9.2233720368547758e+18]`},
		{`"\u00e9\ud83d\ude00\/\b"`, `"\u00e9\ud83d\ude00\/\b"`},
		{`{"user_id":1,"user_info":{"name":"Joe"}}`, `{"user_id":1,"user_info":{"name":"Joe"}}`},
		{`null`, `null`},
		{`true`, `true`},
		// Protocol keys come back as constants; escaped, repeated or
		// longer lookalikes decode as any other key.
		{`{"event":"pusher:subscribe","data":{"channel":"a","auth":"k:s","channel_data":"{}"}}`,
			`{"event":"pusher:subscribe","data":{"channel":"a","auth":"k:s","channel_data":"{}"}}`},
		{`{"ev\u0065nt":1,"event":2,"events":3,"even":4,"":5,"channel_data_":6}`, `{"event":2,"events":3,"even":4,"":5,"channel_data_":6}`},
		{`{"data"  :  1}`, `{"data":1}`},
	}
	for _, tt := range tests {
		v, err := Decode([]byte(tt.in))
		if err != nil {
			t.Errorf("Decode(%s): %v", tt.in, err)
			continue
		}
		// Compare through Append: the expected text is written the way
		// PHP's json_encode would print it, except floats shown with
		// their kind here.
		got := string(Append(nil, v))
		want := tt.want
		if wantV, err := Decode([]byte(want)); err == nil {
			want = string(Append(nil, wantV))
		}
		if got != want {
			t.Errorf("Decode(%s) re-encoded = %s, want %s", tt.in, got, want)
		}
	}
	v, _ := Decode([]byte(`[9223372036854775808, -0, 0.0]`))
	a := v.ArrayVal()
	if a.Values[0].Kind() != php.Float || a.Values[1].Kind() != php.Int || a.Values[2].Kind() != php.Float {
		t.Errorf("number kinds: %v %v %v", a.Values[0].Kind(), a.Values[1].Kind(), a.Values[2].Kind())
	}
	for _, bad := range []string{``, ` `, `{`, `[1,]`, `{"a":1,}`, `01`, `1.`, `.5`, `-`, `+1`, `1e`, `"a`, "\"a\x01\"", `"\x"`, `"\u12"`,
		`{"event`, `{"event"`, `{"event":`, `{"data\`,
		`"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, "\"\xff\"", `[1] x`, `{1:2}`, `nul`, `TRUE`, `'a'`, `NaN`, `[1 2]`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
		if Valid([]byte(bad)) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
	deep := strings.Repeat("[", 511) + strings.Repeat("]", 511)
	if _, err := Decode([]byte(deep)); err != nil {
		t.Errorf("511 levels: %v", err)
	}
	if _, err := Decode([]byte("[" + deep + "]")); err != ErrDepth {
		t.Errorf("512 levels: %v", err)
	}
}

// phpRoundTrip prints, for each base64 line, json_encode(json_decode(x,
// true)) with default flags and with Symfony's flags, or ERR.
const phpRoundTrip = `
while (($line = fgets(STDIN)) !== false) {
    $s = base64_decode(trim($line));
    $v = json_decode($s, true);
    if (json_last_error() !== JSON_ERROR_NONE) { echo "ERR\nERR\n"; continue; }
    echo base64_encode(json_encode($v, JSON_PARTIAL_OUTPUT_ON_ERROR)), "\n";
    echo base64_encode(json_encode($v, JSON_HEX_TAG|JSON_HEX_APOS|JSON_HEX_AMP|JSON_HEX_QUOT|JSON_PARTIAL_OUTPUT_ON_ERROR)), "\n";
}`

func corpus() []string {
	c := []string{
		`{}`, `[]`, `{"a":{}}`, `{"0":"a","1":"b"}`, `{"1":"a"}`, `{"0":"a","2":"b"}`, `{"a":1,"a":2}`,
		`{"":1,"01":2,"-0":3,"-1":4,"9223372036854775807":5,"9223372036854775808":6,"-9223372036854775808":7}`,
		`[0,-0,0.0,-0.0,1.0,1e2,1e15,1e16,1e17,1e25,1.5e300,1e400,-1e400,1e-400,0.1,0.0001,0.00001,0.000123,123456789012345678]`,
		`[9223372036854775807,9223372036854775808,-9223372036854775808,-9223372036854775809,12345678901234567890123]`,
		`[0.30000000000000004,3.141592653589793,2.718281828459045,1.7976931348623157e308,5e-324,2.2250738585072014e-308]`,
		`"\u00e9\ud83d\ude00\/\b\f\n\r\t\u0000\u001f\u007f<>&'\""`, "\"é€😀\u2028\u2029\x7f\"",
		`{"event":"client-typing","data":{"id":123,"name":"Joe Dixon"},"channel":"private-chat"}`,
		`{"user_id":"1","user_info":{"name":"Test User","roles":["a","b"],"n":null,"t":true,"f":false}}`,
		`"\ud800"`, `[1,]`, "\"\xff\"", `{"a" : [ 1 , 2 ] }`, " \t\n\r1 ", `"a\/b"`, `[[[[[]]]]]`,
		strings.Repeat("[", 511) + strings.Repeat("]", 511), strings.Repeat(`{"a":`, 512) + "1" + strings.Repeat("}", 512),
	}
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 2000; i++ {
		c = append(c, strconv.FormatFloat(randFloat(rng), 'g', -1, 64))
	}
	for i := 0; i < 300; i++ {
		c = append(c, strconv.Quote(randString(rng)))
	}
	return c
}

func randFloat(rng *rand.Rand) float64 {
	switch rng.Intn(4) {
	case 0:
		return math.Float64frombits(rng.Uint64())
	case 1:
		return float64(rng.Int63n(1<<62)) * math.Pow(10, float64(rng.Intn(40)-20))
	case 2:
		return float64(rng.Intn(100000)) / math.Pow(10, float64(rng.Intn(12)))
	}
	return rng.NormFloat64() * math.Pow(10, float64(rng.Intn(60)-30))
}

func randString(rng *rand.Rand) string {
	pieces := []string{"a", "/", "\\", "\"", "<", ">", "&", "'", "é", "😀", "\u2028", "\x00", "\x1f", "\x7f", " ", "\n", "€", "\uffff"}
	var b strings.Builder
	for n := rng.Intn(10); n > 0; n-- {
		b.WriteString(pieces[rng.Intn(len(pieces))])
	}
	return b.String()
}

// TestAgainstPHP compares Decode+Append and Decode+AppendSymfony with real
// PHP over a corpus (skipped when php is not installed).
func TestAgainstPHP(t *testing.T) {
	phpBin := phptest.Binary(t, "cannot compare with json_encode/json_decode")
	inputs := corpus()
	var in strings.Builder
	for _, s := range inputs {
		in.WriteString(base64.StdEncoding.EncodeToString([]byte(s)))
		in.WriteByte('\n')
	}
	lines := phptest.Lines(t, phpBin, in.String(), "-d", "serialize_precision=-1", "-r", phpRoundTrip)
	next := func() string {
		if len(lines) == 0 {
			t.Fatal("php output too short")
		}
		line := lines[0]
		lines = lines[1:]
		if line == "ERR" {
			return "ERR"
		}
		b, _ := base64.StdEncoding.DecodeString(line)
		return string(b)
	}
	for _, s := range inputs {
		wantPlain, wantSymfony := next(), next()
		v, err := Decode([]byte(s))
		gotPlain, gotSymfony := "ERR", "ERR"
		if err == nil {
			gotPlain, gotSymfony = string(Append(nil, v)), string(AppendSymfony(nil, v))
		}
		if gotPlain != wantPlain || gotSymfony != wantSymfony {
			t.Errorf("input %q:\n go  %s | %s\n php %s | %s", s, gotPlain, gotSymfony, wantPlain, wantSymfony)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range corpus()[:24] {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if (err == nil) != Valid(data) {
			t.Fatalf("Decode and Valid disagree on %q", data)
		}
		if err != nil {
			return
		}
		// PHP itself is not a fixed point on the first pass (-0.0 is
		// written "-0", which reads back as int 0; INF is written 0), so
		// the second encoding must be stable.
		enc := Append(nil, v)
		v2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", enc, err)
		}
		enc2 := Append(nil, v2)
		v3, err := Decode(enc2)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", enc2, err)
		}
		if enc3 := Append(nil, v3); string(enc3) != string(enc2) {
			t.Fatalf("not stable: %s then %s", enc2, enc3)
		}
		AppendSymfony(nil, v)
	})
}

func BenchmarkAppendString(b *testing.B) {
	s := `{"foo":"bar","message":"Hello, world! This is a typical broadcast payload with some text."}`
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		dst = AppendString(dst[:0], s)
	}
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(`{"event":"client-typing","channel":"private-chat.1","data":{"id":123,"name":"Joe Dixon"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAppendSymfonyKey(t *testing.T) {
	tests := []struct {
		key  php.Key
		want string
	}{
		{php.IntKey(5), `"5"`},
		{php.IntKey(-1), `"-1"`},
		{php.StringKey("a<b"), `"a\u003Cb"`},
		{php.StringKey("x/y"), `"x\/y"`},
	}
	for _, tt := range tests {
		if got := string(AppendSymfonyKey(nil, tt.key)); got != tt.want {
			t.Errorf("AppendSymfonyKey(%v) = %s, want %s", tt.key, got, tt.want)
		}
	}
}
