package pulse

import (
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

func TestFromPulse(t *testing.T) {
	rec := func(v any) php.Value { return arr("recorders", arr(MessagesRecorder, v)) }
	with := func(base php.Value, kv ...any) php.Value {
		a := base.ArrayVal()
		for i := 0; i+1 < len(kv); i += 2 {
			a.Set(php.StringKey(kv[i].(string)), val(kv[i+1]))
		}
		return base
	}
	tests := []struct {
		name     string
		pulse    php.Value
		interval int
		want     Config
		ok       bool
		err      string
	}{
		{name: "no recorders", pulse: arr("enabled", true)},
		{name: "other recorder only", pulse: arr("recorders", arr(`Laravel\Reverb\Pulse\Recorders\ReverbConnections`, arr("sample_rate", 1)))},
		{name: "defaults", pulse: rec(arr()), ok: true, want: Config{SampleRate: 1, Driver: DriverStorage, Interval: 15 * time.Second}},
		{name: "interval and sample rate string", pulse: rec(arr("sample_rate", "0.25")), interval: 5, ok: true, want: Config{SampleRate: 0.25, Driver: DriverStorage, Interval: 5 * time.Second}},
		{name: "sample rate clamped", pulse: rec(arr("sample_rate", 3)), ok: true, want: Config{SampleRate: 1, Driver: DriverStorage, Interval: 15 * time.Second}},
		{name: "recorder false", pulse: rec(false)},
		{name: "recorder disabled", pulse: rec(arr("enabled", false))},
		{name: "pulse disabled", pulse: with(rec(arr()), "enabled", "0")},
		{name: "redis ingest", pulse: with(rec(arr()), "ingest", arr("driver", "redis", "redis", arr("connection", "pulse"))), ok: true,
			want: Config{SampleRate: 1, Driver: DriverRedis, RedisConnection: "pulse", Interval: 15 * time.Second}},
		{name: "storage connection", pulse: with(rec(arr()), "storage", arr("database", arr("connection", "pulse_db"))), ok: true,
			want: Config{SampleRate: 1, Driver: DriverStorage, DBConnection: "pulse_db", Interval: 15 * time.Second}},
		{name: "unknown driver", pulse: with(rec(arr()), "ingest", arr("driver", "kafka")), err: `config pulse.ingest.driver: "kafka" is not supported`},
		{name: "bad sample rate", pulse: rec(arr("sample_rate", "often")), err: `sample_rate: "often" is not a number`},
		{name: "uncomputable recorder", pulse: rec(php.UnknownValue("closure", "config/pulse.php:3")), err: "config pulse.recorders."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := fromPulse(tt.pulse, tt.interval)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || got != tt.want {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFromProjectWithoutPulse(t *testing.T) {
	p := &laravelcfg.Project{Config: arr("reverb", arr())}
	if _, ok, err := FromProject(p); ok || err != nil {
		t.Fatalf("ok %v err %v, want off", ok, err)
	}
	if _, ok, err := FromProject(nil); ok || err != nil {
		t.Fatalf("nil project: ok %v err %v", ok, err)
	}
}
