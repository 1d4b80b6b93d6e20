package redisconn

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/internal/testsvc"
	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
)

func arr(kv ...any) php.Value  { return phptest.Arr(kv...) }
func list(vs ...any) php.Value { return phptest.List(vs...) }

// redisConfig is config('database.redis') of a fresh Laravel 12 app
// (REDIS_* unset) with edits applied: dotted path below database.redis →
// value.
func redisConfig(edits map[string]any) php.Value {
	conn := func(db string) php.Value {
		return arr("url", nil, "host", "127.0.0.1", "username", nil, "password", nil, "port", "6379", "database", db,
			"max_retries", 3, "backoff_algorithm", "decorrelated_jitter", "backoff_base", 100, "backoff_cap", 1000)
	}
	rc := arr("client", "phpredis",
		"options", arr("cluster", "redis", "persistent", false, "prefix", "laravel_database_"),
		"default", conn("0"), "cache", conn("1"))
	// Sorted, so a whole connection is set before its sub-keys.
	for _, k := range slices.Sorted(maps.Keys(edits)) {
		rc = phptest.With(rc, strings.Split(k, "."), edits[k])
	}
	return rc
}

func projectWith(rc php.Value) *laravelcfg.Project {
	return &laravelcfg.Project{Config: arr("database", arr("redis", rc))}
}

func resolveWith(t *testing.T, name string, edits map[string]any) (*Deployment, error) {
	t.Helper()
	return Resolve(projectWith(redisConfig(edits)), name)
}

// want is the part of a Deployment a case checks (TLS by presence).
type want struct {
	Mode                               Mode
	Network                            string
	Addrs                              []string
	Service                            string
	Username, Password                 string
	SentinelUsername, SentinelPassword string
	DB                                 int
	Prefix                             string
	TLS                                bool
	Source                             string
}

func got(d *Deployment) want {
	return want{d.Mode, d.Network, d.Addrs, d.Service, d.Username, d.Password, d.SentinelUsername, d.SentinelPassword, d.DB, d.Prefix, d.TLS != nil, d.Source}
}

func TestResolve(t *testing.T) {
	sentinels := list("tcp://10.0.0.1:26379?timeout=0.1&password=sentinel-pw", arr("host", "10.0.0.2", "port", 26380, "password", "sentinel-pw"))
	for _, tc := range []struct {
		name  string
		conn  string
		edits map[string]any
		want  want
	}{
		{"default connection", "", nil,
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"127.0.0.1:6379"}, Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"\"0\" is default", "0", nil,
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"127.0.0.1:6379"}, Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"cache db 1", "cache", nil,
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"127.0.0.1:6379"}, DB: 1, Prefix: "laravel_database_", Source: "database.redis.cache"}},
		{"REDIS_URL overrides", "cache", map[string]any{"cache.url": "redis://app:s3cret@cache.internal:6390/4"},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"cache.internal:6390"}, Username: "app", Password: "s3cret", DB: 4, Prefix: "laravel_database_", Source: "database.redis.cache"}},
		{"rediss URL is TLS", "", map[string]any{"default.url": "rediss://cache.example:6380"},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"cache.example:6380"}, Prefix: "laravel_database_", TLS: true, Source: "database.redis.default"}},
		{"scheme tls", "", map[string]any{"default.scheme": "tls"},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"127.0.0.1:6379"}, Prefix: "laravel_database_", TLS: true, Source: "database.redis.default"}},
		{"host with tls://", "", map[string]any{"default.host": "tls://cache.example"},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"cache.example:6379"}, Prefix: "laravel_database_", TLS: true, Source: "database.redis.default"}},
		{"unix socket", "", map[string]any{"default.host": "/run/redis.sock"},
			want{Mode: Standalone, Network: "unix", Addrs: []string{"/run/redis.sock"}, Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"ipv6", "", map[string]any{"default.url": "redis://[::1]:6390/2"},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"[::1]:6390"}, DB: 2, Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"ACL user needs a password (phpredis)", "", map[string]any{"default.username": "app"},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"127.0.0.1:6379"}, Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"phpredis prefix 0 is empty()", "", map[string]any{"options.prefix": "0"},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"127.0.0.1:6379"}, Source: "database.redis.default"}},
		{"predis prefix 0 is kept", "", map[string]any{"options.prefix": "0", "client": "predis"},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"127.0.0.1:6379"}, Prefix: "0", Source: "database.redis.default"}},
		{"connection prefix wins", "", map[string]any{"default.prefix": "direct_", "default.options": arr("prefix", "opt_")},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"127.0.0.1:6379"}, Prefix: "direct_", Source: "database.redis.default"}},
		{"connection options over redis.options", "", map[string]any{"default.options": arr("prefix", "opt_")},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"127.0.0.1:6379"}, Prefix: "opt_", Source: "database.redis.default"}},
		{"phpredis: redis.options can carry connection keys", "", map[string]any{"options.password": "from-options"},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"127.0.0.1:6379"}, Password: "from-options", Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"predis: parameters fill missing keys", "", map[string]any{"client": "predis", "default": arr("host", "10.0.0.9"), "options.parameters": arr("password", "pw", "database", 3)},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"10.0.0.9:6379"}, Password: "pw", DB: 3, Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"predis: parameters per connection name", "", map[string]any{"client": "predis", "default": arr("host", "h"), "options.parameters": arr("default", arr("database", 5), "database", 6)},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"h:6379"}, DB: 5, Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"predis unix path", "", map[string]any{"client": "predis", "default": arr("scheme", "unix", "path", "/run/r.sock")},
			want{Mode: Standalone, Network: "unix", Addrs: []string{"/run/r.sock"}, Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"a string connection is a URL", "", map[string]any{"default": "redis://h:7000/3"},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"h:7000"}, DB: 3, Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"predis sentinel", "", map[string]any{"client": "predis", "options.cluster": nil, "default": sentinels,
			"default.options": arr("replication", "sentinel", "service", "mymaster", "parameters", arr("password", "master-pw", "username", "app", "database", 2))},
			want{Mode: Sentinel, Network: "tcp", Addrs: []string{"10.0.0.1:26379", "10.0.0.2:26380"}, Service: "mymaster", Username: "app", Password: "master-pw",
				SentinelUsername: "app", SentinelPassword: "sentinel-pw", DB: 2, Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"predis sentinel over TLS", "", map[string]any{"client": "predis", "options.cluster": nil,
			"default": list("tls://10.0.0.1:26379"), "default.options": arr("replication", "redis-sentinel", "service", "m", "parameters", arr("scheme", "tls"))},
			want{Mode: Sentinel, Network: "tcp", Addrs: []string{"10.0.0.1:26379"}, Service: "m", Prefix: "laravel_database_", TLS: true, Source: "database.redis.default"}},
		{"predis list with cluster redis", "", map[string]any{"client": "predis", "default": list("tcp://10.0.0.1:7000", "redis://:pw@10.0.0.2:7001")},
			want{Mode: Cluster, Network: "tcp", Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7001"}, Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"predis replication uses the master", "", map[string]any{"client": "predis", "options.cluster": nil,
			"default": list("tcp://10.0.0.1?role=slave", "tcp://10.0.0.2?role=master"), "default.options": arr("replication", "predis")},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"10.0.0.2:6379"}, Prefix: "laravel_database_", Source: "database.redis.default"}},
		{"phpredis cluster", "main", map[string]any{"clusters": arr("options", arr("password", "cpw", "username", "app"),
			"main", list(arr("host", "10.0.0.1", "port", 7000, "password", "ignored"), arr("url", "redis://10.0.0.2:7001")))},
			want{Mode: Cluster, Network: "tcp", Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7001"}, Username: "app", Password: "cpw", Prefix: "laravel_database_", Source: "database.redis.clusters.main"}},
		{"phpredis cluster over TLS, own options", "main", map[string]any{"clusters": arr("main", arr(0, arr("host", "tls://10.0.0.1", "port", 7000), "options", arr("prefix", "c_")))},
			want{Mode: Cluster, Network: "tcp", Addrs: []string{"10.0.0.1:7000"}, Prefix: "c_", TLS: true, Source: "database.redis.clusters.main"}},
		{"predis cluster: node password", "main", map[string]any{"client": "predis",
			"clusters": arr("main", list(arr("host", "10.0.0.1", "port", 7000, "password", "npw")))},
			want{Mode: Cluster, Network: "tcp", Addrs: []string{"10.0.0.1:7000"}, Password: "npw", Prefix: "laravel_database_", Source: "database.redis.clusters.main"}},
		{"a connection wins over a cluster of the same name", "", map[string]any{"clusters": arr("default", list(arr("host", "c")))},
			want{Mode: Standalone, Network: "tcp", Addrs: []string{"127.0.0.1:6379"}, Prefix: "laravel_database_", Source: "database.redis.default"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := resolveWith(t, tc.conn, tc.edits)
			if err != nil {
				t.Fatal(err)
			}
			if g := got(d); !reflect.DeepEqual(g, tc.want) {
				t.Errorf("\n got %+v\nwant %+v", g, tc.want)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		conn        string
		edits       map[string]any
		err         string
		unsupported bool
	}{
		{"not configured", "sessions", nil, "config database.redis.sessions is missing: Redis connection [sessions] not configured", false},
		{"custom client", "", map[string]any{"client": "relay"}, "Redis client [relay]", true},
		{"bad port", "", map[string]any{"default.port": "abc"}, `config database.redis.default.port: "abc" is not a port`, false},
		{"bad scheme", "", map[string]any{"default.scheme": "http"}, `unsupported Redis scheme "http"`, false},
		{"scheme mismatch", "", map[string]any{"default.scheme": "tcp", "default.host": "tls://h"}, "does not match the scheme option", false},
		{"phpredis list", "", map[string]any{"default": list("tcp://a", "tcp://b")}, "phpredis connector cannot use", false},
		{"sentinel without service", "", map[string]any{"client": "predis", "default": list("tcp://a:26379"), "default.options": arr("replication", "sentinel")},
			"config database.redis.default.options.service: is missing", false},
		{"client-side sharding", "", map[string]any{"client": "predis", "options.cluster": "predis", "default": list("tcp://a", "tcp://b")}, "client-side sharding", true},
		{"predis cluster without cluster redis", "main", map[string]any{"client": "predis", "options.cluster": nil, "clusters": arr("main", list(arr("host", "a")))}, "only 'redis'", true},
		{"sentinel TLS only on one side", "", map[string]any{"client": "predis", "options.cluster": nil, "default": list("tls://a:26379"),
			"default.options": arr("replication", "sentinel", "service", "m")}, "differ in TLS", true},
		{"missing CA file", "", map[string]any{"default.scheme": "tls", "default.context": arr("cafile", "/nonexistent/ca.pem")}, "config database.redis.default.context.cafile: open /nonexistent/ca.pem", false},
		{"unknown value", "", map[string]any{"default.port": php.UnknownValue("call to custom()", "config/database.php:9")}, "database.redis.default.port cannot be evaluated without PHP", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolveWith(t, tc.conn, tc.edits)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if errors.Is(err, ErrUnsupported) != tc.unsupported {
				t.Errorf("errors.Is(ErrUnsupported) = %v", !tc.unsupported)
			}
		})
	}
}

func TestResolveWarnings(t *testing.T) {
	for _, tc := range []struct {
		name, conn string
		edits      map[string]any
		warn       string
	}{
		{"sentinel beside a cluster option", "", map[string]any{"client": "predis", "default": list("tcp://a:26379"),
			"default.options": arr("replication", "sentinel", "service", "m")}, "predis 2 and newer then treat this list as a Redis Cluster"},
		{"phpredis cluster reads no node password", "c", map[string]any{"clusters": arr("c", list(arr("host", "a", "port", 1, "password", "x")))},
			"reads only the options' password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := resolveWith(t, tc.conn, tc.edits)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(d.Warnings, "\n"), tc.warn) {
				t.Errorf("warnings %q lack %q", d.Warnings, tc.warn)
			}
		})
	}
}

func TestResolveTLSOptions(t *testing.T) {
	ca := testsvc.NewPKI(t).CAFile
	for _, tc := range []struct {
		name    string
		edits   map[string]any
		check   func(*TLS) bool
		comment string
	}{
		{"phpredis context.stream", map[string]any{"default.scheme": "tls", "default.context": arr("stream", arr("cafile", ca, "verify_peer_name", false))},
			func(t *TLS) bool {
				return t.CAFile == ca && t.VerifyPeer && !t.VerifyPeerName && t.Config.RootCAs != nil && t.Config.VerifyConnection != nil
			}, "chain checked by hand, no name"},
		{"phpredis context.ssl", map[string]any{"default.scheme": "tls", "default.context": arr("ssl", arr("verify_peer", false))},
			func(t *TLS) bool {
				return !t.VerifyPeer && t.Config.InsecureSkipVerify && t.Config.VerifyConnection == nil
			}, "no verification"},
		{"phpredis flat context, peer_name", map[string]any{"default.url": "rediss://10.0.0.1", "default.context": arr("peer_name", "cache.example")},
			func(t *TLS) bool {
				return t.PeerName == "cache.example" && t.Config.ServerName == "cache.example" && !t.Config.InsecureSkipVerify
			}, "peer name"},
		{"predis ssl", map[string]any{"client": "predis", "default.scheme": "tls", "default.ssl": arr("cafile", ca, "allow_self_signed", true)},
			func(t *TLS) bool { return t.CAFile == ca && t.AllowSelfSigned && t.Config.VerifyConnection != nil }, "self-signed"},
		{"system CAs by default", map[string]any{"default.scheme": "tls"},
			func(t *TLS) bool {
				return t.Config.RootCAs == nil && !t.Config.InsecureSkipVerify && t.VerifyPeer && t.VerifyPeerName
			}, "defaults"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := resolveWith(t, "", tc.edits)
			if err != nil {
				t.Fatal(err)
			}
			if d.TLS == nil || !tc.check(d.TLS) {
				t.Errorf("%s: TLS %+v", tc.comment, d.TLS)
			}
		})
	}
}

func TestFromReverbServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   laravelcfg.RedisServer
		want want
		err  string
	}{
		{"defaults", laravelcfg.RedisServer{}, want{Addrs: []string{"127.0.0.1:6379"}}, ""},
		{"host port db", laravelcfg.RedisServer{Host: "redis.internal", Port: "6380", Password: "p", Database: 2}, want{Addrs: []string{"redis.internal:6380"}, Password: "p", DB: 2}, ""},
		{"scheme tls", laravelcfg.RedisServer{Host: "h", Port: "6379", Scheme: "tls"}, want{Addrs: []string{"h:6379"}, TLS: true}, ""},
		{"url overrides", laravelcfg.RedisServer{URL: "redis://u:pw@10.0.0.5:7000/4", Host: "h", Port: "1", Password: "x"}, want{Addrs: []string{"10.0.0.5:7000"}, Username: "u", Password: "pw", DB: 4}, ""},
		{"rediss", laravelcfg.RedisServer{URL: "rediss://cache.example.com", Port: "6380"}, want{Addrs: []string{"cache.example.com:6380"}, TLS: true}, ""},
		{"url query", laravelcfg.RedisServer{URL: "tcp://h:1?password=q&database=5"}, want{Addrs: []string{"h:1"}, Password: "q", DB: 5}, ""},
		{"ipv6", laravelcfg.RedisServer{Host: "::1", Port: "6379"}, want{Addrs: []string{"[::1]:6379"}}, ""},
		{"bad scheme", laravelcfg.RedisServer{URL: "http://h"}, want{}, "scheme \"http\""},
		{"bad db", laravelcfg.RedisServer{URL: "redis://h/x"}, want{}, "database \"x\""},
		{"bad port", laravelcfg.RedisServer{Host: "h", Port: "abc"}, want{}, "port: \"abc\""},
		{"unix", laravelcfg.RedisServer{Host: "/run/redis.sock"}, want{}, "unix sockets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := FromReverbServer(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Mode, tc.want.Network, tc.want.Source = Standalone, "tcp", ReverbServerSource
			if g := got(d); !reflect.DeepEqual(g, tc.want) {
				t.Errorf("\n got %+v\nwant %+v", g, tc.want)
			}
		})
	}
}

func TestForScaling(t *testing.T) {
	p := projectWith(redisConfig(map[string]any{"ha": arr("host", "10.0.0.7")}))
	p.Reverb.Server.Scaling = laravelcfg.Scaling{Enabled: true, Server: laravelcfg.RedisServer{Host: "10.0.0.1", Port: "6379"}}
	d, err := ForScaling(p)
	if err != nil || d.Source != ReverbServerSource || d.Addrs[0] != "10.0.0.1:6379" || d.Prefix != "" {
		t.Fatalf("scaling.server: %+v, %v", d, err)
	}
	p.Reverb.Server.Scaling.Connection, p.Reverb.Server.Scaling.ConnectionFrom = "ha", ScalingEnv
	if d, err = ForScaling(p); err != nil || d.Source != "database.redis.ha" || d.Addrs[0] != "10.0.0.7:6379" {
		t.Fatalf("connection: %+v, %v", d, err)
	}
	p.Reverb.Server.Scaling.Connection = "nope"
	if _, err = ForScaling(p); err == nil || !strings.Contains(err.Error(), "scaling connection [nope] (REVERB_SCALING_CONNECTION): config database.redis.nope is missing") {
		t.Fatalf("missing: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	d := &Deployment{Name: "ha", Source: "database.redis.ha", Client: "predis", Mode: Sentinel, Addrs: []string{"10.0.0.1:26379", "10.0.0.2:26379"},
		Service: "mymaster", Username: "app", Password: "master-secret", SentinelPassword: "sentinel-secret", DB: 1, Prefix: "laravel_database_",
		TLS: &TLS{CAFile: "/etc/ca.pem", CertFile: "/etc/client.pem", VerifyPeer: true, VerifyPeerName: true}}
	const masked = `sentinel mymaster via 10.0.0.1:26379,10.0.0.2:26379 db 1 (tls), tls: ca /etc/ca.pem, client cert /etc/client.pem, user app password ma*********et, sentinel password se***********et, key prefix "laravel_database_" — predis connection [ha] (database.redis.ha)`
	if s := d.Describe(false); s != masked {
		t.Errorf("Describe(false)\n got %s\nwant %s", s, masked)
	}
	if s := d.Describe(true); !strings.Contains(s, "master-secret") || !strings.Contains(s, "sentinel-secret") {
		t.Errorf("Describe(true) = %s", s)
	}
	for _, tc := range []struct {
		d    Deployment
		want string
	}{
		{Deployment{Mode: Standalone, Network: "tcp", Addrs: []string{"h:1"}, DB: 2, TLS: &TLS{}}, "rediss://h:1/2"},
		{Deployment{Mode: Standalone, Network: "unix", Addrs: []string{"/s"}}, "unix:/s"},
		{Deployment{Mode: Cluster, Addrs: []string{"a:1", "b:2"}}, "cluster a:1,b:2"},
	} {
		if w := tc.d.Where(); w != tc.want {
			t.Errorf("Where() = %q, want %q", w, tc.want)
		}
	}
}

func TestNewClient(t *testing.T) {
	for _, tc := range []struct {
		d    Deployment
		kind string
	}{
		{Deployment{Mode: Standalone, Network: "tcp", Addrs: []string{"127.0.0.1:1"}}, "*redis.Client"},
		{Deployment{Mode: Sentinel, Network: "tcp", Addrs: []string{"127.0.0.1:1"}, Service: "m"}, "*redis.Client"},
		{Deployment{Mode: Cluster, Network: "tcp", Addrs: []string{"127.0.0.1:1"}}, "*redis.ClusterClient"},
	} {
		c := tc.d.NewClient(ClientOptions{DialTimeout: 100 * time.Millisecond})
		if k := reflect.TypeOf(c).String(); k != tc.kind {
			t.Errorf("%s: %s, want %s", tc.d.Mode, k, tc.kind)
		}
		if cc, ok := c.(*goredis.ClusterClient); ok && cc.Options().Protocol != 2 {
			t.Errorf("cluster protocol %d", cc.Options().Protocol)
		}
		_ = c.Close()
	}
}

// FuzzResolve: any url, host, scheme or sentinel entry gives a deployment
// with an address or an error, never a panic.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"tcp://h:1?timeout=0.1&password=x", "redis://:pw@h/2", "unix:///tmp/s", "rediss://u:p@[::1]:6380/3",
		"", "://", "tls://h", "redis://h:99999", "tcp://h?database=x"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, edits := range []map[string]any{
			{"default.url": a},
			{"client": "predis", "options.cluster": nil, "default": list(a, b), "default.options": arr("replication", "sentinel", "service", "m")},
			{"client": "predis", "default": list(a, arr("host", b))},
			{"default.host": a, "default.scheme": b},
			{"clusters": arr("default", list(a, arr("url", b)))},
		} {
			d, err := resolveWith(t, "", edits)
			if err != nil {
				continue
			}
			if len(d.Addrs) == 0 {
				t.Fatalf("%v: a deployment without an address: %+v", edits, d)
			}
			_ = d.Describe(false)
		}
	})
}
