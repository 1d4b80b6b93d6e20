package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/cachestore"
	"github.com/reverb-go/reverb/supervisor"
	"github.com/reverb-go/reverb/sysctl"
	"github.com/reverb-go/reverb/sysctl/doctor"
)

func init() {
	register("doctor", "Check this machine and project for production; print ready-to-paste service and proxy configuration", runDoctor)
}

// flagProbeTimeout bounds the restart-flag check (a cache server that does
// not answer fails it).
const flagProbeTimeout = 10 * time.Second

func runDoctor(args []string, stdout, stderr io.Writer) int {
	dir := "."
	workers := supervisor.DefaultWorkers()
	maxWorkersCap := 0
	asJSON := false
	snippets := true
	user := ""
	s := &spec{
		name:    "doctor",
		summary: "Check this machine and project for production; print ready-to-paste service and proxy configuration",
		about: []string{
			"Reads the limits that decide how many connections this machine holds (open files, kernel tables, ports, memory) " +
				"on the operating system it runs on, estimates the connections reverb start holds (its worker pool grows past the open-files limit, up to --max-workers if set) and which limit binds, " +
				"and checks the project: allowed_origins in production, where clients are told to connect against where the server listens, " +
				"the TLS files, and that the restart flag's cache store can really be read (database file and table, Redis or memcached answering, " +
				"a writable cache folder).",
			"Then it prints configuration filled in for this app: open-files limits, sysctl, nginx, supervisor and systemd on Linux; " +
				"what applies on macOS and Windows there.",
			"Exit status: 0 nothing wrong, 1 a problem or warning was found, 2 bad usage.",
		},
		examples: []string{
			"./reverb doctor",
			"./reverb doctor --workers=4 --no-snippets",
			"./reverb doctor --json | jq .findings",
		},
		opts: []option{
			{long: "workers", arg: "N", def: fmt.Sprintf("%d, what reverb start uses", workers), help: "Worker processes reverb start will run",
				set: setCount(&workers, 0, maxWorkers, "workers")},
			{long: "max-workers", arg: "N", def: "none, as reverb start", help: "The most worker processes reverb start's pool will grow to (--max-workers)",
				set: setCount(&maxWorkersCap, 0, maxWorkers, "workers")},
			{long: "json", help: "Print the report as JSON", set: setSwitch(&asJSON)},
			{long: "no-snippets", help: "Leave the configuration snippets out", set: func(string) error { snippets = false; return nil }},
			{long: "snippets", arg: "BOOL", hidden: true, set: func(v string) error {
				b, err := parseBool(v)
				snippets = b
				return err
			}},
			{long: "user", arg: "USER", def: "the project folder's owner", help: "The user that runs the server, in the snippets", set: setNonEmpty(&user, "user name")},
			{long: "dir", arg: "DIR", def: ".", help: "The Laravel project root", set: setNonEmpty(&dir, "folder")},
		},
	}
	return s.run(args, stdout, stderr, func(stdout, stderr io.Writer) int {
		// Outside a Laravel project nothing else means anything: say so
		// first and stop, as the other commands do (no snippets filled
		// in for a folder that is not the app).
		root, rootErr := laravelcfg.InspectRoot(dir, s.g.env, nil)
		if rootErr == nil {
			rootErr = root.NotLaravel()
		}
		encode := func(report doctor.Report) int {
			if !snippets {
				report.Snippets = nil
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(report); err != nil {
				fmt.Fprintf(stderr, "reverb doctor: %v\n", err)
				return 2
			}
			return 0
		}
		if rootErr != nil {
			printRootError(stderr, "doctor", "", rootErr)
			if asJSON {
				// What reads the JSON still gets a report: the project
				// finding, ok false, no snippets.
				if rc := encode(doctor.Build(doctor.Input{Dir: root.Dir, Limits: sysctl.Read(sysctl.System()), RootErr: rootErr})); rc != 0 {
					return rc
				}
			}
			return 1
		}
		in := doctor.Input{
			Dir:         root.Dir,
			Limits:      sysctl.Read(sysctl.System()),
			Workers:     workers,
			MaxWorkers:  maxWorkersCap,
			DrainWindow: 10 * time.Second, // `reverb start --drain-window` default
			CheckFlag:   probeFlag,
		}
		if in.Dir == "" {
			in.Dir = dir
		}
		if link, ok := laravelcfg.CurrentLink(in.Dir); ok {
			in.ServiceDir = link // a release of an Envoyer-style deploy
		}
		if e := root.MissingEnv(); e != nil {
			in.EnvMissing = e
		}
		in.Project, in.LoadErr = laravelcfg.Load(laravelcfg.LoadOptions{Dir: root.Dir, EnvName: s.g.env})
		if in.LoadErr != nil {
			// The apps may be what fails (a missing key): where the
			// server listens can still be read, for the report and
			// the snippets.
			if p, err := laravelcfg.Load(laravelcfg.LoadOptions{Dir: root.Dir, EnvName: s.g.env, SkipReverbSettings: true}); err == nil {
				in.Getenv = p.Getenv
				if srv, err := p.ReadServer(); err == nil {
					in.Server = &srv
				}
			}
		}
		in.User = userOr(user, in.Dir)
		in.Home, _ = os.UserHomeDir()
		report := doctor.Build(in)
		if asJSON {
			if rc := encode(report); rc != 0 {
				return rc
			}
		} else {
			report.WriteText(stdout, snippets)
		}
		if !report.OK {
			return 1
		}
		return 0
	})
}

// probeFlag opens the restart flag's store and checks it can really be
// read and written, without changing it.
func probeFlag(p *laravelcfg.Project) (string, error) {
	st, err := cachestore.Open(p)
	if err != nil {
		return "", err
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), flagProbeTimeout)
	defer cancel()
	return st.Location(), cachestore.Probe(ctx, st)
}

func parseBool(v string) (bool, error) {
	switch v {
	case "1", "true", "yes", "on", "":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

// userOr is --user, else the project folder's owner.
func userOr(flagValue, dir string) string {
	if flagValue != "" {
		return flagValue
	}
	return doctor.OwnerName(dir, "")
}
