package redisconn

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/internal/cfgtree"
)

// ReverbServerSource names Reverb's scaling.server in messages.
const ReverbServerSource = "reverb.servers.reverb.scaling.server"

// FromReverbServer reads Reverb's scaling.server (or the
// database.redis.default it falls back to) the way Reverb's RedisClient
// builds its redis[s]://host:port?username=&password=&db= URL: url (when
// set) overrides host, port, username, password and database (path /N is
// the database; query parameters as Laravel's ConfigurationUrlParser
// merges them); scheme rediss or tls, or a `scheme` key of "tls", enables
// TLS with the system CAs. Other keys (prefix, context, options) are not
// read, as in Reverb: name a connection with REVERB_SCALING_CONNECTION for
// those.
func FromReverbServer(s laravelcfg.RedisServer) (*Deployment, error) {
	host, port := s.Host, s.Port
	d := &Deployment{Name: "scaling.server", Source: ReverbServerSource, Mode: Standalone, Network: "tcp",
		Username: s.Username, Password: s.Password, DB: s.Database}
	useTLS := strings.EqualFold(s.Scheme, "tls")
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		if err != nil {
			return nil, fmt.Errorf("scaling.server.url: %v", err)
		}
		switch strings.ToLower(u.Scheme) {
		case "rediss", "tls":
			useTLS = true
		case "redis", "tcp", "":
		default:
			return nil, fmt.Errorf("scaling.server.url: scheme %q is not redis, rediss, tcp or tls", u.Scheme)
		}
		if h := u.Hostname(); h != "" {
			host = h
		}
		if p := u.Port(); p != "" {
			port = p
		}
		if u.User != nil {
			if name := u.User.Username(); name != "" {
				d.Username = name
			}
			if pw, ok := u.User.Password(); ok {
				d.Password = pw
			}
		}
		if p := strings.Trim(u.Path, "/"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil, fmt.Errorf("scaling.server.url: database %q is not a number", p)
			}
			d.DB = n
		}
		q := u.Query()
		if v := q.Get("password"); v != "" {
			d.Password = v
		}
		if v := q.Get("username"); v != "" {
			d.Username = v
		}
		for _, k := range []string{"database", "db"} {
			if v := q.Get(k); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil {
					return nil, fmt.Errorf("scaling.server.url: %s %q is not a number", k, v)
				}
				d.DB = n
			}
		}
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" || port == "0" {
		port = "6379"
	}
	if _, err := strconv.Atoi(port); err != nil {
		return nil, fmt.Errorf("scaling.server.port: %q is not a number", port)
	}
	// A host written as a unix socket path has no port.
	if strings.HasPrefix(host, "/") {
		return nil, fmt.Errorf("scaling.server.host: unix sockets (%s) are not supported", host)
	}
	d.Addrs = []string{net.JoinHostPort(host, port)}
	if useTLS {
		t, err := buildTLS(cfgtree.Node{}, host)
		if err != nil {
			return nil, err
		}
		d.TLS = t
	}
	return d, nil
}
