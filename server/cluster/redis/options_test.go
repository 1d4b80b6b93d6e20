package redis

import (
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
)

func TestResolveEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   laravelcfg.RedisServer
		want Endpoint
		err  string
	}{
		{"defaults", laravelcfg.RedisServer{}, Endpoint{Addr: "127.0.0.1:6379"}, ""},
		{"host port db", laravelcfg.RedisServer{Host: "redis.internal", Port: "6380", Password: "p", Database: 2}, Endpoint{Addr: "redis.internal:6380", Password: "p", DB: 2}, ""},
		{"scheme tls", laravelcfg.RedisServer{Host: "h", Port: "6379", Scheme: "tls"}, Endpoint{Addr: "h:6379", TLS: true}, ""},
		{"url overrides", laravelcfg.RedisServer{URL: "redis://u:pw@10.0.0.5:7000/4", Host: "h", Port: "1", Password: "x"}, Endpoint{Addr: "10.0.0.5:7000", Username: "u", Password: "pw", DB: 4}, ""},
		{"rediss", laravelcfg.RedisServer{URL: "rediss://cache.example.com", Port: "6380"}, Endpoint{Addr: "cache.example.com:6380", TLS: true}, ""},
		{"url query", laravelcfg.RedisServer{URL: "tcp://h:1?password=q&database=5"}, Endpoint{Addr: "h:1", Password: "q", DB: 5}, ""},
		{"ipv6", laravelcfg.RedisServer{Host: "::1", Port: "6379"}, Endpoint{Addr: "[::1]:6379"}, ""},
		{"bad scheme", laravelcfg.RedisServer{URL: "http://h"}, Endpoint{}, "scheme \"http\""},
		{"bad db", laravelcfg.RedisServer{URL: "redis://h/x"}, Endpoint{}, "database \"x\""},
		{"bad port", laravelcfg.RedisServer{Host: "h", Port: "abc"}, Endpoint{}, "port: \"abc\""},
		{"unix", laravelcfg.RedisServer{Host: "/run/redis.sock"}, Endpoint{}, "unix sockets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveEndpoint(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if s := (Endpoint{Addr: "h:1", DB: 2, TLS: true, Password: "secret"}).String(); s != "rediss://h:1/2" {
		t.Fatalf("String() = %q", s)
	}
}
