package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/cachestore"
)

func init() {
	register("restart", "Signal running Reverb servers to restart (like php artisan reverb:restart)", runRestart)
}

// restartTimeout bounds connecting to and writing the cache store, so a
// store that is down fails the command instead of hanging a deploy script.
const restartTimeout = 15 * time.Second

// runRestart does what `php artisan reverb:restart` does:
// Cache::forever('laravel:reverb:restart', time()) in the app's default
// cache store. Every server watching the flag (this one or PHP Reverb)
// restarts when it sees the new value.
func runRestart(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reverb restart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "the Laravel project root")
	envName := fs.String("env", "", "the environment the command should run under (selects .env.NAME)")
	verbose := fs.Bool("v", false, "also print where the flag was written")
	if code, done := parseOptionsOnly(fs, args, stderr); done {
		return code
	}
	// Like reverb:restart, only the cache config matters: a broken
	// config/reverb.php must not stop a deploy from signalling a restart.
	p, err := laravelcfg.Load(laravelcfg.LoadOptions{Dir: *dir, EnvName: *envName, SkipReverbSettings: true})
	if err != nil {
		fmt.Fprintf(stderr, "reverb restart: %v\n", err)
		return 1
	}
	st, err := cachestore.Open(p)
	if err != nil {
		fmt.Fprintf(stderr, "reverb restart: %v\n", err)
		return 1
	}
	defer st.Close()
	for _, w := range cachestore.Warnings(st) {
		fmt.Fprintf(stderr, "reverb restart: warning: %s\n", w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), restartTimeout)
	defer cancel()
	if err := st.Write(ctx, time.Now().Unix()); err != nil {
		fmt.Fprintf(stderr, "reverb restart: %v\n", err)
		return 1
	}
	// Laravel's $this->components->info(...) layout.
	fmt.Fprint(stdout, "\n   INFO  Broadcasting Reverb restart signal.\n\n")
	if *verbose {
		fmt.Fprintf(stdout, "   %s\n\n", st.Location())
	}
	return 0
}
