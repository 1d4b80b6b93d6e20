package phpapps

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary command output to Parse: it never panics, and
// what it accepts are apps with their required fields and unique ids/keys.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"apps":[{"app_id":"1","key":"k","secret":"s","ping_interval":60,"allowed_origins":["*"],"max_message_size":100,"options":{}}]}`,
		`{"apps":[]}`,
		"noise\n{\"apps\":[]}\n",
		`{"apps":[{"app_id":1,"key":"k","secret":"s","ping_interval":"60","allowed_origins":{"a":"*"},"max_message_size":"1e3","max_connections":null,"rate_limiting":{"enabled":true}}]}`,
		`{"apps":{"0":{}}}`,
		`[`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		apps, _, err := Parse(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), Source) {
				t.Fatalf("error %q does not name the command", err)
			}
			return
		}
		ids, keys := map[string]bool{}, map[string]bool{}
		for _, a := range apps {
			if ids[a.ID] || keys[a.Key] {
				t.Fatalf("duplicate app %q/%q accepted", a.ID, a.Key)
			}
			ids[a.ID], keys[a.Key] = true, true
		}
	})
}
