package server

import (
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
)

// FuzzParseUserData: any user_data either fails with errNoUserID or gives
// a non-empty id and a watchlist of at most 100 distinct non-empty ids.
func FuzzParseUserData(f *testing.F) {
	for _, s := range []string{`{"id":"7"}`, `{"id":7,"watchlist":["1",2,"1",null]}`, `{"id":""}`, `{"id":1e400}`,
		`{"id":"a","watchlist":{"x":"1"}}`, `[1]`, `"x"`, `{"id":"\u0000"}`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseUserData(s, true)
		if err != nil {
			if err != errNoUserID {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if u.id == "" || len(u.watchlist) > watchlistMax || u.truncated && len(u.watchlist) != watchlistMax {
			t.Fatalf("%q: %+v", s, u)
		}
		seen := map[string]bool{}
		for _, w := range u.watchlist {
			if w == "" || seen[w] {
				t.Fatalf("%q: watchlist %q", s, u.watchlist)
			}
			seen[w] = true
		}
	})
}

// FuzzSignin signs a socket in with any user_data (correctly signed) and
// closes it: nothing of it may stay in the app's sign-in state.
func FuzzSignin(f *testing.F) {
	for _, s := range []string{`{"id":"7","watchlist":["8"]}`, `{"id":7}`, `{}`, `{"id":"7","watchlist":[1,2,3]}`} {
		f.Add(s)
	}
	app := appA()
	app.WatchlistEvents = true
	app.UserAuthenticationTimeout = 1 << 40
	s, err := New(Options{Apps: []laravelcfg.App{app}})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	a := s.appList()[0]
	f.Fuzz(func(t *testing.T, userData string) {
		c := fakeConn(s, a, "2.2")
		s.startDeadline(a, c)
		c.handleMessage([]byte(signinMsg(c.id, app.Secret, userData)))
		c.handleMessage([]byte(`{"event":"pusher:signin","data":` + jsonString(userData) + `}`))
		c.abort()
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.users.conns[c] != nil {
			t.Fatal("closed socket keeps its sign-in state")
		}
		for id, list := range a.users.byID {
			for _, x := range list {
				if x == c {
					t.Fatalf("closed socket still signed in as %q", id)
				}
			}
		}
		for id, w := range a.users.watchers {
			if _, ok := w[c]; ok {
				t.Fatalf("closed socket still watches %q", id)
			}
		}
	})
}
