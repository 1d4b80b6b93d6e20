package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/internal/buildinfo"
)

func TestVersionSpellings(t *testing.T) {
	info := buildinfo.Get()
	want := "reverb " + info.Version + "\n" +
		"commit:  " + info.Commit + "\n" +
		"built:   " + info.Date + "\n" +
		"go:      " + info.Go + "\n" +
		"os/arch: " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"-V"}} {
		var out, errb bytes.Buffer
		if code := dispatch(args, &out, &errb); code != 0 || out.String() != want || errb.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q (want %q), stderr %q", args, code, out.String(), want, errb.String())
		}
	}
}

func TestVersionJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch([]string{"version", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got map[string]string
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	for _, k := range []string{"version", "commit", "date", "go", "os", "arch"} {
		if got[k] == "" {
			t.Errorf("key %q missing in %s", k, out.String())
		}
	}
	if len(got) != 6 {
		t.Errorf("unexpected keys in %s", out.String())
	}
}

func TestVersionRejectsArguments(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch([]string{"--version", "extra"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unexpected argument "extra"`) {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
