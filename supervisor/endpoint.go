package supervisor

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/supervisor/console"
	"github.com/reverb-go/reverb/supervisor/tcplisten"
)

// CLI holds the options `php artisan reverb:start` accepts. Empty strings mean
// "not given": Reverb takes the CLI value when it is non-empty and the config
// value otherwise (spec §7.2).
type CLI struct {
	Host     string
	Port     string
	Path     string
	Hostname string
	Debug    bool
}

// Endpoint is where and how the server listens, resolved from CLI and config.
type Endpoint struct {
	Host     string
	Port     string
	Path     string // raw, as given (printed raw, normalised for routing)
	Hostname string
	TLS      laravelcfg.TLSOptions
}

// Resolve applies Reverb's precedence: CLI value if non-empty, else config.
func Resolve(s laravelcfg.ServerSettings, cli CLI) Endpoint {
	ep := Endpoint{
		Host:     s.Host,
		Port:     strconv.Itoa(s.Port),
		Path:     s.Path,
		Hostname: s.Hostname,
		TLS:      s.TLS,
	}
	if cli.Host != "" {
		ep.Host = cli.Host
	}
	if cli.Port != "" {
		ep.Port = cli.Port
	}
	if cli.Path != "" {
		ep.Path = cli.Path
	}
	if cli.Hostname != "" {
		ep.Hostname = cli.Hostname
	}
	return ep
}

// Addr is the address to bind: host:port, with IPv6 hosts bracketed once.
func (e Endpoint) Addr() string {
	host := strings.TrimSuffix(strings.TrimPrefix(e.Host, "["), "]")
	return net.JoinHostPort(host, e.Port)
}

// Validate rejects a port Reverb could never bind, with the value in the
// message, before anything is opened.
func (e Endpoint) Validate() error {
	n, err := strconv.Atoi(e.Port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid port %q: want a number from 0 to 65535", e.Port)
	}
	return nil
}

// StartLine is the message Reverb prints at start (spec §7.2): path raw, and
// the hostname in parentheses when set and different from the host.
func (e Endpoint) StartLine(secure bool) string {
	kind := "server"
	if secure {
		kind = "secure server"
	}
	line := fmt.Sprintf("Starting %s on %s:%s%s", kind, e.Host, e.Port, e.Path)
	if e.Hostname != "" && e.Hostname != e.Host {
		line += " (" + e.Hostname + ")"
	}
	return line
}

// listenOptions are servers.reverb.options.tcp for tcplisten.
func listenOptions(p *laravelcfg.Project) tcplisten.Options {
	t := p.Reverb.Server.TCP
	return tcplisten.Options{Backlog: t.Backlog, ReusePort: t.ReusePort, IPv6Only: t.IPv6Only}
}

// startWarnings prints what Config.StartChecks finds, once at start.
func startWarnings(c Config, p *laravelcfg.Project, ep Endpoint, secure bool, con *console.Writer) {
	if c.StartChecks == nil {
		return
	}
	for _, m := range c.StartChecks(p, ep, secure) {
		con.Warnf("%s", m)
	}
}
