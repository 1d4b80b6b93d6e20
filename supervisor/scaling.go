package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
	"github.com/reverb-go/reverb/server/cluster"
	"github.com/reverb-go/reverb/server/cluster/redis"
)

// nodeTransport is the cluster link of one node. With scaling enabled
// (REVERB_SCALING_ENABLED) every node — each worker process, or the single
// process with --workers 0 — is one subscriber of the Redis channel, like
// a Reverb server, so workers of all machines (and PHP Reverb nodes) form
// one cluster; the supervisor's hub then carries only local control
// (ready, drain, failures). The Redis deployment is the connection
// REVERB_SCALING_CONNECTION names in config/database.php (one server,
// Sentinel or Cluster, TLS), else Reverb's scaling.server
// (redisconn.ForScaling). Unlike Reverb, a node never exits because Redis
// is away (scaling.server.timeout only dates a log line). With
// scaling.routing = interest the transport is a redis.Router: each node
// receives only the broadcasts of channels it has subscribers on. Otherwise local
// is used: the hub between the workers of this machine, or nil (a single
// node) for --workers 0.
func nodeTransport(p *laravelcfg.Project, local cluster.Transport, log io.Writer) (cluster.Transport, error) {
	sc := p.Reverb.Server.Scaling
	if !sc.Enabled {
		return local, nil
	}
	d, err := redisconn.ForScaling(p)
	if err != nil {
		return nil, err
	}
	if log != nil {
		for _, w := range d.Warnings {
			fmt.Fprintf(log, "%s reverb: scaling: %s\n", time.Now().Format(time.RFC3339), w)
		}
	}
	timeout := sc.Server.Timeout
	if sc.Connection != "" || timeout <= 0 {
		timeout = 60
	}
	opts := redis.Options{Redis: d, Channel: sc.Channel, RoutingFrom: sc.RoutingFrom, Log: log, GiveUpAfter: time.Duration(timeout) * time.Second}
	var tr cluster.Transport
	if sc.Routing == laravelcfg.RoutingInterest {
		// Interest routing (REVERB_SCALING_ROUTING=interest): a node
		// receives only the channels it has subscribers on.
		tr, err = redis.NewRouter(opts)
	} else {
		tr, err = redis.New(opts)
	}
	if err != nil {
		return nil, err
	}
	if local != nil {
		// The hub still carries the supervisor's notice that a worker of
		// this machine died: pass it on to the whole cluster, so that
		// worker's presence members leave at once rather than after three
		// missed heartbeats. Reading the hub also keeps its queue empty.
		// The goroutine is the hub client's; it ends when the worker
		// closes the hub.
		_ = local.Start(context.Background(), func(msg []byte) {
			if bytes.Contains(msg, nodeGoneType) {
				_, _ = tr.Publish(context.Background(), msg)
			}
		})
	}
	return tr, nil
}

// nodeGoneType marks the hub's node_gone notice (hub.NodeGoneMessage).
var nodeGoneType = []byte(`"type":"reverb-go:node_gone"`)
