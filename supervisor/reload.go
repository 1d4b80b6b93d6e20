package supervisor

import (
	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/supervisor/console"
)

// A restart reads the project again before it builds anything, and that can
// take a while: apps only PHP can produce run `php artisan reverb:apps`
// (up to its timeout). Both process models read it off their event loop,
// so the loop keeps replacing workers that die, growing the pool and
// answering monitoring meanwhile, and take the result as an evLoaded.

// evLoaded is a project read for a restart (p nil when err is set).
type evLoaded struct {
	p   *laravelcfg.Project
	err error
}

// loadForRestart reads the project on a goroutine of its own, which sends
// exactly one evLoaded to events, or gives up when quit is closed (the
// loop has returned). Its caller's loop owns it; it ends with the read.
func loadForRestart(c Config, events chan<- any, quit <-chan struct{}) {
	go func() {
		p, err := loadProject(c)
		select {
		case events <- evLoaded{p: p, err: err}:
		case <-quit:
		}
	}()
}

// acceptReload says whether a project read for a restart can replace the
// serving one, and says why not on the console. The listening address
// never changes while running; a new one is only reported.
func acceptReload(ev evLoaded, c Config, serving Endpoint, con *console.Writer) bool {
	if ev.err != nil {
		con.Errorf("Restart cancelled, the running workers keep serving: %v", ev.err)
		return false
	}
	ep := Resolve(ev.p.Reverb.Server, c.CLI)
	if ep.Addr() != serving.Addr() {
		con.Warnf("The config now says %s but the socket stays on %s until reverb is stopped and started", ep.Addr(), serving.Addr())
	}
	if _, err := tlsConfig(ep, ev.p); err != nil {
		con.Errorf("Restart cancelled, the running workers keep serving: %v", err)
		return false
	}
	con.Infof("Configuration reloaded")
	return true
}
