package pulse

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/internal/testsvc"
)

// startRedis runs a private redis-server on a free port.
func startRedis(t *testing.T) int { return testsvc.StartRedis(t).Port }

func TestRedisIngestUnserializesInPHP(t *testing.T) {
	port := startRedis(t)
	if _, err := exec.LookPath("php"); err != nil {
		t.Skip("php not installed (scripts/install-test-deps.sh installs php-cli and php-redis)")
	}
	if out, _ := exec.Command("php", "-r", "echo extension_loaded('redis') ? 'yes' : 'no';").Output(); string(out) != "yes" {
		t.Skip("php-redis not installed")
	}
	dir := t.TempDir()
	p := sqliteProject(t, dir, "", arr(
		"ingest", arr("driver", "redis", "redis", arr("connection", nil)),
		"recorders", arr(MessagesRecorder, arr("sample_rate", 1)),
	))
	p.Config.ArrayVal().Set(phpKey("database"), arr("redis", arr(
		"client", "phpredis",
		"options", arr("prefix", "laravel_database_"),
		"default", arr("host", "127.0.0.1", "port", strconv.Itoa(port), "database", "0"),
	)))
	src := &fakeCounts{c: []Counts{{AppID: "123456", Sent: 3, Received: 2}}}
	cfg, ok, err := FromProject(p)
	if err != nil || !ok || cfg.Driver != DriverRedis {
		t.Fatalf("config %+v %v %v", cfg, ok, err)
	}
	in := NewIngester(cfg, newSink(p, cfg), src.get, t.Logf)
	in.now = func() time.Time { return time.Unix(1732200000, 0) }
	if err := in.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	src.c[0].Sent = 4 // one more on the next round
	in.now = func() time.Time { return time.Unix(1732200015, 0) }
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}

	stream := "laravel_database_laravel:pulse:ingest"
	out, err := exec.Command("php", "testdata/read_stream.php", strconv.Itoa(port), stream).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("php: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var entries []struct {
		Class        string   `json:"class"`
		Type         string   `json:"type"`
		Key          string   `json:"key"`
		Timestamp    int64    `json:"timestamp"`
		Value        *int     `json:"value"`
		Aggregations []string `json:"aggregations"`
		OnlyBuckets  bool     `json:"only_buckets"`
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	count := map[string]int{}
	for _, e := range entries {
		if e.Class != `Laravel\Pulse\Entry` || e.Key != "123456" || e.Value != nil || !e.OnlyBuckets ||
			len(e.Aggregations) != 1 || e.Aggregations[0] != "count" {
			t.Errorf("entry %+v", e)
		}
		count[e.Type+"@"+strconv.FormatInt(e.Timestamp, 10)]++
	}
	want := map[string]int{
		TypeSent + "@1732200000": 3, TypeReceived + "@1732200000": 2, TypeSent + "@1732200015": 1,
	}
	if len(count) != len(want) {
		t.Fatalf("entries %v, want %v", count, want)
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s: %d entries, want %d", k, count[k], n)
		}
	}
}

func TestRedisIngestKeepsCountsWhileDown(t *testing.T) {
	port := startRedis(t)
	c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), MaxRetries: -1})
	defer c.Close()
	s := &redisSink{client: c, stream: "p:" + StreamKey, where: "test"}
	// A wrong-type key makes every XADD fail: nothing is lost.
	if err := c.Set(context.Background(), s.stream, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	left, err := s.Write(context.Background(), []Batch{{Timestamp: 1, AppID: "a", Sent: 2, Received: 1}})
	if err == nil || len(left) != 1 || left[0].Sent != 2 || left[0].Received != 1 {
		t.Fatalf("left %+v err %v", left, err)
	}
	c.Del(context.Background(), s.stream)
	if left, err = s.Write(context.Background(), left); err != nil || left != nil {
		t.Fatalf("retry: left %+v err %v", left, err)
	}
	if n := c.XLen(context.Background(), s.stream).Val(); n != 3 {
		t.Fatalf("stream has %d entries, want 3", n)
	}
}
