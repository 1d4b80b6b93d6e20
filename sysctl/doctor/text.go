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

	fmt.Fprintln(w, "\nServer")
	listen := r.Listen.URL()
	if r.TLSSource != "" {
		listen += " (TLS: " + r.TLSSource + ")"
	}
	row(w, "listens on", listen)
	row(w, "clients told", r.Clients.URL()+"  ["+r.Clients.From+"]")
	workers := fmt.Sprint(r.Capacity.Workers)
	if r.Capacity.Workers == 0 {
		workers = "0 (one process)"
	}
	row(w, "workers", workers)

	l := r.Limits
	fmt.Fprintln(w, "\nSystem limits")
	row(w, "open files", fmt.Sprintf("soft %s / hard %s (reverb raises soft to hard at start)", num(l.NoFileSoft), num(l.NoFileHard)))
	row(w, "fs.file-max", num(l.FileMax))
	row(w, "fs.nr_open", num(l.NrOpen))
	row(w, "local ports", fmt.Sprintf("%d–%d (%d ports)", l.PortLow, l.PortHigh, l.Ports()))
	row(w, "somaxconn", fmt.Sprint(l.Somaxconn))
	row(w, "syn backlog", fmt.Sprint(l.TCPMaxSynBacklog))
	row(w, "memory", fmt.Sprintf("%s total, %s available", sysctl.HumanBytes(l.MemTotal), sysctl.HumanBytes(l.MemAvailable)))

	c := r.Capacity
	fmt.Fprintln(w, "\nCapacity (estimate)")
	if c.Binding == "" {
		row(w, "connections", "unknown (no limit could be read)")
	} else {
		row(w, "total", fmt.Sprintf("about %s connections; binding limit: %s", num(c.Total), c.Binding))
		row(w, "per worker", "about "+num(c.PerWorker))
		for _, b := range c.Bounds {
			row(w, b.Name, fmt.Sprintf("%s  (%s)", num(b.Connections), b.Detail))
		}
	}
	if c.ProxyPorts > 0 {
		row(w, "via local proxy", fmt.Sprintf("at most %s per upstream address (ephemeral ports; direct clients do not use them)", num(c.ProxyPorts)))
	}

	fmt.Fprintln(w, "\nFindings")
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  %-8s %s\n", strings.ToUpper(f.Level), f.Message)
	}
	if snippets {
		fmt.Fprintln(w, "\nSnippets (filled in for this app; paste where the first line says)")
		for _, s := range r.Snippets {
			fmt.Fprintf(w, "\n----- %s -----\n%s", s.File, s.Text)
		}
	}
	fmt.Fprintln(w)
	if r.OK {
		fmt.Fprintln(w, "No problems found.")
	} else {
		fmt.Fprintln(w, "Problems or warnings found (exit status 1).")
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
