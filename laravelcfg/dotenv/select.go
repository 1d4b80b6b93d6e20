package dotenv

import (
	"os"
	"path/filepath"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// SelectFile picks the dotenv file Laravel's LoadEnvironmentVariables
// bootstrapper would load from dir: .env.{X} instead of .env when artisan's
// --env=X option (envOption) is given, or else when the REAL environment has
// APP_ENV=X (read through env(), so its conversions apply), and only if that
// file exists. APP_ENV written inside .env never selects a file. The result
// is dir joined with the file name; it may not exist (Load then gives an
// empty file environment).
func SelectFile(dir, envOption string, lookupReal func(string) (string, bool)) string {
	if lookupReal == nil {
		lookupReal = os.LookupEnv
	}
	if envOption != "" {
		if p := filepath.Join(dir, ".env."+envOption); isRegularFile(p) {
			return p
		}
	}
	if raw, ok := lookupReal("APP_ENV"); ok {
		if name, truthy := phpStringIfTruthy(Convert(raw)); truthy {
			if p := filepath.Join(dir, ".env."+name); isRegularFile(p) {
				return p
			}
		}
	}
	return filepath.Join(dir, ".env")
}

// phpStringIfTruthy converts an env() result to the string PHP would
// concatenate, and reports whether it passes Laravel's `if (! $environment)`
// (false, null, "" and "0" do not).
func phpStringIfTruthy(v php.Value) (string, bool) {
	switch v.Kind() {
	case php.Bool:
		if v.BoolVal() {
			return "1", true
		}
	case php.String:
		s := v.StringVal()
		if s != "" && s != "0" {
			return s, true
		}
	}
	return "", false
}

// isRegularFile is PHP's is_file (symlinks followed).
func isRegularFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
