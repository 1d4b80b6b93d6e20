package laravelcfg

import (
	"math"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// Pusher's user features and limits, per app in config/reverb.php. Reverb
// has none of them; every one is off unless the app's entry asks for it, so
// an app configured for Reverb behaves exactly as under Reverb. The key
// names are soketi's (which copied Pusher's dashboard settings), so users
// coming from soketi or Pusher recognise them:
//
//	'enable_user_authentication' => true,        // close connections not signed in ...
//	'user_authentication_timeout' => 30,         // ... within this many seconds (Pusher: 30)
//	'enable_watchlist_events' => true,           // pusher_internal:watchlist_events
//	'enable_subscription_count' => true,         // pusher_internal:subscription_count
//	'max_presence_members_per_channel' => 100,   // Pusher's limits; null: none
//	'max_event_channels_at_once' => 100,
//	'max_event_name_length' => 200,
//	'max_event_payload_in_kb' => 10,
//	'max_event_batch_size' => 10,

// DefaultUserAuthenticationTimeout is Pusher's: a connection of an app with
// enable_user_authentication must sign in (or subscribe to a private or
// presence channel) within it.
const DefaultUserAuthenticationTimeout = 30 * time.Second

// Limits are Pusher's limits an app opted in to; zero means no limit.
type Limits struct {
	// PresenceMembers is max_presence_members_per_channel: distinct users
	// of one presence channel (Pusher: 100).
	PresenceMembers int
	// EventChannels is max_event_channels_at_once: channels of one API
	// event (Pusher: 100).
	EventChannels int
	// EventNameLength is max_event_name_length, in characters (Pusher:
	// 200), for API and client events.
	EventNameLength int
	// EventPayloadBytes is max_event_payload_in_kb × 1024: the bytes of an
	// event's data (Pusher: 10 KB), for API and client events.
	EventPayloadBytes int
	// EventBatchSize is max_event_batch_size: events of one batch_events
	// request (Pusher: 10).
	EventBatchSize int
}

// userFeatures reads an app's user features and limits into a.
func (r *settingsReader) userFeatures(key string, v php.Value, a *App) error {
	on, err := r.boolVal(key+".enable_user_authentication", get(v, "enable_user_authentication"))
	if err != nil {
		return err
	}
	secs, err := r.positive(key+".user_authentication_timeout", get(v, "user_authentication_timeout"), "a number of seconds")
	if err != nil {
		return err
	}
	if on {
		a.UserAuthenticationTimeout = DefaultUserAuthenticationTimeout
		if secs > 0 {
			a.UserAuthenticationTimeout = time.Duration(secs * float64(time.Second))
		}
	}
	if a.WatchlistEvents, err = r.boolVal(key+".enable_watchlist_events", get(v, "enable_watchlist_events")); err != nil {
		return err
	}
	if a.SubscriptionCount, err = r.boolVal(key+".enable_subscription_count", get(v, "enable_subscription_count")); err != nil {
		return err
	}
	ints := []struct {
		name string
		dst  *int
	}{
		{"max_presence_members_per_channel", &a.Limits.PresenceMembers},
		{"max_event_channels_at_once", &a.Limits.EventChannels},
		{"max_event_name_length", &a.Limits.EventNameLength},
		{"max_event_batch_size", &a.Limits.EventBatchSize},
	}
	for _, f := range ints {
		n, err := r.positive(key+"."+f.name, get(v, f.name), "a positive integer")
		if err != nil {
			return err
		}
		if n != math.Trunc(n) {
			return r.fail(key+"."+f.name, "%s is not an integer", describe(get(v, f.name)))
		}
		*f.dst = int(n)
	}
	kb, err := r.positive(key+".max_event_payload_in_kb", get(v, "max_event_payload_in_kb"), "a number of kilobytes")
	if err != nil {
		return err
	}
	a.Limits.EventPayloadBytes = int(math.Round(kb * 1024))
	return nil
}

// positive reads an optional limit: null (or a missing key) is 0, meaning
// none; otherwise a number above zero.
func (r *settingsReader) positive(key string, v php.Value, what string) (float64, error) {
	if err := r.known(key, v); err != nil {
		return 0, err
	}
	if v.IsNull() {
		return 0, nil
	}
	var f float64
	switch v.Kind() {
	case php.Int, php.Float:
		f = v.ToFloat()
	case php.String:
		n, ok := v.ToNumber()
		if !ok {
			return 0, r.fail(key, "%s is not numeric (%s, or null for none)", describe(v), what)
		}
		f = n.ToFloat()
	default:
		return 0, r.fail(key, "%s is not %s (or null for none)", describe(v), what)
	}
	if !(f > 0) || math.IsInf(f, 0) || f > 1<<31-1 {
		return 0, r.fail(key, "%s is not %s (or null for none)", describe(v), what)
	}
	return f, nil
}
