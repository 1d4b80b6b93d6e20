package laravelcfg

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// SettingsError is an invalid or missing value in config('reverb'), named
// by its key path ("reverb.servers.reverb.port").
type SettingsError struct {
	File string // where the value was configured
	Key  string
	Msg  string
	// NeedsPHP is set when the value is one the safe evaluator could not
	// compute (php.Unknown), rather than a wrong one; Where is then the
	// file:line of the construct.
	NeedsPHP bool
	Where    string
	// Hint says what usually causes it and how to fix it ("" when none).
	Hint string
	// From names the environment variable an env() call gave the value
	// from, and where it is set ("REVERB_SERVER_PORT on line 7 of .env");
	// "" when the value did not come from a variable.
	From string
	// Fix is what to do, a sentence of its own after the message ("" when
	// Hint says it).
	Fix string
}

func (e *SettingsError) Error() string {
	var notes []string
	if e.From != "" {
		notes = append(notes, "from "+e.From)
	}
	if e.Hint != "" {
		notes = append(notes, e.Hint)
	}
	msg := fmt.Sprintf("%s: %s: %s", e.File, e.Key, e.Msg)
	if len(notes) > 0 {
		msg += " (" + strings.Join(notes, "; ") + ")"
	}
	if e.Fix != "" {
		msg += ". " + e.Fix
	}
	return msg
}

// credentialEnv names the variable the published config reads each app
// credential from.
var credentialEnv = map[string]string{"app_id": "REVERB_APP_ID", "key": "REVERB_APP_KEY", "secret": "REVERB_APP_SECRET"}

// explainMissingCredentials adds the usual cause to "missing app_id" (and
// key, secret): the REVERB_APP_* variable the published config reads is not
// set, which is what a project without Reverb's .env lines looks like.
func explainMissingCredentials(err error, getenv func(string) (string, bool)) error {
	se, ok := err.(*SettingsError)
	if !ok || se.Hint != "" {
		return err
	}
	field, ok := strings.CutPrefix(se.Msg, "missing ")
	if !ok {
		return err
	}
	name, ok := credentialEnv[field]
	if !ok {
		return err
	}
	if _, set := getenv(name); set {
		return err
	}
	se.Hint = name + " is not set in .env or the environment: ./reverb install adds REVERB_APP_ID, REVERB_APP_KEY and REVERB_APP_SECRET"
	return se
}

// explainNeedsPHP adds what to do about a value only PHP can compute: write
// it so the evaluator can read it, or let PHP compute the whole
// configuration with config:cache, whose file reverb reads. cached says the
// configuration already came from that file.
func explainNeedsPHP(err error, cached bool) error {
	se, ok := err.(*SettingsError)
	if !ok || !se.NeedsPHP || se.Fix != "" || cached {
		return err
	}
	file, _, _ := strings.Cut(se.Where, ":")
	if file == "" {
		file = se.File
	}
	se.Fix = "Write that value in " + file + " with env() or as a literal, as Reverb's published file does, " +
		"or run php artisan config:cache: reverb then reads bootstrap/cache/config.php, where PHP has computed every value " +
		"(run it again after each change to .env or config/)"
	return se
}

// settingsReader reads typed values out of the config tree with PHP's
// non-strict coercion, collecting the first error.
//
// It deliberately does not share cachestore's config readers: Reverb hands
// these values to typed parameters (int $port, string $key...), where a
// non-numeric "abc" is a TypeError, so here it is an error; CacheManager and
// the Redis/database connectors apply plain (int)/(string) casts, where
// "abc" is 0, so cachestore casts.
type settingsReader struct {
	file  string
	warns []string
	// getenv reads the environment as the app sees it (real, then .env);
	// nil reads nothing.
	getenv func(name string) (string, bool)
	// appURL is config('app.url') and eventsPath the companion package's
	// events route: the listeners' default url.
	appURL, eventsPath string
	// env is what env() read while the config was evaluated, to name the
	// variable behind a wrong value.
	env envSource
	// given are the server options the command line gave: not read here.
	given GivenOptions
}

func (r *settingsReader) fail(key, format string, args ...any) error {
	return &SettingsError{File: r.file, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// known refuses an Unknown value, naming the construct behind it.
func (r *settingsReader) known(key string, v php.Value) error {
	if v.IsUnknown() {
		err := r.fail(key, "cannot be computed without PHP (%s: %s)", v.Where, v.UnknownReason()).(*SettingsError)
		err.NeedsPHP, err.Where = true, v.Where
		return err
	}
	return nil
}

// get returns the value at key below arr (missing is null).
func get(arr php.Value, k string) php.Value {
	if arr.Kind() != php.Array {
		return php.Value{}
	}
	v, _ := arr.ArrayVal().GetString(k)
	return v
}

// describe renders a value for error messages the way var_export would.
func describe(v php.Value) string {
	switch v.Kind() {
	case php.String:
		return strconv.Quote(v.StringVal())
	case php.Null:
		return "null"
	case php.Array:
		return "an array"
	case php.Bool:
		if v.BoolVal() {
			return "true"
		}
		return "false"
	}
	return v.ToString()
}

// intVal is a non-strict PHP int parameter; def applies to null when
// hasDef (the `?? default` reads).
func (r *settingsReader) intVal(key string, v php.Value, def int, hasDef bool) (int, error) {
	if err := r.known(key, v); err != nil {
		return 0, err
	}
	if v.IsNull() {
		if hasDef {
			return def, nil
		}
		return 0, r.fail(key, "missing (an integer is required)")
	}
	n, ok := v.CoerceInt()
	if !ok {
		if v.Kind() == php.String {
			return 0, r.failOn(key, v, "%s is not numeric", describe(v))
		}
		return 0, r.failOn(key, v, "%s is not an integer", describe(v))
	}
	if n > 1<<31-1 || n < -(1<<31) {
		return 0, r.failOn(key, v, "%d is out of range", n)
	}
	return int(n), nil
}

// strVal is a PHP string parameter (null → def when allowed).
func (r *settingsReader) strVal(key string, v php.Value, def string, nullable bool) (string, error) {
	if err := r.known(key, v); err != nil {
		return "", err
	}
	if v.IsNull() {
		if nullable {
			return def, nil
		}
		return "", r.fail(key, "missing")
	}
	s, ok := v.CoerceString()
	if !ok {
		return "", r.failOn(key, v, "%s is not a string", describe(v))
	}
	return s, nil
}

func (r *settingsReader) boolVal(key string, v php.Value) (bool, error) {
	if err := r.known(key, v); err != nil {
		return false, err
	}
	return v.ToBool(), nil
}

// buildSettings reads config('reverb') into Settings as reverb:start and
// ConfigApplicationProvider do.
func buildSettings(cfg php.Value, file string, getenv func(string) (string, bool), appURL, eventsPath string, env envSource, given GivenOptions) (Settings, []string, error) {
	r := &settingsReader{file: file, getenv: getenv, appURL: appURL, eventsPath: eventsPath, env: env, given: given}
	var s Settings
	var err error
	if s.Server, err = r.defaultServer(cfg); err != nil {
		return s, nil, err
	}
	if s.Apps, s.AppsFromPHP, err = r.apps(get(get(cfg, "reverb"), "apps")); err != nil {
		return s, nil, err
	}
	return s, r.warns, nil
}

// defaultServer reads reverb.servers.{reverb.default}.
func (r *settingsReader) defaultServer(cfg php.Value) (ServerSettings, error) {
	reverb := get(cfg, "reverb")
	if err := r.known("reverb", reverb); err != nil {
		return ServerSettings{}, err
	}
	if reverb.Kind() != php.Array {
		return ServerSettings{}, r.fail("reverb", "missing: config('reverb') is %s", describe(reverb))
	}
	name, err := r.strVal("reverb.default", get(reverb, "default"), "reverb", true)
	if err != nil {
		return ServerSettings{}, err
	}
	if name == "" {
		name = "reverb"
	}
	serverKey := "reverb.servers." + name
	server := get(get(reverb, "servers"), name)
	if err := r.known(serverKey, server); err != nil {
		return ServerSettings{}, err
	}
	if server.Kind() != php.Array {
		return ServerSettings{}, r.fail(serverKey, "missing: reverb.default names server %q but reverb.servers has no such entry", name)
	}
	return r.server(serverKey, server, cfg)
}

// ReadServer reads only the default server's settings (where it listens,
// TLS, scaling) from a project loaded with SkipReverbSettings, so a
// project whose apps cannot be read still says where its server listens.
func (p *Project) ReadServer() (ServerSettings, error) {
	if p.reverbFile == "" {
		return ServerSettings{}, errors.New("the Reverb configuration was not read")
	}
	r := &settingsReader{file: p.reverbFile, getenv: p.Getenv, appURL: p.appURL(), eventsPath: p.eventsPath(), env: p.envSrc}
	return r.defaultServer(p.Config)
}

func (r *settingsReader) server(key string, v php.Value, cfg php.Value) (ServerSettings, error) {
	var s ServerSettings
	var err error
	if !r.given.Host {
		if s.Host, err = r.strVal(key+".host", get(v, "host"), "0.0.0.0", true); err != nil {
			return s, err
		}
		if s.Host == "" {
			s.Host = "0.0.0.0"
			r.warns = append(r.warns, key+".host is empty: listening on 0.0.0.0")
		}
	}
	if !r.given.Port {
		if s.Port, err = r.intVal(key+".port", get(v, "port"), 8080, false); err != nil {
			return s, err
		}
		if s.Port < 0 || s.Port > 65535 {
			return s, r.failOn(key+".port", get(v, "port"), "%d is not a TCP port", s.Port)
		}
	}
	// The path is read even when --path is given: Reverb's HTTP API takes
	// its prefix from the config.
	if s.Path, err = r.strVal(key+".path", get(v, "path"), "", true); err != nil {
		return s, err
	}
	if !r.given.Hostname {
		if s.Hostname, err = r.strVal(key+".hostname", get(v, "hostname"), "", true); err != nil {
			return s, err
		}
	}
	if s.MaxRequestSize, err = r.intVal(key+".max_request_size", get(v, "max_request_size"), 10_000, true); err != nil {
		return s, err
	}
	if s.PulseIngestInterval, err = r.intVal(key+".pulse_ingest_interval", get(v, "pulse_ingest_interval"), 15, true); err != nil {
		return s, err
	}
	if s.TelescopeIngestInterval, err = r.intVal(key+".telescope_ingest_interval", get(v, "telescope_ingest_interval"), 15, true); err != nil {
		return s, err
	}
	options := get(v, "options")
	if err := r.known(key+".options", options); err != nil {
		return s, err
	}
	if s.TLS, err = r.tls(key+".options.tls", get(options, "tls")); err != nil {
		return s, err
	}
	if s.TCP, s.IgnoredOptions, err = r.tcp(key+".options", options); err != nil {
		return s, err
	}
	if s.Scaling, err = r.scaling(key+".scaling", get(v, "scaling"), cfg); err != nil {
		return s, err
	}
	return s, nil
}

func (r *settingsReader) tls(key string, v php.Value) (TLSOptions, error) {
	var t TLSOptions
	if err := r.known(key, v); err != nil {
		return t, err
	}
	if v.IsNull() {
		t.Raw = php.ArrayValue(nil)
		return t, nil
	}
	if v.Kind() != php.Array {
		return t, r.fail(key, "%s is not an array of SSL context options", describe(v))
	}
	// Null entries are removed, as Reverb does with array_filter.
	raw := php.NewArray()
	src := v.ArrayVal()
	for i, k := range src.Keys {
		val := src.Values[i]
		if val.IsNull() {
			continue
		}
		if err := r.known(key+"."+k.String(), val); err != nil {
			return t, err
		}
		raw.Set(k, val)
	}
	t.Raw = php.ArrayValue(raw)
	strs := map[string]*string{"local_cert": &t.LocalCert, "local_pk": &t.LocalPK, "passphrase": &t.Passphrase, "cafile": &t.CAFile, "capath": &t.CAPath}
	for name, dst := range strs {
		val, ok := raw.GetString(name)
		if !ok {
			continue
		}
		s, ok := val.CoerceString()
		if !ok {
			return t, r.fail(key+"."+name, "%s is not a string", describe(val))
		}
		// A falsy path ("" or "0") does not enable TLS in Reverb.
		if name == "local_cert" || name == "local_pk" {
			if !val.ToBool() {
				s = ""
			}
		}
		*dst = s
	}
	for name, dst := range map[string]**bool{"verify_peer": &t.VerifyPeer, "verify_peer_name": &t.VerifyPeerName} {
		if val, ok := raw.GetString(name); ok {
			b := val.ToBool()
			*dst = &b
		}
	}
	if val, ok := raw.GetString("allow_self_signed"); ok {
		t.AllowSelfSigned = val.ToBool()
	}
	return t, nil
}

func (r *settingsReader) scaling(key string, v php.Value, cfg php.Value) (Scaling, error) {
	var s Scaling
	var err error
	if err := r.known(key, v); err != nil {
		return s, err
	}
	if s.Enabled, err = r.boolVal(key+".enabled", get(v, "enabled")); err != nil {
		return s, err
	}
	if s.Channel, err = r.strVal(key+".channel", get(v, "channel"), "reverb", true); err != nil {
		return s, err
	}
	if s.Channel == "" {
		s.Channel = "reverb"
	}
	if s.Routing, s.RoutingFrom, err = r.routing(key+".routing", get(v, "routing"), s.Enabled); err != nil {
		return s, err
	}
	if s.Connection, err = r.strVal(key+".connection", get(v, "connection"), "", true); err != nil {
		return s, err
	}
	s.ConnectionFrom = key + ".connection"
	if s.Connection == "" && r.getenv != nil {
		s.Connection, _ = r.getenv(ScalingConnectionEnv)
		s.ConnectionFrom = ScalingConnectionEnv
	}
	if s.Connection != "" {
		return s, nil // scaling.server is not used
	}
	s.ConnectionFrom = ""
	s.Server, err = r.scalingServer(key, v, cfg, s.Enabled)
	return s, err
}

// routing is scaling.routing, else REVERB_SCALING_ROUTING: "classic" or
// "interest" (any case, spaces around ignored); classic when unset. A
// wrong value is an error when scaling is on, else a warning.
func (r *settingsReader) routing(key string, v php.Value, needed bool) (string, string, error) {
	val, err := r.strVal(key, v, "", true)
	if err != nil {
		return "", "", err
	}
	from := key
	if strings.TrimSpace(val) == "" && r.getenv != nil {
		val, _ = r.getenv(ScalingRoutingEnv)
		from = ScalingRoutingEnv
	}
	switch strings.ToLower(strings.TrimSpace(val)) {
	case "":
		return RoutingClassic, "", nil
	case RoutingClassic:
		return RoutingClassic, from, nil
	case RoutingInterest:
		return RoutingInterest, from, nil
	}
	msg := fmt.Sprintf("unknown routing %q: %q (every node receives every message, as Reverb; PHP Reverb nodes can join) or %q (each node receives only the messages of channels it has subscribers on; nodes of this server only)", val, RoutingClassic, RoutingInterest)
	if from == ScalingRoutingEnv {
		msg = ScalingRoutingEnv + ": " + msg
	}
	if !needed {
		r.warns = append(r.warns, "scaling is disabled; ignoring "+key+": "+msg)
		return RoutingClassic, "", nil
	}
	return "", "", r.fail(key, "%s", msg)
}

// scalingServer is Reverb's scaling.server, or database.redis.default when
// that is empty. Errors count only when needed (scaling on).
func (r *settingsReader) scalingServer(key string, v php.Value, cfg php.Value, needed bool) (RedisServer, error) {
	var s RedisServer
	srvKey := key + ".server"
	srv := get(v, "server")
	if err := r.known(srvKey, srv); err != nil {
		if !needed {
			return s, nil
		}
		return s, err
	}
	if srv.Kind() != php.Array || srv.ArrayVal().Len() == 0 {
		// Reverb falls back to the app's default Redis connection.
		srvKey = "database.redis.default"
		srv = get(get(get(cfg, "database"), "redis"), "default")
		if srv.IsUnknown() && !needed {
			return s, nil
		}
	}
	s, err := r.redisServer(srvKey, srv)
	if err != nil && !needed {
		r.warns = append(r.warns, "scaling is disabled; ignoring: "+err.Error())
		return s, nil
	}
	return s, err
}

func (r *settingsReader) redisServer(key string, v php.Value) (RedisServer, error) {
	var s RedisServer
	var err error
	if err := r.known(key, v); err != nil {
		return s, err
	}
	strs := []struct {
		name string
		dst  *string
		def  string
	}{
		{"url", &s.URL, ""}, {"scheme", &s.Scheme, ""}, {"host", &s.Host, "127.0.0.1"}, {"port", &s.Port, "6379"},
		{"username", &s.Username, ""}, {"password", &s.Password, ""},
	}
	for _, f := range strs {
		if *f.dst, err = r.strVal(key+"."+f.name, get(v, f.name), f.def, true); err != nil {
			return s, err
		}
	}
	if s.Port != "" {
		if _, ok := php.StringValue(s.Port).CoerceInt(); !ok {
			return s, r.failOn(key+".port", get(v, "port"), "%q is not numeric", s.Port)
		}
	}
	low := strings.ToLower(s.URL)
	if s.Scheme == "" && (strings.HasPrefix(low, "rediss://") || strings.HasPrefix(low, "tls://")) {
		s.Scheme = "tls"
	}
	if s.Database, err = r.intVal(key+".database", get(v, "database"), 0, true); err != nil {
		return s, err
	}
	if s.Timeout, err = r.intVal(key+".timeout", get(v, "timeout"), 60, true); err != nil {
		return s, err
	}
	return s, nil
}

// env1 is a variable's trimmed value ("" when unset or without getenv).
func (r *settingsReader) env1(name string) string {
	if r.getenv == nil {
		return ""
	}
	v, _ := r.getenv(name)
	return strings.TrimSpace(v)
}

// BoundProviderEnv names the provider class the app binds to Reverb's
// ApplicationProvider contract in place of the config provider. The
// companion's `php artisan reverb:start` sets it, having asked the app's
// container; the apps come from PHP then, although reverb.apps.provider
// says "config".
const BoundProviderEnv = "REVERB_GO_APPS_PROVIDER"

// apps reads reverb.apps. When the apps can only come from PHP (a custom
// provider, or a list with values the evaluator could not compute) it
// returns no apps and the reason instead.
func (r *settingsReader) apps(v php.Value) ([]App, string, error) {
	key := "reverb.apps"
	if err := r.known(key, v); err != nil {
		return nil, err.Error(), nil
	}
	provider, err := r.strVal(key+".provider", get(v, "provider"), "config", true)
	if err != nil {
		if se, ok := err.(*SettingsError); ok && se.NeedsPHP {
			return nil, err.Error(), nil
		}
		return nil, "", err
	}
	if provider != "config" && provider != "" {
		return nil, fmt.Sprintf("%s: %s.provider is %q, a provider only PHP can run", r.file, key, provider), nil
	}
	if bound := r.env1(BoundProviderEnv); bound != "" {
		return nil, fmt.Sprintf("the app binds %s to Laravel\\Reverb\\Contracts\\ApplicationProvider (%s), a provider only PHP can run", bound, BoundProviderEnv), nil
	}
	list := get(v, "apps")
	apps, err := r.appList(key+".apps", list)
	if se, ok := err.(*SettingsError); ok && se.NeedsPHP {
		return nil, err.Error(), nil
	}
	if err != nil {
		return nil, "", err
	}
	// Clients connect with the key and the HTTP API names the app_id, so
	// an app without one cannot be served (reverb start refuses it).
	// Apps from PHP are not checked here: a refresh skips such an app.
	arr := list.ArrayVal()
	for i, a := range apps {
		akey := key + ".apps." + arr.Keys[i].String()
		for _, f := range []struct{ name, val string }{{"app_id", a.ID}, {"key", a.Key}} {
			if f.val == "" {
				return nil, "", r.emptyCredential(akey+"."+f.name, get(arr.Values[i], f.name))
			}
		}
	}
	return apps, "", nil
}

// emptyCredential is the error for an app_id or key that is "": it names
// the variable it came from and how to fill it.
func (r *settingsReader) emptyCredential(key string, v php.Value) error {
	err := r.failOn(key, v, "empty").(*SettingsError)
	name := r.originName(key, v)
	switch {
	case name == "":
		err.Hint = "give the app a non-empty app_id and key in " + r.file
	case strings.HasPrefix(name, "REVERB_APP_") && r.env.inFile(name) > 0:
		err.Hint = fmt.Sprintf("set %s, or delete that line and run ./reverb install to generate it", name)
	default:
		err.Hint = fmt.Sprintf("set %s to a non-empty value", name)
	}
	return err
}

// appList reads a list of app arrays at key with the config provider's
// rules; app ids and keys must be unique.
func (r *settingsReader) appList(key string, list php.Value) ([]App, error) {
	if err := r.known(key, list); err != nil {
		return nil, err
	}
	if list.Kind() != php.Array {
		return nil, r.fail(key, "%s is not a list of apps", describe(list))
	}
	var apps []App
	ids := map[string]string{}
	keys := map[string]string{}
	arr := list.ArrayVal()
	for i, k := range arr.Keys {
		akey := key + "." + k.String()
		a, err := r.app(akey, arr.Values[i])
		if err != nil {
			return nil, err
		}
		if prev, dup := ids[a.ID]; dup {
			return nil, r.fail(akey+".app_id", "%q is also the app_id of %s", a.ID, prev)
		}
		if prev, dup := keys[a.Key]; dup {
			return nil, r.fail(akey+".key", "%q is also the key of %s", a.Key, prev)
		}
		ids[a.ID], keys[a.Key] = akey, akey
		apps = append(apps, a)
	}
	if len(apps) == 0 {
		r.warns = append(r.warns, key+" is empty: every connection will be refused")
	}
	return apps, nil
}

// ParseApps reads a list of app arrays (the shape of reverb.apps.apps) with
// exactly the config provider's defaults, coercions and checks. Errors are
// *SettingsError naming source and the key path below key ("apps.0.secret").
// It serves apps that come from elsewhere than config/reverb.php, such as the
// JSON of `php artisan reverb:apps --json`.
func ParseApps(list php.Value, source, key string) ([]App, []string, error) {
	r := &settingsReader{file: source}
	apps, err := r.appList(key, list)
	if err != nil {
		return nil, nil, err
	}
	return apps, r.warns, nil
}

// app builds one Laravel\Reverb\Application the way
// ConfigApplicationProvider::findBy does.
func (r *settingsReader) app(key string, v php.Value) (App, error) {
	var a App
	var err error
	if err := r.known(key, v); err != nil {
		return a, err
	}
	if v.Kind() != php.Array {
		return a, r.fail(key, "%s is not an app array", describe(v))
	}
	for _, req := range []struct {
		name string
		dst  *string
	}{{"app_id", &a.ID}, {"key", &a.Key}, {"secret", &a.Secret}} {
		f := get(v, req.name)
		if err := r.known(key+"."+req.name, f); err != nil {
			return a, err
		}
		if f.IsNull() {
			return a, r.fail(key, "missing %s", req.name)
		}
		if *req.dst, err = r.strVal(key+"."+req.name, f, "", false); err != nil {
			return a, err
		}
	}
	if a.PingInterval, err = r.intVal(key+".ping_interval", get(v, "ping_interval"), 0, false); err != nil {
		return a, err
	}
	if a.ActivityTimeout, err = r.intVal(key+".activity_timeout", get(v, "activity_timeout"), 30, true); err != nil {
		return a, err
	}
	if a.MaxMessageSize, err = r.intVal(key+".max_message_size", get(v, "max_message_size"), 0, false); err != nil {
		return a, err
	}
	mc := get(v, "max_connections")
	a.MaxConnectionsRaw = mc
	if !mc.IsNull() {
		n, err := r.intVal(key+".max_connections", mc, 0, false)
		if err != nil {
			return a, err
		}
		a.MaxConnections = &n
	}
	origins := get(v, "allowed_origins")
	if err := r.known(key+".allowed_origins", origins); err != nil {
		return a, err
	}
	if origins.IsNull() {
		return a, r.fail(key, "missing allowed_origins")
	}
	if origins.Kind() != php.Array {
		return a, r.fail(key+".allowed_origins", "%s is not an array", describe(origins))
	}
	a.AllowedOriginsRaw = origins
	for i, o := range origins.ArrayVal().Values {
		if err := r.known(fmt.Sprintf("%s.allowed_origins.%s", key, origins.ArrayVal().Keys[i]), o); err != nil {
			return a, err
		}
		a.AllowedOrigins = append(a.AllowedOrigins, o.ToString())
	}
	if a.AcceptClientEventsFrom, err = r.strVal(key+".accept_client_events_from", get(v, "accept_client_events_from"), "all", true); err != nil {
		return a, err
	}
	rl := get(v, "rate_limiting")
	if err := r.known(key+".rate_limiting", rl); err != nil {
		return a, err
	}
	a.RateLimitingRaw = rl
	if rl.Kind() == php.Array {
		lim := &RateLimiting{}
		en := get(rl, "enabled")
		lim.Enabled = en.Kind() == php.Bool && en.BoolVal()
		if lim.MaxAttempts, err = r.intVal(key+".rate_limiting.max_attempts", get(rl, "max_attempts"), 60, true); err != nil {
			return a, err
		}
		if lim.DecaySeconds, err = r.intVal(key+".rate_limiting.decay_seconds", get(rl, "decay_seconds"), 60, true); err != nil {
			return a, err
		}
		if lim.TerminateOnLimit, err = r.boolVal(key+".rate_limiting.terminate_on_limit", get(rl, "terminate_on_limit")); err != nil {
			return a, err
		}
		a.RateLimiting = lim
	} else if !rl.IsNull() {
		return a, r.fail(key+".rate_limiting", "%s is not an array", describe(rl))
	}
	opts := get(v, "options")
	if err := r.known(key+".options", opts); err != nil {
		return a, err
	}
	if opts.IsNull() {
		opts = php.ArrayValue(nil)
	}
	if opts.Kind() != php.Array {
		return a, r.fail(key+".options", "%s is not an array", describe(opts))
	}
	a.OptionsRaw = opts
	if a.Webhooks, err = r.webhooks(key+".webhooks", get(v, "webhooks")); err != nil {
		return a, err
	}
	if a.Listeners, err = r.listeners(key+".listeners", get(v, "listeners")); err != nil {
		return a, err
	}
	if err := r.userFeatures(key, v, &a); err != nil {
		return a, err
	}
	return a, nil
}

// tcp reads options.tcp and lists the options keys without effect: the
// other socket context keys (bindto and so_broadcast are for clients and
// UDP, tcp_nodelay is always on here) and top-level keys besides tls and
// tcp. A value the evaluator cannot compute is left at the system default
// (Load warns about it) rather than refusing to start over a tuning knob.
func (r *settingsReader) tcp(key string, options php.Value) (TCPOptions, []string, error) {
	var t TCPOptions
	var ignored []string
	if options.Kind() != php.Array {
		return t, nil, nil
	}
	opts := options.ArrayVal()
	for i, k := range opts.Keys {
		v := opts.Values[i]
		switch name := k.String(); {
		case name == "tls" || v.IsNull():
		case name == "tcp":
			var err error
			var more []string
			if t, more, err = r.tcpContext(key+".tcp", v); err != nil {
				return t, nil, err
			}
			ignored = append(ignored, more...)
		default:
			ignored = append(ignored, name)
		}
	}
	return t, ignored, nil
}

// tcpContext reads the options.tcp array.
func (r *settingsReader) tcpContext(tcpKey string, v php.Value) (TCPOptions, []string, error) {
	var t TCPOptions
	var ignored []string
	if v.IsUnknown() {
		return t, nil, nil
	}
	if v.Kind() != php.Array {
		return t, nil, r.fail(tcpKey, "%s is not an array of socket context options", describe(v))
	}
	arr := v.ArrayVal()
	for i, k := range arr.Keys {
		val := arr.Values[i]
		name := k.String()
		if val.IsNull() || val.IsUnknown() {
			continue
		}
		switch name {
		case "backlog":
			n, err := r.intVal(tcpKey+".backlog", val, 0, true)
			if err != nil {
				return t, nil, err
			}
			if n < 0 {
				return t, nil, r.fail(tcpKey+".backlog", "%d is negative", n)
			}
			t.Backlog = n
		case "so_reuseport":
			t.ReusePort = val.ToBool()
		case "ipv6_v6only":
			b := val.ToBool()
			t.IPv6Only = &b
		default:
			ignored = append(ignored, "tcp."+name)
		}
	}
	return t, ignored, nil
}
