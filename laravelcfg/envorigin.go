package laravelcfg

import (
	"fmt"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phpeval"
)

// envSource is what the settings reader knows about the variables env()
// read while the config files were evaluated, so an error can name the
// variable behind a wrong value and where it is set.
type envSource struct {
	// vars are the variables read, in the order first read.
	vars []string
	// real reads the real environment; file is the .env file loaded
	// (relative to the project) and line where it set a variable (0: it
	// did not).
	real func(string) (string, bool)
	file string
	line func(string) int
}

// inFile is the line of the .env file that gives the app name's value; 0
// when the real environment or nothing does.
func (e envSource) inFile(name string) int {
	if e.line == nil || e.file == "" {
		return 0
	}
	if _, ok := e.real(name); ok {
		return 0
	}
	return e.line(name)
}

// where says where the app's value of a variable is set: "on line 7 of
// .env", "in the environment".
func (e envSource) where(name string) string {
	if n := e.inFile(name); n > 0 {
		return fmt.Sprintf("on line %d of %s", n, e.file)
	}
	return "in the environment"
}

// envRecorder wraps a lookup and remembers the names asked for.
type envRecorder struct {
	lookup func(string) (string, bool)
	seen   map[string]bool
	names  []string
}

func (r *envRecorder) Lookup(name string) (string, bool) {
	if !r.seen[name] {
		if r.seen == nil {
			r.seen = map[string]bool{}
		}
		r.seen[name] = true
		r.names = append(r.names, name)
	}
	return r.lookup(name)
}

// publishedServerEnv and publishedAppEnv are the variables Reverb's
// published config/reverb.php reads for a server's and an app's settings.
var (
	publishedServerEnv = map[string]string{
		"host":                      "REVERB_SERVER_HOST",
		"port":                      "REVERB_SERVER_PORT",
		"path":                      "REVERB_SERVER_PATH",
		"hostname":                  "REVERB_HOST",
		"max_request_size":          "REVERB_MAX_REQUEST_SIZE",
		"pulse_ingest_interval":     "REVERB_PULSE_INGEST_INTERVAL",
		"telescope_ingest_interval": "REVERB_TELESCOPE_INGEST_INTERVAL",
		"scaling.enabled":           "REVERB_SCALING_ENABLED",
		"scaling.channel":           "REVERB_SCALING_CHANNEL",
		"scaling.server.url":        "REDIS_URL",
		"scaling.server.host":       "REDIS_HOST",
		"scaling.server.port":       "REDIS_PORT",
		"scaling.server.username":   "REDIS_USERNAME",
		"scaling.server.password":   "REDIS_PASSWORD",
		"scaling.server.database":   "REDIS_DB",
		"scaling.server.timeout":    "REDIS_TIMEOUT",
	}
	publishedAppEnv = map[string]string{
		"app_id":                      "REVERB_APP_ID",
		"key":                         "REVERB_APP_KEY",
		"secret":                      "REVERB_APP_SECRET",
		"ping_interval":               "REVERB_APP_PING_INTERVAL",
		"activity_timeout":            "REVERB_APP_ACTIVITY_TIMEOUT",
		"max_connections":             "REVERB_APP_MAX_CONNECTIONS",
		"max_message_size":            "REVERB_APP_MAX_MESSAGE_SIZE",
		"accept_client_events_from":   "REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM",
		"rate_limiting.max_attempts":  "REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS",
		"rate_limiting.decay_seconds": "REVERB_APP_RATE_LIMIT_DECAY_SECONDS",
	}
)

// publishedEnv is the variable Reverb's published config/reverb.php reads
// for a settings key path ("reverb.servers.reverb.port" → REVERB_SERVER_PORT);
// "" when it reads none.
func publishedEnv(key string) string {
	for _, published := range []struct {
		prefix string
		vars   map[string]string
	}{{"reverb.servers.", publishedServerEnv}, {"reverb.apps.apps.", publishedAppEnv}} {
		if rest, ok := strings.CutPrefix(key, published.prefix); ok {
			if _, field, ok := strings.Cut(rest, "."); ok {
				return published.vars[field]
			}
		}
	}
	return ""
}

// originName is the variable a wrong value at key came from: one env()
// read while the config was evaluated whose value, as env() converts it,
// is that value. The one Reverb's published config reads for key wins;
// otherwise a single match names its variable, but only for a non-empty
// value: an empty one matches any empty variable (an empty DB_PASSWORD
// beside an app id read from a variable of the app's own, or from an
// env() default), which proves nothing. "" when no variable can be named.
func (r *settingsReader) originName(key string, v php.Value) string {
	if r.getenv == nil || r.env.real == nil || v.IsUnknown() || v.Kind() == php.Array {
		return ""
	}
	var match []string
	for _, name := range r.env.vars {
		raw, ok := r.getenv(name)
		if !ok {
			continue
		}
		c := phpeval.EnvValue(raw)
		if c.Kind() == v.Kind() && c.ToString() == v.ToString() {
			match = append(match, name)
		}
	}
	want := publishedEnv(key)
	for _, m := range match {
		if m == want {
			return m
		}
	}
	if len(match) == 1 && v.ToString() != "" {
		return match[0]
	}
	return ""
}

// failOn is fail for the value v, naming the variable it came from and
// where that is set ("REVERB_SERVER_PORT on line 7 of .env").
func (r *settingsReader) failOn(key string, v php.Value, format string, args ...any) error {
	err := r.fail(key, format, args...).(*SettingsError)
	if name := r.originName(key, v); name != "" {
		err.From = name + " " + r.env.where(name)
	}
	return err
}
