package pulse

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestAppendEntryBytes(t *testing.T) {
	// laravel-integration.md §4.4, verified with PHP 8.2 and Pulse 1.x.
	want := "O:19:\"Laravel\\Pulse\\Entry\":6:{s:15:\"\x00*\x00aggregations\";a:1:{i:0;s:5:\"count\";}s:14:\"\x00*\x00onlyBuckets\";b:1;s:9:\"timestamp\";i:1732200000;s:4:\"type\";s:19:\"reverb_message:sent\";s:3:\"key\";s:6:\"123456\";s:5:\"value\";N;}"
	if got := string(AppendEntry(nil, 1732200000, TypeSent, "123456")); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	// Byte length, not rune count, for a non-ASCII key.
	got := string(AppendEntry(nil, 1, TypeReceived, "é"))
	if want := `s:23:"reverb_message:received";s:3:"key";s:2:"é";`; !strings.Contains(got, want) {
		t.Fatalf("got %q, want it to contain %q", got, want)
	}
}

func TestSample(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		n      int64
		p      float64
		lo, hi int64
	}{
		{0, 1, 0, 0},
		{10, 1, 10, 10},
		{10, 0, 0, 0},
		{10, -1, 0, 0},
		{1000, 0.5, 400, 600},
		{1_000_000, 0.1, 98_000, 102_000},
		{1_000_000, 0.999999, 999_990, 1_000_000},
	}
	for _, tt := range tests {
		if got := sample(tt.n, tt.p, r); got < tt.lo || got > tt.hi {
			t.Errorf("sample(%d, %v) = %d, want %d..%d", tt.n, tt.p, got, tt.lo, tt.hi)
		}
	}
}

func TestBucket(t *testing.T) {
	tests := []struct{ ts, p, want int64 }{
		{1732200000, 60, 1732200000},
		{1732200059, 60, 1732200000},
		{1732200061, 360, 1732199760},
		{1732200061, 10080, 1732197600},
		{-1, 60, -60},
	}
	for _, tt := range tests {
		if got := bucket(tt.ts, tt.p); got != tt.want {
			t.Errorf("bucket(%d, %d) = %d, want %d", tt.ts, tt.p, got, tt.want)
		}
	}
}

func FuzzAppendEntry(f *testing.F) {
	f.Add(int64(1732200000), "123456")
	f.Add(int64(-5), "")
	f.Fuzz(func(t *testing.T, ts int64, key string) {
		b := AppendEntry(nil, ts, TypeSent, key)
		if len(b) == 0 || b[len(b)-1] != '}' {
			t.Fatalf("bad entry %q", b)
		}
	})
}
