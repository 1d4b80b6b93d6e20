package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric descriptions. Counters are cumulative since the supervisor
// started, across worker restarts; gauges are the sum over live workers.
var (
	descConnections   = prometheus.NewDesc("reverb_connections", "Open WebSocket connections.", []string{"app"}, nil)
	descSubscriptions = prometheus.NewDesc("reverb_subscriptions", "Channel subscriptions (socket × channel).", []string{"app"}, nil)
	descChannels      = prometheus.NewDesc("reverb_channels", "Occupied channels, summed over workers (a channel with subscribers on two workers counts twice).", []string{"app"}, nil)
	descConnsTotal    = prometheus.NewDesc("reverb_connections_opened_total", "WebSocket connections established.", []string{"app"}, nil)
	descMsgsIn        = prometheus.NewDesc("reverb_messages_received_total", "Data messages received from clients.", []string{"app"}, nil)
	descMsgsHandled   = prometheus.NewDesc("reverb_messages_handled_total", "Client data messages handled without error (Pulse's reverb_message:received).", []string{"app"}, nil)
	descMsgsOut       = prometheus.NewDesc("reverb_messages_sent_total", "Text frames sent to clients (counted when queued for writing): broadcast deliveries, pings, pongs, errors (Pulse's reverb_message:sent).", []string{"app"}, nil)
	descDeliveries    = prometheus.NewDesc("reverb_broadcast_deliveries_total", "Broadcast and client-event messages queued to subscribers.", []string{"app"}, nil)
	descBytesIn       = prometheus.NewDesc("reverb_received_bytes_total", "Bytes read from WebSocket connections.", []string{"app"}, nil)
	descBytesOut      = prometheus.NewDesc("reverb_sent_bytes_total", "Bytes written to WebSocket connections.", []string{"app"}, nil)
	descSlow          = prometheus.NewDesc("reverb_slow_consumers_closed_total", "Connections closed with 4100 because they did not read fast enough.", []string{"app"}, nil)
	descHandshake     = prometheus.NewDesc("reverb_handshake_failures_total", "Refused WebSocket connections by reason.", []string{"reason"}, nil)
	descWorkers       = prometheus.NewDesc("reverb_workers", "Live worker processes by state.", []string{"state"}, nil)
	descWorkerUp      = prometheus.NewDesc("reverb_worker_up", "1 when the worker answered this scrape over the supervisor's bus socket.", []string{"node", "generation"}, nil)
	descGeneration    = prometheus.NewDesc("reverb_generation", "Number of the serving worker generation.", nil, nil)
	descRestarts      = prometheus.NewDesc("reverb_restarts_total", "Restarts (worker generations started after the first).", nil, nil)
	descDeaths        = prometheus.NewDesc("reverb_worker_deaths_total", "Serving workers that died and were replaced.", nil, nil)
	descPeers         = prometheus.NewDesc("reverb_cluster_peer_nodes", "Other cluster nodes a worker hears from (other workers; other servers over Redis when scaling is on).", []string{"node"}, nil)
	descBusErrors     = prometheus.NewDesc("reverb_bus_publish_errors_total", "Failed publishes on the cluster bus (the supervisor's hub or Redis).", nil, nil)
	descOpenFiles     = prometheus.NewDesc("reverb_open_files_refused_total", "Connections refused at the open-files limit (RLIMIT_NOFILE): WebSocket upgrades answered 503 while the descriptors in reserve serve the HTTP API, and connections no worker could take.", nil, nil)
	descStart         = prometheus.NewDesc("reverb_start_time_seconds", "Start time of the server, unix seconds.", nil, nil)
	descHookEvents    = prometheus.NewDesc("reverb_webhook_events_total", "Events delivered (answered 2xx) to an app's webhooks or listeners endpoint.", []string{"app", "target"}, nil)
	descHookFailures  = prometheus.NewDesc("reverb_webhook_failed_attempts_total", "Webhook requests that failed (error, timeout, non-2xx); retries count again.", []string{"app", "target"}, nil)
	descHookDropped   = prometheus.NewDesc("reverb_webhook_events_dropped_total", "Webhook events lost: queue full, retried in vain for 5 minutes (gave_up), or refused with a 4xx (rejected).", []string{"app", "target", "reason"}, nil)
)

// promCollector exposes a Collector's Status to Prometheus.
type promCollector struct{ c *Collector }

func (p promCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnections, descSubscriptions, descChannels, descConnsTotal, descMsgsIn,
		descMsgsHandled, descMsgsOut, descDeliveries, descBytesIn, descBytesOut, descSlow, descHandshake, descWorkers,
		descWorkerUp, descGeneration, descRestarts, descDeaths, descStart, descPeers, descBusErrors, descOpenFiles,
		descHookEvents, descHookFailures, descHookDropped} {
		ch <- d
	}
}

func (p promCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := p.c.Status(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descWorkers, err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, a := range st.Apps {
		gauge(descConnections, float64(a.Connections), a.ID)
		gauge(descSubscriptions, float64(a.Subscriptions), a.ID)
		gauge(descChannels, float64(a.Channels), a.ID)
		counter(descConnsTotal, a.ConnectionsTotal, a.ID)
		counter(descMsgsIn, a.MessagesIn, a.ID)
		counter(descMsgsHandled, a.MessagesHandled, a.ID)
		counter(descMsgsOut, a.MessagesOut, a.ID)
		counter(descDeliveries, a.BroadcastDeliveries, a.ID)
		counter(descBytesIn, a.BytesIn, a.ID)
		counter(descBytesOut, a.BytesOut, a.ID)
		counter(descSlow, a.SlowConsumersClosed, a.ID)
		for _, h := range []struct {
			target string
			s      HookStatus
		}{{"webhooks", a.Webhooks}, {"listeners", a.Listeners}} {
			counter(descHookEvents, h.s.Events, a.ID, h.target)
			counter(descHookFailures, h.s.Failures, a.ID, h.target)
			counter(descHookDropped, h.s.DroppedQueueFull, a.ID, h.target, "queue_full")
			counter(descHookDropped, h.s.DroppedGaveUp, a.ID, h.target, "gave_up")
			counter(descHookDropped, h.s.DroppedRejected, a.ID, h.target, "rejected")
		}
	}
	for reason, n := range st.Handshake {
		counter(descHandshake, n, reason)
	}
	states := map[string]int{"serving": 0, "starting": 0, "draining": 0}
	for _, w := range st.Workers {
		states[w.State]++
		up := 0.0
		if w.Up {
			up = 1
		}
		gauge(descWorkerUp, up, w.NodeID, itoa(w.Generation))
		if w.Up {
			gauge(descPeers, float64(w.PeerNodes), w.NodeID)
		}
	}
	for s, n := range states {
		gauge(descWorkers, float64(n), s)
	}
	gauge(descGeneration, float64(st.Generation))
	counter(descRestarts, int64(st.Restarts))
	counter(descDeaths, int64(st.WorkerDeaths))
	counter(descBusErrors, st.BusErrors)
	counter(descOpenFiles, st.OpenFilesRefused)
	gauge(descStart, float64(st.Started.UnixNano())/1e9)
}

// Handler serves the Prometheus text exposition of c, plus the Go runtime
// and process metrics of the serving process.
func Handler(c *Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(promCollector{c}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
