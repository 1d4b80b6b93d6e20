package testsvc

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// SentinelOptions shape a Sentinel set; zero values take the defaults.
type SentinelOptions struct {
	// Service is the master's name; default "mymaster".
	Service string
	// Password protects the data nodes (requirepass, masterauth) and is
	// what the sentinel authenticates to them with.
	Password string
	// SentinelPassword protects the sentinel itself (requirepass).
	SentinelPassword string
	// DownAfter is down-after-milliseconds: how long the master must be
	// unreachable before it is failed over; default 1s.
	DownAfter time.Duration
}

// SentinelSet is a master, a replica and one sentinel watching them, each
// its own redis-server on a private port. The sentinel alone decides (quorum
// 1), so killing the master promotes the replica a second or two later.
type SentinelSet struct {
	t        testing.TB
	opts     SentinelOptions
	Nodes    []*Redis // the master first, then the replica
	Sentinel *Redis
}

// StartSentinel starts the set and waits until the sentinel knows the
// replica (so it can fail over).
func StartSentinel(t testing.TB, opts SentinelOptions) *SentinelSet {
	t.Helper()
	requireBin(t, "redis-server", "redis-server")
	if opts.Service == "" {
		opts.Service = "mymaster"
	}
	if opts.DownAfter <= 0 {
		opts.DownAfter = time.Second
	}
	s := &SentinelSet{t: t, opts: opts}
	// A replica syncs at once instead of after the default 5 s delay, and
	// writes the RDB it receives into a temporary folder, not the test's.
	auth := []string{"--repl-diskless-sync-delay", "0", "--dir", t.TempDir()}
	if opts.Password != "" {
		auth = append(auth, "--requirepass", opts.Password, "--masterauth", opts.Password)
	}
	master := StartRedis(t, auth...)
	replica := StartRedis(t, append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port)}, auth...)...)
	s.Nodes = []*Redis{master, replica}

	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	lines := []string{
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1", opts.Service, master.Port),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", opts.Service, opts.DownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s 10000", opts.Service),
		fmt.Sprintf("sentinel parallel-syncs %s 1", opts.Service),
	}
	if opts.Password != "" {
		lines = append(lines, fmt.Sprintf("sentinel auth-pass %s %s", opts.Service, opts.Password))
	}
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sargs := []string{"--sentinel"}
	if opts.SentinelPassword != "" {
		sargs = append(sargs, "--requirepass", opts.SentinelPassword)
	}
	// Sentinel does not accept --save/--appendonly; its config carries
	// only what it needs.
	s.Sentinel = &Redis{t: t, Port: FreePort(t), conf: conf, args: sargs, sentinel: true}
	s.Sentinel.Start()
	t.Cleanup(s.Sentinel.Stop)

	s.waitReady(master.Addr(), 30*time.Second)
	return s
}

// SentinelAddr is the sentinel's "127.0.0.1:port".
func (s *SentinelSet) SentinelAddr() string { return s.Sentinel.Addr() }

// Service is the master's name.
func (s *SentinelSet) Service() string { return s.opts.Service }

func (s *SentinelSet) sentinelClient() *goredis.SentinelClient {
	return goredis.NewSentinelClient(&goredis.Options{Addr: s.SentinelAddr(), Password: s.opts.SentinelPassword,
		Protocol: 2, DisableIdentity: true, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
}

// MasterAddr asks the sentinel where the master is.
func (s *SentinelSet) MasterAddr() string {
	s.t.Helper()
	c := s.sentinelClient()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := c.GetMasterAddrByName(ctx, s.opts.Service).Result()
	if err != nil {
		s.t.Fatalf("sentinel get-master-addr-by-name: %v", err)
	}
	return net.JoinHostPort(a[0], a[1])
}

// Node returns the data node listening on addr.
func (s *SentinelSet) Node(addr string) *Redis {
	for _, n := range s.Nodes {
		if n.Addr() == addr {
			return n
		}
	}
	s.t.Fatalf("no node at %s", addr)
	return nil
}

// waitReady waits until the sentinel sees master and its replica, the
// replica is in sync, and the sentinel would pick it.
func (s *SentinelSet) waitReady(master string, timeout time.Duration) {
	s.t.Helper()
	c := s.sentinelClient()
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		replicas, err := c.Replicas(ctx, s.opts.Service).Result()
		cancel()
		if err == nil {
			for _, r := range replicas {
				if r["flags"] == "slave" && r["master-link-status"] == "ok" && r["master-host"]+":"+r["master-port"] == master {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("sentinel never saw a synced replica of %s: %v %v", master, replicas, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// KillMaster kills the current master like a crash and returns its address.
func (s *SentinelSet) KillMaster() string {
	s.t.Helper()
	old := s.MasterAddr()
	s.Node(old).Stop()
	return old
}

// WaitFailover waits until the sentinel names a master other than old
// that answers as a master, and returns its address.
func (s *SentinelSet) WaitFailover(old string, timeout time.Duration) string {
	s.t.Helper()
	c := s.sentinelClient()
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		a, err := c.GetMasterAddrByName(ctx, s.opts.Service).Result()
		cancel()
		if err == nil {
			if addr := net.JoinHostPort(a[0], a[1]); addr != old && s.roleIs(addr, "master") {
				return addr
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("no failover from %s within %v", old, timeout)
	return ""
}

func (s *SentinelSet) roleIs(addr, role string) bool {
	return nodeRole(addr, s.opts.Password) == role
}

// nodeRole is the first element of ROLE ("master", "slave") or "".
func nodeRole(addr, password string) string {
	c := goredis.NewClient(&goredis.Options{Addr: addr, Password: password, Protocol: 2, DisableIdentity: true,
		DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := c.Do(ctx, "ROLE").Slice()
	if err != nil || len(v) == 0 {
		return ""
	}
	r, _ := v[0].(string)
	return r
}

// ---- Redis Cluster ----

// ClusterOptions shape a Redis Cluster; zero values take the defaults.
type ClusterOptions struct {
	// Masters is the number of masters; default 3.
	Masters int
	// ReplicasPerMaster; default 1 (so a master can fail over).
	ReplicasPerMaster int
	// Password protects every node (requirepass, masterauth).
	Password string
	// NodeTimeout is cluster-node-timeout; default 1s.
	NodeTimeout time.Duration
	// Args are added to every node's command line (TLS options...).
	Args []string
}

// ClusterSet is a Redis Cluster built with `redis-cli --cluster create` on
// private ports (client port and cluster bus port both chosen free, anew
// when a node cannot bind them).
type ClusterSet struct {
	t     testing.TB
	opts  ClusterOptions
	Nodes []*Redis
}

// StartCluster starts the nodes, creates the cluster and waits until every
// slot is served and every replica is in sync.
func StartCluster(t testing.TB, opts ClusterOptions) *ClusterSet {
	t.Helper()
	requireBin(t, "redis-server", "redis-server")
	requireBin(t, "redis-cli", "redis-tools")
	if opts.Masters <= 0 {
		opts.Masters = 3
	}
	if opts.ReplicasPerMaster < 0 {
		opts.ReplicasPerMaster = 0
	} else if opts.ReplicasPerMaster == 0 {
		opts.ReplicasPerMaster = 1
	}
	if opts.NodeTimeout <= 0 {
		opts.NodeTimeout = time.Second
	}
	c := &ClusterSet{t: t, opts: opts}
	n := opts.Masters * (1 + opts.ReplicasPerMaster)
	create := []string{"--cluster", "create"}
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		args := []string{"--cluster-enabled", "yes",
			"--cluster-node-timeout", strconv.FormatInt(opts.NodeTimeout.Milliseconds(), 10),
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--dir", dir, "--repl-diskless-sync-delay", "0",
			// A replica counts as online once its offset moved: ping
			// replicas every second rather than every 10.
			"--repl-ping-replica-period", "1"}
		if opts.Password != "" {
			args = append(args, "--requirepass", opts.Password, "--masterauth", opts.Password)
		}
		// The bus port is chosen with the client port, anew when a start
		// retries on another port.
		node := startRedis(t, func() []string { return []string{"--cluster-port", strconv.Itoa(FreePort(t))} }, append(args, opts.Args...)...)
		c.Nodes = append(c.Nodes, node)
		create = append(create, node.Addr())
	}
	create = append(create, "--cluster-replicas", strconv.Itoa(opts.ReplicasPerMaster), "--cluster-yes")
	cmd := exec.Command("redis-cli", create...)
	if opts.Password != "" {
		cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+opts.Password)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitHealthy(60 * time.Second)
	return c
}

// Addrs are the nodes' "127.0.0.1:port", masters and replicas.
func (c *ClusterSet) Addrs() []string {
	var a []string
	for _, n := range c.Nodes {
		a = append(a, n.Addr())
	}
	return a
}

// node finds the running node at addr.
func (c *ClusterSet) node(addr string) *Redis {
	for _, n := range c.Nodes {
		if n.Addr() == addr && n.Running() {
			return n
		}
	}
	c.t.Fatalf("no running cluster node at %s", addr)
	return nil
}

func (c *ClusterSet) client(addr string) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: addr, Password: c.opts.Password, Protocol: 2, DisableIdentity: true,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1})
}

// slotOwners asks a running node which master and replicas serve slot
// (CLUSTER SHARDS; nodes marked failed are left out).
func (c *ClusterSet) slotOwners(slot int) (master string, replicas []string, err error) {
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		shards, e := c.shards(n.Addr())
		if e != nil {
			err = e
			continue
		}
		for _, sh := range shards {
			for _, r := range sh.Slots {
				if slot < int(r.Start) || slot > int(r.End) {
					continue
				}
				for _, nd := range sh.Nodes {
					addr := net.JoinHostPort(nd.IP, strconv.FormatInt(nd.Port, 10))
					switch {
					case nd.Health == "fail":
					case nd.Role == "master":
						master = addr
					default:
						replicas = append(replicas, addr)
					}
				}
				return master, replicas, nil
			}
		}
		return "", nil, fmt.Errorf("slot %d unassigned", slot)
	}
	return "", nil, err
}

func (c *ClusterSet) shards(addr string) ([]goredis.ClusterShard, error) {
	cl := c.client(addr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return cl.ClusterShards(ctx).Result()
}

// Slot is CLUSTER KEYSLOT key as a running node computes it.
func (c *ClusterSet) Slot(key string) int {
	c.t.Helper()
	for _, n := range c.Nodes {
		if n.Running() {
			cl := c.client(n.Addr())
			defer cl.Close()
			s, err := cl.ClusterKeySlot(context.Background(), key).Result()
			if err != nil {
				c.t.Fatal(err)
			}
			return int(s)
		}
	}
	c.t.Fatal("no running cluster node")
	return 0
}

// MasterOf is the address of the master serving key's slot.
func (c *ClusterSet) MasterOf(key string) string {
	c.t.Helper()
	m, _, err := c.slotOwners(c.Slot(key))
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

// KillMasterOf kills the master serving key's slot (a crash) and returns
// its address; its replica takes over after cluster-node-timeout.
func (c *ClusterSet) KillMasterOf(key string) string {
	c.t.Helper()
	m := c.MasterOf(key)
	c.node(m).Stop()
	return m
}

// FailoverMasterOf runs CLUSTER FAILOVER on a replica of key's master (a
// graceful switch: the old master becomes its replica) and returns the
// old master's address.
func (c *ClusterSet) FailoverMasterOf(key string) string {
	c.t.Helper()
	m, replicas, err := c.slotOwners(c.Slot(key))
	if err != nil || len(replicas) == 0 {
		c.t.Fatalf("no replica of the master of %q: %v", key, err)
	}
	cl := c.client(replicas[0])
	defer cl.Close()
	if err := cl.ClusterFailover(context.Background()).Err(); err != nil {
		c.t.Fatalf("CLUSTER FAILOVER on %s: %v", replicas[0], err)
	}
	return m
}

// WaitNewMaster waits until key's slot is served by a master other than
// old that answers as a master, and returns its address.
func (c *ClusterSet) WaitNewMaster(key, old string, timeout time.Duration) string {
	c.t.Helper()
	slot := c.Slot(key)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m, _, err := c.slotOwners(slot); err == nil && m != old && nodeRole(m, c.opts.Password) == "master" {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("slot %d still not failed over from %s after %v", slot, old, timeout)
	return ""
}

// waitHealthy waits until every node says cluster_state:ok, sees every
// node online in CLUSTER SHARDS (so the masters know the replicas they
// must vote for in a failover), and every replica's link is up.
func (c *ClusterSet) waitHealthy(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := true, ""
		for _, n := range c.Nodes {
			cl := c.client(n.Addr())
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			info, err := cl.ClusterInfo(ctx).Result()
			repl, err2 := cl.Info(ctx, "replication").Result()
			cancel()
			cl.Close()
			shards, err3 := c.shards(n.Addr())
			known := 0
			for _, sh := range shards {
				for _, nd := range sh.Nodes {
					if nd.Health == "online" {
						known++
					}
				}
			}
			switch {
			case err != nil || err2 != nil || err3 != nil:
				ok, why = false, fmt.Sprint(err, err2, err3)
			case known != len(c.Nodes):
				ok, why = false, fmt.Sprintf("%s sees %d of %d nodes online in CLUSTER SHARDS", n.Addr(), known, len(c.Nodes))
			case !strings.Contains(info, "cluster_state:ok"):
				ok, why = false, n.Addr()+" cluster_state not ok"
			case strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up"):
				ok, why = false, n.Addr()+" replica not in sync"
			}
			if !ok {
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster not healthy after %v: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
