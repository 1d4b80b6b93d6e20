package server

// PHP-serialized strings in cluster messages (reverb-protocol.md §10.4),
// so PHP Reverb nodes sharing the Redis channel read ours and we read
// theirs. Wired into bus.go through appToken and the pendingMetric codec.

import (
	"encoding/json"
	"sync"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/cluster/phpwire"
	"github.com/reverb-go/reverb/server/phpjson"
)

// serializedApps caches serialize($application) per app config (an
// appState's cfg pointer never changes): the string goes in every
// broadcast. sync.Map: written once per app, then only read.
var serializedApps sync.Map // *laravelcfg.App → string

func phpApplicationToken(a *appState) string { return serializedApp(a.cfg) }

func serializedApp(cfg *laravelcfg.App) string {
	if v, ok := serializedApps.Load(cfg); ok {
		return v.(string)
	}
	s := phpwire.Application(cfg)
	serializedApps.Store(cfg, s)
	return s
}

// phpEncodePendingMetric writes the metrics request payload PHP nodes
// unserialize(): options go from JSON to a PHP array.
func phpEncodePendingMetric(p pendingMetric) string {
	typ, ok := phpwire.MetricTypeOf(p.Type)
	if !ok {
		typ = phpwire.MetricType(p.Type)
	}
	opts := php.ArrayValue(nil)
	if len(p.Options) > 0 {
		if v, err := phpjson.Decode(p.Options); err == nil && v.Kind() == php.Array {
			opts = v
		}
	}
	cfg := p.cfg
	if cfg == nil {
		cfg = &laravelcfg.App{ID: p.App}
	}
	return phpwire.EncodePendingMetric(phpwire.PendingMetric{Key: p.Key, AppID: p.App, Application: cfg, Type: typ, Options: opts})
}

// phpDecodePendingMetric reads a metrics request from any node.
func phpDecodePendingMetric(s string) (pendingMetric, bool) {
	m, err := phpwire.DecodePendingMetric(s)
	if err != nil || m.Key == "" {
		return pendingMetric{}, false
	}
	return pendingMetric{
		Key:     m.Key,
		App:     m.AppID,
		Type:    m.Type.Value(),
		Options: json.RawMessage(phpjson.Append(nil, m.Options)),
	}, true
}
