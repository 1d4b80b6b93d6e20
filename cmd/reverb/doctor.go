package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/cachestore"
	"github.com/reverb-go/reverb/supervisor"
	"github.com/reverb-go/reverb/sysctl"
	"github.com/reverb-go/reverb/sysctl/doctor"
)

func init() {
	register("doctor", "Check limits and config for production; print limits.conf, sysctl, nginx, supervisor, systemd snippets", runDoctor)
}

func runDoctor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reverb doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "the Laravel project root")
	envName := fs.String("env", "", "the environment to check (selects .env.NAME)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	workers := fs.Int("workers", supervisor.DefaultWorkers(), "worker processes `reverb start` will run")
	snippets := fs.Bool("snippets", true, "print the configuration snippets")
	user := fs.String("user", "", "the Unix user in the snippets (default: the project folder's owner)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: reverb doctor [--dir DIR] [--workers N] [--json]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Reads the open-files limits, fs.file-max, fs.nr_open, the local port range,")
		fmt.Fprintln(stderr, "somaxconn, tcp_max_syn_backlog and memory; estimates how many connections")
		fmt.Fprintln(stderr, "this machine holds; checks allowed_origins, where clients are told to connect")
		fmt.Fprintln(stderr, "against where the server listens, TLS files and the restart-flag cache store;")
		fmt.Fprintln(stderr, "prints ready-to-paste limits.conf, sysctl, nginx, supervisor and systemd snippets.")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Exit status: 0 nothing wrong, 1 a problem or warning was found, 2 bad usage.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if code, done := parseOptionsOnly(fs, args, stderr); done {
		return code
	}
	if *workers < 0 {
		fmt.Fprintln(stderr, "reverb doctor: --workers must be 0 or more")
		return 2
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "reverb doctor: %v\n", err)
		return 2
	}
	p, loadErr := laravelcfg.Load(laravelcfg.LoadOptions{Dir: abs, EnvName: *envName})
	home, _ := os.UserHomeDir()
	report := doctor.Build(doctor.Input{
		Dir: abs, Project: p, LoadErr: loadErr,
		Limits:      sysctl.Read(sysctl.System()),
		Workers:     *workers,
		DrainWindow: 10 * time.Second, // `reverb start --drain-window` default
		User:        userOr(*user, abs),
		Home:        home,
		OpenFlag: func(p *laravelcfg.Project) (io.Closer, error) {
			s, err := cachestore.Open(p)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
	})
	if *asJSON {
		if !*snippets {
			report.Snippets = nil
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			fmt.Fprintf(stderr, "reverb doctor: %v\n", err)
			return 2
		}
	} else {
		report.WriteText(stdout, *snippets)
	}
	if !report.OK {
		return 1
	}
	return 0
}

// userOr is --user, else the project folder's owner.
func userOr(flagValue, dir string) string {
	if flagValue != "" {
		return flagValue
	}
	return doctor.OwnerName(dir, "")
}
