package api

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

// fakeBackend is a Backend over fixed channel state; it records what the
// handler asked for. mu guards every field.
type fakeBackend struct {
	mu         sync.Mutex
	apps       []laravelcfg.App
	channels   []ChannelInfo // existing channels in creation order
	users      map[string][]php.Value
	conns      int
	published  []Event
	terminated []string
	failWith   error
}

func (f *fakeBackend) AppByID(id string) (*laravelcfg.App, bool) {
	for i := range f.apps {
		if f.apps[i].ID == id {
			return &f.apps[i], true
		}
	}
	return nil, false
}

func (f *fakeBackend) Publish(_ context.Context, _ *laravelcfg.App, ev Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, ev)
	return f.failWith
}

func (f *fakeBackend) Connections(context.Context, *laravelcfg.App) (int, error) {
	return f.conns, f.failWith
}

func (f *fakeBackend) Channels(_ context.Context, _ *laravelcfg.App, prefix string) ([]ChannelInfo, error) {
	var out []ChannelInfo
	for _, c := range f.channels {
		if c.SubscriptionCount > 0 && strings.HasPrefix(c.Name, prefix) {
			out = append(out, c)
		}
	}
	return out, f.failWith
}

func (f *fakeBackend) Channel(_ context.Context, _ *laravelcfg.App, names []string) ([]ChannelInfo, error) {
	out := make([]ChannelInfo, len(names))
	for i, n := range names {
		out[i] = ChannelInfo{Name: n}
		for _, c := range f.channels {
			if c.Name == n {
				out[i] = c
			}
		}
	}
	return out, f.failWith
}

func (f *fakeBackend) Users(_ context.Context, _ *laravelcfg.App, channel string) ([]php.Value, bool, error) {
	for _, c := range f.channels {
		if c.Name == channel {
			return f.users[channel], true, f.failWith
		}
	}
	return nil, false, f.failWith
}

func (f *fakeBackend) TerminateUser(_ context.Context, _ *laravelcfg.App, userID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.terminated = append(f.terminated, userID)
	return f.failWith
}

func testApps() []laravelcfg.App {
	return []laravelcfg.App{
		{ID: "123456", Key: "reverb-key", Secret: "reverb-secret"},
		{ID: "654321", Key: "reverb-key-2", Secret: "reverb-secret-2"},
	}
}

// sign builds a query the way pusher-http-php does: auth_* params and
// body_md5, ksorted, HMAC over "METHOD\npath\nquery".
func sign(secret, method, path string, extra url.Values, body string) string {
	params := map[string]string{"auth_key": "reverb-key", "auth_timestamp": "1700000000", "auth_version": "1.0"}
	for k, vs := range extra {
		params[k] = vs[0]
	}
	if body != "" {
		sum := md5.Sum([]byte(body))
		params["body_md5"] = hex.EncodeToString(sum[:])
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts, enc []string
	for _, k := range keys {
		parts = append(parts, k+"="+params[k])
		enc = append(enc, url.QueryEscape(k)+"="+url.QueryEscape(params[k]))
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(method + "\n" + path + "\n" + strings.Join(parts, "&")))
	return strings.Join(enc, "&") + "&auth_signature=" + hex.EncodeToString(m.Sum(nil))
}

type result struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, srv *httptest.Server, method, target, body string) result {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body = nil
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, string(b), resp.Header}
}

// signed performs a request signed over signPath (default: the path).
func signed(t *testing.T, srv *httptest.Server, method, path string, extra url.Values, body, signPath string) result {
	t.Helper()
	if signPath == "" {
		signPath = path
	}
	return do(t, srv, method, path+"?"+sign("reverb-secret", method, signPath, extra, body), body)
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return reflect.DeepEqual(x, y)
}

func newFake() *fakeBackend {
	return &fakeBackend{
		apps: testApps(),
		channels: []ChannelInfo{
			{Name: "test-channel-one", Exists: true, SubscriptionCount: 2},
			{Name: "presence-test-channel-two", Exists: true, SubscriptionCount: 2, UserCount: 1},
			{Name: "cache-test-channel", Exists: true, SubscriptionCount: 1, Cache: []byte(`{"some":"data","html":"<b>"}`)},
			{Name: "private-empty", Exists: true},
		},
		users: map[string][]php.Value{"presence-test-channel-two": {php.IntValue(1), php.StringValue("2")}},
		conns: 2,
	}
}

func TestRoutesAndErrors(t *testing.T) {
	fb := newFake()
	srv := httptest.NewServer(NewHandler(fb, Options{}))
	defer srv.Close()
	tests := []struct {
		name, method, target, body string
		status                     int
		want                       string
		allow                      string
	}{
		{"up", "GET", "/up", "", 200, `{"health":"OK"}`, ""},
		{"up trailing slash", "GET", "/up/", "", 404, "Not found.", ""},
		{"nope", "GET", "/nope", "", 404, "Not found.", ""},
		{"root", "GET", "/", "", 404, "Not found.", ""},
		{"events by GET", "GET", "/apps/123456/events", "", 405, "Method not allowed.", "POST"},
		{"channels by POST", "POST", "/apps/123456/channels", "", 405, "Method not allowed.", "GET"},
		{"up by POST", "POST", "/up", "", 405, "Method not allowed.", "GET"},
		{"trailing slash beats method", "GET", "/apps/123456/events/", "", 404, "Not found.", ""},
		{"empty app id", "POST", "/apps//events", "", 404, "Not found.", ""},
		{"websocket route without upgrade", "GET", "/app/reverb-key", "", 500, "Internal server error.", ""},
		{"terminate under channels", "POST", "/apps/123456/channels/users/x/terminate_connections", "", 404, "Not found.", ""},
		{"unknown app", "POST", "/apps/999/events", "{}", 404, "No matching application for ID [999].", ""},
		{"app id 0", "GET", "/apps/0/connections", "", 400, "Application ID not provided.", ""},
		{"unsigned", "POST", "/apps/123456/events", `{"name":"a","data":"b","channel":"c"}`, 401, "Authentication signature invalid.", ""},
		{"too large", "POST", "/apps/123456/events", strings.Repeat("x", 10001), 413, "Payload too large.", ""},
		{"too large on unknown route", "POST", "/nope", strings.Repeat("x", 10001), 413, "Payload too large.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, tt.method, tt.target, tt.body)
			if r.status != tt.status || !jsonEqual(r.body, tt.want) {
				t.Fatalf("%d %q, want %d %q", r.status, r.body, tt.status, tt.want)
			}
			if tt.allow != "" && r.header.Get("Allow") != tt.allow {
				t.Errorf("Allow = %q, want %q", r.header.Get("Allow"), tt.allow)
			}
			ct := r.header.Get("Content-Type")
			if (tt.status == 200) != strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q for status %d", ct, tt.status)
			}
		})
	}
	if r := do(t, srv, "HEAD", "/up", ""); r.status != 200 {
		t.Errorf("HEAD /up = %d", r.status)
	}
}

func TestSignedRoutes(t *testing.T) {
	tests := []struct {
		name, method, path string
		extra              url.Values
		body               string
		status             int
		want               string
	}{
		{"event single channel", "POST", "/apps/123456/events", nil, `{"name":"App\\Events\\TestEvent","data":"{\"foo\":\"bar\"}","channel":"test-channel"}`, 200, `{}`},
		{"event two channels", "POST", "/apps/123456/events", nil, `{"name":"e","data":"d","channels":["test-channel-one","test-channel-two"]}`, 200, `{}`},
		{"event info user_count", "POST", "/apps/123456/events", nil,
			`{"name":"e","data":"d","channels":["presence-test-channel-two","test-channel-one"],"info":"user_count"}`, 200,
			`{"channels":{"presence-test-channel-two":{"user_count":1},"test-channel-one":{}}}`},
		{"event info subscription_count", "POST", "/apps/123456/events", nil,
			`{"name":"e","data":"d","channels":["presence-test-channel-two","test-channel-one","nope"],"info":"subscription_count,occupied"}`, 200,
			`{"channels":{"presence-test-channel-two":{"occupied":true},"test-channel-one":{"occupied":true,"subscription_count":2},"nope":{"occupied":false}}}`},
		{"event info channel named 0 makes a list", "POST", "/apps/123456/events", nil, `{"name":"e","data":"d","channel":"0","info":""}`, 200, `{"channels":[{}]}`},
		{"event missing data", "POST", "/apps/123456/events", nil, `{"name":"e","channel":"c"}`, 422, `{"data":["The data field is required."]}`},
		{"event channels without data", "POST", "/apps/123456/events", nil, `{"name":"e","channels":["a"]}`, 422, `{"data":["The data field is required."]}`},
		{"event socket_id int", "POST", "/apps/123456/events", nil, `{"name":"e","data":"d","channel":"c","socket_id":1234}`, 422, `{"socket_id":["The socket id field must be a string."]}`},
		{"event info int", "POST", "/apps/123456/events", nil, `{"name":"e","data":"d","channel":"c","info":1234}`, 422, `{"info":["The info field must be a string."]}`},
		{"event empty object", "POST", "/apps/123456/events", nil, `{}`, 422,
			`{"name":["The name field is required."],"data":["The data field is required."],"channels":["The channels field is required when channel is not present."],"channel":["The channel field is required when channels is not present."]}`},
		{"event wrong types", "POST", "/apps/123456/events", nil, `{"name":null,"data":{"a":1},"channels":"x","channel":"  "}`, 422,
			`{"name":["The name field is required."],"data":["The data field must be a string."],"channels":["The channels field must be an array."]}`},
		{"event blank socket_id skips string rule", "POST", "/apps/123456/events", nil, `{"name":"e","data":"d","channel":"c","socket_id":"  "}`, 200, `{}`},
		{"event null socket_id", "POST", "/apps/123456/events", nil, `{"name":"e","data":"d","channel":"c","socket_id":null}`, 422, `{"socket_id":["The socket id field must be a string."]}`},
		{"event invalid json", "POST", "/apps/123456/events", nil, `{"name":`, 500, "Internal server error."},
		{"event json string", "POST", "/apps/123456/events", nil, `"x"`, 500, "Internal server error."},
		{"event empty body", "POST", "/apps/123456/events", nil, ``, 500, "Internal server error."},
		{"event null channel element", "POST", "/apps/123456/events", nil, `{"name":"e","data":"d","channels":[null]}`, 500, "Internal server error."},
		{"batch no info", "POST", "/apps/123456/batch_events", nil,
			`{"batch":[{"name":"a","data":"d","channel":"test-channel-one"},{"name":"b","data":"d","channel":"x"}]}`, 200, `{"batch":{}}`},
		{"batch info all", "POST", "/apps/123456/batch_events", nil,
			`{"batch":[{"name":"a","data":"d","channel":"presence-test-channel-two","info":"user_count"},{"name":"b","data":"d","channel":"test-channel-one","info":"subscription_count"}]}`, 200,
			`{"batch":[{"user_count":1},{"subscription_count":2}]}`},
		{"batch info some", "POST", "/apps/123456/batch_events", nil,
			`{"batch":[{"name":"a","data":"d","channel":"presence-test-channel-two","info":"user_count"},{"name":"b","data":"d","channel":"test-channel-one"}]}`, 200,
			`{"batch":[{"user_count":1},{}]}`},
		{"batch info asking nothing", "POST", "/apps/123456/batch_events", nil,
			`{"batch":[{"name":"a","data":"d","channel":"test-channel-one","info":"user_count"}]}`, 200, `{"batch":[{}]}`},
		{"batch info of an unknown channel", "POST", "/apps/123456/batch_events", nil,
			`{"batch":[{"name":"a","data":"d","channel":"nobody","info":"subscription_count,user_count"},{"name":"b","data":"d","channel":"x"}]}`, 200, `{"batch":[{},{}]}`},
		{"batch info empty string", "POST", "/apps/123456/batch_events", nil,
			`{"batch":[{"name":"a","data":"d","channel":"test-channel-one","info":""}]}`, 200, `{"batch":[{}]}`},
		{"batch keyed with info", "POST", "/apps/123456/batch_events", nil,
			`{"batch":{"x":{"name":"a","data":"d","channel":"nobody","info":"subscription_count"},"y":{"name":"b","data":"d","channel":"x"}}}`, 200, `{"batch":{"x":{},"y":{}}}`},
		{"batch missing", "POST", "/apps/123456/batch_events", nil, `{}`, 422, `{"batch":["The batch field is required."]}`},
		{"batch not array", "POST", "/apps/123456/batch_events", nil, `{"batch":"x"}`, 422, `{"batch":["The batch field must be an array."]}`},
		{"batch items invalid", "POST", "/apps/123456/batch_events", nil,
			`{"batch":[{"name":"a"},{"data":1,"channel":"c","socket_id":5},"x"]}`, 422,
			`{"batch.1.name":["The batch.1.name field is required."],"batch.2.name":["The batch.2.name field is required."],"batch.0.data":["The batch.0.data field is required."],"batch.1.data":["The batch.1.data field must be a string."],"batch.2.data":["The batch.2.data field is required."],"batch.0.channel":["The batch.0.channel field is required when channels is not present."],"batch.2.channel":["The batch.2.channel field is required when channels is not present."],"batch.1.socket_id":["The batch.1.socket_id field must be a string."]}`},
		{"channels info user_count", "GET", "/apps/123456/channels", url.Values{"info": {"user_count"}}, "", 200,
			`{"channels":{"test-channel-one":{},"presence-test-channel-two":{"user_count":1},"cache-test-channel":{}}}`},
		{"channels no info", "GET", "/apps/123456/channels", nil, "", 200,
			`{"channels":{"test-channel-one":{},"presence-test-channel-two":{},"cache-test-channel":{}}}`},
		{"channels filtered", "GET", "/apps/123456/channels", url.Values{"filter_by_prefix": {"presence-"}, "info": {"user_count,subscription_count"}}, "", 200,
			`{"channels":{"presence-test-channel-two":{"user_count":1}}}`},
		{"channels filter matches none", "GET", "/apps/123456/channels", url.Values{"filter_by_prefix": {"zzz"}}, "", 200, `{"channels":[]}`},
		{"channels filter 0 is falsy", "GET", "/apps/123456/channels", url.Values{"filter_by_prefix": {"0"}}, "", 200,
			`{"channels":{"test-channel-one":{},"presence-test-channel-two":{},"cache-test-channel":{}}}`},
		{"channel two subscribers", "GET", "/apps/123456/channels/test-channel-one", url.Values{"info": {"user_count,subscription_count,cache"}}, "", 200,
			`{"occupied":true,"subscription_count":2}`},
		{"channel missing", "GET", "/apps/123456/channels/nope", url.Values{"info": {"subscription_count"}}, "", 200, `{"occupied":false}`},
		{"channel cache", "GET", "/apps/123456/channels/cache-test-channel", url.Values{"info": {"subscription_count,cache"}}, "", 200,
			`{"occupied":true,"subscription_count":1,"cache":{"some":"data","html":"<b>"}}`},
		{"channel presence", "GET", "/apps/123456/channels/presence-test-channel-two", url.Values{"info": {"user_count"}}, "", 200, `{"occupied":true,"user_count":1}`},
		{"channel empty leftover", "GET", "/apps/123456/channels/private-empty", url.Values{"info": {"subscription_count"}}, "", 200, `{"occupied":false,"subscription_count":0}`},
		{"users public", "GET", "/apps/123456/channels/test-channel-one/users", nil, "", 400, `{}`},
		{"users missing", "GET", "/apps/123456/channels/presence-nope/users", nil, "", 404, `{}`},
		{"users presence", "GET", "/apps/123456/channels/presence-test-channel-two/users", nil, "", 200, `{"users":[{"id":1},{"id":"2"}]}`},
		{"connections", "GET", "/apps/123456/connections", nil, "", 200, `{"connections":2}`},
		{"terminate", "POST", "/apps/123456/users/456/terminate_connections", nil, "{}", 200, `{}`},
	}
	fb := newFake()
	srv := httptest.NewServer(NewHandler(fb, Options{}))
	defer srv.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signed(t, srv, tt.method, tt.path, tt.extra, tt.body, "")
			if r.status != tt.status || !jsonEqual(r.body, tt.want) {
				t.Fatalf("%d %s\nwant %d %s", r.status, r.body, tt.status, tt.want)
			}
		})
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if got := fb.terminated; len(got) != 1 || got[0] != "456" {
		t.Errorf("terminated %v", got)
	}
	first := fb.published[0]
	if first.Name != `App\Events\TestEvent` || first.Data != `{"foo":"bar"}` || !reflect.DeepEqual(first.Channels, []string{"test-channel"}) || first.Batch {
		t.Errorf("published %+v", first)
	}
}

func TestSymfonyEscaping(t *testing.T) {
	fb := newFake()
	srv := httptest.NewServer(NewHandler(fb, Options{}))
	defer srv.Close()
	r := signed(t, srv, "GET", "/apps/123456/channels/cache-test-channel", url.Values{"info": {"cache"}}, "", "")
	if want := `{"occupied":true,"cache":{"some":"data","html":"\u003Cb\u003E"}}`; r.body != want {
		t.Fatalf("body %s, want %s", r.body, want)
	}
}

func TestSocketIDAndBatchEvents(t *testing.T) {
	fb := newFake()
	srv := httptest.NewServer(NewHandler(fb, Options{}))
	defer srv.Close()
	signed(t, srv, "POST", "/apps/123456/events", nil, `{"name":"e","data":"d","channel":"c","socket_id":"1.2"}`, "")
	signed(t, srv, "POST", "/apps/123456/batch_events", nil, `{"batch":[{"name":"a","data":"1","channel":"x","socket_id":"3.4"},{"name":"b","data":"2","channel":"y"}]}`, "")
	fb.mu.Lock()
	defer fb.mu.Unlock()
	want := []Event{
		{Name: "e", Data: "d", Channels: []string{"c"}, SocketID: "1.2"},
		{Name: "a", Data: "1", Channels: []string{"x"}, SocketID: "3.4", Batch: true},
		{Name: "b", Data: "2", Channels: []string{"y"}, Batch: true},
	}
	if !reflect.DeepEqual(fb.published, want) {
		t.Fatalf("published %+v", fb.published)
	}
}

func TestPathPrefixAndSignatureForms(t *testing.T) {
	fb := newFake()
	srv := httptest.NewServer(NewHandler(fb, Options{Path: "/ws", ConfigPath: "/ws"}))
	defer srv.Close()
	body := `{"name":"e","data":"d","channel":"c"}`
	if r := signed(t, srv, "POST", "/ws/apps/123456/events", nil, body, ""); r.status != 200 {
		t.Errorf("signed over full path: %d %s", r.status, r.body)
	}
	if r := signed(t, srv, "POST", "/ws/apps/123456/events", nil, body, "/apps/123456/events"); r.status != 200 {
		t.Errorf("signed without prefix: %d %s", r.status, r.body)
	}
	if r := signed(t, srv, "POST", "/apps/123456/events", nil, body, ""); r.status != 404 {
		t.Errorf("route without prefix: %d", r.status)
	}
	if r := do(t, srv, "GET", "/ws/up", ""); r.status != 200 {
		t.Errorf("/ws/up: %d", r.status)
	}
	// --path only (config empty): both forms still accepted.
	srv2 := httptest.NewServer(NewHandler(fb, Options{Path: "/ws"}))
	defer srv2.Close()
	if r := signed(t, srv2, "POST", "/ws/apps/123456/events", nil, body, "/apps/123456/events"); r.status != 200 {
		t.Errorf("--path only, signed without prefix: %d", r.status)
	}
}

func TestMaxRequestSize(t *testing.T) {
	fb := newFake()
	srv := httptest.NewServer(NewHandler(fb, Options{MaxRequestSize: 200000}))
	defer srv.Close()
	data := strings.Repeat("x", 150000)
	body := `{"name":"e","data":"` + data + `","channel":"c"}`
	if r := signed(t, srv, "POST", "/apps/123456/events", nil, body, ""); r.status != 200 || r.body != "{}" {
		t.Fatalf("150 000-byte event: %d %s", r.status, r.body)
	}
	big := `{"name":"e","data":"` + strings.Repeat("x", 200000) + `","channel":"c"}`
	if r := signed(t, srv, "POST", "/apps/123456/events", nil, big, ""); r.status != 413 {
		t.Fatalf("200 000-byte event: %d", r.status)
	}
}

func TestSignatureEdgeCases(t *testing.T) {
	fb := newFake()
	var logged []string
	srv := httptest.NewServer(NewHandler(fb, Options{ErrorLog: func(s string) { logged = append(logged, s) }}))
	defer srv.Close()
	// A nested array in a signed parameter is "Array to string
	// conversion" in PHP: 500.
	if r := do(t, srv, "GET", "/apps/123456/connections?a[b][c]=1&auth_signature=x", ""); r.status != 500 {
		t.Errorf("nested array: %d", r.status)
	}
	if len(logged) != 1 {
		t.Errorf("500 not logged: %v", logged)
	}
	// info as an array on the channel route: 500 (after a valid signature).
	q := sign("reverb-secret", "GET", "/apps/123456/channels/test-channel-one", url.Values{"info": {"a"}}, "")
	q = strings.Replace(q, "info=a", "info%5B%5D=a", 1) // parse_str signs info[]=a as info=a
	if r := do(t, srv, "GET", "/apps/123456/channels/test-channel-one?"+q, ""); r.status != 500 {
		t.Errorf("info array: %d %s", r.status, r.body)
	}
	// A backend failure is a 500, never a hang or a panic.
	fb.failWith = errors.New("boom")
	if r := signed(t, srv, "GET", "/apps/123456/connections", nil, "", ""); r.status != 500 {
		t.Errorf("backend error: %d", r.status)
	}
}

func TestPusherHTTPPHPStyle(t *testing.T) {
	// pusher-http-php signs a terminate request with body "{}" and puts
	// body_md5 in the query; Guzzle encodes ',' as %2C.
	fb := newFake()
	srv := httptest.NewServer(NewHandler(fb, Options{}))
	defer srv.Close()
	q := sign("reverb-secret", "GET", "/apps/123456/channels/test-channel-one", url.Values{"info": {"subscription_count,user_count"}}, "")
	if !strings.Contains(q, "%2C") {
		t.Fatal("test signer should encode ','")
	}
	r := do(t, srv, "GET", "/apps/123456/channels/test-channel-one?"+q, "")
	if r.status != 200 || r.body != `{"occupied":true,"subscription_count":2}` {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestMethodIsSignedUppercase(t *testing.T) {
	// Reverb reads the request through Guzzle, which upper-cases the
	// method: a request sent as "post" is signed and routed as "POST".
	fb := newFake()
	srv := httptest.NewServer(NewHandler(fb, Options{}))
	defer srv.Close()
	body := `{"name":"e","data":"d","channel":"c"}`
	q := sign("reverb-secret", "POST", "/apps/123456/events", nil, body)
	if r := do(t, srv, "post", "/apps/123456/events?"+q, body); r.status != 200 || r.body != "{}" {
		t.Fatalf("post signed as POST: %d %s", r.status, r.body)
	}
	q = sign("reverb-secret", "GET", "/apps/123456/connections", nil, "")
	if r := do(t, srv, "get", "/apps/123456/connections?"+q, ""); r.status != 200 {
		t.Fatalf("get signed as GET: %d %s", r.status, r.body)
	}
}

func TestChannelsInfoArrayWithNoChannels(t *testing.T) {
	// ChannelsController passes info to infoForChannels(..., string $info)
	// whatever the channel list: an array is a TypeError (500) even when
	// no channel is listed.
	fb := newFake()
	srv := httptest.NewServer(NewHandler(fb, Options{}))
	defer srv.Close()
	for _, extra := range []url.Values{
		{"info": {"a"}, "filter_by_prefix": {"zzz"}},
		{"info": {"a"}},
	} {
		q := sign("reverb-secret", "GET", "/apps/123456/channels", extra, "")
		q = strings.Replace(q, "info=a", "info%5B%5D=a", 1) // parse_str signs info[]=a as info=a
		if r := do(t, srv, "GET", "/apps/123456/channels?"+q, ""); r.status != 500 {
			t.Errorf("info array with %v: %d %s", extra, r.status, r.body)
		}
	}
}
