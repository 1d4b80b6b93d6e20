package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/chantype"
	"github.com/reverb-go/reverb/server/phpjson"
	"github.com/reverb-go/reverb/server/pusherauth"
)

// errInternal marks conditions where PHP Reverb throws (TypeError, "Array to
// string conversion", undefined index): the answer is 500.
var errInternal = errors.New("api: request makes Reverb throw")

// jsonBody is json_decode($body, true, flags: JSON_THROW_ON_ERROR) followed
// by the controllers' array type hint: anything but a PHP array is a 500.
func jsonBody(body []byte) (*php.OrderedArray, error) {
	v, err := phpjson.Decode(body)
	if err != nil {
		return nil, err
	}
	if v.Kind() != php.Array {
		return nil, errInternal
	}
	return v.ArrayVal(), nil
}

// channelName is a channel given in JSON, as ChannelManager::find(string)
// receives it: scalars are coerced to strings, null and arrays throw.
func channelName(v php.Value) (string, error) {
	switch v.Kind() {
	case php.String:
		return v.StringVal(), nil
	case php.Int, php.Float, php.Bool:
		return v.ToString(), nil
	}
	return "", errInternal
}

// infoList is explode(',', $info): no trimming, so "a, b" asks for " b".
type infoList []string

func parseInfo(s string) infoList { return strings.Split(s, ",") }

func (l infoList) has(name string) bool {
	for _, x := range l {
		if x == name {
			return true
		}
	}
	return false
}

// infoObject is InteractsWithChannelInformation::info for one channel:
// occupied, user_count (presence only), subscription_count (others),
// cache (cache channels with a cached message), in that order, only what
// was asked for; a channel that does not exist only reports occupied.
func infoObject(ci ChannelInfo, info infoList) []byte {
	var o object
	if !ci.Exists {
		if info.has("occupied") {
			o.bool("occupied", false)
		}
		return o.bytes()
	}
	kind := chantype.Of(ci.Name)
	if info.has("occupied") {
		o.bool("occupied", ci.SubscriptionCount > 0)
	}
	if info.has("user_count") && kind.Presence() {
		o.int("user_count", ci.UserCount)
	}
	if info.has("subscription_count") && !kind.Presence() {
		o.int("subscription_count", ci.SubscriptionCount)
	}
	if info.has("cache") && kind.Cache() && ci.Cache != nil {
		if v, err := phpjson.Decode(ci.Cache); err == nil && !v.IsNull() {
			o.value("cache", v)
		}
	}
	return o.bytes()
}

// infoForChannels maps channels to their info objects, keyed by name as a
// PHP array (so {"channels":[]} when empty).
func infoForChannels(infos []ChannelInfo, info infoList) []byte {
	var l keyedList
	for _, ci := range infos {
		l.set(php.StringKey(ci.Name), infoObject(ci, info))
	}
	return l.appendJSON(nil)
}

// events is EventsController.
func (h *handler) events(ctx context.Context, req *request) (int, []byte, error) {
	payload, err := jsonBody(req.body)
	if err != nil {
		return 0, nil, err
	}
	if errs := validate(payload, eventRules); errs != nil {
		return http.StatusUnprocessableEntity, errorsBody(errs), nil
	}
	// Arr::wrap($payload['channels'] ?? $payload['channel'] ?? [])
	var targets []php.Value
	if v, ok := payload.GetString("channels"); ok && !v.IsNull() {
		targets = wrap(v)
	} else if v, ok := payload.GetString("channel"); ok && !v.IsNull() {
		targets = wrap(v)
	}
	channels := make([]string, 0, len(targets))
	for _, t := range targets {
		name, err := channelName(t)
		if err != nil {
			return 0, nil, err
		}
		channels = append(channels, name)
	}
	name, _ := payload.GetString("name")
	data, _ := payload.GetString("data")
	if le := checkEvent(&req.app.Limits, name.StringVal(), data.StringVal(), len(channels)); le != nil {
		return 0, nil, le
	}
	ev := Event{Name: name.StringVal(), Data: data.StringVal(), Channels: channels, SocketID: optionalString(payload, "socket_id")}
	if err := h.b.Publish(ctx, req.app, ev); err != nil {
		return 0, nil, err
	}
	info, ok := payload.GetString("info")
	if !ok || info.IsNull() {
		return http.StatusOK, []byte("{}"), nil
	}
	infos, err := h.b.Channel(ctx, req.app, dedupe(channels))
	if err != nil {
		return 0, nil, err
	}
	body := append([]byte(`{"channels":`), infoForChannels(infos, parseInfo(info.StringVal()))...)
	return http.StatusOK, append(body, '}'), nil
}

// wrap is Arr::wrap: an array's values, or the value alone.
func wrap(v php.Value) []php.Value {
	if v.Kind() == php.Array {
		return v.ArrayVal().Values
	}
	return []php.Value{v}
}

func optionalString(a *php.OrderedArray, key string) string {
	if v, ok := a.GetString(key); ok && v.Kind() == php.String {
		return v.StringVal()
	}
	return ""
}

func dedupe(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := names[:0:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// batch is EventsBatchController.
func (h *handler) batch(ctx context.Context, req *request) (int, []byte, error) {
	payload, err := jsonBody(req.body)
	if err != nil {
		return 0, nil, err
	}
	if errs := validate(payload, batchRules(payload)); errs != nil {
		return http.StatusUnprocessableEntity, errorsBody(errs), nil
	}
	b, _ := payload.GetString("batch")
	items := b.ArrayVal()
	if le := checkBatch(&req.app.Limits, items); le != nil {
		return 0, nil, le // before any item is published
	}
	var results keyedList
	anyInfo := false
	for i, k := range items.Keys {
		item := items.Values[i].ArrayVal()
		ch, ok := item.GetString("channel")
		if !ok {
			// $item['channel'] on a missing key: PHP warning, 500.
			return 0, nil, errInternal
		}
		channel, err := channelName(ch)
		if err != nil {
			return 0, nil, err
		}
		name, _ := item.GetString("name")
		data, _ := item.GetString("data")
		ev := Event{Name: name.StringVal(), Data: data.StringVal(), Channels: []string{channel}, SocketID: optionalString(item, "socket_id"), Batch: true}
		if err := h.b.Publish(ctx, req.app, ev); err != nil {
			return 0, nil, err
		}
		result := []byte("{}")
		if info, ok := item.GetString("info"); ok && !info.IsNull() {
			infos, err := h.b.Channel(ctx, req.app, []string{channel})
			if err != nil {
				return 0, nil, err
			}
			result = infoObject(infos[0], parseInfo(info.StringVal()))
			// Reverb answers with the list as soon as an item asks for
			// info, even when nothing is known of its channel: the
			// gathered metrics are a promise, never empty.
			anyInfo = true
		}
		results.set(k, result)
	}
	if !anyInfo {
		return http.StatusOK, []byte(`{"batch":{}}`), nil
	}
	body := append([]byte(`{"batch":`), results.appendJSON(nil)...)
	return http.StatusOK, append(body, '}'), nil
}

// connections is ConnectionsController.
func (h *handler) connections(ctx context.Context, req *request) ([]byte, error) {
	n, err := h.b.Connections(ctx, req.app)
	if err != nil {
		return nil, err
	}
	var o object
	o.int("connections", n)
	return o.bytes(), nil
}

// queryString reads an optional query parameter the way PHP code that
// concatenates or type-hints it would: an array is a 500.
func queryString(p *pusherauth.Params, name string) (value string, set bool, err error) {
	v, ok := p.Get(name)
	if !ok {
		return "", false, nil
	}
	if v.Array != nil {
		return "", true, errInternal
	}
	return v.S, true, nil
}

// channels is ChannelsController.
func (h *handler) channels(ctx context.Context, req *request) ([]byte, error) {
	all, err := h.b.Channels(ctx, req.app, "")
	if err != nil {
		return nil, err
	}
	// filter_by_prefix goes through Str::startsWith, which accepts a list
	// of prefixes; a falsy filter ("" or "0") does not filter.
	if f, ok := req.params.Get("filter_by_prefix"); ok && len(all) > 0 {
		var needles []string
		switch {
		case f.Array == nil:
			if f.S != "" && f.S != "0" {
				needles = []string{f.S}
			}
		case f.Array.Len() > 0:
			for _, v := range f.Array.Values {
				if v.Array != nil {
					return nil, errInternal
				}
				needles = append(needles, v.S)
			}
		}
		if needles != nil {
			kept := all[:0:0]
			for _, ci := range all {
				for _, n := range needles {
					if n != "" && strings.HasPrefix(ci.Name, n) {
						kept = append(kept, ci)
						break
					}
				}
			}
			all = kept
		}
	}
	info := ""
	if v, ok := req.params.Get("info"); ok {
		if v.Array != nil {
			// infoForChannels(..., string $info) gets an array, even
			// when no channel is left to describe.
			return nil, errInternal
		}
		info = v.S
	}
	body := append([]byte(`{"channels":`), infoForChannels(all, parseInfo(info))...)
	return append(body, '}'), nil
}

// channel is ChannelController: occupied is always reported.
func (h *handler) channel(ctx context.Context, req *request) ([]byte, error) {
	info, set, err := queryString(req.params, "info")
	if err != nil {
		return nil, err
	}
	if set {
		info += ",occupied"
	} else {
		info = "occupied"
	}
	infos, err := h.b.Channel(ctx, req.app, []string{req.vars[0]})
	if err != nil {
		return nil, err
	}
	return infoObject(infos[0], parseInfo(info)), nil
}

// users is ChannelUsersController: 404 {} when the channel does not exist,
// 400 {} when it is not a presence channel, else the distinct user ids.
func (h *handler) users(ctx context.Context, req *request) (int, []byte, error) {
	name := req.vars[0]
	ids, exists, err := h.b.Users(ctx, req.app, name)
	if err != nil {
		return 0, nil, err
	}
	if !exists {
		return http.StatusNotFound, []byte("{}"), nil
	}
	if !chantype.Of(name).Presence() {
		return http.StatusBadRequest, []byte("{}"), nil
	}
	// Always a list (upstream may emit an object after cross-node
	// deduplication; a list is what every client expects).
	b := []byte(`{"users":[`)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = phpjson.AppendSymfony(b, id)
		b = append(b, '}')
	}
	return http.StatusOK, append(b, "]}"...), nil
}

// terminate is UsersTerminateController; the body is ignored.
func (h *handler) terminate(ctx context.Context, req *request) ([]byte, error) {
	if err := h.b.TerminateUser(ctx, req.app, req.vars[0]); err != nil {
		return nil, err
	}
	return []byte("{}"), nil
}
