package laravelcfg

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// Webhook is one entry of an app's `webhooks` list in config/reverb.php, in
// soketi's shape:
//
//	'webhooks' => [[
//	    'url' => 'https://example.com/pusher/webhooks',
//	    'event_types' => ['channel_occupied', 'channel_vacated'],
//	    'filter' => ['channel_name_starts_with' => 'private-', 'channel_name_ends_with' => '-updates'],
//	    'headers' => ['Authorization' => 'Bearer …'],
//	]],
type Webhook struct {
	URL        string
	EventTypes []string
	// ChannelPrefix and ChannelSuffix are the filter: an event is sent only
	// when its channel starts with the prefix and ends with the suffix
	// (both, when both are set; "" matches any channel).
	ChannelPrefix string
	ChannelSuffix string
	// Headers are sent with every request (X-Pusher-Key,
	// X-Pusher-Signature and Content-Type cannot be replaced).
	Headers http.Header
}

// Wants reports whether the webhook takes events of type name on channel.
func (w *Webhook) Wants(name, channel string) bool {
	found := false
	for _, t := range w.EventTypes {
		if t == name {
			found = true
			break
		}
	}
	return found && strings.HasPrefix(channel, w.ChannelPrefix) && strings.HasSuffix(channel, w.ChannelSuffix)
}

// Listeners is an app's `listeners` array: which of Reverb's events are
// posted to the app's companion package, and where.
//
//	'listeners' => [
//	    'url' => env('APP_URL').'/reverb-go/events',   // the default
//	    'events' => ['message_received', 'channel_created'],
//	],
type Listeners struct {
	// URL is where the events are posted; "" when the app gave none and
	// APP_URL was not known where it was read (apps from PHP:
	// Project.FillListenerURLs sets the default).
	URL    string
	Events []string
}

// Wants reports whether the listeners take events named name.
func (l *Listeners) Wants(name string) bool {
	if l == nil {
		return false
	}
	for _, e := range l.Events {
		if e == name {
			return true
		}
	}
	return false
}

// WebhookEventTypes are the event types a webhook may ask for: Pusher's.
var WebhookEventTypes = []string{
	"channel_occupied", "channel_vacated", "member_added", "member_removed",
	"client_event", "cache_miss", "subscription_count",
}

// ListenerEvents are Reverb's events the listeners bridge can post.
var ListenerEvents = []string{
	"message_received", "message_sent", "channel_created", "channel_removed", "connection_pruned",
}

// ListenersPath is where the companion package's route listens by default
// (its events.path setting, REVERB_GO_EVENTS_PATH).
const ListenersPath = "/reverb-go/events"

// defaultListenersURL is APP_URL + the path of the companion package's
// events route ("" is ListenersPath), joined as Laravel's url() joins them.
func defaultListenersURL(appURL, path string) (string, error) {
	if strings.Trim(path, "/ ") == "" {
		path = ListenersPath
	}
	path = "/" + strings.Trim(strings.TrimSpace(path), "/")
	s := strings.TrimRight(strings.TrimSpace(appURL), "/") + path
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("missing, and the default (APP_URL %q + %s) is not an http(s) URL", appURL, path)
	}
	return u.String(), nil
}

// FillListenerURLs gives the listeners of apps read without APP_URL (apps
// from PHP) their default url, APP_URL + the events route's path. An app
// whose default cannot be made loses its listeners, and the reason is
// returned as a warning.
func (p *Project) FillListenerURLs(apps []App) []string {
	var warns []string
	for i := range apps {
		l := apps[i].Listeners
		if l == nil || l.URL != "" {
			continue
		}
		u, err := defaultListenersURL(p.appURL(), p.eventsPath())
		if err != nil {
			warns = append(warns, "app "+apps[i].ID+": listeners.url: "+err.Error()+": its listeners get no events")
			apps[i].Listeners = nil
			continue
		}
		l.URL = u
	}
	return warns
}

// appURL is config('app.url'): from the config when it holds app (a cached
// config), else what config/app.php computes, env('APP_URL',
// 'http://localhost').
func (p *Project) appURL() string {
	if v, ok := php.Lookup(p.Config, "app.url"); ok {
		if s, ok := v.CoerceString(); ok && s != "" {
			return s
		}
	}
	if v, ok := p.Getenv("APP_URL"); ok && v != "" {
		return v
	}
	return "http://localhost"
}

// eventsPath is config('reverb-go.events.path'), where the companion
// package registers its events route: from the config when it holds it (a
// cached config), else what the package's config computes,
// env('REVERB_GO_EVENTS_PATH', 'reverb-go/events'). (An uncached
// config/reverb-go.php is not read: a path written into it, not taken from
// the environment, needs the app's listeners.url.)
func (p *Project) eventsPath() string {
	if v, ok := php.Lookup(p.Config, "reverb-go.events.path"); ok {
		if s, ok := v.CoerceString(); ok && strings.TrimSpace(s) != "" {
			return s
		}
	}
	if v, ok := p.Getenv("REVERB_GO_EVENTS_PATH"); ok && strings.TrimSpace(v) != "" {
		return v
	}
	return ListenersPath
}

// AppEnv is config('app.env'), what app()->environment() answers: from
// the config when it holds app (a cached config, where .env is not read),
// else what config/app.php computes, env('APP_ENV', 'production').
func (p *Project) AppEnv() string {
	return p.AppEnvWith(p.Getenv)
}

// AppEnvWith is AppEnv with the environment read through getenv.
func (p *Project) AppEnvWith(getenv func(string) (string, bool)) string {
	if v, ok := php.Lookup(p.Config, "app.env"); ok {
		if s, ok := v.CoerceString(); ok {
			return s
		}
	}
	if v, ok := getenv("APP_ENV"); ok {
		return v
	}
	return "production"
}

func oneOf(v string, list []string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// httpURL checks that v is an absolute http(s) URL.
func (r *settingsReader) httpURL(key string, v php.Value) (string, error) {
	s, err := r.strVal(key, v, "", false)
	if err != nil {
		return "", err
	}
	u, perr := url.Parse(strings.TrimSpace(s))
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", r.fail(key, "%q is not an http:// or https:// URL", s)
	}
	return u.String(), nil
}

// stringList reads a list of strings, each one of allowed.
func (r *settingsReader) stringList(key string, v php.Value, allowed []string, what string) ([]string, error) {
	if err := r.known(key, v); err != nil {
		return nil, err
	}
	if v.Kind() != php.Array {
		return nil, r.fail(key, "%s is not a list of %ss", describe(v), what)
	}
	arr := v.ArrayVal()
	out := make([]string, 0, arr.Len())
	for i, k := range arr.Keys {
		ek := key + "." + k.String()
		x := arr.Values[i]
		if err := r.known(ek, x); err != nil {
			return nil, err
		}
		if x.Kind() != php.String {
			return nil, r.fail(ek, "%s is not a %s (one of %s)", describe(x), what, strings.Join(allowed, ", "))
		}
		if !oneOf(x.StringVal(), allowed) {
			return nil, r.fail(ek, "%s is not a %s (one of %s)", describe(x), what, strings.Join(allowed, ", "))
		}
		if !oneOf(x.StringVal(), out) {
			out = append(out, x.StringVal())
		}
	}
	return out, nil
}

// webhooks reads an app's `webhooks` list.
func (r *settingsReader) webhooks(key string, v php.Value) ([]Webhook, error) {
	if err := r.known(key, v); err != nil {
		return nil, err
	}
	if v.IsNull() {
		return nil, nil
	}
	if v.Kind() != php.Array {
		return nil, r.fail(key, "%s is not a list of webhooks", describe(v))
	}
	var out []Webhook
	arr := v.ArrayVal()
	for i, k := range arr.Keys {
		w, err := r.webhook(key+"."+k.String(), arr.Values[i])
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

func (r *settingsReader) webhook(key string, v php.Value) (Webhook, error) {
	var w Webhook
	var err error
	if err := r.known(key, v); err != nil {
		return w, err
	}
	if v.Kind() != php.Array {
		return w, r.fail(key, "%s is not a webhook array (url, event_types, filter, headers)", describe(v))
	}
	if !get(v, "lambda_function").IsNull() || !get(v, "lambda").IsNull() {
		return w, r.fail(key, "AWS Lambda webhooks are not supported: give an http(s) url")
	}
	u := get(v, "url")
	if u.IsNull() {
		return w, r.fail(key, "missing url")
	}
	if w.URL, err = r.httpURL(key+".url", u); err != nil {
		return w, err
	}
	et := get(v, "event_types")
	if et.IsNull() {
		return w, r.fail(key, "missing event_types")
	}
	if w.EventTypes, err = r.stringList(key+".event_types", et, WebhookEventTypes, "webhook event type"); err != nil {
		return w, err
	}
	if len(w.EventTypes) == 0 {
		return w, r.fail(key+".event_types", "is empty: name at least one of %s", strings.Join(WebhookEventTypes, ", "))
	}
	filter := get(v, "filter")
	if err := r.known(key+".filter", filter); err != nil {
		return w, err
	}
	switch filter.Kind() {
	case php.Null:
	case php.Array:
		fa := filter.ArrayVal()
		for i, fk := range fa.Keys {
			name := fk.String()
			fkey := key + ".filter." + name
			fv := fa.Values[i]
			if err := r.known(fkey, fv); err != nil {
				return w, err
			}
			var dst *string
			switch name {
			case "channel_name_starts_with":
				dst = &w.ChannelPrefix
			case "channel_name_ends_with":
				dst = &w.ChannelSuffix
			default:
				return w, r.fail(fkey, "unknown filter (channel_name_starts_with or channel_name_ends_with)")
			}
			switch fv.Kind() {
			case php.Null:
			case php.String:
				*dst = fv.StringVal()
			default:
				return w, r.fail(fkey, "%s is not a string", describe(fv))
			}
		}
	default:
		return w, r.fail(key+".filter", "%s is not an array of channel_name_starts_with / channel_name_ends_with", describe(filter))
	}
	headers := get(v, "headers")
	if err := r.known(key+".headers", headers); err != nil {
		return w, err
	}
	switch headers.Kind() {
	case php.Null:
	case php.Array:
		ha := headers.ArrayVal()
		w.Headers = http.Header{}
		for i, hk := range ha.Keys {
			name := hk.String()
			hkey := key + ".headers." + name
			if hk.IsInt || !validHeaderName(name) {
				return w, r.fail(hkey, "%q is not an HTTP header name", name)
			}
			hv := ha.Values[i]
			if err := r.known(hkey, hv); err != nil {
				return w, err
			}
			if hv.Kind() == php.Array || hv.IsNull() {
				return w, r.fail(hkey, "%s is not a header value (a string)", describe(hv))
			}
			s, ok := hv.CoerceString()
			if !ok || strings.ContainsAny(s, "\r\n\x00") {
				return w, r.fail(hkey, "%s is not a header value (a string on one line)", describe(hv))
			}
			w.Headers.Set(name, s)
		}
	default:
		return w, r.fail(key+".headers", "%s is not an array of header name => value", describe(headers))
	}
	return w, nil
}

// validHeaderName is RFC 7230's token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// listeners reads an app's `listeners` array; nil when absent or when it
// names no event.
func (r *settingsReader) listeners(key string, v php.Value) (*Listeners, error) {
	if err := r.known(key, v); err != nil {
		return nil, err
	}
	if v.IsNull() {
		return nil, nil
	}
	if v.Kind() != php.Array {
		return nil, r.fail(key, "%s is not an array (url, events)", describe(v))
	}
	l := &Listeners{}
	ev := get(v, "events")
	if ev.IsNull() {
		return nil, r.fail(key, "missing events (any of %s)", strings.Join(ListenerEvents, ", "))
	}
	var err error
	if l.Events, err = r.stringList(key+".events", ev, ListenerEvents, "Reverb event"); err != nil {
		return nil, err
	}
	u := get(v, "url")
	if err := r.known(key+".url", u); err != nil {
		return nil, err
	}
	if u.IsNull() {
		if r.appURL != "" {
			if l.URL, err = defaultListenersURL(r.appURL, r.eventsPath); err != nil {
				return nil, r.fail(key+".url", "%v", err)
			}
		}
	} else if l.URL, err = r.httpURL(key+".url", u); err != nil {
		return nil, err
	}
	if len(l.Events) == 0 {
		return nil, nil
	}
	return l, nil
}
