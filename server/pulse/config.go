// Package pulse feeds Laravel Pulse's `livewire:reverb.messages` card from
// the Go server, as Reverb's ReverbMessages recorder does from inside PHP:
// it turns the server's per-app counters of text frames sent and client
// messages handled into `reverb_message:sent` / `reverb_message:received`
// count entries, sampled like the recorder's Lottery, and ingests them every
// pulse_ingest_interval seconds through the app's Pulse ingest driver
// (`storage`: upserts into pulse_aggregates; `redis`: XADD of serialized
// Laravel\Pulse\Entry objects to the ingest stream).
//
// The connections card needs nothing here: Pulse's `pulse:check` calls the
// signed GET /apps/{id}/connections, which the server answers cluster-wide.
package pulse

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

// MessagesRecorder is the config/pulse.php recorders key that turns the
// messages card on (the value of ReverbMessages::class).
const MessagesRecorder = `Laravel\Reverb\Pulse\Recorders\ReverbMessages`

// Driver is config('pulse.ingest.driver').
type Driver string

// The ingest drivers Pulse ships; "storage" writes straight to the database.
const (
	DriverStorage Driver = "storage"
	DriverRedis   Driver = "redis"
)

// Config is what the Go server takes from config/pulse.php and reverb.php.
type Config struct {
	// SampleRate is recorders[ReverbMessages].sample_rate (default 1), the
	// odds of Lottery::odds(): each message is recorded with this
	// probability (clamped to [0, 1]).
	SampleRate float64
	Driver     Driver
	// DBConnection is pulse.storage.database.connection ("" = default).
	DBConnection string
	// RedisConnection is pulse.ingest.redis.connection ("" = "default").
	RedisConnection string
	// Interval is reverb.servers.reverb.pulse_ingest_interval.
	Interval time.Duration
}

// FromProject reads the Pulse settings of an app. ok is false (and err
// nil) when the messages card is not wanted: no config/pulse.php, Pulse
// disabled (pulse.enabled false), or no enabled ReverbMessages recorder.
// Errors name the config key.
func FromProject(p *laravelcfg.Project) (cfg Config, ok bool, err error) {
	if p == nil || p.Config.Kind() != php.Array {
		return Config{}, false, nil
	}
	pv, found := p.Config.ArrayVal().GetString("pulse")
	if !found || pv.Kind() != php.Array {
		return Config{}, false, nil
	}
	return fromPulse(pv, p.Reverb.Server.PulseIngestInterval)
}

// fromPulse reads config('pulse'); intervalSec is pulse_ingest_interval.
func fromPulse(pv php.Value, intervalSec int) (Config, bool, error) {
	if v := lookup(pv, "enabled"); !v.IsNull() && !truthy(v) {
		return Config{}, false, nil
	}
	rec := lookup(pv, "recorders", MessagesRecorder)
	switch {
	case rec.IsNull(), rec.Kind() == php.Bool && !rec.BoolVal():
		return Config{}, false, nil
	case rec.IsUnknown():
		return Config{}, false, fmt.Errorf("config pulse.recorders.%s: %s", MessagesRecorder, rec.UnknownReason())
	}
	if e := lookup(rec, "enabled"); !e.IsNull() && !truthy(e) {
		return Config{}, false, nil
	}
	cfg := Config{SampleRate: 1, Driver: DriverStorage, Interval: 15 * time.Second}
	if intervalSec > 0 {
		cfg.Interval = time.Duration(intervalSec) * time.Second
	}
	if v := lookup(rec, "sample_rate"); !v.IsNull() {
		f, err := number(v)
		if err != nil {
			return Config{}, false, fmt.Errorf("config pulse.recorders.%s.sample_rate: %v", MessagesRecorder, err)
		}
		cfg.SampleRate = math.Max(0, math.Min(1, f))
	}
	d, err := str(lookup(pv, "ingest", "driver"), "pulse.ingest.driver")
	if err != nil {
		return Config{}, false, err
	}
	switch Driver(d) {
	case "", DriverStorage:
		cfg.Driver = DriverStorage
	case DriverRedis:
		cfg.Driver = DriverRedis
	default:
		return Config{}, false, fmt.Errorf("config pulse.ingest.driver: %q is not supported (storage or redis)", d)
	}
	if cfg.DBConnection, err = str(lookup(pv, "storage", "database", "connection"), "pulse.storage.database.connection"); err != nil {
		return Config{}, false, err
	}
	if cfg.RedisConnection, err = str(lookup(pv, "ingest", "redis", "connection"), "pulse.ingest.redis.connection"); err != nil {
		return Config{}, false, err
	}
	return cfg, true, nil
}

// lookup walks string keys; anything missing or not an array is null.
func lookup(v php.Value, keys ...string) php.Value {
	for _, k := range keys {
		if v.Kind() != php.Array {
			return php.NullValue()
		}
		var ok bool
		if v, ok = v.ArrayVal().GetString(k); !ok {
			return php.NullValue()
		}
	}
	return v
}

// truthy is PHP's boolean conversion for the scalar kinds config holds.
func truthy(v php.Value) bool {
	switch v.Kind() {
	case php.Null:
		return false
	case php.Bool:
		return v.BoolVal()
	case php.Int:
		return v.IntVal() != 0
	case php.Float:
		return v.FloatVal() != 0
	case php.String:
		return v.StringVal() != "" && v.StringVal() != "0"
	case php.Array:
		return v.ArrayVal().Len() > 0
	}
	return true
}

// number reads an int, float or numeric string (env() gives strings).
func number(v php.Value) (float64, error) {
	switch v.Kind() {
	case php.Int:
		return float64(v.IntVal()), nil
	case php.Float:
		return v.FloatVal(), nil
	case php.Bool:
		if v.BoolVal() {
			return 1, nil
		}
		return 0, nil
	case php.String:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.StringVal()), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", v.StringVal())
		}
		return f, nil
	case php.Unknown:
		return 0, fmt.Errorf("not computable: %s", v.UnknownReason())
	}
	return 0, fmt.Errorf("expected a number")
}

// str reads a string or null ("") value.
func str(v php.Value, key string) (string, error) {
	switch v.Kind() {
	case php.Null:
		return "", nil
	case php.String:
		return v.StringVal(), nil
	case php.Int:
		return strconv.FormatInt(v.IntVal(), 10), nil
	case php.Unknown:
		return "", fmt.Errorf("config %s: not computable: %s", key, v.UnknownReason())
	}
	return "", fmt.Errorf("config %s: expected a string", key)
}
