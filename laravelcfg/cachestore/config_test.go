package cachestore

import (
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/internal/cfgtree"
)

func TestDialHost(t *testing.T) {
	tests := map[string]string{"[::1]": "::1", "::1": "::1", "h": "h", "[]": "[]", "": ""}
	for in, want := range tests {
		if got := cfgtree.DialHost(in); got != want {
			t.Errorf("cfgtree.DialHost(%q) = %q, want %q", in, got, want)
		}
	}
	// parse_url keeps the brackets in config; the Redis address is dialable.
	n, err := cfgtree.ApplyURL(node{Path: "database.redis.cache", Arr: arr("url", "redis://[::1]:6390/2").ArrayVal()})
	if err != nil {
		t.Fatal(err)
	}
	if h, _, _ := n.Str("host"); h != "[::1]" {
		t.Errorf("config host = %q, want [::1] as PHP has it", h)
	}
	opt, err := redisOptions(n)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Addr != "[::1]:6390" || opt.DB != 2 {
		t.Errorf("Addr %q DB %d", opt.Addr, opt.DB)
	}
}
