package laravelcfg

import (
	"net/url"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/phpeval"
)

// appWith evaluates one app array with extra PHP entries and reads it.
func appWith(t testing.TB, extra string) (App, error) {
	t.Helper()
	src := `<?php return ['reverb' => ['servers' => ['reverb' => ['port' => 8080]], 'apps' => ['apps' => [[
		'app_id' => '1', 'key' => 'k', 'secret' => 's', 'ping_interval' => 60, 'max_message_size' => 100,
		'allowed_origins' => ['*'], ` + extra + `
	]]]]];`
	res, err := phpeval.Eval([]byte(src), phpeval.Options{File: "config/reverb.php", Getenv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := buildSettings(res.Value, "config/reverb.php", nil, "https://app.test/", "", envSource{}, GivenOptions{})
	if err != nil {
		return App{}, err
	}
	return s.Apps[0], nil
}

func TestWebhooksConfig(t *testing.T) {
	a, err := appWith(t, `'webhooks' => [
		['url' => 'https://hooks.test/pusher', 'event_types' => ['channel_occupied', 'client_event', 'channel_occupied'],
		 'filter' => ['channel_name_starts_with' => 'private-', 'channel_name_ends_with' => '-x'],
		 'headers' => ['Authorization' => 'Bearer t', 'X-Count' => 3]],
		['url' => 'http://127.0.0.1:9000/h', 'event_types' => ['member_added'], 'filter' => null],
	],
	'listeners' => ['events' => ['message_received', 'channel_created']],`)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Webhooks) != 2 {
		t.Fatalf("webhooks %+v", a.Webhooks)
	}
	w := a.Webhooks[0]
	if w.URL != "https://hooks.test/pusher" || strings.Join(w.EventTypes, ",") != "channel_occupied,client_event" ||
		w.ChannelPrefix != "private-" || w.ChannelSuffix != "-x" || w.Headers.Get("Authorization") != "Bearer t" || w.Headers.Get("X-Count") != "3" {
		t.Errorf("webhook 0 %+v", w)
	}
	if !w.Wants("client_event", "private-a-x") || w.Wants("client_event", "private-a") || w.Wants("member_added", "private-a-x") {
		t.Error("filter")
	}
	if a.Listeners == nil || a.Listeners.URL != "https://app.test/reverb-go/events" || !a.Listeners.Wants("channel_created") || a.Listeners.Wants("message_sent") {
		t.Errorf("listeners %+v", a.Listeners)
	}

	a, err = appWith(t, `'listeners' => ['url' => 'http://php.test/hook', 'events' => []],`)
	if err != nil || a.Listeners != nil || a.Webhooks != nil {
		t.Errorf("empty listeners: %+v %v", a.Listeners, err)
	}
}

func TestWebhooksConfigErrors(t *testing.T) {
	const app = "config/reverb.php: reverb.apps.apps.0"
	for _, c := range []struct{ extra, want string }{
		{`'webhooks' => 'https://x.test'`, app + `.webhooks: "https://x.test" is not a list of webhooks`},
		{`'webhooks' => ['https://x.test']`, app + `.webhooks.0: "https://x.test" is not a webhook array`},
		{`'webhooks' => [['event_types' => ['client_event']]]`, app + `.webhooks.0: missing url`},
		{`'webhooks' => [['url' => 'ftp://x.test', 'event_types' => ['client_event']]]`, app + `.webhooks.0.url: "ftp://x.test" is not an http:// or https:// URL`},
		{`'webhooks' => [['url' => 'x.test/hook', 'event_types' => ['client_event']]]`, app + `.webhooks.0.url: "x.test/hook" is not an http`},
		{`'webhooks' => [['url' => 'https://x.test']]`, app + `.webhooks.0: missing event_types`},
		{`'webhooks' => [['url' => 'https://x.test', 'event_types' => []]]`, app + `.webhooks.0.event_types: is empty`},
		{`'webhooks' => [['url' => 'https://x.test', 'event_types' => 'client_event']]`, app + `.webhooks.0.event_types: "client_event" is not a list of webhook event types`},
		{`'webhooks' => [['url' => 'https://x.test', 'event_types' => ['client_event', 'channel_created']]]`, app + `.webhooks.0.event_types.1: "channel_created" is not a webhook event type (one of channel_occupied`},
		{`'webhooks' => [['url' => 'https://x.test', 'event_types' => ['client_event'], 'filter' => 'private-']]`, app + `.webhooks.0.filter: "private-" is not an array`},
		{`'webhooks' => [['url' => 'https://x.test', 'event_types' => ['client_event'], 'filter' => ['channel_name_starts_with' => ['a']]]]`, app + `.webhooks.0.filter.channel_name_starts_with: an array is not a string`},
		{`'webhooks' => [['url' => 'https://x.test', 'event_types' => ['client_event'], 'filter' => ['channel_name_starts_with' => 5]]]`, app + `.webhooks.0.filter.channel_name_starts_with: 5 is not a string`},
		{`'webhooks' => [['url' => 'https://x.test', 'event_types' => ['client_event'], 'filter' => ['prefix' => 'a']]]`, app + `.webhooks.0.filter.prefix: unknown filter`},
		{`'webhooks' => [['url' => 'https://x.test', 'event_types' => ['client_event'], 'headers' => ['Bad Header' => 'x']]]`, app + `.webhooks.0.headers.Bad Header: "Bad Header" is not an HTTP header name`},
		{`'webhooks' => [['url' => 'https://x.test', 'event_types' => ['client_event'], 'headers' => ['X-A' => ['x']]]]`, app + `.webhooks.0.headers.X-A: an array is not a header value`},
		{`'webhooks' => [['lambda_function' => 'f', 'event_types' => ['client_event']]]`, app + `.webhooks.0: AWS Lambda webhooks are not supported`},
		{`'listeners' => ['message_received']`, app + `.listeners: missing events`},
		{`'listeners' => ['events' => ['MessageReceived']]`, app + `.listeners.events.0: "MessageReceived" is not a Reverb event (one of message_received`},
		{`'listeners' => ['url' => 'php://x', 'events' => ['message_sent']]`, app + `.listeners.url: "php://x" is not an http:// or https:// URL`},
		{`'listeners' => true`, app + `.listeners: true is not an array`},
	} {
		_, err := appWith(t, c.extra+",")
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s\n got: %v\nwant: %s…", c.extra, err, c.want)
		}
	}
}

func TestListenersDefaultURL(t *testing.T) {
	dir := project(t, map[string]string{
		".env":              baseEnv + "APP_URL=http://shop.test:8000/\n",
		"config/reverb.php": `<?php return ['apps' => ['apps' => [['app_id' => '1', 'key' => 'k', 'secret' => 's', 'ping_interval' => 60, 'max_message_size' => 1, 'allowed_origins' => ['*'], 'listeners' => ['events' => ['connection_pruned']]]]]];`,
	})
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if l := p.Reverb.Apps[0].Listeners; l == nil || l.URL != "http://shop.test:8000/reverb-go/events" {
		t.Errorf("listeners %+v", l)
	}
}

// FuzzWebhooksConfig feeds arbitrary PHP values as an app's webhooks and
// listeners: no panic, and what is accepted is well formed.
func FuzzWebhooksConfig(f *testing.F) {
	for _, seed := range []string{
		`[['url' => 'https://x.test', 'event_types' => ['client_event']]]`,
		`[['url' => 'http://a', 'event_types' => ['member_added', 'member_removed'], 'filter' => ['channel_name_ends_with' => null], 'headers' => ['A' => 1]]]`,
		`['events' => ['message_sent'], 'url' => 'https://h/x']`,
		`[[]]`, `null`, `[1, 'a' => true]`, `[['url' => "https://\x00", 'event_types' => [1]]]`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		res, err := phpeval.Eval([]byte("<?php return "+in+";"), phpeval.Options{File: "f.php", Getenv: envOf(nil)})
		if err != nil {
			return
		}
		r := &settingsReader{file: "f.php", appURL: "http://localhost"}
		if ws, err := r.webhooks("w", res.Value); err == nil {
			for _, w := range ws {
				u, err := url.Parse(w.URL)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || len(w.EventTypes) == 0 {
					t.Fatalf("accepted %+v", w)
				}
				for _, e := range w.EventTypes {
					if !oneOf(e, WebhookEventTypes) {
						t.Fatalf("accepted event type %q", e)
					}
				}
			}
		} else if !strings.HasPrefix(err.Error(), "f.php: w") {
			t.Fatalf("error without key path: %v", err)
		}
		if l, err := r.listeners("l", res.Value); err == nil && l != nil {
			if u, err := url.Parse(l.URL); err != nil || u.Host == "" {
				t.Fatalf("accepted listeners %+v", l)
			}
		}
	})
}

func TestListenersOfAppsFromPHP(t *testing.T) {
	res, err := phpeval.Eval([]byte(`<?php return [['app_id' => '1', 'key' => 'k', 'secret' => 's', 'ping_interval' => 60, 'max_message_size' => 1, 'allowed_origins' => ['*'], 'listeners' => ['events' => ['message_received']]], ['app_id' => '2', 'key' => 'k2', 'secret' => 's', 'ping_interval' => 60, 'max_message_size' => 1, 'allowed_origins' => ['*'], 'listeners' => ['url' => 'https://x.test/e', 'events' => ['message_sent']]]];`), phpeval.Options{File: "f.php", Getenv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	apps, _, err := ParseApps(res.Value, "php artisan reverb:apps --json", "apps")
	if err != nil {
		t.Fatal(err)
	}
	if apps[0].Listeners.URL != "" || apps[1].Listeners.URL != "https://x.test/e" {
		t.Fatalf("listeners %+v %+v", apps[0].Listeners, apps[1].Listeners)
	}
	p := &Project{env: envOf(map[string]string{"APP_URL": "https://shop.test/"})}
	if w := p.FillListenerURLs(apps); len(w) != 0 || apps[0].Listeners.URL != "https://shop.test/reverb-go/events" || apps[1].Listeners.URL != "https://x.test/e" {
		t.Errorf("filled %+v %+v (%v)", apps[0].Listeners, apps[1].Listeners, w)
	}
	apps[0].Listeners.URL = ""
	bad := &Project{env: envOf(map[string]string{"APP_URL": "shop.test"})}
	if w := bad.FillListenerURLs(apps); len(w) != 1 || apps[0].Listeners != nil {
		t.Errorf("bad APP_URL: %v %+v", w, apps[0].Listeners)
	}
}

// The companion package's route moves with its events.path setting
// (REVERB_GO_EVENTS_PATH): the default url follows it.
func TestListenersDefaultURLFollowsTheEventsPath(t *testing.T) {
	dir := project(t, map[string]string{
		".env":              baseEnv + "APP_URL=http://shop.test:8000/\nREVERB_GO_EVENTS_PATH=/hooks/reverb\n",
		"config/reverb.php": `<?php return ['apps' => ['apps' => [['app_id' => '1', 'key' => 'k', 'secret' => 's', 'ping_interval' => 60, 'max_message_size' => 1, 'allowed_origins' => ['*'], 'listeners' => ['events' => ['connection_pruned']]]]]];`,
	})
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if l := p.Reverb.Apps[0].Listeners; l == nil || l.URL != "http://shop.test:8000/hooks/reverb" {
		t.Errorf("listeners %+v", l)
	}

	// Apps from PHP, with a cached configuration that holds the setting.
	apps := []App{{ID: "1", Listeners: &Listeners{Events: []string{"message_received"}}}}
	res, err := phpeval.Eval([]byte(`<?php return ['app' => ['url' => 'https://shop.test'], 'reverb-go' => ['events' => ['path' => 'internal/reverb-events']]];`), phpeval.Options{File: "bootstrap/cache/config.php", Getenv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	cached := &Project{Config: res.Value, env: envOf(nil)}
	if w := cached.FillListenerURLs(apps); len(w) != 0 || apps[0].Listeners.URL != "https://shop.test/internal/reverb-events" {
		t.Errorf("filled %+v (%v)", apps[0].Listeners, w)
	}
}
