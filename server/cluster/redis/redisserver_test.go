package redis

import (
	"testing"

	"github.com/reverb-go/reverb/internal/testsvc"
)

// redisServer is a redis-server process owned by one test; Stop and Start
// simulate a crash and a restart on the same port.
type redisServer = testsvc.Redis

// startRedis runs redis-server on a free loopback port; stopped at cleanup.
func startRedis(t *testing.T, extra ...string) *redisServer { return testsvc.StartRedis(t, extra...) }

// startRedisB is startRedis for benchmarks too.
func startRedisB(t testing.TB, extra ...string) *redisServer { return testsvc.StartRedis(t, extra...) }
