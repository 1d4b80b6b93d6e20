// Package laravelcfg reads a Laravel project the way Laravel does: .env with
// phpdotenv's rules, env() conversions, config/*.php through a safe evaluator
// of the PHP subset config files use, merged over the package and framework
// defaults, and typed settings for the rest of the program.
package laravelcfg

import (
	"time"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// LoadOptions says which project to read and what the real environment is.
type LoadOptions struct {
	// Dir is the Laravel project root (where artisan lives). Empty means ".".
	Dir string
	// LookupEnv reads the real process environment. Nil means os.LookupEnv.
	// The real environment always wins over .env (phpdotenv's immutable
	// repository).
	LookupEnv func(name string) (string, bool)
	// EnvName is artisan's --env option (selects .env.{EnvName}); empty means
	// only the real APP_ENV can select a .env.{APP_ENV} file.
	EnvName string
	// SkipReverbSettings makes an unusable config/reverb.php (a PHP error,
	// a missing key, a bad port...) a warning instead of an error, leaving
	// Project.Reverb zero. Commands that only need the cache or database
	// config set it, as `php artisan reverb:restart` never reads the Reverb
	// server settings.
	SkipReverbSettings bool
	// Given names the server options reverb:start took from its command
	// line. Reverb reads `--port ?: config port` (and host, hostname), so
	// the config values they replace are never read: one only PHP can
	// compute, or one that is wrong, does not stop a server given them.
	Given GivenOptions
	// Apps, when set, produces the apps when Settings.AppsFromPHP says only
	// PHP can (see laravelcfg/phpapps). Its error fails Load. Without it,
	// such a project loads with no apps and a warning.
	Apps AppsResolver
}

// GivenOptions are the reverb:start options given on the command line whose
// config values are then not read (ServerSettings keeps their zero value).
type GivenOptions struct {
	Host, Port, Hostname bool
}

// AppsResolver produces the apps of a project whose apps need PHP.
type AppsResolver interface {
	ResolveApps(p *Project) ([]App, error)
}

// Project is everything resolved from one Laravel project root.
type Project struct {
	BasePath string
	// FilesRead lists every file that contributed, in the order read.
	FilesRead []string
	// EnvFile is the dotenv file loaded ("" when none, or when the config
	// cache short-circuited .env).
	EnvFile string
	// ConfigCached is true when bootstrap/cache/config.php supplied the config.
	ConfigCached bool
	// LaravelMajor is 10..13; LaravelMajorSource says how it was found
	// ("composer.lock", "vendor/laravel/framework", or "assumed (newest)").
	LaravelMajor       int
	LaravelMajorSource string
	// Config is the whole merged configuration tree, keyed by file name:
	// "reverb", "cache", "database", "broadcasting" (and "pulse" when the app
	// has config/pulse.php). Values keep PHP types; parts the evaluator could
	// not compute are php.Unknown.
	Config php.Value
	// Reverb holds the typed settings the server needs.
	Reverb Settings
	// Warnings are non-fatal findings worth showing an operator.
	Warnings []string
	// SettingsErr is why Reverb could not be given settings from
	// config('reverb') when LoadOptions.SkipReverbSettings turned that
	// error into a warning (Reverb is zero then); nil otherwise.
	SettingsErr error

	// env is the merged environment view: real environment first, then the
	// variables .env defined.
	env func(name string) (string, bool)
	// reverbFile names where config('reverb') came from ("" when it could
	// not be evaluated); envSrc is what env() read (see ReadServer).
	reverbFile string
	envSrc     envSource
	// processEnv is what getenv() reads (see phpeval.Options.ProcessEnv).
	processEnv func(name string) (string, bool)
}

// Getenv reads a variable as PHP code in the app would after bootstrap:
// the real environment first, then what .env loaded.
func (p *Project) Getenv(name string) (string, bool) {
	if p.env == nil {
		return "", false
	}
	return p.env(name)
}

// Settings is the typed view of config('reverb') for the default server.
type Settings struct {
	Server ServerSettings
	Apps   []App
	// AppsFromPHP is set when the apps cannot be known without running the
	// app's PHP: reverb.apps.provider names a custom provider, or
	// reverb.apps.apps holds values the safe evaluator cannot compute. It
	// says why (file, key path, construct); Apps is then empty until a
	// LoadOptions.Apps resolver (laravelcfg/phpapps: `php artisan
	// reverb:apps --json`) fills it.
	AppsFromPHP string
}

// ServerSettings is reverb.servers.reverb (the "default" server).
type ServerSettings struct {
	Host     string
	Port     int
	Path     string // as configured; normalise with NormalizePath
	Hostname string
	TLS      TLSOptions
	// TCP is options.tcp: the listening socket's options.
	TCP TCPOptions
	// IgnoredOptions lists options keys that have no effect here
	// ("tcp.tcp_nodelay", "unix"); options.tls keys are judged by tlsconf.
	IgnoredOptions []string
	MaxRequestSize int
	Scaling        Scaling
	// PulseIngestInterval and TelescopeIngestInterval are in seconds.
	PulseIngestInterval     int
	TelescopeIngestInterval int
}

// TLSOptions is servers.reverb.options.tls (PHP SSL context options). TLS is
// on when LocalCert or LocalPK is non-empty.
type TLSOptions struct {
	LocalCert       string
	LocalPK         string
	Passphrase      string
	CAFile          string
	CAPath          string
	VerifyPeer      *bool
	VerifyPeerName  *bool
	AllowSelfSigned bool
	// Raw is the whole array as configured (nulls removed).
	Raw php.Value
}

// TCPOptions is servers.reverb.options.tcp: the PHP socket context options
// ReactPHP's TcpServer hands to stream_socket_server, of which these three
// shape a listening socket.
type TCPOptions struct {
	// Backlog is the accept queue length; 0 leaves the system's maximum
	// (net.core.somaxconn) where ReactPHP would use 511.
	Backlog int
	// ReusePort sets SO_REUSEPORT (several servers may bind the port).
	ReusePort bool
	// IPv6Only sets IPV6_V6ONLY on an IPv6 listener (nil: the system
	// default, which accepts IPv4 too on [::]).
	IPv6Only *bool
}

// Enabled reports whether the server must listen with TLS.
func (t TLSOptions) Enabled() bool { return t.LocalCert != "" || t.LocalPK != "" }

// Scaling is servers.reverb.scaling.
type Scaling struct {
	Enabled bool
	Channel string
	// Server is Reverb's scaling.server; unused when Connection is set.
	Server RedisServer
	// Connection names a connection of config/database.php's redis section
	// (or redis.clusters) to scale over instead of Server: our own setting,
	// scaling.connection in config/reverb.php, else the environment variable
	// REVERB_SCALING_CONNECTION. It reaches Sentinel and Cluster
	// deployments, TLS with a private CA and client certificates.
	Connection string
	// ConnectionFrom says where Connection was set, for messages.
	ConnectionFrom string
	// Routing is how broadcasts travel between the nodes: RoutingClassic
	// (every node receives every message on the one channel, as Reverb
	// does; PHP Reverb nodes can share it) or RoutingInterest (a node
	// receives only the messages of channels it has subscribers on; a
	// fleet of this server only). Our own setting: scaling.routing in
	// config/reverb.php, else REVERB_SCALING_ROUTING; classic by default.
	Routing string
	// RoutingFrom says where Routing was set ("" for the default).
	RoutingFrom string
}

// ScalingConnectionEnv names the scaling connection when config/reverb.php
// has no scaling.connection.
const ScalingConnectionEnv = "REVERB_SCALING_CONNECTION"

// The routings of Scaling.Routing, and the environment variable that sets
// it when config/reverb.php has no scaling.routing.
const (
	RoutingClassic    = "classic"
	RoutingInterest   = "interest"
	ScalingRoutingEnv = "REVERB_SCALING_ROUTING"
)

// RedisServer is scaling.server (or database.redis.default when empty).
type RedisServer struct {
	URL      string
	Scheme   string // "tls" when configured
	Host     string
	Port     string
	Username string
	Password string
	Database int
	Timeout  int // seconds of reconnect attempts before Reverb gives up
}

// App is one entry of reverb.apps.apps with the config provider's defaults
// applied and PHP's loose coercion done.
type App struct {
	ID     string
	Key    string
	Secret string
	// PingInterval and ActivityTimeout are in seconds.
	PingInterval    int
	ActivityTimeout int
	AllowedOrigins  []string
	MaxMessageSize  int  // 0 means unlimited
	MaxConnections  *int // nil means unlimited
	// AcceptClientEventsFrom is "all", "members" or anything else (none).
	AcceptClientEventsFrom string
	RateLimiting           *RateLimiting // nil when the key is missing
	// RateLimitingRaw and OptionsRaw keep the configured arrays with their PHP
	// types; PHP serialize() of Laravel\Reverb\Application needs them.
	RateLimitingRaw   php.Value
	OptionsRaw        php.Value
	AllowedOriginsRaw php.Value
	MaxConnectionsRaw php.Value
	// Webhooks and Listeners are our own keys (webhooks.go): Pusher-style
	// webhooks, and Reverb's events posted to the companion package.
	Webhooks  []Webhook
	Listeners *Listeners
	// Pusher's user features and limits (users.go), all off by default:
	// UserAuthenticationTimeout > 0 closes connections that neither sign in
	// nor subscribe to a private or presence channel within it.
	UserAuthenticationTimeout time.Duration
	WatchlistEvents           bool // enable_watchlist_events
	SubscriptionCount         bool // enable_subscription_count
	Limits                    Limits
}

// RateLimiting is an app's rate_limiting array.
type RateLimiting struct {
	Enabled          bool // only PHP bool true enables it
	MaxAttempts      int
	DecaySeconds     int
	TerminateOnLimit bool
}

// NormalizePath trims whitespace and slashes and re-adds one leading slash;
// "" stays "" (Reverb's server path rule).
func NormalizePath(p string) string {
	i, j := 0, len(p)
	for i < j && (p[i] == '/' || p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	for j > i && (p[j-1] == '/' || p[j-1] == ' ' || p[j-1] == '\t' || p[j-1] == '\n' || p[j-1] == '\r') {
		j--
	}
	if i == j {
		return ""
	}
	return "/" + p[i:j]
}
