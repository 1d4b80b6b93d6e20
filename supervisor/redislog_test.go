package supervisor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRedisLogOncePerKind(t *testing.T) {
	var lines []string
	now := time.Unix(1000, 0)
	l := &redisLog{logf: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }, now: func() time.Time { return now }, seen: map[string]*redisLogKind{}}
	dial := "redis: connection pool: failed to dial after %d attempts: %v"
	for i := 0; i < 50; i++ {
		l.Printf(context.Background(), dial, 5, "dial tcp 127.0.0.1:6390: connect: connection refused")
		now = now.Add(100 * time.Millisecond)
	}
	l.Printf(context.Background(), "redis: other %s", "thing")
	if len(lines) != 2 || lines[0] != "Redis client: connection pool: failed to dial after 5 attempts: dial tcp 127.0.0.1:6390: connect: connection refused" ||
		lines[1] != "Redis client: other thing" {
		t.Fatalf("lines %q", lines)
	}
	now = now.Add(redisLogEvery)
	l.Printf(context.Background(), dial, 5, "refused")
	if len(lines) != 3 || !strings.HasSuffix(lines[2], "refused (49 more like it since the last report)") {
		t.Fatalf("lines %q", lines)
	}
}
