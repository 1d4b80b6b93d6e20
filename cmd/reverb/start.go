package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/reverb-go/reverb/supervisor"
)

func init() {
	register("start", "Start the Reverb server (like php artisan reverb:start)", runStart)
}

func runStart(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reverb start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c supervisor.Config
	fs.StringVar(&c.CLI.Host, "host", "", "the IP address the server should bind to (default: reverb.servers.reverb.host)")
	fs.StringVar(&c.CLI.Port, "port", "", "the port the server should listen on (default: reverb.servers.reverb.port)")
	fs.StringVar(&c.CLI.Path, "path", "", "the path the server should prefix to all routes (default: reverb.servers.reverb.path)")
	fs.StringVar(&c.CLI.Hostname, "hostname", "", "the hostname the server is accessible from (default: reverb.servers.reverb.hostname)")
	fs.BoolVar(&c.CLI.Debug, "debug", false, "print the message stream")
	fs.StringVar(&c.Dir, "dir", ".", "the Laravel project root")
	fs.StringVar(&c.EnvName, "env", "", "the environment the command should run under (selects .env.NAME)")
	fs.IntVar(&c.Workers, "workers", supervisor.DefaultWorkers(), "worker processes sharing the port (0: serve in this process; macOS/Windows: servers in this process)")
	fs.DurationVar(&c.PingSweep, "ping-sweep", 0, "period of the ping/prune sweep (default 1m; tests shorten it)")
	fs.DurationVar(&c.DrainWindow, "drain-window", 10*time.Second, "time over which a restart or stop closes old connections")
	fs.DurationVar(&c.RestartPoll, "restart-poll", time.Second, "how often non-file cache stores are polled for the restart flag")
	fs.StringVar(&c.MetricsAddr, "metrics", "", "serve Prometheus metrics on this host:port (default: $REVERB_METRICS_ADDR; off when empty)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "reverb start: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	c.Stdout, c.Stderr = stdout, stderr
	return supervisor.Run(c)
}
