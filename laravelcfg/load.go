package laravelcfg

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/defaults"
	"github.com/reverb-go/reverb/laravelcfg/dotenv"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phpeval"
)

// configFiles are the app config files the Go side reads, in load order.
// "pulse" is read only when the app has config/pulse.php.
var configFiles = []string{"reverb", "cache", "database", "broadcasting", "pulse"}

// mergeableOptions are the second-level keys Laravel 11+'s
// LoadConfiguration merges one level deeper (framework defaults first).
var mergeableOptions = map[string][]string{
	"broadcasting": {"connections"},
	"cache":        {"stores"},
	"database":     {"connections"},
}

// Load reads the project at opts.Dir: config cache or .env (+ .env.{APP_ENV}),
// config/*.php evaluated and merged over package and framework defaults, and
// the typed Reverb settings. Errors name the file and line. With
// opts.SkipReverbSettings, a config/reverb.php that cannot give settings is
// reported in Project.Warnings and Project.Reverb stays zero.
func Load(opts LoadOptions) (*Project, error) {
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	base, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(base); err != nil {
		return nil, fmt.Errorf("project root: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("project root %s is not a directory", base)
	}
	// What php artisan reverb:start sees as real: the process environment
	// plus the $_SERVER entries PHP's CLI adds (PHP_SELF=artisan, ...).
	lookupReal := dotenv.ArtisanLookup(opts.LookupEnv)
	// What getenv() in a config file reads: the process environment
	// (without the $_SERVER-only entries), then what .env put there.
	processEnv := opts.LookupEnv
	if processEnv == nil {
		processEnv = os.LookupEnv
	}
	p := &Project{BasePath: base}
	p.LaravelMajor, p.LaravelMajorSource = DetectLaravelMajor(base)
	if p.LaravelMajorSource == SourceAssumed {
		p.Warnings = append(p.Warnings, fmt.Sprintf(
			"Laravel version not found (no composer.lock, vendor/laravel/framework or composer.json constraint): assuming Laravel %d", p.LaravelMajor))
	}

	noMerge := optsOutOfFrameworkMerge(base)
	if noMerge && p.LaravelMajor >= 11 {
		p.Warnings = append(p.Warnings, "bootstrap/app.php calls dontMergeFrameworkConfiguration(): framework config defaults are not merged")
	}
	reverbFile := "config/reverb.php"
	var envSrc envSource
	if cachePath, ok := configCachePath(base, lookupReal); ok {
		// Cached configuration: .env is not read, env() sees only the real
		// environment, and the file already holds the merged result.
		p.ConfigCached = true
		p.env = lookupReal
		rel := relTo(base, cachePath)
		res, err := phpeval.EvalFile(cachePath, phpeval.Options{File: rel, BasePath: base, Getenv: lookupReal, ProcessEnv: processEnv})
		if err != nil {
			return nil, err
		}
		if res.Value.Kind() != php.Array {
			return nil, fmt.Errorf("%s: the config cache does not return an array (got %s)", rel, res.Value.TypeName())
		}
		p.FilesRead = append(p.FilesRead, rel)
		p.Warnings = append(p.Warnings, res.Warnings...)
		p.Warnings = append(p.Warnings, rel+": configuration is cached: .env and config/*.php are not read (run php artisan config:clear after changing them)")
		p.Config = res.Value
		reverbFile = rel
	} else {
		envPath := dotenv.SelectFile(base, opts.EnvName, lookupReal)
		env, err := dotenv.Load(envPath, lookupReal)
		if err != nil {
			return nil, err
		}
		if env.File != "" {
			p.EnvFile = env.File
			p.FilesRead = append(p.FilesRead, relTo(base, env.File))
		}
		p.env = env.Lookup
		p.processEnv = func(name string) (string, bool) {
			if v, ok := processEnv(name); ok {
				return v, true
			}
			return env.FileLookup(name)
		}
		// Remember what env() reads, so a wrong value can name its variable.
		rec := &envRecorder{lookup: env.Lookup}
		envFile := ""
		if env.File != "" {
			envFile = relTo(base, env.File)
		}
		cfg := php.NewArray()
		for _, name := range configFiles {
			v, err := p.loadConfigFile(name, rec.Lookup, noMerge)
			if err != nil && name == "reverb" && opts.SkipReverbSettings {
				p.Warnings = append(p.Warnings, "Reverb settings not loaded: "+err.Error())
				p.SettingsErr = err
				continue
			}
			if err != nil {
				return nil, err
			}
			if v.Kind() == php.Null { // no such file anywhere
				continue
			}
			cfg.Set(php.StringKey(name), v)
		}
		p.Config = php.ArrayValue(cfg)
		envSrc = envSource{vars: rec.names, real: lookupReal, file: envFile, line: env.Line}
		if _, err := os.Stat(filepath.Join(base, "config", "reverb.php")); err != nil {
			reverbFile = defaults.ReverbFile
			if _, err := os.Stat(filepath.Join(base, filepath.FromSlash(defaults.ReverbFile))); err != nil {
				// No vendor/ here (the binary was copied before composer
				// install): name what the values are, not a missing path.
				reverbFile = "Reverb's default config/reverb.php (not published)"
			}
		}
	}

	if name, ok := p.Getenv("APP_NAME"); ok && phpeval.Lossy(name) {
		p.Warnings = append(p.Warnings, fmt.Sprintf(
			"APP_NAME %q has letters this build cannot transliterate like PHP's Str::slug: default cache/Redis prefixes may differ from PHP's (set CACHE_PREFIX and REDIS_PREFIX explicitly)", name))
	}
	if p.SettingsErr == nil { // config/reverb.php was evaluated
		p.reverbFile, p.envSrc = reverbFile, envSrc
	}
	s, warns, err := buildSettings(p.Config, reverbFile, p.Getenv, p.appURL(), p.eventsPath(), envSrc, opts.Given)
	if err != nil {
		err = explainNeedsPHP(explainMissingCredentials(err, p.Getenv), p.ConfigCached)
	}
	switch {
	case err == nil:
		p.Reverb = s
		p.Warnings = append(p.Warnings, warns...)
		if err := p.resolvePHPApps(opts.Apps); err != nil {
			return nil, err
		}
	case p.SettingsErr != nil:
		// config/reverb.php itself failed: already reported.
	case opts.SkipReverbSettings:
		p.Warnings = append(p.Warnings, "Reverb settings not loaded: "+err.Error())
		p.SettingsErr = err
	default:
		return nil, err
	}
	// Values the evaluator could not compute but nothing needed: say so,
	// since PHP would have a value there. When the settings failed, the one
	// they failed on is the problem already, and no other can be said to be
	// unused.
	failedKey, unused := "", "; unused by the server"
	if se, ok := p.SettingsErr.(*SettingsError); ok {
		failedKey, unused = se.Key, ""
	} else if p.SettingsErr != nil {
		unused = ""
	}
	for _, key := range []string{"reverb", "broadcasting.connections.reverb"} {
		if v, ok := php.Lookup(p.Config, key); ok {
			walkUnknown(v, key, func(path string, u php.Value) {
				if path == failedKey {
					return
				}
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s: not computed (%s)%s", u.Where, path, u.UnknownReason(), unused))
			})
		}
	}
	return p, nil
}

// resolvePHPApps fills Reverb.Apps through r when only PHP knows them.
func (p *Project) resolvePHPApps(r AppsResolver) error {
	if p.Reverb.AppsFromPHP == "" {
		return nil
	}
	if r == nil {
		p.Warnings = append(p.Warnings, "the apps come from PHP ("+p.Reverb.AppsFromPHP+"): reverb start asks the app with php artisan reverb:apps --json (companion package reverb-go/laravel)")
		return nil
	}
	apps, err := r.ResolveApps(p)
	if err != nil {
		return err
	}
	p.Warnings = append(p.Warnings, p.FillListenerURLs(apps)...)
	p.Reverb.Apps = apps
	return nil
}

// walkUnknown calls fn for every Unknown value below v (depth-limited).
func walkUnknown(v php.Value, path string, fn func(string, php.Value)) {
	var walk func(php.Value, string, int)
	walk = func(v php.Value, path string, depth int) {
		switch {
		case v.IsUnknown():
			fn(path, v)
		case v.Kind() == php.Array && depth < 32:
			a := v.ArrayVal()
			for i, k := range a.Keys {
				walk(a.Values[i], path+"."+k.String(), depth+1)
			}
		}
	}
	walk(v, path, 0)
}

// optsOutOfFrameworkMerge reports whether bootstrap/app.php calls
// dontMergeFrameworkConfiguration() (Laravel 11+), outside comments.
func optsOutOfFrameworkMerge(base string) bool {
	b, err := os.ReadFile(filepath.Join(base, "bootstrap", "app.php"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "//") || strings.HasPrefix(t, "#") || strings.HasPrefix(t, "*") || strings.HasPrefix(t, "/*") {
			continue
		}
		if strings.Contains(t, "dontMergeFrameworkConfiguration(") {
			return true
		}
	}
	return false
}

// loadConfigFile evaluates config/<name>.php and merges it as Laravel does:
// reverb over the package default (shallow), the others over the framework
// defaults (11+): the installed framework's config file, else the built-in
// copy of the app's Laravel major (vendorFrameworkDefault). It returns null
// for pulse when the app has no config/pulse.php.
func (p *Project) loadConfigFile(name string, getenv func(string) (string, bool), noFrameworkMerge bool) (php.Value, error) {
	rel := "config/" + name + ".php"
	path := filepath.Join(p.BasePath, "config", name+".php")
	opts := phpeval.Options{File: rel, BasePath: p.BasePath, Getenv: getenv, ProcessEnv: p.processEnv}

	var app php.Value
	haveApp := false
	res, err := phpeval.EvalFile(path, opts)
	switch {
	case err == nil:
		haveApp = true
		app = res.Value
		p.FilesRead = append(p.FilesRead, rel)
		p.Warnings = append(p.Warnings, res.Warnings...)
	case errors.Is(err, fs.ErrNotExist):
	case name == "reverb":
		return php.Value{}, err
	default:
		// A file we only need parts of: keep going, its values are unknown.
		var pe *phpeval.Error
		if !errors.As(err, &pe) {
			return php.Value{}, err
		}
		p.FilesRead = append(p.FilesRead, rel)
		p.Warnings = append(p.Warnings, err.Error())
		return php.UnknownValue("config file could not be evaluated: "+pe.Msg, fmt.Sprintf("%s:%d", rel, pe.Line)), nil
	}

	// The defaults this file merges over.
	var defSrc []byte
	var defName string
	var def php.Value
	switch {
	case name == "reverb":
		defSrc, defName = defaults.Reverb(), defaults.ReverbFile
	case p.LaravelMajor >= 11 && !noFrameworkMerge:
		if v, ok := p.vendorFrameworkDefault(name, getenv); ok {
			def = v
			break
		}
		if b, ok := defaults.Framework(p.LaravelMajor, name); ok {
			defSrc, defName = b, defaults.FrameworkFile(p.LaravelMajor, name)
		}
	}
	if defSrc == nil && def.Kind() != php.Array {
		if !haveApp {
			return php.NullValue(), nil
		}
		return app, nil
	}
	if defSrc != nil {
		dres, err := phpeval.Eval(defSrc, phpeval.Options{File: defName, BasePath: p.BasePath, Getenv: getenv, ProcessEnv: p.processEnv})
		if err != nil {
			return php.Value{}, fmt.Errorf("built-in default %s: %w", defName, err)
		}
		def = dres.Value
	}
	if !haveApp {
		return def, nil
	}
	if app.IsUnknown() {
		return app, nil
	}
	if app.Kind() != php.Array {
		return php.Value{}, fmt.Errorf("%s: must return an array, got %s", rel, app.TypeName())
	}
	if name == "reverb" {
		return php.ArrayValue(arrayMerge(def.ArrayVal(), app.ArrayVal())), nil
	}
	return php.ArrayValue(mergeFramework(def.ArrayVal(), app.ArrayVal(), mergeableOptions[name])), nil
}

// vendorFrameworkDefault evaluates the installed framework's own
// config/<name>.php (vendor/laravel/framework/config), which is what
// LoadConfiguration merges under the app's file: its keys and defaults
// follow the installed minor release (Laravel 11.x added sqlite's
// busy_timeout, journal_mode and synchronous after 11.0, and the prefixes
// changed form in 13). false, and the built-in copy for the major is used,
// when vendor/ has no such file or it does not evaluate to an array.
func (p *Project) vendorFrameworkDefault(name string, getenv func(string) (string, bool)) (php.Value, bool) {
	rel := "vendor/laravel/framework/config/" + name + ".php"
	res, err := phpeval.EvalFile(filepath.Join(p.BasePath, filepath.FromSlash(rel)),
		phpeval.Options{File: rel, BasePath: p.BasePath, Getenv: getenv, ProcessEnv: p.processEnv})
	if err != nil || res.Value.Kind() != php.Array {
		return php.Value{}, false
	}
	return res.Value, true
}

// arrayMerge is PHP's array_merge for two arrays: string keys of b replace
// those of a in place, integer keys are appended and renumbered.
func arrayMerge(a, b *php.OrderedArray) *php.OrderedArray {
	out := php.NewArray()
	for _, src := range []*php.OrderedArray{a, b} {
		for i, k := range src.Keys {
			if k.IsInt {
				out.Append(src.Values[i])
			} else {
				out.Set(k, src.Values[i])
			}
		}
	}
	return out
}

// mergeFramework is LoadConfiguration::mergeConfig (Laravel 11+): the
// mergeable options are array_merge(default, app) one level down, then the
// whole file is array_merge(default, app).
func mergeFramework(def, app *php.OrderedArray, options []string) *php.OrderedArray {
	app = app.Copy()
	for _, opt := range options {
		k := php.StringKey(opt)
		av, ok := app.Get(k)
		if !ok || av.IsNull() {
			continue // isset() is false
		}
		dv, _ := def.Get(k)
		if av.Kind() == php.Array && dv.Kind() == php.Array {
			app.Set(k, php.ArrayValue(arrayMerge(dv.ArrayVal(), av.ArrayVal())))
		}
	}
	return arrayMerge(def, app)
}

// configCachePath is Application::getCachedConfigPath: APP_CONFIG_CACHE
// (real environment only, relative to the base path unless absolute), else
// bootstrap/cache/config.php; ok when that file exists.
func configCachePath(base string, lookupReal func(string) (string, bool)) (string, bool) {
	path := filepath.Join(base, "bootstrap", "cache", "config.php")
	if raw, ok := lookupReal("APP_CONFIG_CACHE"); ok {
		// Application::normalizeCachePath: env() conversions apply, null
		// means the default, "/..." is absolute, anything else is joined
		// to the base path ("" names the base directory: not a file).
		if v := phpeval.EnvValue(raw); !v.IsNull() {
			s := v.ToString()
			if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "\\") {
				path = s
			} else {
				path = base + string(filepath.Separator) + s
			}
		}
	}
	fi, err := os.Stat(path)
	return path, err == nil && fi.Mode().IsRegular()
}

func relTo(base, path string) string {
	if r, err := filepath.Rel(base, path); err == nil && !filepath.IsAbs(r) && r != ".." && !startsWithDotDot(r) {
		return filepath.ToSlash(r)
	}
	return path
}

func startsWithDotDot(r string) bool {
	return len(r) >= 3 && r[:3] == ".."+string(filepath.Separator)
}
