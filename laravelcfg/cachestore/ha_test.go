package cachestore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/internal/testsvc"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
)

// The restart flag in highly available Redis deployments: Laravel's own
// RedisStore writes it through predis' Sentinel replication or phpredis'
// RedisCluster, Go reads the same bytes and writes them back, and both keep
// working after the master is killed.

// readUntil polls the store as the flag watcher does until it reads want,
// and returns how long that took.
func readFlagUntil(t *testing.T, st Store, want string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last error
	for time.Since(start) < timeout {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		f, err := st.Read(ctx)
		cancel()
		if err == nil && f.Present && string(f.Raw) == want {
			return time.Since(start)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the store did not read %q within %v (last error %v)", want, timeout, last)
	return 0
}

func TestOracleRedisSentinel(t *testing.T) {
	requirePHP(t)
	requireExt(t, "redis")
	phptest.RequireClasses(t, `Predis\Client`)
	s := testsvc.StartSentinel(t, testsvc.SentinelOptions{Password: "data-pw"})
	l := layouts[1]
	cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "redis")
	cfg = with(cfg, []string{"database", "redis", "client"}, "predis")
	// predis 2+ would read a list beside options.cluster as a cluster.
	cfg = with(cfg, []string{"database", "redis", "options", "cluster"}, nil)
	cfg = with(cfg, []string{"database", "redis", "cache"}, arr(0, "tcp://"+s.SentinelAddr()+"?timeout=0.5",
		"options", arr("replication", "sentinel", "service", s.Service(), "parameters", arr("password", "data-pw", "database", 1))))
	st := openStore(t, project(l, base, cfg))
	if w := Warnings(st); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	phpArgs := map[string]any{"store": "redis_sentinel", "sentinels": []string{"tcp://" + s.SentinelAddr()}, "service": s.Service(),
		"password": "data-pw", "db": 1, "redis_prefix": "laravel_database_", "prefix": "", "key": "laravel_cache_" + FlagKey}
	interop(t, st, phpArgs, fmt.Sprintf("redis sentinel %s via %s db 1 key laravel_database_laravel_cache_laravel:reverb:restart", s.Service(), s.SentinelAddr()),
		"1732200000", "string")

	// The write reached the replica before the crash.
	master := s.MasterAddr()
	waitReplicated(t, master, "data-pw")
	old := s.KillMaster()
	took := readFlagUntil(t, st, strconv.Itoa(goTS), 30*time.Second)
	t.Logf("restart flag readable again %v after the Sentinel master was killed", took.Round(10*time.Millisecond))
	s.WaitFailover(old, 30*time.Second)
	// PHP (asking the sentinel afresh) and Go meet on the new master.
	phpForever(t, phpArgs, phpTS+1)
	readFlagUntil(t, st, strconv.Itoa(phpTS+1), 10*time.Second)
	if err := st.Write(t.Context(), goTS+1); err != nil {
		t.Fatal(err)
	}
	if typ, v := phpGet(t, phpArgs); typ != "string" || v != strconv.Quote(strconv.Itoa(goTS+1)) {
		t.Errorf("PHP reads %s %s after Go wrote on the new master", typ, v)
	}
}

func TestOracleRedisCluster(t *testing.T) {
	requirePHP(t)
	requireExt(t, "redis")
	c := testsvc.StartCluster(t, testsvc.ClusterOptions{Password: "cluster-pw"})
	l := layouts[1]
	var nodes []any
	var seeds [][]any
	for _, a := range c.Addrs() {
		host, port, _ := strings.Cut(a, ":")
		p, _ := strconv.Atoi(port)
		nodes = append(nodes, arr("host", host, "port", p, "database", 0))
		seeds = append(seeds, []any{host, p})
	}
	cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "redis")
	cfg = with(cfg, []string{"database", "redis", "cache"}, nil)
	cfg = with(cfg, []string{"database", "redis", "clusters"}, arr("cache", list(nodes...)))
	cfg = with(cfg, []string{"database", "redis", "options", "password"}, "cluster-pw")
	st := openStore(t, project(l, base, cfg))
	key := "laravel_database_laravel_cache_" + FlagKey
	slot := c.Slot(key)
	if got := clusterSlot(key); got != slot {
		t.Fatalf("clusterSlot(%q) = %d, CLUSTER KEYSLOT says %d", key, got, slot)
	}
	phpArgs := map[string]any{"store": "redis_cluster", "nodes": seeds, "password": "cluster-pw",
		"redis_prefix": "laravel_database_", "prefix": "", "key": "laravel_cache_" + FlagKey}
	interop(t, st, phpArgs, fmt.Sprintf("redis cluster %s key %s (slot %d)", strings.Join(c.Addrs(), ","), key, slot), "1732200000", "string")

	// The key sits on the master of its slot, under exactly Laravel's name.
	owner := goredis.NewClient(&goredis.Options{Addr: c.MasterOf(key), Password: "cluster-pw", Protocol: 2, DisableIdentity: true})
	defer owner.Close()
	if v, err := owner.Get(t.Context(), key).Result(); err != nil || v != strconv.Itoa(goTS) {
		t.Fatalf("GET %s on the slot's master: %q, %v", key, v, err)
	}

	waitReplicated(t, c.MasterOf(key), "cluster-pw")
	old := c.KillMasterOf(key)
	took := readFlagUntil(t, st, strconv.Itoa(goTS), 30*time.Second)
	t.Logf("restart flag readable again %v after the slot's master was killed", took.Round(10*time.Millisecond))
	c.WaitNewMaster(key, old, 30*time.Second)
	phpForever(t, phpArgs, phpTS+1)
	readFlagUntil(t, st, strconv.Itoa(phpTS+1), 10*time.Second)
}

// waitReplicated blocks until the master's writes reached a replica (WAIT).
func waitReplicated(t *testing.T, master, password string) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: master, Password: password, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	if n, err := c.Do(t.Context(), "WAIT", 1, 5000).Int(); err != nil || n < 1 {
		t.Fatalf("WAIT on %s: %d replicas, %v", master, n, err)
	}
}
