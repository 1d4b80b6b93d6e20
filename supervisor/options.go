package supervisor

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server"
	"github.com/reverb-go/reverb/server/cluster"
)

// Config is everything `reverb start` was asked to do. The supervisor hands
// the same values to its workers, which resolve the endpoint themselves from
// the config they load, so a restart picks up changed apps and options.
type Config struct {
	// Dir is the Laravel project root; EnvName is artisan's --env.
	Dir     string
	EnvName string
	CLI     CLI
	// Workers is the number of worker processes on Linux; 0 serves in
	// this process with in-process generations (zero-downtime restarts
	// too). On the portable build every connection is served in this
	// process and Workers is the number of servers per generation.
	// With worker processes it is the pool's starting size and minimum:
	// the pool grows as workers near their open-files limit (pool.go).
	Workers int
	// MaxWorkers caps the worker pool's growth (0: bounded only by the
	// machine's memory and the supervisor's descriptors); at least
	// Workers. Only worker processes grow.
	MaxWorkers int
	// PingSweep overrides server.Options.PingSweepInterval (tests).
	PingSweep time.Duration
	// DrainWindow spreads the closing of old connections on a restart
	// (stretched with many, restartDrainWindow), and bounds it on a stop
	// (stopDrainWindow).
	DrainWindow time.Duration
	// ReconnectPace is how many of its connections per second a restart
	// lets reconnect (drainpace.go); 0 is reconnectsPerCPU per CPU.
	ReconnectPace int
	// RestartPoll is the polling period of non-file cache stores.
	RestartPoll time.Duration
	// ReadyTimeout bounds how long a new generation may take to report ready.
	ReadyTimeout time.Duration
	// MetricsAddr turns on the Prometheus listener (host:port); empty
	// falls back to REVERB_METRICS_ADDR, and that empty means off.
	MetricsAddr string
	// Colour forces ANSI colours on or off (--ansi / --no-ansi); nil
	// colours only a terminal. Quiet prints only errors (-q).
	Colour *bool
	Quiet  bool
	// StartChecks, when set, looks at the configuration `reverb start`
	// loaded and returns warnings to print once at start (and again after a
	// restart that changed them): where clients are told to connect
	// against where the server listens, and the like. secure says the
	// server listens with TLS.
	StartChecks func(p *laravelcfg.Project, ep Endpoint, secure bool) []string `json:"-"`
	// ParentPID is the php artisan reverb:start that runs the server as
	// its child (parentwatch.Env); the server drains and exits when it is
	// gone. 0: none.
	ParentPID int

	// apps produces the apps when only PHP can; appsFile is a worker's
	// shared answer (phpapps.go).
	apps     laravelcfg.AppsResolver
	appsFile string

	// inRelease: Dir is the current link of a release-folder deploy
	// (laravelcfg.ServingDir); every read of the project enters it first,
	// so relative paths follow the release it points to then, as in a
	// freshly started process.
	inRelease bool

	Stdout io.Writer
	Stderr io.Writer
}

func (c *Config) defaults() {
	if c.Dir == "" {
		c.Dir = "."
	}
	if c.DrainWindow <= 0 {
		c.DrainWindow = 10 * time.Second
	}
	if c.RestartPoll <= 0 {
		c.RestartPoll = time.Second
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 30 * time.Second
	}
}

// load reads the project. Dir is read with its symbolic links resolved
// once, here, so everything that follows from one read (the Project's
// BasePath, the workers of the generation it starts) names one release
// even while a deploy moves a current link.
func (c Config) load() (*laravelcfg.Project, error) {
	dir := c.Dir
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	if c.inRelease {
		_ = os.Chdir(dir) // a failure shows in Load, which reads the same folder
	}
	given := laravelcfg.GivenOptions{Host: c.CLI.Host != "", Port: c.CLI.Port != "", Hostname: c.CLI.Hostname != ""}
	return laravelcfg.Load(laravelcfg.LoadOptions{Dir: dir, EnvName: c.EnvName, Given: given, Apps: c.apps})
}

// serverOptions builds one node's options from the loaded project.
func serverOptions(p *laravelcfg.Project, ep Endpoint, c Config, tr cluster.Transport, nodeID string) server.Options {
	return server.Options{
		Apps:              p.Reverb.Apps,
		Refresh:           appsRefresh(p, c),
		Path:              laravelcfg.NormalizePath(ep.Path),
		ConfigPath:        laravelcfg.NormalizePath(p.Reverb.Server.Path),
		MaxRequestSize:    p.Reverb.Server.MaxRequestSize,
		Transport:         tr,
		NodeID:            nodeID,
		PingSweepInterval: c.PingSweep,
		SignatureMaxAge:   signatureMaxAge(p),
		Debug:             c.CLI.Debug,
		DebugOut:          c.Stdout,
		ErrorLog:          c.Stderr,
	}
}

// signatureMaxAge is the opt-in auth_timestamp freshness window of the HTTP
// API: REVERB_API_MAX_AGE seconds (real environment or .env). Reverb checks
// no freshness, so unset, empty, zero or not a whole number means no check.
func signatureMaxAge(p *laravelcfg.Project) time.Duration {
	v, ok := p.Getenv("REVERB_API_MAX_AGE")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
