package redis

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/laravelcfg"
)

// Endpoint is where and how to connect, resolved from scaling.server the
// way Reverb builds its connection URL (§10.1).
type Endpoint struct {
	Addr     string // host:port
	Username string
	Password string
	DB       int
	TLS      bool
}

// String names the endpoint for log lines, without credentials.
func (e Endpoint) String() string {
	s := "redis://"
	if e.TLS {
		s = "rediss://"
	}
	s += e.Addr
	if e.DB != 0 {
		s += "/" + strconv.Itoa(e.DB)
	}
	return s
}

// ResolveEndpoint applies Reverb's rules: url (when set) overrides host,
// port, username, password and database (path /N is the database; query
// parameters are merged like Laravel's ConfigurationUrlParser does);
// scheme rediss or tls, or a `scheme` key of "tls", enables TLS.
func ResolveEndpoint(s laravelcfg.RedisServer) (Endpoint, error) {
	host, port := s.Host, s.Port
	e := Endpoint{Username: s.Username, Password: s.Password, DB: s.Database, TLS: strings.EqualFold(s.Scheme, "tls")}
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		if err != nil {
			return Endpoint{}, fmt.Errorf("scaling.server.url: %v", err)
		}
		switch strings.ToLower(u.Scheme) {
		case "rediss", "tls":
			e.TLS = true
		case "redis", "tcp", "":
		default:
			return Endpoint{}, fmt.Errorf("scaling.server.url: scheme %q is not redis, rediss, tcp or tls", u.Scheme)
		}
		if h := u.Hostname(); h != "" {
			host = h
		}
		if p := u.Port(); p != "" {
			port = p
		}
		if u.User != nil {
			if name := u.User.Username(); name != "" {
				e.Username = name
			}
			if pw, ok := u.User.Password(); ok {
				e.Password = pw
			}
		}
		if p := strings.Trim(u.Path, "/"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				return Endpoint{}, fmt.Errorf("scaling.server.url: database %q is not a number", p)
			}
			e.DB = n
		}
		q := u.Query()
		if v := q.Get("password"); v != "" {
			e.Password = v
		}
		if v := q.Get("username"); v != "" {
			e.Username = v
		}
		for _, k := range []string{"database", "db"} {
			if v := q.Get(k); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil {
					return Endpoint{}, fmt.Errorf("scaling.server.url: %s %q is not a number", k, v)
				}
				e.DB = n
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
		return Endpoint{}, fmt.Errorf("scaling.server.port: %q is not a number", port)
	}
	// A host written as a unix socket path has no port.
	if strings.HasPrefix(host, "/") {
		return Endpoint{}, fmt.Errorf("scaling.server.host: unix sockets (%s) are not supported", host)
	}
	e.Addr = net.JoinHostPort(host, port)
	return e, nil
}

// clientOptions turns an endpoint into go-redis options. Retries are
// ours (queue and backoff), so go-redis makes one attempt per call.
func (e Endpoint) clientOptions(dialTimeout time.Duration, tlsConfig *tls.Config) *goredis.Options {
	o := &goredis.Options{
		Addr:            e.Addr,
		Username:        e.Username,
		Password:        e.Password,
		DB:              e.DB,
		Protocol:        2, // RESP2 like Reverb's client; works with every Redis
		DisableIdentity: true,
		MaxRetries:      -1,
		DialTimeout:     dialTimeout,
		ReadTimeout:     dialTimeout,
		WriteTimeout:    dialTimeout,
	}
	if e.TLS {
		if tlsConfig != nil {
			o.TLSConfig = tlsConfig.Clone()
		} else {
			o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if o.TLSConfig.ServerName == "" {
			o.TLSConfig.ServerName, _, _ = net.SplitHostPort(e.Addr)
		}
	}
	return o
}
