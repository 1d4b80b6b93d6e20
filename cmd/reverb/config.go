package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/cachestore"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
)

func init() {
	register("config", "Show the configuration resolved from the Laravel project", runConfig)
}

type configFlags struct {
	dir         string
	envName     string
	showSecrets bool
	json        bool
	jsonKey     string
}

func configSpec(f *configFlags) *spec {
	return &spec{
		name:    "config",
		summary: "Show the configuration resolved from the Laravel project",
		about: []string{
			"Shows what reverb resolved from the Laravel project, and from where: files read, Laravel version, the .env file, " +
				"the server, every app, scaling, and the cache store holding the restart flag. Secrets are masked.",
			"When reverb start would refuse the configuration (an app without app_id, a bad port...), config('reverb') is still " +
				"printed as Laravel resolves it, followed by the problems, and the exit status is 1.",
		},
		examples: []string{
			"./reverb config",
			"./reverb config --json=reverb.apps     # json_encode(config('reverb.apps'))",
			"./reverb config --env=staging         # with .env.staging, like artisan --env",
		},
		opts: []option{
			{long: "show-secrets", help: "Print app secrets and passwords instead of masking them", set: setSwitch(&f.showSecrets)},
			{long: "json", arg: "KEY", optArg: true, help: "Print config(KEY) as PHP's json_encode would (everything without KEY), unmasked as config() returns it",
				set: func(v string) error { f.json, f.jsonKey = true, v; return nil }},
			{long: "dir", arg: "DIR", def: ".", help: "The Laravel project root", set: setNonEmpty(&f.dir, "folder")},
		},
	}
}

func runConfig(args []string, stdout, stderr io.Writer) int {
	f := configFlags{dir: "."}
	s := configSpec(&f)
	return s.run(args, stdout, stderr, func(stdout, stderr io.Writer) int {
		f.envName = s.g.env
		if _, ok := checkRoot("config", f.dir, f.envName, stderr); !ok {
			return 1
		}
		// What Laravel resolves, even where reverb start would refuse it.
		p, err := laravelcfg.Load(laravelcfg.LoadOptions{Dir: f.dir, EnvName: f.envName, SkipReverbSettings: true})
		if err != nil {
			fmt.Fprintf(stderr, "reverb config: %v\n", err)
			return 1
		}
		if f.json {
			code := printConfigJSON(p, f.jsonKey, stdout, stderr)
			if p.SettingsErr != nil && code == 0 {
				fmt.Fprintf(stderr, "reverb config: note: reverb start refuses this configuration: %v\n", p.SettingsErr)
			}
			return code
		}
		if p.SettingsErr != nil {
			printConfigUnusable(p, f.showSecrets, stdout)
			return 1
		}
		printConfigHuman(p, f.showSecrets, stdout)
		return 0
	})
}

// printConfigJSON prints json_encode(config(key)). Parts the evaluator
// could not compute are printed as null with a note on stderr; asking for
// exactly such a part is an error.
func printConfigJSON(p *laravelcfg.Project, key string, stdout, stderr io.Writer) int {
	v, ok := php.Lookup(p.Config, key)
	if !ok {
		fmt.Fprintf(stderr, "reverb config: %s is not set (config() returns null)\n", key)
		fmt.Fprintln(stdout, "null")
		return 0
	}
	if v.IsUnknown() {
		fmt.Fprintf(stderr, "reverb config: %s cannot be computed without PHP: %s: %s\n", key, v.Where, v.UnknownReason())
		return 1
	}
	b, err := php.EncodeJSON(v, php.JSONOptions{OnUnknown: func(path string, u php.Value) {
		if key != "" {
			path = key + "." + path
		}
		fmt.Fprintf(stderr, "reverb config: %s printed as null: cannot be computed without PHP (%s: %s)\n", path, u.Where, u.UnknownReason())
	}})
	if err != nil {
		fmt.Fprintf(stderr, "reverb config: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}

// mask hides a secret but keeps its ends, so two secrets can be told apart:
// "reverb-secret" → "re*********et".
func mask(s string, show bool) string {
	if show || s == "" {
		return s
	}
	if len(s) <= 6 {
		return strings.Repeat("*", len(s))
	}
	return s[:2] + strings.Repeat("*", len(s)-4) + s[len(s)-2:]
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func printConfigHuman(p *laravelcfg.Project, showSecrets bool, w io.Writer) {
	printProjectHeader(p, w)
	s := p.Reverb.Server
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Server")
	fmt.Fprintf(w, "  host:                 %s\n", s.Host)
	fmt.Fprintf(w, "  port:                 %d\n", s.Port)
	path := laravelcfg.NormalizePath(s.Path)
	if path != s.Path {
		fmt.Fprintf(w, "  path:                 %s (configured %q)\n", orNone(path), s.Path)
	} else {
		fmt.Fprintf(w, "  path:                 %s\n", orNone(path))
	}
	fmt.Fprintf(w, "  hostname:             %s\n", orNone(s.Hostname))
	if s.TLS.Enabled() {
		fmt.Fprintf(w, "  tls:                  on (local_cert %s, local_pk %s)\n", orNone(s.TLS.LocalCert), orNone(s.TLS.LocalPK))
	} else {
		fmt.Fprintf(w, "  tls:                  off (Herd/Valet certificates for the hostname are looked up at start)\n")
	}
	fmt.Fprintf(w, "  tcp:                  %s\n", describeTCP(s.TCP))
	if len(s.IgnoredOptions) > 0 {
		fmt.Fprintf(w, "  no effect here:       options.%s\n", strings.Join(s.IgnoredOptions, ", options."))
	}
	fmt.Fprintf(w, "  max_request_size:     %d bytes\n", s.MaxRequestSize)
	fmt.Fprintf(w, "  pulse_ingest:         every %ds\n", s.PulseIngestInterval)
	fmt.Fprintf(w, "  telescope_ingest:     every %ds: no effect (Telescope records inside PHP; this server has nothing to send it)\n", s.TelescopeIngestInterval)
	sc := s.Scaling
	var scalingWarnings []string
	if sc.Enabled {
		// The resolved deployment (one server, Sentinel, Cluster), secrets
		// masked: redisconn.Deployment.Describe.
		if d, err := redisconn.ForScaling(p); err != nil {
			fmt.Fprintf(w, "  scaling:              on, channel %q, Redis connection unusable: %v\n", sc.Channel, err)
		} else {
			fmt.Fprintf(w, "  scaling:              on, channel %q via %s\n", sc.Channel, d.Describe(showSecrets))
			if sc.Routing == laravelcfg.RoutingInterest {
				fmt.Fprintf(w, "  scaling routing:      interest (%s): each node receives only the channels it has subscribers on; nodes of this server only, no PHP Reverb nodes\n", sc.RoutingFrom)
			}
			scalingWarnings = d.Warnings
		}
	} else {
		fmt.Fprintf(w, "  scaling:              off\n")
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "Apps (%d)\n", len(p.Reverb.Apps))
	for _, a := range p.Reverb.Apps {
		fmt.Fprintf(w, "  app_id %s\n", a.ID)
		fmt.Fprintf(w, "    key:                       %s\n", a.Key)
		fmt.Fprintf(w, "    secret:                    %s\n", mask(a.Secret, showSecrets))
		fmt.Fprintf(w, "    allowed_origins:           %s\n", orNone(strings.Join(a.AllowedOrigins, ", ")))
		fmt.Fprintf(w, "    ping_interval:             %ds\n", a.PingInterval)
		fmt.Fprintf(w, "    activity_timeout:          %ds\n", a.ActivityTimeout)
		if a.MaxMessageSize == 0 {
			fmt.Fprintf(w, "    max_message_size:          unlimited\n")
		} else {
			fmt.Fprintf(w, "    max_message_size:          %d bytes\n", a.MaxMessageSize)
		}
		if a.MaxConnections == nil {
			fmt.Fprintf(w, "    max_connections:           unlimited\n")
		} else {
			fmt.Fprintf(w, "    max_connections:           %d\n", *a.MaxConnections)
		}
		fmt.Fprintf(w, "    accept_client_events_from: %s\n", a.AcceptClientEventsFrom)
		switch rl := a.RateLimiting; {
		case rl == nil:
			fmt.Fprintf(w, "    rate_limiting:             not configured\n")
		case !rl.Enabled:
			fmt.Fprintf(w, "    rate_limiting:             off\n")
		default:
			fmt.Fprintf(w, "    rate_limiting:             %d messages / %ds, terminate %v\n", rl.MaxAttempts, rl.DecaySeconds, rl.TerminateOnLimit)
		}
	}

	warnings := printRestartFlag(p, w, scalingWarnings)
	if len(warnings) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Warnings")
		for _, m := range warnings {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	}
}

// printProjectHeader is the first block of `reverb config`.
func printProjectHeader(p *laravelcfg.Project, w io.Writer) {
	fmt.Fprintf(w, "Project:       %s\n", p.BasePath)
	fmt.Fprintf(w, "Laravel:       %d (%s)\n", p.LaravelMajor, p.LaravelMajorSource)
	switch {
	case p.ConfigCached:
		fmt.Fprintf(w, "Env file:      not read (configuration is cached)\n")
	case p.EnvFile == "":
		fmt.Fprintf(w, "Env file:      (none found)\n")
	default:
		fmt.Fprintf(w, "Env file:      %s\n", p.EnvFile)
	}
	fmt.Fprintf(w, "Files read:    %s\n", orNone(strings.Join(p.FilesRead, ", ")))

}

// printRestartFlag prints where the restart flag lives and returns the
// project's warnings, extra (the scaling connection's), and a store that
// cannot be opened.
func printRestartFlag(p *laravelcfg.Project, w io.Writer, extra []string) []string {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Restart flag (php artisan reverb:restart)")
	def, _ := php.Lookup(p.Config, "cache.default")
	fmt.Fprintf(w, "  cache store:          %s\n", describeValue(def))
	warnings := append(append([]string(nil), p.Warnings...), extra...)
	if st, err := cachestore.Open(p); err != nil {
		fmt.Fprintf(w, "  location:             unavailable\n")
		warnings = append(warnings, "restart flag: "+err.Error())
	} else {
		fmt.Fprintf(w, "  location:             %s\n", st.Location())
		// What the store found about itself (a phpredis serializer, ignored
		// Memcached options...) belongs beside the location it qualifies.
		for _, m := range cachestore.Warnings(st) {
			fmt.Fprintf(w, "  warning:              %s\n", m)
		}
		st.Close()
	}

	return warnings
}

// printConfigUnusable prints config('reverb') as Laravel resolves it, key
// by key like php artisan config:show, when reverb start would refuse it,
// then the problem.
func printConfigUnusable(p *laravelcfg.Project, showSecrets bool, w io.Writer) {
	printProjectHeader(p, w)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "config('reverb'), as Laravel resolves it")
	if v, ok := php.Lookup(p.Config, "reverb"); ok {
		var rows [][2]string
		flattenConfig(v, "reverb", showSecrets, &rows)
		width := 0
		for _, r := range rows {
			width = max(width, len(r[0]))
		}
		for _, r := range rows {
			fmt.Fprintf(w, "  %-*s  %s\n", width, r[0], r[1])
		}
	} else {
		fmt.Fprintln(w, "  (not available)")
	}
	warnings := printRestartFlag(p, w, nil)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Problems")
	fmt.Fprintf(w, "  - reverb start refuses this configuration: %v\n", p.SettingsErr)
	var rest []string
	for _, m := range warnings {
		if !strings.HasPrefix(m, "Reverb settings not loaded: ") {
			rest = append(rest, m)
		}
	}
	if len(rest) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Warnings")
		for _, m := range rest {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	}
}

// flattenConfig lists every leaf below v as "dotted.key value", the way
// php artisan config:show does; secrets and passwords are masked.
func flattenConfig(v php.Value, path string, showSecrets bool, rows *[][2]string) {
	if v.Kind() == php.Array && v.ArrayVal().Len() > 0 {
		a := v.ArrayVal()
		for i, k := range a.Keys {
			flattenConfig(a.Values[i], path+"."+k.String(), showSecrets, rows)
		}
		return
	}
	val := describeLeaf(v)
	last := path[strings.LastIndexByte(path, '.')+1:]
	if (last == "secret" || last == "password") && v.Kind() == php.String {
		val = mask(val, showSecrets)
	}
	*rows = append(*rows, [2]string{path, val})
}

// describeLeaf prints a scalar as config:show does: strings as they are,
// true/false/null, numbers, [] for an empty array.
func describeLeaf(v php.Value) string {
	switch v.Kind() {
	case php.Array:
		return "[]"
	case php.Null:
		return "null"
	case php.Bool:
		if v.BoolVal() {
			return "true"
		}
		return "false"
	case php.Unknown:
		return "unknown (" + v.Where + ": " + v.UnknownReason() + ")"
	}
	return v.ToString()
}

func describeValue(v php.Value) string {
	switch v.Kind() {
	case php.Unknown:
		return "unknown (" + v.Where + ": " + v.UnknownReason() + ")"
	case php.String:
		return v.StringVal()
	case php.Null:
		return "(null)"
	}
	b, err := php.EncodeJSON(v, php.JSONOptions{OnUnknown: func(string, php.Value) {}})
	if err != nil {
		return v.TypeName()
	}
	return string(b)
}

// maskURL hides the password of a redis://user:pass@host URL.
func maskURL(u string, show bool) string {
	if show {
		return u
	}
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return u
	}
	user, pass, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		if user == "" {
			return u
		}
		// redis://password@host: a lone user part is the password.
		return scheme + "://" + mask(user, false) + rest[at:]
	}
	return scheme + "://" + user + ":" + mask(pass, false) + rest[at:]
}

// describeTCP shows options.tcp as the listening socket gets it.
func describeTCP(t laravelcfg.TCPOptions) string {
	var parts []string
	if t.Backlog > 0 {
		parts = append(parts, fmt.Sprintf("backlog %d", t.Backlog))
	} else {
		parts = append(parts, "backlog: the system maximum (net.core.somaxconn)")
	}
	if t.ReusePort {
		parts = append(parts, "so_reuseport on")
	}
	if t.IPv6Only != nil {
		parts = append(parts, fmt.Sprintf("ipv6_v6only %v", *t.IPv6Only))
	}
	return strings.Join(parts, ", ")
}
