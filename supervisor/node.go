package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/cachestore"
	"github.com/reverb-go/reverb/server"
)

// WorkerCommand is the internal subcommand the supervisor runs its workers
// with (internal commands start with "_" and are hidden from the usage).
const WorkerCommand = "_worker"

// node is the part of *server.Server a worker or an in-process generation
// drives. Tests substitute a small fake to exercise the process model
// without the Pusher server.
type node interface {
	Serve(ln net.Listener) error
	Drain(ctx context.Context, window time.Duration) error
	Close() error
}

// newNode builds one server.
var newNode = func(opts server.Options) (node, error) {
	s, err := server.New(opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openStore resolves the restart flag's store; tests substitute it.
var openStore = cachestore.Open

// loadProject reads the Laravel project; tests substitute it.
var loadProject = func(c Config) (*laravelcfg.Project, error) { return c.load() }

// newNodeID names one server of generation gen: "g2w0-1a2b3c4d".
func newNodeID(gen, slot int) string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("g%dw%d-%s", gen, slot, hex.EncodeToString(b[:]))
}
