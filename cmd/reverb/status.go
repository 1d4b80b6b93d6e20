package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/metrics"
)

func init() {
	register("status", "Show the running server: uptime, workers, connections and messages per app", runStatus)
}

// runStatus asks the running server over its control socket (the path is
// derived from the project directory, like the server derives it), twice
// --interval apart so messages per second can be shown.
func runStatus(args []string, stdout, stderr io.Writer) int {
	dir := "."
	asJSON := false
	interval := time.Second
	s := &spec{
		name:    "status",
		summary: "Show the running server: uptime, workers, connections and messages per app",
		envHelp: "Accepted as artisan accepts it; the server running for this folder answers whatever environment it runs under",
		about: []string{
			"Asks the server running for this project through its control socket (storage/reverb.sock, or a short path in the temporary folder), " +
				"twice --interval apart to show messages per second. Exits 1 when no server is running.",
		},
		examples: []string{
			"./reverb status",
			"./reverb status --json --interval=0    # one sample, for scripts",
		},
		opts: []option{
			{long: "json", help: "Print the status as JSON", set: setSwitch(&asJSON)},
			{long: "interval", arg: "DURATION", def: "1s", help: "Time between the two samples for messages per second; 0 takes one sample, no rates",
				set: setDuration(&interval, 0)},
			{long: "dir", arg: "DIR", def: ".", help: "The Laravel project root", set: setNonEmpty(&dir, "folder")},
		},
	}
	return s.run(args, stdout, stderr, func(stdout, stderr io.Writer) int {
		root, err := laravelcfg.InspectRoot(dir, "", nil)
		if err == nil {
			err = root.NotLaravel()
		}
		if err != nil {
			printRootError(stderr, "status", "", err)
			return 1
		}
		return showStatus(dir, asJSON, interval, stdout, stderr)
	})
}

// showStatus samples the control socket of the server running for dir.
func showStatus(dir string, asJSON bool, interval time.Duration, stdout, stderr io.Writer) int {
	// The socket's path follows the folder the server serves: a release's
	// real path and its deploy's current link name the same server.
	if serving, _, err := laravelcfg.ServingDir(dir); err == nil {
		dir = serving
	}
	sock := metrics.ControlSocketPath(dir)
	fetch := func() (metrics.Status, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return metrics.FetchStatus(ctx, sock)
	}
	st, err := fetch()
	if err == nil && interval > 0 {
		time.Sleep(interval)
		var next metrics.Status
		if next, err = fetch(); err == nil {
			next.Rates = rates(st, next)
			st = next
		}
	}
	if err != nil {
		if errors.Is(err, metrics.ErrNotRunning) {
			detail := strings.TrimPrefix(err.Error(), metrics.ErrNotRunning.Error()+" ")
			fmt.Fprintf(stderr, "No Reverb server is running for this project %s\n", detail)
		} else {
			fmt.Fprintf(stderr, "reverb status: %v\n", err)
		}
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			fmt.Fprintf(stderr, "reverb status: %v\n", err)
			return 1
		}
		return 0
	}
	printStatus(stdout, st)
	return 0
}

// rates is messages per second between two samples, per app. A counter
// that went back (cannot happen with retired totals, but a restarted
// supervisor could answer the second sample) gives 0.
func rates(a, b metrics.Status) map[string]metrics.Rate {
	dt := b.SampledAt.Sub(a.SampledAt).Seconds()
	out := map[string]metrics.Rate{}
	if dt <= 0 {
		return out
	}
	before := map[string]metrics.AppStatus{}
	for _, app := range a.Apps {
		before[app.ID] = app
	}
	for _, app := range b.Apps {
		p := before[app.ID]
		out[app.ID] = metrics.Rate{
			In:  max(0, float64(app.MessagesIn-p.MessagesIn)/dt),
			Out: max(0, float64(app.MessagesOut-p.MessagesOut)/dt),
		}
	}
	return out
}

func printStatus(w io.Writer, st metrics.Status) {
	up := time.Duration(st.UptimeSeconds * float64(time.Second)).Round(time.Second)
	fmt.Fprintf(w, "Reverb is running (%s, pid %d), up %v since %s\n", st.Mode, st.PID, up, st.Started.Local().Format(time.DateTime))
	counts := map[string]int{}
	for _, wk := range st.Workers {
		counts[wk.State]++
	}
	var parts []string
	for _, s := range []string{"serving", "starting", "draining"} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "none")
	}
	fmt.Fprintf(w, "Generation %d (%d restarts, %d worker deaths); workers: %s\n", st.Generation, st.Restarts, st.WorkerDeaths, strings.Join(parts, ", "))
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tCONNECTIONS\tCHANNELS\tSUBSCRIPTIONS\tIN/S\tOUT/S\tIN TOTAL\tOUT TOTAL")
	for _, a := range st.Apps {
		in, out := "-", "-"
		if r, ok := st.Rates[a.ID]; ok {
			in, out = fmt.Sprintf("%.1f", r.In), fmt.Sprintf("%.1f", r.Out)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%d\t%d\n", a.ID, a.Connections, a.Channels, a.Subscriptions, in, out, a.MessagesIn, a.MessagesOut)
	}
	tw.Flush()
	if len(st.Workers) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WORKER\tPID\tGENERATION\tSTATE\tCONNECTIONS")
		for _, wk := range st.Workers {
			state := wk.State
			if !wk.Up {
				state += " (not answering)"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\n", wk.NodeID, wk.PID, wk.Generation, state, wk.Connections)
		}
		tw.Flush()
	}
	if len(st.Handshake) > 0 {
		reasons := make([]string, 0, len(st.Handshake))
		for r := range st.Handshake {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		var hs []string
		for _, r := range reasons {
			hs = append(hs, fmt.Sprintf("%s: %d", r, st.Handshake[r]))
		}
		fmt.Fprintf(w, "\nRefused handshakes: %s\n", strings.Join(hs, ", "))
	}
	if st.OpenFilesRefused > 0 {
		fmt.Fprintf(w, "\nRefused at the open-files limit: %d (raise the limit or add workers: reverb doctor)\n", st.OpenFilesRefused)
	}
}
