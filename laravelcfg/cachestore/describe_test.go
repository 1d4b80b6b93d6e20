package cachestore

import "testing"

func TestDescribe(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"9999999999i:1732200000;", "1732200000 (2024-11-21T14:40:00Z) (file, expires never)"},
		{"2047560000i:1732200000;", "1732200000 (2024-11-21T14:40:00Z) (file, expires 2034-11-19T14:40:00Z)"},
		{"i:1718000000;", "1718000000 (2024-06-10T06:13:20Z)"},
		{"1732200000", "1732200000 (2024-11-21T14:40:00Z)"},
		{"1732200000" + flagsMarker + "1", "1732200000 (2024-11-21T14:40:00Z) (memcached flags 1)"},
		{`s:10:"1732200000";`, "1732200000 (2024-11-21T14:40:00Z) (as a string)"},
		{`s:3:"abc";`, `string "abc"`},
		{"N;", "null"},
		{"b:1;", "true"},
		{"\x00\x01igbinary", `unrecognised value "\x00\x01igbinary"`},
		{"", `unrecognised value ""`},
		{`s:9:"abc";`, `unrecognised value "s:9:\"abc\";"`},
	}
	for _, tc := range tests {
		if got := Describe([]byte(tc.raw)); got != tc.want {
			t.Errorf("Describe(%q)\n got %s\nwant %s", tc.raw, got, tc.want)
		}
	}
}

func FuzzDescribe(f *testing.F) {
	for _, s := range []string{"9999999999i:1;", "i:1;", "1", `s:1:"a";`, "x\x00flags=1", `s:99999999999999999999:"";`, "9999999999s:-1:\"\";"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if Describe(raw) == "" {
			t.Error("empty description")
		}
	})
}
