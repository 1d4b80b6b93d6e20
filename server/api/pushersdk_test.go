package api

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sdkScript drives every API route with the official pusher npm SDK and
// prints one JSON line per call: [status, body].
const sdkScript = `
const Pusher = require(process.env.PUSHER_SDK);
const url = new URL(process.env.API_URL);
const p = new Pusher({appId: '123456', key: 'reverb-key', secret: 'reverb-secret', host: url.hostname, port: url.port, useTLS: false});
const calls = [
  () => p.trigger('test-channel', 'App\\Events\\TestEvent', {foo: 'bar'}),
  () => p.trigger(['presence-test-channel-two', 'test-channel-one'], 'e', 'd', {info: 'user_count,subscription_count', socket_id: '1.2'}),
  () => p.triggerBatch([{channel: 'test-channel-one', name: 'a', data: 'x', info: 'subscription_count'}, {channel: 'b', name: 'b', data: {y: 1}}]),
  () => p.get({path: '/channels', params: {filter_by_prefix: 'presence-', info: 'user_count'}}),
  () => p.get({path: '/channels/test-channel-one', params: {info: 'subscription_count'}}),
  () => p.get({path: '/channels/presence-test-channel-two/users'}),
  () => p.get({path: '/connections'}),
  () => p.terminateUserConnections('456'),
];
(async () => {
  for (const call of calls) {
    try {
      const r = await call();
      console.log(JSON.stringify([r.status, await r.text()]));
    } catch (e) {
      console.log(JSON.stringify([e.status || 0, String(e.body || e)]));
    }
  }
})();
`

// TestPusherNodeSDK checks that requests signed by the official pusher npm
// SDK (tests/node_modules) are accepted on every route.
func TestPusherNodeSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	sdk, _ := filepath.Abs("../../tests/node_modules/pusher")
	if _, err := os.Stat(filepath.Join(sdk, "package.json")); err != nil {
		t.Skip("tests/node_modules/pusher not installed (npm ci in tests/)")
	}
	fb := newFake()
	srv := httptest.NewServer(NewHandler(fb, Options{}))
	defer srv.Close()
	cmd := exec.Command(node, "-e", sdkScript)
	cmd.Env = append(os.Environ(), "PUSHER_SDK="+sdk, "API_URL="+srv.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	want := []struct {
		status int
		body   string
	}{
		{200, `{}`},
		{200, `{"channels":{"presence-test-channel-two":{"user_count":1},"test-channel-one":{"subscription_count":2}}}`},
		{200, `{"batch":[{"subscription_count":2},{}]}`},
		{200, `{"channels":{"presence-test-channel-two":{"user_count":1}}}`},
		{200, `{"occupied":true,"subscription_count":2}`},
		{200, `{"users":[{"id":1},{"id":"2"}]}`},
		{200, `{"connections":2}`},
		{200, `{}`},
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("node output:\n%s", out)
	}
	for i, line := range lines {
		var got [2]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		status, _ := got[0].(float64)
		body, _ := got[1].(string)
		if int(status) != want[i].status || !jsonEqual(body, want[i].body) {
			t.Errorf("call %d: %v %s, want %d %s", i, status, body, want[i].status, want[i].body)
		}
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if len(fb.published) != 4 || fb.published[0].Data != `{"foo":"bar"}` || fb.published[1].SocketID != "1.2" || fb.published[3].Data != `{"y":1}` {
		t.Errorf("published %+v", fb.published)
	}
	if len(fb.terminated) != 1 || fb.terminated[0] != "456" {
		t.Errorf("terminated %v", fb.terminated)
	}
}
