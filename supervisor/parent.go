package supervisor

import (
	"fmt"

	"github.com/reverb-go/reverb/supervisor/console"
	"github.com/reverb-go/reverb/supervisor/parentwatch"
)

// watchParent returns a channel closed when c.ParentPID, the php artisan
// reverb:start running the server as its child, has exited; the event
// loops then drain and exit as on SIGTERM. nil (never ready) when there is
// none, or when it cannot be watched (said once). The watching goroutine
// ends with quit, the loop's own end.
func watchParent(c Config, con *console.Writer, quit <-chan struct{}) <-chan struct{} {
	if c.ParentPID <= 0 {
		return nil
	}
	gone, err := parentwatch.Watch(c.ParentPID, quit)
	if err != nil {
		con.Warnf("The server will not stop by itself when php artisan reverb:start exits: %v", err)
		return nil
	}
	return gone
}

// parentGoneLine is what the console says when artisan went away first.
func parentGoneLine(c Config) string {
	return fmt.Sprintf("php artisan reverb:start (process %d) has exited: gracefully terminating connections", c.ParentPID)
}
