// Package metrics gathers the server's counters across the worker processes
// of one `reverb start` and publishes them: a Prometheus endpoint (text
// exposition, on an address the operator turns on), and a local control
// socket that `reverb status` asks.
//
// Data flow: each worker answers its own counters (server.Stats) on a
// private Unix socket (ServeNode); the supervisor's Collector asks every
// live worker when it is itself asked (a scrape, a status request), sums
// them per app, and folds the counters of workers that are gone into
// "retired" totals so Prometheus counters never go backwards across a
// restart. With --workers 0 the Collector reads the in-process server.
package metrics

import (
	"time"

	"github.com/reverb-go/reverb/server"
)

// Topology is what the process that serves monitoring knows about the
// processes it runs (the supervisor's view; one self-worker in single mode).
type Topology struct {
	Mode         string // "supervisor" or "single"
	PID          int
	Started      time.Time
	Generation   int // the serving generation (0 before the first is ready)
	Restarts     int // generations started after the first (flag, SIGHUP)
	WorkerDeaths int // workers of a serving generation that died and were replaced
	// OpenFilesRefused counts connections the supervisor answered 503
	// because no worker could take them (every one at its open-files limit).
	OpenFilesRefused int64
	Workers          []Worker
}

// Worker is one live worker process.
type Worker struct {
	NodeID     string
	PID        int
	Generation int
	Ready      bool
	Draining   bool
}

// Status is what the control socket answers and `reverb status --json`
// prints. Counters are cumulative since the supervisor started (retired
// workers included); gauges are now.
type Status struct {
	Mode          string           `json:"mode"`
	PID           int              `json:"pid"`
	Started       time.Time        `json:"started"`
	UptimeSeconds float64          `json:"uptime_seconds"`
	Generation    int              `json:"generation"`
	Restarts      int              `json:"restarts"`
	WorkerDeaths  int              `json:"worker_deaths"`
	Workers       []WorkerStatus   `json:"workers"`
	Apps          []AppStatus      `json:"apps"`
	Handshake     map[string]int64 `json:"handshake_failures"`
	BusErrors     int64            `json:"bus_publish_errors"`
	// OpenFilesRefused counts connections refused at the open-files limit:
	// WebSocket upgrades answered 503 by full workers and connections no
	// worker could take.
	OpenFilesRefused int64             `json:"open_files_refused"`
	SampledAt        time.Time         `json:"sampled_at"`
	Rates            map[string]Rate   `json:"rates,omitempty"` // app id → per second, filled by `reverb status`
	Errors           map[string]string `json:"errors,omitempty"`
}

// WorkerStatus is one worker's part.
type WorkerStatus struct {
	NodeID      string `json:"node_id"`
	PID         int    `json:"pid"`
	Generation  int    `json:"generation"`
	State       string `json:"state"` // "serving", "starting", "draining"
	Up          bool   `json:"up"`    // answered this sample
	Connections int64  `json:"connections"`
	// PeerNodes is how many other cluster nodes this worker hears (the
	// other workers, and other servers over Redis when scaling is on).
	PeerNodes int `json:"peer_nodes"`
}

// AppStatus is one app's counters summed over the workers.
type AppStatus struct {
	ID                  string `json:"id"`
	Connections         int64  `json:"connections"`
	ConnectionsTotal    int64  `json:"connections_total"`
	Subscriptions       int64  `json:"subscriptions"`
	Channels            int64  `json:"channels"` // per worker, summed: a channel occupied on two workers counts twice
	MessagesIn          int64  `json:"messages_in"`
	MessagesHandled     int64  `json:"messages_handled"`
	MessagesOut         int64  `json:"messages_out"` // text frames written to clients
	BroadcastDeliveries int64  `json:"broadcast_deliveries"`
	BytesIn             int64  `json:"bytes_in"`
	BytesOut            int64  `json:"bytes_out"`
	SlowConsumersClosed int64  `json:"slow_consumers_closed"`
	// Webhooks and Listeners are the deliveries of the app's webhooks and
	// of its events for PHP listeners.
	Webhooks  HookStatus `json:"webhooks"`
	Listeners HookStatus `json:"listeners"`
}

// HookStatus counts one app's deliveries to its webhooks or listeners.
type HookStatus struct {
	Events           int64 `json:"events"`
	Requests         int64 `json:"requests"`
	Failures         int64 `json:"failed_attempts"`
	DroppedQueueFull int64 `json:"dropped_queue_full"`
	DroppedGaveUp    int64 `json:"dropped_gave_up"`
	DroppedRejected  int64 `json:"dropped_rejected"`
}

func (h *HookStatus) add(c server.HookCounters) {
	h.Events += c.Events
	h.Requests += c.Requests
	h.Failures += c.Failures
	h.DroppedQueueFull += c.DroppedQueueFull
	h.DroppedGaveUp += c.DroppedGaveUp
	h.DroppedRejected += c.DroppedRejected
}

// Rate is messages per second over the sampling interval of `reverb status`.
type Rate struct {
	In  float64 `json:"in"`
	Out float64 `json:"out"`
}

// addCounters adds the cumulative fields of s to a.
func (a *AppStatus) addCounters(s server.AppSnapshot) {
	a.ConnectionsTotal += s.ConnectionsTotal
	a.MessagesIn += s.MessagesIn
	a.MessagesHandled += s.MessagesHandled
	a.MessagesOut += s.TextFramesOut
	a.BroadcastDeliveries += s.MessagesOut
	a.BytesIn += s.BytesIn
	a.BytesOut += s.BytesOut
	a.SlowConsumersClosed += s.SlowConsumersClosed
	a.Webhooks.add(s.Webhooks)
	a.Listeners.add(s.Listeners)
}

// addGauges adds the point-in-time fields of s to a.
func (a *AppStatus) addGauges(s server.AppSnapshot) {
	a.Connections += s.Connections
	a.Subscriptions += s.Subscriptions
	a.Channels += s.Channels
}
