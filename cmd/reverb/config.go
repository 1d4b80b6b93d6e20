package main

import (
	"flag"
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

const configUsage = `Usage: reverb config [--dir DIR] [--env NAME] [--show-secrets] [--json [KEY]]

Shows what reverb resolved from the Laravel project, and from where: files
read, Laravel version, the .env file, the server, every app, scaling, and
the cache store holding the restart flag.

Options:
  --dir DIR        Laravel project root (default ".")
  --env NAME       load .env.NAME like artisan --env=NAME
  --show-secrets   print app secrets and passwords instead of masking them
  --json [KEY]     print config(KEY) as PHP's json_encode would (the whole
                   configuration without KEY); values are printed unmasked,
                   as config() returns them
`

type configFlags struct {
	dir         string
	envName     string
	showSecrets bool
	json        bool
	jsonKey     string
}

// parseConfigFlags accepts --flag value and --flag=value; --json takes an
// optional key (the next argument when it does not start with "-").
func parseConfigFlags(args []string) (configFlags, error) {
	f := configFlags{dir: "."}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		needVal := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s needs a value", name)
			}
			i++
			return args[i], nil
		}
		var err error
		switch strings.TrimLeft(name, "-") {
		case "dir":
			f.dir, err = needVal()
		case "env":
			f.envName, err = needVal()
		case "show-secrets":
			f.showSecrets = true
		case "json":
			f.json = true
			if hasVal {
				f.jsonKey = val
			} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				f.jsonKey = args[i]
			}
		case "h", "help":
			return f, errHelp
		default:
			if !strings.HasPrefix(a, "-") && !f.json {
				return f, fmt.Errorf("unexpected argument %q", a)
			}
			return f, fmt.Errorf("unknown option %s", a)
		}
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

var errHelp = fmt.Errorf("help requested")

// parseOptionsOnly parses the options of a subcommand that takes no
// positional arguments (install, restart, doctor). done is true when the
// command must exit now with code: 0 after --help, 2 on bad usage.
func parseOptionsOnly(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2, true
	}
	return 0, false
}

func runConfig(args []string, stdout, stderr io.Writer) int {
	f, err := parseConfigFlags(args)
	if err == errHelp {
		fmt.Fprint(stdout, configUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "reverb config: %v\n\n%s", err, configUsage)
		return 2
	}
	p, err := laravelcfg.Load(laravelcfg.LoadOptions{Dir: f.dir, EnvName: f.envName})
	if err != nil {
		fmt.Fprintf(stderr, "reverb config: %v\n", err)
		return 1
	}
	if f.json {
		return printConfigJSON(p, f.jsonKey, stdout, stderr)
	}
	printConfigHuman(p, f.showSecrets, stdout)
	return 0
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
	fmt.Fprintf(w, "  max_request_size:     %d bytes\n", s.MaxRequestSize)
	fmt.Fprintf(w, "  pulse_ingest:         every %ds, telescope every %ds\n", s.PulseIngestInterval, s.TelescopeIngestInterval)
	sc := s.Scaling
	var scalingWarnings []string
	if sc.Enabled {
		// The resolved deployment (one server, Sentinel, Cluster), secrets
		// masked: redisconn.Deployment.Describe.
		if d, err := redisconn.ForScaling(p); err != nil {
			fmt.Fprintf(w, "  scaling:              on, channel %q, Redis connection unusable: %v\n", sc.Channel, err)
		} else {
			fmt.Fprintf(w, "  scaling:              on, channel %q via %s\n", sc.Channel, d.Describe(showSecrets))
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

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Restart flag (php artisan reverb:restart)")
	def, _ := php.Lookup(p.Config, "cache.default")
	fmt.Fprintf(w, "  cache store:          %s\n", describeValue(def))
	warnings := append(append([]string(nil), p.Warnings...), scalingWarnings...)
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

	if len(warnings) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Warnings")
		for _, m := range warnings {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	}
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
