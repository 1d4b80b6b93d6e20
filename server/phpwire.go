package server

// PHP-serialized strings in cluster messages (reverb-protocol.md §10.4),
// so PHP Reverb nodes sharing the Redis channel read ours and we read
// theirs. Wired into envelope.go and gather.go through appToken and the
// pendingMetric codec.

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/chantype"
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
	opts.ArrayVal().Set(php.StringKey(goRequestOption), php.BoolValue(true))
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
	opts := m.Options.ArrayVal()
	_, fromGo := opts.GetString(goRequestOption)
	opts.Delete(php.StringKey(goRequestOption))
	return pendingMetric{
		Key:     m.Key,
		App:     m.AppID,
		Type:    m.Type.Value(),
		Options: json.RawMessage(phpjson.Append(nil, m.Options)),
		fromPHP: !fromGo,
	}, true
}

// goRequestOption marks the metrics requests of Go nodes. PHP nodes read
// options by name and ignore it; a Go node answering a request without
// it answers in Reverb's exact shape (reverbShape).
const goRequestOption = "reverb_go"

// reverbShape trims a channel info answer to what Reverb's
// InteractsWithChannelInformation returns when the request came from a
// PHP node: only the requested keys, user_count only for presence
// channels, subscription_count only for others, cache only for cache
// channels, and [] when nothing is left. Go requesters get every key
// (their merge needs subscription_count of presence channels too).
func reverbShape(pm pendingMetric, result []byte) []byte {
	if !pm.fromPHP || (pm.Type != "channel" && pm.Type != "channels") {
		return result
	}
	var o struct {
		Channel string  `json:"channel"`
		Info    *string `json:"info"`
	}
	_ = json.Unmarshal(pm.Options, &o)
	want := map[string]bool{}
	if o.Info != nil {
		for _, k := range strings.Split(*o.Info, ",") {
			want[k] = true
		}
	}
	v, err := phpjson.Decode(result)
	if err != nil || v.Kind() != php.Array {
		return result
	}
	if pm.Type == "channel" {
		return appendInfoOrEmpty(nil, o.Channel, v, want)
	}
	arr := v.ArrayVal()
	out := php.NewArray()
	for i, k := range arr.Keys {
		name := k.String()
		out.Set(k, filterInfo(name, arr.Values[i], want))
	}
	if out.Len() == 0 {
		return []byte("[]")
	}
	b := []byte{'{'}
	for i, k := range out.Keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = phpjson.AppendString(b, k.String())
		b = append(b, ':')
		b = appendInfoOrEmpty(b, k.String(), out.Values[i], nil)
	}
	return append(b, '}')
}

// appendInfoOrEmpty appends the info object of channel name, filtered by
// want when want is not nil; an empty one is written [] as PHP does.
func appendInfoOrEmpty(b []byte, name string, info php.Value, want map[string]bool) []byte {
	if want != nil {
		info = filterInfo(name, info, want)
	}
	if info.Kind() != php.Array || info.ArrayVal().Len() == 0 {
		return append(b, "[]"...)
	}
	return phpjson.Append(b, info)
}

// filterInfo keeps the keys Reverb would have written for channel name.
func filterInfo(name string, info php.Value, want map[string]bool) php.Value {
	kind := chantype.Of(name)
	out := php.NewArray()
	if info.Kind() != php.Array {
		return php.ArrayValue(out)
	}
	for _, k := range []string{"occupied", "user_count", "subscription_count", "cache"} {
		v, ok := info.ArrayVal().GetString(k)
		if !ok || !want[k] {
			continue
		}
		switch k {
		case "user_count":
			ok = kind.Presence()
		case "subscription_count":
			ok = !kind.Presence()
		case "cache":
			ok = kind.Cache()
		}
		if ok {
			out.Set(php.StringKey(k), v)
		}
	}
	return php.ArrayValue(out)
}
