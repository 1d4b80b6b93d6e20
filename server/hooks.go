package server

// Webhooks and Reverb's events for PHP listeners: one observer of the seam
// turns the events an app's config asks for into JSON objects and pushes
// them, filtered per webhook, onto the queues of server/webhooks (which
// batch, sign, post and retry on their own goroutines; a push never
// blocks).
//
// Webhook events have Pusher's fields (channel_occupied, channel_vacated,
// member_added, member_removed, client_event, cache_miss,
// subscription_count). Listener events have the bridge's fields: name,
// app_id, socket_id and origin (not for channel_*), channel, message, and
// data (connection_pruned: the channel connection's data).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/phpjson"
	"github.com/reverb-go/reverb/server/webhooks"
)

// hookObserver feeds the webhooks and listeners of every app.
//
// Lock story: apps is copy-on-write behind an atomic pointer (Observe reads
// it without a lock); add runs only where apps are added (New, or under
// the app table's writer lock), so writers never race.
type hookObserver struct {
	sender *webhooks.Sender
	apps   atomic.Pointer[map[*laravelcfg.App]*appHooks]
}

// appHooks are one app's queues.
type appHooks struct {
	webhooks  []appWebhook
	listeners *webhooks.Queue
	lcfg      *laravelcfg.Listeners
	mask      EventKind
}

type appWebhook struct {
	cfg *laravelcfg.Webhook
	q   *webhooks.Queue
}

// webhookKinds maps Pusher's webhook event types to the seam's kinds.
var webhookKinds = map[string]EventKind{
	"channel_occupied":   ChannelOccupied,
	"channel_vacated":    ChannelVacated,
	"member_added":       MemberAdded,
	"member_removed":     MemberRemoved,
	"client_event":       ClientEvent,
	"cache_miss":         CacheMiss,
	"subscription_count": SubscriptionCount,
}

// listenerKinds maps Reverb's events to the seam's kinds.
var listenerKinds = map[string]EventKind{
	"message_received":  MessageReceived,
	"message_sent":      MessageSent | MessageDelivered,
	"channel_created":   ChannelCreated,
	"channel_removed":   ChannelRemoved,
	"connection_pruned": ConnectionPruned,
}

// hasHooks reports whether an app has webhooks or listeners.
func hasHooks(cfg *laravelcfg.App) bool { return len(cfg.Webhooks) > 0 || cfg.Listeners != nil }

// newHookObserver returns an observer without apps (add gives it some).
func newHookObserver(logf func(string)) *hookObserver {
	h := &hookObserver{sender: webhooks.New(webhooks.Options{Logf: func(format string, args ...any) {
		logf(fmt.Sprintf(format, args...))
	}})}
	empty := map[*laravelcfg.App]*appHooks{}
	h.apps.Store(&empty)
	return h
}

// add starts the queues of apps that have webhooks or listeners.
func (h *hookObserver) add(apps []*appState) {
	next := map[*laravelcfg.App]*appHooks{}
	for k, v := range *h.apps.Load() {
		next[k] = v
	}
	for _, a := range apps {
		cfg := a.cfg
		if !hasHooks(cfg) || next[cfg] != nil {
			continue
		}
		ah := &appHooks{lcfg: cfg.Listeners}
		for i := range cfg.Webhooks {
			w := &cfg.Webhooks[i]
			q := h.sender.Add(webhooks.Target{Name: "app " + cfg.ID + " webhooks." + strconv.Itoa(i), URL: w.URL,
				Key: cfg.Key, Secret: cfg.Secret, Headers: w.Headers})
			ah.webhooks = append(ah.webhooks, appWebhook{w, q})
			for _, t := range w.EventTypes {
				ah.mask |= webhookKinds[t]
			}
		}
		if l := cfg.Listeners; l != nil {
			ah.listeners = h.sender.Add(webhooks.Target{Name: "app " + cfg.ID + " listeners", URL: l.URL, Key: cfg.Key, Secret: cfg.Secret})
			for _, e := range l.Events {
				ah.mask |= listenerKinds[e]
			}
		}
		next[cfg] = ah
	}
	h.apps.Store(&next)
}

func (h *hookObserver) Interest(app *laravelcfg.App) EventKind {
	if ah := (*h.apps.Load())[app]; ah != nil {
		return ah.mask
	}
	return 0
}

func (h *hookObserver) Observe(e Event) {
	ah := (*h.apps.Load())[e.App]
	if ah == nil {
		return
	}
	if name := webhookName(e.Kind); name != "" {
		var ev []byte
		for _, w := range ah.webhooks {
			if !w.cfg.Wants(name, e.Channel) {
				continue
			}
			if ev == nil {
				ev = webhookEvent(name, e)
			}
			w.q.Push(ev)
		}
	}
	if ah.listeners != nil {
		if name := listenerName(e.Kind); name != "" && ah.lcfg.Wants(name) {
			ah.listeners.PushFunc(func() []byte { return listenerEvent(name, e) })
		}
	}
}

func webhookName(k EventKind) string {
	switch k {
	case ChannelOccupied:
		return "channel_occupied"
	case ChannelVacated:
		return "channel_vacated"
	case MemberAdded:
		return "member_added"
	case MemberRemoved:
		return "member_removed"
	case ClientEvent:
		return "client_event"
	case CacheMiss:
		return "cache_miss"
	case SubscriptionCount:
		return "subscription_count"
	}
	return ""
}

func listenerName(k EventKind) string {
	switch k {
	case MessageReceived:
		return "message_received"
	case MessageSent, MessageDelivered:
		return "message_sent"
	case ChannelCreated:
		return "channel_created"
	case ChannelRemoved:
		return "channel_removed"
	case ConnectionPruned:
		return "connection_pruned"
	}
	return ""
}

// appendStr appends a JSON string.
func appendStr(b []byte, s string) []byte { return phpjson.AppendString(b, s) }

// webhookEvent is one event of a webhook body, with Pusher's fields.
func webhookEvent(name string, e Event) []byte {
	b := make([]byte, 0, 64+len(e.Channel)+len(e.Data)+len(e.Name))
	b = append(b, `{"name":`...)
	b = appendStr(b, name)
	b = append(b, `,"channel":`...)
	b = appendStr(b, e.Channel)
	switch e.Kind {
	case MemberAdded, MemberRemoved:
		b = append(b, `,"user_id":`...)
		b = appendStr(b, e.UserID)
	case ClientEvent:
		b = append(b, `,"event":`...)
		b = appendStr(b, e.Name)
		b = append(b, `,"data":`...)
		b = appendDataString(b, e.Data)
		b = append(b, `,"socket_id":`...)
		b = appendStr(b, e.SocketID)
		if e.UserID != "" {
			b = append(b, `,"user_id":`...)
			b = appendStr(b, e.UserID)
		}
	case SubscriptionCount:
		b = append(b, `,"subscription_count":`...)
		b = strconv.AppendInt(b, int64(e.Count), 10)
	}
	return append(b, '}')
}

// appendDataString is a client event's data as Pusher's webhook carries
// it: a string (the client's string as it is, anything else as its JSON
// text); null when the client sent none.
func appendDataString(b []byte, raw []byte) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return appendStr(b, s)
		}
	}
	var compact bytes.Buffer
	if json.Compact(&compact, raw) == nil {
		raw = compact.Bytes()
	}
	return appendStr(b, string(raw))
}

// listenerEvent is one event for the companion package: the bridge's
// fields, the message exactly as Reverb hands it to its event.
func listenerEvent(name string, e Event) []byte {
	b := make([]byte, 0, 96+len(e.Data)+len(e.Channel))
	b = append(b, `{"name":`...)
	b = appendStr(b, name)
	b = append(b, `,"app_id":`...)
	b = appendStr(b, e.App.ID)
	channel := e.Channel
	switch e.Kind {
	case ChannelCreated, ChannelRemoved:
	default:
		b = append(b, `,"socket_id":`...)
		b = appendStr(b, e.SocketID)
		b = append(b, `,"origin":`...)
		if e.Origin == "" {
			b = append(b, "null"...)
		} else {
			b = appendStr(b, e.Origin)
		}
		if e.Kind == MessageReceived && channel == "" {
			channel = messageChannel(e.Data)
		}
		if e.Kind == MessageSent && channel == "" {
			channel = messageChannel(e.Data)
		}
	}
	if channel != "" {
		b = append(b, `,"channel":`...)
		b = appendStr(b, channel)
	}
	switch e.Kind {
	case MessageReceived, MessageSent, MessageDelivered:
		b = append(b, `,"message":`...)
		b = appendStr(b, string(e.Data))
	case ConnectionPruned:
		if len(e.Data) > 0 {
			b = append(b, `,"data":`...)
			b = append(b, e.Data...)
		}
	}
	return append(b, '}')
}

// messageChannel is the channel a Pusher message names: its "channel", or
// its data's (pusher:subscribe, pusher:unsubscribe); "" when none.
func messageChannel(msg []byte) string {
	if !bytes.Contains(msg, []byte(`channel`)) {
		return ""
	}
	var m struct {
		Channel json.RawMessage `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	if json.Unmarshal(msg, &m) != nil {
		return ""
	}
	if s, ok := jsonStringOf(m.Channel); ok {
		return s
	}
	data := m.Data
	if s, ok := jsonStringOf(data); ok {
		data = json.RawMessage(s) // data sent as a JSON string
	}
	var d struct {
		Channel json.RawMessage `json:"channel"`
	}
	if json.Unmarshal(data, &d) == nil {
		if s, ok := jsonStringOf(d.Channel); ok {
			return s
		}
	}
	return ""
}

func jsonStringOf(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// close stops the deliveries after a last attempt at what is queued.
func (h *hookObserver) close() {
	h.sender.Close()
}

// hookStats sums an app's targets' counters: webhooks and listeners.
func (h *hookObserver) stats(cfg *laravelcfg.App) (wh, li HookCounters) {
	ah := (*h.apps.Load())[cfg]
	if ah == nil {
		return
	}
	for _, w := range ah.webhooks {
		wh.add(w.q.Stats())
	}
	if ah.listeners != nil {
		li.add(ah.listeners.Stats())
	}
	return
}

// HookCounters are the delivery counters of an app's webhooks, or of its
// listeners, on this node.
type HookCounters struct {
	Events           int64 // delivered (2xx)
	Requests         int64 // requests that delivered them
	Failures         int64 // failed attempts (each retry counts)
	DroppedQueueFull int64 // lost: the queue was full
	DroppedGaveUp    int64 // lost: retried for 5 minutes in vain
	DroppedRejected  int64 // lost: the endpoint answered 4xx
}

func (c *HookCounters) add(s webhooks.Stats) {
	c.Events += s.Events
	c.Requests += s.Requests
	c.Failures += s.Failures
	c.DroppedQueueFull += s.DroppedQueueFull
	c.DroppedGaveUp += s.DroppedGaveUp
	c.DroppedRejected += s.DroppedRejected
}
