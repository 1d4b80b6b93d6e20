package laravelcfg

import "errors"

// Load reads the project at opts.Dir: config cache or .env (+ .env.{APP_ENV}),
// config/*.php evaluated and merged over package and framework defaults, and
// the typed Reverb settings. Errors name the file and line.
func Load(opts LoadOptions) (*Project, error) {
	return nil, errors.New("laravelcfg.Load: not implemented yet")
}
