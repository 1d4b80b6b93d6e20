package api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzHandler sends arbitrary bodies and queries to every signed route:
// the handler must answer with one of Reverb's statuses and never panic.
// Requests are correctly signed so validation and the JSON paths run.
func FuzzHandler(f *testing.F) {
	f.Add(0, "", `{"name":"a","data":"b","channel":"c"}`)
	f.Add(1, "", `{"batch":[{"name":"a","data":"b","channel":"c","info":"occupied"}]}`)
	f.Add(2, "info=user_count&filter_by_prefix[]=a", "")
	f.Add(3, "info[]=x", "")
	f.Add(4, "", "")
	h := NewHandler(newFake(), Options{})
	paths := []struct{ method, path string }{
		{"POST", "/apps/123456/events"},
		{"POST", "/apps/123456/batch_events"},
		{"GET", "/apps/123456/channels"},
		{"GET", "/apps/123456/channels/presence-test-channel-two"},
		{"GET", "/apps/123456/channels/presence-test-channel-two/users"},
		{"POST", "/apps/123456/users/1/terminate_connections"},
		{"GET", "/apps/123456/connections"},
	}
	f.Fuzz(func(t *testing.T, route int, query, body string) {
		if route < 0 {
			route = -route
		}
		p := paths[route%len(paths)]
		extra, _ := url.ParseQuery(query)
		if extra.Has("auth_signature") {
			return
		}
		target := p.path + "?" + sign("reverb-secret", p.method, p.path, extra, body)
		req := httptest.NewRequest(p.method, target, strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound,
			http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusInternalServerError:
		default:
			t.Fatalf("status %d for %s %q %q", rec.Code, p.path, query, body)
		}
	})
}
