// Package doctor builds `reverb doctor`'s report: where the server listens
// and where clients are told to connect, the machine's limits and the
// connections they allow, findings (problems, warnings, notes) and
// ready-to-paste configuration snippets.
package doctor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/cachestore"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
	"github.com/reverb-go/reverb/server/tlsconf"
	"github.com/reverb-go/reverb/sysctl"
)

// Levels of a finding. Problems and warnings make doctor exit with 1.
const (
	Problem = "problem"
	Warning = "warning"
	Info    = "info"
)

// Finding is one observation.
type Finding struct {
	Level   string `json:"level"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Input is everything Build looks at; every source is injectable.
type Input struct {
	Dir string // absolute project root
	// ServiceDir is where the snippets start the server: the current
	// link of a release-folder deploy (laravelcfg.CurrentLink); empty
	// means Dir.
	ServiceDir string
	// RootErr says the folder is not a Laravel project (no artisan);
	// EnvMissing that it has no .env. Either is reported first.
	RootErr    error
	EnvMissing error
	Project    *laravelcfg.Project // nil when LoadErr or RootErr is set
	LoadErr    error
	// Server is, when LoadErr is set, the server settings that could
	// still be read (Project.ReadServer): where it listens is then known
	// and the snippets use it. Nil: nothing is known and the snippets are
	// withheld rather than filled in with defaults.
	Server *laravelcfg.ServerSettings
	// Limits are the readings of the machine, for the operating system
	// they name (Limits.OS).
	Limits     sysctl.Limits
	Workers    int // reverb start's --workers
	MaxWorkers int // and --max-workers (0: none)
	// DrainWindow is `reverb start --drain-window`'s default.
	DrainWindow time.Duration
	User        string // runs the server in the snippets
	Home        string // for the Herd/Valet certificate lookup
	// CheckFlag opens the restart flag's cache store and checks it can
	// really be read and written (cachestore.Probe); it returns where the
	// flag lives. An error means php artisan reverb:restart cannot reach
	// this server.
	CheckFlag func(*laravelcfg.Project) (location string, err error)
	// Now is the clock for certificate expiry; zero means time.Now().
	Now time.Time
	// Getenv overrides Project.Getenv (tests build projects by hand and
	// cannot set their environment); nil means Project.Getenv.
	Getenv func(name string) (string, bool)
	// LookupHost resolves the host Laravel's broadcaster sends events to;
	// nil means net.DefaultResolver.LookupHost.
	LookupHost func(ctx context.Context, host string) ([]string, error)
}

// Unknown is Endpoint.From for an endpoint the configuration could not
// give (its other fields are defaults, not the project's).
const Unknown = "unknown"

// Endpoint is an address with its scheme.
type Endpoint struct {
	Scheme string `json:"scheme"`
	Host   string `json:"host"`
	Port   int    `json:"port"`
	Path   string `json:"path"`
	// From says where the values were read.
	From string `json:"from"`
}

// URL prints the endpoint as ws(s)://host:port/path.
func (e Endpoint) URL() string {
	s := "ws"
	if e.Scheme == "https" {
		s = "wss"
	}
	h := strings.Trim(e.Host, "[]")
	switch {
	case h == "":
		h = "(unset)"
	case strings.Contains(h, ":") && net.ParseIP(h) != nil:
		h = "[" + h + "]" // an IPv6 address
	}
	// As Echo joins them: a host that is not one shows the URL it gets.
	return fmt.Sprintf("%s://%s:%d%s", s, h, e.Port, e.Path)
}

// Report is the whole diagnosis.
type Report struct {
	Dir       string           `json:"dir"`
	AppEnv    string           `json:"app_env"`
	Listen    Endpoint         `json:"listen"`
	TLSSource string           `json:"tls_source"`
	Clients   Endpoint         `json:"clients"`
	Limits    sysctl.Limits    `json:"limits"`
	Capacity  sysctl.Capacity  `json:"capacity"`
	Findings  []Finding        `json:"findings"`
	Snippets  []sysctl.Snippet `json:"snippets"`
	// SnippetsWithheld says why there are no snippets ("" when there are).
	SnippetsWithheld string `json:"snippets_withheld,omitempty"`
	// NotApplicable names the usual snippets that do not fit this
	// operating system, and why.
	NotApplicable []string `json:"not_applicable,omitempty"`
	// OK is false when a problem or warning was found (exit status 1).
	OK bool `json:"ok"`
}

// Build runs every check.
func Build(in Input) Report {
	r := Report{Dir: in.Dir, Limits: in.Limits, Findings: []Finding{}}
	add := func(level, code, format string, args ...any) {
		r.Findings = append(r.Findings, Finding{level, code, fmt.Sprintf(format, args...)})
	}
	p := in.Project
	// What is wrong with the folder itself comes first: everything else
	// follows from it.
	if in.RootErr != nil {
		add(Problem, "project", "%v", in.RootErr)
	}
	if in.EnvMissing != nil {
		add(Warning, "env", "%v", in.EnvMissing)
	}
	loaded := in.RootErr == nil && in.LoadErr == nil && p != nil
	// serverKnown: where the server listens was read from the project,
	// not assumed (the snippets are filled in only then).
	serverKnown := loaded
	if !loaded {
		if in.RootErr == nil {
			err := in.LoadErr
			if err == nil {
				err = fmt.Errorf("no project")
			}
			add(Problem, "project", "cannot read the Laravel project: %v", err)
		}
		p = &laravelcfg.Project{Reverb: laravelcfg.Settings{Server: laravelcfg.ServerSettings{Host: "0.0.0.0", Port: 8080}}}
		if in.RootErr == nil && in.Server != nil {
			p.Reverb.Server = *in.Server
			serverKnown = true
		}
	}
	getenv := in.Getenv
	if getenv == nil {
		getenv = p.Getenv
	}
	srv := p.Reverb.Server
	appEnv, _ := getenv("APP_ENV")
	if loaded {
		appEnv = p.AppEnvWith(getenv) // config('app.env'): the cached config's when there is one
	}
	r.AppEnv = appEnv
	production := r.AppEnv == "production"

	// Where the server listens, and with TLS or not.
	r.Listen = Endpoint{Scheme: "http", Host: srv.Host, Port: srv.Port, Path: laravelcfg.NormalizePath(srv.Path),
		From: "reverb.servers.reverb (REVERB_SERVER_HOST, REVERB_SERVER_PORT, REVERB_SERVER_PATH)"}
	tlsRes, tlsErr := tlsconf.Load(tlsconf.Request{TLS: srv.TLS, Hostname: srv.Hostname, AppEnv: r.AppEnv, Home: in.Home, BaseDir: in.Dir})
	serverTLS := srv.TLS.Enabled()
	switch {
	case tlsErr != nil:
		add(Problem, "tls", "%v: `reverb start` will refuse to start", tlsErr)
	case tlsRes.Source == tlsconf.SourceHerd || tlsRes.Source == tlsconf.SourceValet:
		serverTLS = true
		add(Info, "tls", "hostname %q has a %s certificate (%s): the server listens with TLS (wss://)", srv.Hostname, tlsRes.Source, tlsRes.CertFile)
	}
	if tlsRes != nil && len(tlsRes.Ignored) > 0 {
		add(Info, "tls", "options.tls keys without effect here: %s", strings.Join(tlsRes.Ignored, ", "))
	}
	if len(srv.IgnoredOptions) > 0 {
		add(Info, "options", "servers.reverb.options keys without effect here: %s", strings.Join(srv.IgnoredOptions, ", "))
	}
	if serverTLS {
		r.Listen.Scheme = "https"
		r.TLSSource = string(tlsconf.SourceConfig)
		if tlsRes != nil && tlsRes.Source != tlsconf.SourceNone {
			r.TLSSource = string(tlsRes.Source)
		}
	}

	// Where clients are told to connect.
	r.Clients = clientEndpoint(p, getenv)
	r.Clients.Path = r.Listen.Path
	if !serverKnown {
		r.Listen.From = Unknown
	}
	if !loaded && in.Getenv == nil {
		r.Clients.From = Unknown
	}
	if loaded { // without the project, these would only echo its absence
		checkEndpoints(r.Listen, r.Clients, production, add)
	}
	if tlsErr == nil && tlsRes.Config != nil {
		checkCertificate(tlsRes, in.Now, r.Clients.Host, add)
	}

	// Apps.
	if loaded && len(p.Reverb.Apps) == 0 && p.Reverb.AppsFromPHP == "" { // apps from PHP are asked at start
		add(Problem, "apps", "no app is configured (reverb.apps.apps): every connection would be refused with 4001")
	}
	for _, a := range p.Reverb.Apps {
		if production && slices.Contains(a.AllowedOrigins, "*") {
			add(Warning, "origins", "app %s allows every origin (allowed_origins ['*']) with APP_ENV=production: list your sites' hostnames in config/reverb.php", a.ID)
		}
	}

	if loaded {
		lookup := in.LookupHost
		if lookup == nil {
			lookup = net.DefaultResolver.LookupHost
		}
		checkBroadcaster(in.Dir, p, getenv, lookup, add)
	}

	// Restart flag: really read where it lives.
	if loaded && in.CheckFlag != nil {
		where, err := in.CheckFlag(p)
		switch {
		case errors.Is(err, cachestore.ErrNotShared):
			add(Warning, "restart-flag", "%v (until then, %s)", err, restartFallback(in.Limits.OS))
		case err != nil:
			add(Problem, "restart-flag", "php artisan reverb:restart cannot reach this server: %v", err)
		case where != "":
			add(Info, "restart-flag", "the restart flag is read from %s", where)
		}
	}
	if sc := p.Reverb.Server.Scaling; sc.Enabled {
		if d, err := redisconn.ForScaling(p); err != nil {
			add(Problem, "scaling", "Redis scaling is on but its Redis connection is unusable: %v", err)
		} else {
			add(Info, "scaling", "Redis scaling is on (channel %q) over %s: start the same server on every node behind the load balancer", sc.Channel, d.Describe(false))
			if sc.Routing == laravelcfg.RoutingInterest {
				add(Info, "scaling", "interest routing (%s): each node receives only the channels it has subscribers on; every node must run this server with the same routing (PHP Reverb nodes cannot join)", sc.RoutingFrom)
			}
			for _, w := range d.Warnings {
				add(Warning, "scaling", "%s", w)
			}
		}
	}

	// Machine limits and capacity.
	l := in.Limits
	r.Capacity = sysctl.Compute(l, in.Workers, in.MaxWorkers, serverTLS)
	checkLimits(l, r.Capacity, p.Reverb.Apps, production, add)
	r.NotApplicable = sysctl.NotApplicable(l.OS)

	// Snippets, only with this app's values: defaults would be pasted as
	// if they were the app's.
	if serverKnown {
		idle := 0
		for _, a := range p.Reverb.Apps {
			idle = max(idle, a.PingInterval, a.ActivityTimeout)
		}
		workers := in.Workers
		dir := cmp.Or(in.ServiceDir, in.Dir)
		r.Snippets = sysctl.Snippets(sysctl.Target{
			Dir: dir, Binary: filepath.Join(dir, "reverb"), User: in.User,
			Host: srv.Host, Port: srv.Port, Path: r.Listen.Path,
			PublicHost: r.Clients.Host, PublicPort: r.Clients.Port, PublicScheme: r.Clients.Scheme,
			Workers: workers, DrainWindow: in.DrainWindow,
			NoFile:      sysctl.RecommendNoFile(l, workers, serverTLS),
			IdleSeconds: idle, Limits: l,
		})
	} else {
		r.Snippets = []sysctl.Snippet{} // still a list for what reads the JSON
		r.SnippetsWithheld = "the project's configuration cannot be read, so they would hold defaults instead of this app's values: fix the problem above and run ./reverb doctor again"
	}

	r.OK = true
	for _, f := range r.Findings {
		if f.Level != Info {
			r.OK = false
		}
	}
	return r
}

// checkBroadcaster looks at where Laravel's broadcast() sends events
// (config('broadcasting.default')): nowhere near this server (the log, the
// null driver, an undefined connection), or to it with an app id or a
// secret no app here has, so the HTTP API refuses every event; and, when it
// broadcasts here, a project without routes/channels.php. Nothing is said
// when the broadcasting config is not known or another service receives
// the events.
func checkBroadcaster(dir string, p *laravelcfg.Project, getenv func(string) (string, bool), lookup func(context.Context, string) ([]string, error),
	add func(level, code, format string, args ...any)) {
	def, ok := php.Lookup(p.Config, "broadcasting.default")
	if !ok || def.IsUnknown() || def.Kind() == php.Array {
		return
	}
	name := def.ToString()
	envKey := "BROADCAST_CONNECTION"
	_, conn := getenv("BROADCAST_CONNECTION")
	if _, drv := getenv("BROADCAST_DRIVER"); !conn && (drv || p.LaravelMajor == 10) {
		envKey = "BROADCAST_DRIVER" // Laravel 10's name
	}
	var cfg *php.OrderedArray
	if conns, ok := php.Lookup(p.Config, "broadcasting.connections"); ok && conns.Kind() == php.Array {
		if c, ok := conns.ArrayVal().GetString(name); ok && c.Kind() == php.Array {
			cfg = c.ArrayVal()
		}
	}
	if cfg == nil {
		add(Warning, "broadcasting", "Laravel's default broadcast connection is %q (broadcasting.default: %s in .env), which config/broadcasting.php does not define: "+
			"every broadcast fails with \"Broadcast connection [%s] is not defined\"; set %s=reverb", name, envKey, name, envKey)
		return
	}
	driver := ""
	if v, ok := cfg.GetString("driver"); ok && !v.IsUnknown() {
		driver = scalarString(v)
	}
	switch driver {
	case "log", "null":
		went := "written to the log (storage/logs)"
		if driver == "null" {
			went = "dropped"
		}
		add(Warning, "broadcasting", "Laravel broadcasts to the %q connection (broadcasting.default: %s in .env), so events fired with broadcast() or ShouldBroadcast are %s and never reach this server: set %s=reverb",
			name, envKey, went, envKey)
		return
	case "reverb":
	default:
		return
	}
	if _, err := os.Stat(filepath.Join(dir, "routes", "channels.php")); errors.Is(err, fs.ErrNotExist) {
		add(Info, "broadcasting", "routes/channels.php is missing: unless the app defines its channels elsewhere, Laravel has no /broadcasting/auth route and private and presence channels cannot be joined "+
			"(pusher-js: status 404 from the channel-authorization endpoint): run php artisan install:broadcasting")
	}
	str := func(k string) (string, bool) {
		v, ok := cfg.GetString(k)
		if !ok || v.IsUnknown() || v.Kind() == php.Array {
			return "", false
		}
		return scalarString(v), true
	}
	// The broadcaster posts to options.host (REVERB_HOST, the name
	// browsers use): a name this machine cannot resolve fails every
	// broadcast() run here.
	if opts, ok := cfg.GetString("options"); ok && opts.Kind() == php.Array {
		if hv, ok := opts.ArrayVal().GetString("host"); ok && !hv.IsUnknown() && hv.Kind() != php.Array {
			if h := strings.Trim(scalarString(hv), "[]"); h != "" && notAHost(h) == "" && !isIP(h) {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				_, err := lookup(ctx, h)
				cancel()
				if err != nil {
					add(Warning, "broadcasting", "Laravel's broadcaster (broadcasting.connections.%s) sends its events to host %q (options.host: REVERB_HOST), which this machine cannot resolve (%v): "+
						"broadcast() run here fails with \"cURL error 6: Could not resolve host\"; in development set REVERB_HOST=localhost, "+
						"in production point options.host in config/broadcasting.php at where the server listens if the public name is not reachable from the app",
						name, h, err)
				}
			}
		}
	}
	if p.Reverb.AppsFromPHP != "" || len(p.Reverb.Apps) == 0 {
		return // the apps are known only at start, or missing (said above)
	}
	// The HTTP API finds the app by the id in the URL and checks the
	// signature with its secret; the auth_key sent along is not checked
	// (as in Reverb).
	id, ok := str("app_id")
	if !ok {
		return
	}
	idx := slices.IndexFunc(p.Reverb.Apps, func(a laravelcfg.App) bool { return a.ID == id })
	if idx < 0 {
		add(Problem, "broadcasting", "Laravel's broadcaster (broadcasting.connections.%s) sends its events to app id %q, which no app of this server has (reverb.apps.apps): "+
			"every broadcast fails with \"No matching application for ID [%s]\"; make REVERB_APP_ID the same in config/broadcasting.php and config/reverb.php", name, id, id)
		return
	}
	if secret, ok := str("secret"); ok && secret != p.Reverb.Apps[idx].Secret {
		add(Problem, "broadcasting", "Laravel's broadcaster (broadcasting.connections.%s) signs its events with another secret than app %s's: "+
			"every broadcast fails with \"Authentication signature invalid\"; make REVERB_APP_SECRET the same in config/broadcasting.php and config/reverb.php", name, id)
	}
}

// restartFallback says how to restart the server on os while the restart
// flag cannot reach it.
func restartFallback(os string) string {
	switch os {
	case "windows":
		return "stop the server (Ctrl-C) and start it again"
	case "darwin":
		return "restart with SIGHUP: kill -HUP <pid of reverb start>"
	}
	return "restart with SIGHUP: kill -HUP, systemctl reload"
}

// clientEndpoint reads host/port/scheme from the first app's options (what
// the broadcaster and Pulse use), falling back to REVERB_HOST/PORT/SCHEME
// with config/reverb.php's defaults (443, https).
func clientEndpoint(p *laravelcfg.Project, getenv func(string) (string, bool)) Endpoint {
	e := Endpoint{Scheme: "https", Port: 443, From: "REVERB_HOST, REVERB_PORT, REVERB_SCHEME"}
	if v, ok := getenv("REVERB_HOST"); ok {
		e.Host = v
	}
	if v, ok := getenv("REVERB_PORT"); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			e.Port = n
		}
	}
	if v, ok := getenv("REVERB_SCHEME"); ok && v != "" {
		e.Scheme = v
	}
	if len(p.Reverb.Apps) == 0 {
		return e
	}
	opts := p.Reverb.Apps[0].OptionsRaw.ArrayVal()
	if opts == nil {
		return e
	}
	e.From = "reverb.apps.apps[0].options (host, port, scheme)"
	if v, ok := opts.GetString("host"); ok {
		e.Host = scalarString(v)
	}
	if v, ok := opts.GetString("port"); ok {
		if n, err := strconv.Atoi(scalarString(v)); err == nil {
			e.Port = n
		}
	}
	if v, ok := opts.GetString("scheme"); ok && scalarString(v) != "" {
		e.Scheme = scalarString(v)
	}
	return e
}

// scalarString is PHP's (string) cast for scalars; arrays and values the
// evaluator could not compute give "".
func scalarString(v php.Value) string {
	if v.Kind() == php.Array {
		return ""
	}
	return v.ToString()
}

func isLoopback(h string) bool {
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func checkEndpoints(listen, clients Endpoint, production bool, add func(level, code, format string, args ...any)) {
	for _, f := range endpointFindings(listen, clients, production, "nginx snippet below") {
		add(f.Level, f.Code, "%s", f.Message)
	}
}

// notAHost says why h, where clients are told to connect, is not a host
// name or IP address alone ("" when it is one, or empty).
func notAHost(h string) string {
	switch {
	case h == "":
		return ""
	case strings.Contains(h, "://"):
		return "without a scheme"
	case strings.ContainsAny(h, "/?#@ \t"):
		return "without a scheme, path or spaces"
	case strings.Contains(h, ":") && !isIP(strings.Trim(h, "[]")):
		return "without a port"
	}
	return ""
}

// isIP reports whether s is an IP address; an IPv6 one may carry a zone
// (fe80::1%eth0).
func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// endpointFindings compares where clients are told to connect with where
// the server listens. A scheme that does not match the server on its own
// port is a problem: browsers cannot connect at all. proxyRef says where
// the nginx configuration for a TLS proxy is shown.
func endpointFindings(listen, clients Endpoint, production bool, proxyRef string) []Finding {
	var out []Finding
	add := func(level, format string, args ...any) {
		out = append(out, Finding{level, "clients", fmt.Sprintf(format, args...)})
	}
	tlsServer := listen.Scheme == "https"
	samePort := clients.Port == listen.Port
	badHost := notAHost(clients.Host)
	switch {
	case clients.Host == "":
		add(Warning, "REVERB_HOST is empty: Laravel's broadcaster falls back to Pusher's cloud and Echo has no host to connect to")
	case badHost != "":
		add(Problem, "the host clients are told, %q (the first app's options.host: REVERB_HOST in Reverb's config), must be a host name or IP address alone, %s (localhost, ws.example.com): "+
			"Echo given it (VITE_REVERB_HOST) builds %s, which no browser can connect to; "+
			"the scheme goes in REVERB_SCHEME and the port in REVERB_PORT, then rebuild the front end (npm run build)",
			clients.Host, badHost, clients.URL())
	case clients.Scheme != "http" && clients.Scheme != "https":
		add(Problem, "REVERB_SCHEME=%q: must be http or https", clients.Scheme)
	case clients.Scheme == "https" && !tlsServer && samePort:
		add(Problem, "clients are told %s (REVERB_SCHEME=https, REVERB_PORT=%d) but the server listens without TLS on port %d, so browsers cannot connect: "+
			"set REVERB_SCHEME=http for a plain connection, or put a TLS proxy in front on another port (usually 443, %s) and set REVERB_PORT=443, "+
			"or configure servers.reverb.options.tls in config/reverb.php; then rebuild the front end (npm run build)",
			clients.URL(), clients.Port, listen.Port, proxyRef)
	case clients.Scheme == "https" && !tlsServer:
		add(Info, "clients connect with TLS to %s: a proxy there must terminate TLS and forward to %s (%s)", clients.URL(), net.JoinHostPort(listen.Host, strconv.Itoa(listen.Port)), proxyRef)
	case clients.Scheme == "http" && tlsServer && samePort:
		add(Problem, "the server listens with TLS on port %d but clients are told %s (REVERB_SCHEME=http, REVERB_PORT=%d), so browsers cannot connect: "+
			"set REVERB_SCHEME=https, then rebuild the front end (npm run build)", listen.Port, clients.URL(), clients.Port)
	case clients.Scheme == "http" && tlsServer:
		add(Warning, "the server listens with TLS on port %d but clients are told %s: only right if a proxy there forwards plain text to a TLS upstream", listen.Port, clients.URL())
	case !samePort:
		add(Warning, "clients are told port %d (REVERB_PORT) but the server listens on %d: only right if a proxy forwards %d to %d", clients.Port, listen.Port, clients.Port, listen.Port)
	}
	if badHost != "" {
		return out // where it is told to connect means nothing yet
	}
	if clients.Host != "" && production && isLoopback(clients.Host) {
		add(Warning, "REVERB_HOST=%s with APP_ENV=production: browsers on other machines cannot reach it", clients.Host)
	}
	if isLoopback(listen.Host) && clients.Host != "" && !isLoopback(clients.Host) && samePort {
		add(Warning, "the server listens on %s only, but clients are told %s directly", listen.Host, clients.URL())
	}
	return out
}

// StartWarnings is what `reverb start` says once at start: clients told a
// scheme the server does not speak on its own port (the same problems
// doctor reports), and configuration keys that have no effect. host, port
// and path are where the server really listens (options included); secure
// says it listens with TLS.
func StartWarnings(p *laravelcfg.Project, host string, port int, path string, secure bool) []string {
	return startWarnings(p, p.Getenv, host, port, path, secure)
}

func startWarnings(p *laravelcfg.Project, getenv func(string) (string, bool), host string, port int, path string, secure bool) []string {
	appEnv := p.AppEnvWith(getenv)
	listen := Endpoint{Scheme: "http", Host: host, Port: port, Path: path}
	if secure {
		listen.Scheme = "https"
	}
	clients := clientEndpoint(p, getenv)
	var out []string
	for _, f := range endpointFindings(listen, clients, appEnv == "production", "./reverb doctor prints an nginx snippet for it") {
		if f.Level == Problem {
			out = append(out, ensureCapital(f.Message))
		}
	}
	srv := p.Reverb.Server
	if len(srv.IgnoredOptions) > 0 {
		out = append(out, fmt.Sprintf("servers.reverb.options keys without effect here: %s (no socket or TLS setting of this server corresponds to them)", strings.Join(srv.IgnoredOptions, ", ")))
	}
	if res, err := tlsconf.Load(tlsconf.Request{TLS: srv.TLS, BaseDir: p.BasePath, AppEnv: appEnv}); err == nil && len(res.Ignored) > 0 {
		out = append(out, fmt.Sprintf("servers.reverb.options.tls keys without effect here: %s (Go's TLS defaults apply: TLS 1.2 and later, modern ciphers)", strings.Join(res.Ignored, ", ")))
	}
	return out
}

func ensureCapital(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

func checkLimits(l sysctl.Limits, c sysctl.Capacity, apps []laravelcfg.App, production bool, add func(level, code, format string, args ...any)) {
	const guide = 10_000 // Reverb's production guide
	switch l.OS {
	case "darwin":
		if files := l.PerProcessFiles(); files != 0 && files < guide {
			add(Warning, "open-files", "a process may open %d files (kern.maxfilesperproc %d, hard limit %s): raise them with launchctl and sysctl (snippets below)",
				files, l.MaxFilesPerProc, limitText(l.NoFileHard))
		}
		if l.LaunchdHard != 0 && l.LaunchdHard < guide {
			add(Info, "open-files", "launchctl limit maxfiles is %d/%s: programs started by launchd (and the Dock) inherit it; a terminal's ulimit -n does not apply to them",
				l.LaunchdSoft, limitText(l.LaunchdHard))
		}
	case "windows":
		// No open-files limit for sockets; memory binds.
	default:
		if l.NoFileHard != 0 && l.NoFileHard < guide {
			add(Warning, "open-files", "hard open-files limit is %d: each worker holds at most about %d connections (raise it: limits.conf, LimitNOFILE or minfds below)", l.NoFileHard, int64(l.NoFileHard)-sysctl.FDReserve)
		}
		if l.NoFileSoft != 0 && l.NoFileSoft < l.NoFileHard && l.NoFileSoft < guide {
			add(Info, "open-files", "`ulimit -n` shows %d, but reverb raises its own soft limit to the hard limit (%d) at start; php artisan reverb:start would be held to %d", l.NoFileSoft, l.NoFileHard, l.NoFileSoft)
		}
		if l.ConntrackMax != 0 && c.Binding == sysctl.ConntrackBound {
			add(Info, "conntrack", "the kernel tracks connections (nf_conntrack_max %d): each is an entry, and stays one for 2 minutes after it closes, so about %d connections can restart without new ones being dropped (sysctl below)",
				l.ConntrackMax, l.ConntrackMax/2)
		}
		if l.Somaxconn != 0 && l.Somaxconn < 1024 {
			add(Info, "backlog", "net.core.somaxconn is %d: a reconnect wave after a restart may see refused connections (4096 below)", l.Somaxconn)
		}
	}
	// The ephemeral port range only matters behind a proxy on this host,
	// which is a production setup: not worth a note on a development machine.
	if production && c.ProxyPorts != 0 && c.Total != 0 && c.ProxyPorts < c.Total {
		add(Info, "ports", "behind a proxy on this host forwarding to one upstream address, %d ephemeral ports (%d–%d) cap connections at %d, below the %d this machine could hold", c.ProxyPorts, l.PortLow, l.PortHigh, c.ProxyPorts, c.Total)
	}
	for _, m := range l.Missing {
		add(Info, "readings", "could not read %s", m)
	}
	var want uint64
	for _, a := range apps {
		if a.MaxConnections != nil && *a.MaxConnections > 0 {
			want += uint64(*a.MaxConnections)
		}
	}
	if want > 0 && c.Total > 0 && want > c.Total {
		add(Warning, "capacity", "the apps' max_connections add up to %d but this machine holds about %d (%s binds)", want, c.Total, c.Binding)
	}
}

func limitText(n uint64) string {
	if n == sysctl.Unlimited || n >= 1<<62 {
		return "unlimited"
	}
	return strconv.FormatUint(n, 10)
}

// checkCertificate warns about a served certificate that has expired, is
// about to, or does not name the host clients are told to use.
func checkCertificate(res *tlsconf.Result, now time.Time, clientHost string, add func(level, code, format string, args ...any)) {
	if now.IsZero() {
		now = time.Now()
	}
	leaf := res.Config.Certificates[0].Leaf
	if leaf == nil {
		return
	}
	switch left := leaf.NotAfter.Sub(now); {
	case left <= 0:
		add(Problem, "tls", "the certificate in %s expired on %s", res.CertFile, leaf.NotAfter.Format(time.DateOnly))
	case left < 14*24*time.Hour:
		add(Warning, "tls", "the certificate in %s expires on %s (in %d days)", res.CertFile, leaf.NotAfter.Format(time.DateOnly), int(left.Hours()/24))
	}
	if now.Before(leaf.NotBefore) {
		add(Problem, "tls", "the certificate in %s is not valid before %s", res.CertFile, leaf.NotBefore.Format(time.RFC3339))
	}
	if clientHost != "" && leaf.VerifyHostname(strings.Trim(clientHost, "[]")) != nil {
		add(Warning, "tls", "the certificate in %s does not cover REVERB_HOST %q (it names %s)", res.CertFile, clientHost, strings.Join(certNames(leaf.DNSNames, leaf.IPAddresses), ", "))
	}
}

func certNames(dns []string, ips []net.IP) []string {
	out := slices.Clone(dns)
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	if len(out) == 0 {
		return []string{"no host names"}
	}
	return out
}

// OwnerName returns the user owning dir, the natural one to run the server
// as; fallback when unknown.
func OwnerName(dir, fallback string) string {
	if name := ownerName(dir); name != "" {
		return name
	}
	if fallback != "" {
		return fallback
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "www-data"
}
