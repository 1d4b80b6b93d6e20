package laravelcfg

import (
	"strings"
	"testing"
	"time"
)

func TestUserFeaturesOffByDefault(t *testing.T) {
	a, err := appWith(t, ``)
	if err != nil {
		t.Fatal(err)
	}
	if a.UserAuthenticationTimeout != 0 || a.WatchlistEvents || a.SubscriptionCount || a.Limits != (Limits{}) {
		t.Errorf("features on without asking: %+v %+v", a, a.Limits)
	}
	// A timeout without the switch does nothing (soketi's switch).
	a, err = appWith(t, `'user_authentication_timeout' => 5, 'max_event_name_length' => null,`)
	if err != nil || a.UserAuthenticationTimeout != 0 || a.Limits.EventNameLength != 0 {
		t.Errorf("%v %+v", err, a)
	}
}

func TestUserFeaturesAndPusherLimits(t *testing.T) {
	a, err := appWith(t, `'enable_user_authentication' => true, 'enable_watchlist_events' => 'yes', 'enable_subscription_count' => 1,
		'max_presence_members_per_channel' => 100, 'max_event_channels_at_once' => '100', 'max_event_name_length' => 200,
		'max_event_payload_in_kb' => 10, 'max_event_batch_size' => 10.0,`)
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{PresenceMembers: 100, EventChannels: 100, EventNameLength: 200, EventPayloadBytes: 10240, EventBatchSize: 10}
	if a.UserAuthenticationTimeout != 30*time.Second || !a.WatchlistEvents || !a.SubscriptionCount || a.Limits != want {
		t.Errorf("%v %v %v %+v", a.UserAuthenticationTimeout, a.WatchlistEvents, a.SubscriptionCount, a.Limits)
	}
	a, err = appWith(t, `'enable_user_authentication' => true, 'user_authentication_timeout' => 1.5, 'max_event_payload_in_kb' => 0.5,`)
	if err != nil || a.UserAuthenticationTimeout != 1500*time.Millisecond || a.Limits.EventPayloadBytes != 512 {
		t.Errorf("%v %v %+v", err, a.UserAuthenticationTimeout, a.Limits)
	}
}

func TestUserFeatureErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct{ extra, want string }{
		{`'max_event_batch_size' => 0,`, `reverb.apps.apps.0.max_event_batch_size: 0 is not a positive integer (or null for none)`},
		{`'max_event_batch_size' => 2.5,`, `reverb.apps.apps.0.max_event_batch_size: 2.5 is not an integer`},
		{`'max_presence_members_per_channel' => 'many',`, `reverb.apps.apps.0.max_presence_members_per_channel: "many" is not numeric (a positive integer, or null for none)`},
		{`'max_event_channels_at_once' => -1,`, `reverb.apps.apps.0.max_event_channels_at_once: -1 is not a positive integer`},
		{`'max_event_name_length' => [200],`, `reverb.apps.apps.0.max_event_name_length: an array is not a positive integer`},
		{`'max_event_payload_in_kb' => false,`, `reverb.apps.apps.0.max_event_payload_in_kb: false is not a number of kilobytes`},
		{`'enable_user_authentication' => true, 'user_authentication_timeout' => 0,`, `reverb.apps.apps.0.user_authentication_timeout: 0 is not a number of seconds`},
	} {
		_, err := appWith(t, c.extra)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.extra, err, c.want)
		}
	}
}
