package metrics

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/reverb-go/reverb/server"
)

// Collector builds a Status from a Topology and the workers' counters.
//
// Lock story: mu serialises samples (concurrent scrapes and status
// requests), and guards last and the retired totals.
type Collector struct {
	topology func(ctx context.Context) (Topology, error)
	fetch    func(ctx context.Context, w Worker) (server.Stats, error)
	apps     []string // configured app ids, so idle apps show zeros

	mu            sync.Mutex
	last          map[string]server.Stats // node id → last answer
	retired       map[string]*AppStatus   // app id → counters of workers gone
	retiredHandsh map[string]int64
	retiredBus    int64
	retiredFiles  int64
	now           func() time.Time
}

// NewCollector returns a collector; apps lists the configured app ids.
func NewCollector(apps []string, topology func(ctx context.Context) (Topology, error), fetch func(ctx context.Context, w Worker) (server.Stats, error)) *Collector {
	return &Collector{
		topology:      topology,
		fetch:         fetch,
		apps:          apps,
		last:          map[string]server.Stats{},
		retired:       map[string]*AppStatus{},
		retiredHandsh: map[string]int64{},
		now:           time.Now,
	}
}

// fetchTimeout bounds how long one sample waits for a worker.
const fetchTimeout = 2 * time.Second

// Status asks every live worker (in parallel) and sums their counters.
func (c *Collector) Status(ctx context.Context) (Status, error) {
	topo, err := c.topology(ctx)
	if err != nil {
		return Status{}, err
	}
	type answer struct {
		st  server.Stats
		err error
	}
	answers := make([]answer, len(topo.Workers))
	var wg sync.WaitGroup
	for i, w := range topo.Workers {
		wg.Add(1)
		go func() { // ends within fetchTimeout
			defer wg.Done()
			fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
			defer cancel()
			answers[i].st, answers[i].err = c.fetch(fctx, w)
		}()
	}
	wg.Wait()

	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	st := Status{
		Mode:          topo.Mode,
		PID:           topo.PID,
		Started:       topo.Started,
		UptimeSeconds: now.Sub(topo.Started).Seconds(),
		Generation:    topo.Generation,
		Restarts:      topo.Restarts,
		WorkerDeaths:  topo.WorkerDeaths,
		Handshake:     map[string]int64{},
		SampledAt:     now,
	}
	alive := map[string]bool{}
	for i, w := range topo.Workers {
		alive[w.NodeID] = true
		ws := WorkerStatus{NodeID: w.NodeID, PID: w.PID, Generation: w.Generation, State: workerState(w, topo.Generation)}
		if a := answers[i]; a.err == nil {
			ws.Up = true
			c.last[w.NodeID] = a.st
		} else if w.Ready {
			if st.Errors == nil {
				st.Errors = map[string]string{}
			}
			st.Errors[w.NodeID] = a.err.Error()
		}
		for _, app := range c.last[w.NodeID].Apps {
			ws.Connections += app.Connections
		}
		ws.PeerNodes = c.last[w.NodeID].PeerNodes
		st.Workers = append(st.Workers, ws)
	}
	// Workers gone since the last sample: keep their counters.
	for id, old := range c.last {
		if alive[id] {
			continue
		}
		for _, app := range old.Apps {
			c.retiredApp(app.AppID).addCounters(app)
		}
		for k, v := range old.HandshakeFailures {
			c.retiredHandsh[k] += v
		}
		c.retiredBus += old.BusErrors
		c.retiredFiles += old.OpenFilesRefused
		delete(c.last, id)
	}

	apps := map[string]*AppStatus{}
	get := func(id string) *AppStatus {
		if a, ok := apps[id]; ok {
			return a
		}
		a := &AppStatus{ID: id}
		apps[id] = a
		return a
	}
	for _, id := range c.apps {
		get(id)
	}
	for id, r := range c.retired {
		a := get(id)
		r2 := *r
		r2.ID = id
		*a = r2
	}
	for k, v := range c.retiredHandsh {
		st.Handshake[k] += v
	}
	st.BusErrors = c.retiredBus
	st.OpenFilesRefused = c.retiredFiles + topo.OpenFilesRefused
	for _, w := range topo.Workers {
		s, ok := c.last[w.NodeID]
		if !ok {
			continue
		}
		for _, app := range s.Apps {
			a := get(app.AppID)
			a.addCounters(app)
			a.addGauges(app)
		}
		for k, v := range s.HandshakeFailures {
			st.Handshake[k] += v
		}
		st.BusErrors += s.BusErrors
		st.OpenFilesRefused += s.OpenFilesRefused
	}
	ids := make([]string, 0, len(apps))
	for id := range apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		st.Apps = append(st.Apps, *apps[id])
	}
	return st, nil
}

func (c *Collector) retiredApp(id string) *AppStatus {
	a, ok := c.retired[id]
	if !ok {
		a = &AppStatus{ID: id}
		c.retired[id] = a
	}
	return a
}

func workerState(w Worker, serving int) string {
	switch {
	case w.Draining:
		return "draining"
	case w.Ready && w.Generation == serving:
		return "serving"
	default:
		return "starting"
	}
}
