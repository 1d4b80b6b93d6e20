package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// doctor reads the restart flag where php artisan reverb:restart writes it:
// CACHE_STORE=database without its SQLite file is a problem (exit 1), not
// "No problems found".
func TestDoctorMissingSQLiteFile(t *testing.T) {
	env := "APP_ENV=local\nREVERB_HOST=localhost\nREVERB_PORT=8080\nREVERB_SCHEME=http\n"
	dir := writeProject(t, env+"CACHE_STORE=database\n")
	out, errOut, code := runCLI("doctor", "--dir", dir, "--no-snippets")
	if code != 1 || !strings.Contains(out, "PROBLEM  php artisan reverb:restart cannot reach this server: ") ||
		!strings.Contains(out, "database/database.sqlite] does not exist (run php artisan migrate, or set DB_DATABASE)") ||
		strings.Contains(out, "No problems found") {
		t.Fatalf("exit %d stderr %q\n%s", code, errOut, out)
	}
	out, _, _ = runCLI("doctor", "--dir", dir, "--json")
	var r struct {
		OK       bool
		Findings []struct{ Level, Code, Message string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range r.Findings {
		found = found || f.Level == "problem" && f.Code == "restart-flag"
	}
	if r.OK || !found {
		t.Errorf("json: %+v", r)
	}

	// The file store with a writable folder: read, and said where.
	dir = writeProject(t, env+"CACHE_STORE=file\n")
	out, _, code = runCLI("doctor", "--dir", dir, "--no-snippets")
	if !strings.Contains(out, "INFO     the restart flag is read from file storage/framework/cache/data/") || strings.Contains(out, "restart-flag") && code != 0 {
		t.Errorf("file store: exit %d\n%s", code, out)
	}
}
