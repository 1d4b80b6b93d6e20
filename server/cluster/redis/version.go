package redis

// The Redis version the interest routing needs. On Redis Cluster its
// topics are shard channels (SSUBSCRIBE, SPUBLISH, PUBSUB SHARDNUMSUB) and
// its slot map comes from CLUSTER SHARDS: all new in Redis 7.0. A Redis 6
// master takes the control channel's SUBSCRIBE and refuses the rest, so a
// node would acknowledge its subscribers after LiveWait and never receive
// another node's broadcast: silently wrong. So the router reads every
// master's redis_version (INFO server) once Redis is first reachable:
// Start refuses a master older than 7.0 (the node does not start); when
// Start returned before Redis was reachable, the finding is logged
// instead. A master that shows up later (a failover to a replica not yet
// upgraded) makes Redis answer "unknown command" to SSUBSCRIBE, SPUBLISH
// or CLUSTER SHARDS: that sends the versions to be read again, and each
// old master is logged once.
//
// One server and Sentinel need no check: there the interest routing uses
// SUBSCRIBE, PUBLISH and PUBSUB NUMSUB, as the classic routing does.

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/laravelcfg"
)

// shardedPubSub reports whether a server whose INFO says redis_version v
// has sharded pub/sub and CLUSTER SHARDS (Redis 7.0 or later). known is
// false when v is not a version: such a server is not refused (a
// compatible server may report anything), and Redis' own answers tell.
func shardedPubSub(v string) (ok, known bool) {
	major, rest, _ := strings.Cut(strings.TrimSpace(v), ".")
	minor, _, _ := strings.Cut(rest, ".")
	n, good := digits(major)
	if _, minorGood := digits(minor); !good || !minorGood {
		return false, false
	}
	return n >= 7, true
}

// digits parses a non-empty run of decimal digits (at most 9).
func digits(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// infoVersion is redis_version in an INFO answer ("" when absent).
func infoVersion(info string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return ""
}

// oldMasters lists the masters (address → redis_version) without sharded
// pub/sub, as "6.2.14 at host:port", in address order.
func oldMasters(versions map[string]string) []string {
	var out []string
	for addr, v := range versions {
		if ok, known := shardedPubSub(v); known && !ok {
			out = append(out, strings.TrimSpace(v)+" at "+addr)
		}
	}
	sort.Strings(out)
	return out
}

// oldRedisError is a Cluster with masters older than Redis 7.0 under the
// interest routing.
type oldRedisError struct {
	found   []string // "6.2.14 at host:port"
	setting string   // Options.RoutingFrom
}

func (e *oldRedisError) Error() string {
	named, off := routingSetting(e.setting)
	return "the interest routing (" + named + ") needs Redis 7.0 or later on every Cluster master (found " +
		strings.Join(e.found, ", ") + "): its per-channel Redis channels are shard channels (SSUBSCRIBE, SPUBLISH) " +
		"and its slot map is read with CLUSTER SHARDS, both Redis 7; upgrade Redis, or turn the interest routing off: " +
		off + " (the classic routing works with Redis 6)"
}

// routingSetting names the setting that turned the interest routing on
// and how to turn it off.
func routingSetting(from string) (named, off string) {
	switch from {
	case "":
		return "scaling.routing or " + laravelcfg.ScalingRoutingEnv,
			"set it to classic"
	case laravelcfg.ScalingRoutingEnv:
		return from + "=interest", "unset " + from + " or set it to classic"
	}
	return from + " = 'interest'", "set " + from + " to 'classic'"
}

// unknownCommand reports an error answer of Redis that does not know the
// command (or subcommand): older than the command, or it is renamed away.
func unknownCommand(err error) bool {
	var re goredis.Error
	if err == nil || !errors.As(err, &re) {
		return false
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "unknown command") || strings.Contains(s, "unknown subcommand")
}

// masterVersions reads redis_version from every master that serves slots
// (go-redis' slot map, from CLUSTER SLOTS, which Redis 6 has too): address
// → version, "" for a master that answered INFO with an error (an ACL
// without INFO: it cannot tell). An error means a master was not
// reachable: read again later.
func (t *Transport) masterVersions(ctx context.Context) (map[string]string, error) {
	cc, ok := t.client.(*goredis.ClusterClient)
	if !ok {
		return nil, nil
	}
	var mu sync.Mutex
	out := map[string]string{}
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		info, err := c.Info(ctx, "server").Result()
		var re goredis.Error
		if err != nil && !errors.As(err, &re) {
			return err
		}
		mu.Lock()
		out[c.Options().Addr] = infoVersion(info)
		mu.Unlock()
		return nil
	})
	return out, err
}

// checkVersions reads the masters' versions, again each second until they
// answer, and returns an *oldRedisError when some are older than 7.0 (nil
// when none is, none can tell, or the transport closed).
func (t *Transport) checkVersions() error {
	for {
		ctx, cancel := context.WithTimeout(t.ctx, t.opts.DialTimeout)
		vs, err := t.masterVersions(ctx)
		cancel()
		if err == nil {
			if old := oldMasters(vs); len(old) > 0 {
				return &oldRedisError{found: old, setting: t.opts.RoutingFrom}
			}
			return nil
		}
		if !t.sleep(time.Second) {
			return nil
		}
	}
}

// versionLoop checks the masters' versions once Redis is first reachable
// and hands the result to Start (first, buffered) while Start waits;
// afterwards, and whenever an "unknown command" answer asks for it
// (kickVersions), it logs what it finds, each old master once. Cluster in
// the interest routing only; owned by the Transport, ends with Close.
func (t *Transport) versionLoop(first chan<- error) {
	defer t.wg.Done()
	select {
	case <-t.live:
	case <-t.ctx.Done():
		return
	}
	var cause error // the answer that asked for this check
	for {
		err := t.checkVersions()
		if t.ctx.Err() != nil {
			return
		}
		t.mu.Lock()
		waiting := first != nil && !t.startReturned
		if waiting {
			first <- err // buffered; the only send
		}
		first = nil
		t.mu.Unlock()
		if !waiting {
			t.logVersions(err, cause)
		}
		// Redis refuses the routing's commands once a second at most
		// while an old master serves: read the versions again at most
		// every ten seconds.
		if !t.sleep(10 * time.Second) {
			return
		}
		select {
		case cause = <-t.kickVer:
		case <-t.ctx.Done():
			return
		}
	}
}

// logVersions logs old masters not logged before; when nothing was found
// old but Redis refused a command as unknown (renamed, or a server that
// reports no version), that answer, once.
func (t *Transport) logVersions(err error, cause error) {
	var old *oldRedisError
	if errors.As(err, &old) {
		t.mu.Lock()
		fresh := false
		for _, f := range old.found {
			if !t.oldSeen[f] {
				t.oldSeen[f] = true
				fresh = true
			}
		}
		t.mu.Unlock()
		if fresh {
			t.logf("Redis Cluster: %v; meanwhile broadcasts of channels on those masters do not cross nodes", err)
		}
		return
	}
	if cause == nil {
		return
	}
	t.mu.Lock()
	fresh := !t.unknownSeen
	t.unknownSeen = true
	t.mu.Unlock()
	if fresh {
		named, off := routingSetting(t.opts.RoutingFrom)
		t.logf("Redis Cluster refused a command of the interest routing (%s): %v; it needs Redis 7.0 or later on every Cluster master (SSUBSCRIBE, SPUBLISH, CLUSTER SHARDS); upgrade Redis, or turn the interest routing off: %s", named, cause, off)
	}
}

// kickVersions asks the version loop to read the masters' versions again:
// err is an "unknown command" answer to a command of the interest routing.
func (t *Transport) kickVersions(err error) {
	if t.kickVer == nil || !unknownCommand(err) {
		return
	}
	select {
	case t.kickVer <- err:
	default:
	}
}
