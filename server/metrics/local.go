package metrics

import (
	"context"
	"os"
	"time"

	"github.com/reverb-go/reverb/server"
)

// NewLocalCollector is the Collector of `reverb start --workers 0`: one
// worker, this process, read directly.
func NewLocalCollector(apps []string, nodeID string, stats func() server.Stats) *Collector {
	started := time.Now()
	pid := os.Getpid()
	return NewCollector(apps,
		func(context.Context) (Topology, error) {
			return Topology{Mode: "single", PID: pid, Started: started, Generation: 1,
				Workers: []Worker{{NodeID: nodeID, PID: pid, Generation: 1, Ready: true}}}, nil
		},
		func(context.Context, Worker) (server.Stats, error) { return stats(), nil })
}
