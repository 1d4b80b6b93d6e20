package phpwire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/phpjson"
)

func needPHP(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("php")
	if err != nil {
		t.Skip("php-cli not installed: PHP interop not checked (CI installs it)")
	}
	return p
}

func runPHP(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(needPHP(t), append([]string{"-d", "display_errors=stderr", "testdata/interop.php"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("php %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// phpArgs is the JSON PHP's constructor call is built from: json_decode
// keeps int, string, bool and null apart, as the config does.
func phpArgs(a *laravelcfg.App) map[string]any {
	raw := func(v php.Value) json.RawMessage { return phpjson.Append(nil, v) }
	var mc any
	if a.MaxConnections != nil {
		mc = *a.MaxConnections
	}
	opts := a.OptionsRaw
	if opts.Kind() != php.Array {
		opts = php.ArrayValue(nil)
	}
	return map[string]any{
		"id": a.ID, "key": a.Key, "secret": a.Secret, "pingInterval": a.PingInterval,
		"activityTimeout": a.ActivityTimeout, "allowedOrigins": raw(a.AllowedOriginsRaw),
		"maxMessageSize": a.MaxMessageSize, "maxConnections": mc,
		"acceptClientEventsFrom": a.AcceptClientEventsFrom, "rateLimiting": raw(a.RateLimitingRaw),
		"options": raw(opts),
	}
}

// TestPHPUnserializesOurs: for each app, PHP builds the same object with
// its constructor and serialize()s it — the bytes must equal ours — and
// unserialize()s ours into typed properties without error.
func TestPHPUnserializesOurs(t *testing.T) {
	needPHP(t)
	mc := 250
	unicode := specApp()
	unicode.ID, unicode.Key, unicode.Secret = "42", "kéy\x00", `sec"ret\`
	unicode.MaxConnections = &mc
	unicode.RateLimitingRaw = php.NullValue()
	unicode.AllowedOriginsRaw = php.ListValue(php.StringValue("laravel.com"), php.IntValue(3))
	nested := php.NewArray()
	nested.Set(php.IntKey(7), php.FloatValue(0.5))
	nested.Set(php.StringKey("deep"), php.ListValue(php.BoolValue(true), php.NullValue()))
	unicode.OptionsRaw = assoc("host", php.StringValue("ws.example.com"), "port", php.IntValue(443), "nested", php.ArrayValue(nested))

	apps := []*laravelcfg.App{specApp(), unicode}
	type goCase struct {
		Kind    string          `json:"kind"`
		App     map[string]any  `json:"app"`
		Key     string          `json:"key,omitempty"`
		Type    string          `json:"type,omitempty"`
		Options json.RawMessage `json:"options,omitempty"`
		Go      string          `json:"go"`
	}
	var cases []goCase
	for _, a := range apps {
		cases = append(cases, goCase{Kind: "application", App: phpArgs(a), Go: base64.StdEncoding.EncodeToString([]byte(Application(a)))})
	}
	metricOpts := []struct {
		typ  MetricType
		opts php.Value
	}{
		{MetricConnections, php.ArrayValue(nil)},
		{MetricChannel, assoc("channel", php.StringValue("presence-x"), "info", php.StringValue("occupied,user_count"))},
		{MetricChannels, assoc("filter", php.NullValue(), "info", php.NullValue())},
		{MetricChannels, assoc("info", php.StringValue("subscription_count"), "channels", php.ListValue(php.StringValue("a"), php.StringValue("b")))},
		{MetricChannelUsers, assoc("channel", php.StringValue("presence-x"))},
	}
	for i, mo := range metricOpts {
		m := PendingMetric{Key: "Key" + string(rune('A'+i)) + "abcdef", Application: apps[i%2], Type: mo.typ, Options: mo.opts}
		cases = append(cases, goCase{Kind: "metric", App: phpArgs(m.Application), Key: m.Key, Type: mo.typ.Value(),
			Options: phpjson.Append(nil, mo.opts), Go: base64.StdEncoding.EncodeToString([]byte(EncodePendingMetric(m)))})
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	var results []struct {
		PHP        string          `json:"php"`
		Error      *string         `json:"error"`
		View       json.RawMessage `json:"view"`
		Reserialed bool            `json:"reserialized_equal"`
	}
	if err := json.Unmarshal(runPHP(t, in, "check"), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != len(cases) {
		t.Fatalf("%d results for %d cases", len(results), len(cases))
	}
	for i, r := range results {
		ours, _ := base64.StdEncoding.DecodeString(cases[i].Go)
		theirs, _ := base64.StdEncoding.DecodeString(r.PHP)
		if r.Error != nil {
			t.Errorf("case %d: PHP unserialize failed: %s\n%q", i, *r.Error, ours)
			continue
		}
		if !bytes.Equal(ours, theirs) {
			t.Errorf("case %d: bytes differ\n ours %q\n  php %q", i, ours, theirs)
		}
		if !r.Reserialed {
			t.Errorf("case %d: serialize(unserialize(ours)) != ours", i)
		}
	}
}

// view turns a decoded value into what the PHP script json_encodes:
// objects as their properties by bare name, enums as their backed value.
func view(v Value) php.Value {
	switch v.Kind {
	case Object:
		a := php.NewArray()
		for _, e := range v.Entries {
			name := e.Key.S
			if len(name) > 0 && name[0] == 0 {
				name = name[bytes.IndexByte([]byte(name[1:]), 0)+2:]
			}
			a.Set(php.StringKey(name), view(e.Val))
		}
		return php.ArrayValue(a)
	case Enum:
		i := bytes.LastIndexByte([]byte(v.Str), ':')
		return php.StringValue(MetricType(v.Str[i+1:]).Value())
	case Array:
		a := php.NewArray()
		for _, e := range v.Entries {
			a.Set(e.Key, view(e.Val))
		}
		return php.ArrayValue(a)
	}
	return v.PHP()
}

// TestWeDecodePHPs: strings PHP serialize()d decode to the values PHP had,
// and re-encode to PHP's bytes.
func TestWeDecodePHPs(t *testing.T) {
	needPHP(t)
	var emitted map[string]struct {
		Serialized string `json:"serialized"`
		View       string `json:"view"`
	}
	if err := json.Unmarshal(runPHP(t, nil, "emit"), &emitted); err != nil {
		t.Fatal(err)
	}
	if len(emitted) < 7 {
		t.Fatalf("only %d values emitted", len(emitted))
	}
	for name, e := range emitted {
		s, _ := base64.StdEncoding.DecodeString(e.Serialized)
		v, err := Decode(string(s))
		if err != nil {
			t.Errorf("%s: %v\n%q", name, err, s)
			continue
		}
		if got := string(phpjson.Append(nil, view(v))); got != e.View {
			t.Errorf("%s: decoded\n %s\nPHP had\n %s", name, got, e.View)
		}
		if again := AppendDecoded(nil, v); !bytes.Equal(again, s) {
			t.Errorf("%s: re-encoded\n %q\nPHP wrote\n %q", name, again, s)
		}
		if v.Kind == Object && v.Str == PendingMetricClass {
			m, err := DecodePendingMetric(string(s))
			if err != nil || m.AppID != "987654" || len(m.Key) != 10 {
				t.Errorf("%s: DecodePendingMetric = %+v, %v", name, m, err)
			}
		}
		if name == "application" {
			if id, err := ApplicationID(string(s)); err != nil || id != "987654" {
				t.Errorf("ApplicationID = %q, %v", id, err)
			}
		}
	}
}
