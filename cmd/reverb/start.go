package main

import (
	"fmt"
	"io"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/supervisor"
	"github.com/reverb-go/reverb/supervisor/console"
	"github.com/reverb-go/reverb/supervisor/parentwatch"
)

func init() {
	register("start", "Start the Reverb server (like php artisan reverb:start)", runStart)
}

// maxWorkers bounds --workers: each worker is a process with its own
// open-files budget; more than this is a typo, not a deployment.
const maxWorkers = 1024

func startSpec(c *supervisor.Config) *spec {
	s := &spec{
		name:    "start",
		summary: "Start the Reverb server (like php artisan reverb:start)",
		about: []string{
			"Reads .env and config/reverb.php as Laravel does and serves the Pusher protocol and Reverb's HTTP API. " +
				"Each option falls back to the config, then to its environment variable, as php artisan reverb:start does.",
			"The server restarts without dropping a connection when php artisan reverb:restart (or ./reverb restart) writes its flag, " +
				"or on SIGHUP; SIGTERM and SIGINT drain the connections and exit 0.",
			"On Linux the worker processes grow by themselves: when every worker nears its open-files limit another one starts, " +
				"so the connections are bounded by memory, not by a flag. --workers is where the pool starts and the least it keeps; " +
				"--max-workers caps it (by default the machine's free memory does).",
		},
		examples: []string{
			"./reverb start",
			"./reverb start --host=127.0.0.1 --port=9000 --debug",
			"./reverb start --workers=4 --metrics=127.0.0.1:9100",
			"./reverb start --max-workers=16    # grow past the open-files limit, up to 16 worker processes",
			"./reverb start --no-interaction --port=8080    # a Forge or supervisor command line works as is",
		},
	}
	s.opts = []option{
		{long: "host", arg: "HOST", def: "REVERB_SERVER_HOST, else 0.0.0.0", help: "The IP address the server should bind to", set: setNonEmpty(&c.CLI.Host, "host")},
		{long: "port", arg: "PORT", def: "REVERB_SERVER_PORT, else 8080", help: "The port the server should listen on", set: setPort(&c.CLI.Port)},
		{long: "path", arg: "PATH", def: "REVERB_SERVER_PATH, else none", help: "The path the server should prefix to all routes", set: setString(&c.CLI.Path)},
		{long: "hostname", arg: "HOSTNAME", def: "REVERB_HOST", help: "The hostname the server is accessible from (finds its Herd or Valet certificate)", set: setString(&c.CLI.Hostname)},
		{long: "debug", help: "Print the message stream, as reverb:start --debug does", set: setSwitch(&c.CLI.Debug)},
		{long: "workers", arg: "N", def: fmt.Sprintf("%d, %s", supervisor.DefaultWorkers(), supervisor.DefaultWorkersNote),
			help: "Worker processes sharing the port on Linux, the pool's starting size and minimum; 0 serves in this one process (restarts stay zero-downtime). On macOS and Windows: servers in this one process",
			set:  setCount(&c.Workers, 0, maxWorkers, "workers")},
		{long: "max-workers", arg: "N", def: "none: the pool grows while a tenth of the memory stays free",
			help: "The most worker processes the pool grows to on Linux as workers near their open-files limit",
			set:  setCount(&c.MaxWorkers, 0, maxWorkers, "workers")},
		{long: "drain-window", arg: "DURATION", def: "10s", help: "How long a restart spreads the closing of old connections over (longer with many), and the most a stop takes",
			set: setDuration(&c.DrainWindow, time.Millisecond)},
		{long: "restart-poll", arg: "DURATION", def: "1s", help: "How often a database, redis or memcached cache store is read for the restart flag",
			set: setDuration(&c.RestartPoll, 10*time.Millisecond)},
		{long: "metrics", arg: "HOST:PORT", def: "REVERB_METRICS_ADDR, else off", help: "Serve Prometheus metrics on this address", set: setHostPort(&c.MetricsAddr)},
		{long: "dir", arg: "DIR", def: ".", help: "The Laravel project root", set: setNonEmpty(&c.Dir, "folder")},
		// Tests shorten the ping/prune sweep; not for users.
		{long: "ping-sweep", arg: "DURATION", hidden: true, set: setDuration(&c.PingSweep, time.Millisecond)},
	}
	return s
}

func runStart(args []string, stdout, stderr io.Writer) int {
	c := supervisor.Config{Dir: ".", Workers: supervisor.DefaultWorkers(), DrainWindow: 10 * time.Second, RestartPoll: time.Second}
	s := startSpec(&c)
	s.ownQuiet = true // the console prints errors only; stdout stays open
	return s.run(args, stdout, stderr, func(stdout, stderr io.Writer) int {
		if c.MaxWorkers > 0 && c.MaxWorkers < c.Workers {
			fmt.Fprintf(stderr, "reverb start: --max-workers=%d: fewer than --workers=%d (the pool's starting size)\nRun 'reverb start --help' for its options.\n", c.MaxWorkers, c.Workers)
			return 2
		}
		c.EnvName, c.Colour, c.Quiet = s.g.env, s.g.ansi, s.g.quiet
		con := console.New(stdout)
		con.Configure(c.Colour, c.Quiet)
		root, err := laravelcfg.InspectRoot(c.Dir, c.EnvName, nil)
		if err == nil {
			err = root.NotLaravel()
		}
		if err != nil {
			con.Errorf("%v", err)
			return 1
		}
		if e := root.MissingEnv(); e != nil {
			con.Warnf("%v", e)
		}
		c.Stdout, c.Stderr = stdout, stderr
		c.StartChecks = startChecks
		c.ParentPID = parentwatch.FromEnv()
		return supervisor.Run(c)
	})
}
