package phpwire

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

// assoc builds a PHP array from key/value pairs.
func assoc(kv ...any) php.Value {
	a := php.NewArray()
	for i := 0; i < len(kv); i += 2 {
		a.Set(php.StringKey(kv[i].(string)), kv[i+1].(php.Value))
	}
	return php.ArrayValue(a)
}

// specApp is app A of §15 as the default config/reverb.php builds it with
// REVERB_PORT=8080 in .env (so options.port is the string "8080").
func specApp() *laravelcfg.App {
	return &laravelcfg.App{
		ID: "123456", Key: "reverb-key", Secret: "reverb-secret",
		PingInterval: 60, ActivityTimeout: 30, MaxMessageSize: 10000,
		AllowedOrigins:         []string{"*"},
		AllowedOriginsRaw:      php.ListValue(php.StringValue("*")),
		AcceptClientEventsFrom: "members",
		RateLimitingRaw: assoc("enabled", php.BoolValue(false), "max_attempts", php.IntValue(60),
			"decay_seconds", php.IntValue(60), "terminate_on_limit", php.BoolValue(false)),
		OptionsRaw: assoc("host", php.StringValue("localhost"), "port", php.StringValue("8080"),
			"scheme", php.StringValue("http"), "useTLS", php.BoolValue(false)),
	}
}

// The example of reverb-protocol.md §10.4, byte for byte.
const specExample = "O:26:\"Laravel\\Reverb\\Application\":11:{s:5:\"\x00*\x00id\";s:6:\"123456\";s:6:\"\x00*\x00key\";s:10:\"reverb-key\";s:9:\"\x00*\x00secret\";s:13:\"reverb-secret\";s:15:\"\x00*\x00pingInterval\";i:60;s:18:\"\x00*\x00activityTimeout\";i:30;s:17:\"\x00*\x00allowedOrigins\";a:1:{i:0;s:1:\"*\";}s:17:\"\x00*\x00maxMessageSize\";i:10000;s:17:\"\x00*\x00maxConnections\";N;s:25:\"\x00*\x00acceptClientEventsFrom\";s:7:\"members\";s:15:\"\x00*\x00rateLimiting\";a:4:{s:7:\"enabled\";b:0;s:12:\"max_attempts\";i:60;s:13:\"decay_seconds\";i:60;s:18:\"terminate_on_limit\";b:0;}s:10:\"\x00*\x00options\";a:4:{s:4:\"host\";s:9:\"localhost\";s:4:\"port\";s:4:\"8080\";s:6:\"scheme\";s:4:\"http\";s:6:\"useTLS\";b:0;}}"

func TestApplicationSpecExample(t *testing.T) {
	got := Application(specApp())
	if len(specExample) != 583 {
		t.Fatalf("fixture is %d bytes, the spec says 583", len(specExample))
	}
	if got != specExample {
		t.Fatalf("Application:\n got %q\nwant %q", got, specExample)
	}
	id, err := ApplicationID(got)
	if err != nil || id != "123456" {
		t.Fatalf("ApplicationID = %q, %v", id, err)
	}
}

func TestApplicationWithoutRawValues(t *testing.T) {
	mc := 5
	app := &laravelcfg.App{ID: "1", Key: "k", Secret: "s", AllowedOrigins: []string{"a", "b"}, MaxConnections: &mc,
		AcceptClientEventsFrom: "all", RateLimiting: &laravelcfg.RateLimiting{Enabled: true, MaxAttempts: 3, DecaySeconds: 2}}
	got := Application(app)
	for _, want := range []string{
		"s:17:\"\x00*\x00allowedOrigins\";a:2:{i:0;s:1:\"a\";i:1;s:1:\"b\";}",
		"s:17:\"\x00*\x00maxConnections\";i:5;",
		"s:15:\"\x00*\x00rateLimiting\";a:4:{s:7:\"enabled\";b:1;s:12:\"max_attempts\";i:3;s:13:\"decay_seconds\";i:2;s:18:\"terminate_on_limit\";b:0;}",
		"s:10:\"\x00*\x00options\";a:0:{}}",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	}
	if _, err := Decode(got); err != nil {
		t.Fatal(err)
	}
}

func TestAppendValue(t *testing.T) {
	list := php.NewArray()
	list.Set(php.IntKey(5), php.StringValue("x"))
	list.Set(php.IntKey(-1), php.NullValue())
	for _, tc := range []struct {
		v    php.Value
		want string
	}{
		{php.NullValue(), "N;"},
		{php.BoolValue(true), "b:1;"},
		{php.IntValue(-42), "i:-42;"},
		{php.FloatValue(0.1), "d:0.1;"},
		{php.FloatValue(100), "d:100;"},
		{php.FloatValue(1e25), "d:1.0E+25;"},
		{php.FloatValue(1e-5), "d:1.0E-5;"},
		{php.FloatValue(math.Copysign(0, -1)), "d:-0;"},
		{php.FloatValue(math.Inf(1)), "d:INF;"},
		{php.FloatValue(math.Inf(-1)), "d:-INF;"},
		{php.FloatValue(math.NaN()), "d:NAN;"},
		{php.StringValue("€"), "s:3:\"€\";"},
		{php.ArrayValue(list), "a:2:{i:5;s:1:\"x\";i:-1;N;}"},
		{php.UnknownValue("env", "x.php:1"), "N;"},
	} {
		if got := string(AppendValue(nil, tc.v)); got != tc.want {
			t.Errorf("AppendValue(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestPendingMetricRoundTrip(t *testing.T) {
	opts := assoc("filter", php.NullValue(), "info", php.StringValue("user_count"))
	m := PendingMetric{Key: "AbCdEfGhIj", Application: specApp(), Type: MetricChannels, Options: opts}
	s := EncodePendingMetric(m)
	for _, want := range []string{
		"O:45:\"Laravel\\Reverb\\Protocols\\Pusher\\PendingMetric\":6:{s:14:\"\x00*\x00subscribers\";N;s:7:\"\x00*\x00data\";a:0:{}s:6:\"\x00*\x00key\";s:10:\"AbCdEfGhIj\";s:14:\"\x00*\x00application\";" + specExample,
		"s:7:\"\x00*\x00type\";E:51:\"Laravel\\Reverb\\Protocols\\Pusher\\MetricType:CHANNELS\";",
		"s:10:\"\x00*\x00options\";a:2:{s:6:\"filter\";N;s:4:\"info\";s:10:\"user_count\";}}",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in %q", want, s)
		}
	}
	got, err := DecodePendingMetric(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != m.Key || got.AppID != "123456" || got.Type != MetricChannels || got.Type.Value() != "channels" {
		t.Fatalf("decoded %+v", got)
	}
	if string(AppendValue(nil, got.Options)) != string(AppendValue(nil, opts)) {
		t.Fatalf("options %q", AppendValue(nil, got.Options))
	}
}

func TestMetricTypeOf(t *testing.T) {
	for _, v := range []string{"connections", "channel", "channels", "channel_users"} {
		mt, ok := MetricTypeOf(v)
		if !ok || mt.Value() != v {
			t.Errorf("MetricTypeOf(%q) = %q, %v", v, mt, ok)
		}
	}
	if _, ok := MetricTypeOf("presence"); ok {
		t.Error("unknown type accepted")
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		offset int
		msg    string
	}{
		{"", 0, "truncated value"},
		{"N", 0, "truncated value"},
		{"N;x", 2, "trailing data"},
		{"i:12", 2, "missing ';'"},
		{"i:1x;", 2, "bad integer"},
		{"b:2;", 4, "bad boolean"},
		{"d:abc;", 2, "bad float"},
		{`s:5:"abc";`, 5, "runs past the end"},
		{`s:-1:"";`, 2, "out of range"},
		{`s:1:"ab";`, 6, "expected '\"'"},
		{`a:1:{N;i:1;}`, 5, "bad key type"},
		{`a:99999999:{}`, 2, "out of range"},
		{`a:2:{i:0;i:1;}`, 13, "truncated value"},
		{`E:3:"abc";`, 10, "has no case"},
		{`r:1;`, 0, "unsupported type 'r'"},
		{`O:1:"X":1:{i:0;N;}`, 11, "bad key type"},
		{strings.Repeat("a:1:{i:0;", 70) + "N;" + strings.Repeat("}", 70), -1, "nesting deeper"},
	} {
		_, err := Decode(tc.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Decode(%q) = %v, want a SyntaxError", tc.in, err)
			continue
		}
		if !strings.Contains(se.Msg, tc.msg) || (tc.offset >= 0 && se.Offset != tc.offset) {
			t.Errorf("Decode(%q) = %v, want %q at %d", tc.in, err, tc.msg, tc.offset)
		}
	}
}

func TestDecodeNotReverbObjects(t *testing.T) {
	if _, err := ApplicationID(`O:8:"stdClass":0:{}`); err == nil {
		t.Error("stdClass accepted as an Application")
	}
	if _, err := DecodePendingMetric(specExample); err == nil {
		t.Error("Application accepted as a PendingMetric")
	}
	id, err := ApplicationID("O:26:\"Laravel\\Reverb\\Application\":1:{s:2:\"id\";i:7;}")
	if err != nil || id != "7" {
		t.Errorf("public int id: %q, %v", id, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(specExample)
	f.Add(EncodePendingMetric(PendingMetric{Key: "k", Application: specApp(), Type: MetricChannelUsers, Options: assoc("channel", php.StringValue("c"))}))
	f.Add(`a:2:{i:0;d:1.5;s:1:"x";a:0:{}}`)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Decode(s)
		if err != nil {
			return
		}
		again := string(AppendDecoded(nil, v))
		w, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", again, err)
		}
		if third := string(AppendDecoded(nil, w)); third != again {
			t.Fatalf("not stable: %q then %q", again, third)
		}
	})
}
