package doctor

import (
	"fmt"
	"io"
	"strings"

	"github.com/reverb-go/reverb/sysctl"
)

// WriteText prints the report for people. snippets=false leaves the
// configuration fragments out.
func (r Report) WriteText(w io.Writer, snippets bool) {
	fmt.Fprintf(w, "reverb doctor — %s", r.Dir)
	if r.AppEnv != "" {
		fmt.Fprintf(w, " (APP_ENV=%s)", r.AppEnv)
	}
	fmt.Fprintln(w)
	// What is wrong with the folder or its configuration comes first:
	// what follows depends on it.
	var first, rest []Finding
	for _, f := range r.Findings {
		if f.Code == "project" || f.Code == "env" {
			first = append(first, f)
		} else {
			rest = append(rest, f)
		}
	}
	if len(first) > 0 {
		fmt.Fprintln(w)
		writeFindings(w, first)
	}

	fmt.Fprintln(w, "\nServer")
	listen := r.Listen.URL()
	if r.TLSSource != "" {
		listen += " (TLS: " + r.TLSSource + ")"
	}
	if r.Listen.From == Unknown {
		listen = "unknown (the configuration cannot be read)"
	}
	row(w, "listens on", listen)
	if r.Clients.From == Unknown {
		row(w, "clients told", "unknown (the configuration cannot be read)")
	} else {
		row(w, "clients told", r.Clients.URL()+"  ["+r.Clients.From+"]")
	}
	l := r.Limits
	workers := fmt.Sprint(r.Capacity.Workers)
	switch {
	case l.SingleProcess:
		workers = "one process serves every connection (worker processes are Linux-only)"
	case r.Capacity.Workers == 0:
		workers = "0 (one process)"
	case r.Capacity.MaxWorkers > 0:
		workers += fmt.Sprintf(" at start, growing to at most %d", r.Capacity.MaxWorkers)
	default:
		workers += " at start, growing as they fill"
	}
	row(w, "workers", workers)

	fmt.Fprintf(w, "\nSystem limits (%s)\n", osName(l.OS))
	switch l.OS {
	case "darwin":
		row(w, "open files", fmt.Sprintf("soft %s / hard %s for this process (Go raises soft to hard, at most kern.maxfilesperproc)", num(l.NoFileSoft), num(l.NoFileHard)))
		row(w, "launchctl maxfiles", fmt.Sprintf("soft %s / hard %s (what launchd gives the programs it starts)", num(l.LaunchdSoft), num(l.LaunchdHard)))
		row(w, "kern.maxfilesperproc", num(l.MaxFilesPerProc))
		row(w, "kern.maxfiles", num(l.MaxFiles))
		row(w, "kern.ipc.somaxconn", fmt.Sprint(l.Somaxconn))
		row(w, "local ports", fmt.Sprintf("%d–%d (%d ports)", l.PortLow, l.PortHigh, l.Ports()))
		row(w, "memory", sysctl.HumanBytes(l.MemTotal)+" total")
	case "windows":
		row(w, "open files", "no per-process limit for sockets on Windows")
		row(w, "dynamic ports", fmt.Sprintf("%d–%d (%d ports)", l.PortLow, l.PortHigh, l.Ports()))
		row(w, "memory", fmt.Sprintf("%s total, %s available", sysctl.HumanBytes(l.MemTotal), sysctl.HumanBytes(l.MemAvailable)))
	default:
		row(w, "open files", fmt.Sprintf("soft %s / hard %s (reverb raises soft to hard at start)", num(l.NoFileSoft), num(l.NoFileHard)))
		row(w, "fs.file-max", num(l.FileMax))
		row(w, "fs.nr_open", num(l.NrOpen))
		row(w, "local ports", fmt.Sprintf("%d–%d (%d ports)", l.PortLow, l.PortHigh, l.Ports()))
		row(w, "somaxconn", fmt.Sprint(l.Somaxconn))
		row(w, "syn backlog", fmt.Sprint(l.TCPMaxSynBacklog))
		if l.ConntrackMax != 0 {
			row(w, "nf_conntrack_max", num(l.ConntrackMax))
		}
		row(w, "memory", fmt.Sprintf("%s total, %s available", sysctl.HumanBytes(l.MemTotal), sysctl.HumanBytes(l.MemAvailable)))
	}

	c := r.Capacity
	fmt.Fprintln(w, "\nCapacity (estimate)")
	if c.Binding == "" {
		row(w, "connections", "unknown (no limit could be read)")
	} else {
		row(w, "total", fmt.Sprintf("about %s connections; binding limit: %s", num(c.Total), c.Binding))
		row(w, "per worker", "about "+num(c.PerWorker))
		if c.Growth != "" {
			row(w, "open files per worker", c.Growth)
		}
		for _, b := range c.Bounds {
			row(w, b.Name, fmt.Sprintf("%s  (%s)", num(b.Connections), b.Detail))
		}
	}
	if c.ProxyPorts > 0 && r.AppEnv == "production" { // a proxy on this host is a production setup
		row(w, "via local proxy", fmt.Sprintf("at most %s per upstream address (ephemeral ports; direct clients do not use them)", num(c.ProxyPorts)))
	}

	if len(rest) > 0 || len(first) == 0 {
		fmt.Fprintln(w, "\nFindings")
		if len(rest) == 0 {
			fmt.Fprintln(w, "  none")
		}
		writeFindings(w, rest)
	}
	if snippets && r.SnippetsWithheld != "" {
		fmt.Fprintf(w, "\nSnippets withheld: %s\n", r.SnippetsWithheld)
	}
	if snippets {
		if len(r.Snippets) > 0 {
			fmt.Fprintln(w, "\nSnippets (filled in for this app; paste where the first line says)")
		}
		for _, s := range r.Snippets {
			fmt.Fprintf(w, "\n----- %s -----\n%s", s.File, s.Text)
		}
		if len(r.NotApplicable) > 0 {
			fmt.Fprintf(w, "\nNot applicable on %s\n", osName(r.Limits.OS))
			for _, n := range r.NotApplicable {
				fmt.Fprintf(w, "  - %s\n", n)
			}
		}
	}
	fmt.Fprintln(w)
	if r.OK {
		fmt.Fprintln(w, "No problems found.")
	} else {
		fmt.Fprintln(w, "Problems or warnings found (exit status 1).")
	}
}

func writeFindings(w io.Writer, fs []Finding) {
	for _, f := range fs {
		fmt.Fprintf(w, "  %-8s %s\n", strings.ToUpper(f.Level), f.Message)
	}
}

func row(w io.Writer, k, v string) { fmt.Fprintf(w, "  %-22s %s\n", k, v) }

func num(n uint64) string {
	switch {
	case n == 0:
		return "?"
	case n == sysctl.Unlimited || n >= 1<<62:
		return "unlimited"
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// osName is the operating system as users call it.
func osName(goos string) string {
	switch goos {
	case "", "linux":
		return "Linux"
	case "darwin":
		return "macOS"
	case "windows":
		return "Windows"
	}
	return goos
}
