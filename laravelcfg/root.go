package laravelcfg

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/reverb-go/reverb/laravelcfg/dotenv"
)

// Root is what a folder holds of a Laravel project. Commands inspect it
// before loading anything, so a command run in the wrong folder, or in a
// project without its .env, says that first instead of failing later on a
// consequence (a missing app_id, a database file that does not exist).
type Root struct {
	Dir          string // absolute
	Artisan      bool   // the artisan file marks a Laravel project root
	EnvFile      string // the .env file Laravel would load; "" when there is none
	EnvExample   bool   // .env.example exists
	ConfigCached bool   // bootstrap/cache/config.php (or APP_CONFIG_CACHE) exists
	// ReverbInEnvironment is true when REVERB_APP_KEY is set in the real
	// environment (containers and some hosts configure the app that way).
	ReverbInEnvironment bool
	// Above is, when Dir has no artisan file, the nearest folder above it
	// that has one ("" when none does): reverb run from a subfolder of the
	// project (app/, public/) is told which folder the project is.
	Above string
	// BinaryDir is, when neither Dir nor a folder above it has an artisan
	// file, the folder of the running reverb binary if it has one ("" when
	// it does not): a binary started from elsewhere (a supervisor program
	// without a directory) is told where its project is.
	BinaryDir string
}

// executable is os.Executable; tests replace it.
var executable = os.Executable

// RootError says why a folder cannot be used and how to fix it.
type RootError struct {
	Problem string
	Fix     string
}

func (e *RootError) Error() string { return e.Problem + ". " + e.Fix }

// InspectRoot looks at dir (empty means "."). envName is artisan's --env;
// lookupEnv reads the real environment (nil: os.LookupEnv). The error is
// a *RootError when dir does not exist or is not a folder.
func InspectRoot(dir, envName string, lookupEnv func(string) (string, bool)) (Root, error) {
	if dir == "" {
		dir = "."
	}
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Root{}, err
	}
	r := Root{Dir: abs}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return r, &RootError{Problem: fmt.Sprintf("The folder %s does not exist", abs), Fix: "Pass --dir=/path/to/your-app (the folder where artisan is)"}
	case !fi.IsDir():
		return r, &RootError{Problem: fmt.Sprintf("%s is not a folder", abs), Fix: "Pass --dir=/path/to/your-app (the folder where artisan is)"}
	}
	exists := func(rel string) bool {
		fi, err := os.Stat(filepath.Join(abs, rel))
		return err == nil && fi.Mode().IsRegular()
	}
	r.Artisan = exists("artisan")
	if !r.Artisan {
		for d := filepath.Dir(abs); d != filepath.Dir(d); d = filepath.Dir(d) {
			if fi, err := os.Stat(filepath.Join(d, "artisan")); err == nil && fi.Mode().IsRegular() {
				r.Above = d
				break
			}
		}
		if exe, err := executable(); r.Above == "" && err == nil {
			if exe, err := filepath.EvalSymlinks(exe); err == nil {
				if fi, err := os.Stat(filepath.Join(filepath.Dir(exe), "artisan")); err == nil && fi.Mode().IsRegular() {
					r.BinaryDir = filepath.Dir(exe)
				}
			}
		}
	}
	r.EnvExample = exists(".env.example")
	if p := dotenv.SelectFile(abs, envName, dotenv.ArtisanLookup(lookupEnv)); exists(relTo(abs, p)) {
		r.EnvFile = p
	}
	_, r.ConfigCached = configCachePath(abs, dotenv.ArtisanLookup(lookupEnv))
	_, r.ReverbInEnvironment = lookupEnv("REVERB_APP_KEY")
	return r, nil
}

// NotLaravel returns a *RootError when the folder has no artisan file.
func (r Root) NotLaravel() error {
	if r.Artisan {
		return nil
	}
	fix := "Run reverb from your Laravel project's root folder (where artisan is), or pass --dir=/path/to/your-app"
	switch {
	case r.Above != "":
		fix = fmt.Sprintf("This folder is inside the Laravel project %s (artisan is there): run reverb from that folder (cd %s), or pass --dir=%s", r.Above, r.Above, r.Above)
	case r.BinaryDir != "":
		fix = fmt.Sprintf("This reverb binary is in the Laravel project %s (artisan is there): run it from that folder (cd %s; a supervisor program's directory=, "+
			"a systemd unit's WorkingDirectory=), or pass --dir=%s", r.BinaryDir, r.BinaryDir, r.BinaryDir)
	}
	return &RootError{
		Problem: fmt.Sprintf("No Laravel project in %s: there is no artisan file", r.Dir),
		Fix:     fix,
	}
}

// MissingEnv returns a *RootError when no .env file will be read and
// nothing else provides the settings: no cached configuration and no
// REVERB_APP_KEY in the real environment. It is a warning where the real
// environment may still hold everything, and the first thing to say when
// loading then fails.
func (r Root) MissingEnv() *RootError {
	if r.EnvFile != "" || r.ConfigCached || r.ReverbInEnvironment {
		return nil
	}
	fix := "Create it (cp .env.example .env && php artisan key:generate), then run ./reverb install to add Reverb's settings"
	if !r.EnvExample {
		fix = "Create it with your app's settings (or run ./reverb install, which creates one with Reverb's settings)"
	}
	return &RootError{
		Problem: fmt.Sprintf("No .env file in %s: the REVERB_* settings and the cache store come from it", r.Dir),
		Fix:     fix,
	}
}
