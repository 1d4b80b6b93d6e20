package main

import (
	"context"
	"fmt"
	"io"
	"time"

	goredis "github.com/redis/go-redis/v9"

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
	dir := "."
	s := &spec{
		name:    "restart",
		summary: "Signal running Reverb servers to restart (like php artisan reverb:restart)",
		about: []string{
			"Writes the restart flag (laravel:reverb:restart) to the app's default cache store, exactly as php artisan reverb:restart does, " +
				"so either command restarts every server of the app, this one and PHP Reverb alike. " +
				"The running server re-reads .env and config/ and replaces its workers without closing the port.",
			"The cache store must be shared between processes: file, database, redis or memcached. -v prints where the flag was written.",
		},
		examples: []string{
			"./reverb restart",
			"./reverb restart -v              # also print the cache store and key written",
			"php artisan reverb:restart       # the same flag, from PHP",
		},
		opts: []option{
			{long: "dir", arg: "DIR", def: ".", help: "The Laravel project root", set: setNonEmpty(&dir, "folder")},
		},
	}
	return s.run(args, stdout, stderr, func(stdout, stderr io.Writer) int {
		if _, ok := checkRoot("restart", dir, s.g.env, stderr); !ok {
			return 1
		}
		// Like reverb:restart, only the cache config matters: a broken
		// config/reverb.php must not stop a deploy from signalling a restart.
		p, err := laravelcfg.Load(laravelcfg.LoadOptions{Dir: dir, EnvName: s.g.env, SkipReverbSettings: true})
		if err != nil {
			fmt.Fprintf(stderr, "reverb restart: %v\n", err)
			return 1
		}
		// The error below names the store and the cause; the Redis
		// client's own log lines ("pool.go:770: ... failed to dial")
		// would only repeat it in another format.
		goredis.SetLogger(quietRedis{})
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
		if s.g.verbosity > 0 {
			fmt.Fprintf(stdout, "   %s\n\n", st.Location())
		}
		return 0
	})
}

// quietRedis drops the Redis client library's log lines.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
