// Package phpwire writes and reads the PHP serialize() strings Laravel
// Reverb puts in its Redis scaling messages (reverb-protocol.md §10.4):
// Laravel\Reverb\Application and Laravel\Reverb\Protocols\Pusher\PendingMetric.
//
// Byte-exactness matters here: a PHP node calls unserialize() on what we
// publish and PHP checks the declared property types, so every property
// keeps the PHP type the config produced (an env-sourced "8080" stays a
// string, a literal 8080 stays an int).
package phpwire

import (
	"math"
	"strconv"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/phpjson"
)

// Class names as PHP writes them in O: and E: entries.
const (
	ApplicationClass   = `Laravel\Reverb\Application`
	PendingMetricClass = `Laravel\Reverb\Protocols\Pusher\PendingMetric`
	MetricTypeEnum     = `Laravel\Reverb\Protocols\Pusher\MetricType`
)

// protectedPrefix marks a protected property name in serialize() output.
const protectedPrefix = "\x00*\x00"

// AppendString appends s:<len>:"<bytes>"; (the length counts bytes).
func AppendString(b []byte, s string) []byte {
	b = append(b, "s:"...)
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':', '"')
	b = append(b, s...)
	return append(b, '"', ';')
}

// AppendInt appends i:<n>;.
func AppendInt(b []byte, n int64) []byte {
	b = append(b, "i:"...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, ';')
}

// AppendFloat appends d:<f>; the way serialize() with serialize_precision
// -1 writes it: like json_encode's digits but with an upper-case E, and
// INF, -INF and NAN spelled out.
func AppendFloat(b []byte, f float64) []byte {
	b = append(b, "d:"...)
	switch {
	case math.IsNaN(f):
		b = append(b, "NAN"...)
	case math.IsInf(f, 1):
		b = append(b, "INF"...)
	case math.IsInf(f, -1):
		b = append(b, "-INF"...)
	default:
		start := len(b)
		b = phpjson.AppendFloat(b, f)
		for i := start; i < len(b); i++ {
			if b[i] == 'e' {
				b[i] = 'E'
			}
		}
	}
	return append(b, ';')
}

// AppendBool appends b:0; or b:1;.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "b:1;"...)
	}
	return append(b, "b:0;"...)
}

// AppendNull appends N;.
func AppendNull(b []byte) []byte { return append(b, "N;"...) }

// AppendValue appends serialize($v). Values the config evaluator could not
// compute (php.Unknown) and closures have no PHP form here and are written
// as null.
func AppendValue(b []byte, v php.Value) []byte {
	switch v.Kind() {
	case php.Bool:
		return AppendBool(b, v.BoolVal())
	case php.Int:
		return AppendInt(b, v.IntVal())
	case php.Float:
		return AppendFloat(b, v.FloatVal())
	case php.String:
		return AppendString(b, v.StringVal())
	case php.Array:
		return appendArray(b, v.ArrayVal())
	}
	return AppendNull(b)
}

func appendArray(b []byte, a *php.OrderedArray) []byte {
	b = append(b, "a:"...)
	b = strconv.AppendInt(b, int64(a.Len()), 10)
	b = append(b, ':', '{')
	for i, k := range a.Keys {
		if k.IsInt {
			b = AppendInt(b, k.I)
		} else {
			b = AppendString(b, k.S)
		}
		b = AppendValue(b, a.Values[i])
	}
	return append(b, '}')
}

// appendObjectHeader appends O:<len>:"<class>":<n>:{.
func appendObjectHeader(b []byte, class string, props int) []byte {
	b = append(b, "O:"...)
	b = strconv.AppendInt(b, int64(len(class)), 10)
	b = append(b, ':', '"')
	b = append(b, class...)
	b = append(b, '"', ':')
	b = strconv.AppendInt(b, int64(props), 10)
	return append(b, ':', '{')
}

// appendProtected appends the name of a protected property.
func appendProtected(b []byte, name string) []byte {
	return AppendString(b, protectedPrefix+name)
}

// arrayOrEmpty returns v when it is an array, else an empty array: the
// property is typed `array` and PHP would refuse anything else.
func arrayOrEmpty(v php.Value) php.Value {
	if v.Kind() == php.Array {
		return v
	}
	return php.ArrayValue(nil)
}

// AppendApplication appends serialize($application) for the Application
// ConfigApplicationProvider builds from app, its 11 protected properties
// in declaration order.
func AppendApplication(b []byte, app *laravelcfg.App) []byte {
	b = appendObjectHeader(b, ApplicationClass, 11)
	b = appendProtected(b, "id")
	b = AppendString(b, app.ID)
	b = appendProtected(b, "key")
	b = AppendString(b, app.Key)
	b = appendProtected(b, "secret")
	b = AppendString(b, app.Secret)
	b = appendProtected(b, "pingInterval")
	b = AppendInt(b, int64(app.PingInterval))
	b = appendProtected(b, "activityTimeout")
	b = AppendInt(b, int64(app.ActivityTimeout))
	b = appendProtected(b, "allowedOrigins")
	origins := app.AllowedOriginsRaw
	if origins.Kind() != php.Array {
		// An App built in Go (tests, defaults) has only the typed list.
		arr := php.NewArray()
		for _, o := range app.AllowedOrigins {
			arr.Append(php.StringValue(o))
		}
		origins = php.ArrayValue(arr)
	}
	b = AppendValue(b, origins)
	b = appendProtected(b, "maxMessageSize")
	b = AppendInt(b, int64(app.MaxMessageSize))
	b = appendProtected(b, "maxConnections")
	if app.MaxConnections == nil {
		b = AppendNull(b)
	} else {
		b = AppendInt(b, int64(*app.MaxConnections))
	}
	b = appendProtected(b, "acceptClientEventsFrom")
	b = AppendString(b, app.AcceptClientEventsFrom)
	b = appendProtected(b, "rateLimiting")
	switch {
	case app.RateLimitingRaw.Kind() == php.Array:
		b = AppendValue(b, app.RateLimitingRaw)
	case app.RateLimiting != nil:
		b = AppendValue(b, rateLimitingArray(app.RateLimiting))
	default:
		b = AppendNull(b)
	}
	b = appendProtected(b, "options")
	b = AppendValue(b, arrayOrEmpty(app.OptionsRaw))
	return append(b, '}')
}

// rateLimitingArray rebuilds the config array from the typed settings
// (only for Apps built in Go without the raw config).
func rateLimitingArray(r *laravelcfg.RateLimiting) php.Value {
	a := php.NewArray()
	a.Set(php.StringKey("enabled"), php.BoolValue(r.Enabled))
	a.Set(php.StringKey("max_attempts"), php.IntValue(int64(r.MaxAttempts)))
	a.Set(php.StringKey("decay_seconds"), php.IntValue(int64(r.DecaySeconds)))
	a.Set(php.StringKey("terminate_on_limit"), php.BoolValue(r.TerminateOnLimit))
	return php.ArrayValue(a)
}

// Application returns serialize($application) as a string.
func Application(app *laravelcfg.App) string {
	return string(AppendApplication(make([]byte, 0, 600), app))
}

// MetricType is a case of Reverb's MetricType enum. serialize() writes the
// case name (CHANNEL_USERS); Reverb's HTTP layer uses the backed value
// (channel_users), which is what Value returns.
type MetricType string

// The metric types Reverb gathers across nodes.
const (
	MetricConnections  MetricType = "CONNECTIONS"
	MetricChannel      MetricType = "CHANNEL"
	MetricChannels     MetricType = "CHANNELS"
	MetricChannelUsers MetricType = "CHANNEL_USERS"
)

// MetricTypeOf maps a backed value ("channel_users") to its case.
func MetricTypeOf(value string) (MetricType, bool) {
	switch value {
	case "connections":
		return MetricConnections, true
	case "channel":
		return MetricChannel, true
	case "channels":
		return MetricChannels, true
	case "channel_users":
		return MetricChannelUsers, true
	}
	return "", false
}

// Value is the enum's backed value ("channel_users" for CHANNEL_USERS).
func (t MetricType) Value() string {
	b := []byte(t)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// PendingMetric is a metrics request (§10.3).
type PendingMetric struct {
	// Key is the 10-character key responses are published under.
	Key string
	// AppID is the application's id; Application is its full config when
	// known (encoding needs it, decoding fills only AppID unless the
	// string was complete).
	AppID       string
	Application *laravelcfg.App
	Type        MetricType
	// Options is the options array (channel, info, filter, channels).
	Options php.Value
}

// AppendPendingMetric appends serialize($pendingMetric) as Reverb's
// requester sends it: subscribers null, data empty, then key, application,
// type and options.
func AppendPendingMetric(b []byte, m PendingMetric) []byte {
	b = appendObjectHeader(b, PendingMetricClass, 6)
	b = appendProtected(b, "subscribers")
	b = AppendNull(b)
	b = appendProtected(b, "data")
	b = append(b, "a:0:{}"...)
	b = appendProtected(b, "key")
	b = AppendString(b, m.Key)
	b = appendProtected(b, "application")
	app := m.Application
	if app == nil {
		app = &laravelcfg.App{ID: m.AppID}
	}
	b = AppendApplication(b, app)
	b = appendProtected(b, "type")
	enum := MetricTypeEnum + ":" + string(m.Type)
	b = append(b, "E:"...)
	b = strconv.AppendInt(b, int64(len(enum)), 10)
	b = append(b, ':', '"')
	b = append(b, enum...)
	b = append(b, '"', ';')
	b = appendProtected(b, "options")
	b = AppendValue(b, arrayOrEmpty(m.Options))
	return append(b, '}')
}

// EncodePendingMetric returns serialize($pendingMetric) as a string.
func EncodePendingMetric(m PendingMetric) string {
	return string(AppendPendingMetric(make([]byte, 0, 800), m))
}
