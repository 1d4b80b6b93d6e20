package supervisor

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
)

func TestSignatureMaxAge(t *testing.T) {
	cases := []struct {
		env  string
		want time.Duration
	}{
		{"", 0},
		{"REVERB_API_MAX_AGE=600\n", 600 * time.Second},
		{"REVERB_API_MAX_AGE=0\n", 0},
		{"REVERB_API_MAX_AGE=soon\n", 0},
		{"REVERB_API_MAX_AGE=\n", 0},
	}
	for _, c := range cases {
		dir := t.TempDir()
		env := "REVERB_APP_ID=1\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s\n" + c.env
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := laravelcfg.Load(laravelcfg.LoadOptions{Dir: dir, LookupEnv: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatal(err)
		}
		if got := signatureMaxAge(p); got != c.want {
			t.Errorf("%q: signatureMaxAge = %v, want %v", c.env, got, c.want)
		}
	}
}
