package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
	"github.com/reverb-go/reverb/server"
	"github.com/reverb-go/reverb/server/cluster"
	"github.com/reverb-go/reverb/server/cluster/redis"
)

// A node of the scaling scenario runs in a child process ("reverb-bench
// _node"): the server and its Redis transport, the code `reverb start`
// runs for one worker, built without a Laravel project so eight of them
// start in a moment. Its bus traffic is counted where the transport hands
// it to the server, which `reverb start` has no counter for. Commands on
// stdin, one JSON reply a line on stdout: "stats", "quit".

// nodeStats are one node's bus counters.
type nodeStats struct {
	// Messages and Bytes are everything the transport delivered to the
	// server (control messages included); Broadcasts the events among
	// them, Useful those that had subscribers on this node.
	Messages   uint64 `json:"messages"`
	Bytes      uint64 `json:"bytes"`
	Broadcasts uint64 `json:"broadcasts"`
	Useful     uint64 `json:"useful"`
}

// countingTransport counts what the transport delivers.
type countingTransport struct {
	cluster.Transport
	msgs, bytes, broadcasts atomic.Uint64
}

func (c *countingTransport) Start(ctx context.Context, deliver func([]byte)) error {
	return c.Transport.Start(ctx, c.count(deliver))
}

func (c *countingTransport) count(deliver func([]byte)) func([]byte) {
	return func(m []byte) {
		c.msgs.Add(1)
		c.bytes.Add(uint64(len(m)))
		if bytes.HasPrefix(m, []byte(`{"type":"message"`)) {
			c.broadcasts.Add(1)
		}
		deliver(m)
	}
}

// countingRouter is countingTransport for the interest routing (the server
// finds the cluster.Router methods on it).
type countingRouter struct {
	*redis.Router
	c *countingTransport
}

func (r countingRouter) Start(ctx context.Context, deliver func([]byte)) error {
	return r.Router.Start(ctx, r.c.count(deliver))
}

// usefulObserver counts the broadcasts that reached local subscribers.
type usefulObserver struct{ n *atomic.Uint64 }

func (usefulObserver) Interest(*laravelcfg.App) server.EventKind { return server.Broadcast }

func (o usefulObserver) Observe(e server.Event) {
	if e.Kind == server.Broadcast && e.Count > 0 {
		o.n.Add(1)
	}
}

func runNode(args []string) int {
	fs := flag.NewFlagSet("_node", flag.ContinueOnError)
	routing := fs.String("routing", "classic", "classic or interest")
	isCluster := fs.Bool("cluster", false, "the Redis addresses are a Redis Cluster's")
	addrs := fs.String("redis", "", "Redis address(es), comma-separated")
	channel := fs.String("channel", "reverb-bench", "scaling.channel")
	id := fs.String("id", "", "node id")
	port := fs.Int("port", 0, "port to serve on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	d := &redisconn.Deployment{Name: "bench", Mode: redisconn.Standalone, Network: "tcp", Addrs: strings.Split(*addrs, ",")}
	if *isCluster {
		d.Mode = redisconn.Cluster
	}
	opts := redis.Options{Redis: d, Channel: *channel, Log: os.Stderr}
	counter := &countingTransport{}
	var tr cluster.Transport
	if *routing == "interest" {
		r, err := redis.NewRouter(opts)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		counter.Transport = r
		tr = countingRouter{r, counter}
	} else {
		t, err := redis.New(opts)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		counter.Transport = t
		tr = counter
	}
	var useful atomic.Uint64
	app := laravelcfg.App{ID: benchAppID, Key: benchAppKey, Secret: benchAppSecret, PingInterval: 3600, ActivityTimeout: 120,
		AllowedOrigins: []string{"*"}, MaxMessageSize: 1000000, AcceptClientEventsFrom: "all"}
	srv, err := server.New(server.Options{Apps: []laravelcfg.App{app}, Transport: tr, NodeID: *id, MaxRequestSize: 1000000,
		ErrorLog: os.Stderr, Observers: []server.Observer{usefulObserver{&useful}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() { _ = srv.Serve(ln) }() // ends when Close closes the listener
	out := json.NewEncoder(os.Stdout)
	_ = out.Encode(map[string]string{"ready": ln.Addr().String()})
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "stats":
			_ = out.Encode(nodeStats{Messages: counter.msgs.Load(), Bytes: counter.bytes.Load(),
				Broadcasts: counter.broadcasts.Load(), Useful: useful.Load()})
		case "quit":
			_ = srv.Close()
			_ = ln.Close()
			return 0
		}
	}
	_ = srv.Close()
	return 0
}
